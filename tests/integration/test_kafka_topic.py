"""kafka_topic module against a real KRaft broker: create, idempotence, grow, config, refusals, check mode."""

import sys
from pathlib import Path

import pytest
from kafka_server import kafka_server, unique_name  # noqa: F401 -- fixture, used by name (until conftest lists it)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "plugins" / "modules"))
from ansible_collections.socforge.core.plugins.modules import kafka_topic  # noqa: E402
from utils import AnsibleFailJson, run_module  # noqa: E402 -- the shared module-driving helper

pytestmark = pytest.mark.integration


def args(server, name, **extra):
    return {"bootstrap_servers": server.bootstrap, "name": name, **extra}


def test_topic_lifecycle(monkeypatch, kafka_server):  # noqa: F811 -- fixture
    name = unique_name("zeek-conn")
    want = args(kafka_server, name, partitions=2, config={"retention.ms": 3600000})
    # check mode on an absent topic: reports the change, creates nothing
    result = run_module(monkeypatch, kafka_topic, want, check_mode=True, diff=True)
    assert result["changed"] and result["changes"]["created"]
    assert name not in kafka_server.admin().list_topics(timeout=10).topics
    # create, then idempotent
    assert run_module(monkeypatch, kafka_topic, want)["changed"]
    assert not run_module(monkeypatch, kafka_topic, want)["changed"]
    meta = kafka_server.admin().list_topics(timeout=10).topics[name]
    assert len(meta.partitions) == 2
    # grow partitions and change retention: one change, then idempotent again
    grown = args(kafka_server, name, partitions=4, config={"retention.ms": 7200000})
    result = run_module(monkeypatch, kafka_topic, grown, diff=True)
    assert result["changed"] and result["changes"]["partitions"] == 4
    assert result["changes"]["config"] == {"retention.ms": ["3600000", "7200000"]}
    assert not run_module(monkeypatch, kafka_topic, grown)["changed"]
    assert len(kafka_server.admin().list_topics(timeout=10).topics[name].partitions) == 4
    # refusals name the topic and change nothing
    with pytest.raises(AnsibleFailJson) as failure:
        run_module(monkeypatch, kafka_topic, args(kafka_server, name, partitions=2))
    assert f"{name}: has 4 partitions, 2 wanted" in failure.value.result["msg"]
    with pytest.raises(AnsibleFailJson) as failure:
        run_module(monkeypatch, kafka_topic, args(kafka_server, unique_name("t"), replication_factor=3))
    assert "replication_factor 3 > 1 broker" in failure.value.result["msg"]
    # absent
    assert run_module(monkeypatch, kafka_topic, args(kafka_server, name, state="absent"))["changed"]
