"""At-least-once delivery for a Kafka -> shipper -> OpenSearch pipeline whose consumer commits too early.

Why: Tenzir's ``from_kafka`` (6.x) commits a message's offset once it has *read* it, not once the
sink (``to_opensearch``) has acknowledged it, and keeps reading while the sink retries. Measured
here: OpenSearch SIGKILLed while a Zeek conn log was shipping -> the run exited with an error after
the group's committed offset had reached the end of the topic, with thousands of records never
indexed. A rewind by a time window is not enough (the run read far past the failure point).

What this module does around each run of the shipper (the ``run`` supervisor below calls both
steps itself; they remain CLI actions for a manual rewind or a unit that runs the shipper directly):

- ``prestart``: move the consumer group back to the *safe point* kept in a small state file, i.e.
  where the last run that ended cleanly stopped, or, after a failed run, where that run started. So a
  failed run is replayed in full. Then record the start position as the new safe point.
- ``poststop`` after a clean end (exit status 0: Tenzir drains its pipeline into the
  sink on SIGTERM before it exits), so everything it committed was delivered: the committed offsets
  become the safe point. A failed run leaves the safe point where the run started.

Replays are harmless: documents carry deterministic ids (SHA-256 of the record) and are written with
action ``index``, so a replayed record overwrites itself. The replay after a failure is bounded by
how long a run lives: the supervisor stops a run cleanly after ``--max-run-seconds`` (the tenzir
role's ``tenzir_runtime_max_sec``), so a healthy pipeline moves its safe point periodically.

``run`` is the shipper unit's main process: a supervisor that loops health check -> ``prestart`` ->
one *drain run* of the shipper (it reads its topic to the end and exits) -> ``poststop``, pausing
between runs (longer while the topic is idle, up to ``--idle-pause-max``) and forwarding SIGTERM to
the shipper, which drains into the sink and exits 0. One long-lived process per pipeline keeps the
unit ``active`` and the journal quiet (a line per run that shipped, failed or replayed).

Pure logic (:func:`plan_rewind`, :func:`safe_after_stop`, :func:`next_pause`) is separate from the
client calls, which use confluent-kafka (librdkafka). Stand-alone CLI (no Ansible; needs
python3-confluent-kafka)::

    python3 kafka_replay.py prestart --bootstrap k1:9092 --group g --topic zeek-conn --state /var/lib/x.json
    python3 kafka_replay.py poststop --bootstrap k1:9092 --group g --topic zeek-conn --state /var/lib/x.json \
        --exit-code "$EXIT_CODE" --exit-status "$EXIT_STATUS"
    python3 kafka_replay.py run --bootstrap k1:9092 --group g --topic zeek-conn --state /var/lib/x.json \
        --health-curlrc /etc/x/health.curlrc --pause 5 --idle-pause-max 15 -- tenzir -f conn.tql
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
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


def records_shipped(start: Offsets, safe: Offsets) -> int:
    """Messages a clean run consumed: how far the safe point moved past where the run started."""
    return sum(max(0, int(safe.get(p, o)) - int(o)) for p, o in start.items())


# Failed runs in a row (sink healthy, shipper started) after which the journal says the shipper is stuck.
STUCK_AFTER_FAILED_RUNS = 3


def next_pause(current: float, base: float, idle_max: float, clean: bool, shipped: int) -> float:
    """Pause before the next run: ``base`` after work or a failure, doubling (to ``idle_max``) while idle."""
    if not clean or shipped > 0:
        return base
    return min(max(current * 2, base), max(idle_max, base))


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


class Supervisor:
    """The unit's main process: health check, rewind, one drain run, move the safe point, pause, repeat."""

    def __init__(
        self,
        command: list[str],
        bootstrap: str,
        group: str,
        topic: str,
        state_path: str,
        client_config: dict[str, str] | None = None,
        health_command: list[str] | None = None,
        pause: float = 5.0,
        idle_pause_max: float = 15.0,
        max_run_seconds: float = 3600.0,
        verbose: bool = False,
        out=None,
    ):
        self.command = command
        self.bootstrap, self.group, self.topic, self.state_path = bootstrap, group, topic, state_path
        self.client_config = client_config or {}
        self.health_command = health_command
        self.pause, self.idle_pause_max, self.max_run_seconds = pause, idle_pause_max, max_run_seconds
        self.verbose = verbose
        self.out = out or sys.stdout
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None
        self.runs = 0
        self.failed_in_a_row = 0  # runs that started and failed, since the last clean one
        self._last_health_error: str | None = None

    def log(self, **event) -> None:
        print(json.dumps({"topic": self.topic, **event}, sort_keys=True), file=self.out, flush=True)

    def stop(self, *_args) -> None:
        """SIGTERM/SIGINT: let the running shipper drain and exit (it gets SIGTERM), then end the loop."""
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    def healthy(self) -> bool:
        if not self.health_command:
            return True
        proc = subprocess.run(self.health_command, capture_output=True, text=True, check=False)  # noqa: S603 -- the unit's own curl call
        if proc.returncode == 0:
            if self._last_health_error is not None:
                self.log(event="sink healthy again")
            self._last_health_error = None
            return True
        error = f"health check {os.path.basename(self.health_command[0])} exited {proc.returncode}: {proc.stderr.strip()[:300]}"
        if error != self._last_health_error:  # once per distinct failure, not every pause
            self.log(event="sink not ready, not starting the shipper", error=error)
        self._last_health_error = error
        return False

    def run_once(self) -> tuple[bool, int]:
        """One cycle; returns (clean, records shipped). A cycle that did not start the shipper is not clean."""
        if not self.healthy():
            return False, 0
        try:
            rewound = prestart(self.bootstrap, self.group, self.topic, self.state_path, self.client_config)
            start = _offsets(load_state(self.state_path).get("safe", {}))
        except Exception as exc:  # noqa: BLE001 -- a broker/state error is logged and retried after the pause
            self.log(event="prestart failed", error=f"{type(exc).__name__}: {exc}")
            return False, 0
        if rewound:
            self.log(event="rewound to the safe point", rewound=rewound)
        if self.stopping.is_set():
            return True, 0
        began = time.monotonic()
        self.runs += 1
        self.child = subprocess.Popen(self.command)  # noqa: S603 -- the unit's own command line
        try:
            status = self.child.wait(timeout=self.max_run_seconds)
        except subprocess.TimeoutExpired:  # a run that never reaches the end: stop it cleanly, move on
            self.child.send_signal(signal.SIGTERM)
            status = self.child.wait()
        self.child = None
        exit_code, exit_status = ("exited", str(status)) if status >= 0 else ("killed", str(-status))
        try:
            result = poststop(
                self.bootstrap, self.group, self.topic, self.state_path, exit_code, exit_status, self.client_config
            )
        except Exception as exc:  # noqa: BLE001 -- the safe point stays where the run started: replayed next
            self.log(event="poststop failed", error=f"{type(exc).__name__}: {exc}", run=self.runs)
            return False, 0
        clean = result["clean"]
        shipped = records_shipped(start, result["safe"]) if clean else 0
        self.failed_in_a_row = 0 if clean else self.failed_in_a_row + 1
        if self.verbose or not clean or shipped:
            self.log(
                event="run ended",
                run=self.runs,
                exit=f"{exit_code} {exit_status}",
                clean=clean,
                messages=shipped,
                seconds=round(time.monotonic() - began, 1),
            )
        if self.failed_in_a_row == STUCK_AFTER_FAILED_RUNS:  # once per stuck spell, not every run
            self.log(
                event="shipper stuck",
                failed_runs=self.failed_in_a_row,
                hint="the sink is healthy but every run from this safe point fails: read the runs' errors "
                "in this journal - typically a record OpenSearch refuses (a field whose type conflicts "
                "with the index mapping); the topic does not move on until it is fixed",
            )
        return clean, shipped

    def run_forever(self) -> int:
        pause = self.pause
        while not self.stopping.is_set():
            clean, shipped = self.run_once()
            pause = next_pause(pause, self.pause, self.idle_pause_max, clean, shipped)
            self.stopping.wait(pause)
        return 0


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
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:  # run: the shipper command line follows "--"
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description="Replay guard for a Kafka log shipper (see module docstring).")
    parser.add_argument("action", choices=["prestart", "poststop", "run"])
    parser.add_argument("--bootstrap", required=True, help="host:port[,host:port]")
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--state", required=True, help="state file (JSON), one per pipeline")
    parser.add_argument("--config", help="librdkafka key=value properties file (TLS/SASL)")
    parser.add_argument("--exit-code", default="", help="poststop: systemd's $EXIT_CODE")
    parser.add_argument("--exit-status", default="", help="poststop: systemd's $EXIT_STATUS")
    parser.add_argument("--health-curlrc", help="run: curl --config file; the shipper starts only if it succeeds")
    parser.add_argument("--pause", type=float, default=5.0, help="run: seconds between runs")
    parser.add_argument("--idle-pause-max", type=float, default=15.0, help="run: longest pause while idle")
    parser.add_argument("--max-run-seconds", type=float, default=3600.0, help="run: stop a run cleanly after this")
    parser.add_argument("--verbose", action="store_true", help="run: log every run, also idle ones")
    args = parser.parse_args(argv)
    if args.action == "run" and not command:
        parser.error("run needs the shipper command after --, e.g. -- tenzir -f conn.tql")
    try:
        config = read_client_config(args.config)
        if args.action == "run":
            health = ["curl", "--silent", "--show-error", "--fail", "--config", args.health_curlrc]
            supervisor = Supervisor(
                command,
                args.bootstrap,
                args.group,
                args.topic,
                args.state,
                config,
                health if args.health_curlrc else None,
                args.pause,
                args.idle_pause_max,
                args.max_run_seconds,
                args.verbose,
            )
            signal.signal(signal.SIGTERM, supervisor.stop)
            signal.signal(signal.SIGINT, supervisor.stop)
            return supervisor.run_forever()
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
