"""Kafka is SASL_SSL with ACLs unless the inventory says otherwise (issue 12, security defaults).

- roles/soc's soc_kafka_security_protocol is the one default; the brokers (roles/kafka), both shippers,
  Zeek's producer (roles/zeek) and the site model's plan check follow it;
- on the example site, as Ansible resolves it: brokers SASL_SSL with ACLs on, client users and ACLs for
  Zeek and the shipper, the shippers SASL_SSL pinning the site CA, Zeek's producer logging in;
- the lab says PLAINTEXT, and its plan report warns; the example site's does not.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils import site_model

REPO = Path(__file__).resolve().parents[3]


def _defaults(role):
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())


def test_one_default_that_every_kafka_party_follows():
    assert _defaults("soc")["soc_kafka_security_protocol"] == "SASL_SSL"
    assert site_model.DEFAULT_KAFKA_SECURITY_PROTOCOL == _defaults("soc")["soc_kafka_security_protocol"]
    assert _defaults("kafka")["kafka_security_protocol"] == "{{ soc_kafka_security_protocol }}"
    assert _defaults("logstash")["logstash_kafka_security_protocol"] == "{{ soc_kafka_security_protocol }}"
    assert _defaults("tenzir")["tenzir_kafka_security_protocol"] == "{{ soc_kafka_security_protocol | lower }}"
    assert _defaults("zeek")["zeek_kafka_security_protocol"] == "{{ soc_kafka_security_protocol | lower }}"
    assert _defaults("zeek")["zeek_kafka_ca_path"] == "{{ soc_ca_path }}"


def _resolve(inventory: str, tmp_path: Path) -> dict:
    """Every broker's and shipper's Kafka security settings as Ansible resolves them: the roles are in
    the plays (their defaults loaded), their tasks skipped (--tags probe)."""
    out = tmp_path / inventory
    out.mkdir()
    keys = {
        "kafka_brokers": (
            ["socforge.core.kafka"],
            ["kafka_security_protocol", "kafka_acl_enabled", "kafka_acls", "kafka_sasl_users", "kafka_tls_ca_src"],
        ),
        "log_shippers": (
            ["socforge.core.tenzir", "socforge.core.logstash"],
            [
                "tenzir_kafka_security_protocol",
                "tenzir_kafka_sasl_username",
                "tenzir_kafka_ca_path",
                "logstash_kafka_security_protocol",
                "logstash_kafka_sasl_username",
            ],
        ),
        "zeek_managers": (
            ["socforge.core.zeek"],
            [
                "zeek_kafka_enabled",
                "zeek_kafka_security_protocol",
                "zeek_kafka_sasl_username",
                "zeek_kafka_ca_path",
                "zeek_kafka_ca_src",
                "zeek_kafka_options",
            ],
        ),
    }
    plays = [
        {
            "hosts": group,
            "gather_facts": False,
            "connection": "local",
            "roles": roles,
            "post_tasks": [
                {
                    "name": "resolve",
                    "ansible.builtin.copy": {
                        "content": "{{ {" + ", ".join(f"'{k}': {k}" for k in names) + "} | to_json }}",
                        "dest": str(out) + "/{{ inventory_hostname }}.json",
                        "mode": "0600",
                    },
                    "delegate_to": "localhost",
                    "tags": ["probe"],
                }
            ],
        }
        for group, (roles, names) in keys.items()
    ]
    playbook = tmp_path / f"{inventory}.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    run = subprocess.run(
        ["ansible-playbook", "-i", str(REPO / "inventories" / inventory), str(playbook), "--tags", "probe"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def test_the_example_site_runs_kafka_with_sasl_ssl_and_acls(tmp_path):
    hosts = _resolve("example-site", tmp_path)
    for broker in ("kafka01", "kafka02", "kafka03"):
        got = hosts[broker]
        assert got["kafka_security_protocol"] == "SASL_SSL" and got["kafka_acl_enabled"] is True, got
        assert got["kafka_tls_ca_src"].endswith("/inventories/example-site/.pki/opensearch/ca.crt")
        users = {u["name"] for u in got["kafka_sasl_users"]}
        assert users == {"zeek", "shipper"}
        grants = {(a["principal"], a["resource_type"], a["name"], tuple(a["operations"])) for a in got["kafka_acls"]}
        assert ("User:zeek", "topic", "zeek-", ("Write", "Describe")) in grants
        assert ("User:shipper", "topic", "zeek-", ("Read", "Describe")) in grants
        assert not [g for g in grants if g[0] == "User:zeek" and "Read" in g[3]], "Zeek only writes"
    for shipper in ("logstash01", "logstash02"):
        got = hosts[shipper]
        assert (
            got["tenzir_kafka_security_protocol"] == "sasl_ssl"
            and got["logstash_kafka_security_protocol"] == "SASL_SSL"
        )
        assert got["tenzir_kafka_sasl_username"] == got["logstash_kafka_sasl_username"] == "shipper"
        assert got["tenzir_kafka_ca_path"] == "/etc/ssl/socforge/ca.pem"
    zeek = hosts["zeek-mgr01"]
    assert zeek["zeek_kafka_enabled"] and zeek["zeek_kafka_security_protocol"] == "sasl_ssl"
    assert zeek["zeek_kafka_sasl_username"] == "zeek" and zeek["zeek_kafka_options"] == {}
    assert zeek["zeek_kafka_ca_path"] == "/etc/ssl/socforge/ca.pem"
    # the CA the brokers' certificates come from
    assert zeek["zeek_kafka_ca_src"] == hosts["kafka01"]["kafka_tls_ca_src"]


def test_the_lab_says_plaintext_and_the_shippers_follow(tmp_path):
    hosts = _resolve("lab", tmp_path)
    assert hosts["lab-kafka"]["kafka_security_protocol"] == "PLAINTEXT"
    assert hosts["lab-kafka"]["kafka_acl_enabled"] is False
    assert hosts["lab-logstash"]["tenzir_kafka_security_protocol"] == "plaintext"
    managers = [h for h in hosts if "zeek_kafka_security_protocol" in hosts[h]]
    assert managers and all(hosts[h]["zeek_kafka_security_protocol"] == "plaintext" for h in managers)


def _plan(inventory: str, out: Path) -> str:
    run = subprocess.run(
        ["ansible-playbook", "-i", str(REPO / "inventories" / inventory), str(REPO / "playbooks" / "plan.yml"),
         "-e", f"soc_plan_dir={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return (out / "report.md").read_text()


def test_the_lab_plan_warns_about_plaintext_kafka(tmp_path):
    report = _plan("lab", tmp_path / "lab")
    lines = [line for line in report.splitlines() if line.startswith("- warning: kafka on")]
    assert lines == [
        "- warning: kafka on lab-kafka: PLAINTEXT as the inventory sets it (the default is SASL_SSL with ACLs)"
        " - no TLS: Zeek's logs cross the data network in clear; no logins: any host that reaches the brokers"
        " can read and write every topic"
    ]


@pytest.mark.parametrize(
    ("given", "warned"),
    [
        ({}, None),
        ({"soc_kafka_security_protocol": "SASL_SSL"}, None),
        ({"kafka_security_protocol": "sasl_ssl", "kafka_acl_enabled": "True"}, None),
        ({"soc_kafka_security_protocol": "PLAINTEXT"}, "PLAINTEXT as the inventory sets it"),
        ({"kafka_acl_enabled": False}, "SASL_SSL without ACLs as the inventory sets it"),
        ({"kafka_security_protocol": "SSL"}, "no logins"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_acl_enabled": "yes"}, "no TLS"),
        # the broker's own setting wins over the site's
        ({"soc_kafka_security_protocol": "SASL_SSL", "kafka_security_protocol": "PLAINTEXT"}, "PLAINTEXT"),
    ],
)
def test_warnings_name_the_brokers_and_what_is_open(given, warned):
    hosts = {
        "k1": {"groups": ["kafka_brokers"], "kafka": dict(given)},
        "k2": {"groups": ["kafka_brokers"], "kafka": dict(given)},
        "shipper": {"groups": ["log_shippers"], "kafka": {"soc_kafka_security_protocol": "PLAINTEXT"}},
    }
    warnings = site_model.kafka_security_warnings(hosts)
    if warned is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith("kafka on k1, k2: ") and warned in warnings[0]
