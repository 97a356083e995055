"""How consumers read the broker: following its log with FOLLOW (the default) or subscribing to its
backend (`--feed subscribe`), and what the broker does for each."""

import struct

import pytest

from harness import aggregator_status, broker_stats, expected_statistics, wait_for

zmq = pytest.importorskip("zmq")

FIELDS = ("totalEvents", "totalVisits", "visitsByDecade", "eventsByKind")


def follow_request(request_id: int, after: int, wait_ms: int) -> list[bytes]:
    return [b"FOLLOW", struct.pack(">Q", request_id), struct.pack(">Q", after), struct.pack(">I", 100), struct.pack(">I", wait_ms)]


@pytest.mark.parametrize("feed", ["follow", "subscribe"])
def test_an_aggregator_on_either_feed_counts_every_event_once(pipeline, feed):
    made = pipeline.ingest("--synthetic", "20000", "--seed", "41")
    expected = expected_statistics(made)
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints, None, "--feed", feed)
    if feed == "subscribe":
        wait_for(lambda: broker_stats(endpoints["replay"]).get("subscriberConnections", 0) >= 1, 30, "the aggregator's SUB connection")
    else:
        wait_for(lambda: broker_stats(endpoints["replay"]).get("followersWaiting", 0) >= 1, 30, "the aggregator's FOLLOW")
    pipeline.produce(endpoints, "--synthetic", "20000", "--seed", "41")
    report = pipeline.wait_events(query, 20000)
    assert {key: report[key] for key in FIELDS} == {key: expected[key] for key in FIELDS}
    status = aggregator_status(query)
    assert status["live"] > 0
    stats = broker_stats(endpoints["replay"])
    if feed == "follow":
        # The records reached the aggregator in FOLLOW replies, each once; nobody subscribed, so
        # the broker published nothing one event at a time. (A subscriber drops as repeats the
        # live messages that arrive after it filled a gap from the log.)
        assert status["duplicateSequences"] == 0
        assert stats["recordsFollowed"] >= 20000 and stats["subscriberConnections"] == 0
    else:
        assert stats["subscriberConnections"] == 1


def test_a_client_holds_one_follow_at_the_broker_however_many_it_sends(pipeline):
    _, endpoints = pipeline.broker()
    _, query = pipeline.aggregator(endpoints)
    pipeline.produce(endpoints, "--synthetic", "100", "--seed", "42")
    wait_for(lambda: aggregator_status(query)["events"] == 100, 30, "the aggregator to count the first events")
    before = broker_stats(endpoints["replay"])["followRequests"]
    context = zmq.Context()
    flood = context.socket(zmq.DEALER)
    flood.setsockopt(zmq.LINGER, 0)
    flood.connect(endpoints["replay"])
    try:
        # Requests that would each wait 30 s at the head: without a bound per client they would
        # fill the broker's slots, and the aggregator's own request would be answered at once, empty,
        # again and again.
        for request_id in range(1, 2001):
            flood.send_multipart(follow_request(request_id, 2**64 - 1, 30_000))
        wait_for(lambda: broker_stats(endpoints["replay"])["followRequests"] >= before + 2000, 30, "the broker to read the flood")
        stats = broker_stats(endpoints["replay"])
        assert stats["followersWaiting"] <= 2, stats
        # The aggregator still follows: what is produced now is counted.
        pipeline.produce(endpoints, "--synthetic", "200", "--seed", "43")
        wait_for(lambda: aggregator_status(query)["events"] == 300, 30, "the aggregator to count the later events")
    finally:
        context.destroy(linger=0)


def test_the_broker_publishes_to_a_sub_socket_while_it_is_connected(pipeline):
    _, endpoints = pipeline.broker()
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoints["backend"])
    try:
        wait_for(lambda: (s := broker_stats(endpoints["replay"]))["subscriberConnections"] == 1 and s["subscriptions"] >= 1, 30,
                 "the SUB socket to be counted")
        pipeline.produce(endpoints, "--synthetic", "50", "--seed", "44")
        sequences = []
        while len(sequences) < 50:
            assert sub.poll(10_000), f"only {len(sequences)} of 50 events reached the SUB socket"
            topic, header, body = sub.recv_multipart()
            sequences.append(struct.unpack(">Q", header[2:10])[0])
        assert sequences == list(range(1, 51))
        sub.close()
        wait_for(lambda: broker_stats(endpoints["replay"])["subscriberConnections"] == 0, 30, "the closed SUB socket to be counted out")
    finally:
        context.destroy(linger=0)
