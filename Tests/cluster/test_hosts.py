"""The single-broker pipeline across real hosts (network namespaces), with CURVE on.

Host a runs the broker, bound to its own address; host c the producer; host d the aggregator. The
test process stays outside: it drives the hosts with `ip netns exec` and asks the aggregator for
its status from inside d (a zmq context whose connections start in d, netns.Host.zmq_context), and
the broker for its statistics from inside c. Each scenario publishes EVENTS synthetic events
(TIMELINE_CLUSTER_EVENTS, default 200,000) and ends with the aggregator's statistics exactly equal
to those computed here from `timeline ingest --synthetic EVENTS --seed SEED`."""

import json
import os
import time

import pytest

from harness import Requester, aggregator_status, broker_stats, expected_synthetic, wait_for

pytestmark = pytest.mark.cluster

EVENTS = int(os.environ.get("TIMELINE_CLUSTER_EVENTS", "200000"))
SEED = 11
# Fixed ports: each host is a fresh namespace, so nothing else can hold them.
BROKER_PORTS = {"frontend": 5601, "backend": 5602, "replay": 5603}
QUERY_PORT = 5604


def expected(pipeline) -> dict:
    return expected_synthetic(pipeline, EVENTS, SEED)


class Bed:
    """The broker on a, the aggregator on d (both CURVE servers, the aggregator a client of the
    broker too), and the observer's connections: to the aggregator from inside d (its loopback, so
    they work while d is cut off), to the broker from inside c (across the bridge)."""

    def __init__(self, cluster, on_host, keys):
        self.cluster, self.on_host, self.keys = cluster, on_host, keys
        broker_host = cluster["a"]
        self.endpoints = {role: f"tcp://{broker_host.address}:{port}" for role, port in BROKER_PORTS.items()}
        self.broker = on_host["a"].start("broker", "broker", *(arg for role in BROKER_PORTS for arg in (f"--{role}", self.endpoints[role])),
                                         *keys.server("broker"))
        assert self.broker.wait_bound() == self.endpoints
        self.aggregator = on_host["d"].start("aggregator", "aggregate", *on_host["d"].consumer_args(self.endpoints),
                                             "--query", f"tcp://*:{QUERY_PORT}", *keys.server("aggregator"), *keys.client("consumer", "broker"))
        self.aggregator.wait_bound()
        self.query = f"tcp://127.0.0.1:{QUERY_PORT}"  # inside d
        self.from_d = cluster["d"].zmq_context()
        self.from_c = cluster["c"].zmq_context()
        self.status_requester = None
        self.stats_requester = None
        self.producer = None
        wait_for(lambda: self.status() is not None, 30, "the aggregator's status from inside d")

    def status(self) -> dict | None:
        """The aggregator's STATUS, or None when it did not answer within 2 s."""
        if self.status_requester is None:
            self.status_requester = Requester(self.query, self.from_d, curve=self.keys.curve("observer", "aggregator"))
        try:
            return aggregator_status(self.status_requester, timeout=2)
        except TimeoutError:
            self.status_requester.close()  # a late answer would be read as the next one's
            self.status_requester = None
            return None

    def counted(self) -> int:
        status = self.status()
        return status["events"] if status else -1

    def broker_stats(self) -> dict:
        """The broker's STATS, asked from inside c (across the bridge)."""
        if self.stats_requester is None:
            self.stats_requester = Requester(self.endpoints["replay"], self.from_c, curve=self.keys.curve("observer", "broker"))
        try:
            return broker_stats(self.stats_requester, timeout=10)
        except TimeoutError:
            self.stats_requester.close()
            self.stats_requester = None
            raise

    def start_producer(self):
        self.producer = self.on_host["c"].start_producer(self.endpoints, "--synthetic", str(EVENTS), "--seed", str(SEED),
                                                         "--log-level", "info", *self.keys.client("producer", "broker"))
        return self.producer

    def logs(self) -> str:
        parts = []
        for daemon in (self.broker, self.aggregator, self.producer):
            if daemon is not None:
                parts.append(f"--- {daemon.name} (exit {daemon.process.poll()}) ---\n{daemon.log()[-2500:]}")
        return "\n".join(parts)

    def wait_counted(self, count: int, timeout: float, what: str):
        try:
            wait_for(lambda: self.counted() >= count, timeout, what, interval=0.05)
        except AssertionError as error:
            raise AssertionError(f"{error} (counted {self.counted()})\n{self.logs()}") from None

    def wait_producer(self, timeout: float = 300):
        try:
            code = self.producer.process.wait(timeout=timeout)
        except Exception:
            raise AssertionError(f"the producer did not finish within {timeout} s\n{self.logs()}") from None
        assert code == 0, f"the producer failed ({code})\n{self.logs()}"

    def finish(self, pipeline, figures, scenario: str, started: float, down: float | None = None,
               up: float | None = None, resumed: float | None = None):
        """Waits for the producer and for every event at the aggregator, records the row of the table,
        then checks the statistics exactly and that the broker logged every event once."""
        figure = {"scenario": scenario, "events": EVENTS, "down_s": "" if down is None else round(down, 1),
                  "resumed_s": "" if resumed is None else round(resumed, 2)}
        figures.append(figure)
        try:
            self.wait_producer()
            self.wait_counted(EVENTS, 180, f"{EVENTS} events at the aggregator")
        finally:
            status = self.status() or {}
            figure.update(lost=EVENTS - status.get("events", 0), live=status.get("live", ""), replayed=status.get("replayed", ""),
                          duplicates=status.get("duplicateSequences", 0) + status.get("duplicateEvents", 0))
        done = time.monotonic()
        figure["run_s"] = round(done - started, 2)
        figure["caught_up_s"] = "" if up is None else round(done - up, 2)
        report = self.on_host["d"].run("report", "--format", "json", "--query", self.query, *self.keys.client("observer", "aggregator"))
        assert report.returncode == 0, report.stderr
        report = json.loads(report.stdout)
        want = expected(pipeline)
        for field in ("totalEvents", "totalVisits", "visitsByDecade", "eventsByKind"):
            assert report[field] == want[field], f"{field} differs from the independently computed statistics"
        stats = self.broker_stats()
        assert stats["lastSequence"] == EVENTS, f"the broker logged {stats['lastSequence']} records for {EVENTS} events"
        return figure


def outage(cluster, host, seconds: float, at_cut=lambda: None):
    """Sets the host's link down, calls `at_cut`, keeps the link down for `seconds` in all (the
    scenario itself, not a synchronisation), sets it up; returns (down, up) times, `up` once the
    link is up again, and what `at_cut` returned."""
    cluster.link_down(host)
    down = time.monotonic()
    try:
        seen = at_cut()
        time.sleep(max(0.0, seconds - (time.monotonic() - down)))
    finally:
        cluster.link_up(host)
    return down, time.monotonic(), seen


def wait_resumed(bed, before: int, up: float) -> float:
    """Seconds from the link coming up until the aggregator counted more than `before`."""
    bed.wait_counted(before + 1, 120, "the aggregator to move on after the link came up")
    return time.monotonic() - up


def test_the_pipeline_across_hosts_counts_every_event_once(cluster, on_host, keys, pipeline, figures):
    expected(pipeline)
    bed = Bed(cluster, on_host, keys)
    started = time.monotonic()
    bed.start_producer()
    bed.finish(pipeline, figures, "plain run across hosts", started)
    status = bed.status()
    assert status["live"] > 0, "events arrived live across the bridge"


def test_the_consumer_host_cut_off_for_ten_seconds_catches_up(cluster, on_host, keys, pipeline, figures):
    expected(pipeline)
    bed = Bed(cluster, on_host, keys)
    started = time.monotonic()
    bed.start_producer()
    bed.wait_counted(EVENTS // 4, 120, "a quarter of the events at the aggregator")
    down, up, at_cut = outage(cluster, cluster["d"], 10, at_cut=bed.counted)
    assert at_cut < EVENTS, "the aggregator had every event before the link went down (make TIMELINE_CLUSTER_EVENTS larger)"
    counted = bed.counted()
    assert counted < EVENTS, "the aggregator counted every event while its host was cut off: the link was not down"
    producer_done = bed.producer.process.poll() is not None
    resumed = wait_resumed(bed, counted, up)
    print(f"at link up: aggregator had {counted} events; producer {'finished' if producer_done else 'still running'}")
    figure = bed.finish(pipeline, figures, "consumer host link down 10 s", started, up - down, up, resumed)
    assert figure["lost"] == 0


def test_the_broker_host_cut_off_for_five_seconds_resumes(cluster, on_host, keys, pipeline, figures):
    expected(pipeline)
    bed = Bed(cluster, on_host, keys)
    started = time.monotonic()
    bed.start_producer()
    # Cut when the broker has logged a quarter: the producer is mid-stream then, whatever the
    # aggregator's lag.
    wait_for(lambda: bed.broker_stats()["lastSequence"] >= EVENTS // 4, 120, "a quarter of the events in the broker's log")
    down, up, producing = outage(cluster, cluster["a"], 5, at_cut=bed.producer.alive)
    assert producing, f"the producer had finished before the link went down (make TIMELINE_CLUSTER_EVENTS larger)\n{bed.logs()}"
    counted = bed.counted()
    assert bed.producer.alive(), f"the producer exited while the broker was cut off\n{bed.logs()}"
    resumed = wait_resumed(bed, counted, up) if counted < EVENTS else 0.0
    print(f"at link up: aggregator had {counted} events")
    figure = bed.finish(pipeline, figures, "broker host link down 5 s", started, up - down, up, resumed)
    assert figure["lost"] == 0
