"""Verify the 3-broker KRaft cluster with SASL_SSL, from inside the brokers and as real clients.

Clients run on the controller (confluent-kafka from .venv, librdkafka >= 2.6.1: the SCRAM fix Kafka
4.x needs) against the brokers' podman addresses. The last test re-runs the role with a changed
broker setting under load and checks the rolling restart: one broker at a time, each back in sync
before the next goes down, and no acknowledged record lost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import testinfra
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

SCENARIO = Path(__file__).resolve().parents[1]
NAMES = ["kafka_cluster-broker1", "kafka_cluster-broker2", "kafka_cluster-broker3"]
testinfra_hosts = [f"podman://{name}" for name in NAMES]

_MOLECULE = yaml.safe_load((SCENARIO / "molecule.yml").read_text(encoding="utf-8"))
_INVENTORY = _MOLECULE["provisioner"]["inventory"]
VARS = _INVENTORY["group_vars"]["kafka_brokers"]
ADDRESSES = {name: _INVENTORY["host_vars"][name]["kafka_advertised_host"] for name in NAMES}
BOOTSTRAP = ",".join(f"{a}:9092" for a in ADDRESSES.values())
PASSWORDS = {VARS["kafka_sasl_inter_broker_user"]: VARS["kafka_sasl_inter_broker_password"]} | {
    u["name"]: u["password"] for u in VARS["kafka_sasl_users"]
}
ADMIN = VARS["kafka_sasl_inter_broker_user"]
PKI = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "pki"
CA = str(PKI / "ca.crt")
LIBS = "/opt/kafka/current/libs/*"
QUORUM = "org.apache.kafka.tools.MetadataQuorumCommand"


def client_config(user, secret=None, **extra):
    config = {
        "bootstrap.servers": BOOTSTRAP,
        "security.protocol": "sasl_ssl",
        "ssl.ca.location": CA,
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": PASSWORDS[user] if secret is None else secret,
    }
    config.update(extra)
    return config


def admin():
    return AdminClient(client_config(ADMIN))


def refused(config, timeout=10):
    """Connect with ``config``; return the client errors seen (the metadata request must fail)."""
    errors = []
    client = AdminClient({**config, "error_cb": errors.append})
    with pytest.raises(KafkaException):
        client.list_topics(timeout=timeout)
    client.poll(1)  # serve the error callbacks
    return [str(e) for e in errors]


def consume(user, group, topic, wanted, timeout=60):
    """Read ``topic`` from the start as ``user`` until ``wanted`` values are in (or timeout)."""
    consumer = Consumer(
        client_config(user, **{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": True})
    )
    consumer.subscribe([topic])
    seen = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not wanted <= set(seen):
            msg = consumer.poll(1)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            seen.append(msg.value().decode())
    finally:
        consumer.close()
    return seen


def java(host, main, *args):
    cmd = " ".join(["java", "-Xmx128m", "-cp", f"'{LIBS}'", main, *args])
    return host.check_output(cmd)


# --- the brokers -----------------------------------------------------------------------------------


def test_broker_runs_with_kraft_and_sasl_ssl(host):
    name = host.backend.hostname
    assert host.service("kafka").is_running and host.service("kafka").is_enabled
    assert len(host.process.filter(comm="java", user="kafka")) == 1
    props = host.file("/etc/kafka/server.properties")
    assert props.mode == 0o640 and props.user == "root" and props.group == "kafka"
    pem = host.file("/etc/kafka/tls/broker.pem")
    assert pem.mode == 0o640 and pem.group == "kafka" and "PRIVATE KEY" in pem.content_string
    text = props.content_string
    assert "process.roles=broker,controller" in text
    assert "controller.quorum.voters=1@10.89.98.11:9093,2@10.89.98.12:9093,3@10.89.98.13:9093" in text
    assert "listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SSL" in text
    assert f"advertised.listeners=CLIENT://{ADDRESSES[name]}:9092" in text
    assert "zookeeper" not in text
    meta = host.file("/var/lib/kafka/data/meta.properties").content_string
    assert f"cluster.id={VARS['kafka_cluster_id']}" in meta and f"node.id={NAMES.index(name) + 1}" in meta


def broker1():
    """For the cluster-wide checks, asked once (not per host)."""
    return testinfra.get_host(f"podman://{NAMES[0]}")


def test_quorum_has_three_voters_and_a_leader():
    host = broker1()
    # The controller listener is SSL with client certificates (ACLs on): the tool presents the
    # broker's own certificate, a super user; without one the controller refuses it.
    trust = "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/tls/ca.pem\n"
    key = "ssl.keystore.type=PEM\nssl.keystore.location=/etc/kafka/tls/broker.pem\n"
    host.check_output(f"umask 077; printf '{trust}{key}' > /tmp/controller-client.properties")
    host.check_output(f"umask 077; printf '{trust}' > /tmp/controller-nocert.properties")
    args = ["--bootstrap-controller 10.89.98.11:9093", "describe --status"]
    out = java(host, QUORUM, "--command-config /tmp/controller-client.properties", *args)
    status = dict(re.findall(r"^(\w+):\s+(.*)$", out, re.M))
    assert int(status["LeaderId"]) in (1, 2, 3), out
    voters = re.findall(r'"id":\s*(\d+)', status["CurrentVoters"])
    assert sorted(map(int, voters)) == [1, 2, 3], out
    assert int(status["HighWatermark"]) > 0
    nocert = host.run(
        f"timeout 60 java -Xmx128m -cp '{LIBS}' {QUORUM} --command-config /tmp/controller-nocert.properties {' '.join(args)}"
    )
    assert nocert.rc != 0 and "LeaderId" not in nocert.stdout


# --- topics ----------------------------------------------------------------------------------------


def test_topics_have_three_replicas_partitions_and_retention():
    client = admin()
    topics = client.list_topics(timeout=20).topics
    want = {"zeek-conn": (6, 24), "zeek-dns": (3, 72), "zeek-ssl": (3, 72)}
    assert {t for t in topics if t.startswith("zeek-")} == set(want)
    for name, (partitions, hours) in want.items():
        parts = topics[name].partitions
        assert len(parts) == partitions, name
        for p in parts.values():
            assert len(p.replicas) == 3 and sorted(p.isrs) == sorted(p.replicas), (name, p.id)
        resource = ConfigResource("topic", name)
        config = client.describe_configs([resource])[resource].result(20)
        assert config["retention.ms"].value == str(hours * 3600 * 1000), name
        assert config["min.insync.replicas"].value == "2", name
        assert all(p.leader in p.isrs for p in parts.values()), name


# --- clients and security --------------------------------------------------------------------------


def test_producer_user_writes_and_consumer_user_reads_back():
    records = {f'{{"_path": "dns", "uid": "{uuid.uuid4().hex}", "n": {i}}}' for i in range(300)}
    errors = []
    producer = Producer(client_config("zeek", **{"acks": "all", "enable.idempotence": True}))
    for value in records:
        producer.produce("zeek-dns", value.encode(), on_delivery=lambda err, msg: err and errors.append(err))
        producer.poll(0)
    assert producer.flush(60) == 0 and errors == []
    seen = consume("tenzir", f"socforge-tenzir-verify-{uuid.uuid4().hex[:8]}", "zeek-dns", records)
    assert records <= set(seen)
    assert len([v for v in seen if v in records]) == len(records)  # each once


def test_wrong_password_is_refused():
    errors = refused(client_config("zeek", secret="not-" + PASSWORDS["zeek"]))
    assert any("Authentication failed" in e or "_AUTHENTICATION" in e for e in errors), errors


def test_plaintext_to_the_tls_listener_is_refused():
    errors = refused({"bootstrap.servers": BOOTSTRAP, "security.protocol": "plaintext"})
    assert errors, "a plaintext client got no error from the TLS listener"
    assert all("_AUTHENTICATION" not in e for e in errors)


def test_clients_pin_the_site_ca():
    # an unrelated CA (prepare.yml) and the system store both fail the handshake; the site CA works
    for ca in (str(PKI / "other-ca.crt"), None):
        config = client_config("zeek")
        if ca is None:
            config.pop("ssl.ca.location")
        else:
            config["ssl.ca.location"] = ca
        errors = refused(config)
        assert any("certificate verify failed" in e or "_SSL" in e for e in errors), (ca, errors)
    assert AdminClient(client_config("zeek")).list_topics(timeout=20).brokers


def produce_errors(user, topic, n=3):
    errors = []
    producer = Producer(client_config(user, **{"message.timeout.ms": 15000}))
    for i in range(n):
        producer.produce(topic, f"acl-{i}".encode(), on_delivery=lambda err, msg: err and errors.append(err))
    producer.flush(30)
    return [e.code() for e in errors]


def test_acls_producer_writes_only_zeek_topics():
    client = admin()
    other = f"verify-other-{uuid.uuid4().hex[:6]}"
    client.create_topics([NewTopic(other, 1, 3)])[other].result(30)
    try:
        assert produce_errors("zeek", "zeek-ssl") == []
        assert set(produce_errors("zeek", other)) == {KafkaError.TOPIC_AUTHORIZATION_FAILED}
        # the shipper's user may not write, not even to the Zeek topics
        assert set(produce_errors("tenzir", "zeek-ssl")) == {KafkaError.TOPIC_AUTHORIZATION_FAILED}
    finally:
        client.delete_topics([other])[other].result(30)


def test_acls_consumer_reads_only_with_its_groups():
    def first_error(user, group):
        consumer = Consumer(client_config(user, **{"group.id": group, "auto.offset.reset": "earliest"}))
        consumer.subscribe(["zeek-ssl"])
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                msg = consumer.poll(1)
                if msg is not None:
                    return msg.error().code() if msg.error() else None
            return "timeout"
        finally:
            consumer.close()

    assert produce_errors("zeek", "zeek-ssl", 1) == []
    assert first_error("tenzir", f"socforge-tenzir-acl-{uuid.uuid4().hex[:6]}") is None  # a record
    assert first_error("tenzir", "someone-elses-group") == KafkaError.GROUP_AUTHORIZATION_FAILED
    assert first_error("zeek", f"socforge-tenzir-acl-{uuid.uuid4().hex[:6]}") in (
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    )


def test_acls_in_the_cluster_are_exactly_the_inventory():
    host = broker1()
    assert host.file("/etc/kafka/admin-client.properties").mode == 0o600
    out = java(
        host,
        "org.apache.kafka.tools.AclCommand",
        "--bootstrap-server 10.89.98.11:9092",
        "--command-config /etc/kafka/admin-client.properties",
        "--list",
    )
    entries = re.findall(r"\(principal=(User:\w+), host=\*, operation=(\w+), permissionType=ALLOW\)", out)
    assert sorted(entries) == sorted(
        [("User:zeek", "WRITE"), ("User:zeek", "DESCRIBE"), ("User:tenzir", "READ"), ("User:tenzir", "DESCRIBE")]
        + [("User:tenzir", "READ")]
    ), out
    props = host.file("/etc/kafka/server.properties").content_string
    assert (
        "super.users=User:kafka-admin;User:kafka_cluster-broker1;User:kafka_cluster-broker2;User:kafka_cluster-broker3"
        in props
    )
    assert "listener.name.controller.ssl.client.auth=required" in props


# --- rolling restart under load (last: it changes the cluster) ------------------------------------


class Load:
    """acks=all idempotent producer + a consumer group + a metadata sampler, all in threads."""

    def __init__(self, topic):
        self.topic = topic
        self.stop = threading.Event()
        self.flushed = threading.Event()  # every record has its delivery report
        self.acked: list[tuple[float, str]] = []
        self.failed: list[str] = []
        self.consumed: list[str] = []
        self.samples: list[tuple[float, int, int]] = []  # (monotonic, live brokers, under-replicated)
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._produce, self._consume, self._sample)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:  # producer (flushes), consumer (until it has every acked record), sampler
            t.join(120)

    def _produce(self):
        producer = Producer(client_config("zeek", **{"acks": "all", "enable.idempotence": True, "linger.ms": 5}))

        def done(err, msg):
            if err is None:
                self.acked.append((time.monotonic(), msg.value().decode()))
            else:
                self.failed.append(str(err))

        n = 0
        while not self.stop.is_set():
            try:
                producer.produce(self.topic, f"rolling-{n}".encode(), on_delivery=done)
            except BufferError:  # local queue full while a leader moves: wait for reports, then retry
                producer.poll(0.5)
                continue
            producer.poll(0.02)
            n += 1
        producer.flush(120)
        self.flushed.set()

    def _consume(self):
        consumer = Consumer(
            client_config(
                "tenzir",
                **{"group.id": f"socforge-tenzir-rolling-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"},
            )
        )
        consumer.subscribe([self.topic])
        seen, missing, deadline = set(), None, None
        try:
            while missing is None or missing:
                if missing is None and self.flushed.is_set():  # every delivery report is in
                    missing, deadline = {v for _, v in self.acked} - seen, time.monotonic() + 120
                if deadline is not None and time.monotonic() > deadline:
                    break
                msg = consumer.poll(0.5)
                if msg is not None and not msg.error():
                    self.consumed.append(msg.value().decode())
                    seen.add(self.consumed[-1])
                    if missing is not None:
                        missing.discard(self.consumed[-1])
                elif msg is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                    self.failed.append(f"consumer: {msg.error()}")
        finally:
            consumer.close()

    def _sample(self):
        client = admin()
        while not self.stop.is_set():
            try:
                meta = client.list_topics(timeout=5)
                urp = sum(
                    1 for t in meta.topics.values() for p in t.partitions.values() if len(p.isrs) < len(p.replicas)
                )
                self.samples.append((time.monotonic(), len(meta.brokers), urp))
            except KafkaException:
                pass
            time.sleep(0.5)


def unit_times(name):
    """(stop began, new process started) of the kafka unit, CLOCK_MONOTONIC seconds (shared with us)."""
    out = subprocess.run(  # noqa: S603 -- fixed argv, the scenario's own container names
        [  # noqa: S607 -- podman from PATH, as molecule itself runs it
            "podman",
            "exec",
            name,
            "systemctl",
            "show",
            "kafka",
            "-p",
            "ActiveExitTimestampMonotonic",
            "-p",
            "ExecMainStartTimestampMonotonic",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    props = dict(line.split("=", 1) for line in out.split())
    return int(props["ActiveExitTimestampMonotonic"]) / 1e6, int(props["ExecMainStartTimestampMonotonic"]) / 1e6


# The re-run below also rotates one client user's password and adds a user (the brokers' storage was
# formatted long before): the SCRAM credentials must follow (test_scram_users_follow_the_rerun).
ROTATED = 'molecule-logstash-Pw-2 "rotated" $x\\'
RERUN_USERS = [
    u if u["name"] != "logstash" else {"name": "logstash", "password": ROTATED} for u in VARS["kafka_sasl_users"]
] + [{"name": "scram-late", "password": "molecule-late-Pw-1"}]


def test_rolling_restart_one_broker_at_a_time_under_load():
    playbook = shutil.which("ansible-playbook") or str(Path(sys.executable).parent / "ansible-playbook")
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    before = {name: unit_times(name)[1] for name in NAMES}
    t0 = time.monotonic()
    with Load("zeek-conn") as load:
        time.sleep(5)
        run = subprocess.run(  # noqa: S603 -- fixed argv: this venv's ansible-playbook and the scenario's files
            [
                playbook,
                "-i",
                str(inventory),
                str(SCENARIO / "converge.yml"),
                "-e",
                json.dumps({"kafka_configuration": {"num.replica.fetchers": 2}, "kafka_sasl_users": RERUN_USERS}),
            ],
            capture_output=True,
            text=True,
            env=os.environ | {"ANSIBLE_NOCOLOR": "1"},
            timeout=1200,
        )
        time.sleep(5)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Restart the marked kafka brokers one at a time" in run.stdout

    # every broker restarted, one after the other
    times = sorted(unit_times(name) + (name,) for name in NAMES)
    assert all(start > before[name] and stop > t0 for stop, start, name in times), times
    for (_, start_a, a), (stop_b, _, b) in zip(times, times[1:], strict=False):
        assert stop_b > start_a, f"{b} went down before {a} was started again"
        healed = [s for s in load.samples if start_a < s[0] < stop_b and s[1] == 3 and s[2] == 0]
        assert healed, f"no sample with 3 brokers and 0 under-replicated partitions between {a} and {b}"
    assert min(n for t, n, _urp in load.samples if times[0][0] < t < times[-1][1]) >= 2  # never two out

    # the producer kept writing while each broker was out: from its stop until the cluster healed after its
    # new process started (a sample taken during the controlled shutdown still shows 3 brokers and full ISRs,
    # so "healed" only counts once the broker is back)
    for stop, start, name in times:
        healed_at = min((s[0] for s in load.samples if s[0] > start and s[1] == 3 and s[2] == 0), default=None)
        assert healed_at is not None, f"the cluster never healed after {name}"
        acked_out = [t for t, _ in load.acked if stop <= t <= healed_at]
        assert acked_out, f"no record acknowledged in the {healed_at - stop:.1f} s {name} was out"

    # nothing lost: every acknowledged record was consumed; no delivery failed
    acked = {v for _, v in load.acked}
    assert load.failed == []
    assert len(acked) > 500
    assert acked <= set(load.consumed), f"{len(acked - set(load.consumed))} acknowledged records never consumed"


def test_scram_users_follow_the_rerun():
    """After the re-run (above): the rotated password logs in and the old one is refused, the user added
    later logs in, the others are untouched; the record on broker1 holds no password."""
    assert AdminClient(client_config("logstash", secret=ROTATED)).list_topics(timeout=20).brokers
    errors = refused(client_config("logstash", secret=PASSWORDS["logstash"]))
    assert any("Authentication failed" in e or "_AUTHENTICATION" in e for e in errors), errors
    late = client_config("zeek", secret=RERUN_USERS[-1]["password"]) | {"sasl.username": "scram-late"}
    assert AdminClient(late).list_topics(timeout=20).brokers
    assert AdminClient(client_config("tenzir")).list_topics(timeout=20).brokers
    record = broker1().file("/etc/kafka/scram-users.json")
    assert record.mode == 0o600 and record.user == "root"
    assert set(json.loads(record.content_string)["users"]) == {"zeek", "tenzir", "logstash", "scram-late"}
    assert "molecule-" not in record.content_string
