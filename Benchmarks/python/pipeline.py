#!/usr/bin/env python3
"""The "pyzmq + json" baseline for timeline's producer -> aggregator path.

Two processes, like two daemons, on TCP loopback:

* the producer (this process) binds an XPUB socket to tcp://127.0.0.1:* , starts the aggregator
  as a subprocess with the endpoint, waits for its subscription message (no sleeps), then, for each
  of N synthetic visits, json.dumps the event and sends the pipeline's three frames: topic
  ``visit.FROM.TO``, the 40-byte version-1 header (producer sequence 1, 2, 3... and a 21-byte
  producer id), and the JSON body;
* the aggregator (SUB, prefix ``visit.``) checks the topic and header, json.loads each body, drops
  duplicate ids (a set) and counts visits per (decade, from, to). When it has all N events it
  reports the time of the last one and its counts on stdout.

The events are those of the Swift ``SyntheticEvents`` (same splitmix64 stream, same ids, same JSON
field order), built as dicts before the clock starts; the clock runs from the producer's first
json.dumps/send to the aggregator's last aggregated event (CLOCK_MONOTONIC, shared by both
processes). The producer then checks the aggregator's counts against its own: total N, N distinct
ids, per-decade totals summing to N, and every (decade, from, to) count as expected. Output: one
JSON line (send_seconds, the producer's time to send all N, is a diagnostic); when anything is
missing or wrong, no line and a non-zero exit status.

    python3 Benchmarks/python/pipeline.py --events 200000
"""

import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
from collections import Counter

import zmq

COUNTRIES = ["MN", "KP", "KR", "CN", "RU", "JP", "US", "FR", "DE", "GB", "IN", "VN", "CU", "PL", "CZ", "EG"]
PRODUCER_ID = b"producer-0123456789ab"  # 21 bytes, like the Swift producer's default id
HEADER = struct.Struct(">BBQQB")  # version, encoding, broker sequence, producer sequence, id length
PREFIX = b"visit."
IDLE_TIMEOUT_MS = 30000
MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def synthetic_event(index, seed):
    """The index-th event of Swift's SyntheticEvents.event(index, seed:), as a JSON-ready dict."""
    state = (seed + index * 0x9E3779B97F4A7C15) & MASK
    state, a = splitmix64(state)
    state, b = splitmix64(state)
    origin = COUNTRIES[a % len(COUNTRIES)]
    target = COUNTRIES[(a >> 16) % (len(COUNTRIES) - 1)]
    if target == origin:
        target = COUNTRIES[-1]
    year = 1700 + b % 326
    month = 1 + (b >> 12) % 12
    day = 1 + (b >> 20) % 28
    precision = (b >> 28) % 3
    date = f"{year:04d}" if precision == 0 else f"{year:04d}-{month:02d}" if precision == 1 else f"{year:04d}-{month:02d}-{day:02d}"
    guest, host, place = f"Envoy {index}", f"Host {a % 1000}", f"Capital of {target}"
    facts = "\x1f".join(["visit", date, origin, target, guest.lower(), host.lower(), place.lower()])
    return {
        "id": hashlib.sha256(facts.encode()).hexdigest()[:32],
        "kind": "visit",
        "date": date,
        "from": origin,
        "to": target,
        "guest": guest,
        "host": host,
        "place": place,
        "description": None,
        "cameo": "042",
        "source": {"document": f"synthetic:{seed}", "section": None, "line": index + 1, "row": None},
    }


def decade(year):
    return year // 10 * 10 if year >= 0 else -((-year + 9) // 10 * 10)


def aggregator(endpoint, events):
    """SUB side: receive, check, decode, dedup, aggregate; print one JSON line when all have arrived."""
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, PREFIX)
    sub.connect(endpoint)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)

    seen = set()
    counts = Counter()
    received = duplicates = malformed = 0
    loads, unpack_from, recv_multipart = json.loads, HEADER.unpack_from, sub.recv_multipart
    while len(seen) < events:
        try:
            topic, header, body = recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            if not poller.poll(IDLE_TIMEOUT_MS):
                print(f"pipeline: aggregator: nothing for {IDLE_TIMEOUT_MS} ms after {len(seen)} of {events} events",
                      file=sys.stderr)
                break
            continue
        except ValueError:  # not three frames
            malformed += 1
            continue
        received += 1
        version, encoding, _sequence, _producer_sequence, id_length = unpack_from(header)
        if version != 1 or encoding != 0 or len(header) != HEADER.size + id_length:
            malformed += 1
            continue
        event = loads(body)
        origin, target = event["from"], event["to"]
        if topic.decode() != f"visit.{origin}.{target}":
            malformed += 1
            continue
        event_id = event["id"]
        if event_id in seen:
            duplicates += 1
            continue
        seen.add(event_id)
        counts[(decade(int(event["date"][:4])), origin, target)] += 1
    end = time.monotonic()
    print(json.dumps({
        "end": end,
        "received": received,
        "distinct": len(seen),
        "duplicates": duplicates,
        "malformed": malformed,
        "counts": [[d, f, t, c] for (d, f, t), c in sorted(counts.items())],
    }), flush=True)
    sub.close(linger=0)
    ctx.term()


def producer(events, seed):
    """XPUB side and the driver: start the aggregator, wait for it, send, check its report."""
    payloads = [synthetic_event(i, seed) for i in range(events)]
    expected = Counter((decade(int(e["date"][:4])), e["from"], e["to"]) for e in payloads)

    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.bind("tcp://127.0.0.1:*")
    endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--role", "aggregator",
                              "--endpoint", endpoint, "--events", str(events)], stdout=subprocess.PIPE, text=True)
    try:
        if not pub.poll(30000):
            raise SystemExit("pipeline: the aggregator did not subscribe within 30 s")
        while True:  # subscription messages: first byte 1 is a subscribe
            message = pub.recv()
            if message[:1] == b"\x01":
                break

        # json.dumps(event, separators=(",", ":")) without building a new JSONEncoder per call.
        dumps, pack, send = json.JSONEncoder(separators=(",", ":")).encode, HEADER.pack, pub.send_multipart
        body_bytes = 0
        start = time.monotonic()
        for sequence, event in enumerate(payloads, 1):
            body = dumps(event).encode()
            body_bytes += len(body)
            send([f"visit.{event['from']}.{event['to']}".encode(),
                  pack(1, 0, 0, sequence, len(PRODUCER_ID)) + PRODUCER_ID,
                  body])
        sent = time.monotonic()
        output, _ = child.communicate(timeout=IDLE_TIMEOUT_MS / 1000 + 600)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    pub.close(linger=0)
    ctx.term()

    if child.returncode != 0 or not output.strip():
        raise SystemExit(f"pipeline: the aggregator failed (exit status {child.returncode})")
    report = json.loads(output)
    counts = Counter({(d, f, t): c for d, f, t, c in report["counts"]})
    per_decade = Counter()
    for (d, _f, _t), c in counts.items():
        per_decade[d] += c
    problems = []
    if report["distinct"] != events:
        problems.append(f"aggregated {report['distinct']} distinct events of {events}")
    if report["duplicates"] or report["malformed"]:
        problems.append(f"{report['duplicates']} duplicates, {report['malformed']} malformed")
    if sum(per_decade.values()) != events:
        problems.append(f"per-decade totals sum to {sum(per_decade.values())}, not {events}")
    if counts != expected:
        problems.append("the (decade, from, to) counts differ from the producer's")
    if problems:
        raise SystemExit("pipeline: " + "; ".join(problems))
    seconds = report["end"] - start
    print(json.dumps({
        "events": events,
        "messages": events,
        "bytes": round(body_bytes / events),
        "frames": 3,
        "seconds": round(seconds, 6),
        "send_seconds": round(sent - start, 6),
        "messages_per_second": round(events / seconds),
        "events_per_second": round(events / seconds),
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description="pyzmq + json producer -> aggregator baseline (two processes, TCP loopback).")
    parser.add_argument("--events", type=int, default=200000, help="events to send (default 200000)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic event seed, as the Swift producer's --seed (default 1)")
    parser.add_argument("--role", choices=["producer", "aggregator"], default="producer", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")
    if args.role == "aggregator":
        aggregator(args.endpoint, args.events)
    else:
        producer(args.events, args.seed)


if __name__ == "__main__":
    main()
