"""module_utils.opensearch_cluster: health conditions, the polling loop, cluster settings diff."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import flatten_dotted
from ansible_collections.socforge.core.plugins.module_utils.opensearch_cluster import (
    HealthTimeout,
    HealthWanted,
    settings_changes,
    snapshot,
    unmet,
    wait_for,
)
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError


def snap(status="green", nodes=None):
    nodes = nodes if nodes is not None else {"n1": 100, "n2": 200, "n3": 300}
    return {
        "status": status,
        "number_of_nodes": len(nodes),
        "nodes": {
            name: {"id": f"id-{name}", "roles": ["data"], "jvm_start_time_in_millis": t} for name, t in nodes.items()
        },
    }


def test_status_green_satisfies_yellow_but_not_the_reverse():
    assert unmet(snap("green"), HealthWanted(status="yellow")) == []
    assert unmet(snap("yellow"), HealthWanted(status="green")) == ["status is yellow, wanted green"]
    assert unmet(snap("red"), HealthWanted(status="yellow")) == ["status is red, wanted yellow"]
    assert unmet(snap("red"), HealthWanted(status="red")) == []


def test_node_count_and_named_nodes():
    two = snap(nodes={"n1": 1, "n2": 2})
    assert unmet(two, HealthWanted(nodes=2, node_names=["n1"])) == []
    assert unmet(two, HealthWanted(nodes=3)) == ["2 nodes in the cluster, wanted at least 3"]
    assert unmet(two, HealthWanted(node_names=["n3", "n1"])) == ["node n3 is not in the cluster"]


def test_restarted_needs_a_later_jvm_start_time():
    current = snap(nodes={"n1": 100, "n2": 250})
    assert unmet(current, HealthWanted(restarted={"n2": 200})) == []
    reasons = unmet(current, HealthWanted(restarted={"n1": 100}))
    assert reasons == ["node n1 has not restarted yet (JVM started at 100, before: 100)"]
    # a node still away is reported once, whether or not it is also named
    assert unmet(current, HealthWanted(restarted={"n3": 1})) == ["node n3 is not in the cluster"]
    assert unmet(current, HealthWanted(node_names=["n3"], restarted={"n3": 1})) == ["node n3 is not in the cluster"]


@pytest.mark.parametrize("kwargs", [{"status": "blue"}, {"nodes": 0}])
def test_wanted_rejects_nonsense(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        HealthWanted(**kwargs)


class FakeCluster:
    """opensearch-py's cluster/nodes API shape, answering from a script of states or errors."""

    def __init__(self, script):
        self.script = list(script)
        self.current = None
        self.cluster = self
        self.nodes = self
        self.calls = 0

    # client.cluster.health()
    def health(self):
        self.calls += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        self.current = step
        return {"status": step["status"], "number_of_nodes": len(step["nodes"])}

    # client.nodes.info(metric="jvm")
    def info(self, metric):
        assert metric == "jvm"
        return {
            "nodes": {
                f"id-{name}": {"name": name, "roles": ["data", "cluster_manager"], "jvm": {"start_time_in_millis": t}}
                for name, t in self.current["nodes"].items()
            }
        }

    # client.cluster.state(metric="cluster_manager_node")
    def state(self, metric):
        assert metric == "cluster_manager_node"
        return {"cluster_manager_node": f"id-{self.current['manager']}"}


def test_snapshot_names_the_elected_cluster_manager():
    client = FakeCluster([{"status": "green", "nodes": {"a": 1, "b": 2}, "manager": "b"}])
    result = snapshot(client)
    assert result["cluster_manager"] == "b"
    assert result["nodes"]["a"] == {"id": "id-a", "roles": ["cluster_manager", "data"], "jvm_start_time_in_millis": 1}
    assert result["number_of_nodes"] == 2


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_rides_out_a_restarting_node_and_errors():
    """A node restarting: the cluster first refuses, then answers without it, then it is back."""
    client = FakeCluster(
        [
            OSConnectionError("N/A", "connection refused", None),
            TransportError(503, "cluster_manager_not_discovered_exception", {}),
            {"status": "yellow", "nodes": {"n1": 100, "n3": 300}, "manager": "n1"},
            {"status": "yellow", "nodes": {"n1": 100, "n2": 900, "n3": 300}, "manager": "n1"},
            {"status": "green", "nodes": {"n1": 100, "n2": 900, "n3": 300}, "manager": "n1"},
        ]
    )
    clock = Clock()
    result, waited, polls = wait_for(
        client, HealthWanted(status="green", nodes=3, restarted={"n2": 200}), 60, 2, clock=clock, sleep=clock.sleep
    )
    assert result["status"] == "green" and result["nodes"]["n2"]["jvm_start_time_in_millis"] == 900
    assert polls == 5 and waited == 8.0 and clock.sleeps == [2, 2, 2, 2]


def test_wait_times_out_naming_what_is_missing():
    client = FakeCluster([{"status": "yellow", "nodes": {"n1": 1, "n2": 2}, "manager": "n1"}])
    clock = Clock()
    with pytest.raises(HealthTimeout) as failed:
        wait_for(client, HealthWanted(status="green", nodes=3), 5, 2, clock=clock, sleep=clock.sleep)
    assert "status is yellow, wanted green" in str(failed.value)
    assert "2 nodes in the cluster, wanted at least 3" in str(failed.value)
    assert failed.value.snapshot["number_of_nodes"] == 2
    # never sleeps past the deadline
    assert clock.sleeps == [2, 2, 1]


def test_wait_with_zero_timeout_reads_once():
    client = FakeCluster([OSConnectionError("N/A", "connection refused", None)])
    clock = Clock()
    with pytest.raises(HealthTimeout, match="cluster not answering"):
        wait_for(client, HealthWanted(), 0, 2, clock=clock, sleep=clock.sleep)
    assert client.calls == 1 and clock.sleeps == []


def test_settings_changes_compare_flat_string_forms():
    current = {"cluster.routing.allocation.enable": "primaries", "cluster.max_shards_per_node": "1000"}
    assert settings_changes(current, {"cluster.routing.allocation.enable": "primaries"}) == {}
    assert settings_changes(current, {"cluster": {"max_shards_per_node": 1000}}) == {}
    assert settings_changes(current, {"cluster.routing.allocation.enable": None}) == {
        "cluster.routing.allocation.enable": None
    }
    assert settings_changes(current, {"cluster.routing.allocation.enable": "all"}) == {
        "cluster.routing.allocation.enable": "all"
    }
    # resetting something that is not set changes nothing
    assert settings_changes({}, {"cluster.routing.allocation.enable": None}) == {}


def test_flatten_dotted_keeps_keys_as_given():
    assert flatten_dotted({"a": {"b.c": True, "d": [1, "x"]}, "e": None}) == {
        "a.b.c": "true",
        "a.d": ["1", "x"],
        "e": None,
    }
