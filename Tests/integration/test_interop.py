"""An outside client in another language (Python with pyzmq) subscribes and publishes using only
the wire format documented in the README."""

import json
import struct

import pytest

zmq = pytest.importorskip("zmq")

from harness import WIRE_HEADER, connected_publisher, probe_until_received, wire_header  # noqa: E402


def decode(frames):
    """Topic | header (version, encoding, u64 sequence, u64 producer sequence, u8 id length, id) | JSON body."""
    topic, header, body = frames
    version, encoding, sequence, producer_sequence, id_length = WIRE_HEADER.unpack(header[:WIRE_HEADER.size])
    producer = header[WIRE_HEADER.size:WIRE_HEADER.size + id_length].decode()
    assert len(header) == WIRE_HEADER.size + id_length
    return topic.decode(), version, encoding, sequence, producer_sequence, producer, json.loads(body)


def test_a_pyzmq_subscriber_receives_and_decodes_events_filtered_by_prefix(pipeline):
    _, endpoints = pipeline.broker()
    context = zmq.Context()
    subscriber = context.socket(zmq.SUB)
    subscriber.setsockopt(zmq.LINGER, 0)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"visit.MN")
    subscriber.connect(endpoints["backend"])
    publisher = connected_publisher(context, endpoints["frontend"])
    try:
        probe_until_received(publisher, subscriber)
        while subscriber.poll(100):
            subscriber.recv_multipart()

        pipeline.produce(endpoints)
        received = []
        while len(received) < 8 and subscriber.poll(5_000):
            received.append(decode(subscriber.recv_multipart()))
        assert subscriber.poll(300) == 0, "nothing beyond the eight Mongolian visits"
        assert len(received) == 8
        for topic, version, encoding, sequence, producer_sequence, producer_id, event in received:
            assert topic == "visit.MN.KP"
            assert (version, encoding) == (1, 0)
            assert sequence > 0 and producer_sequence > 0 and producer_id.startswith("producer-")
            assert event["kind"] == "visit" and event["from"] == "MN" and event["to"] == "KP"
        sequences = [r[3] for r in received]
        assert sequences == sorted(sequences), "broker sequences rise"
        assert {r[6]["place"] for r in received} == {"Pyongyang"}
    finally:
        publisher.close()
        subscriber.close()
        context.destroy(linger=0)


def test_events_a_pyzmq_client_publishes_are_aggregated(pipeline):
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    context = zmq.Context()
    publisher = connected_publisher(context, endpoints["frontend"])
    try:
        events = [
            {"kind": "visit", "date": "1990-05", "from": "MN", "to": "KP", "guest": "Python Guest", "place": "Pyongyang"},
            {"kind": "visit", "date": "1991", "from": "KP", "to": "MN", "guest": "Another Guest", "place": "Ulaanbaatar"},
            {"kind": "aid", "date": "1992", "from": "MN", "to": "KP"},
        ]
        for number, event in enumerate(events, start=1):
            topic = f"{event['kind']}.{event['from']}.{event['to']}".encode()
            publisher.send_multipart([topic, wire_header(b"pyzmq-client", number), json.dumps(event).encode()])
        # A repeat of the first (same producer sequence) is dropped by the broker; a malformed one is rejected.
        publisher.send_multipart([b"visit.MN.KP", wire_header(b"pyzmq-client", 1), json.dumps(events[0]).encode()])
        publisher.send_multipart([b"visit.MN.KP", b"\x09garbage", b"{}"])
        report = pipeline.wait_events(query, 3)
        assert report["totalEvents"] == 3
        assert report["totalVisits"] == 2
        assert {"decade": 1990, "from": "MN", "to": "KP", "count": 1} in report["visitsByDecade"]
        assert {"decade": 1990, "from": "KP", "to": "MN", "count": 1} in report["visitsByDecade"]
    finally:
        publisher.close()
        context.destroy(linger=0)


def test_every_reply_to_a_request_with_an_id_carries_that_id_and_requests_without_one_keep_the_first_form(pipeline):
    from harness import control_request

    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    pipeline.produce(endpoints)
    pipeline.wait_events(query, 36)
    replay = endpoints["replay"]
    rid = struct.pack(">Q", 0xFEED)

    head = control_request(replay, [b"HEAD", rid])
    assert head[0] == b"HEAD" and head[1] == rid and struct.unpack(">Q", head[2])[0] == 36
    assert control_request(replay, [b"HEAD"]) == [b"HEAD", struct.pack(">Q", 36)]
    stats = control_request(replay, [b"STATS", rid])
    assert stats[:2] == [b"STATS", rid] and json.loads(stats[2])["lastSequence"] == 36
    position = control_request(replay, [b"POSITION", rid, b"nobody"])
    assert position == [b"POSITION", rid, struct.pack(">Q", 0), struct.pack(">Q", 36)]
    # An error that got as far as the id names it, so a client can tell which request failed.
    refused = control_request(replay, [b"CHUNK", rid, b"short"])
    assert refused[0] == b"ERROR" and refused[1] == rid and b"CHUNK" in refused[2]
    unknown = control_request(replay, [b"FLY", rid])
    assert unknown[:2] == [b"ERROR", rid]

    status = control_request(query, [b"STATUS", rid])
    assert status[:2] == [b"OK", rid] and json.loads(status[2])["events"] == 36
    report = control_request(query, [b"REPORT", rid, b"pdf"])
    assert report[:2] == [b"ERROR", rid] and b"pdf" in report[2]
    assert control_request(query, [b"REPORT", b"csv"])[0] == b"OK"
