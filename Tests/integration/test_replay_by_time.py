"""Replay by time: the broker's log keeps when it received each record, and REPLAY and CHUNK take a
start time."""

import json
import struct

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
