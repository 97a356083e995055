"""Scripts/timelinectl end to end: starts the real daemons in the background in a temporary run
folder, on free loopback ports, publishes the bundled dataset, reads the report, stops them.

Its own run folder fixture, not the harness's pipeline: timelinectl starts the daemons. The binary
is found as the harness finds it ($TIMELINE_BIN, else a debug or release build)."""

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from harness import timeline_binary, wait_for

ROOT = Path(__file__).resolve().parents[2]
TIMELINECTL = ROOT / "Scripts" / "timelinectl"
DAEMONS = ("broker", "aggregator", "snapshot", "monitor")
BUNDLED_EVENTS = 36
BUNDLED_VISITS = 16


def free_ports(count: int) -> list[int]:
    """Ports the system hands out now; all sockets are held until every port is picked, so the
    ports are distinct."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def process_gone(pid: int) -> bool:
    """True when the process no longer exists, or is a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class Run:
    """A run folder with its environment; stops every daemon it started at teardown."""

    def __init__(self, base: Path, binary: Path):
        self.base = base
        self.binary = binary
        self.run_dir = base / "run"
        self.endpoints = {}
        self.env = {}
        self.pick_endpoints()

    def pick_endpoints(self):
        ports = free_ports(4)
        self.endpoints = {
            name: f"tcp://127.0.0.1:{port}" for name, port in zip(("frontend", "backend", "replay", "query"), ports)
        }
        self.env = {
            **os.environ,
            "TIMELINE_BIN": str(self.binary),
            "TIMELINE_RUN_DIR": str(self.run_dir),
            "NO_COLOR": "1",
            **{f"TIMELINE_ENDPOINTS_{name.upper()}": endpoint for name, endpoint in self.endpoints.items()},
        }

    def ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(TIMELINECTL), *args], capture_output=True, text=True, timeout=timeout, cwd=self.base, env=self.env,
        )

    def timeline(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, timeout=timeout, cwd=self.base, env=self.env,
        )

    def pid(self, name: str) -> int | None:
        path = self.run_dir / f"{name}.pid"
        return int(path.read_text().strip()) if path.exists() else None

    def log(self, name: str) -> str:
        path = self.run_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name}.log\n{self.log(name)[-2000:]}" for name in DAEMONS)

    def start_all(self) -> subprocess.CompletedProcess:
        """start all; once more on fresh ports if another process took one in the meantime."""
        result = self.ctl("start", "all")
        if result.returncode != 0 and "Address already in use" in result.stderr:
            self.ctl("stop", "all")
            self.pick_endpoints()
            result = self.ctl("start", "all")
        assert result.returncode == 0, f"timelinectl start all failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        return result

    def teardown(self):
        """Stops what is still running: timelinectl first, then SIGKILL to any pid it left."""
        pids = [pid for pid in (self.pid(name) for name in DAEMONS) if pid]
        try:
            self.ctl("stop", "all", timeout=60)
        except subprocess.TimeoutExpired:
            pass
        for pid in pids:
            if not process_gone(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def run(tmp_path):
    harness = Run(tmp_path, timeline_binary())
    try:
        yield harness
    finally:
        harness.teardown()


def report(run: Run, *args: str) -> dict | None:
    result = run.timeline("report", "--format", "json", *args)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


def test_start_produce_report_stop(run):
    started = run.start_all()
    for name in DAEMONS:
        assert f"{name} started" in started.stdout, started.stdout

    pids = {name: run.pid(name) for name in DAEMONS}
    assert all(pids.values()), f"pid files missing: {pids}"
    assert not any(process_gone(pid) for pid in pids.values()), run.logs()

    # The daemons bound what they were told, and say so in endpoints.json.
    broker_endpoints = json.loads((run.run_dir / "data" / "broker" / "endpoints.json").read_text())
    assert broker_endpoints == {key: run.endpoints[key] for key in ("frontend", "backend", "replay")}
    aggregator_endpoints = json.loads((run.run_dir / "data" / "aggregator" / "endpoints.json").read_text())
    assert aggregator_endpoints == {"query": run.endpoints["query"]}

    status = run.ctl("status")
    assert status.returncode == 0, f"status exited {status.returncode}:\n{status.stdout}\n{status.stderr}"
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
    for name in DAEMONS:
        assert name in lines, status.stdout
        assert lines[name].split()[1] == "running", status.stdout
        assert str(pids[name]) in lines[name], status.stdout
    assert run.endpoints["query"] in lines["aggregator"], status.stdout
    assert run.endpoints["frontend"] in lines["broker"], status.stdout

    # Starting again is a no-op.
    again = run.ctl("start", "broker")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout, again.stdout
    assert run.pid("broker") == pids["broker"]

    produced = run.timeline("produce", "--frontend", run.endpoints["frontend"], "--replay", run.endpoints["replay"])
    assert produced.returncode == 0, f"produce exited {produced.returncode}:\n{produced.stderr[-3000:]}"

    last: dict = {}

    def counted():
        nonlocal last
        last = report(run, "--query", run.endpoints["query"], "--timeout", "2") or last
        return last.get("totalEvents") == BUNDLED_EVENTS

    try:
        wait_for(counted, 30, f"{BUNDLED_EVENTS} events at the aggregator", interval=0.1)
    except AssertionError as error:
        raise AssertionError(f"{error}; last report totalEvents={last.get('totalEvents')}\n{run.logs()}") from None
    assert last["totalVisits"] == BUNDLED_VISITS

    # The monitor, which connected through the same endpoints, printed the feed to its log.
    wait_for(lambda: "Kim Il Sung" in run.log("monitor"), 10, "the monitor's feed in run/monitor.log")

    stopped = run.ctl("stop", "all", timeout=60)
    assert stopped.returncode == 0, f"stop exited {stopped.returncode}:\n{stopped.stdout}\n{stopped.stderr}"
    assert "SIGKILL" not in stopped.stderr, stopped.stderr
    order = [line.split()[1] for line in stopped.stdout.splitlines() if line.endswith(")") and " stopped " in line]
    assert order == list(reversed(DAEMONS)), stopped.stdout
    for name, pid in pids.items():
        assert process_gone(pid), f"{name} (pid {pid}) is still running after stop"
        assert run.pid(name) is None, f"{name}.pid left behind"
    # Each one shut down gracefully (its own last words), not killed.
    assert "Broker stopped" in run.log("broker")
    assert "Aggregator stopped" in run.log("aggregator")
    assert "Snapshot writer stopped" in run.log("snapshot")

    status = run.ctl("status")
    assert status.returncode == 3, f"status exited {status.returncode} after stop:\n{status.stdout}"
    for line in status.stdout.splitlines():
        assert line.split()[1] == "stopped", status.stdout

    persisted = report(run, "--data-dir", str(run.run_dir / "data" / "aggregator"))
    assert persisted is not None, "report --data-dir failed on the aggregator's persisted state"
    assert persisted["totalEvents"] == BUNDLED_EVENTS
    assert persisted["totalVisits"] == BUNDLED_VISITS

    latest = json.loads((run.run_dir / "data" / "snapshot" / "snapshots" / "latest.json").read_text())
    assert latest["sequence"] == BUNDLED_EVENTS


def test_failed_start_and_stale_pid_file(run):
    # A daemon that dies while starting: non-zero exit, its log's tail, no pid file left.
    failed = run.ctl("start", "snapshot", "--", "--set", "no.such.key=1")
    assert failed.returncode == 1, failed
    assert "snapshot exited" in failed.stderr, failed.stderr
    assert "no.such.key" in failed.stderr, failed.stderr
    assert run.pid("snapshot") is None

    # A pid file whose process is gone: status says so (exit 3), stop cleans it with a note.
    run.run_dir.mkdir(parents=True, exist_ok=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (run.run_dir / "monitor.pid").write_text(f"{gone.pid}\n")
    status = run.ctl("status", "monitor")
    assert status.returncode == 3, status
    assert "stale" in status.stdout, status.stdout
    stopped = run.ctl("stop", "monitor")
    assert stopped.returncode == 0, stopped
    assert "stale pid file" in stopped.stdout, stopped.stdout
    assert not (run.run_dir / "monitor.pid").exists()

    usage = run.ctl("start", "nonsense")
    assert usage.returncode == 2
    assert "nonsense" in usage.stderr
