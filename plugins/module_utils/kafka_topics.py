"""Kafka topic reconciliation: compare a wanted topic with what the brokers hold, plan the changes.

Pure logic (no Ansible, no client); ``plugins/modules/kafka_topic.py`` feeds it what confluent-kafka's
AdminClient reports and applies the plan. Kafka cannot shrink a topic's partitions or change its
replication factor in place; both are refused with a message naming the topic, never "fixed" by
deleting data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class TopicError(ValueError):
    """A wanted topic is invalid or cannot be reached from the current one; the message names it."""


@dataclass(frozen=True)
class TopicState:
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)  # dynamic (non-default) topic configs only


@dataclass(frozen=True)
class TopicPlan:
    create: bool = False
    add_partitions_to: int | None = None
    set_config: dict[str, str] = field(default_factory=dict)  # the complete wanted dynamic config
    config_changes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.create or self.add_partitions_to is not None or bool(self.config_changes)


def normalize_config(config: dict | None, name: str) -> dict[str, str]:
    """Kafka configs are strings on the wire: ints/bools normalised (True -> "true")."""
    out = {}
    for key, value in (config or {}).items():
        if not isinstance(key, str) or not key:
            raise TopicError(f"topic {name}: config keys must be non-empty strings, got {key!r}")
        if value is None:
            raise TopicError(f"topic {name}: config {key} has no value")
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def validate(name: str, partitions: int, replication_factor: int, brokers: int | None = None) -> None:
    if not isinstance(name, str) or not _TOPIC.match(name) or name in (".", ".."):
        raise TopicError(f"topic {name!r}: use 1-249 characters of letters, digits, '.', '_' and '-'")
    if int(partitions) < 1:
        raise TopicError(f"topic {name}: partitions must be >= 1, got {partitions}")
    if int(replication_factor) < 1:
        raise TopicError(f"topic {name}: replication_factor must be >= 1, got {replication_factor}")
    if brokers is not None and int(replication_factor) > brokers:
        raise TopicError(f"topic {name}: replication_factor {replication_factor} > {brokers} broker(s) in the cluster")


def plan(name: str, wanted: TopicState, current: TopicState | None) -> TopicPlan:
    """What to do to make ``current`` (None: absent) into ``wanted``."""
    want_config = normalize_config(wanted.config, name)
    if current is None:
        changes = {k: (None, v) for k, v in want_config.items()}
        return TopicPlan(create=True, set_config=want_config, config_changes=changes)
    if wanted.partitions < current.partitions:
        raise TopicError(
            f"topic {name}: has {current.partitions} partitions, {wanted.partitions} wanted; "
            "Kafka cannot remove partitions (create a new topic and move consumers)"
        )
    if wanted.replication_factor != current.replication_factor:
        raise TopicError(
            f"topic {name}: replication factor is {current.replication_factor}, {wanted.replication_factor} wanted; "
            "change it with a partition reassignment (kafka-reassign-partitions), not this role"
        )
    have = dict(current.config)
    changes = {
        k: (have.get(k), want_config.get(k))
        for k in sorted(set(have) | set(want_config))
        if have.get(k) != want_config.get(k)
    }
    return TopicPlan(
        add_partitions_to=wanted.partitions if wanted.partitions > current.partitions else None,
        set_config=want_config,
        config_changes=changes,
    )
