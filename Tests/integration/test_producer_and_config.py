"""Producer modes (follow, rate, workers) and configuration from file, environment and flags."""

import json
import time

from harness import aggregator_status, wait_for


def visit_line(guest: str, year: int) -> str:
    return json.dumps({"kind": "visit", "date": str(year), "from": "MN", "to": "KP", "guest": guest, "place": "Pyongyang"}) + "\n"


def test_follow_publishes_lines_appended_to_a_json_lines_file(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    source = tmp_path / "growing.jsonl"
    source.write_text(visit_line("First", 1960))
    follower = pipeline.start_producer(endpoints, "--follow", str(source))
    pipeline.wait_events(query, 1)
    with source.open("a") as handle:
        handle.write(visit_line("Second", 1961))
        handle.write("this line is not JSON\n")
        handle.write(visit_line("Third", 1962))
    report = pipeline.wait_events(query, 3)
    assert report["totalVisits"] == 3
    assert follower.alive(), "a following producer keeps running"
    assert follower.terminate() == 0
    assert "growing.jsonl:3: error: not valid JSON" in follower.log()


def test_rate_limits_how_fast_a_producer_publishes(pipeline):
    _, endpoints = pipeline.broker()
    started = time.monotonic()
    pipeline.produce(endpoints, "--synthetic", "60", "--rate", "100")
    # 60 events at 100 a second take at least 0.59 s (a lower bound: a slow machine only adds to it).
    assert time.monotonic() - started >= 0.59


def test_workers_split_the_events_and_each_is_published_once(pipeline):
    report, query = pipeline.produce_counted(3001, "--synthetic", "3001", "--workers", "4")
    assert (report["totalEvents"], report["totalVisits"]) == (3001, 3001)
    # The aggregator's position names every worker, each at the last of its own sequence numbers.
    producers = aggregator_status(query)["producers"]
    assert len(producers) == 4 and sum(producers.values()) == 3001


def test_environment_variables_override_the_file_and_flags_override_both(pipeline, tmp_path):
    config = tmp_path / "timeline.json"
    config.write_text(json.dumps({"endpoints": {"frontend": "tcp://127.0.0.1:*", "backend": "tcp://127.0.0.1:*", "replay": "tcp://127.0.0.1:*"}}))
    broker = pipeline.start("broker", "broker", "--config", str(config), env={"TIMELINE_ENDPOINTS_REPLAY": "ipc://" + str(tmp_path / "replay.sock")})
    endpoints = broker.wait_bound()
    assert endpoints["replay"] == "ipc://" + str(tmp_path / "replay.sock")
    assert endpoints["frontend"].startswith("tcp://127.0.0.1:")
    flagged = pipeline.start("broker2", "broker", "--config", str(config), "--replay", "ipc://" + str(tmp_path / "flag.sock"),
                             env={"TIMELINE_ENDPOINTS_REPLAY": "ipc://" + str(tmp_path / "env.sock")})
    assert flagged.wait_bound()["replay"] == "ipc://" + str(tmp_path / "flag.sock")


def test_an_unknown_configuration_key_stops_the_daemon_naming_key_and_file(pipeline, tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"broker": {"fsyncInterval": 1}}))
    result = pipeline.run("broker", "--config", str(config), "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 78
    assert f"{config}: key 'broker.fsyncInterval': unknown key" in result.stderr


def test_a_configuration_value_of_the_wrong_type_stops_the_daemon(pipeline, tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"snapshot": {"keep": "five"}}))
    result = pipeline.run("snapshot", "--config", str(config), "--data-dir", str(tmp_path / "s"))
    assert result.returncode == 78
    assert "key 'snapshot.keep': must be an integer" in result.stderr


def test_a_bad_environment_value_names_the_variable(pipeline, tmp_path):
    result = subprocess_run(pipeline, ["aggregate", "--data-dir", str(tmp_path / "a")], {"TIMELINE_AGGREGATOR_CHECKPOINT_EVERY": "lots"})
    assert result.returncode == 78
    assert "TIMELINE_AGGREGATOR_CHECKPOINT_EVERY" in result.stderr and "'lots' is not an integer" in result.stderr


def test_a_segment_size_under_one_mebibyte_stops_the_broker_naming_the_key(pipeline, tmp_path):
    result = pipeline.run("broker", "--set", "broker.segmentBytes=65536", "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 78
    assert "broker.segmentBytes" in result.stderr and "at least 1 MiB" in result.stderr


def test_monitor_prints_a_periodic_line_of_rates_and_totals(pipeline):
    _, endpoints = pipeline.broker()
    monitor = pipeline.start("monitor", "monitor", *pipeline.consumer_args(endpoints), "--from-start", "--stats-interval", "0.2")
    pipeline.produce(endpoints)
    wait_for(lambda: "-- events 36 " in monitor.output(), 30, "a statistics line with 36 events")
    assert monitor.terminate() == 0
    line = next(l for l in monitor.output().splitlines() if l.startswith("-- events 36 "))
    assert "/s)" in line and "position 36" in line and "lag 0" in line


def subprocess_run(pipeline, args, env):
    import os
    import subprocess

    return subprocess.run(pipeline.command(*args), capture_output=True, text=True, timeout=30, env={**os.environ, **env}, cwd=pipeline.base)


def test_an_endpoint_that_cannot_be_bound_stops_the_daemon_naming_the_key(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    result = pipeline.run("broker", "--data-dir", str(tmp_path / "second"), "--frontend", endpoints["frontend"],
                          "--backend", "tcp://127.0.0.1:*", "--replay", "tcp://127.0.0.1:*")
    assert result.returncode != 0
    assert f"cannot use endpoints.frontend = {endpoints['frontend']}" in result.stderr
    assert "Address already in use" in result.stderr
