"""opensearch_ism_policy main() against a loopback double of the ISM REST API (see ism_double.py)."""

import pytest
from ansible_collections.socforge.core.plugins.modules import opensearch_ism_policy as mod
from ism_double import IsmDouble

from tests.unit.plugins.modules.utils import fail_module as run_module_fail
from tests.unit.plugins.modules.utils import run_module

POLICY = {
    "description": "zeek conn - hot then delete after 30 days",
    "default_state": "hot",
    "states": [
        {
            "name": "hot",
            "actions": [],
            "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ],
    "ism_template": [{"index_patterns": ["zeek-conn-*"], "priority": 100}],
}


@pytest.fixture
def ism():
    double = IsmDouble()
    yield double
    double.close()


def args(ism, **extra):
    return {"hosts": [ism.url], "name": "zeek-conn-retention", "policy": POLICY, **extra}


def test_create_then_idempotent(monkeypatch, ism):
    first = run_module(monkeypatch, mod, args(ism), diff=True)
    assert first["changed"] is True
    assert first["diff"]["before"] == {}
    assert ism.policies["zeek-conn-retention"]["policy"]["default_state"] == "hot"
    # the server added retry/policy_id/last_updated_time: still no change on the second run
    second = run_module(monkeypatch, mod, args(ism))
    assert second["changed"] is False
    assert [m for m, _ in ism.requests].count("PUT") == 1


def test_check_mode_does_not_write(monkeypatch, ism):
    result = run_module(monkeypatch, mod, args(ism), check_mode=True)
    assert result["changed"] is True
    assert ism.policies == {}
    assert all(method == "GET" for method, _ in ism.requests)


def test_update_uses_seq_no_and_primary_term(monkeypatch, ism):
    run_module(monkeypatch, mod, args(ism))
    seq = ism.policies["zeek-conn-retention"]["seq_no"]
    changed = dict(POLICY, states=[dict(POLICY["states"][0]), POLICY["states"][1]])
    changed["states"][0]["transitions"] = [{"state_name": "delete", "conditions": {"min_index_age": "7d"}}]
    result = run_module(monkeypatch, mod, args(ism, policy=changed), diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["states"][0]["transitions"][0]["conditions"]["min_index_age"] == "30d"
    stored = ism.policies["zeek-conn-retention"]
    assert stored["version"] == 2
    assert stored["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"] == "7d"
    put = [path for method, path in ism.requests if method == "PUT"][-1]
    assert f"if_seq_no={seq}" in put and "if_primary_term=1" in put


def test_invalid_policy_fails_before_any_request(monkeypatch, ism):
    bad = dict(POLICY, default_state="warm")
    result = run_module_fail(monkeypatch, mod, args(ism, policy=bad))
    assert "zeek-conn-retention" in result["msg"] and "'warm'" in result["msg"]
    assert ism.requests == []


def test_absent_deletes_then_is_idempotent(monkeypatch, ism):
    run_module(monkeypatch, mod, args(ism))
    assert run_module(monkeypatch, mod, {"hosts": [ism.url], "name": "zeek-conn-retention", "state": "absent"})[
        "changed"
    ]
    assert ism.policies == {}
    assert not run_module(monkeypatch, mod, {"hosts": [ism.url], "name": "zeek-conn-retention", "state": "absent"})[
        "changed"
    ]


def test_server_down_fails_naming_the_policy(monkeypatch, ism):
    url = ism.url
    ism.close()
    result = run_module_fail(monkeypatch, mod, {"hosts": [url], "name": "p1", "policy": POLICY, "request_timeout": 2})
    assert "ISM policy 'p1'" in result["msg"]
