"""The broker pair across real hosts (network namespaces), with CURVE on everywhere, the brokers'
peer link included.

Host a runs the primary broker, b the backup, each bound to its own address; c the producer and d
the aggregator, both given the two brokers' endpoints as lists. The test process stays outside and
asks each broker for its statistics from inside c, and the aggregator for its status from inside d.
Each scenario publishes EVENTS synthetic events (TIMELINE_CLUSTER_EVENTS, default 200,000) and ends
with the aggregator's statistics exactly equal to those computed here from `timeline ingest
--synthetic EVENTS --seed SEED`, with the active broker's log holding each event exactly once.

Failover time: from the loss (the kill, or the link going down) to the first event the new active
broker accepted, seen in its `STATS` (`accepted`), polled every 20 ms from c."""

import json
import os
import signal
import statistics
import threading
import time

import pytest

from harness import BrokerPair, Requester, aggregator_status, broker_stats, expected_synthetic, wait_for

pytestmark = pytest.mark.cluster

EVENTS = int(os.environ.get("TIMELINE_CLUSTER_EVENTS", "200000"))
SEED = 12
PORTS = {"frontend": 5601, "backend": 5602, "replay": 5603, "peer": 5605}
QUERY_PORT = 5604
HOST_OF = {"primary": "a", "backup": "b"}
# Events per second for the scenarios that restart brokers under load: the stream lasts long
# enough (10 s at the default size) for two restarts, and the rows' throughput is this pace.
PACED_RATE = max(1000, EVENTS // 10)
# The single broker's producer throughput, measured in the first scenario of the run.
_single: dict = {}


def expected(pipeline) -> dict:
    return expected_synthetic(pipeline, EVENTS, SEED)


class PairBed:
    """The two brokers, the aggregator on d, and the observer's connections."""

    def __init__(self, cluster, on_host, keys, replication: str = "sync", tag: str = ""):
        self.cluster, self.on_host, self.keys = cluster, on_host, keys
        endpoints = {name: {role: f"tcp://{cluster[HOST_OF[name]].address}:{port}" for role, port in PORTS.items()}
                     for name in HOST_OF}
        extra = {name: [*keys.server("broker"), *keys.peer(name, "backup" if name == "primary" else "primary"),
                        "--set", f"broker.replication={replication}"] for name in HOST_OF}
        self.pair = BrokerPair({name: on_host[HOST_OF[name]] for name in HOST_OF}, endpoints, extra, tag=tag)
        self.pair.start_both()
        self.clients = self.pair.client_endpoints()
        self.from_c = cluster["c"].zmq_context()
        self.from_d = cluster["d"].zmq_context()
        self.requesters: dict = {}
        self.status_requester = None
        self.producer = None
        wait_for(lambda: self.state("primary") == "active" and self.state("backup") == "passive", 30,
                 "the primary active and the backup passive")
        self.aggregator = on_host["d"].start("aggregator", "aggregate", "--backend", self.clients["backend"], "--replay", self.clients["replay"],
                                             "--query", f"tcp://*:{QUERY_PORT}", *keys.server("aggregator"), *keys.client("consumer", "broker"),
                                             data_dir=on_host["d"].base / f"aggregator{tag}")
        self.aggregator.wait_bound()
        self.query = f"tcp://127.0.0.1:{QUERY_PORT}"  # inside d
        wait_for(lambda: self.status() is not None, 30, "the aggregator's status from inside d")

    # -- observing ----------------------------------------------------------------------------

    def stats(self, name: str, timeout: float = 2) -> dict | None:
        """A broker's STATS, asked from inside c; None when it did not answer in time."""
        if name not in self.requesters:
            self.requesters[name] = Requester(self.pair.endpoints[name]["replay"], self.from_c, curve=self.keys.curve("observer", "broker"))
        try:
            return broker_stats(self.requesters[name], timeout=timeout)
        except TimeoutError:
            self.requesters.pop(name).close()
            return None

    def state(self, name: str) -> str | None:
        stats = self.stats(name)
        return stats["pair"]["state"] if stats else None

    def status(self) -> dict | None:
        if self.status_requester is None:
            self.status_requester = Requester(self.query, self.from_d, curve=self.keys.curve("observer", "aggregator"))
        try:
            return aggregator_status(self.status_requester, timeout=2)
        except TimeoutError:
            self.status_requester.close()
            self.status_requester = None
            return None

    def counted(self) -> int:
        status = self.status()
        return status["events"] if status else -1

    def logs(self) -> str:
        parts = [self.pair.logs()]
        for daemon in (self.aggregator, self.producer):
            if daemon is not None:
                parts.append(f"--- {daemon.name} (exit {daemon.process.poll()}) ---\n{daemon.log()[-2500:]}")
        return "\n".join(parts)

    # -- driving ------------------------------------------------------------------------------

    def start_producer(self, *extra: str):
        self.producer = self.on_host["c"].start("producer", "produce", "--frontend", self.clients["frontend"], "--replay", self.clients["replay"],
                                                "--synthetic", str(EVENTS), "--seed", str(SEED), *self.keys.client("producer", "broker"), *extra)
        self.started = time.monotonic()
        # When the producer exits, taken as it happens (the test may be busy with an outage then).
        self.producer_exit = {}
        process = self.producer.process

        def watch():
            process.wait()
            self.producer_exit["at"] = time.monotonic()
        threading.Thread(target=watch, daemon=True, name="producer-exit").start()
        return self.producer

    def wait_logged(self, name: str, count: int, timeout: float = 120):
        wait_for(lambda: (self.stats(name) or {}).get("lastSequence", 0) >= count, timeout, f"{count} records in the {name} broker's log")

    def failover_time(self, new_active: str, since: float, timeout: float = 30) -> float:
        """Seconds from `since` until `new_active` has accepted an event from a producer."""
        before = (self.stats(new_active) or {}).get("accepted", 0)
        try:
            wait_for(lambda: (self.stats(new_active, timeout=1) or {}).get("accepted", 0) > before, timeout,
                     f"the {new_active} broker to accept an event", interval=0.02)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()}") from None
        return time.monotonic() - since

    def finish(self, pipeline, pair_figures, scenario: str, active: str, failover: float | None = None, paced: bool = False) -> dict:
        """Waits for the producer and the aggregator, records the row (unless `pair_figures` is
        None), and checks the statistics exactly, and the active broker's log holding every event once."""
        figure = {"scenario": scenario, "events": EVENTS, "failover_s": "" if failover is None else round(failover, 2)}
        if pair_figures is not None:
            pair_figures.append(figure)
        try:
            code = self.producer.process.wait(timeout=300)
            wait_for(lambda: "at" in self.producer_exit, 10, "the producer's exit time")
            produced = self.producer_exit["at"] - self.started
            assert code == 0, f"the producer failed ({code})\n{self.logs()}"
            figure["events_per_s"] = f"{round(EVENTS / produced)} (paced at {PACED_RATE})" if paced else round(EVENTS / produced)
            if _single.get("events_per_s") and not paced:
                figure["ratio_to_single"] = round(figure["events_per_s"] / _single["events_per_s"], 2)
            wait_for(lambda: self.counted() >= EVENTS, 180, f"{EVENTS} events at the aggregator", interval=0.1)
        except AssertionError as error:
            raise AssertionError(f"{error} (counted {self.counted()})\n{self.logs()}") from None
        finally:
            status = self.status() or {}
            figure["lost"] = EVENTS - min(EVENTS, status.get("events", 0))
            figure["counted_twice"] = max(0, status.get("events", 0) - EVENTS)
            figure["run_s"] = round(time.monotonic() - self.started, 2)
        report = self.on_host["d"].run("report", "--format", "json", "--query", self.query, *self.keys.client("observer", "aggregator"))
        assert report.returncode == 0, report.stderr
        report = json.loads(report.stdout)
        want = expected(pipeline)
        for field in ("totalEvents", "totalVisits", "visitsByDecade", "eventsByKind"):
            assert report[field] == want[field], f"{field} differs from the independently computed statistics"
        stats = self.stats(active, timeout=10)
        assert stats["pair"]["state"] == "active", stats
        assert stats["lastSequence"] == EVENTS, f"the active broker logged {stats['lastSequence']} records for {EVENTS} events"
        return figure

    def stop(self):
        for requester in self.requesters.values():
            requester.close()
        self.requesters.clear()
        if self.status_requester is not None:
            self.status_requester.close()
            self.status_requester = None
        self.aggregator.terminate()
        self.pair.stop()

    def wait_in_step(self, timeout: float = 120):
        """Until one broker is active and the other passive and in step: with synchronous
        replication the active one holds records for it (`replicating`), and the passive one has
        every record the active one counted as logged (`inStep`), so it may take over."""
        def in_step():
            first, second = self.stats("primary"), self.stats("backup")
            if not first or not second:
                return False
            by_state = {first["pair"]["state"]: first, second["pair"]["state"]: second}
            if sorted(by_state) != ["active", "passive"]:
                return False
            return by_state["active"]["pair"]["replicating"] and by_state["passive"]["pair"]["inStep"]
        try:
            wait_for(in_step, timeout, "both brokers in step", interval=0.1)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.logs()}") from None

    def assert_same_logs(self):
        """After the producer finished: both logs the same, byte for byte."""
        self.wait_in_step()
        wait_for(lambda: self.stats("primary")["lastSequence"] == self.stats("backup")["lastSequence"], 60, "both logs to end together")
        primary = self.pair.log_bytes("primary")
        backup = self.pair.log_bytes("backup")
        assert primary == backup, "the two brokers' logs differ"


def single_broker_run(cluster, on_host, keys, tag: str) -> float:
    """Producer throughput through one broker on host a (no pair), with an aggregator on d as in
    the pair's scenarios; everything is stopped again."""
    address = cluster["a"].address
    endpoints = {role: f"tcp://{address}:{port}" for role, port in PORTS.items() if role != "peer"}
    broker = on_host["a"].start("single", "broker", *(arg for role, endpoint in endpoints.items() for arg in (f"--{role}", endpoint)),
                                *keys.server("broker"), data_dir=on_host["a"].base / f"single{tag}")
    broker.wait_bound()
    aggregator = on_host["d"].start("single-aggregator", "aggregate", "--backend", endpoints["backend"], "--replay", endpoints["replay"],
                                    "--query", f"tcp://*:{QUERY_PORT}", *keys.server("aggregator"), *keys.client("consumer", "broker"),
                                    data_dir=on_host["d"].base / f"single-aggregator{tag}")
    aggregator.wait_bound()
    started = time.monotonic()
    producer = on_host["c"].start("single-producer", "produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"],
                                  "--synthetic", str(EVENTS), "--seed", str(SEED), *keys.client("producer", "broker"))
    assert producer.process.wait(timeout=300) == 0, producer.log()[-2000:]
    throughput = EVENTS / (time.monotonic() - started)
    for daemon in (aggregator, broker):
        daemon.terminate()
    return throughput


def test_sync_replication_against_a_single_broker(cluster, on_host, keys, pipeline, pair_figures):
    """Three rounds, each a single broker then the pair, on the same hosts with the same events
    and aggregator; the medians go in the table (this machine's two cores are shared and noisy)."""
    expected(pipeline)
    singles, pairs, figures = [], [], []
    for round_ in range(3):
        singles.append(single_broker_run(cluster, on_host, keys, f"-{round_}"))
        bed = PairBed(cluster, on_host, keys, tag=f"-{round_}")
        bed.start_producer()
        figure = bed.finish(pipeline, None, "pair, sync replication, no failure", "primary")
        assert figure["lost"] == 0 and figure["counted_twice"] == 0
        bed.assert_same_logs()
        bed.stop()
        pairs.append(figure["events_per_s"])
        figures.append(figure)
    _single["events_per_s"] = statistics.median(singles)
    pair_figures.append({"scenario": "single broker, for reference (median of 3)", "events": EVENTS, "events_per_s": round(_single["events_per_s"]),
                         "ratio_to_single": 1.0})
    pair_figures.append({"scenario": "pair, sync replication, no failure (median of 3)", "events": EVENTS, "lost": 0, "counted_twice": 0,
                         "events_per_s": round(statistics.median(pairs)),
                         "ratio_to_single": round(statistics.median(pairs) / _single["events_per_s"], 2),
                         "run_s": statistics.median(f["run_s"] for f in figures)})
    print(f"single broker: {[round(x) for x in singles]} events/s; pair: {pairs} events/s")


def test_kill_the_active_broker_mid_stream(cluster, on_host, keys, pipeline, pair_figures):
    expected(pipeline)
    bed = PairBed(cluster, on_host, keys)
    bed.start_producer()
    bed.wait_logged("primary", EVENTS // 4)
    bed.pair.daemons["primary"].process.send_signal(signal.SIGKILL)
    lost_at = time.monotonic()
    failover = bed.failover_time("backup", lost_at)
    figure = bed.finish(pipeline, pair_figures, "kill -9 of the active broker", "backup", failover)
    assert figure["lost"] == 0 and figure["counted_twice"] == 0
    assert failover <= 2.0, f"failover took {failover:.2f} s"


def test_the_active_brokers_link_down_for_ten_seconds(cluster, on_host, keys, pipeline, pair_figures):
    expected(pipeline)
    bed = PairBed(cluster, on_host, keys)
    bed.start_producer()
    bed.wait_logged("primary", EVENTS // 4)
    cluster.link_down(cluster["a"])
    lost_at = time.monotonic()
    try:
        failover = bed.failover_time("backup", lost_at)
        time.sleep(max(0.0, 10 - (time.monotonic() - lost_at)))  # the outage itself lasts 10 s
    finally:
        cluster.link_up(cluster["a"])
    # The old active broker hears the new one (a later epoch), steps down and copies its log.
    figure = bed.finish(pipeline, pair_figures, "active broker's link down 10 s", "backup", failover)
    assert figure["lost"] == 0 and figure["counted_twice"] == 0
    assert failover <= 2.0, f"failover took {failover:.2f} s"
    bed.assert_same_logs()


def test_the_link_between_the_brokers_alone_cut_for_ten_seconds(cluster, on_host, keys, pipeline, pair_figures):
    expected(pipeline)
    bed = PairBed(cluster, on_host, keys)
    bed.start_producer()
    bed.wait_logged("primary", EVENTS // 4)
    cluster.isolate(cluster["a"], cluster["b"])
    cut_at = time.monotonic()
    observed = []
    # A client that lists the passive broker first, started during the cut: it gets PASSIVE there,
    # turns to the active broker without a vote, and must not make the passive one take over.
    reversed_lists = {role: ",".join(reversed(bed.clients[role].split(","))) for role in ("backend", "replay")}
    late = on_host["d"].start("monitor", "monitor", "--backend", reversed_lists["backend"], "--replay", reversed_lists["replay"],
                              "--from-start", "--count", "1000", "--json", *keys.client("consumer", "broker"))
    try:
        # Both brokers still answer the observer on c; exactly one of them must be active throughout.
        while time.monotonic() - cut_at < 10:
            states = (bed.state("primary"), bed.state("backup"))
            observed.append(states)
            assert states.count("active") == 1, f"active brokers during the cut: {states}\n{bed.logs()}"
    finally:
        cluster.rejoin(cluster["a"], cluster["b"])
    assert len(observed) >= 20, "the states were sampled often during the cut"
    assert late.process.wait(timeout=60) == 0, late.log()[-2000:]
    assert len(late.output().splitlines()) >= 1000, "the late monitor read from the active broker"
    figure = bed.finish(pipeline, pair_figures, "link between the brokers cut 10 s", "primary")
    assert figure["lost"] == 0 and figure["counted_twice"] == 0
    assert all(states == ("active", "passive") for states in observed)
    bed.assert_same_logs()


def test_a_restarted_broker_rejoins_and_later_takes_over_with_the_full_history(cluster, on_host, keys, pipeline, pair_figures):
    expected(pipeline)
    bed = PairBed(cluster, on_host, keys)
    # Paced, so that events still flow through both failovers and the rejoin between them.
    bed.start_producer("--rate", str(PACED_RATE))
    bed.wait_logged("primary", EVENTS // 5)
    bed.pair.daemons["primary"].process.send_signal(signal.SIGKILL)
    first = bed.failover_time("backup", time.monotonic())
    bed.pair.start("primary")
    bed.wait_in_step()
    assert bed.state("primary") == "passive"
    assert bed.producer.alive(), "the producer was still publishing when the primary had caught up (make TIMELINE_CLUSTER_EVENTS larger)"
    bed.pair.daemons["backup"].process.send_signal(signal.SIGKILL)
    second = bed.failover_time("primary", time.monotonic())
    figure = bed.finish(pipeline, pair_figures, "restarted broker rejoins, then takes over", "primary", max(first, second), paced=True)
    assert figure["lost"] == 0 and figure["counted_twice"] == 0
    assert max(first, second) <= 2.0, f"failovers took {first:.2f} s and {second:.2f} s"


def test_a_rolling_restart_of_both_brokers_under_load(cluster, on_host, keys, pipeline, pair_figures):
    expected(pipeline)
    bed = PairBed(cluster, on_host, keys)
    bed.start_producer("--rate", str(PACED_RATE))
    bed.wait_logged("primary", EVENTS // 5)
    # The passive one first: stopped cleanly, started again, in step again.
    assert bed.pair.daemons["backup"].terminate() == 0
    bed.pair.start("backup")
    bed.wait_in_step()
    # Then the active one: the backup takes over, the primary rejoins as passive.
    assert bed.pair.daemons["primary"].terminate() == 0
    stopped = time.monotonic()
    failover = bed.failover_time("backup", stopped)
    bed.pair.start("primary")
    assert bed.producer.alive(), "the producer finished before the rolling restart did (make TIMELINE_CLUSTER_EVENTS larger)"
    figure = bed.finish(pipeline, pair_figures, "rolling restart of both brokers", "backup", failover, paced=True)
    assert figure["lost"] == 0 and figure["counted_twice"] == 0
    assert failover <= 2.0, f"failover took {failover:.2f} s"
    bed.assert_same_logs()
