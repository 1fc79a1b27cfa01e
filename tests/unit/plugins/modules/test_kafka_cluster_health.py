"""kafka_cluster_health module: metadata read into health, wait until healthy, fail with the reason."""

import types

import pytest
from ansible_collections.socforge.core.plugins.modules import kafka_cluster_health
from utils import fail_module, run_module


def meta(brokers, partitions):
    """A stand-in for confluent-kafka's ClusterMetadata: {topic: [(id, leader, replicas, isrs)]}."""
    topics = {
        name: types.SimpleNamespace(
            partitions={
                pid: types.SimpleNamespace(id=pid, leader=leader, replicas=replicas, isrs=isrs, error=None)
                for pid, leader, replicas, isrs in parts
            }
        )
        for name, parts in partitions.items()
    }
    return types.SimpleNamespace(brokers=dict.fromkeys(brokers), topics=topics)


class FakeAdmin:
    answers: list = []
    configs: list = []

    def __init__(self, config):
        FakeAdmin.configs.append(config)

    def list_topics(self, timeout):
        a = FakeAdmin.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


@pytest.fixture
def admin(monkeypatch):
    FakeAdmin.answers, FakeAdmin.configs = [], []
    monkeypatch.setattr(kafka_cluster_health, "AdminClient", FakeAdmin)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return FakeAdmin


ARGS = {
    "bootstrap_servers": "k1:9092,k2:9092",
    "client_config": {"security.protocol": "sasl_ssl"},
    "sasl_password": "pw",
}


def test_waits_through_a_restart_until_settled(monkeypatch, admin):
    down = meta([1, 3], {"zeek-dns": [(0, 1, [1, 2, 3], [1, 3])]})
    up = meta([1, 2, 3], {"zeek-dns": [(0, 1, [1, 2, 3], [3, 2, 1])], "__consumer_offsets": [(0, 2, [2], [2])]})
    admin.answers = [RuntimeError("transport"), down, up, up]
    result = run_module(monkeypatch, kafka_cluster_health, {**ARGS, "brokers": 3, "broker_ids": [2], "interval": 1})
    assert not result["changed"] and result["polls"] == 4
    assert result["brokers"] == [1, 2, 3] and result["partitions"] == 2 and result["under_replicated"] == []
    assert admin.configs == [
        {"security.protocol": "sasl_ssl", "bootstrap.servers": "k1:9092,k2:9092", "sasl.password": "pw"}
    ]


def test_timeout_fails_naming_the_partitions(monkeypatch, admin):
    stuck = meta([1, 2, 3], {"zeek-conn": [(4, 1, [1, 2, 3], [1, 2])]})
    admin.answers = [stuck]
    result = fail_module(monkeypatch, kafka_cluster_health, {**ARGS, "timeout": 0})
    assert "1 under-replicated partitions (zeek-conn/4)" in result["msg"]
    assert result["under_replicated"] == ["zeek-conn/4"]


def test_in_sync_false_only_counts_brokers(monkeypatch, admin):
    admin.answers = [meta([1, 2], {"t": [(0, -1, [3], [])]})]
    result = run_module(monkeypatch, kafka_cluster_health, {**ARGS, "timeout": 0, "brokers": 2, "in_sync": False})
    assert result["offline"] == ["t/0"]


def test_bad_timing_arguments_are_refused(monkeypatch, admin):
    assert (
        fail_module(monkeypatch, kafka_cluster_health, {**ARGS, "interval": 0})["msg"]
        == "interval must be >= 1 (got 0)"
    )
    assert fail_module(monkeypatch, kafka_cluster_health, {**ARGS, "settle": 0})["msg"] == "settle must be >= 1 (got 0)"
    assert (
        fail_module(monkeypatch, kafka_cluster_health, {**ARGS, "timeout": -5})["msg"]
        == "timeout must be >= 0 (got -5)"
    )
