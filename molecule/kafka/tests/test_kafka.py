"""Verify the converged KRaft broker: service, KRaft (no ZooKeeper), storage formatted once, topics."""

import json

testinfra_hosts = ["podman://kafka-broker1"]

PY = "python3 -c '{}'"


def admin(host, code):
    script = (
        "import json; from confluent_kafka.admin import AdminClient, ConfigResource;"
        'a = AdminClient({"bootstrap.servers": "10.89.96.10:9092"});' + code
    )
    out = host.check_output(PY.format(script))
    return json.loads(out)


def test_service_runs_as_kafka_with_kraft_config(host):
    svc = host.service("kafka")
    assert svc.is_running and svc.is_enabled
    assert host.process.get(comm="java").user == "kafka"
    props = host.file("/etc/kafka/server.properties")
    assert props.mode == 0o640 and props.group == "kafka"
    text = props.content_string
    assert "process.roles=broker,controller" in text
    assert "controller.quorum.voters=1@10.89.96.10:9093" in text
    assert "zookeeper" not in text
    for port in (9092, 9093):  # the minimal image has no ss/netstat: connect instead
        assert host.run(f"timeout 5 bash -c '</dev/tcp/10.89.96.10/{port}'").rc == 0, port


def test_storage_formatted_with_the_cluster_id(host):
    meta = host.file("/var/lib/kafka/data/meta.properties")
    assert meta.exists and meta.user == "kafka"
    assert "cluster.id=MkU3OEVBNTcwNTJENDM2Qg" in meta.content_string
    assert "node.id=1" in meta.content_string


def test_zeek_topics_with_partitions_and_retention(host):
    topics = admin(
        host,
        "m = a.list_topics(timeout=10).topics;"
        'print(json.dumps({t: len(m[t].partitions) for t in m if t.startswith("zeek-")}))',
    )
    assert topics == {"zeek-conn": 6, "zeek-dns": 3, "zeek-ssl": 3}
    retention = admin(
        host,
        'r = ConfigResource("topic", "zeek-conn");'
        "c = a.describe_configs([r])[r].result(10);"
        'print(json.dumps(c["retention.ms"].value))',
    )
    assert retention == str(24 * 3600 * 1000)


def test_produce_and_consume_a_zeek_record(host):
    code = (
        "from confluent_kafka import Producer, Consumer;"
        'p = Producer({"bootstrap.servers": "10.89.96.10:9092"});'
        'p.produce("zeek-dns", b"{\\"_path\\": \\"dns\\"}"); p.flush(10);'
        'c = Consumer({"bootstrap.servers": "10.89.96.10:9092", "group.id": "verify",'
        ' "auto.offset.reset": "earliest"}); c.subscribe(["zeek-dns"]);'
        "m = None\n"
        "for _ in range(30):\n"
        "    m = c.poll(1)\n"
        "    if m is not None and not m.error(): break\n"
        "print(m.value().decode())"
    )
    out = host.check_output("python3 - <<'PYEOF'\n" + code + "\nPYEOF")
    assert json.loads(out) == {"_path": "dns"}
