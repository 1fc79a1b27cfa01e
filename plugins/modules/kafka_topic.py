#!/usr/bin/python
"""Manage a Kafka topic: partitions, replication factor, topic configs (idempotent, check mode, diff)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kafka_topic
short_description: Manage a Kafka topic with confluent-kafka's AdminClient
version_added: 0.1.0
description:
  - Creates a topic, grows its partitions and sets its topic-level configs (e.g. C(retention.ms)).
    Reads first and only writes what differs; supports check mode and diff.
  - The module owns the topic's dynamic configs - a config set on the topic by other means and not
    in O(config) is removed.
  - Refuses (with a message naming the topic) to shrink partitions or change the replication factor,
    which Kafka cannot do in place.
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.kafka
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  name:
    description: Topic name.
    type: str
    required: true
  state:
    description: Whether the topic should exist. C(absent) deletes it and its data.
    type: str
    choices: [present, absent]
    default: present
  partitions:
    description: Number of partitions (can grow, never shrink).
    type: int
    default: 1
  replication_factor:
    description: Replicas per partition (fixed after creation).
    type: int
    default: 1
  config:
    description: Topic-level configs, for example C(retention.ms=604800000) given as a mapping.
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for each broker request.
    type: float
    default: 30
"""

EXAMPLES = r"""
- name: Zeek conn log topic, 6 partitions, 3 replicas, kept 7 days
  socforge.core.kafka_topic:
    bootstrap_servers: kafka1:9092,kafka2:9092
    name: zeek-conn
    partitions: 6
    replication_factor: 3
    config:
      retention.ms: 604800000
      min.insync.replicas: 2
"""

RETURN = r"""
topic:
  description: The topic after the run (in check mode, as it would be).
  returned: always
  type: dict
  sample: {name: zeek-conn, partitions: 6, replication_factor: 3, config: {retention.ms: "604800000"}}
changes:
  description: What changed - created, partitions, and per config key [before, after].
  returned: always
  type: dict
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.socforge.core.plugins.module_utils.kafka_admin import admin_settings, connection_argument_spec
from ansible_collections.socforge.core.plugins.module_utils.kafka_topics import (
    TopicError,
    TopicState,
    normalize_config,
    plan,
    validate,
)

try:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions, NewTopic

    HAS_KAFKA = True
    KAFKA_IMPORT_ERROR = None
except ImportError:
    HAS_KAFKA = False
    KAFKA_IMPORT_ERROR = traceback.format_exc()


def _dynamic(entry) -> bool:
    """Set on the topic itself (not a broker/static default). confluent-kafka reports the source as an int."""
    source = getattr(entry, "source", None)
    wanted = ConfigSource.DYNAMIC_TOPIC_CONFIG
    return source == wanted or source == wanted.value


def current_state(admin, name, timeout):
    meta = admin.list_topics(timeout=timeout)
    brokers = len(meta.brokers)
    topic = meta.topics.get(name)
    if topic is None or topic.error is not None:
        return None, brokers
    partitions = topic.partitions
    rf = len(partitions[min(partitions)].replicas) if partitions else 0
    resource = ConfigResource("topic", name)
    configs = admin.describe_configs([resource])[resource].result(timeout)
    config = {k: v.value for k, v in configs.items() if _dynamic(v) and v.value is not None}
    return TopicState(len(partitions), rf, config), brokers


def wait_for_partitions(admin, name, partitions, timeout):
    """Metadata reaches every broker a moment after a change; the next run must already see it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=timeout).topics.get(name)
        if topic is not None and topic.error is None and len(topic.partitions) == partitions:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the brokers did not report {partitions} partitions within {timeout}s")


def main():
    module = AnsibleModule(
        argument_spec={
            **connection_argument_spec(),
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "partitions": {"type": "int", "default": 1},
            "replication_factor": {"type": "int", "default": 1},
            "config": {"type": "dict", "default": {}},
            "timeout": {"type": "float", "default": 30},
        },
        supports_check_mode=True,
    )
    if not HAS_KAFKA:
        module.fail_json(msg=missing_required_lib("confluent-kafka"), exception=KAFKA_IMPORT_ERROR)
    p = module.params
    name, timeout = p["name"], p["timeout"]
    try:
        admin = AdminClient(admin_settings(p))
        current, brokers = current_state(admin, name, timeout)
        if p["state"] == "absent":
            changed = current is not None
            if changed and not module.check_mode:
                admin.delete_topics([name], operation_timeout=timeout)[name].result(timeout)
            module.exit_json(
                changed=changed,
                topic={"name": name, "present": False},
                changes={"deleted": changed},
                diff={"before": {"present": current is not None}, "after": {"present": False}},
            )
        validate(name, p["partitions"], p["replication_factor"], brokers if current is None else None)
        wanted = TopicState(p["partitions"], p["replication_factor"], normalize_config(p["config"], name))
        todo = plan(name, wanted, current)
        if todo.changed and not module.check_mode:
            if todo.create:
                new = NewTopic(name, wanted.partitions, wanted.replication_factor, config=todo.set_config)
                admin.create_topics([new], operation_timeout=timeout)[name].result(timeout)
            else:
                if todo.add_partitions_to is not None:
                    admin.create_partitions([NewPartitions(name, todo.add_partitions_to)])[name].result(timeout)
                if todo.config_changes:
                    resource = ConfigResource("topic", name, set_config=todo.set_config)
                    admin.alter_configs([resource])[resource].result(timeout)
            wait_for_partitions(admin, name, wanted.partitions, timeout)
    except TopicError as exc:
        module.fail_json(msg=str(exc))
    except KafkaException as exc:
        module.fail_json(msg=f"topic {name}: Kafka refused the request: {exc}")
    except Exception as exc:  # noqa: BLE001 -- timeouts / unreachable brokers reported with the topic name
        module.fail_json(msg=f"topic {name}: {type(exc).__name__}: {exc}", exception=traceback.format_exc())
    before = (
        None
        if current is None
        else {
            "partitions": current.partitions,
            "replication_factor": current.replication_factor,
            "config": current.config,
        }
    )
    after = {
        "partitions": wanted.partitions,
        "replication_factor": wanted.replication_factor,
        "config": todo.set_config,
    }
    changes = {
        "created": todo.create,
        "partitions": todo.add_partitions_to,
        "config": {k: list(v) for k, v in todo.config_changes.items()},
    }
    module.exit_json(
        changed=todo.changed,
        topic={"name": name, **after},
        changes=changes,
        diff={"before": before or {}, "after": after},
    )


if __name__ == "__main__":
    main()
