"""At-least-once delivery for a Kafka -> shipper -> OpenSearch pipeline whose consumer commits too early.

Why: Tenzir's ``from_kafka`` (6.x) commits a message's offset once it has *read* it, not once the
sink (``to_opensearch``) has acknowledged it, and keeps reading while the sink retries. Measured
here: OpenSearch SIGKILLed while a Zeek conn log was shipping -> the run exited with an error after
the group's committed offset had reached the end of the topic, with thousands of records never
indexed. A rewind by a time window is not enough (the run read far past the failure point).

What this module does, around each run of the shipper (systemd: ExecStartPre / ExecStopPost):

- ``prestart``: move the consumer group back to the *safe point* kept in a small state file, i.e.
  where the last run that ended cleanly stopped, or, after a failed run, where that run started. So a
  failed run is replayed in full. Then record the start position as the new safe point.
- ``poststop --clean``: the run ended cleanly (exit status 0: Tenzir drains its pipeline into the
  sink on SIGTERM before it exits), so everything it committed was delivered: the committed offsets
  become the safe point. A failed run leaves the safe point where the run started.

Replays are harmless: documents carry deterministic ids (SHA-256 of the record) and are written with
action ``index``, so a replayed record overwrites itself. The replay after a failure is bounded by
how long a run lives: the unit sets ``RuntimeMaxSec`` so a healthy pipeline restarts cleanly (and
moves its safe point) periodically.

Pure logic (:func:`plan_rewind`, :func:`safe_after_stop`) is separate from the client calls, which
use confluent-kafka (librdkafka). Stand-alone CLI (no Ansible; needs python3-confluent-kafka)::

    python3 kafka_replay.py prestart --bootstrap k1:9092 --group g --topic zeek-conn --state /var/lib/x.json
    python3 kafka_replay.py poststop --bootstrap k1:9092 --group g --topic zeek-conn --state /var/lib/x.json \
        --exit-code "$EXIT_CODE" --exit-status "$EXIT_STATUS"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass

Offsets = dict[int, int]  # partition -> offset


@dataclass(frozen=True)
class Rewind:
    partition: int
    committed: int
    target: int

    @property
    def replayed(self) -> int:
        return self.committed - self.target


def plan_rewind(committed: Offsets, safe: Offsets | None, low: Offsets) -> list[Rewind]:
    """Commits that move each partition back to its safe point (never forward, never below retention)."""
    if not safe:
        return []
    plan = []
    for partition, offset in sorted(committed.items()):
        if offset < 0 or partition not in safe:
            continue
        target = max(min(offset, int(safe[partition])), low.get(partition, 0))
        if target < offset:
            plan.append(Rewind(partition, offset, target))
    return plan


def start_position(committed: Offsets, plan: list[Rewind]) -> Offsets:
    """Where the next run starts: the committed offsets after the rewind."""
    start = dict(committed)
    for r in plan:
        start[r.partition] = r.target
    return start


def safe_after_stop(previous_safe: Offsets | None, committed: Offsets, exit_code: str, exit_status: str) -> Offsets:
    """The safe point after a run ended: its committed offsets if it exited 0, else unchanged."""
    if exit_code == "exited" and str(exit_status) == "0":
        return dict(committed)
    return dict(previous_safe or {})


# --- state file ----------------------------------------------------------------------------------


def load_state(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            state = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable replay state ({exc}); fix or remove it") from None
    if not isinstance(state, dict) or not isinstance(state.get("safe", {}), dict):
        raise ValueError(f"{path}: replay state is not a JSON object with a 'safe' mapping")
    return state


def save_state(path: str, state: dict) -> None:
    """Atomic replace: a crash mid-write leaves the previous state."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".replay-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _offsets(raw: dict) -> Offsets:
    return {int(k): int(v) for k, v in raw.items()}


# --- broker calls --------------------------------------------------------------------------------


def _consumer(bootstrap: str, group: str, client_config: dict[str, str] | None):
    from confluent_kafka import Consumer

    return Consumer(
        {
            **(client_config or {}),
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
    )


def read_positions(consumer, topic: str, timeout: float = 10.0) -> tuple[Offsets, Offsets]:
    """(committed, low watermark) per partition; committed is -1 where the group never committed."""
    from confluent_kafka import TopicPartition

    meta = consumer.list_topics(topic, timeout=timeout)
    if topic not in meta.topics or meta.topics[topic].error is not None:
        raise LookupError(f"topic {topic!r} not found on the brokers")
    partitions = sorted(meta.topics[topic].partitions)
    committed = {
        tp.partition: tp.offset
        for tp in consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
    }
    low = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[0] for p in partitions}
    return committed, low


def prestart(bootstrap, group, topic, state_path, client_config=None) -> list[dict]:
    """Rewind the group to the safe point; the start position becomes the new safe point."""
    from confluent_kafka import TopicPartition

    state = load_state(state_path)
    consumer = _consumer(bootstrap, group, client_config)
    try:
        committed, low = read_positions(consumer, topic)
        plan = plan_rewind(committed, _offsets(state.get("safe", {})), low)
        if plan:
            # Refused (UNKNOWN_MEMBER_ID) while a crashed member's session is still alive: the unit fails
            # and systemd retries after RestartSec, by which time the session has expired.
            consumer.commit(offsets=[TopicPartition(topic, r.partition, r.target) for r in plan], asynchronous=False)
    finally:
        consumer.close()
    # Never committed: the run starts at the low watermark (auto.offset.reset=earliest), so that is safe.
    start = {p: (o if o >= 0 else low[p]) for p, o in start_position(committed, plan).items()}
    save_state(state_path, {"topic": topic, "group": group, "safe": {str(p): o for p, o in start.items()}})
    return [
        {"topic": topic, "partition": r.partition, "from": r.committed, "to": r.target, "replayed": r.replayed}
        for r in plan
    ]


def poststop(bootstrap, group, topic, state_path, exit_code, exit_status, client_config=None) -> dict:
    """After a run: a clean exit moves the safe point to the committed offsets."""
    state = load_state(state_path)
    previous = _offsets(state.get("safe", {}))
    if exit_code == "exited" and str(exit_status) == "0":
        consumer = _consumer(bootstrap, group, client_config)
        try:
            committed, _low = read_positions(consumer, topic)
        finally:
            consumer.close()
        committed = {p: o for p, o in committed.items() if o >= 0}
    else:
        committed = {}
    safe = safe_after_stop(previous, committed, exit_code, exit_status)
    save_state(state_path, {"topic": topic, "group": group, "safe": {str(p): o for p, o in safe.items()}})
    return {"clean": exit_code == "exited" and str(exit_status) == "0", "safe": safe}


def read_client_config(path: str | None) -> dict[str, str]:
    """librdkafka settings from a ``key=value`` properties file (TLS/SASL for these calls)."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay guard for a Kafka log shipper (see module docstring).")
    parser.add_argument("action", choices=["prestart", "poststop"])
    parser.add_argument("--bootstrap", required=True, help="host:port[,host:port]")
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--state", required=True, help="state file (JSON), one per pipeline")
    parser.add_argument("--config", help="librdkafka key=value properties file (TLS/SASL)")
    parser.add_argument("--exit-code", default="", help="poststop: systemd's $EXIT_CODE")
    parser.add_argument("--exit-status", default="", help="poststop: systemd's $EXIT_STATUS")
    args = parser.parse_args(argv)
    try:
        config = read_client_config(args.config)
        if args.action == "prestart":
            result = {"rewound": prestart(args.bootstrap, args.group, args.topic, args.state, config)}
        else:
            result = poststop(
                args.bootstrap, args.group, args.topic, args.state, args.exit_code, args.exit_status, config
            )
    except (LookupError, ValueError, OSError) as exc:
        print(f"kafka_replay {args.action}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- a broker error is reported, never a traceback in the journal
        print(f"kafka_replay {args.action}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"group": args.group, "topic": args.topic, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
