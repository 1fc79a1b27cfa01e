"""Cluster-level helpers for the socforge.core opensearch_cluster_* modules (plain Python).

- ``snapshot``: one read of the cluster (health, nodes with roles and JVM start times, the elected
  cluster manager) in a small dict.
- ``unmet``: what a snapshot still lacks against a :class:`HealthWanted` (status at least X, at
  least N nodes, named nodes present, named nodes restarted since a known JVM start time).
- ``wait_for``: poll until nothing is unmet or a timeout, riding out connection errors and 503s
  while nodes restart (the rolling restart's gate between nodes).
- ``settings_changes``: which cluster settings differ from the wanted ones (``None`` = reset to
  the default), in the flat, stringified form OpenSearch returns them in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (
    error_message,
    flatten_dotted,
)

STATUS_RANK = {"red": 0, "yellow": 1, "green": 2}


@dataclass
class HealthWanted:
    """What the cluster must look like. ``restarted``: node name -> JVM start time (ms) seen
    before the node was restarted; the node must be back with a later start time."""

    status: str = "green"
    nodes: int | None = None
    node_names: list[str] = field(default_factory=list)
    restarted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUS_RANK:
            raise ValueError(f"status: {self.status!r} is not one of {sorted(STATUS_RANK)}")
        if self.nodes is not None and self.nodes < 1:
            raise ValueError(f"nodes: {self.nodes} must be at least 1")


class HealthTimeout(TimeoutError):
    """The cluster did not reach the wanted state in time; ``snapshot`` is the last one read."""

    def __init__(self, message: str, snapshot: dict[str, Any] | None):
        super().__init__(message)
        self.snapshot = snapshot


def snapshot(client) -> dict[str, Any]:
    """Health, nodes (name -> id, roles, JVM start time) and the elected cluster manager's name."""
    health = client.cluster.health()
    info = client.nodes.info(metric="jvm")
    nodes: dict[str, dict[str, Any]] = {}
    for node_id, node in (info.get("nodes") or {}).items():
        nodes[node["name"]] = {
            "id": node_id,
            "roles": sorted(node.get("roles") or []),
            "jvm_start_time_in_millis": (node.get("jvm") or {}).get("start_time_in_millis"),
        }
    manager_id = client.cluster.state(metric="cluster_manager_node").get("cluster_manager_node")
    manager = next((name for name, node in nodes.items() if node["id"] == manager_id), None)
    return {
        "status": health.get("status"),
        "number_of_nodes": health.get("number_of_nodes"),
        "active_shards_percent": health.get("active_shards_percent_as_number"),
        "relocating_shards": health.get("relocating_shards"),
        "initializing_shards": health.get("initializing_shards"),
        "unassigned_shards": health.get("unassigned_shards"),
        "cluster_manager": manager,
        "nodes": nodes,
    }


def unmet(snap: dict[str, Any], wanted: HealthWanted) -> list[str]:
    """Why ``snap`` does not satisfy ``wanted`` (an empty list when it does)."""
    reasons = []
    status = snap.get("status")
    if STATUS_RANK.get(status, -1) < STATUS_RANK[wanted.status]:
        reasons.append(f"status is {status}, wanted {wanted.status}")
    present = snap.get("nodes") or {}
    count = snap.get("number_of_nodes") or 0
    if wanted.nodes is not None and count < wanted.nodes:
        reasons.append(f"{count} nodes in the cluster, wanted at least {wanted.nodes}")
    for name in wanted.node_names:
        if name not in present:
            reasons.append(f"node {name} is not in the cluster")
    for name, before in wanted.restarted.items():
        node = present.get(name)
        if node is None:
            if name not in wanted.node_names:
                reasons.append(f"node {name} is not in the cluster")
            continue
        started = node.get("jvm_start_time_in_millis")
        if started is None or started <= before:
            reasons.append(f"node {name} has not restarted yet (JVM started at {started}, before: {before})")
    return reasons


def wait_for(client, wanted: HealthWanted, timeout: float, interval: float, clock=time.monotonic, sleep=time.sleep):
    """Poll ``snapshot`` until ``wanted`` holds; return ``(snapshot, seconds waited, polls)``.

    Connection errors and server errors (a restarting node, no cluster manager elected yet) count
    as "not yet". Raises :class:`HealthTimeout` naming what was still missing after ``timeout``.
    """
    start = clock()
    polls = 0
    snap = None
    while True:
        polls += 1
        try:
            snap = snapshot(client)
            reasons = unmet(snap, wanted)
        except Exception as exc:  # noqa: BLE001 -- every client/server error means "not yet" here
            reasons = [f"cluster not answering: {error_message(exc)}"]
        waited = clock() - start
        if not reasons:
            return snap, round(waited, 1), polls
        if waited >= timeout:
            raise HealthTimeout(f"after {round(waited)}s ({polls} polls): {'; '.join(reasons)}", snap)
        sleep(min(interval, max(timeout - waited, 0)))


def settings_changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The flat settings of ``wanted`` that differ from ``current`` (both ``{key: value}``).

    ``current`` is what ``GET _cluster/settings?flat_settings=true`` returns for one scope
    (persistent or transient); a wanted ``None`` means "not set" (reset to the default).
    """
    current_flat = flatten_dotted(current)
    changes = {}
    for key, value in flatten_dotted(wanted).items():
        if current_flat.get(key) != value:
            changes[key] = value
    return changes
