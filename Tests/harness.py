"""Harness for the integration and failure tests: runs the real `timeline` daemons as separate
processes on loopback ports the system picks, and cleans every process up afterwards.

The polling, request and wire helpers serve Benchmarks/pipeline_bench.py too, so this module needs
neither pytest nor pyzmq to be imported; each helper imports what it uses."""

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timeline_binary() -> Path:
    """$TIMELINE_BIN, else the debug build, else the release build; the test is skipped when none is
    built."""
    import pytest

    explicit = os.environ.get("TIMELINE_BIN")
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"TIMELINE_BIN names {explicit}, which is not an executable file")
        return path.resolve()
    for flavour in ("debug", "release"):
        candidate = ROOT / ".build" / flavour / "timeline"
        if candidate.exists():
            return candidate
    pytest.skip("the timeline binary is not built (run swift build, or set TIMELINE_BIN)")


def log_bytes(data_dir: Path) -> bytes:
    """A broker's event log: the records of its segments (`log/<first sequence>.log`), in order."""
    return b"".join(path.read_bytes() for path in sorted((data_dir / "log").glob("*.log")))


def free_port() -> int:
    """A loopback port the system gave out, then closed: nothing listens there (for a moment)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def taken_port():
    """A loopback port another socket listens on while the block runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


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
    """A `timeline` daemon started with its own data folder, standard error in `log_path` and, when
    kept, standard output in `out_path`."""

    def __init__(self, name: str, process: subprocess.Popen, data_dir: Path, log_path: Path, out_path: Path | None = None):
        self.name = name
        self.process = process
        self.data_dir = data_dir
        self.log_path = log_path
        self.out_path = out_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path and self.out_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_bound(self, timeout: float = 20, interval: float = 0.02) -> dict:
        """The endpoints the daemon bound, once it has written them to endpoints.json; fails at once
        when it exits first."""
        path = self.data_dir / "endpoints.json"

        def bound():
            if not self.alive():
                raise AssertionError(f"{self.name} exited with {self.process.returncode}\n{self.log()[-3000:]}")
            if not path.exists():
                return None
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:  # written atomically, but be safe
                return None

        return wait_for(bound, timeout, f"{self.name} to bind", interval)

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

    def broker(self, data_dir: Path | None = None, *extra: str) -> tuple[Daemon, dict]:
        any_port = "tcp://127.0.0.1:*"
        daemon = self.start("broker", "broker", "--frontend", any_port, "--backend", any_port, "--replay", any_port, *extra,
                            data_dir=data_dir)
        return daemon, daemon.wait_bound()

    def consumer_args(self, endpoints: dict) -> list[str]:
        return ["--backend", endpoints["backend"], "--replay", endpoints["replay"]]

    def aggregator(self, endpoints: dict, data_dir: Path | None = None, *extra: str) -> tuple[Daemon, str]:
        daemon = self.start("aggregator", "aggregate", *self.consumer_args(endpoints), "--query", "tcp://127.0.0.1:*", *extra,
                            data_dir=data_dir)
        return daemon, daemon.wait_bound()["query"]

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

    def produce_counted(self, count: int, *produce_args: str) -> tuple[dict, str]:
        """A broker and an aggregator, then `timeline produce *produce_args`; returns the aggregator's
        report once it has counted `count` events, and its query endpoint."""
        _, endpoints = self.broker()
        _, query = self.aggregator(endpoints)
        self.produce(endpoints, *produce_args)
        return self.wait_events(query, count), query

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


_expected_synthetic: dict = {}


def expected_synthetic(pipeline, events: int, seed: int) -> dict:
    """The statistics of `timeline ingest --synthetic EVENTS --seed SEED`, computed here
    independently of the pipeline, once per run for each (events, seed)."""
    if (events, seed) not in _expected_synthetic:
        made = pipeline.ingest("--synthetic", str(events), "--seed", str(seed))
        assert len(made) == events
        _expected_synthetic[(events, seed)] = expected_statistics(made)
    return _expected_synthetic[(events, seed)]


class Requester:
    """A DEALER socket for requests to one ROUTER endpoint (the broker's replay endpoint, the
    aggregator's query endpoint), open for as many requests as its owner makes until close()."""

    def __init__(self, endpoint: str, context=None, curve: "tuple[bytes, bytes, bytes] | None" = None):
        """`curve`: (own public key, own secret key, the server's public key), as
        zmq.auth.load_certificate reads them, for a server with security on."""
        import zmq

        self.endpoint = endpoint
        self.socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            self.socket.curve_publickey, self.socket.curve_secretkey, self.socket.curve_serverkey = curve
        self.socket.connect(endpoint)

    def request(self, frames: list[bytes], timeout: float = 5.0) -> list[bytes]:
        self.socket.send_multipart(frames)
        if not self.socket.poll(int(timeout * 1000)):
            # A late reply would be read as the answer to the next request: the socket is done for.
            raise TimeoutError(f"no answer from {self.endpoint} within {timeout} s")
        return self.socket.recv_multipart()

    def close(self):
        self.socket.close(linger=0)


def control_request(target: "str | Requester", frames: list[bytes], timeout: float = 5.0) -> list[bytes]:
    """One request and its reply, on `target` when it is a Requester, else on a socket opened for
    this request to the endpoint `target`."""
    if isinstance(target, Requester):
        return target.request(frames, timeout)
    requester = Requester(target)
    try:
        return requester.request(frames, timeout)
    finally:
        requester.close()


def aggregator_status(query: "str | Requester", timeout: float = 5.0) -> dict:
    reply = control_request(query, [b"STATUS"], timeout)
    if reply[0] != b"OK":
        raise AssertionError(f"STATUS answered {reply!r}")
    return json.loads(reply[1])


def broker_stats(replay: "str | Requester", timeout: float = 5.0) -> dict:
    reply = control_request(replay, [b"STATS"], timeout)
    if reply[0] != b"STATS":
        raise AssertionError(f"STATS answered {reply!r}")
    return json.loads(reply[1])


WIRE_HEADER = struct.Struct(">BBQQB")  # version, encoding, sequence, producer sequence, id length


def wire_header(producer: bytes, number: int, version: int = 1, encoding: int = 0, id_length: int | None = None) -> bytes:
    """The header frame a producer sends: its sequence is 0 (the broker assigns it), `number` is
    the producer's own; `id_length` other than the id's length makes a broken header."""
    return WIRE_HEADER.pack(version, encoding, 0, number, len(producer) if id_length is None else id_length) + producer


def replay_request(after: int, count: int, request_id: int = 1) -> list[bytes]:
    """A REPLAY request to the broker's replay endpoint: up to `count` records after sequence `after`."""
    return [b"REPLAY", struct.pack(">Q", request_id), struct.pack(">Q", after), struct.pack(">I", count)]


def probe_until_received(publisher, subscriber, timeout: float = 10):
    """Publishes probe visits (MN to KP, guest "Probe") until one reaches `subscriber` through the
    broker. A plain SUB sees only live traffic: after this its subscription is known to have reached
    the broker, so the events published next are not lost to the slow-joiner effect."""
    probe = json.dumps({"kind": "visit", "date": "2000", "from": "MN", "to": "KP", "guest": "Probe", "place": "Pyongyang"}).encode()
    number = 0

    def arrived():
        nonlocal number
        number += 1
        publisher.send_multipart([b"visit.MN.KP", wire_header(b"probe", number), probe])
        return subscriber.poll(50) and json.loads(subscriber.recv_multipart()[2])["guest"] == "Probe"

    wait_for(arrived, timeout, "a probe through the broker at the subscriber", interval=0)


def connected_publisher(context, frontend: str, linger: int = 2000):
    """An XPUB connected to the broker's frontend, returned once the broker's subscription arrived:
    then the connection is up and nothing sent is lost to the slow-joiner effect."""
    import zmq

    publisher = context.socket(zmq.XPUB)
    publisher.setsockopt(zmq.LINGER, linger)
    publisher.connect(frontend)
    assert publisher.poll(10_000), "no subscription from the broker"
    assert publisher.recv()[0] == 1
    return publisher


def write_figures(terminalreporter, title: str, columns: list[str], figures: list[dict], report_variable: str):
    """Prints a suite's table of figures at the end of a pytest run, one row per scenario, and
    writes them as JSON to the file named by the environment variable `report_variable`, when set."""
    import json
    import os

    if not figures:
        return
    widths = {c: max(len(c), *(len(str(f.get(c, ""))) for f in figures)) for c in columns}
    terminalreporter.section(title)
    terminalreporter.write_line("  ".join(c.ljust(widths[c]) for c in columns))
    for figure in figures:
        terminalreporter.write_line("  ".join(str(figure.get(c, "")).ljust(widths[c]) for c in columns))
    path = os.environ.get(report_variable)
    if path:
        with open(path, "w") as handle:
            json.dump(figures, handle, indent=2)
        terminalreporter.write_line(f"figures written to {path}")


ROLES = ("frontend", "backend", "replay")


class BrokerPair:
    """A primary and a backup broker (`--ha`), each with its own endpoints (`endpoints[name]`: the
    frontend, backend, replay and peer endpoints of broker "primary" or "backup"), started on
    `pipelines[name]` (a harness.Pipeline, or one that runs on a cluster host). `client_endpoints()`
    gives the comma-separated lists clients take. `extra[name]`: more arguments for that broker
    (security, settings)."""

    def __init__(self, pipelines: dict, endpoints: dict, extra: dict | None = None, tag: str = ""):
        """`tag` is added to the brokers' data folders, for several pairs in one test."""
        self.pipelines, self.endpoints, self.extra, self.tag = pipelines, endpoints, extra or {}, tag
        self.daemons: dict = {}

    def start(self, name: str, *more: str) -> "Daemon":
        other = "backup" if name == "primary" else "primary"
        own = self.endpoints[name]
        daemon = self.pipelines[name].start(
            name, "broker", "--ha", name, "--peer", self.endpoints[other]["peer"], "--peer-listen", own["peer"],
            *(arg for role in ROLES for arg in (f"--{role}", own[role])), *self.extra.get(name, []), *more,
            data_dir=self.pipelines[name].base / f"{name}{self.tag}")
        self.daemons[name] = daemon
        return daemon

    def start_both(self):
        for name in ("primary", "backup"):
            self.start(name)
        for name in ("primary", "backup"):
            self.daemons[name].wait_bound()

    def client_endpoints(self) -> dict:
        return {role: ",".join(self.endpoints[name][role] for name in ("primary", "backup")) for role in ROLES}

    def stop(self):
        for daemon in self.daemons.values():
            daemon.terminate()

    def log_bytes(self, name: str) -> bytes:
        """The broker's log, its segments joined in order: two brokers may cut it into segments at
        different places, but the records are the same bytes."""
        return log_bytes(self.daemons[name].data_dir)

    def logs(self) -> str:
        return "\n".join(f"--- {name} (exit {daemon.process.poll()}) ---\n{daemon.log()[-3000:]}" for name, daemon in self.daemons.items())
