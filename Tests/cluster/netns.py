"""Real test hosts on one machine: Linux network namespaces joined by veth links to a bridge.

    with Cluster(["a", "c", "d"]) as cluster:
        broker = cluster["a"].popen(["timeline", "broker", "--frontend", f"tcp://{cluster['a'].address}:5601", ...])
        cluster.link_down(cluster["d"])     # host d is cut off
        cluster.link_up(cluster["d"])
        cluster.isolate(cluster["a"], cluster["b"])  # a and b cannot reach each other; both reach the rest
        cluster.rejoin(cluster["a"], cluster["b"])

Layout of one cluster (names unique per run: `tl-` and six random hex digits):

    tl-XXXXXX-net   the switch: bridge br0, and one port p-HOST per host (veth)
    tl-XXXXXX-HOST  one per host: lo up, eth0 (the other end of its veth) with 10.X.Y.(10+i)/24

The /24 is chosen at random per run (10.200.0.0 to 10.249.255.0); every address lives on a link
created here, and nothing is created in the namespace the tests run in, so nothing a run does can
collide with the machine's own network or with another run. Traffic goes only between these
addresses (and each host's loopback): there is no route anywhere else.

Cleanup (`close`) kills every process in the cluster's namespaces (`ip netns pids`), deletes the
links and the namespaces, and checks that they are gone. It runs on leaving the `with` block, from
the pytest fixture's finalizer, and from an `atexit` hook for clusters still open when Python exits;
it is idempotent and runs with SIGINT and SIGTERM held back, so an interrupt cannot cut it short.

Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2. Runs without pytest and without pyzmq
(`zmq_context` imports pyzmq when it is called). `python3 netns.py` builds a cluster, prints it
and removes it again, as a check of the machine."""

import atexit
import ctypes
import json
import os
import random
import secrets
import signal
import subprocess
import threading
import time

PREFIX = "tl-"
BRIDGE = "br0"
HOST_INTERFACE = "eth0"
CLONE_NEWNET = 0x40000000

_open_clusters: "list[Cluster]" = []


def ip(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    """`ip ARGS...`; raises with ip's own message when it fails and `check` is set."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


class NetnsError(RuntimeError):
    pass


def namespaces() -> list[str]:
    """The names `ip netns list` shows."""
    result = ip("netns", "list", check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def namespace_pids(name: str) -> list[int]:
    result = ip("netns", "pids", name, check=False)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit()]


def unavailable_reason() -> str | None:
    """Why this machine cannot build a cluster (not root, no iproute2, no netns or veth support),
    or None when it can. Creates and removes one probe namespace with a veth pair in it."""
    if os.geteuid() != 0:
        return "the cluster suite needs root to create network namespaces (ip netns add): skipped"
    try:
        subprocess.run(["ip", "-V"], capture_output=True, timeout=10)
    except FileNotFoundError:
        return "the cluster suite needs iproute2 (the ip command) to create network namespaces: skipped"
    probe = f"{PREFIX}probe-{secrets.token_hex(3)}"
    try:
        ip("netns", "add", probe)
        ip("-n", probe, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
        ip("-n", probe, "link", "add", "probebr", "type", "bridge")
    except NetnsError as error:
        return f"the cluster suite cannot create network namespaces, veth links and bridges here ({error}): skipped"
    finally:
        ip("netns", "del", probe, check=False)
    return None


class Host:
    """One test host: a network namespace with one address on the cluster's /24."""

    def __init__(self, cluster: "Cluster", name: str, address: str):
        self.cluster = cluster
        self.name = name                      # the short name: "a", "c", ...
        self.namespace = f"{cluster.prefix}-{name}"
        self.address = address
        self.interface = HOST_INTERFACE       # inside the namespace
        self.port = f"p-{name}"               # the bridge's end, in the switch namespace

    def __repr__(self):
        return f"Host({self.name}, {self.namespace}, {self.address})"

    def command(self, args: list[str]) -> list[str]:
        """`args` run inside this host (`ip netns exec`, which execs the command: the process's pid
        is the command's own)."""
        return ["ip", "netns", "exec", self.namespace, *[str(arg) for arg in args]]

    def run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        """subprocess.run inside this host (text output captured unless told otherwise)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(args), **kwargs)

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        """subprocess.Popen inside this host; the cluster kills it at cleanup if it still runs."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        process = subprocess.Popen(self.command(args), **kwargs)
        self.cluster.processes.append(process)
        return process

    def zmq_context(self):
        """A pyzmq context whose sockets connect from inside this host, for the test's own requests
        (status, statistics) while the test process itself stays where it is. Connect only: `bind`
        makes its listening socket on the calling thread, which is not inside.

        libzmq starts a context's I/O threads when its first socket is made, and every outgoing
        connection is made on an I/O thread; a thread inherits the network namespace of the thread
        that creates it. So a helper thread enters the namespace (setns(2) changes only the calling
        thread), makes the context and a first socket, and ends. The cluster destroys the context
        at cleanup (its threads keep the namespace alive)."""
        import zmq

        libc = ctypes.CDLL(None, use_errno=True)
        made: dict = {}

        def inside():
            try:
                descriptor = os.open(f"/run/netns/{self.namespace}", os.O_RDONLY)
                try:
                    if libc.setns(descriptor, CLONE_NEWNET) != 0:
                        error = ctypes.get_errno()
                        raise OSError(error, f"setns into {self.namespace}: {os.strerror(error)}")
                finally:
                    os.close(descriptor)
                context = zmq.Context(io_threads=1)
                context.socket(zmq.PAIR).close(linger=0)  # starts the I/O threads here
                made["context"] = context
            except BaseException as error:  # handed to the caller's thread
                made["error"] = error

        thread = threading.Thread(target=inside, name=f"netns-{self.namespace}")
        thread.start()
        thread.join()
        if "error" in made:
            raise made["error"]
        self.cluster.contexts.append(made["context"])
        return made["context"]


class Cluster:
    """Hosts joined by a bridge. Use as a context manager, or call `create()` and `close()`
    (close is idempotent and also runs at interpreter exit)."""

    def __init__(self, hosts: list[str], run_id: str | None = None):
        self.run_id = run_id or secrets.token_hex(3)
        self.prefix = f"{PREFIX}{self.run_id}"
        self.switch = f"{self.prefix}-net"
        octets = (random.randint(200, 249), random.randint(0, 255))
        self.subnet = f"10.{octets[0]}.{octets[1]}.0/24"
        self.hosts = {name: Host(self, name, f"10.{octets[0]}.{octets[1]}.{10 + index}") for index, name in enumerate(hosts)}
        self.processes: list[subprocess.Popen] = []
        self.contexts: list = []
        self.created: list[str] = []           # namespaces made so far, in order
        self.closed = False
        self.down: set[str] = set()

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def __enter__(self) -> "Cluster":
        self.create()
        return self

    def __exit__(self, *_):
        self.close()

    def __repr__(self):
        return f"Cluster({self.prefix}, {self.subnet}, {list(self.hosts.values())})"

    def _add_namespace(self, name: str):
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def create(self) -> "Cluster":
        """Builds the switch and the hosts, and returns once every host's link is up."""
        if self not in _open_clusters:
            _open_clusters.append(self)
        self._add_namespace(self.switch)
        ip("-n", self.switch, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0")
        ip("-n", self.switch, "link", "set", BRIDGE, "up")
        for host in self.hosts.values():
            self._add_namespace(host.namespace)
            ip("-n", self.switch, "link", "add", host.port, "type", "veth", "peer", "name", host.interface, "netns", host.namespace)
            ip("-n", self.switch, "link", "set", host.port, "master", BRIDGE)
            ip("-n", self.switch, "link", "set", host.port, "up")
            ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", host.interface)
            ip("-n", host.namespace, "link", "set", host.interface, "up")
        for host in self.hosts.values():
            self._wait_state(host, "UP")
        return self

    def _link_state(self, host: Host) -> str:
        result = ip("-n", host.namespace, "-j", "link", "show", "dev", host.interface)
        return json.loads(result.stdout)[0].get("operstate", "")

    def _wait_state(self, host: Host, state: str, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while self._link_state(host) != state:
            if time.monotonic() >= deadline:
                raise NetnsError(f"{host.namespace}: {host.interface} not {state} after {timeout} s")
            time.sleep(0.02)

    def link_down(self, host: Host):
        """Cuts `host` off: its interface is set down (as `ip link set eth0 down` on that host).
        Its processes keep running, their connections stay open, and nothing reaches or leaves it."""
        ip("-n", host.namespace, "link", "set", host.interface, "down")
        self.down.add(host.name)

    def link_up(self, host: Host):
        """Puts `host` back on the network; returns once its interface is up again."""
        ip("-n", host.namespace, "link", "set", host.interface, "up")
        self.down.discard(host.name)
        self._wait_state(host, "UP")

    def isolate(self, *hosts: Host):
        """Cuts the given hosts off from each other only: their bridge ports become isolated ports
        (`bridge link set ... isolated on`), which forward to every other port but not to one
        another. Each still reaches every other host."""
        for host in hosts:
            subprocess.run(["bridge", "-n", self.switch, "link", "set", "dev", host.port, "isolated", "on"], check=True,
                           capture_output=True, timeout=20)

    def rejoin(self, *hosts: Host):
        """Undoes `isolate`."""
        for host in hosts:
            subprocess.run(["bridge", "-n", self.switch, "link", "set", "dev", host.port, "isolated", "off"], check=True,
                           capture_output=True, timeout=20)

    def close(self):
        """Kills every process in the cluster's namespaces, deletes the links and namespaces, and
        checks they are gone. Safe to call more than once; SIGINT and SIGTERM wait until it is done."""
        if self.closed:
            return
        held = threading.current_thread() is threading.main_thread()
        if held:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._close()
        finally:
            if held:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def _close(self):
        problems = []
        for context in self.contexts:
            try:
                context.destroy(linger=0)
            except Exception as error:  # noqa: BLE001 - keep cleaning up
                problems.append(f"zmq context: {error}")
        self.contexts.clear()
        self._kill_everything(problems)
        existing = set(namespaces())
        if self.switch in existing:
            for host in self.hosts.values():
                ip("-n", self.switch, "link", "del", host.port, check=False)  # both ends of the veth
            ip("-n", self.switch, "link", "del", BRIDGE, check=False)
        for name in reversed(self.created):
            if name in existing:
                result = ip("netns", "del", name, check=False)
                if result.returncode != 0:
                    problems.append(result.stderr.strip())
        left = [name for name in namespaces() if name.startswith(self.prefix)]
        self.closed = True
        if self in _open_clusters:
            _open_clusters.remove(self)
        if left or problems:
            raise NetnsError(f"cleanup of {self.prefix} incomplete: namespaces left {left}; {problems}")

    def _kill_everything(self, problems: list, timeout: float = 10):
        """SIGKILL to every process started here and every process in the namespaces, until none is
        left (never this test process itself)."""
        own = os.getpid()
        deadline = time.monotonic() + timeout
        while True:
            pids = {p.pid for p in self.processes if p.poll() is None}
            for name in self.created:
                pids.update(namespace_pids(name))
            pids.discard(own)
            if not pids:
                break
            if time.monotonic() >= deadline:
                problems.append(f"processes still running in the namespaces: {sorted(pids)}")
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for process in self.processes:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            time.sleep(0.02)
        self.processes.clear()


@atexit.register
def _close_open_clusters():
    for cluster in list(_open_clusters):
        try:
            cluster.close()
        except Exception as error:  # noqa: BLE001 - report and go on with the others
            print(f"netns: {error}")


if __name__ == "__main__":
    reason = unavailable_reason()
    if reason:
        raise SystemExit(reason)
    with Cluster(["a", "b"]) as demo:
        print(demo)
        for name in namespaces():
            if name.startswith(demo.prefix):
                print(" ", name, ip("-n", name, "-br", "addr").stdout.strip().replace("\n", "; "))
    print("removed; left:", [name for name in namespaces() if name.startswith(demo.prefix)])
