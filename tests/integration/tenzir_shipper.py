"""Run roles/tenzir's shipper pipelines on the host, as the role's systemd unit runs them.

``render_pipeline`` renders the role's own template (``templates/etc/tenzir/shipper/zeek.tql.j2``)
with Ansible's templar, the role's defaults and vars, and test overrides — the exact TQL a site gets.
``Shipper`` supervises ``tenzir -f <pipeline>`` like the unit does: ``ExecStartPre`` = sink health
check + ``kafka_replay prestart``, ``ExecStopPost`` = ``kafka_replay poststop`` with the exit status,
``Restart=always`` with a short back-off (``plugins/module_utils/kafka_replay.py``).

Tenzir comes from the ``tenzir`` wheel in .venv (it bundles the static engine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.socforge.core.plugins.module_utils import kafka_replay
from process_group import stop_process_group

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "tenzir"
TEMPLATE = ROLE / "templates" / "etc" / "tenzir" / "shipper" / "zeek.tql.j2"


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
    base = {"inventory_hostname": "pytest", "ansible_managed": "Managed by SOCForge (pytest)", "groups": {}}
    return _trusted({**defaults, **role_vars, **base, **overrides})


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


class Shipper:
    """One shipper pipeline under supervision: rewind, run, restart on exit (like systemd)."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        pipeline: str,
        bootstrap: str,
        group: str,
        topic: str,
        restart_sec: float = 1.0,
        ready_check=None,
    ):
        self.workdir = workdir
        self.name = name
        self.file = workdir / f"{name}.tql"
        self.file.write_text(pipeline, encoding="utf-8")
        self.log = workdir / f"{name}.log"
        self.state = workdir / f"{name}.replay.json"
        self.bootstrap, self.group, self.topic = bootstrap, group, topic
        self.restart_sec = restart_sec
        self.ready_check = ready_check  # ExecStartPre #1: the sink is up (the unit uses curl on _cluster/health)
        self.starts = 0
        self.exits: list[int] = []
        self.rewinds: list[dict] = []
        self.process: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _note(self, text: str) -> None:
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(f"[supervisor] {text}\n")

    def _run_once(self) -> None:
        if self.ready_check and not self.ready_check():
            self._note(f"sink not ready, not starting: {getattr(self.ready_check, 'last_error', '')}")
            return  # as systemd: a failed pre-step means "retry after RestartSec", offsets untouched
        try:  # ExecStartPre #2
            self.rewinds += kafka_replay.prestart(self.bootstrap, self.group, self.topic, str(self.state))
        except Exception as exc:  # noqa: BLE001 -- as systemd: a failed pre-step means "retry later"
            self._note(f"replay prestart failed: {exc}")
            return
        out = open(self.log, "ab")  # noqa: SIM115 -- kept open for the child's lifetime
        self.process = subprocess.Popen(
            [tenzir_binary(), "-f", str(self.file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.workdir,
        )
        out.close()
        self.starts += 1
        while self.process.poll() is None:
            if self._stop.wait(0.2):
                self._terminate()
        status = self.process.returncode
        self.exits.append(status)
        exit_code, exit_status = ("exited", str(status)) if status >= 0 else ("killed", str(-status))
        try:  # ExecStopPost
            kafka_replay.poststop(self.bootstrap, self.group, self.topic, str(self.state), exit_code, exit_status)
        except Exception as exc:  # noqa: BLE001 -- the safe point then stays where it was
            self._note(f"replay poststop failed: {exc}")

    def _terminate(self, timeout: float = 30.0) -> None:
        stop_process_group(self.process, timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._run_once()
            if self._stop.wait(self.restart_sec):
                break

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"shipper-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """systemctl stop: SIGTERM (Tenzir drains into the sink and exits 0), then the post-stop step."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

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
