"""Rewind a Kafka consumer group by a replay window before a log shipper starts.

Why: Tenzir's ``from_kafka`` (6.x) commits a message's offset once it has *read* it, not once the
sink (``to_opensearch``) has acknowledged it. Measured here: OpenSearch killed while 31,367 conn
records were in flight -> the group's committed offset was at the end of the topic and 0 records had
been indexed. To get at-least-once delivery anyway, the shipper's systemd unit runs this before every
start: for each partition with a committed offset it moves the offset back to cover the last
``window_seconds`` of messages (by Kafka timestamp, counted back from the last committed message)
and at least ``min_messages`` messages. Shipping is idempotent (deterministic document ids written
with action ``index``), so replaying records that did arrive costs work but never duplicates them.

Pure logic (:func:`plan_rewind`) is separate from the client calls (:func:`rewind_group`), which use
confluent-kafka (librdkafka) and are injected so tests can use a real broker.

CLI (used by the systemd unit, stand-alone: no Ansible, only python3-confluent-kafka)::

    python3 kafka_replay.py --bootstrap k1:9092 --group socforge-tenzir --topic zeek-conn \
        --window-seconds 600 --min-messages 100000 [--config /etc/socforge/kafka-client.properties]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionState:
    """What the broker knows about one partition for one consumer group."""

    partition: int
    committed: int | None  # None: the group never committed (auto.offset.reset applies)
    low: int  # first offset still on disk (retention may have deleted older ones)
    high: int  # next offset to be written
    last_committed_ts_ms: int | None = None  # Kafka timestamp of message committed-1
    offset_for_window: int | None = None  # first offset with timestamp >= last_committed_ts - window


@dataclass(frozen=True)
class Rewind:
    partition: int
    committed: int
    target: int

    @property
    def replayed(self) -> int:
        return self.committed - self.target


def plan_rewind(states: list[PartitionState], min_messages: int) -> list[Rewind]:
    """Offsets to commit so the next consumer replays the window. Partitions without a commit are left alone.

    target = max(low, min(committed - min_messages, offset_for_window)); never moves forward.
    """
    if min_messages < 0:
        raise ValueError(f"min_messages must be >= 0, got {min_messages}")
    plan = []
    for st in states:
        if st.committed is None or st.committed < 0:
            continue
        committed = min(st.committed, st.high)
        target = committed - min_messages
        if st.offset_for_window is not None and st.offset_for_window >= 0:
            target = min(target, st.offset_for_window)
        target = max(target, st.low)
        target = min(target, committed)
        if target < committed:
            plan.append(Rewind(st.partition, committed, target))
    return plan


def read_client_config(path: str | None) -> dict[str, str]:
    """librdkafka settings from a Java-style ``key=value`` properties file (TLS/SASL for the admin calls)."""
    config: dict[str, str] = {}
    if not path:
        return config
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith(("#", "!")):
                continue
            if "=" not in line:
                raise ValueError(f"{path}:{number}: expected key=value, got {line!r}")
            key, value = line.split("=", 1)
            config[key.strip()] = value.strip()
    return config


def collect_states(consumer, topic: str, window_ms: int, timeout: float = 10.0) -> list[PartitionState]:
    """Ask the broker for each partition's committed offset, watermarks and window start."""
    from confluent_kafka import TopicPartition

    meta = consumer.list_topics(topic, timeout=timeout)
    if topic not in meta.topics or meta.topics[topic].error is not None:
        raise LookupError(f"topic {topic!r} not found on the brokers")
    partitions = sorted(meta.topics[topic].partitions)
    committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
    states = []
    for tp in committed:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=timeout)
        offset = tp.offset if tp.offset >= 0 else None
        last_ts = window_offset = None
        if offset is not None and offset > low:
            last_ts = _timestamp_at(consumer, topic, tp.partition, offset - 1, timeout)
            if last_ts is not None:
                found = consumer.offsets_for_times([TopicPartition(topic, tp.partition, last_ts - window_ms)], timeout)
                window_offset = found[0].offset if found[0].offset >= 0 else None
        states.append(PartitionState(tp.partition, offset, low, high, last_ts, window_offset))
    return states


def _timestamp_at(consumer, topic: str, partition: int, offset: int, timeout: float) -> int | None:
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(topic, partition, offset)])
    try:
        msg = consumer.poll(timeout)
        if msg is None or msg.error():
            return None
        _kind, ts = msg.timestamp()
        return ts if ts >= 0 else None
    finally:
        consumer.unassign()


def rewind_group(
    bootstrap: str,
    group: str,
    topics: list[str],
    window_seconds: float,
    min_messages: int,
    client_config: dict[str, str] | None = None,
) -> list[dict]:
    """Rewind ``group`` on ``topics``; returns what was done, one entry per partition moved.

    Must run while no member of the group is consuming (ExecStartPre of the only shipper in the group).
    """
    from confluent_kafka import Consumer, TopicPartition

    if window_seconds < 0:
        raise ValueError(f"window_seconds must be >= 0, got {window_seconds}")
    config = {
        **(client_config or {}),
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }
    consumer = Consumer(config)
    done = []
    try:
        for topic in topics:
            states = collect_states(consumer, topic, int(window_seconds * 1000))
            plan = plan_rewind(states, min_messages)
            if plan:
                consumer.commit(
                    offsets=[TopicPartition(topic, r.partition, r.target) for r in plan], asynchronous=False
                )
            done += [
                {"topic": topic, "partition": r.partition, "from": r.committed, "to": r.target, "replayed": r.replayed}
                for r in plan
            ]
    finally:
        consumer.close()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewind a Kafka consumer group by a replay window.")
    parser.add_argument("--bootstrap", required=True, help="host:port[,host:port]")
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", action="append", required=True, help="repeatable")
    parser.add_argument("--window-seconds", type=float, default=600.0)
    parser.add_argument("--min-messages", type=int, default=100000)
    parser.add_argument("--config", help="librdkafka key=value properties file (TLS/SASL)")
    args = parser.parse_args(argv)
    try:
        done = rewind_group(
            args.bootstrap,
            args.group,
            args.topic,
            args.window_seconds,
            args.min_messages,
            read_client_config(args.config),
        )
    except (LookupError, ValueError, OSError) as exc:
        print(f"kafka_replay: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- a broker error is reported, never a traceback in the journal
        print(f"kafka_replay: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"group": args.group, "rewound": done}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
