"""roles/common's remote syslog: over TLS (rsyslog's gtls driver, the log host's certificate checked
against the CA and its name, port 6514) whenever a CA is given; in clear only when the inventory
chooses it (common_rsyslog_plaintext), otherwise the role refuses, naming both ways out. The real
forwarding is checked by molecule/common (a TLS listener receives a logged line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "common"
TEMPLATE = ROLE / "templates/etc/rsyslog.d/50-socforge.conf.j2"


def _run(tmp_path, cases: dict) -> subprocess.CompletedProcess:
    tasks = yaml.safe_load((ROLE / "tasks" / "rsyslog.yml").read_text())
    check = next(t for t in tasks if t["name"].startswith("Forward over TLS"))
    plays = []
    for name, case_vars in cases.items():
        plays.append(
            {
                "name": name,
                "hosts": "localhost",
                "gather_facts": False,
                "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
                "tasks": [
                    {**check, "vars": case_vars},
                    {
                        "name": "render",
                        "ansible.builtin.template": {
                            "src": str(TEMPLATE),
                            "dest": str(tmp_path / f"{name}.conf"),
                            "mode": "0600",
                        },
                        "vars": case_vars,
                    },
                ],
            }
        )
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip


def test_tls_with_a_ca_and_clear_text_only_by_choice(tmp_path):
    done = _run(
        tmp_path,
        {
            "tls": {"common_rsyslog_remote_host": "10.0.0.5", "common_rsyslog_tls_ca_src": "/site/ca.crt",
                    "common_rsyslog_tls_peer_name": "syslog.example.org"},
            "plain": {"common_rsyslog_remote_host": "10.0.0.5", "common_rsyslog_plaintext": True},
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tls = (tmp_path / "tls.conf").read_text()
    for setting in (
        'target="10.0.0.5" port="6514"',
        'StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"',
        'StreamDriverPermittedPeers="syslog.example.org" streamDriver.CAFile="/etc/ssl/socforge/syslog-ca.pem"',
    ):
        assert setting in tls
    plain = (tmp_path / "plain.conf").read_text()
    assert 'port="514"' in plain and "StreamDriver" not in plain and "in clear (common_rsyslog_plaintext" in plain


@pytest.mark.parametrize(
    "case",
    [
        {"common_rsyslog_remote_host": "10.0.0.5"},
        {
            "common_rsyslog_remote_host": "10.0.0.5",
            "common_rsyslog_tls_ca_src": "/ca",
            "common_rsyslog_remote_protocol": "udp",
        },
    ],
)
def test_no_ca_and_no_choice_is_refused(tmp_path, case):
    done = _run(tmp_path, {"refused": case})
    assert done.returncode != 0
    assert "common_rsyslog_tls_ca_src" in done.stdout and "common_rsyslog_plaintext: true" in done.stdout
