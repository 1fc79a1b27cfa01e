"""Kafka cluster health from broker metadata: live brokers, under-replicated and offline partitions.

Pure logic (no Ansible, no client): ``plugins/modules/kafka_cluster_health.py`` turns confluent-kafka's
``ClusterMetadata`` into :class:`PartitionState` values and polls with :func:`wait_for` - the gate of
roles/kafka's rolling restart (a broker is back when it is registered again and every partition has
its full ISR, before the next broker goes down).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isrs: tuple[int, ...]
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.topic}/{self.partition}"


@dataclass(frozen=True)
class Health:
    brokers: tuple[int, ...]
    partitions: int = 0
    under_replicated: tuple[str, ...] = ()  # "topic/partition" whose ISR is smaller than its replica set
    offline: tuple[str, ...] = ()  # no leader, or the broker reports an error for the partition
    error: str | None = None  # the metadata could not be read at all

    def as_dict(self) -> dict:
        return {
            "brokers": list(self.brokers),
            "partitions": self.partitions,
            "under_replicated": list(self.under_replicated),
            "offline": list(self.offline),
            "error": self.error,
        }


@dataclass(frozen=True)
class Wanted:
    brokers: int | None = None  # at least this many live (registered, unfenced) brokers
    broker_ids: tuple[int, ...] = field(default_factory=tuple)  # these ids must be live
    in_sync: bool = True  # no under-replicated and no offline partition

    def unmet(self, health: Health) -> list[str]:
        """What still does not hold (empty: everything does)."""
        if health.error is not None:
            return [f"metadata unreadable: {health.error}"]
        out = []
        if self.brokers is not None and len(health.brokers) < self.brokers:
            out.append(f"{len(health.brokers)} of {self.brokers} brokers live {sorted(health.brokers)}")
        missing = sorted(set(self.broker_ids) - set(health.brokers))
        if missing:
            out.append(f"brokers {missing} not live")
        if self.in_sync and health.under_replicated:
            out.append(f"{len(health.under_replicated)} under-replicated partitions ({_head(health.under_replicated)})")
        if self.in_sync and health.offline:
            out.append(f"{len(health.offline)} offline partitions ({_head(health.offline)})")
        return out


class HealthTimeout(TimeoutError):
    def __init__(self, message: str, health: Health | None):
        super().__init__(message)
        self.health = health


def _head(names: tuple[str, ...], n: int = 5) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def summarize(brokers: Iterable[int], partitions: Iterable[PartitionState]) -> Health:
    parts = sorted(partitions, key=lambda p: (p.topic, p.partition))
    offline = tuple(p.name for p in parts if p.error is not None or p.leader < 0)
    under = tuple(p.name for p in parts if p.name not in offline and set(p.isrs) < set(p.replicas))
    return Health(tuple(sorted(set(brokers))), len(parts), under, offline)


def wait_for(
    probe: Callable[[], Health],
    wanted: Wanted,
    timeout: float,
    interval: float = 2,
    settle: int = 2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Health, float, int]:
    """Poll ``probe`` until ``wanted`` holds in ``settle`` polls in a row (metadata reaches the brokers a
    moment after a change, so one good read right after a restart is not proof). A probe that raises
    counts as "not yet". Returns (health, seconds waited, polls); raises :class:`HealthTimeout`."""
    start = clock()
    polls = good = 0
    health: Health | None = None
    while True:
        polls += 1
        try:
            health = probe()
        except Exception as exc:  # noqa: BLE001 -- a broker restarting: any client error means "not yet"
            health = Health((), error=f"{type(exc).__name__}: {exc}")
        unmet = wanted.unmet(health)
        good = 0 if unmet else good + 1
        if good >= max(settle, 1):
            return health, round(clock() - start, 3), polls
        if clock() - start + interval > timeout:
            raise HealthTimeout(
                f"not healthy after {timeout}s ({polls} polls): {'; '.join(unmet) or 'unsettled'}", health
            )
        sleep(interval)
