"""The cluster suite's fixtures: real hosts (network namespaces, netns.py), the `timeline` daemons
run on them, CURVE keys for every role, and the table of figures printed at the end of the run
(written as JSON to $TIMELINE_CLUSTER_REPORT when set).

Without root, or where `ip netns` cannot create namespaces, every test here is skipped with the
reason, and the other suites run as usual."""

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Pipeline, write_figures  # noqa: E402  (Tests/ is on the path: Tests/conftest.py)
from netns import Cluster, Host, unavailable_reason  # noqa: E402

HERE = Path(__file__).resolve().parent
HOSTS = ["a", "b", "c", "d"]  # a: the (primary) broker; b: the backup broker; c: producers; d: consumers
FIGURES: list[dict] = []
PAIR_FIGURES: list[dict] = []
_reason: list = []


def skip_reason() -> str | None:
    """Why the suite cannot run on this machine (asked once per run), or None."""
    if not _reason:
        _reason.append(unavailable_reason())
    return _reason[0]


def _in_suite(item) -> bool:
    return HERE in Path(str(item.fspath)).resolve().parents


@pytest.hookimpl(tryfirst=True)  # marked before -m selects
def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if _in_suite(item)]
    if not ours:
        return
    reason = skip_reason()
    for item in ours:
        item.add_marker(pytest.mark.cluster)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_report_header(config):
    if any(Path(arg).resolve() == HERE or HERE in Path(arg).resolve().parents for arg in config.args if Path(arg).exists()):
        reason = skip_reason()
        return f"cluster suite: {reason}" if reason else "cluster suite: network namespaces available"
    return None


# The table: per scenario, the events published; lost (must be 0); duplicates suppressed by the
# aggregator (repeats by sequence or event id, after gap repair); events received live and replayed
# from the broker's log; how long the link was down; seconds from the link coming up until the
# aggregator counted its next event (resumed_s) and until it had counted every event (caught_up_s,
# which includes what the producer still had to publish); run_s, from the producer's start.
#
# The broker pair's table: per scenario, events published, lost and counted twice (both must be
# 0), the failover time (from the loss, a kill or a cut, to the first event the new active broker
# accepted), the producer's throughput, and that throughput as a ratio to a single broker's in the
# same run (the first scenario measures both).
def pytest_terminal_summary(terminalreporter):
    columns = ["scenario", "events", "lost", "duplicates", "live", "replayed", "down_s", "resumed_s", "caught_up_s", "run_s"]
    write_figures(terminalreporter, "cluster suite figures", columns, FIGURES, "TIMELINE_CLUSTER_REPORT")
    columns = ["scenario", "events", "lost", "counted_twice", "failover_s", "events_per_s", "ratio_to_single", "run_s"]
    write_figures(terminalreporter, "broker pair figures", columns, PAIR_FIGURES, "TIMELINE_PAIR_REPORT")


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def cluster(request):
    """Hosts a, b, c and d on one bridge, removed when the test ends however it ends (finalizer; the
    atexit hook in netns.py is the safety net). SIGTERM is turned into KeyboardInterrupt so that a
    terminated run cleans up as an interrupted one does."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    hosts = Cluster(HOSTS)
    request.addfinalizer(hosts.close)
    return hosts.create()


class HostPipeline(Pipeline):
    """harness.Pipeline whose daemons and commands run on one host of the cluster."""

    def __init__(self, base: Path, host: Host):
        base.mkdir(parents=True, exist_ok=True)
        super().__init__(base)
        self.host = host

    def command(self, *args: str) -> list[str]:
        return self.host.command([str(self.binary), *args])


@pytest.fixture
def on_host(cluster, tmp_path):
    """on_host["a"]: a HostPipeline for host a (its files under tmp_path/a); every daemon started
    is killed at the end (before the cluster goes)."""
    pipelines = {name: HostPipeline(tmp_path / name, cluster[name]) for name in HOSTS}
    yield pipelines
    for pipeline in pipelines.values():
        pipeline.cleanup()


class Keys:
    """CURVE keys for every role, and the allow list of each server.

    broker     server key; lets in producer, consumer (the aggregator's client key) and observer
    aggregator server key of the query endpoint; lets in observer
    observer   the test's own key: status, statistics, reports"""

    def __init__(self, pipeline: Pipeline, folder: Path):
        import zmq.auth

        self.folder = folder
        for name in ("broker", "aggregator", "producer", "consumer", "observer", "peer-primary", "peer-backup", "intruder"):
            result = pipeline.run("keys", "generate", "--name", name, "--output-dir", str(folder))
            assert result.returncode == 0, result.stderr
        self.allowed = {"broker": ("producer", "consumer", "observer"), "aggregator": ("observer",)}
        for server, clients in self.allowed.items():
            allowed = folder / f"allowed-{server}"
            allowed.mkdir()
            for client in clients:
                (allowed / f"{client}.key").write_text((folder / f"{client}.key").read_text())
        self._load = zmq.auth.load_certificate

    def server(self, name: str) -> list[str]:
        return ["--set", "security.enabled=true", "--set", f"security.serverSecretKey={self.folder / f'{name}.key_secret'}",
                "--set", f"security.authorizedKeys={self.folder / f'allowed-{name}'}"]

    def peer(self, name: str, other: str) -> list[str]:
        """A broker of a pair: its own peer key and the other broker's public one (`peer-NAME`)."""
        return ["--set", f"security.peerSecretKey={self.folder / f'peer-{name}.key_secret'}",
                "--set", f"security.peerPublicKey={self.folder / f'peer-{other}.key'}"]

    def client(self, name: str, server: str) -> list[str]:
        return ["--set", "security.enabled=true", "--set", f"security.serverPublicKey={self.folder / f'{server}.key'}",
                "--set", f"security.clientSecretKey={self.folder / f'{name}.key_secret'}"]

    def curve(self, name: str, server: str) -> tuple[bytes, bytes, bytes]:
        """For harness.Requester(curve=...)."""
        public, secret = self._load(str(self.folder / f"{name}.key_secret"))
        server_public, _ = self._load(str(self.folder / f"{server}.key"))
        return public, secret, server_public


@pytest.fixture
def keys(pipeline, tmp_path) -> Keys:
    pytest.importorskip("zmq")
    return Keys(pipeline, tmp_path / "keys")


@pytest.fixture
def figures() -> list[dict]:
    """Where a scenario records its row of the table."""
    return FIGURES


@pytest.fixture
def pair_figures() -> list[dict]:
    """Where a broker pair scenario records its row of the pair's table."""
    return PAIR_FIGURES
