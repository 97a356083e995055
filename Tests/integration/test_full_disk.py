"""A full disk under the broker's log, for real: a small tmpfs as its data folder, filled up while
producers publish. The broker must not die; it stops taking producers' messages (they wait, and
keep their events), goes on serving consumers, and resumes when space returns, with every good
event counted exactly once. Needs root to mount the tmpfs; skipped with the reason otherwise."""

import json
import os
import subprocess
import time

import pytest

from harness import aggregator_status, broker_stats, connected_publisher, expected_statistics, wait_for, wire_header

zmq = pytest.importorskip("zmq")


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted at the end whatever happened."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root: skipped")
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}): skipped")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder) -> int:
    """Writes a filler file until the disk is full; returns the bytes written."""
    written = 0
    with open(folder / "filler", "wb") as handle:
        block = b"\0" * 65536
        while True:
            try:
                handle.write(block)
                handle.flush()
                written += len(block)
            except OSError:
                break
    # What is left is less than a block: fill it byte by byte, so nothing fits any more.
    with open(folder / "filler-tail", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return written


def test_a_full_disk_pauses_the_broker_and_loses_nothing(pipeline, small_disk, tmp_path):
    broker, endpoints = pipeline.broker(small_disk / "broker")
    aggregator, query = pipeline.aggregator(endpoints, tmp_path / "aggregator")
    pipeline.produce(endpoints, "--synthetic", "2000", "--seed", "21")
    wait_for(lambda: aggregator_status(query)["events"] >= 2000, 60, "the first 2000 events at the aggregator")

    assert fill(small_disk) > 0
    # A short acknowledgement timeout: without the broker saying it is paused, the producer would
    # give up long before the disk has room again.
    producer = pipeline.start_producer(endpoints, "--synthetic", "3000", "--seed", "22", "--set", "producer.acknowledgeTimeoutSeconds=1")
    context = zmq.Context()
    try:
        publisher = connected_publisher(context, endpoints["frontend"], linger=0)
        # Malformed messages while the disk is full: they wait with the rest, are rejected when
        # read, and no dead letter that cannot be written stops the broker.
        for number in range(1, 6):
            publisher.send_multipart([b"visit.MN.KP", wire_header(b"bad-producer", number), b"{not json"])
        wait_for(lambda: broker_stats(endpoints["replay"]).get("logPaused"), 60, "the broker to say its log is paused")
        # The disk stays full for five seconds (the scenario, not a synchronisation): the broker
        # keeps answering, the producer keeps waiting.
        full_until = time.monotonic() + 5
        while time.monotonic() < full_until:
            assert broker.alive(), broker.log()[-2000:]
            assert producer.alive(), f"the producer gave up while the broker was paused\n{producer.log()[-2000:]}"
            stats = broker_stats(endpoints["replay"])
            assert stats["logPaused"] and stats["logWriteFailures"] >= 1
            assert aggregator_status(query)["events"] >= 2000  # consumers are still served
            time.sleep(0.2)
        log = broker.log()
        assert log.count("The event log cannot be written") == 1, "the failure is logged once, not per retry"

        for name in ("filler", "filler-tail"):
            (small_disk / name).unlink()
        assert producer.process.wait(timeout=120) == 0, producer.log()[-2000:]
        wait_for(lambda: aggregator_status(query)["events"] >= 5000, 60, "all 5000 events at the aggregator")
        stats = broker_stats(endpoints["replay"])
        assert not stats["logPaused"]
        assert stats["lastSequence"] == 5000, "every good event logged once"
        assert stats["malformedDropped"] >= 5
        assert "can be written again" in broker.log()
    finally:
        context.destroy(linger=0)

    events = pipeline.ingest("--synthetic", "2000", "--seed", "21") + pipeline.ingest("--synthetic", "3000", "--seed", "22")
    want = expected_statistics(events)
    report = pipeline.report(query)
    for field in ("totalEvents", "totalVisits", "visitsByDecade", "eventsByKind"):
        assert report[field] == want[field], field
    assert aggregator_status(query)["events"] == 5000
