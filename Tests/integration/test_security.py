"""CURVE with an allow list: who gets in, who does not, and what each side says about it."""

import json

import pytest

zmq = pytest.importorskip("zmq")
import zmq.auth  # noqa: E402

from harness import probe_until_received, replay_request, wait_for, wire_header  # noqa: E402


@pytest.fixture
def keys(pipeline, tmp_path):
    folder = tmp_path / "keys"
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    for name in ("server", "producer", "consumer", "intruder"):
        result = pipeline.run("keys", "generate", "--name", name, "--output-dir", str(folder))
        assert result.returncode == 0, result.stderr
    for name in ("producer", "consumer"):
        (allowed / f"{name}.key").write_text((folder / f"{name}.key").read_text())
    return folder, allowed


def server_flags(keys):
    folder, allowed = keys
    return ["--set", "security.enabled=true", "--set", f"security.serverSecretKey={folder / 'server.key_secret'}",
            "--set", f"security.authorizedKeys={allowed}"]


def client_flags(keys, name):
    folder, _ = keys
    return ["--set", "security.enabled=true", "--set", f"security.serverPublicKey={folder / 'server.key'}",
            "--set", f"security.clientSecretKey={folder / f'{name}.key_secret'}"]


def curve_socket(context, kind, keys, name):
    folder, _ = keys
    socket = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    if name is not None:
        public, secret = zmq.auth.load_certificate(str(folder / f"{name}.key_secret"))
        server_public, _ = zmq.auth.load_certificate(str(folder / "server.key"))
        socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = public, secret, server_public
    return socket


def replay_all(socket) -> list:
    socket.send_multipart(replay_request(after=0, count=1000))
    if not socket.poll(3000):
        return None
    reply = socket.recv_multipart()
    assert reply[0] == b"BATCH"
    return [json.loads(reply[i + 2]) for i in range(4, len(reply), 3)]


def secure_pipeline(pipeline, keys):
    """A broker and an aggregator that let in only the allowed keys."""
    broker, endpoints = pipeline.broker(None, *server_flags(keys))
    _, query = pipeline.aggregator(endpoints, None, *server_flags(keys), *client_flags(keys, "consumer"))
    return broker, endpoints, query


def secure_pipeline_with_dataset(pipeline, keys):
    """secure_pipeline, with the bundled dataset published by the allowed producer and counted."""
    broker, endpoints, query = secure_pipeline(pipeline, keys)
    pipeline.produce(endpoints, *client_flags(keys, "producer"))
    wait_for(lambda: secure_report(pipeline, keys, query)["totalEvents"] == 36, 30, "36 events aggregated")
    return broker, endpoints, query


def secure_report(pipeline, keys, query):
    result = pipeline.run("report", "--format", "json", "--query", query, *client_flags(keys, "consumer"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_allowed_clients_publish_aggregate_and_a_pyzmq_client_with_an_allowed_key_receives(pipeline, keys):
    _, endpoints, _ = secure_pipeline_with_dataset(pipeline, keys)
    context = zmq.Context()
    try:
        dealer = curve_socket(context, zmq.DEALER, keys, "consumer")
        dealer.connect(endpoints["replay"])
        events = replay_all(dealer)
        assert events is not None and len(events) == 36
        subscriber = curve_socket(context, zmq.SUB, keys, "consumer")
        subscriber.setsockopt(zmq.SUBSCRIBE, b"")
        subscriber.connect(endpoints["backend"])
        publisher = curve_socket(context, zmq.XPUB, keys, "producer")
        publisher.connect(endpoints["frontend"])
        assert publisher.poll(10_000) and publisher.recv()[0] == 1, "the broker let the allowed publisher in"
        probe_until_received(publisher, subscriber)
        for socket in (dealer, subscriber, publisher):
            socket.close()
    finally:
        context.destroy(linger=0)


def test_unknown_keys_and_plain_clients_receive_nothing_and_inject_nothing(pipeline, keys):
    broker, endpoints, query = secure_pipeline_with_dataset(pipeline, keys)
    context = zmq.Context()
    try:
        for name in ("intruder", None):
            dealer = curve_socket(context, zmq.DEALER, keys, name)
            dealer.connect(endpoints["replay"])
            assert replay_all(dealer) is None, f"{name or 'a plain client'} got a replay"
            subscriber = curve_socket(context, zmq.SUB, keys, name)
            subscriber.setsockopt(zmq.SUBSCRIBE, b"")
            subscriber.connect(endpoints["backend"])
            publisher = curve_socket(context, zmq.PUB, keys, name)
            publisher.connect(endpoints["frontend"])
            forged = {"kind": "visit", "date": "1999", "from": "KP", "to": "MN", "guest": f"Forged {name}", "place": "Ulaanbaatar"}
            for number in range(1, 51):
                publisher.send_multipart([b"visit.KP.MN", wire_header(b"forger", number), json.dumps(forged).encode()])
            # A later event from an allowed producer arrives; the forged ones never do.
            marker = pipeline.base / f"marker-{name}.jsonl"
            year = "2020" if name == "intruder" else "2021"
            marker.write_text(json.dumps({"kind": "aid", "date": year, "from": "MN", "to": "KP", "description": f"marker {name}"}) + "\n")
            pipeline.produce(endpoints, str(marker), *client_flags(keys, "producer"))
            target = 37 if name == "intruder" else 38
            wait_for(lambda: secure_report(pipeline, keys, query)["totalEvents"] == target, 30, "the marker event")
            assert subscriber.poll(300) == 0, f"{name or 'a plain client'} received events"
            for socket in (dealer, subscriber, publisher):
                socket.close()
        report = secure_report(pipeline, keys, query)
        assert report["totalEvents"] == 38 and report["totalVisits"] == 16, "no forged visit was counted"
        assert "Rejected a client whose key is not on the allow list" in broker.log()
        intruder_key = zmq.auth.load_certificate(str(keys[0] / "intruder.key"))[0].decode()
        assert intruder_key in broker.log(), "the broker logs the rejected key"
    finally:
        context.destroy(linger=0)


def test_a_rejected_producer_says_authentication_failed(pipeline, keys):
    _, endpoints, _ = secure_pipeline(pipeline, keys)
    result = pipeline.produce(endpoints, *client_flags(keys, "intruder"), check=False)
    assert result.returncode != 0
    assert "authentication failed" in result.stderr and endpoints["frontend"] in result.stderr


def test_a_rejected_report_client_says_authentication_failed(pipeline, keys):
    _, _, query = secure_pipeline(pipeline, keys)
    result = pipeline.run("report", "--query", query, *client_flags(keys, "intruder"))
    assert result.returncode != 0
    assert "authentication failed" in result.stderr


def test_a_daemon_configured_for_security_without_its_key_refuses_to_start(pipeline, keys, tmp_path):
    folder, allowed = keys
    missing = tmp_path / "nowhere.key_secret"
    result = pipeline.run("broker", "--data-dir", str(tmp_path / "b"), "--set", "security.enabled=true",
                          "--set", f"security.serverSecretKey={missing}", "--set", f"security.authorizedKeys={allowed}")
    assert result.returncode == 78
    assert f"the key file {missing} does not exist" in result.stderr
    public_only = pipeline.run("broker", "--data-dir", str(tmp_path / "b"), "--set", "security.enabled=true",
                               "--set", f"security.serverSecretKey={folder / 'server.key'}", "--set", f"security.authorizedKeys={allowed}")
    assert public_only.returncode == 78
    assert "holds no secret-key" in public_only.stderr
    no_setting = pipeline.run("monitor", "--set", "security.enabled=true")
    assert no_setting.returncode == 78
    assert "'security.clientSecretKey' names no key file" in no_setting.stderr
