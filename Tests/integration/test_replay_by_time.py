"""Replay by time: the broker's log keeps when it received each record, REPLAY and CHUNK take a
start time, and `timeline monitor --since` shows the feed from then on."""

import json
import struct
import time
from datetime import datetime, timezone

import pytest

from harness import control_request, wait_for


def write_events(path, guests: list[str]) -> list[str]:
    """A JSON Lines file of one visit per guest (distinct events, so none is dropped as a repeat)."""
    path.write_text("".join(
        json.dumps({"kind": "visit", "date": "1990", "from": "MN", "to": "KP", "guest": guest, "place": "Pyongyang"}) + "\n"
        for guest in guests))
    return guests


def head(replay: str) -> int:
    reply = control_request(replay, [b"HEAD"])
    assert reply[0] == b"HEAD", reply
    return struct.unpack(">Q", reply[1])[0]


def test_monitor_since_a_time_shows_what_the_broker_received_from_then_on_and_goes_on_live(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    before = write_events(tmp_path / "before.jsonl", [f"Before {n}" for n in range(30)])
    after = write_events(tmp_path / "after.jsonl", [f"After {n}" for n in range(20)])
    live = write_events(tmp_path / "live.jsonl", [f"Live {n}" for n in range(5)])

    pipeline.produce(endpoints, str(tmp_path / "before.jsonl"))
    wait_for(lambda: head(endpoints["replay"]) == len(before), 10, "the first events in the broker's log")
    # The wall-clock gaps on either side of the start time are what this test is about, not a way
    # to wait for anything: the first events reached the broker over a second before it and the
    # later ones over a second after it, so even a time index by the second tells them apart.
    time.sleep(1.1)
    since = datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # 2026-11-30T12:00:01.234+00:00
    time.sleep(1.1)
    pipeline.produce(endpoints, str(tmp_path / "after.jsonl"))
    wait_for(lambda: head(endpoints["replay"]) == len(before) + len(after), 10, "the later events in the broker's log")

    monitor = pipeline.monitor(endpoints, "--json", "--since", since)

    def guests() -> list[str]:
        return [json.loads(line)["guest"] for line in monitor.output().splitlines()]

    # The feed is in sequence order, so an earlier event shown by mistake would come first.
    wait_for(lambda: len(guests()) >= len(after), 30, "the monitor's catch-up from the start time")
    assert guests()[:len(after)] == after, f"the monitor from {since} showed {guests()[:5]}…"

    pipeline.produce(endpoints, str(tmp_path / "live.jsonl"))
    wait_for(lambda: len(guests()) >= len(after) + len(live), 30, "the live events at the monitor")
    assert monitor.terminate() == 0
    assert guests() == after + live
    assert "Caught up from the broker's log" in monitor.log()


def test_replay_and_chunk_with_a_start_time_before_the_log_read_from_the_sequence_given(pipeline, tmp_path):
    _, endpoints = pipeline.broker()
    guests = write_events(tmp_path / "events.jsonl", [f"Guest {n}" for n in range(10)])
    pipeline.produce(endpoints, str(tmp_path / "events.jsonl"))
    wait_for(lambda: head(endpoints["replay"]) == len(guests), 10, "the events in the broker's log")
    request_id = struct.pack(">Q", 7)
    # Every record was received after 1 January 2000, so the sequence alone decides where to start.
    start = struct.pack(">Qq", 4, 946_684_800_000)

    batch = control_request(endpoints["replay"], [b"REPLAY", request_id, start, struct.pack(">I", 100)])
    assert batch[:2] == [b"BATCH", request_id], batch[:3]
    assert struct.unpack(">Q", batch[3])[0] == len(guests)  # scanned through
    bodies = batch[6::3]
    assert [json.loads(body)["guest"] for body in bodies] == guests[4:]

    chunk = control_request(endpoints["replay"], [b"CHUNK", request_id, start, struct.pack(">I", 100), b"visit"])
    assert chunk[:2] == [b"CHUNK", request_id] and len(chunk) == 5
    assert struct.unpack(">Q", chunk[3])[0] == len(guests)

    refused = control_request(endpoints["replay"], [b"REPLAY", request_id, start[:12], struct.pack(">I", 100)])
    assert refused[:2] == [b"ERROR", request_id]
    assert b"16 bytes" in refused[2] and b"not 12 bytes" in refused[2]


@pytest.mark.parametrize("value", ["10x", "2026-13-01", "-5m", "2026-11-30T00:00", ""])
def test_monitor_with_a_start_time_it_cannot_read_exits_78_naming_since(pipeline, value):
    # `--since=-5m`: as a separate argument, -5m would be read as an option.
    since = [f"--since={value}"] if value.startswith("-") else ["--since", value]
    result = pipeline.run("monitor", *since, "--backend", "tcp://127.0.0.1:1", "--replay", "tcp://127.0.0.1:1")
    assert result.returncode == 78, result.stderr
    assert "--since" in result.stderr and f"'{value}'" in result.stderr
    assert "2026-11-30T00:00Z" in result.stderr and "10m" in result.stderr  # the forms it takes
