"""opensearch_cluster_health and opensearch_cluster_settings against a real (single) node.

The multi-node behaviour (a rolling restart through three nodes) is exercised by
molecule/opensearch_cluster; here each module's contract is checked on the real API.
"""

from __future__ import annotations

import threading

import pytest
from ansible_collections.socforge.core.plugins.modules import opensearch_cluster_health as health_mod
from ansible_collections.socforge.core.plugins.modules import opensearch_cluster_settings as settings_mod

from tests.unit.plugins.modules.utils import fail_module, run_module

pytestmark = pytest.mark.integration

ALLOCATION = "cluster.routing.allocation.enable"


def test_health_reports_nodes_and_the_cluster_manager(monkeypatch, opensearch_server):
    result = run_module(monkeypatch, health_mod, {"hosts": [opensearch_server.url], "status": "yellow", "nodes": 1})
    assert result["changed"] is False
    assert result["status"] in ("yellow", "green") and result["number_of_nodes"] == 1
    (name,) = result["nodes"]
    assert result["cluster_manager"] == name
    assert "cluster_manager" in result["nodes"][name]["roles"]
    assert result["nodes"][name]["jvm_start_time_in_millis"] > 1_600_000_000_000
    assert result["polls"] == 1


def test_health_fails_naming_the_unmet_conditions(monkeypatch, opensearch_server):
    base = {"hosts": [opensearch_server.url], "status": "yellow", "timeout": 0}
    one = run_module(monkeypatch, health_mod, base)
    (name,) = one["nodes"]
    started = one["nodes"][name]["jvm_start_time_in_millis"]
    failed = fail_module(
        monkeypatch, health_mod, {**base, "nodes": 2, "node_names": ["nobody"], "restarted": {name: started}}
    )
    assert "1 nodes in the cluster, wanted at least 2" in failed["msg"]
    assert "node nobody is not in the cluster" in failed["msg"]
    assert f"node {name} has not restarted yet" in failed["msg"]
    assert failed["health"]["number_of_nodes"] == 1


def test_health_waits_through_a_restart(monkeypatch, opensearch_server):
    """The module keeps polling while the node is down and returns once it is back, restarted."""
    args = {"hosts": [opensearch_server.url], "status": "yellow", "request_timeout": 5}
    before = run_module(monkeypatch, health_mod, args)
    (name,) = before["nodes"]
    started = before["nodes"][name]["jvm_start_time_in_millis"]
    opensearch_server.stop()
    outcome = {}

    def wait():
        outcome["result"] = run_module(
            monkeypatch, health_mod, {**args, "restarted": {name: started}, "timeout": 240, "interval": 1}
        )

    waiter = threading.Thread(target=wait)
    waiter.start()
    try:
        opensearch_server.start()
    finally:
        waiter.join(300)
    result = outcome["result"]
    assert result["nodes"][name]["jvm_start_time_in_millis"] > started
    assert result["polls"] > 1  # it saw the node down first


def test_health_on_a_stopped_node_times_out(monkeypatch, opensearch_server):
    opensearch_server.stop()
    try:
        failed = fail_module(
            monkeypatch,
            health_mod,
            {"hosts": [opensearch_server.url], "timeout": 2, "interval": 1, "request_timeout": 1},
        )
    finally:
        opensearch_server.start()
    assert "cluster not answering" in failed["msg"]


def test_settings_set_idempotent_check_mode_and_reset(monkeypatch, opensearch_server, opensearch_client):
    args = {"hosts": [opensearch_server.url], "persistent": {ALLOCATION: "primaries"}}

    checked = run_module(monkeypatch, settings_mod, args, check_mode=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"] == {"before": {"persistent": {ALLOCATION: None}, "transient": {}},
                               "after": {"persistent": {ALLOCATION: "primaries"}, "transient": {}}}  # fmt: skip
    assert ALLOCATION not in opensearch_client.cluster.get_settings(flat_settings=True)["persistent"]

    try:
        first = run_module(monkeypatch, settings_mod, args)
        assert first["changed"] is True and first["changes"] == {"persistent": {ALLOCATION: "primaries"}}
        stored = opensearch_client.cluster.get_settings(flat_settings=True)["persistent"]
        assert stored[ALLOCATION] == "primaries"
        assert run_module(monkeypatch, settings_mod, args)["changed"] is False

        # nested form is the same setting; the transient scope is separate
        nested = {
            "hosts": [opensearch_server.url],
            "persistent": {"cluster": {"routing.allocation.enable": "primaries"}},
        }
        assert run_module(monkeypatch, settings_mod, nested)["changed"] is False
    finally:
        reset = run_module(
            monkeypatch, settings_mod, {"hosts": [opensearch_server.url], "persistent": {ALLOCATION: None}}
        )
    assert reset["changed"] is True and reset["settings"] == {"persistent": {ALLOCATION: None}, "transient": {}}
    assert ALLOCATION not in opensearch_client.cluster.get_settings(flat_settings=True)["persistent"]
    again = run_module(monkeypatch, settings_mod, {"hosts": [opensearch_server.url], "persistent": {ALLOCATION: None}})
    assert again["changed"] is False


def test_settings_bad_value_fails_with_the_server_reason(monkeypatch, opensearch_server, opensearch_client):
    failed = fail_module(
        monkeypatch, settings_mod, {"hosts": [opensearch_server.url], "transient": {ALLOCATION: "sometimes"}}
    )
    assert failed["msg"].startswith("cluster settings: HTTP 400")
    assert "Illegal allocation.enable value [SOMETIMES]" in failed["msg"]
    assert ALLOCATION not in opensearch_client.cluster.get_settings(flat_settings=True)["transient"]


def test_index_settings_bring_existing_indices_in_line(monkeypatch, opensearch_server, opensearch_client):
    """A single node with an index that wants a replica is yellow; the module makes it green, once."""
    from ansible_collections.socforge.core.plugins.modules import opensearch_index_settings as index_mod

    names = ["socforge-auditlog-test-1", "socforge-auditlog-test-2"]
    for name in names:
        opensearch_client.indices.create(index=name, body={"settings": {"number_of_replicas": 1}})
    try:
        assert opensearch_client.cluster.health(index=names[0])["status"] == "yellow"
        args = {
            "hosts": [opensearch_server.url],
            "index": "socforge-auditlog-test-*",
            "settings": {"number_of_replicas": 0},
        }

        checked = run_module(monkeypatch, index_mod, args, check_mode=True, diff=True)
        assert checked["changed"] is True and checked["indices"] == names
        assert checked["diff"]["before"][names[0]] == {"index.number_of_replicas": "1"}
        assert checked["diff"]["after"][names[1]] == {"index.number_of_replicas": "0"}
        assert opensearch_client.cluster.health(index=names[0])["status"] == "yellow"  # check mode wrote nothing

        first = run_module(monkeypatch, index_mod, args)
        assert first["changes"] == {name: {"index.number_of_replicas": "0"} for name in names}
        health = opensearch_client.cluster.health(index="socforge-auditlog-test-*", wait_for_status="green")
        assert health["status"] == "green"
        assert (
            run_module(monkeypatch, index_mod, {**args, "settings": {"index": {"number_of_replicas": 0}}})["changed"]
            is False
        )

        none = run_module(monkeypatch, index_mod, {**args, "index": "socforge-no-such-index-*"})
        assert none == {**none, "changed": False, "indices": [], "changes": {}}

        bad = fail_module(monkeypatch, index_mod, {**args, "settings": {"number_of_shards": 3}})
        assert bad["msg"].startswith("index settings 'socforge-auditlog-test-*': HTTP 400")
    finally:
        opensearch_client.indices.delete(index=",".join(names))
