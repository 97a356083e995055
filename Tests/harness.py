"""Harness for the integration and failure tests: runs the real `timeline` daemons as separate
processes on loopback ports the system picks, and cleans every process up afterwards."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def timeline_binary() -> Path:
    explicit = os.environ.get("TIMELINE_BIN")
    if explicit:
        if not Path(explicit).exists():
            raise AssertionError(f"TIMELINE_BIN names {explicit}, which does not exist")
        return Path(explicit)
    for flavour in ("debug", "release"):
        candidate = ROOT / ".build" / flavour / "timeline"
        if candidate.exists():
            return candidate
    pytest.skip("the timeline binary is not built (run swift build, or set TIMELINE_BIN)")


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):
    """Polls `condition` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Daemon:
    def __init__(self, name: str, process: subprocess.Popen, data_dir: Path, log_path: Path, out_path: Path):
        self.name = name
        self.process = process
        self.data_dir = data_dir
        self.log_path = log_path
        self.out_path = out_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def endpoints(self) -> dict:
        path = self.data_dir / "endpoints.json"
        return json.loads(path.read_text())

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout} s of SIGTERM\n{self.log()[-3000:]}")

    def kill(self):
        if self.alive():
            self.process.kill()
        self.process.wait()


class Pipeline:
    """Starts daemons in a temporary folder; every daemon it starts is stopped at teardown."""

    def __init__(self, base: Path):
        self.base = base
        self.binary = timeline_binary()
        self.daemons: list[Daemon] = []
        self.counter = 0

    def command(self, *args: str) -> list[str]:
        return [str(self.binary), *args]

    def start(self, name: str, *args: str, data_dir: Path | None = None, env: dict | None = None) -> Daemon:
        self.counter += 1
        data_dir = data_dir or self.base / name
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.base / f"{name}-{self.counter}.log"
        out_path = self.base / f"{name}-{self.counter}.out"
        stale = data_dir / "endpoints.json"
        if stale.exists():
            stale.unlink()
        process = subprocess.Popen(
            self.command(*args, "--data-dir", str(data_dir), "--log-level", "info"),
            stdout=open(out_path, "wb"),
            stderr=open(log_path, "wb"),
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {}), "NO_COLOR": "1"},
            cwd=self.base,
        )
        daemon = Daemon(name, process, data_dir, log_path, out_path)
        self.daemons.append(daemon)
        return daemon

    def wait_bound(self, daemon: Daemon, timeout: float = 20) -> dict:
        def ready():
            if not daemon.alive():
                raise AssertionError(f"{daemon.name} exited with {daemon.process.returncode}\n{daemon.log()[-3000:]}")
            path = daemon.data_dir / "endpoints.json"
            return path.exists() and daemon.endpoints()

        return wait_for(ready, timeout, f"{daemon.name} to bind")

    def broker(self, data_dir: Path | None = None, *extra: str) -> tuple[Daemon, dict]:
        any_port = "tcp://127.0.0.1:*"
        daemon = self.start("broker", "broker", "--frontend", any_port, "--backend", any_port, "--replay", any_port, *extra,
                            data_dir=data_dir)
        return daemon, self.wait_bound(daemon)

    def consumer_args(self, endpoints: dict) -> list[str]:
        return ["--backend", endpoints["backend"], "--replay", endpoints["replay"]]

    def aggregator(self, endpoints: dict, data_dir: Path | None = None, *extra: str) -> tuple[Daemon, str]:
        daemon = self.start("aggregator", "aggregate", *self.consumer_args(endpoints), "--query", "tcp://127.0.0.1:*", *extra,
                            data_dir=data_dir)
        return daemon, self.wait_bound(daemon)["query"]

    def snapshot(self, endpoints: dict, *extra: str, data_dir: Path | None = None) -> Daemon:
        return self.start("snapshot", "snapshot", *self.consumer_args(endpoints), *extra, data_dir=data_dir)

    def monitor(self, endpoints: dict, *extra: str) -> Daemon:
        return self.start("monitor", "monitor", *self.consumer_args(endpoints), "--stats-interval", "0", *extra)

    def produce(self, endpoints: dict, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.command("produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"], *args),
            capture_output=True, text=True, timeout=timeout, cwd=self.base,
        )
        if check:
            assert result.returncode == 0, f"produce failed ({result.returncode}):\n{result.stderr[-3000:]}"
        return result

    def start_producer(self, endpoints: dict, *args: str) -> Daemon:
        return self.start("producer", "produce", "--frontend", endpoints["frontend"], "--replay", endpoints["replay"], *args)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout, cwd=self.base)

    def report(self, query: str, fmt: str = "json") -> dict | str:
        result = self.run("report", "--format", fmt, "--query", query, "--timeout", "5")
        assert result.returncode == 0, f"report failed ({result.returncode}): {result.stderr}"
        return json.loads(result.stdout) if fmt == "json" else result.stdout

    def wait_events(self, query: str, count: int, timeout: float = 60) -> dict:
        last = {}

        def reached():
            nonlocal last
            last = self.report(query)
            return last if last["totalEvents"] >= count else None

        try:
            return wait_for(reached, timeout, f"{count} events at the aggregator", interval=0.1)
        except AssertionError as error:
            raise AssertionError(f"{error}; last report: totalEvents={last.get('totalEvents')}") from None

    def ingest(self, *args: str) -> list[dict]:
        result = self.run("ingest", *args)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def cleanup(self):
        for daemon in self.daemons:
            daemon.kill()


def expected_statistics(events: list[dict]) -> dict:
    """The report's statistics, computed here from the events without the pipeline's code."""
    visits = [e for e in events if e["kind"] == "visit"]

    def first_year(date: str) -> int:
        start = date.split("/")[0]
        if start == "..":
            start = date.split("/")[1]
        return int(start[:4].replace("X", "0")) if not start.startswith("-") else -int(start[1:5])

    decades: dict[tuple, int] = {}
    for visit in visits:
        year = first_year(visit["date"])
        key = (year // 10 * 10, visit["from"], visit["to"])
        decades[key] = decades.get(key, 0) + 1
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event["kind"]] = kinds.get(event["kind"], 0) + 1
    return {
        "totalEvents": len(events),
        "totalVisits": len(visits),
        "visitsByDecade": sorted(
            ({"decade": d, "from": f, "to": t, "count": c} for (d, f, t), c in decades.items()),
            key=lambda entry: (entry["decade"], entry["from"], entry["to"]),
        ),
        "eventsByKind": dict(sorted(kinds.items())),
    }


def control_request(endpoint: str, frames: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """One request/reply on a daemon's ROUTER endpoint (the broker's replay endpoint, the
    aggregator's query endpoint), from a DEALER socket."""
    import zmq

    context = zmq.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        socket.send_multipart(frames)
        if not socket.poll(int(timeout * 1000)):
            raise TimeoutError(f"no answer from {endpoint} within {timeout} s")
        return socket.recv_multipart()
    finally:
        socket.close()


def aggregator_status(query: str, timeout: float = 5.0) -> dict:
    reply = control_request(query, [b"STATUS"], timeout)
    assert reply[0] == b"OK", reply
    return json.loads(reply[1])


def broker_stats(replay: str, timeout: float = 5.0) -> dict:
    reply = control_request(replay, [b"STATS"], timeout)
    assert reply[0] == b"STATS", reply
    return json.loads(reply[1])
