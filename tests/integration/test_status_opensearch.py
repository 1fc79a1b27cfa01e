"""roles/opensearch tasks/status.yml (playbooks/status.yml's OpenSearch part) against a real OpenSearch:
its cluster health and the newest record of each Zeek log, as the status view reports them - a log
with a fresh record, one with an old record (stale), one with none."""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_status_of_a_real_opensearch(opensearch_server, opensearch_client, tmp_path):
    now_ms = int(time.time() * 1000)
    # an index prefix of its own: the OpenSearch server is shared with tests that store real Zeek logs
    prefix = f"statustest{os.getpid()}"
    for index, ts in ((f"{prefix}-conn-1", now_ms - 60_000), (f"{prefix}-weird-1", now_ms - 7_200_000)):
        opensearch_client.index(
            index=index,
            body={"@timestamp": datetime.fromtimestamp(ts / 1000, UTC).isoformat(), "uid": "CStatusTest1"},
            params={"refresh": "true"},
        )
    url = urlparse(opensearch_server.url)
    result = tmp_path / "checks.json"
    probe = tmp_path / "probe.yml"
    probe.write_text(
        f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: socforge.core.opensearch
        tasks_from: status.yml
      vars:
        opensearch_network_host: {url.hostname}
        opensearch_http_port: {url.port}
        opensearch_install_root: {tmp_path}/no-plugins
        opensearch_zeek_logs: {{conn: {{}}, weird: {{}}, dns: {{}}}}
        opensearch_zeek_index_prefix: {prefix}
        opensearch_status_stale_seconds: 900
    - ansible.builtin.copy:
        content: "{{{{ opensearch_status_checks | to_json }}}}"
        dest: {result}
        mode: "0644"
"""
    )
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            str(probe),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    checks = {c["check"]: c for c in json.loads(result.read_text())}
    health = checks["cluster health"]
    assert health["status"] in ("ok", "warn") and health["detail"].split(",")[0] in ("green", "yellow")
    assert "1 nodes" in health["detail"]
    assert checks["newest conn"]["status"] == "ok"
    age = int(checks["newest conn"]["detail"].split()[2])
    assert 55 <= age <= 300, checks["newest conn"]
    assert checks["newest weird"]["status"] == "warn"  # two hours old: stale
    assert checks["newest dns"] == {
        "component": "opensearch",
        "host": "localhost",
        "check": "newest dns",
        "status": "warn",
        "detail": "no dns records stored",
    }
    assert checks["Zeek records arriving"]["status"] == "ok"
    assert checks["Zeek records arriving"]["detail"] == "1 of 3 Zeek logs have a record younger than 900 s"
