"""playbooks/status.yml end to end without a SOC (the lab's run is the lead's): every host unreachable,
or reachable with its status tasks failing, still gives the report - table, index.html, status.json -
naming each host and what failed, and a non-zero exit; -e soc_stage=N polls that stage's hosts only.
Plus the roles' status task files run for real on this machine (zeek_intel against an intel
directory, opensearch against a closed port): their checks are lists of checks, not strings."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "inventories" / "example-site"
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def _run(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [PLAYBOOK, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def status(tmp_path, *extra):
    out = tmp_path / "status"
    run = _run("-i", str(EXAMPLE), str(REPO / "playbooks" / "status.yml"), "-e", f"soc_status_dir={out}", *extra)
    doc = json.loads((out / "status.json").read_text()) if (out / "status.json").exists() else None
    return run, doc, out


def test_unreachable_hosts_are_named_and_the_run_fails(tmp_path):
    # every host's SSH port refuses: nothing of the SOC answers
    run, doc, out = status(tmp_path, "-e", "soc_stage=1 ansible_host=127.0.0.1 ansible_port=9")
    assert run.returncode != 0
    assert doc is not None, run.stdout[-3000:]
    assert doc["overall"] == "fail" and doc["title"] == "SOC status: example-research-site (stage 1)"
    failed = sorted((c["host"], c["check"]) for c in doc["checks"] if c["status"] == "fail")
    # stage 1: the manager, the first broker, the first OpenSearch node and the MISP hub (no spoke yet)
    assert failed == [(h, "reachable") for h in ("kafka01", "misp-hub01", "opensearch01", "zeek-mgr01")]
    assert all("Connection refused" in c["detail"] for c in doc["checks"])
    assert "SOC status FAIL: host kafka01: reachable: not reachable" in run.stdout
    page = (out / "index.html").read_text()
    assert '<span id="overall" class="fail">FAIL</span>' in page and "misp-hub01" in page

    two = status(tmp_path / "two", "-e", "soc_stage=2 ansible_host=127.0.0.1 ansible_port=9")[1]
    assert "misp-spoke01" in {c["host"] for c in two["checks"]}


def test_failing_status_tasks_are_checks_naming_the_task(tmp_path):
    # the hosts are this machine: no zeek account, no MISP key; Kafka and OpenSearch not asked
    run, doc, _ = status(
        tmp_path,
        "-e",
        f"soc_stage=1 ansible_connection=local ansible_python_interpreter={sys.executable}",
        "--skip-tags",
        "kafka,opensearch",
    )
    assert run.returncode != 0 and doc is not None, run.stdout[-3000:]
    checks = {(c["component"], c["host"], c["check"]): c for c in doc["checks"]}
    misp = checks[("misp", "misp-hub01", "status tasks")]
    assert misp["status"] == "fail"
    assert misp["detail"] == (
        "Status | MISP | The admin API key (root-only file on the instance): "
        "File not found: /etc/socforge/misp/admin_api_key"
    )
    assert checks[("zeek", "zeek-mgr01", "status tasks")]["detail"].startswith("Zeek | Status | zeekctl status")
    # what --skip-tags left out is not in the report
    assert {c["component"] for c in doc["checks"]} == {"misp", "zeek"}


def test_role_status_tasks_give_lists_of_checks(tmp_path):
    intel = tmp_path / "intel"
    intel.mkdir()
    (intel / "misp-hub.intel").write_text(
        "#fields\tindicator\tindicator_type\n192.0.2.7\tIntel::ADDR\n198.51.100.9\tIntel::ADDR\n"
    )
    (intel / "empty.intel").write_text("#fields\tindicator\tindicator_type\n")
    result = tmp_path / "checks.json"
    probe = tmp_path / "probe.yml"
    probe.write_text(
        f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: socforge.core.zeek_intel
        tasks_from: status.yml
      vars:
        zeek_intel_dir: {intel}
    - ansible.builtin.include_role:
        name: socforge.core.opensearch
        tasks_from: status.yml
      vars:
        opensearch_network_host: 127.0.0.1
        opensearch_http_port: 9
        opensearch_install_root: {tmp_path}/no-opensearch
        opensearch_zeek_logs: {{conn: {{}}, dns: {{}}}}
    - ansible.builtin.copy:
        content: "{{{{ {{'intel': zeek_intel_status_checks, 'opensearch': opensearch_status_checks}} | to_json }}}}"
        dest: {result}
        mode: "0644"
"""
    )
    run = _run("-i", "localhost,", str(probe), "-e", f"ansible_python_interpreter={sys.executable}")
    assert run.returncode == 0, run.stdout[-3000:]
    got = json.loads(result.read_text())
    intel_checks = {c["check"]: c for c in got["intel"]}
    assert intel_checks["items misp-hub"] == {
        "component": "intel",
        "host": "localhost",
        "check": "items misp-hub",
        "status": "ok",
        "detail": "2 indicators in misp-hub.intel",
    }
    assert intel_checks["items empty"]["status"] == "warn"
    assert intel_checks["last sync"]["status"] == "fail"  # no socforge-intel-sync run on this machine
    os_checks = {c["check"]: c for c in got["opensearch"]}
    assert os_checks["cluster health"]["status"] == "fail"
    assert os_checks["cluster health"]["detail"].startswith("unreachable")
    assert os_checks["Zeek records arriving"]["status"] == "fail"
    assert sorted(os_checks) == ["Zeek records arriving", "cluster health", "newest conn", "newest dns"]


def test_the_lab_aggregator_ports_come_from_its_port_map(tmp_path):
    # the lab inventory with every host run on this machine (no lab container is touched): the
    # aggregator play reads this machine's counters, where the lab's tap0/tool-w1/tool-w2 are absent
    out = tmp_path / "status"
    run = _run(
        "-i",
        str(REPO / "inventories" / "lab"),
        str(REPO / "playbooks" / "status.yml"),
        "--tags",
        "aggregator",
        "-e",
        f"soc_status_dir={out} ansible_connection=local ansible_python_interpreter={sys.executable}",
    )
    assert run.returncode != 0
    doc = json.loads((out / "status.json").read_text())
    ports = {c["check"]: c for c in doc["checks"] if c["component"] == "aggregator"}
    assert sorted(ports) == [
        "port tap0 (tap lab-uplink)",
        "port tool-w1 (tool lab-zeek-w1/cap0)",
        "port tool-w2 (tool lab-zeek-w2/cap0)",
    ]
    assert all(c["status"] == "fail" and c["detail"] == "no such interface" for c in ports.values())
