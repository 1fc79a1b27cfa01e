"""kafka_acl module: list, then only the AclCommand runs a change needs; check mode runs none."""

import pytest
from ansible.module_utils import basic
from ansible_collections.socforge.core.plugins.modules import kafka_acl
from utils import fail_module, run_module

LISTING = """\
Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=zeek-, patternType=PREFIXED)`:
 \t(principal=User:zeek, host=*, operation=WRITE, permissionType=ALLOW)
 \t(principal=User:old, host=*, operation=READ, permissionType=ALLOW)
"""


@pytest.fixture
def runs(monkeypatch):
    calls = []

    def run_command(self, argv, **kwargs):
        calls.append(argv)
        if "--list" in argv:
            return 0, LISTING, ""
        return 0, "", ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return calls


ARGS = {
    "bootstrap_server": "k1:9092",
    "command_config": "/etc/kafka/admin-client.properties",
    "acls": [
        {
            "principal": "User:zeek",
            "resource_type": "topic",
            "name": "zeek-",
            "pattern_type": "prefixed",
            "operations": ["Write"],
        },
        {
            "principal": "User:tenzir",
            "resource_type": "group",
            "name": "socforge-",
            "pattern_type": "prefixed",
            "operations": ["Read"],
        },
    ],
}


def test_adds_the_missing_acl_and_keeps_others(monkeypatch, runs):
    result = run_module(monkeypatch, kafka_acl, ARGS)
    assert result["changed"] and result["added"] == ["ALLOW User:tenzir@* READ on GROUP:PREFIXED:socforge-"]
    assert result["removed"] == [] and result["acls"] == 3
    assert runs[0][:5] == ["timeout", "120", "/usr/bin/java", "-Xmx128m", "-cp"]
    assert runs[0][-5:] == [
        "--bootstrap-server",
        "k1:9092",
        "--command-config",
        "/etc/kafka/admin-client.properties",
        "--list",
    ]
    assert len(runs) == 2 and runs[1][-11:] == [
        "--add", "--allow-principal", "User:tenzir", "--allow-host", "*", "--operation", "Read",
        "--group", "socforge-", "--resource-pattern-type", "prefixed",
    ][-11:]  # fmt: skip


def test_exclusive_removes_strays_and_check_mode_runs_only_the_listing(monkeypatch, runs):
    result = run_module(monkeypatch, kafka_acl, {**ARGS, "exclusive": True}, check_mode=True, diff=True)
    assert result["changed"] and result["removed"] == ["ALLOW User:old@* READ on TOPIC:PREFIXED:zeek-"]
    assert "User:old" in result["diff"]["before"] and "User:old" not in result["diff"]["after"]
    assert len(runs) == 1


def test_nothing_to_do_is_not_a_change(monkeypatch, runs):
    acls = [
        {
            "principal": "User:zeek",
            "resource_type": "topic",
            "name": "zeek-",
            "pattern_type": "prefixed",
            "operations": ["Write"],
        }
    ]
    assert not run_module(monkeypatch, kafka_acl, {**ARGS, "acls": acls})["changed"]
    assert len(runs) == 1


def test_a_failing_aclcommand_is_reported(monkeypatch):
    monkeypatch.setattr(
        basic.AnsibleModule,
        "run_command",
        lambda self, argv, **kw: (1, "", "x\nSecurityDisabledException: No Authorizer"),
    )
    assert "No Authorizer" in fail_module(monkeypatch, kafka_acl, ARGS)["msg"]
