"""A real OpenSearch on 127.0.0.1 for integration tests, started from the cached integ-test-zip.

The artifact comes from ``scripts/fetch-opensearch`` (Maven) into ``.cache/artifacts/opensearch/``.
Java is the host's (Debian's openjdk-17). The node is single-node, small-heap, plain HTTP on a free
loopback port; data lives in a per-session temporary directory and is removed at teardown.

Fixtures:
  ``opensearch_server`` (session): an :class:`OpenSearchServer` (``.url``, ``.client()``,
  ``.stop()``/``.start()`` keeping data and port, for fault tests).
  ``opensearch_client`` (function): an ``opensearch-py`` client on that server.

``SOCFORGE_OPENSEARCH_URL=http://127.0.0.1:9200`` reuses a server that is already running instead.
``SOCFORGE_OPENSEARCH_HEAP`` (default ``512m``) sets the JVM heap.
OpenSearch refuses to run as root: under root the node runs as ``SOCFORGE_TEST_USER`` (default
``nobody``) in a directory it owns under /tmp.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from process_group import kill_process_group, stop_process_group

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".cache" / "artifacts" / "opensearch"
POM = REPO / "tests" / "artifacts" / "opensearch" / "pom.xml"


def _pom_property(name: str) -> str:
    text = POM.read_text(encoding="utf-8")
    start = text.index(f"<{name}>") + len(name) + 2
    return text[start : text.index(f"</{name}>", start)]


OPENSEARCH_VERSION = _pom_property("opensearch.version")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _java_home() -> str:
    java = shutil.which("java")
    if not java:
        raise RuntimeError("java not found on PATH (apt-get install openjdk-17-jre-headless)")
    return str(Path(os.path.realpath(java)).parent.parent)


def unpack_distribution(dest: Path, version: str = OPENSEARCH_VERSION) -> Path:
    """Unpack the cached integ-test-zip into ``dest`` and return OPENSEARCH_HOME."""
    archive = ARTIFACTS / f"opensearch-{version}.zip"
    if not archive.is_file():
        raise FileNotFoundError(f"{archive} is missing: run scripts/fetch-opensearch first")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    home = dest / f"opensearch-{version}"
    # Modules fetched beside the zip (ingest-common, see scripts/fetch-opensearch) go into modules/.
    extra_modules = ARTIFACTS / "modules"
    if extra_modules.is_dir():
        for module in extra_modules.iterdir():
            if not (home / "modules" / module.name).exists():
                shutil.copytree(module, home / "modules" / module.name)
    for script in (home / "bin").iterdir():  # zipfile does not keep the executable bit
        if script.is_file() and not script.suffix:
            script.chmod(0o755)
    return home


class OpenSearchServer:
    """One OpenSearch node under test; restartable on the same port and data directory."""

    def __init__(self, workdir: Path, heap: str = "512m", version: str = OPENSEARCH_VERSION):
        self.workdir = workdir
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam(os.environ.get("SOCFORGE_TEST_USER", "nobody"))
        self.version = version
        self.heap = heap
        self.home = unpack_distribution(workdir / "dist", version)
        self.data = workdir / "data"
        self.logs = workdir / "logs"
        self.http_port = _free_port()
        self.transport_port = _free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.process: subprocess.Popen | None = None
        self._write_config()
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        if self.user:
            for path in [workdir, *workdir.rglob("*")]:
                os.lchown(path, self.user.pw_uid, self.user.pw_gid)

    def _write_config(self) -> None:
        settings = {
            "cluster.name": "socforge-test",
            "node.name": "socforge-test-node",
            "path.data": str(self.data),
            "path.logs": str(self.logs),
            "network.host": "127.0.0.1",
            "http.port": str(self.http_port),
            "transport.port": str(self.transport_port),
            "discovery.type": "single-node",
            # A shared CI disk may be over the default watermarks; tests must not go read-only.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }
        config = self.home / "config" / "opensearch.yml"
        config.write_text("".join(f"{k}: {v}\n" for k, v in settings.items()), encoding="utf-8")

    def start(self, timeout: float = 180.0) -> None:
        if self.process and self.process.poll() is None:
            return
        env = dict(os.environ)
        env.pop("JAVA_TOOL_OPTIONS", None)
        env["OPENSEARCH_JAVA_HOME"] = _java_home()
        env["OPENSEARCH_JAVA_OPTS"] = f"-Xms{self.heap} -Xmx{self.heap}"
        out = open(self.logs / "stdout.log", "ab")  # noqa: SIM115 -- kept open for the child's lifetime
        self.process = subprocess.Popen(
            [str(self.home / "bin" / "opensearch")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
            **({"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if self.user else {}),
        )
        out.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client(timeout=5)
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"OpenSearch exited with {self.process.returncode}; log tail:\n{self.log_tail()}")
            try:
                health = client.cluster.health()
                if health["status"] in ("yellow", "green"):
                    return
            except Exception:  # noqa: BLE001 -- any connection error means "not up yet"
                pass
            time.sleep(1)
        raise TimeoutError(f"OpenSearch not ready after {timeout}s; log tail:\n{self.log_tail()}")

    def stop(self, timeout: float = 60.0) -> None:
        stop_process_group(self.process, timeout)

    def kill(self) -> None:
        """Hard crash (SIGKILL), for fault tests."""
        kill_process_group(self.process)

    def log_tail(self, lines: int = 40) -> str:
        log = self.logs / "stdout.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def client(self, **kwargs) -> OpenSearch:
        return OpenSearch(hosts=[self.url], **kwargs)


class ExternalOpenSearch:
    """An already-running server named by SOCFORGE_OPENSEARCH_URL (not started or stopped here)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.version = None

    def client(self, **kwargs) -> OpenSearch:
        return OpenSearch(hosts=[self.url], **kwargs)

    def start(self, timeout: float = 0) -> None:
        pass

    def stop(self, timeout: float = 0) -> None:
        pytest.skip("cannot stop an external OpenSearch (SOCFORGE_OPENSEARCH_URL)")

    kill = stop


@pytest.fixture(scope="session")
def opensearch_server():
    external = os.environ.get("SOCFORGE_OPENSEARCH_URL")
    if external:
        yield ExternalOpenSearch(external)
        return
    # Not tmp_path_factory: its directories are 0700 root, which the unprivileged node cannot enter.
    workdir = Path(tempfile.mkdtemp(prefix="socforge-opensearch-"))
    workdir.chmod(0o755)
    server = OpenSearchServer(workdir, heap=os.environ.get("SOCFORGE_OPENSEARCH_HEAP", "512m"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def opensearch_client(opensearch_server):
    client = opensearch_server.client(timeout=30)
    yield client
    client.close()
