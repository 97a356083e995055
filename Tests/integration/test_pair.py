"""The broker pair on one machine: a primary and a backup (`--ha`), each on its own ipc endpoints
(a restarted broker binds the same ones again, and no port is fixed), with real producers and
consumers as processes. Across hosts, with links cut, see Tests/cluster/test_pair.py."""

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from harness import BrokerPair, Pipeline, Requester, broker_stats, control_request, expected_statistics, log_bytes, wait_for

pytest.importorskip("zmq")


@pytest.fixture
def sockets():
    """A short folder for ipc endpoints (a socket path must stay under 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="tl-pair-")
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def pair_endpoints(folder: Path) -> dict:
    return {name: {role: f"ipc://{folder}/{name[0]}-{role}" for role in ("frontend", "backend", "replay", "peer")}
            for name in ("primary", "backup")}


@pytest.fixture
def pair(pipeline, sockets):
    return BrokerPair({"primary": pipeline, "backup": pipeline}, pair_endpoints(sockets))


def stats(pair: BrokerPair, name: str) -> dict:
    return broker_stats(pair.endpoints[name]["replay"], timeout=5)


def state_of(pair: BrokerPair, name: str) -> str:
    return stats(pair, name)["pair"]["state"]


def wait_state(pair: BrokerPair, name: str, state: str, timeout: float = 20):
    try:
        wait_for(lambda: state_of(pair, name) == state, timeout, f"the {name} broker to be {state}", interval=0.05)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{pair.logs()}") from None


def wait_copied(pair: BrokerPair, source: str, target: str, timeout: float = 60):
    """Until `target`'s log ends where `source`'s does."""
    want = stats(pair, source)["lastSequence"]
    wait_for(lambda: stats(pair, target)["lastSequence"] == want, timeout, f"the {target} broker to copy through {want}", interval=0.05)


def single_endpoints(pair: BrokerPair, name: str) -> dict:
    return {role: pair.endpoints[name][role] for role in ("frontend", "backend", "replay")}


VOTE = 1 << 63


def vote_request(command: bytes, number: int = 1) -> list[bytes]:
    """A request as a client sends it after the other broker did not answer: its id carries the
    vote (the top bit), with which a passive broker whose peer is silent takes over."""
    return [command, (VOTE | number).to_bytes(8, "big")]


def epochs(pair: BrokerPair, name: str) -> list:
    return json.loads((pair.daemons[name].data_dir / "pair-epochs.json").read_text())["epochs"]


def test_the_backup_copies_every_record_byte_for_byte(pipeline, pair):
    pair.start_both()
    wait_state(pair, "primary", "active")
    wait_state(pair, "backup", "passive")
    pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "20000", "--seed", "3")
    # The producer finished: with synchronous replication that means both brokers wrote everything.
    assert stats(pair, "backup")["lastSequence"] == 20000, pair.logs()
    assert pair.log_bytes("primary") == pair.log_bytes("backup")
    primary = stats(pair, "primary")["pair"]
    assert primary["replication"] == "sync" and primary["replicating"], primary
    assert stats(pair, "backup")["pair"]["recordsCopied"] == 20000
    assert epochs(pair, "primary") == epochs(pair, "backup") == [{"epoch": 1, "firstSequence": 1}]


def test_the_passive_broker_answers_clients_passive_while_it_hears_the_active_one(pair):
    pair.start_both()
    wait_state(pair, "backup", "passive")
    reply = control_request(pair.endpoints["backup"]["replay"], [b"HEAD"])
    assert reply[0] == b"PASSIVE", reply
    assert state_of(pair, "primary") == "active"


def test_without_the_vote_a_passive_broker_whose_peer_died_stays_passive(pipeline, pair):
    pair.start_both()
    wait_state(pair, "backup", "passive")
    pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "200", "--seed", "13")
    pair.daemons["primary"].kill()
    # Asked without the vote (a client that lists it first, not one that found the other silent),
    # well past the peer timeout, it still answers PASSIVE.
    wait_for(lambda: not stats(pair, "backup")["pair"]["peerHeard"], 20, "the backup to notice its peer's silence", interval=0.05)
    for _ in range(5):
        assert control_request(pair.endpoints["backup"]["replay"], [b"HEAD", (7).to_bytes(8, "big")])[0] == b"PASSIVE"
    assert state_of(pair, "backup") == "passive"
    assert control_request(pair.endpoints["backup"]["replay"], vote_request(b"HEAD"))[0] == b"HEAD"


def test_the_backup_takes_over_when_a_client_asks_after_the_primary_died(pipeline, pair):
    pair.start_both()
    wait_state(pair, "backup", "passive")
    pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "5000", "--seed", "4")
    pair.daemons["primary"].kill()
    requester = Requester(pair.endpoints["backup"]["replay"])
    try:
        # A client's request is the vote: PASSIVE until the peer has been silent for the timeout.
        def head():
            reply = requester.request(vote_request(b"HEAD"), timeout=5)
            return reply if reply[0] == b"HEAD" else None
        reply = wait_for(head, 20, "the backup to answer HEAD as the active broker", interval=0.05)
    finally:
        requester.close()
    assert int.from_bytes(reply[2], "big") == 5000
    assert state_of(pair, "backup") == "active"
    assert [entry["epoch"] for entry in epochs(pair, "backup")] == [1, 2]
    assert epochs(pair, "backup")[1]["firstSequence"] == 5001

    # New events on the backup; then the primary comes back, rejoins as passive and copies them.
    pipeline.produce(single_endpoints(pair, "backup"), "--synthetic", "3000", "--seed", "5")
    pair.start("primary")
    wait_state(pair, "primary", "passive")
    wait_copied(pair, "backup", "primary")
    assert pair.log_bytes("primary") == pair.log_bytes("backup")
    assert epochs(pair, "primary") == epochs(pair, "backup")
    assert not list(pair.daemons["primary"].data_dir.glob("cut-*.log")), "nothing was cut: the primary had nothing the backup lacked"


def test_a_broker_whose_log_cannot_be_reconciled_refuses_to_start(pipeline, pair, tmp_path):
    # Two unrelated logs: each broker ran alone first, with different events.
    for name, seed in (("primary", "6"), ("backup", "7")):
        single, endpoints = pipeline.broker(tmp_path / name)
        pipeline.produce(endpoints, "--synthetic", "500", "--seed", seed)
        assert single.terminate() == 0
    pair.start("primary")
    backup = pair.start("backup")
    try:
        code = backup.process.wait(timeout=30)
    except Exception:
        raise AssertionError(f"the backup did not refuse to start\n{pair.logs()}") from None
    assert code != 0
    log = backup.log()
    assert "cannot be reconciled" in log and "sequence 500" in log and "epoch" in log, log[-2000:]
    # Its log is left as it was, for a person to look at.
    assert log_bytes(tmp_path / "backup")


def test_two_brokers_configured_with_the_same_role_never_serve(pipeline, sockets):
    endpoints = pair_endpoints(sockets)
    twins = BrokerPair({"primary": pipeline, "backup": pipeline}, endpoints)
    first = twins.start("primary")
    # The second one is a primary too, on the backup's endpoints.
    own = endpoints["backup"]
    second = pipeline.start("twin", "broker", "--ha", "primary", "--peer", endpoints["primary"]["peer"], "--peer-listen", own["peer"],
                            *(arg for role in ("frontend", "backend", "replay") for arg in (f"--{role}", own[role])))
    for daemon in (first, second):
        daemon.wait_bound()
    wait_for(lambda: "this broker's own role" in first.log() and "this broker's own role" in second.log(), 20,
             "both brokers to log the conflict")
    # Each hears a live peer, so no client's request can make either of them active.
    for name in ("primary", "backup"):
        replay = endpoints[name]["replay"]
        for _ in range(3):
            assert control_request(replay, [b"HEAD"])[0] == b"PASSIVE"
        assert broker_stats(replay)["pair"]["state"] == "starting (primary)"


def test_with_curve_the_peer_endpoint_lets_in_only_the_other_broker(pipeline, sockets, tmp_path):
    folder, allowed = tmp_path / "keys", tmp_path / "allowed"
    allowed.mkdir()
    for name in ("server", "peer-primary", "peer-backup", "intruder"):
        assert pipeline.run("keys", "generate", "--name", name, "--output-dir", str(folder)).returncode == 0
    server = ["--set", "security.enabled=true", "--set", f"security.serverSecretKey={folder / 'server.key_secret'}",
              "--set", f"security.authorizedKeys={allowed}"]

    def peer_keys(own: str, other: str) -> list:
        return ["--set", f"security.peerSecretKey={folder / f'{own}.key_secret'}", "--set", f"security.peerPublicKey={folder / f'{other}.key'}"]

    endpoints = pair_endpoints(sockets)
    secure = BrokerPair({"primary": pipeline, "backup": pipeline}, endpoints,
                        {"primary": server + peer_keys("peer-primary", "peer-backup"), "backup": server + peer_keys("peer-backup", "peer-primary")})
    secure.start_both()
    # The pair forms over CURVE: the backup copies what the primary logs.
    wait_for(lambda: "now passive" in secure.daemons["backup"].log(), 20, "the backup to become passive")
    # A third broker that claims to be the backup, with a key of its own, is turned away and logged.
    third = pipeline.start("third", "broker", "--ha", "backup", "--peer", endpoints["primary"]["peer"],
                           "--peer-listen", f"ipc://{sockets}/third-peer",
                           *(arg for role in ("frontend", "backend", "replay") for arg in (f"--{role}", f"ipc://{sockets}/third-{role}")),
                           *server, *peer_keys("intruder", "peer-primary"))
    third.wait_bound()
    wait_for(lambda: "Rejected a broker on the peer endpoint" in secure.daemons["primary"].log(), 20, "the primary to reject the third broker")
    assert "now passive" not in third.log() and "now the active" not in third.log()


def test_status_shows_each_broker_of_the_pair(pipeline, pair):
    pair.start_both()
    wait_state(pair, "backup", "passive")
    pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "300", "--seed", "8")
    replays = pair.client_endpoints()["replay"]
    # No aggregator runs here, and none was heard of: the pipeline is healthy without one.
    result = pipeline.run("status", "--replay", replays, "--sample", "0", "--timeout", "0.5")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "primary active" in lines[0] and "records wait for the peer" in lines[0] and "log 300" in lines[0]
    assert "backup passive" in lines[1] and "in step" in lines[1] and "log 300" in lines[1]
    assert lines[-1] == "ok"
    as_json = json.loads(pipeline.run("status", "--json", "--replay", replays, "--sample", "0", "--timeout", "0.5").stdout)
    assert [broker["statistics"]["pair"]["state"] for broker in as_json["brokers"]] == ["active", "passive"]
    assert as_json["healthy"] is True
    # Without the active broker: the passive one still answers STATS (asking is no vote), and
    # no broker is active, which the exit status and the problems say.
    pair.daemons["primary"].kill()
    result = pipeline.run("status", "--replay", replays, "--timeout", "0.5", "--sample", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "no answer" in lines[0] and "backup passive" in lines[1]
    assert "problem: no broker of the pair is active" in lines
    assert state_of(pair, "backup") == "passive"


def test_a_rejoining_broker_keeps_aside_the_records_the_other_never_had(pipeline, sockets):
    # Asynchronous replication, and the backup frozen while the primary logs more: the primary
    # then dies, the backup takes over without those records, and when the primary comes back
    # they are cut from its log and kept aside, whole.
    endpoints = pair_endpoints(sockets)
    extra = {name: ["--set", "broker.replication=async"] for name in ("primary", "backup")}
    pair = BrokerPair({"primary": pipeline, "backup": pipeline}, endpoints, extra)
    pair.start_both()
    wait_state(pair, "backup", "passive")
    pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "2000", "--seed", "9")
    wait_copied(pair, "primary", "backup")
    backup = pair.daemons["backup"]
    backup.process.send_signal(signal.SIGSTOP)
    try:
        # The backup may have a FETCH waiting at the primary: the first write answers it, so that
        # write is a small one, and what follows cannot reach the frozen backup.
        pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "10", "--seed", "10")
        pipeline.produce(single_endpoints(pair, "primary"), "--synthetic", "1490", "--seed", "12")
        assert stats(pair, "primary")["lastSequence"] == 3500
        pair.daemons["primary"].kill()
    finally:
        backup.process.send_signal(signal.SIGCONT)
    wait_for(lambda: control_request(endpoints["backup"]["replay"], vote_request(b"HEAD"))[0] == b"HEAD", 20, "the backup to take over",
             interval=0.05)
    # What the backup had copied before it froze (a chunk already on its way may have arrived after).
    copied = stats(pair, "backup")["lastSequence"]
    assert 2000 <= copied <= 2010
    pipeline.produce(single_endpoints(pair, "backup"), "--synthetic", "100", "--seed", "11")

    primary = pair.start("primary")
    wait_state(pair, "primary", "passive")
    wait_copied(pair, "backup", "primary")
    assert pair.log_bytes("primary") == pair.log_bytes("backup")
    aside = list(primary.data_dir.glob("cut-*.log"))
    assert [path.name for path in aside] == [f"cut-epoch1-{copied + 1}-3500.log"], aside
    # The cut records are whole records of the log's framing, with the sequences the backup lacked.
    data = aside[0].read_bytes()
    sequences, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        payload = data[offset + 8:offset + 8 + length]
        topic_length = int.from_bytes(payload[0:2], "big")
        header = payload[4 + topic_length:]
        sequences.append(int.from_bytes(header[2:10], "big"))
        offset += 8 + length
    assert sequences == list(range(copied + 1, 3501))
    assert "kept them aside" in primary.log()
    assert stats(pair, "primary")["pair"]["recordsCut"] == 3500 - copied
