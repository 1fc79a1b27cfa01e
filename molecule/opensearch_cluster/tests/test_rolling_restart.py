"""Verify the rolling restart the side effect ran (side_effect.yml, health_poller.py).

Reads $MOLECULE_EPHEMERAL_DIRECTORY/rollout: before.json and after.json (health snapshots with
every node's JVM start time) and health.jsonl (one reading every half second during the run:
allocation setting, status, nodes present). Missing files fail the tests: the side effect must
have run.
"""

import json
import os
import sys
from itertools import groupby, pairwise
from operator import itemgetter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import pytest
from opensearch_http import curl  # noqa: E402 -- molecule/shared is put on sys.path above

NODES = ["opensearch_cluster-node1", "opensearch_cluster-node2", "opensearch_cluster-node3"]
testinfra_hosts = ["podman://opensearch_cluster-node1"]
ROLLOUT = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "rollout"


@pytest.fixture(scope="module")
def before():
    return json.loads((ROLLOUT / "before.json").read_text())


@pytest.fixture(scope="module")
def after():
    return json.loads((ROLLOUT / "after.json").read_text())


@pytest.fixture(scope="module")
def record():
    rows = [json.loads(line) for line in (ROLLOUT / "health.jsonl").read_text().splitlines()]
    assert len(rows) > 20, "the recorder took too few readings to judge the restart"
    return rows


def _away(row):
    away = sorted(set(NODES) - set(row["nodes"]))
    assert len(away) <= 1, f"two nodes away at once: {row}"
    return away[0] if away else None


@pytest.fixture(scope="module")
def away_runs(record):
    """[(node, [readings while it was away])] in time order (readings without an answer skipped)."""
    answered = [(_away(row), row) for row in record if "error" not in row]
    return [(node, [row for _, row in rows]) for node, rows in groupby(answered, key=itemgetter(0)) if node]


def _between(record, first, last):
    return record[record.index(first) + 1 : record.index(last)]


def _curl(host, path):
    status, body = curl(host, path, user="admin")
    assert status == 200, f"{path}: HTTP {status} {body}"
    return body


def test_green_before_and_after_with_every_node_on_a_new_jvm(before, after):
    assert before["status"] == "green" and before["number_of_nodes"] == 3
    assert after["status"] == "green" and after["number_of_nodes"] == 3
    for node in NODES:
        assert after["nodes"][node]["jvm_start_time_in_millis"] > before["nodes"][node]["jvm_start_time_in_millis"], (
            node
        )


def test_every_node_runs_the_new_setting(host):
    attrs = _curl(host, "/_cat/nodeattrs?format=json&h=node,attr,value")
    rollout = {a["node"]: a["value"] for a in attrs if a["attr"] == "socforge_rollout"}
    assert rollout == dict.fromkeys(NODES, "2")


def test_never_red_and_never_two_nodes_away(record):
    answered = [r for r in record if "error" not in r]
    assert len(answered) > len(record) / 2
    assert {r["status"] for r in answered} <= {"green", "yellow"}
    assert min(r["number_of_nodes"] for r in answered) == 2  # a node was away, never two


def test_one_node_at_a_time_in_play_order(away_runs):
    """Each node away in exactly one stretch, one after the other."""
    assert [node for node, _ in away_runs] == NODES


def test_allocation_held_while_a_node_was_away_and_reset_after(away_runs, record, host):
    for node, rows in away_runs:
        held = [r["allocation"] for r in rows]
        assert "primaries" in held, f"{node} away without replica allocation held: {held}"
        inner = held[1:-1]
        assert all(a == "primaries" for a in inner), f"{node}: allocation {held}"
    last_reading = next(r for r in reversed(record) if "error" not in r)
    assert last_reading["allocation"] is None
    settings = _curl(host, "/_cluster/settings?flat_settings=true")
    assert "cluster.routing.allocation.enable" not in settings["persistent"]
    assert "cluster.routing.allocation.enable" not in settings["transient"]


def test_green_with_every_node_between_two_restarts(away_runs, record):
    for (node, rows), (next_node, next_rows) in pairwise(away_runs):
        between = _between(record, rows[-1], next_rows[0])
        assert any(r.get("status") == "green" and r.get("number_of_nodes") == 3 for r in between), (
            f"no green reading with three nodes between {node} and {next_node}"
        )


def test_next_node_started_only_after_the_previous_one_was_back(away_runs, after):
    """A node's new JVM starts after the previous node was last seen away (its restart and
    rejoin), so start times differ by at least the previous node's restart."""
    for (node, rows), (next_node, _) in pairwise(away_runs):
        last_away_ms = rows[-1]["t"] * 1000
        assert after["nodes"][next_node]["jvm_start_time_in_millis"] > last_away_ms, (node, next_node)
    starts = [after["nodes"][n]["jvm_start_time_in_millis"] for n in NODES]
    assert starts == sorted(starts)


def test_data_written_before_the_restart_is_still_there_with_its_replica(host):
    doc = _curl(host, "/zeek-conn-rollout/_doc/c1")
    assert doc["found"] and doc["_source"]["uid"] == "C1"
    shards = _curl(host, "/_cat/shards/zeek-conn-rollout?format=json&h=prirep,state,node")
    assert sorted(s["prirep"] for s in shards) == ["p", "r"]
    assert all(s["state"] == "STARTED" for s in shards)
    assert shards[0]["node"] != shards[1]["node"]
