"""A real single-node KRaft Kafka on 127.0.0.1 for integration tests, from the cached broker jars.

The jars come from ``scripts/fetch-kafka`` (Maven) into ``.cache/artifacts/kafka/kafka_2.13-<v>/libs``.
Java is the host's (Debian's openjdk-17). The node is broker+controller in one process (KRaft, no
ZooKeeper), plain text on two free loopback ports, small heap; the metadata/log directory is
formatted once with the storage tool (as roles/kafka does on first start) and removed at teardown.

Fixtures:
  ``kafka_server`` (session): a :class:`KafkaServer` (``.bootstrap``, ``.admin()``, ``.create_topic()``,
  ``.stop()``/``.start()``/``.kill()`` keeping data and ports, for fault tests).

Register it by importing the fixture in ``tests/integration/conftest.py``.
``SOCFORGE_KAFKA_HEAP`` (default ``384m``) sets the JVM heap.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from process_group import kill_process_group, stop_process_group

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".cache" / "artifacts" / "kafka"
POM = REPO / "tests" / "artifacts" / "kafka" / "pom.xml"


def _pom_property(name: str) -> str:
    text = POM.read_text(encoding="utf-8")
    start = text.index(f"<{name}>") + len(name) + 2
    return text[start : text.index(f"</{name}>", start)]


KAFKA_VERSION = _pom_property("kafka.version")
KAFKA_HOME = ARTIFACTS / f"kafka_2.13-{KAFKA_VERSION}"

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kafka_libs() -> Path:
    libs = KAFKA_HOME / "libs"
    if not (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
        raise FileNotFoundError(f"{libs} has no Kafka {KAFKA_VERSION} jars: run scripts/fetch-kafka first")
    return libs


class KafkaServer:
    """One KRaft broker+controller; restartable on the same ports and log directory."""

    def __init__(self, workdir: Path, heap: str = "384m"):
        self.workdir = workdir
        self.heap = heap
        self.libs = kafka_libs()
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.data = workdir / "data"
        self.config = workdir / "server.properties"
        self.log4j = workdir / "log4j2.properties"
        self.log = workdir / "kafka.log"
        self.cluster_id = self._java("kafka.tools.StorageTool", "random-uuid").strip().splitlines()[-1]
        self.process: subprocess.Popen | None = None
        self._write_config()
        self._java("kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(self.config))

    def _write_config(self) -> None:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        self.config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
        self.log4j.write_text(LOG4J2, encoding="utf-8")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("JAVA_TOOL_OPTIONS", None)
        return env

    def _java(self, main: str, *args: str) -> str:
        cmd = ["java", "-Xmx256m", f"-Dlog4j2.configurationFile={self.log4j}", "-cp", f"{self.libs}/*", main, *args]
        self.log4j.write_text(LOG4J2, encoding="utf-8")
        done = subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{main} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, timeout: float = 90.0) -> None:
        if self.process and self.process.poll() is None:
            return
        out = open(self.log, "ab")  # noqa: SIM115 -- kept open for the child's lifetime
        self.process = subprocess.Popen(
            [
                "java",
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.log4j}",
                "-cp",
                f"{self.libs}/*",
                "kafka.Kafka",
                str(self.config),
            ],
            env=self._env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.workdir,
        )
        out.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        # log_level 2: no "connection refused" lines while the broker is still starting
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000, "log_level": 2})
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"Kafka exited with {self.process.returncode}; log tail:\n{self.log_tail()}")
            try:
                meta = admin.list_topics(timeout=2)
                if meta.brokers:
                    return
            except Exception:  # noqa: BLE001 -- any client error means "not up yet"
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Kafka not ready after {timeout}s; log tail:\n{self.log_tail()}")

    def stop(self, timeout: float = 60.0) -> None:
        """Clean shutdown (SIGTERM), as systemd stops the broker."""
        stop_process_group(self.process, timeout)

    def kill(self) -> None:
        """Hard crash (SIGKILL), for fault tests."""
        kill_process_group(self.process)

    def admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> None:
        from confluent_kafka.admin import NewTopic

        admin = self.admin()  # keep the handle alive until the future resolves
        futures = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])
        futures[name].result(30)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def kafka_server():
    workdir = Path(tempfile.mkdtemp(prefix="socforge-kafka-"))
    server = None
    try:
        server = KafkaServer(workdir, heap=os.environ.get("SOCFORGE_KAFKA_HEAP", "384m"))
        server.start()
        yield server
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def unique_name(prefix: str) -> str:
    """A topic / group / index name no other test in the session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
