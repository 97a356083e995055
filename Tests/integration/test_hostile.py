"""Hostile and broken messages: each is counted, logged and written to a dead-letter file, and the
daemons go on, counting every good event around them."""

import json
import struct

import pytest

zmq = pytest.importorskip("zmq")

from harness import aggregator_status, broker_stats, connected_publisher, control_request, replay_request, wait_for  # noqa: E402
from harness import wire_header as header  # noqa: E402


def good(number: int) -> list[bytes]:
    event = {"kind": "visit", "date": str(1900 + number), "from": "MN", "to": "KP", "guest": f"Guest {number}", "place": "Pyongyang"}
    return [b"visit.MN.KP", header(b"", 0), json.dumps(event).encode()]


BAD_MESSAGES = {
    "two frames": [b"visit.MN.KP", header(b"", 0)],
    "four frames": good(0) + [b"extra"],
    "unknown version": [b"visit.MN.KP", header(b"", 0, version=7), good(0)[2]],
    "unknown encoding": [b"visit.MN.KP", header(b"", 0, encoding=9), good(0)[2]],
    "short header": [b"visit.MN.KP", b"\x01\x00", good(0)[2]],
    "id length past the end": [b"visit.MN.KP", header(b"ab", 0, id_length=40), good(0)[2]],
    "body not JSON": [b"visit.MN.KP", header(b"", 0), b"{not json"],
    "body not UTF-8": [b"visit.MN.KP", header(b"", 0), b"\xff\xfe\xfd"],
    "topic not UTF-8": [b"\xff\xfe", header(b"", 0), good(0)[2]],
    "impossible date": [b"visit.MN.KP", header(b"", 0), json.dumps({"kind": "visit", "date": "1956-02-30", "from": "MN", "to": "KP"}).encode()],
    "year out of range": [b"visit.MN.KP", header(b"", 0), json.dumps({"kind": "visit", "date": "12345", "from": "MN", "to": "KP"}).encode()],
    "country not a code": [b"visit.MN.KP", header(b"", 0), json.dumps({"kind": "visit", "date": "1956", "from": "Mongolia", "to": "KP"}).encode()],
    "guest too long": [b"visit.MN.KP", header(b"", 0), json.dumps({"kind": "visit", "date": "1956", "from": "MN", "to": "KP", "guest": "x" * 5000}).encode()],
    "topic of another event": [b"visit.KP.MN", header(b"", 0), good(0)[2]],
    "unknown kind": [b"parade.MN.KP", header(b"", 0), json.dumps({"kind": "parade", "date": "1956", "from": "MN", "to": "KP"}).encode()],
}


def test_bad_messages_are_counted_dead_lettered_and_good_ones_around_them_all_counted(pipeline):
    broker, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    context = zmq.Context()
    try:
        publisher = connected_publisher(context, endpoints["frontend"])
        sent_good = 0
        for bad in BAD_MESSAGES.values():
            sent_good += 1
            publisher.send_multipart(good(sent_good))
            publisher.send_multipart(bad)
        sent_good += 1
        publisher.send_multipart(good(sent_good))
        wait_for(lambda: aggregator_status(query)["events"] == sent_good, 30, "every good event")
        stats = broker_stats(endpoints["replay"])
        assert stats["malformedDropped"] == len(BAD_MESSAGES)
        assert stats["accepted"] == sent_good
        status = aggregator_status(query)
        assert status["rejected"] == 0, "nothing bad reached the log"
        letters = [json.loads(line) for line in (broker.data_dir / "dead-letters.jsonl").read_text().splitlines()]
        assert len(letters) == len(BAD_MESSAGES)
        assert any("1956-02-30" in letter.get("body", "") for letter in letters)
        assert all(letter["reason"] for letter in letters)
        assert "Dropped a message" in broker.log()
        assert broker.alive()
        publisher.close()
    finally:
        context.destroy(linger=0)


def batch_entry(topic: bytes, body: bytes) -> bytes:
    return struct.pack(">H", len(topic)) + topic + struct.pack(">I", len(body)) + body


def test_a_batch_is_logged_event_by_event_and_its_bad_events_are_dropped_alone(pipeline):
    """A producer batch (encoding 1) whose third event does not decode and whose framing breaks
    after the fifth: the broker logs the good events under their own producer sequences, drops
    the bad one and the broken tail, and a numbered producer then goes on from where it stood."""
    broker, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    context = zmq.Context()
    try:
        publisher = connected_publisher(context, endpoints["frontend"])
        events = [good(n) for n in range(1, 6)]
        entries = [batch_entry(topic, body) for topic, _, body in events]
        entries[2] = batch_entry(b"visit.MN.KP", b"{not json")
        body = b"".join(entries) + b"\x00\x0bvisit.MN.KP\x00\x00\xff"  # a sixth entry cut short
        publisher.send_multipart([b"", header(b"hand-batch", 1, encoding=1), body])
        # Numbered 6 and 7, sent one by one: the broker expects 6 next, whatever happened in the batch.
        for number in (6, 7):
            topic, _, event = good(number)
            publisher.send_multipart([topic, header(b"hand-batch", number), event])
        wait_for(lambda: aggregator_status(query)["events"] == 6, 30, "the six good events")
        stats = broker_stats(endpoints["replay"])
        assert stats["accepted"] == 6
        assert stats["malformedDropped"] == 2, "the bad event and the broken tail"
        position = control_request(endpoints["replay"], [b"POSITION", b"hand-batch"])
        assert struct.unpack(">Q", position[1])[0] == 7
        # Subscribers see single events (encoding 0) with consecutive producer sequences.
        replayed = control_request(endpoints["replay"], replay_request(after=0, count=100))
        headers = [replayed[i] for i in range(5, len(replayed), 3)]
        assert [h[1] for h in headers] == [0] * 6
        assert [struct.unpack(">Q", h[10:18])[0] for h in headers] == [1, 2, 4, 5, 6, 7]
        assert "Dropped the rest of a batch that cannot be read" in broker.log()
        publisher.close()
    finally:
        context.destroy(linger=0)


def test_a_batch_whose_producer_sequences_run_past_2_64_is_refused_and_the_broker_goes_on(pipeline):
    """A batch whose first event is numbered 2^64 - 1: the second would need 2^64. The broker
    refuses the rest of the batch as malformed (the first is dropped as skipping ahead of the
    producer's position), and goes on with other producers."""
    broker, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    context = zmq.Context()
    try:
        publisher = connected_publisher(context, endpoints["frontend"])
        body = b"".join(batch_entry(topic, event) for topic, _, event in (good(1), good(2), good(3)))
        publisher.send_multipart([b"", header(b"edge", 2**64 - 1, encoding=1), body])
        publisher.send_multipart(good(4))
        wait_for(lambda: aggregator_status(query)["events"] == 1, 30, "the event after the batch")
        assert broker.alive()
        stats = broker_stats(endpoints["replay"])
        assert stats["malformedDropped"] == 1 and stats["outOfOrderDropped"] == 1 and stats["accepted"] == 1
        assert "the producer sequence runs past 2^64" in broker.log()
        publisher.close()
    finally:
        context.destroy(linger=0)


def test_an_oversize_message_is_refused_and_the_broker_goes_on(pipeline):
    broker, endpoints = pipeline.broker(None, "--set", "broker.maxMessageBytes=10000")
    _, query = pipeline.aggregator(endpoints)
    context = zmq.Context()
    try:
        big = connected_publisher(context, endpoints["frontend"], linger=0)
        event = {"kind": "visit", "date": "1956", "from": "MN", "to": "KP", "description": "x" * 3000}
        big.send_multipart([b"visit.MN.KP", header(b"", 0), json.dumps(event).encode() + b" " * 20000])
        pipeline.produce(endpoints)
        wait_for(lambda: aggregator_status(query)["events"] == 36, 30, "the bundled events after the oversize one")
        assert broker_stats(endpoints["replay"])["accepted"] == 36
        assert broker.alive()
        big.close()
    finally:
        context.destroy(linger=0)


def test_garbage_requests_get_an_error_answer_and_the_daemons_go_on(pipeline):
    broker, endpoints = pipeline.broker()
    aggregator, query = pipeline.aggregator(endpoints)
    for endpoint in (endpoints["replay"], query):
        for request in ([b"FLY"], [b"REPLAY", b"short"], [b"POSITION"], [b"REPORT", b"pdf"], [b"\xff" * 100]):
            reply = control_request(endpoint, request)
            assert reply[0] == b"ERROR", (endpoint, request, reply)
    assert aggregator_status(query)["events"] == 0
    assert broker.alive() and aggregator.alive()
