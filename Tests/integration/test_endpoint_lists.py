"""Endpoint lists: the clients of a broker pair take both brokers' endpoints and use the one that
answers; the broker, which binds one endpoint per socket, refuses a list."""

import json

from harness import free_port


def dead_endpoint() -> str:
    """A loopback TCP endpoint nothing listens on (a port the system gave out, then closed)."""
    return f"tcp://127.0.0.1:{free_port()}"


def test_the_broker_refuses_a_list_naming_the_key(pipeline, tmp_path):
    result = pipeline.run("broker", "--data-dir", str(tmp_path / "b"), "--frontend", "tcp://127.0.0.1:*,tcp://127.0.0.2:*",
                          "--backend", "tcp://127.0.0.1:*", "--replay", "tcp://127.0.0.1:*")
    assert result.returncode == 78
    assert "key 'endpoints.frontend': lists 2 endpoints" in result.stderr
    config = tmp_path / "pair.json"
    config.write_text(json.dumps({"endpoints": {"replay": ["tcp://10.0.0.1:5603", "tcp://10.0.0.2:5603"]}}))
    result = pipeline.run("broker", "--config", str(config), "--data-dir", str(tmp_path / "c"))
    assert result.returncode == 78
    assert f"{config}: key 'endpoints.replay': lists 2 endpoints" in result.stderr


def test_clients_given_a_dead_broker_first_use_the_live_one(pipeline):
    _, endpoints = pipeline.broker()
    dead = dead_endpoint()
    listed = {name: f"{dead},{endpoint}" for name, endpoint in endpoints.items()}
    _, query = pipeline.aggregator(listed)
    pipeline.produce(listed, "--synthetic", "500")
    report = pipeline.wait_events(query, 500)
    assert report["totalEvents"] == 500


def test_a_producer_whose_lists_do_not_pair_up_is_refused(pipeline):
    _, endpoints = pipeline.broker()
    result = pipeline.produce({"frontend": f"{dead_endpoint()},{endpoints['frontend']}", "replay": endpoints["replay"]},
                              "--synthetic", "5", check=False)
    assert result.returncode == 78
    assert "endpoints.replay lists 1" in result.stderr
