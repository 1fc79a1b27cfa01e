"""Argument checks of opensearch_cluster_health / _settings / opensearch_index_settings: bad input fails naming it, and an
unreachable cluster fails (health: after its timeout) instead of hanging or passing."""

import socket

import pytest
from ansible_collections.socforge.core.plugins.modules import opensearch_cluster_health as health_mod
from ansible_collections.socforge.core.plugins.modules import opensearch_cluster_settings as settings_mod

from tests.unit.plugins.modules.utils import fail_module


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_restarted_needs_integer_start_times(monkeypatch, closed_port):
    args = {"hosts": [f"http://127.0.0.1:{closed_port}"], "restarted": {"n1": "yesterday"}}
    assert "restarted: values must be JVM start times" in fail_module(monkeypatch, health_mod, args)["msg"]


@pytest.mark.parametrize(
    ("bad", "msg"),
    [({"timeout": -1}, "timeout must be >= 0 (got -1)"), ({"interval": 0}, "interval must be >= 1 (got 0)")],
)
def test_health_rejects_negative_timeout_and_zero_interval(monkeypatch, closed_port, bad, msg):
    args = {"hosts": [f"http://127.0.0.1:{closed_port}"], **bad}
    assert fail_module(monkeypatch, health_mod, args)["msg"] == msg


def test_health_rejects_zero_nodes(monkeypatch, closed_port):
    args = {"hosts": [f"http://127.0.0.1:{closed_port}"], "nodes": 0}
    assert "nodes: 0 must be at least 1" in fail_module(monkeypatch, health_mod, args)["msg"]


def test_health_on_a_closed_port_times_out_naming_the_cause(monkeypatch, closed_port):
    args = {"hosts": [f"http://127.0.0.1:{closed_port}"], "timeout": 1, "interval": 1, "request_timeout": 1}
    result = fail_module(monkeypatch, health_mod, args)
    assert result["msg"].startswith("cluster health: after ")
    assert "cluster not answering" in result["msg"]
    assert result["health"] == {}


def test_settings_on_a_closed_port_fails_naming_the_module(monkeypatch, closed_port):
    args = {"hosts": [f"http://127.0.0.1:{closed_port}"], "persistent": {"a.b": 1}, "request_timeout": 1}
    result = fail_module(monkeypatch, settings_mod, args)
    assert result["msg"].startswith("cluster settings: ")
    assert "Connection" in result["msg"]


def test_settings_credentials_over_plain_http_refused(monkeypatch, closed_port):
    args = {
        "hosts": [f"http://127.0.0.1:{closed_port}"],
        "username": "admin",
        "password": "secret-Pw-123",
        "persistent": {"a.b": 1},
    }
    result = fail_module(monkeypatch, settings_mod, args)
    assert "plain http" in result["msg"] and "secret-Pw-123" not in result["msg"]


def test_index_settings_need_a_setting_and_name_the_index(monkeypatch, closed_port):
    from ansible_collections.socforge.core.plugins.modules import opensearch_index_settings as index_mod

    args = {"hosts": [f"http://127.0.0.1:{closed_port}"], "index": "audit-*", "settings": {}}
    assert fail_module(monkeypatch, index_mod, args)["msg"] == "settings: no setting given for index 'audit-*'"
    unreachable = {**args, "settings": {"number_of_replicas": 0}, "request_timeout": 1}
    assert fail_module(monkeypatch, index_mod, unreachable)["msg"].startswith("index settings 'audit-*': ")
