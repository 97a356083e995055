"""The systems a user would pick instead of the pipeline, measured in the same run as it: Redis
Streams and NATS JetStream, from Debian's packages, with the same events and the same durability
(written before it is acknowledged, fsynced about once a second), producer -> log -> consumer
counting every event. See Benchmarks/README.md, "The peers".

Each run starts a fresh server on a free loopback port in a folder of its own, runs the client
(Benchmarks/redis/stream_bench.c or Benchmarks/nats/jetstream_bench.go, a producer and a consumer
process), and stops the server in a `finally`. Servers get PR_SET_PDEATHSIG, so they end with the
benchmark even when it is killed. Used by Benchmarks/pipeline_bench.py; needs nothing but the
standard library."""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
INSTALL_HINT = "Scripts/install-deps --bench installs it"

# name -> what the table and the messages call it, the server program, and the target
# (the pipeline's events/s over the peer's).
PEERS = {
    "redis_streams": {"label": "Redis Streams", "server": "redis-server", "package": "redis-server", "target": 2.0},
    "nats_jetstream": {"label": "NATS JetStream", "server": "nats-server", "package": "nats-server", "target": 1.0},
}


class PeerError(Exception):
    """A peer's run failed: its server did not start, or its client lost, repeated or reordered an
    event, or timed out."""


def missing(name, client):
    """What keeps the peer from running here, as sentences (empty when nothing does)."""
    peer = PEERS[name]
    reasons = []
    if shutil.which(peer["server"]) is None:
        reasons.append(f"{peer['server']} is not installed (apt package {peer['package']}; {INSTALL_HINT})")
    if not os.access(client, os.X_OK):
        needs = "libhiredis-dev" if name == "redis_streams" else "golang-go and golang-github-nats-io-go-nats-dev"
        reasons.append(f"its client {client} is not built (it needs {needs}: Scripts/install-deps --bench, "
                       f"then Scripts/bench without --no-build builds it)")
    return reasons


def server_version(name):
    """The server's version, as it reports it (e.g. '7.0.15', '2.9.10')."""
    program = PEERS[name]["server"]
    text = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"v=(\S+)", text) if name == "redis_streams" else re.search(r"v(\d\S*)", text)
    return match.group(1) if match else text.strip()


def free_port():
    """A loopback TCP port nothing listens on now. redis-server cannot bind port 0 and read it back,
    so a start that loses the race for the port is retried with another (see start_redis)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # prctl(PR_SET_PDEATHSIG, SIGTERM): the server ends when the benchmark process does.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def cpu_seconds(pid):
    """User + system CPU seconds of a live process (all its threads); None once it is gone."""
    try:
        text = open(f"/proc/{pid}/stat").read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def folder_bytes(folder):
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


def stop(process, timeout=20):
    """SIGTERM, then SIGKILL after `timeout` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(condition, process, timeout, what, log_path):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            return None
        if time.monotonic() >= deadline:
            raise PeerError(f"timed out after {timeout} s waiting for {what}; its log: {log_path}")
        time.sleep(0.01)


def run_client(command, timeout):
    """Runs a peer's client; returns its JSON line and the CPU seconds of its processes (the
    producer and the consumer it started and waited for). Raises PeerError unless it exits 0."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PeerError(f"{Path(command[0]).name} did not finish within {timeout} s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or not stdout.strip():
        raise PeerError(f"{Path(command[0]).name} failed ({process.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    return json.loads(stdout.decode().strip().splitlines()[-1])


def _client_cpu(run):
    """Runs `run()` and returns its result with the CPU seconds its child processes used."""
    before = os.times()
    result = run()
    after = os.times()
    return result, (after.children_user - before.children_user) + (after.children_system - before.children_system)


# --------------------------------------------------------------------------------------------
# Redis Streams

REDIS_SETTINGS = {"appendonly": "yes", "appendfsync": "everysec", "save": '""'}


def _redis_command(port, *args, timeout=2.0):
    """One command over a fresh connection; returns the reply's first line and body (RESP2)."""
    request = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        first, _, rest = data.partition(b"\r\n")
        if first.startswith(b"$") and int(first[1:]) >= 0:
            size = int(first[1:])
            while len(rest) < size + 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return first, rest[:size]
        return first, b""


def _redis_ready(port, pid):
    """Whether the redis-server with process id `pid` answers on `port` (not another one that won the port)."""
    try:
        if _redis_command(port, "PING")[0] != b"+PONG":
            return False
        return f"process_id:{pid}\r\n" in _redis_command(port, "INFO", "server")[1].decode(errors="replace")
    except OSError:
        return False


class _Server:
    """A server process started by `_start(folder)`; stopped by stop(), or at once when it cannot
    be made ready (then the error goes on)."""

    def __init__(self, folder):
        self.process = None
        try:
            self._start(folder)
        except BaseException:
            self.stop()
            raise

    def _start(self, folder):
        raise NotImplementedError

    def stop(self):
        if self.process is not None:
            stop(self.process)


class RedisServer(_Server):
    """redis-server on a free loopback port, its files in `folder`."""

    def _start(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = None
        self.port = None
        self.log_path = self.folder / "redis.log"
        for _attempt in range(5):
            port = free_port()
            config = self.folder / "redis.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\nlogfile {self.log_path}\ndaemonize no\n"
                + "".join(f"{key} {value}\n" for key, value in REDIS_SETTINGS.items()))
            self.process = subprocess.Popen(["redis-server", str(config)], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=open(self.folder / "redis.stderr", "wb"),
                                            preexec_fn=_die_with_parent)
            if _wait(lambda: _redis_ready(port, self.process.pid), self.process, 30, "redis-server to answer PING", self.log_path):
                self.port = port
                break
            # It exited: another process took the port first, or something worse (then say so).
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            self.process.wait()
            if "Address already in use" not in log:
                raise PeerError(f"redis-server exited with {self.process.returncode}: {log[-1500:]}")
        if self.port is None:
            raise PeerError("redis-server found no free port in 5 attempts")
        info = _redis_command(self.port, "INFO", "persistence")[1].decode()
        if "aof_enabled:1" not in info:
            raise PeerError("redis-server started without its append-only file")


def run_redis(client, events_file, folder, batch):
    """One run of the Redis Streams peer in a fresh server; returns its figures."""
    server = RedisServer(folder)
    try:
        cpu_before = cpu_seconds(server.process.pid)
        result, client_cpu = _client_cpu(lambda: run_client(
            [str(client), "--port", str(server.port), "--events-file", str(events_file), "--batch", str(batch)], timeout=900))
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        # With the default auto-aof-rewrite-min-size (64 MB) a rewrite (a fork) starts once the file
        # passes 64 MB, about 190,000 of these events: say whether one had started by the end.
        forks = re.search(r"total_forks:(\d+)", _redis_command(server.port, "INFO", "stats")[1].decode())
    finally:
        server.stop()
    return {**result, "server_cpu_seconds": round(server_cpu, 2), "clients_cpu_seconds": round(client_cpu, 2),
            "aof_rewrites_started": int(forks.group(1)) if forks else None,
            "log_bytes": folder_bytes(Path(folder) / "appendonlydir")}


# --------------------------------------------------------------------------------------------
# NATS JetStream


class PeriodicFsync(threading.Thread):
    """fsyncs every file under `folder` every `interval` seconds until stop(): what JetStream's
    `sync_interval: 1s` does in nats-server 2.10 and later. Debian's 2.9 has no such setting and
    syncs a stream's files every 2 minutes; it does write each message to its file before it
    acknowledges it, so an fsync of those files once a second gives the same durability as the
    broker's log and Redis's appendfsync everysec."""

    def __init__(self, folder, interval):
        super().__init__(name="jetstream-fsync", daemon=True)
        self.folder = Path(folder)
        self.interval = interval
        self.rounds = 0
        self.stopping = threading.Event()
        # The first fsync that failed (other than of a file the server removed meanwhile): a run
        # whose store was not synced as promised is not reported as if it had been.
        self.failure = None

    def sync_all(self):
        # Files, and the folders that hold them: a file created during the run is durable by name
        # only once its folder is synced too.
        for path in [*self.folder.rglob("*"), self.folder]:
            try:
                if path.is_file() or path.is_dir():
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            except FileNotFoundError:  # the server removed it meanwhile
                pass
            except OSError as error:
                self.failure = self.failure or f"fsync {path}: {error}"
        self.rounds += 1

    def run(self):
        while not self.stopping.wait(self.interval):
            self.sync_all()

    def stop(self):
        self.stopping.set()
        self.join()


class NatsServer(_Server):
    """nats-server with JetStream, on a port it picks and writes to its ports file, its store in
    `folder`."""

    def _start(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store = self.folder / "store"
        self.log_path = self.folder / "nats.log"
        config = self.folder / "nats.conf"
        config.write_text(f'listen: "127.0.0.1:-1"\nports_file_dir: "{self.folder}"\nlog_file: "{self.log_path}"\n'
                          f'jetstream {{\n  store_dir: "{self.store}"\n}}\n')
        self.process = subprocess.Popen(["nats-server", "-c", str(config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=open(self.folder / "nats.stderr", "wb"),
                                        preexec_fn=_die_with_parent)
        ports_file = self.folder / f"nats-server_{self.process.pid}.ports"

        def url():
            try:
                return json.loads(ports_file.read_text())["nats"][0]
            except (FileNotFoundError, ValueError, KeyError, IndexError):
                return None

        self.url = _wait(url, self.process, 30, "nats-server's ports file", self.log_path)
        if self.url is None:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise PeerError(f"nats-server exited with {self.process.returncode}: {log[-1500:]}")
        # The ports file is written once the client port listens; JetStream is ready before that.


def run_nats(client, events_file, folder, batch, fsync_interval):
    """One run of the NATS JetStream peer in a fresh server; returns its figures. With
    fsync_interval 0 the store is left to nats-server's own syncing."""
    server = NatsServer(folder)
    syncer = None
    try:
        if fsync_interval > 0:
            syncer = PeriodicFsync(server.store, fsync_interval)
            syncer.start()
        cpu_before = cpu_seconds(server.process.pid)
        result, client_cpu = _client_cpu(lambda: run_client(
            [str(client), "--url", server.url, "--events-file", str(events_file), "--batch", str(batch)], timeout=900))
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
    finally:
        if syncer is not None:
            syncer.stop()
        server.stop()
    if syncer is not None and syncer.failure:
        raise PeerError(f"the JetStream store could not be synced as the run promises: {syncer.failure}")
    if syncer is not None and result["seconds"] > 2 * fsync_interval and syncer.rounds == 0:
        raise PeerError(f"the JetStream store was never synced in a run of {result['seconds']:.1f} s")
    return {**result, "server_cpu_seconds": round(server_cpu, 2), "clients_cpu_seconds": round(client_cpu, 2),
            "fsync_rounds": syncer.rounds if syncer else 0, "log_bytes": folder_bytes(server.store)}


# --------------------------------------------------------------------------------------------
# one peer alone


def main():
    import argparse
    import sys
    import tempfile

    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description="Run one of the pipeline benchmark's peers alone, on a fresh server each run.")
    parser.add_argument("peer", choices=["redis", "nats"])
    parser.add_argument("--events-file", required=True, help="the events, one JSON body a line (timeline ingest --synthetic N --seed 1)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--client", help="the built client (default .build-bench/redis_stream_bench or .build-bench/jetstream_bench)")
    parser.add_argument("--nats-fsync-interval", type=float, default=1.0, help="0 leaves the store to the server's own sync")
    parser.add_argument("--keep", action="store_true", help="keep the servers' folders")
    args = parser.parse_args()
    name = "redis_streams" if args.peer == "redis" else "nats_jetstream"
    client = args.client or str(root / ".build-bench" / ("redis_stream_bench" if args.peer == "redis" else "jetstream_bench"))
    reasons = missing(name, client)
    if reasons:
        print(f"peers: {PEERS[name]['label']} cannot run: {'; '.join(reasons)}", file=sys.stderr)
        return 69
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    base = Path(tempfile.mkdtemp(prefix="timeline-peer."))
    try:
        print(f"peers: {PEERS[name]['server']} {server_version(name)}; folder {base}", file=sys.stderr)
        for r in range(1, args.runs + 1):
            folder = base / f"run-{r}"
            if name == "redis_streams":
                result = run_redis(client, args.events_file, folder, args.batch)
            else:
                result = run_nats(client, args.events_file, folder, args.batch, args.nats_fsync_interval)
            print(json.dumps(result), flush=True)
    except PeerError as error:
        print(f"peers: FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
