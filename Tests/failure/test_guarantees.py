"""Nothing lost, nothing counted twice: each guarantee against the real daemons, with kill -9 and
SIGSTOP mid-stream. Sized by TIMELINE_FAILURE_EVENTS (default 200,000 events per scenario).

After every scenario the aggregator's statistics must equal, exactly, the statistics computed here
from `timeline ingest --synthetic N` (the same events the producer publishes)."""

import os
import signal
import time

import pytest

from harness import aggregator_status, broker_stats, expected_statistics, wait_for

pytestmark = pytest.mark.failure

EVENTS = int(os.environ.get("TIMELINE_FAILURE_EVENTS", "200000"))
SEED = 11
_expected_cache: dict = {}


def expected(pipeline) -> dict:
    if EVENTS not in _expected_cache:
        events = pipeline.ingest("--synthetic", str(EVENTS), "--seed", str(SEED))
        assert len(events) == EVENTS
        stats = expected_statistics(events)
        years: dict[tuple, int] = {}
        for event in events:
            year = int(event["date"][:4])
            key = (year, event["from"], event["to"])
            years[key] = years.get(key, 0) + 1
        stats["visitsByYear"] = [{"year": y, "from": f, "to": t, "count": c} for (y, f, t), c in sorted(years.items())]
        _expected_cache[EVENTS] = stats
    return _expected_cache[EVENTS]


def assert_exact(pipeline, query: str):
    """The aggregator's report equals the independently computed statistics, field by field."""
    report = pipeline.report(query)
    want = expected(pipeline)
    assert report["totalEvents"] == want["totalEvents"]
    assert report["totalVisits"] == want["totalVisits"]
    assert report["visitsByDecade"] == want["visitsByDecade"]
    assert report["visitsByYear"] == want["visitsByYear"]
    assert report["eventsByKind"] == want["eventsByKind"]


def produce_args():
    return ("--synthetic", str(EVENTS), "--seed", str(SEED), "--log-level", "info")


def start_stream(pipeline, *aggregator_args):
    """A broker, an aggregator, and a producer publishing the EVENTS synthetic events."""
    broker, endpoints = pipeline.broker()
    aggregator, query = pipeline.aggregator(endpoints, None, *aggregator_args)
    producer = pipeline.start_producer(endpoints, *produce_args())
    return broker, endpoints, aggregator, query, producer


def kill_at(query, fraction, daemon) -> float:
    """Once the aggregator has counted `fraction` of the events, kills `daemon` with SIGKILL; returns
    when it was gone."""
    wait_for(lambda: aggregator_status(query)["events"] >= EVENTS * fraction, 120, f"{fraction:.0%} of the events")
    daemon.kill()
    return time.monotonic()


def restart_broker(pipeline, old, endpoints):
    """A broker on the same data folder and the same endpoints (so clients reconnect)."""
    daemon = pipeline.start("broker", "broker", "--frontend", endpoints["frontend"], "--backend", endpoints["backend"],
                            "--replay", endpoints["replay"], data_dir=old.data_dir)
    daemon.wait_bound()
    return daemon


def restart_aggregator(pipeline, old, endpoints, query):
    daemon = pipeline.start("aggregator", "aggregate", *pipeline.consumer_args(endpoints), "--query", query, data_dir=old.data_dir)
    daemon.wait_bound()
    return daemon


def wait_complete(pipeline, query, timeout=180):
    """Waits until the aggregator has every event, and returns how long that took."""
    started = time.monotonic()
    wait_for(lambda: aggregator_status(query)["events"] >= EVENTS, timeout, f"{EVENTS} events at the aggregator", interval=0.1)
    return time.monotonic() - started


def record(figures, scenario, status, published, recovery, broker=None):
    duplicates = status["duplicateSequences"] + status["duplicateEvents"] + (broker or {}).get("duplicatesDropped", 0)
    figures.append({
        "scenario": scenario,
        "events": EVENTS,
        "published": published,
        "live": status["live"],
        "replayed": status["replayed"],
        "duplicates": duplicates,
        "lost": EVENTS - status["events"],
        "recovery_s": round(recovery, 2),
    })
    assert status["events"] == EVENTS, "lost events"


def test_aggregator_killed_three_times_mid_stream_ends_with_exact_statistics(pipeline, figures):
    _, endpoints, aggregator, query, producer = start_stream(pipeline, "--set", "aggregator.checkpointEvery=5000")
    recoveries = []
    for fraction in (0.2, 0.45, 0.7):
        restarted = kill_at(query, fraction, aggregator)
        aggregator = restart_aggregator(pipeline, aggregator, endpoints, query)
        # Recovered: answering again and moving on from its checkpoint.
        wait_for(lambda: aggregator_status(query)["events"] > 0, 60, "the restarted aggregator")
        recoveries.append(time.monotonic() - restarted)
    assert producer.process.wait(timeout=180) == 0, producer.log()[-2000:]
    wait_complete(pipeline, query)
    assert_exact(pipeline, query)
    record(figures, "aggregator kill -9 x3", aggregator_status(query), EVENTS, max(recoveries), broker_stats(endpoints["replay"]))


def test_broker_killed_mid_stream_loses_nothing_once_restarted(pipeline, figures):
    broker, endpoints, _, query, producer = start_stream(pipeline)
    restarted = kill_at(query, 0.4, broker)
    broker = restart_broker(pipeline, broker, endpoints)
    assert producer.process.wait(timeout=180) == 0, producer.log()[-3000:]
    recovery = time.monotonic() - restarted
    wait_complete(pipeline, query)
    assert_exact(pipeline, query)
    stats = broker_stats(endpoints["replay"])
    assert stats["lastSequence"] == EVENTS, "the broker's log holds every event exactly once"
    assert "The broker reconnected" in producer.log()
    record(figures, "broker kill -9", aggregator_status(query), EVENTS, recovery, stats)


def test_producer_killed_and_restarted_publishes_nothing_twice(pipeline, figures):
    _, endpoints, _, query, producer = start_stream(pipeline)
    restarted = kill_at(query, 0.3, producer)
    again = pipeline.start_producer(endpoints, *produce_args())
    assert again.process.wait(timeout=180) == 0, again.log()[-2000:]
    assert "Resuming after the broker's last logged event" in again.log()
    recovery = time.monotonic() - restarted
    wait_complete(pipeline, query)
    assert_exact(pipeline, query)
    stats = broker_stats(endpoints["replay"])
    assert stats["lastSequence"] == EVENTS, "nothing was logged twice"
    record(figures, "producer kill -9", aggregator_status(query), EVENTS, recovery, stats)


def test_a_consumer_started_after_every_producer_exited_gets_every_event(pipeline, figures):
    broker, endpoints = pipeline.broker()
    pipeline.produce(endpoints, *produce_args(), timeout=300)
    started = time.monotonic()
    _, query = pipeline.aggregator(endpoints)
    recovery = wait_complete(pipeline, query)
    assert_exact(pipeline, query)
    status = aggregator_status(query)
    assert status["replayed"] == EVENTS and status["live"] == 0
    record(figures, "late joiner", status, EVENTS, time.monotonic() - started, broker_stats(endpoints["replay"]))


def test_a_consumer_stopped_for_ten_seconds_stalls_nobody_and_catches_up(pipeline, figures, tmp_path):
    broker, endpoints = pipeline.broker()
    stalled, query = pipeline.aggregator(endpoints)
    other, other_query = pipeline.aggregator(endpoints, tmp_path / "other-aggregator")
    wait_for(lambda: aggregator_status(query) and aggregator_status(other_query), 30, "both aggregators")
    producer = pipeline.start_producer(endpoints, *produce_args())
    wait_for(lambda: aggregator_status(query)["events"] >= min(EVENTS * 0.1, 20_000), 60, "the stream to start")
    stalled.process.send_signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        # While it is stopped, the producer and the other consumer go on to the end.
        assert producer.process.wait(timeout=180) == 0, producer.log()[-2000:]
        wait_for(lambda: aggregator_status(other_query)["events"] >= EVENTS, 120, "the other aggregator")
        producer_done = time.monotonic() - stopped_at
        remaining = 10 - (time.monotonic() - stopped_at)
        if remaining > 0:
            # Keep it stopped for the full ten seconds (the scenario's definition, not a synchronisation).
            time.sleep(remaining)
    finally:
        stalled.process.send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    wait_complete(pipeline, query)
    recovery = time.monotonic() - resumed
    assert_exact(pipeline, query)
    assert_exact(pipeline, other_query)
    status = aggregator_status(query)
    assert status["replayed"] > 0, "the stalled consumer filled its gap from the log"
    print(f"producer finished {producer_done:.1f} s after the consumer was stopped")
    record(figures, "consumer SIGSTOP 10 s", status, EVENTS, recovery, broker_stats(endpoints["replay"]))
