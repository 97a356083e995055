"""Prometheus metrics: every daemon serves `GET /metrics` on `--metrics-listen`, and a real
Prometheus server (Debian's `prometheus`) scrapes them and computes a rate and a lag from them."""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from harness import aggregator_status, free_port, taken_port, wait_for

ANY = "127.0.0.1:*"


def metrics_address(daemon) -> str:
    """The address the daemon's metrics endpoint listens on, from its endpoints.json."""
    return wait_for(lambda: daemon.wait_bound().get("metrics"), 30, f"{daemon.name}'s metrics endpoint")


def get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def scrape(address: str) -> dict:
    """The samples of one scrape: {(name, ((label, value), ...)): value}. Checks the text's form."""
    status, headers, body = get(f"http://{address}/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = ()
        if "{" in head:
            name, rest = head.split("{", 1)
            labels = tuple(sorted(tuple(pair.split("=", 1)) for pair in rest.rstrip("}").split(",") if pair))
            labels = tuple((key, value_text.strip('"')) for key, value_text in labels)
        else:
            name = head
        samples[(name, labels)] = float(value)
    return samples


def sample(samples: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{name}{labels} not among {sorted({n for n, _ in samples})}"
    return samples[key]


def test_every_daemon_serves_its_figures_at_metrics(pipeline):
    broker, endpoints = pipeline.broker(None, "--metrics-listen", ANY)
    aggregator, query = pipeline.aggregator(endpoints, None, "--metrics-listen", ANY)
    snapshot = pipeline.snapshot(endpoints, "--metrics-listen", ANY, "--every-events", "500")
    monitor = pipeline.monitor(endpoints, "--json", "--metrics-listen", ANY)
    addresses = {daemon.name: metrics_address(daemon) for daemon in (broker, aggregator, snapshot, monitor)}
    pipeline.produce(endpoints, "--synthetic", "2000", "--seed", "61")
    wait_for(lambda: aggregator_status(query)["events"] == 2000, 60, "the aggregator to count 2000 events")

    figures = scrape(addresses["broker"])
    assert sample(figures, "timeline_broker_events_accepted_total") == 2000
    assert sample(figures, "timeline_broker_log_last_sequence") == 2000
    assert sample(figures, "timeline_broker_malformed_dropped_total") == 0
    assert sample(figures, "timeline_broker_log_bytes") > 2000 * 100
    assert sample(figures, "timeline_broker_receive_to_logged_seconds_count") >= 1
    # A single broker shows no pair figures.
    assert not any(name.startswith("timeline_broker_pair_") for name, _ in figures)

    for name, consumer in (("aggregator", "aggregator"), ("snapshot", "snapshot"), ("monitor", "monitor")):
        def caught_up():
            figures = scrape(addresses[name])
            return figures if sample(figures, "timeline_consumer_position", consumer=consumer) == 2000 else None

        figures = wait_for(caught_up, 30, f"the {name}'s position to reach 2000")
        assert sample(figures, "timeline_consumer_lag_events", consumer=consumer) == 0
        assert sample(figures, "timeline_consumer_lag_seconds", consumer=consumer) == 0
        applied = (sample(figures, "timeline_consumer_events_applied_total", consumer=consumer, mode="live")
                   + sample(figures, "timeline_consumer_events_applied_total", consumer=consumer, mode="replayed"))
        assert applied == 2000, name
        assert sample(figures, "process_resident_memory_bytes") > 1 << 20
        assert sample(figures, "process_open_fds") > 3
        assert sample(figures, "process_cpu_seconds_total") > 0
    # A snapshot once 500 events are unsaved, timed.
    wait_for(lambda: sample(scrape(addresses["snapshot"]), "timeline_snapshot_write_seconds_count", consumer="snapshot") >= 1, 30,
             "a snapshot to be timed")
    wait_for(lambda: sample(scrape(addresses["aggregator"]), "timeline_aggregator_checkpoint_seconds_count", consumer="aggregator") >= 1,
             30, "a checkpoint to be timed")
    # The broker learns each consumer's checkpointed position (CONSUMED).
    wait_for(lambda: sample(scrape(addresses["broker"]), "timeline_broker_consumer_lag_events", consumer="aggregator") == 0, 30,
             "the broker to hear the aggregator's checkpoint")
    assert sample(scrape(addresses["broker"]), "timeline_broker_consumer_position", consumer="aggregator") == 2000

    status, _, _ = get(f"http://{addresses['broker']}/nothing-here")
    assert status == 404
    # At shutdown the endpoints file goes, metrics entry and all.
    assert broker.terminate() == 0
    assert not (broker.data_dir / "endpoints.json").exists()


def test_a_taken_metrics_port_stops_the_daemon_at_start_naming_the_key(pipeline, tmp_path):
    with taken_port() as port:
        data = tmp_path / "refused-broker"
        result = pipeline.run("broker", "--data-dir", str(data), "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
                              "--replay", "tcp://127.0.0.1:*", "--metrics-listen", f"127.0.0.1:{port}")
        assert result.returncode == 78, result.stderr
        assert "metrics.listen" in result.stderr and "in use" in result.stderr
        # Refused before it opened anything: no log, no endpoints.
        assert not (data / "log").exists() and not (data / "endpoints.json").exists()


@pytest.mark.parametrize("address", ["nonsense", "127.0.0.1:99999", ":9101", "::1:9101"])
def test_a_metrics_address_that_is_not_one_is_a_configuration_error(pipeline, address):
    result = pipeline.run("monitor", "--metrics-listen", address)
    assert result.returncode == 78, result.stderr
    assert "metrics.listen" in result.stderr


class Prometheus:
    """Debian's Prometheus server, scraping every second the targets of a file it watches."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.targets = folder / "targets.json"
        self.write_targets([])
        config = folder / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: timeline\n    file_sd_configs:\n"
            f"      - files: ['{self.targets}']\n        refresh_interval: 1s\n"
        )
        # Prometheus takes no wildcard port: one is picked free here, and the start is retried
        # on another should it be taken in between.
        for _ in range(5):
            self.address = f"127.0.0.1:{free_port()}"
            self.log = open(folder / "prometheus.log", "wb")
            self.process = subprocess.Popen(
                ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                 f"--web.listen-address={self.address}", "--log.level=warn"],
                stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
            )
            try:
                wait_for(self.ready, 60, "Prometheus to be ready", interval=0.1)
                return
            except AssertionError:
                self.stop()
        raise AssertionError((folder / "prometheus.log").read_text()[-3000:])

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.process.returncode}")
        try:
            return get(f"http://{self.address}/-/ready")[0] == 200
        except OSError:
            return False

    def write_targets(self, addresses: list[str]):
        staged = self.targets.with_suffix(".tmp")
        staged.write_text(json.dumps([{"targets": addresses}]))
        staged.replace(self.targets)

    def query(self, expression: str, at: float | None = None) -> list:
        parameters = {"query": expression}
        if at is not None:
            parameters["time"] = f"{at:.3f}"
        status, _, body = get(f"http://{self.address}/api/v1/query?" + urllib.parse.urlencode(parameters))
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", answer
        return answer["data"]["result"]

    def value(self, expression: str, at: float | None = None) -> float | None:
        result = self.query(expression, at)
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def prometheus(tmp_path):
    if shutil.which("prometheus") is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (Scripts/install-deps installs it)")
        pytest.skip("prometheus is not installed (Scripts/install-deps installs it)")
    folder = tmp_path / "prometheus"
    folder.mkdir()
    server = Prometheus(folder)
    try:
        yield server
    finally:
        server.stop()


def test_prometheus_computes_the_rate_of_accepted_events_and_a_consumers_lag(pipeline, prometheus, tmp_path):
    broker, endpoints = pipeline.broker(None, "--metrics-listen", ANY)
    aggregator_data = tmp_path / "aggregator-data"
    aggregator, _ = pipeline.aggregator(endpoints, aggregator_data, "--metrics-listen", ANY)
    broker_metrics, aggregator_metrics = metrics_address(broker), metrics_address(aggregator)
    prometheus.write_targets([broker_metrics, aggregator_metrics])
    wait_for(lambda: prometheus.value('count(up{job="timeline"} == 1)') == 2, 60, "Prometheus to scrape both daemons", interval=0.2)

    # 1,000 events a second for 8 seconds: the rate Prometheus computes in the middle of the run.
    started = time.time()
    pipeline.produce(endpoints, "--synthetic", "8000", "--seed", "62", "--rate", "1000")
    ended = time.time()
    assert ended - started >= 7.5
    middle = started + (ended - started) / 2
    wait_for(lambda: prometheus.value("timeline_broker_events_accepted_total") == 8000, 30, "Prometheus to see all 8000", interval=0.2)
    rate = prometheus.value("rate(timeline_broker_events_accepted_total[4s])", at=middle)
    assert rate is not None and 700 <= rate <= 1300, rate

    # Once the aggregator has checkpointed everything, the broker counts it 0 behind; with the
    # aggregator stopped, 500 events later it is 500 behind.
    lag = 'timeline_broker_consumer_lag_events{consumer="aggregator"}'
    wait_for(lambda: prometheus.value(lag) == 0, 60, "the aggregator's lag to be 0", interval=0.2)
    assert aggregator.terminate() == 0
    pipeline.produce(endpoints, "--synthetic", "500", "--seed", "63")
    wait_for(lambda: prometheus.value(lag) == 500, 60, "the broker to count the stopped aggregator 500 behind", interval=0.2)

    # Restarted, it catches up from the log: 500 replayed, and no lag left on either side.
    restarted, _ = pipeline.aggregator(endpoints, aggregator_data, "--metrics-listen", ANY)
    prometheus.write_targets([broker_metrics, metrics_address(restarted)])
    replayed = 'timeline_consumer_events_applied_total{consumer="aggregator",mode="replayed"}'
    wait_for(lambda: prometheus.value(replayed) == 500, 60, "Prometheus to see the 500 replayed", interval=0.2)
    wait_for(lambda: prometheus.value(lag) == 0, 60, "the broker to count the aggregator caught up", interval=0.2)
    assert prometheus.value('timeline_consumer_lag_events{consumer="aggregator"}') == 0
