"""Staged rollout (issue 13 part 3, docs/rollout.md): `site.yml -e soc_stage=N` touches the hosts of
stages <= N only (the inventory's constructed soc_in_stage group, so --list-hosts shows it), node.cfg
of stage 1 lists only the LHCOPN workers, and the data policy (retention, access) of each stage
reaches the roles' variables; plus the rules of plugins/module_utils/soc_rollout.py."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils import soc_rollout

from tests.unit.site.test_site_model import load_site

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "inventories" / "example-site"
BIN = Path(sys.executable).parent
LHCOPN_WORKERS = ["zeek-w01", "zeek-w02"]
STAGE1 = sorted(
    ["tap-agg01", "soc-bastion01", "zeek-mgr01", "zeek-log01", "misp-hub01", "logstash01", "logstash02"]
    + [f"kafka0{i}" for i in (1, 2, 3)]
    + [f"opensearch0{i}" for i in (1, 2, 3)]
    + LHCOPN_WORKERS
)


SOC = yaml.safe_load((REPO / "roles" / "soc" / "defaults" / "main.yml").read_text())  # the shared facts


def _run(*cmd, timeout=120):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def example_site():
    return load_site(EXAMPLE)


# --- the model ----------------------------------------------------------------------------------


def test_host_stage_is_its_earliest_link_or_its_declared_stage(example_site):
    links, hosts = example_site["links"], example_site["hosts"]
    stage = {h: soc_rollout.host_stage(s["hardware"], links, s.get("stage"), h) for h, s in hosts.items()}
    assert stage["zeek-w01"] == 1 and stage["zeek-w03"] == 2 and stage["zeek-w05"] == 3
    assert stage["kafka01"] == 1 and stage["misp-spoke01"] == 2  # declared soc_host_stage: 2
    both = {"capture_nics": [{"name": "a", "link": "janet-3"}, {"name": "b", "link": "lhcopn"}]}
    assert soc_rollout.host_stage(both, links) == 1
    assert soc_rollout.hosts_in_stage(hosts, links, "1") == STAGE1
    assert soc_rollout.hosts_in_stage(hosts, links, None) == sorted(hosts)
    with pytest.raises(soc_rollout.RolloutError, match=r"host x: capture NIC on undeclared link 'geant'"):
        soc_rollout.host_stage({"capture_nics": [{"name": "a", "link": "geant"}]}, links, None, "x")
    for bad in ("0", "two", True, 1.5, "-1"):
        with pytest.raises(soc_rollout.RolloutError, match=r"^soc_stage: '.*' is not a stage"):
            soc_rollout.hosts_in_stage(hosts, links, bad)
    with pytest.raises(soc_rollout.RolloutError, match=r"host kafka01: soc_host_stage: 'soon' is not a stage"):
        soc_rollout.host_stage({}, links, "soon", "kafka01")


def test_stage_policy_merges_later_stages_over_stage_one(example_site):
    policies = example_site["data_policies"]
    one, two, last = (soc_rollout.stage_policy(policies, s) for s in (1, 2, None))
    assert one["retention"]["opensearch_days"] == 180 and one["access"]["opensearch_analyst_masked_fields"] == []
    assert two["retention"]["opensearch_days"] == 30 and two["retention"]["opensearch_evidence_days"] == 365
    assert "uri" in two["access"]["opensearch_analyst_masked_fields"]
    assert two["personal_data"].startswith("Campus users' traffic") and last == soc_rollout.stage_policy(policies, 3)
    assert two["changes"] == [
        {
            "stage": 2,
            "changed": {
                "retention.opensearch_days": 30,
                "retention.opensearch_inventory_days": 90,
                "retention.zeek_archive_days": 30,
                "retention.kafka_hours": 24,
                "access.opensearch_analyst_masked_fields": two["access"]["opensearch_analyst_masked_fields"],
            },
        }
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop(0), r"no policy for stage 1"),
        (lambda p: p[1].update(stage=1), r"soc_data_policies\[1\].stage: stage 1 already has a policy"),
        (lambda p: p[1].update(personal_data=" "), r"soc_data_policies\[1\].personal_data: say what personal data"),
        (lambda p: p[1]["retention"].update(kafka_hours=0), r"soc_data_policies\[1\].retention.kafka_hours: '0'"),
        (lambda p: p[1]["retention"].update(tape_days=9), r"\(stage 2\).retention.tape_days: not set at stage 1"),
        (lambda p: p[0].update(retention={}), r"soc_data_policies\[0\].retention: stage 1 must set every retention"),
        (lambda p: p[1].update(retain=3), r"soc_data_policies\[1\]: unknown keys \['retain'\]"),
    ],
)
def test_bad_policies_fail_naming_the_entry(example_site, change, message):
    policies = copy.deepcopy(example_site["data_policies"])
    change(policies)
    with pytest.raises(soc_rollout.RolloutError, match=message):
        soc_rollout.stage_policy(policies, 2)


# --- the playbooks ------------------------------------------------------------------------------


def listed_hosts(playbook, *args):
    """{play name: [hosts]} from ansible-playbook --list-hosts (parsed; no host is contacted)."""
    run = _run(
        str(BIN / "ansible-playbook"), "-i", str(EXAMPLE), str(REPO / "playbooks" / playbook), "--list-hosts", *args
    )
    assert run.returncode == 0, run.stdout + run.stderr
    plays, current = {}, None
    for line in run.stdout.splitlines():
        if m := re.match(r"^\s+play #\d+ \([^)]*\): (.*?)\tTAGS:", line):
            current = plays.setdefault(m[1], [])
        elif current is not None and re.match(r"^\s{6}\S+$", line):
            current.append(line.strip())
    assert plays, run.stdout
    return plays


def test_stage_one_touches_only_lhcopn_capture_and_the_stage_one_services():
    plays = listed_hosts("site.yml", "-e", "soc_stage=1")
    touched = sorted({h for hosts in plays.values() for h in hosts} - {"localhost"})
    assert touched == sorted(set(STAGE1) - {"tap-agg01"})  # the aggregator is a network device here
    assert sorted(plays["Zeek | Workers (rolling; with -e soc_stage=N only those capturing links of stage <= N)"]) == (
        LHCOPN_WORKERS
    )
    assert plays["MISP instances"] == ["misp-hub01"]
    # stage 2 brings the Janet primaries' workers and the MISP spoke; no stage: every managed host
    two = {h for hosts in listed_hosts("site.yml", "-e", "soc_stage=2").values() for h in hosts}
    assert sorted(two - set(touched) - {"localhost"}) == ["misp-spoke01", "zeek-w03", "zeek-w04"]
    full = {h for hosts in listed_hosts("site.yml").values() for h in hosts}
    assert {"zeek-w05", "zeek-w06"} <= full


def test_validation_names_a_bad_stage(tmp_path):
    run = _run(
        str(BIN / "ansible-playbook"),
        "-i",
        str(EXAMPLE),
        str(REPO / "playbooks" / "validate.yml"),
        "-e",
        "soc_stage=two",
    )
    assert run.returncode != 0
    assert "soc_stage: 'two' is not a stage (an integer >= 1)" in run.stdout + run.stderr


def test_an_inventory_without_the_constructed_group_gets_it_from_the_validation(tmp_path):
    inv = tmp_path / "inv"
    shutil.copytree(EXAMPLE, inv, ignore=shutil.ignore_patterns(".pki"))
    (inv / "zz-stage.yml").unlink()
    probe = tmp_path / "probe.yml"
    probe.write_text(
        f"- import_playbook: {REPO}/playbooks/validate.yml\n"
        "- hosts: soc_in_stage\n  gather_facts: false\n  tasks:\n"
        "    - debug: {msg: 'IN-STAGE {{ inventory_hostname }}'}\n      delegate_to: localhost\n"
    )
    run = _run(str(BIN / "ansible-playbook"), "-i", str(inv), str(probe), "-e", "soc_stage=1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(set(re.findall(r"IN-STAGE (\S+?)['\"]?$", run.stdout, re.M))) == STAGE1


def test_each_stage_policy_reaches_the_roles_variables(tmp_path):
    out = {}
    for stage in (1, 2):
        probe = tmp_path / f"probe{stage}.yml"
        probe.write_text(
            "- hosts: opensearch01:kafka01:zeek-log01\n  connection: local\n  gather_facts: false\n"
            # the role defaults the inventory's settings are built from (a play's vars_files would also
            # override the inventory, as role defaults never do)
            f"  vars: {{kafka_zeek_logs: {json.dumps(SOC['soc_zeek_logs'])},"
            f" soc_zeek_index_prefix: {SOC['soc_zeek_index_prefix']}}}\n"
            "  tasks:\n    - copy:\n        content: >-\n          {{ {\n"
            "            'os_days': opensearch_zeek_retention_days | default(none),\n"
            "            'os_x509': (opensearch_zeek_log_settings | default({})).x509 | default(none),\n"
            "            'masked': (opensearch_security_roles | default({})).socforge_analyst.index_permissions"
            " | default(none),\n"
            "            'zeek_days': zeek_log_expire_days | default(none),\n"
            "            'kafka_conn': (kafka_topic_overrides | default({})).conn | default(none)} | to_json }}\n"
            f"        dest: '{tmp_path}/{stage}-{{{{ inventory_hostname }}}}.json'\n"
            "        mode: '0644'\n"
        )
        run = _run(
            str(BIN / "ansible-playbook"),
            "-i",
            str(EXAMPLE),
            str(probe),
            "-e",
            f"soc_stage={stage} ansible_become=false ansible_python_interpreter={sys.executable}",
        )
        assert run.returncode == 0, run.stdout + run.stderr
        for host in ("opensearch01", "kafka01", "zeek-log01"):
            out[(stage, host)] = json.loads((tmp_path / f"{stage}-{host}.json").read_text())
    assert int(out[(1, "opensearch01")]["os_days"]) == 180 and int(out[(2, "opensearch01")]["os_days"]) == 30
    assert int(out[(1, "opensearch01")]["os_x509"]["retention_days"]) == 365
    assert int(out[(2, "opensearch01")]["os_x509"]["retention_days"]) == 90
    assert out[(1, "opensearch01")]["masked"] == [{"index_patterns": ["zeek-*"], "allowed_actions": ["read"]}]
    masked = out[(2, "opensearch01")]["masked"][0]["masked_fields"]
    assert {"query", "uri", "user_agent", "mailfrom", "subject"} <= set(masked)
    assert int(out[(1, "zeek-log01")]["zeek_days"]) == 90 and int(out[(2, "zeek-log01")]["zeek_days"]) == 30
    assert out[(1, "kafka01")]["kafka_conn"] == {"retention_hours": 72}
    assert out[(2, "kafka01")]["kafka_conn"] == {"retention_hours": 24}
