#!/usr/bin/python
"""Wait until a Kafka cluster has its brokers and no under-replicated or offline partition."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kafka_cluster_health
short_description: Wait until a Kafka cluster has its brokers live and every partition fully in sync
version_added: 0.1.0
description:
  - Reads the cluster metadata with confluent-kafka's AdminClient (live brokers; per partition its
    leader, replicas and in-sync replicas) and polls until every condition holds in O(settle) reads
    in a row, or O(timeout) runs out.
  - Client errors (the broker asked is restarting) count as "not yet", so the module can gate a
    rolling restart - give it every broker in O(bootstrap_servers).
  - Read-only; never reports a change.
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.kafka
  - socforge.core.polling
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  brokers:
    description: At least this many live (registered, unfenced) brokers.
    type: int
  broker_ids:
    description: Node ids that must be live.
    type: list
    elements: int
    default: []
  in_sync:
    description: Require no under-replicated partition (ISR smaller than the replica set) and no offline one.
    type: bool
    default: true
  settle:
    description: Consecutive polls in which every condition must hold.
    type: int
    default: 2
"""

EXAMPLES = r"""
- name: Broker 2 is back and every partition has its full ISR again
  socforge.core.kafka_cluster_health:
    bootstrap_servers: 10.0.0.11:9092,10.0.0.12:9092,10.0.0.13:9092
    client_config:
      security.protocol: sasl_ssl
      ssl.ca.location: /etc/kafka/tls/ca.pem
      sasl.mechanism: PLAIN
      sasl.username: kafka-broker
    sasl_password: "{{ kafka_sasl_inter_broker_password }}"
    brokers: 3
    broker_ids: [2]
    timeout: 300
"""

RETURN = r"""
brokers:
  description: Ids of the live brokers.
  returned: always
  type: list
  elements: int
partitions:
  description: Partitions in the cluster (all topics, internal ones included).
  returned: always
  type: int
under_replicated:
  description: C(topic/partition) of the partitions whose ISR is smaller than their replica set.
  returned: always
  type: list
  elements: str
offline:
  description: C(topic/partition) of the partitions without a leader.
  returned: always
  type: list
  elements: str
waited:
  description: Seconds spent waiting.
  returned: success
  type: float
polls:
  description: How many times the metadata was read.
  returned: success
  type: int
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.socforge.core.plugins.module_utils.kafka_admin import admin_settings, connection_argument_spec
from ansible_collections.socforge.core.plugins.module_utils.kafka_health import (
    HealthTimeout,
    PartitionState,
    Wanted,
    summarize,
    wait_for,
)
from ansible_collections.socforge.core.plugins.module_utils.polling import polling_argument_spec, polling_problem

try:
    from confluent_kafka.admin import AdminClient

    HAS_KAFKA = True
    KAFKA_IMPORT_ERROR = None
except ImportError:
    HAS_KAFKA = False
    KAFKA_IMPORT_ERROR = traceback.format_exc()


def read_health(admin, request_timeout):
    meta = admin.list_topics(timeout=request_timeout)
    partitions = [
        PartitionState(
            topic=name,
            partition=p.id,
            leader=p.leader,
            replicas=tuple(p.replicas),
            isrs=tuple(p.isrs),
            error=None if p.error is None else str(p.error),
        )
        for name, topic in meta.topics.items()
        for p in topic.partitions.values()
    ]
    return summarize(meta.brokers.keys(), partitions)


def main():
    module = AnsibleModule(
        argument_spec={
            **connection_argument_spec(),
            **polling_argument_spec(),
            "brokers": {"type": "int"},
            "broker_ids": {"type": "list", "elements": "int", "default": []},
            "in_sync": {"type": "bool", "default": True},
            "settle": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    if not HAS_KAFKA:
        module.fail_json(msg=missing_required_lib("confluent-kafka"), exception=KAFKA_IMPORT_ERROR)
    p = module.params
    problem = polling_problem(p) or (None if p["settle"] >= 1 else f"settle must be >= 1 (got {p['settle']})")
    if problem:
        module.fail_json(msg=problem)
    wanted = Wanted(brokers=p["brokers"], broker_ids=tuple(p["broker_ids"]), in_sync=p["in_sync"])
    admin = AdminClient(admin_settings(p))
    request_timeout = max(min(p["interval"] * 5, 30), 5)
    try:
        health, waited, polls = wait_for(
            lambda: read_health(admin, request_timeout),
            wanted,
            timeout=p["timeout"],
            interval=p["interval"],
            settle=p["settle"] if p["timeout"] > 0 else 1,
        )
    except HealthTimeout as exc:
        module.fail_json(msg=f"kafka cluster health: {exc}", **(exc.health.as_dict() if exc.health else {}))
    module.exit_json(
        changed=False, waited=waited, polls=polls, **{k: v for k, v in health.as_dict().items() if k != "error"}
    )


if __name__ == "__main__":
    main()
