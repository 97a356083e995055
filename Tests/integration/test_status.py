"""`timeline status`: the whole pipeline in one command, and a health check by its exit status."""

import json

from harness import aggregator_status, wait_for


def status(pipeline, endpoints: dict, query: str, *extra: str):
    result = pipeline.run("status", "--replay", endpoints["replay"], "--query", query, "--timeout", "1", *extra)
    return result.returncode, result.stdout, result.stderr


def test_a_healthy_pipeline_shows_every_daemon_and_exits_0(pipeline):
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    snapshot = pipeline.snapshot(endpoints, "--every-events", "100")
    pipeline.produce(endpoints, "--synthetic", "3000", "--seed", "71")
    wait_for(lambda: aggregator_status(query)["events"] == 3000, 60, "the aggregator to count 3000 events")
    # Both consumers report their position to the broker once they saved it.
    def reported():
        code, out, _ = status(pipeline, endpoints, query, "--json", "--sample", "0")
        health = json.loads(out)
        positions = {consumer["name"]: consumer["position"] for consumer in health["consumers"]}
        return health if code == 0 and positions == {"aggregator": 3000, "snapshot": 3000} else None

    health = wait_for(reported, 60, "both consumers to report 3000", interval=0.2)
    assert health["healthy"] is True and health["problems"] == []
    broker = health["brokers"][0]
    assert broker["state"] == "single" and broker["statistics"]["lastSequence"] == 3000
    assert broker["statistics"]["residentBytes"] > 1 << 20
    assert 0 < broker["statistics"]["disk"]["freeBytes"] <= broker["statistics"]["disk"]["totalBytes"]
    assert health["aggregator"]["status"]["sequence"] == 3000 and health["aggregator"]["status"]["residentBytes"] > 0
    assert all(consumer["lag"] == 0 for consumer in health["consumers"])

    code, out, _ = status(pipeline, endpoints, query, "--sample", "0.2")
    lines = out.splitlines()
    assert code == 0, out
    assert "log 3000" in lines[0] and "(single broker)" in lines[0] and "/s)" in lines[0]
    assert lines[1].startswith("aggregator ") and "position 3000" in lines[1] and "lag 0" in lines[1]
    assert any(line.startswith("consumer snapshot  position 3000  lag 0") for line in lines)
    assert lines[-1] == "ok"
    snapshot.terminate()


def test_a_consumer_falling_behind_and_a_stopped_aggregator_are_problems(pipeline):
    _, endpoints = pipeline.broker()
    aggregator, query = pipeline.aggregator(endpoints)
    pipeline.produce(endpoints, "--synthetic", "200", "--seed", "72")
    def reported():
        code, out, _ = status(pipeline, endpoints, query, "--sample", "0")
        return code == 0 and "consumer aggregator  position 200  lag 0" in out

    wait_for(reported, 60, "the aggregator to report 200", interval=0.2)
    assert aggregator.terminate() == 0
    # 500 events later the stopped aggregator is 500 behind: over --max-lag 100, and not answering.
    pipeline.produce(endpoints, "--synthetic", "500", "--seed", "73")
    code, out, _ = status(pipeline, endpoints, query, "--sample", "0", "--max-lag", "100")
    assert code == 1, out
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert "problem: consumer aggregator is falling behind: 500 events behind the broker (over 100)" in problems
    assert any("the aggregator at" in line and "does not answer" in line for line in problems)
    health = json.loads(status(pipeline, endpoints, query, "--sample", "0", "--max-lag", "100", "--json")[1])
    assert health["healthy"] is False and len(health["problems"]) == 2


def test_status_without_any_broker_exits_2(pipeline):
    result = pipeline.run("status", "--replay", "tcp://127.0.0.1:1", "--query", "tcp://127.0.0.1:1", "--timeout", "0.3", "--sample", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no answer" in result.stdout.splitlines()[0]
    assert "problem: no broker answered (endpoints.replay: tcp://127.0.0.1:1)" in result.stdout
