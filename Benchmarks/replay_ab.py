#!/usr/bin/env python3
"""The replay figure of pipeline_bench.py ("replay", a late aggregator catching up), for two or more
`timeline` binaries side by side on a shared, noisy machine: each binary gets its own broker with a
log of N synthetic events; then rounds alternate the binaries (the order reversed every other
round), each a fresh aggregator timed from its start until STATUS says events >= N, with the CPU
seconds per thread of it and of its broker. Prints each round, the medians, and with two binaries
the ratio of the second to the first per round.

    python3 Benchmarks/replay_ab.py OLD,NEW [EVENTS (200000)] [ROUNDS (5)]

Binaries are absolute paths; a temporary folder under .build-bench/ holds the daemons' data."""
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Benchmarks"))
import pipeline_bench as pb
from harness import aggregator_status, wait_for

binaries = sys.argv[1].split(",")
events = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
(ROOT / ".build-bench").mkdir(exist_ok=True)
base = Path(tempfile.mkdtemp(prefix="replay-ab-", dir=str(ROOT / ".build-bench")))
benches, brokers = [], []
try:
    for i, binary in enumerate(binaries):
        folder = base / f"b{i}"; folder.mkdir()
        bench = pb.Bench(binary, folder)
        broker, endpoints = bench.broker()
        pb.run_produce(bench, endpoints, events)
        stats = pb.broker_stats(endpoints["replay"])
        assert stats["lastSequence"] == events, stats
        benches.append(bench); brokers.append((broker, endpoints))
    results = {b: [] for b in binaries}
    for r in range(rounds):
        order = list(range(len(binaries))) if r % 2 == 0 else list(reversed(range(len(binaries))))
        for i in order:
            bench = benches[i]; broker, endpoints = brokers[i]
            start = time.monotonic()
            joiner = bench.aggregator(endpoints)
            query = bench.wait_bound(joiner)["query"]
            bound = time.monotonic() - start
            req = pb.Requester(query, bench.context)
            cpu_b = {"broker": pb.cpu_threads(broker.pid), "aggregator": pb.cpu_threads(joiner.pid)}
            wait_for(lambda: aggregator_status(req)["events"] >= events, 600, "catch up", interval=0.002)
            seconds = time.monotonic() - start
            cpu = {"broker": pb.cpu_delta(cpu_b["broker"], pb.cpu_threads(broker.pid)),
                   "aggregator": pb.cpu_delta(cpu_b["aggregator"], pb.cpu_threads(joiner.pid))}
            pb.check_report(bench.report(query), events, "replay")
            req.close()
            bench.stop(joiner.process)
            bench.processes.remove(joiner.process)
            results[binaries[i]].append(events / seconds)
            print(f"round {r} {binaries[i]}: {events/seconds:,.0f} events/s ({seconds:.3f} s, bound after {bound:.3f} s) cpu {json.dumps(cpu)}", flush=True)
    for b in binaries:
        v = results[b]
        print(f"{b}: median {statistics.median(v):,.0f} events/s, min {min(v):,.0f}, max {max(v):,.0f}")
    if len(binaries) == 2:
        ratios = [n / o for o, n in zip(results[binaries[0]], results[binaries[1]])]
        print(f"ratio second/first per round: {[round(x, 2) for x in ratios]}, median {statistics.median(ratios):.2f}")
finally:
    for bench in benches:
        bench.stop_all()
    shutil.rmtree(base, ignore_errors=True)
