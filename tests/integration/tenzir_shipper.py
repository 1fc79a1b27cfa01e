"""Run roles/tenzir's shipper pipelines on the host, as the role's systemd unit runs them.

``render_pipeline`` / ``render_health_curlrc`` render the role's own templates
(``templates/etc/tenzir/shipper/``) with Ansible's templar, the role's defaults and vars, and test
overrides — the exact files a site gets. ``Shipper`` starts the unit's main process itself: the
supervisor ``kafka_replay.py run`` (``plugins/module_utils/kafka_replay.py``) with the health check,
``tenzir -f <pipeline>`` drain runs, the safe-point rewind and SIGTERM handling; it reads the
supervisor's JSON event lines (``--verbose``: one per run) back for the tests.

Tenzir comes from the ``tenzir`` wheel in .venv (it bundles the static engine).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.socforge.core.plugins.module_utils import kafka_replay
from process_group import kill_process_group

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "tenzir"
TEMPLATE = ROLE / "templates" / "etc" / "tenzir" / "shipper" / "zeek.tql.j2"
CURLRC_TEMPLATE = ROLE / "templates" / "etc" / "tenzir" / "shipper" / "opensearch-health.curlrc.j2"


def tenzir_binary() -> str:
    found = shutil.which("tenzir") or str(Path(os.sys.executable).parent / "tenzir")
    if not Path(found).exists():
        raise FileNotFoundError("tenzir not found: pip install -r requirements.txt (the tenzir wheel)")
    return found


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def role_variables(**overrides) -> dict:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    base = {
        "inventory_hostname": "pytest",
        "ansible_managed": "Managed by SOCForge (pytest)",
        "groups": {},
        "hostvars": {},
    }
    # the shared facts the role's defaults point at (its meta dependency, roles/soc)
    shared = yaml.safe_load((REPO / "roles" / "soc" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    # the test broker (kafka_server.py) listens in plain text; a test wanting SASL_SSL overrides it
    shared["soc_kafka_security_protocol"] = "PLAINTEXT"
    return _trusted({**shared, **defaults, **role_vars, **base, **overrides})


def render_pipeline(log: str, fmt: str, **overrides) -> str:
    """The shipper pipeline the role renders for Zeek log ``log`` in format ``fmt`` (json|tsv)."""
    variables = role_variables(
        __tenzir_log=log,
        __tenzir_topic=overrides.pop("topic", f"zeek-{log}"),
        __tenzir_format=fmt,
        **overrides,
    )
    templar = Templar(loader=DataLoader(), variables=variables)
    return str(templar.template(trust_as_template(TEMPLATE.read_text(encoding="utf-8"))))


def render_health_curlrc(**overrides) -> str:
    """The unit's OpenSearch health check (curl --config) as the role renders it."""
    templar = Templar(loader=DataLoader(), variables=role_variables(**overrides))
    return str(templar.template(trust_as_template(CURLRC_TEMPLATE.read_text(encoding="utf-8"))))


class Shipper:
    """One shipper pipeline run by the unit's own supervisor (``kafka_replay.py run``), like systemd runs it."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        pipeline: str,
        bootstrap: str,
        group: str,
        topic: str,
        opensearch_url: str,
        restart_sec: float = 1.0,
        idle_pause_max_sec: float = 2.0,
        max_run_seconds: float = 3600.0,
    ):
        self.workdir = workdir
        self.name = name
        self.file = workdir / f"{name}.tql"
        self.file.write_text(pipeline, encoding="utf-8")
        self.curlrc = workdir / f"{name}.curlrc"
        self.curlrc.write_text(
            render_health_curlrc(tenzir_opensearch_url=opensearch_url, tenzir_opensearch_user=""), encoding="utf-8"
        )
        self.log = workdir / f"{name}.log"
        self.state = workdir / f"{name}.replay.json"
        self.bootstrap, self.group, self.topic = bootstrap, group, topic
        self.restart_sec, self.idle_pause_max_sec, self.max_run_seconds = (
            restart_sec,
            idle_pause_max_sec,
            max_run_seconds,
        )
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            kafka_replay.__file__,
            "run",
            "--bootstrap",
            self.bootstrap,
            "--group",
            self.group,
            "--topic",
            self.topic,
            "--state",
            str(self.state),
            "--health-curlrc",
            str(self.curlrc),
            "--pause",
            str(self.restart_sec),
            "--idle-pause-max",
            str(self.idle_pause_max_sec),
            "--max-run-seconds",
            str(self.max_run_seconds),
            "--verbose",
            "--",
            tenzir_binary(),
            "-f",
            str(self.file),
        ]

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 -- kept open for the child's lifetime
        self.process = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir
        )
        out.close()

    def stop(self, timeout: float = 60.0) -> None:
        """systemctl stop (KillMode=mixed): SIGTERM to the supervisor, which lets Tenzir drain, then SIGKILL."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(self.process)

    # --- what the supervisor reported ------------------------------------------------------------

    def events(self) -> list[dict]:
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{") and '"event"' in line:
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    @property
    def exits(self) -> list[int]:
        """Exit status of every run: the code, or minus the signal that killed it."""
        codes = []
        for e in self.events():
            if e["event"] == "run ended":
                kind, status = e["exit"].split()
                codes.append(int(status) if kind == "exited" else -int(status))
        return codes

    @property
    def starts(self) -> int:
        return len(self.exits)

    @property
    def rewinds(self) -> list[dict]:
        return [r for e in self.events() if e["event"] == "rewound to the safe point" for r in e["rewound"]]

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the supervisor + tenzir log, runs of repeated lines folded."""
        if not self.log.exists():
            return "(no log)"
        folded: list[list] = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if folded and folded[-1][0] == line:
                folded[-1][1] += 1
            else:
                folded.append([line, 1])
        return "\n".join(f"{text}  (x{n})" if n > 1 else text for text, n in folded[-lines:])
