#!/usr/bin/python
"""Wait for an OpenSearch cluster to reach a health state (status, nodes, restarted nodes)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: opensearch_cluster_health
short_description: Wait until an OpenSearch cluster is healthy enough (status, node count, named or restarted nodes)
version_added: 0.1.0
description:
  - Reads the cluster's health, its nodes (roles, JVM start time) and the elected cluster manager
    with opensearch-py, and polls until every condition holds or O(timeout) runs out.
  - Connection errors and server errors (a node restarting, no cluster manager elected yet) count
    as "not yet", so the module can gate a rolling restart - give it every node's URL and the
    client moves on to a live one.
  - Read-only; never reports a change.
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.opensearch
  - socforge.core.polling
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  status:
    description: Lowest acceptable cluster status (C(green) satisfies C(yellow)).
    type: str
    choices: [green, yellow, red]
    default: green
  nodes:
    description: At least this many nodes in the cluster.
    type: int
  node_names:
    description: Nodes (by C(node.name)) that must be in the cluster.
    type: list
    elements: str
    default: []
  restarted:
    description:
      - Node name -> the JVM start time (milliseconds since the epoch, as returned in RV(nodes))
        read before the node was restarted. Each node must be back with a later start time.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Wait for node os2 to be back after its restart, then for green
  socforge.core.opensearch_cluster_health:
    hosts: ["https://10.0.0.11:9200", "https://10.0.0.12:9200", "https://10.0.0.13:9200"]
    ca_path: /srv/pki/ca.crt
    client_cert: /srv/pki/admin.crt
    client_key: /srv/pki/admin.key
    status: green
    nodes: 3
    restarted:
      os2: "{{ before.nodes.os2.jvm_start_time_in_millis }}"
    timeout: 600
"""

RETURN = r"""
status:
  description: Cluster status when the conditions held.
  returned: success
  type: str
  sample: green
number_of_nodes:
  description: Nodes in the cluster.
  returned: success
  type: int
cluster_manager:
  description: Name of the elected cluster manager.
  returned: success
  type: str
nodes:
  description: Node name -> C(id), C(roles), C(jvm_start_time_in_millis).
  returned: success
  type: dict
health:
  description: The whole snapshot (also C(unassigned_shards), C(relocating_shards), C(initializing_shards)).
  returned: always
  type: dict
waited:
  description: Seconds spent waiting.
  returned: success
  type: float
polls:
  description: How many times the cluster was read.
  returned: success
  type: int
"""

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (  # noqa: E402
    OpenSearchConfigError,
    build_client,
)
from ansible_collections.socforge.core.plugins.module_utils.opensearch_cluster import (  # noqa: E402
    HealthTimeout,
    HealthWanted,
    wait_for,
)
from ansible_collections.socforge.core.plugins.module_utils.opensearch_module import connection_module  # noqa: E402
from ansible_collections.socforge.core.plugins.module_utils.polling import (  # noqa: E402
    polling_argument_spec,
    polling_problem,
)


def main():
    module = connection_module(
        {
            "status": {"type": "str", "choices": ["green", "yellow", "red"], "default": "green"},
            "nodes": {"type": "int"},
            "node_names": {"type": "list", "elements": "str", "default": []},
            "restarted": {"type": "dict", "default": {}},
            **polling_argument_spec(),
        }
    )
    params = module.params
    try:
        restarted = {str(name): int(started) for name, started in params["restarted"].items()}
    except (TypeError, ValueError):
        module.fail_json(msg="restarted: values must be JVM start times in milliseconds (integers)")
    problem = polling_problem(params)
    if problem:
        module.fail_json(msg=problem)
    try:
        wanted = HealthWanted(
            status=params["status"], nodes=params["nodes"], node_names=params["node_names"], restarted=restarted
        )
        client = build_client(params)
        snap, waited, polls = wait_for(client, wanted, timeout=params["timeout"], interval=params["interval"])
    except (OpenSearchConfigError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    except HealthTimeout as exc:
        module.fail_json(msg=f"cluster health: {exc}", health=exc.snapshot or {})
    module.exit_json(
        changed=False,
        status=snap["status"],
        number_of_nodes=snap["number_of_nodes"],
        cluster_manager=snap["cluster_manager"],
        nodes=snap["nodes"],
        health=snap,
        waited=waited,
        polls=polls,
    )


if __name__ == "__main__":
    main()
