"""Retention on the real broker: old segments deleted by size, consumers older than the log
refused with the missing sequences named, or started again from a snapshot and the retained tail."""

import json
import struct

from harness import aggregator_status, broker_stats, control_request, expected_statistics, wait_for

MIB = 1 << 20
FIELDS = ("totalEvents", "totalVisits", "visitsByDecade", "eventsByKind")


def retained_broker(pipeline, retention_bytes: int):
    return pipeline.broker(None, "--set", f"broker.segmentBytes={MIB}", "--set", f"broker.retention.bytes={retention_bytes}")


def segment_bytes(data_dir) -> list[int]:
    return [path.stat().st_size for path in sorted((data_dir / "log").glob("*.log"))]


def start_aggregator(pipeline, endpoints, *extra: str):
    """An aggregator that may stop before it binds (the test waits for its exit instead)."""
    return pipeline.start("aggregator", "aggregate", *pipeline.consumer_args(endpoints), "--query", "tcp://127.0.0.1:*", *extra)


def wait_snapshot(snapshot, sequence: int):
    """Until the snapshot writer's latest snapshot is at `sequence`."""
    latest = snapshot.data_dir / "snapshots" / "latest.json"
    wait_for(lambda: latest.exists() and json.loads(latest.read_text())["sequence"] == sequence, 30, f"a snapshot at {sequence}")


def wait_trimmed(endpoints, past: int) -> dict:
    return wait_for(lambda: (s := broker_stats(endpoints["replay"]))["log"]["firstSequence"] > past and s, 30,
                    f"retention to delete the segments through sequence {past}")


def test_retention_by_size_deletes_old_segments_and_keeps_the_log_within_it(pipeline):
    broker, endpoints = retained_broker(pipeline, 3 * MIB)
    pipeline.produce(endpoints, "--synthetic", "30000", "--seed", "31")
    # Retention runs once a second: a deletion during the run does not mean the last one is done.
    stats = wait_for(lambda: (s := broker_stats(endpoints["replay"]))["log"]["bytes"] <= 3 * MIB and s["log"]["segmentsDeleted"] >= 1 and s,
                     30, "retention to bring the log within 3 MiB")
    assert stats["lastSequence"] == 30000
    log = stats["log"]
    sizes = segment_bytes(broker.data_dir)
    assert len(sizes) == log["segments"] and sum(sizes) == log["bytes"]
    assert all(size >= MIB for size in sizes[:-1]), "closed segments are full ones"
    assert "Deleted a segment of the event log (retention)" in broker.log()
    # The broker starts again where retention left its log.
    assert broker.terminate() == 0
    _, endpoints = pipeline.broker(broker.data_dir, "--set", f"broker.segmentBytes={MIB}")
    again = broker_stats(endpoints["replay"])
    assert again["log"]["firstSequence"] == log["firstSequence"] and again["lastSequence"] == 30000


def test_an_aggregator_older_than_the_log_stops_naming_the_missing_sequences(pipeline):
    _, endpoints = retained_broker(pipeline, 2 * MIB)
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "32")
    first = wait_trimmed(endpoints, 1)["log"]["firstSequence"]
    aggregator = start_aggregator(pipeline, endpoints)
    assert aggregator.process.wait(timeout=60) != 0
    log = aggregator.log()
    assert f"the broker's log begins at sequence {first}" in log and f"sequences 1-{first - 1} are missing" in log, log[-2000:]


def test_a_replay_from_before_the_log_is_answered_trimmed(pipeline):
    _, endpoints = retained_broker(pipeline, 2 * MIB)
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "39")
    first = wait_trimmed(endpoints, 1)["log"]["firstSequence"]
    for name in (b"REPLAY", b"CHUNK"):
        reply = control_request(endpoints["replay"], [name, struct.pack(">Q", 7), struct.pack(">Q", 0), struct.pack(">I", 10)])
        assert reply == [b"TRIMMED", struct.pack(">Q", 7), struct.pack(">Q", first), struct.pack(">Q", 20000)], reply
    reply = control_request(endpoints["replay"], [b"REPLAY", struct.pack(">Q", 8), struct.pack(">Q", first - 1), struct.pack(">I", 10)])
    assert reply[0] == b"BATCH" and len(reply[4:]) == 30


def test_a_monitor_older_than_the_log_goes_on_from_the_oldest_record_with_a_warning(pipeline):
    _, endpoints = retained_broker(pipeline, 2 * MIB)
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "33")
    first = wait_trimmed(endpoints, 1)["log"]["firstSequence"]
    monitor = pipeline.monitor(endpoints, "--from-start")
    wait_for(lambda: "retention deleted records" in monitor.log(), 30, "the monitor's warning")
    assert monitor.alive()
    assert f"stream.missingThrough={first - 1}" in monitor.log()


def test_an_aggregator_starts_from_a_snapshot_then_the_retained_tail_and_counts_every_event_once(pipeline):
    _, endpoints = retained_broker(pipeline, 8 * MIB)
    snapshot = pipeline.snapshot(endpoints, "--every-events", "1000", "--every-seconds", "0.3")
    pipeline.produce(endpoints, "--synthetic", "10000", "--seed", "34")
    wait_snapshot(snapshot, 10000)
    assert snapshot.terminate() == 0
    # 20000 other events: the log now holds more than retention keeps, and its oldest record is
    # past the start but not past the snapshot's next one.
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "38")
    first = wait_trimmed(endpoints, 1)["log"]["firstSequence"]
    assert 1 < first <= 10001, f"retention kept the snapshot's next record ({first})"
    aggregator = start_aggregator(pipeline, endpoints, "--bootstrap-snapshot", str(snapshot.data_dir))
    query = aggregator.wait_bound()["query"]
    wait_for(lambda: aggregator_status(query)["sequence"] == 30000, 60, "the aggregator at the log's end")
    # Both runs' events, each once: the first run's only the snapshot still has.
    union = {event["id"]: event for event in pipeline.ingest("--synthetic", "10000", "--seed", "34")
             + pipeline.ingest("--synthetic", "20000", "--seed", "38")}
    want = expected_statistics(list(union.values()))
    report = pipeline.report(query)
    for field in FIELDS:
        assert report[field] == want[field], field
    assert "Started again from a snapshot" in aggregator.log()
    # Its state was checkpointed: restarted, it goes on from there without the snapshot.
    assert aggregator.terminate() == 0
    _, query = pipeline.aggregator(endpoints, aggregator.data_dir)
    assert pipeline.report(query)["totalEvents"] == len(union)


def test_a_snapshot_that_does_not_reach_the_log_is_refused_naming_the_gap(pipeline):
    _, endpoints = retained_broker(pipeline, 2 * MIB)
    snapshot = pipeline.snapshot(endpoints, "--every-events", "500", "--every-seconds", "0.3")
    pipeline.produce(endpoints, "--synthetic", "2000", "--seed", "35")
    wait_snapshot(snapshot, 2000)
    assert snapshot.terminate() == 0
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "36")
    first = wait_trimmed(endpoints, 2001)["log"]["firstSequence"]
    aggregator = start_aggregator(pipeline, endpoints, "--bootstrap-snapshot", str(snapshot.data_dir))
    assert aggregator.process.wait(timeout=60) != 0
    log = aggregator.log()
    assert f"latest snapshot is at sequence 2000" in log and f"sequences 2001-{first - 1} are in neither" in log, log[-2000:]


def test_retention_settings_that_cannot_work_stop_the_broker_naming_the_key(pipeline, tmp_path):
    below = pipeline.run("broker", "--set", f"broker.segmentBytes={2 * MIB}", "--set", f"broker.retention.bytes={MIB}",
                         "--data-dir", str(tmp_path / "a"))
    assert below.returncode == 78 and "broker.retention.bytes" in below.stderr and "below one segment" in below.stderr
    negative = pipeline.run("broker", "--set", "broker.retention.seconds=-5", "--data-dir", str(tmp_path / "b"))
    assert negative.returncode == 78 and "broker.retention.seconds" in negative.stderr
    unnamed = pipeline.run("broker", "--set", "broker.retention.keepUnread=true", "--data-dir", str(tmp_path / "c"))
    assert unnamed.returncode == 78 and "broker.retention.consumers" in unnamed.stderr


def test_keep_unread_holds_segments_until_the_named_consumers_have_passed_them(pipeline):
    broker, endpoints = pipeline.broker(None, "--set", f"broker.segmentBytes={MIB}", "--set", f"broker.retention.bytes={2 * MIB}",
                                        "--set", "broker.retention.keepUnread=true",
                                        "--set", "broker.retention.consumers=aggregator,snapshot")
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "37")
    # The aggregator has not reported: retention deletes nothing however far over the limit the log is.
    wait_for(lambda: "Retention keeps the records a durable consumer has not passed" in broker.log(), 30, "the broker to say retention waits")
    stats = broker_stats(endpoints["replay"])
    assert stats["log"]["firstSequence"] == 1 and stats["log"]["bytes"] > 2 * MIB and stats["log"]["segmentsDeleted"] == 0
    aggregator, query = pipeline.aggregator(endpoints, None, "--set", "aggregator.checkpointIntervalSeconds=0.2")
    wait_for(lambda: aggregator_status(query)["sequence"] == 20000, 60, "the aggregator to count everything")
    wait_for(lambda: broker_stats(endpoints["replay"]).get("consumers", {}).get("aggregator") == 20000, 30, "the aggregator's report")
    # The snapshot writer has not reported: still nothing is deleted.
    stats = broker_stats(endpoints["replay"])
    assert stats["log"]["firstSequence"] == 1 and "snapshot" not in stats["consumers"]
    snapshot = pipeline.snapshot(endpoints, "--every-events", "1000", "--every-seconds", "0.3")
    wait_snapshot(snapshot, 20000)
    # Both checkpointed and reported; then retention goes ahead, never past what they passed.
    stats = wait_trimmed(endpoints, 1)
    assert stats["consumers"] == {"aggregator": 20000, "snapshot": 20000}
    assert stats["log"]["bytes"] <= 2 * MIB
    assert pipeline.report(query)["totalEvents"] == 20000
    assert broker.terminate() == 0
    assert json.loads((broker.data_dir / "consumers.json").read_text()) == {"aggregator": 20000, "snapshot": 20000}
