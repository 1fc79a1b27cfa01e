"""kafka_scram_users: a rotated password or a new user runs one ConfigCommand upsert each, a removed
(recorded) user one delete; an unchanged list runs nothing; the password goes through a private file
(never argv) as a Java properties line; check mode runs nothing and writes no record."""

import json
import stat
from pathlib import Path

import pytest
from ansible.module_utils import basic
from ansible_collections.socforge.core.plugins.module_utils import kafka_scram
from ansible_collections.socforge.core.plugins.modules import kafka_scram_users
from utils import fail_module, run_module

NASTY = "pa\"ss'\\ $HOME ,]=[ päss"


@pytest.fixture
def runs(monkeypatch):
    """Every ConfigCommand argv, with the content of its --add-config-file (read while it exists)."""
    calls = []

    def run_command(self, argv, **kwargs):
        entry = {"argv": list(argv)}
        if "--add-config-file" in argv:
            path = Path(argv[argv.index("--add-config-file") + 1])
            entry["file"] = path.read_text(encoding="ascii")
            entry["mode"] = stat.S_IMODE(path.stat().st_mode)
            entry["dir_mode"] = stat.S_IMODE(path.parent.stat().st_mode)
        calls.append(entry)
        return 0, "Completed updating config for user.", ""

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return calls


def args(tmp_path, users):
    return {
        "users": [{"name": n, "password": p} for n, p in users.items()],
        "record": str(tmp_path / "scram-users.json"),
        "bootstrap_server": "k1:9092,k2:9092",
        "command_config": "/etc/kafka/admin-client.properties",
        "reserved": ["kafka-broker"],
    }


def entity(call):
    argv = call["argv"]
    return argv[argv.index("--entity-name") + 1]


def test_first_run_sets_everyone_then_nothing_until_a_password_changes(monkeypatch, runs, tmp_path):
    users = {"zeek": "zeek-Pw-1", "tenzir": NASTY}
    first = run_module(monkeypatch, kafka_scram_users, args(tmp_path, users))
    assert first["changed"] and first["upserted"] == ["zeek", "tenzir"] and first["deleted"] == []
    assert [entity(c) for c in runs] == ["zeek", "tenzir"]
    argv = runs[0]["argv"]
    assert argv[:7] == [
        "timeout",
        "120",
        "/usr/bin/java",
        "-Xmx128m",
        "-cp",
        "/opt/kafka/current/libs/*",
        "kafka.admin.ConfigCommand",
    ]
    assert argv[7:11] == [
        "--bootstrap-server",
        "k1:9092,k2:9092",
        "--command-config",
        "/etc/kafka/admin-client.properties",
    ]
    assert argv[11:17] == ["--alter", "--entity-type", "users", "--entity-name", "zeek", "--add-config-file"]
    for call in runs:
        assert all(users[entity(call)] not in part for part in call["argv"]), "a password on the command line"
        assert call["mode"] == 0o600 and call["dir_mode"] == 0o700
    assert runs[0]["file"] == "SCRAM-SHA-512=iterations=8192,password=zeek-Pw-1\n"
    # the nasty one: backslash doubled, non-ASCII as \uXXXX (the file is read as ISO-8859-1)
    assert runs[1]["file"] == "SCRAM-SHA-512=iterations=8192,password=pa\"ss'\\\\ $HOME ,]=[ p\\u00e4ss\n"
    record = Path(tmp_path / "scram-users.json")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    text = record.read_text()
    assert "zeek-Pw-1" not in text and "HOME" not in text
    assert set(json.loads(text)["users"]) == {"zeek", "tenzir"}

    runs.clear()
    again = run_module(monkeypatch, kafka_scram_users, args(tmp_path, users))
    assert not again["changed"] and again["upserted"] == [] and runs == []

    rotated = run_module(monkeypatch, kafka_scram_users, args(tmp_path, {**users, "tenzir": "rotated-Pw-2"}))
    assert rotated["changed"] and rotated["upserted"] == ["tenzir"] and [entity(c) for c in runs] == ["tenzir"]
    assert runs[0]["file"].endswith("password=rotated-Pw-2\n")


def test_users_added_later_and_removed(monkeypatch, runs, tmp_path):
    run_module(monkeypatch, kafka_scram_users, args(tmp_path, {"zeek": "zeek-Pw-1", "old": "old-Pw-1"}))
    runs.clear()
    result = run_module(monkeypatch, kafka_scram_users, args(tmp_path, {"zeek": "zeek-Pw-1", "logstash": "ls-Pw-1"}))
    assert result["upserted"] == ["logstash"] and result["deleted"] == ["old"]
    assert [(entity(c), c["argv"][-2:]) for c in runs] == [
        ("logstash", ["--add-config-file", runs[0]["argv"][-1]]),
        ("old", ["--delete-config", "SCRAM-SHA-512"]),
    ]
    assert set(json.loads((tmp_path / "scram-users.json").read_text())["users"]) == {"zeek", "logstash"}


def test_a_changed_mechanism_or_iteration_count_resets_everyone(monkeypatch, runs, tmp_path):
    users = {"zeek": "zeek-Pw-1", "tenzir": "tenzir-Pw-1"}
    run_module(monkeypatch, kafka_scram_users, args(tmp_path, users))
    runs.clear()
    result = run_module(monkeypatch, kafka_scram_users, {**args(tmp_path, users), "iterations": 16384})
    assert result["upserted"] == ["zeek", "tenzir"]


def test_check_mode_runs_nothing_and_keeps_the_record(monkeypatch, runs, tmp_path):
    result = run_module(
        monkeypatch, kafka_scram_users, args(tmp_path, {"zeek": "zeek-Pw-1"}), check_mode=True, diff=True
    )
    assert result["changed"] and result["upserted"] == ["zeek"] and runs == []
    assert not (tmp_path / "scram-users.json").exists()
    assert result["diff"] == {"before": "", "after": "zeek (new password)\n"}


def test_refusals(monkeypatch, runs, tmp_path):
    assert (
        "reserved"
        in fail_module(monkeypatch, kafka_scram_users, args(tmp_path, {"kafka-broker": "x-Pw-123456"}))["msg"]
    )
    twice = args(tmp_path, {"zeek": "a-Pw-1"})
    twice["users"] *= 2
    assert "listed twice" in fail_module(monkeypatch, kafka_scram_users, twice)["msg"]
    assert (
        "4096"
        in fail_module(monkeypatch, kafka_scram_users, {**args(tmp_path, {"zeek": "a"}), "iterations": 100})["msg"]
    )
    assert runs == []


def test_a_failing_configcommand_is_reported_and_the_record_left_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(
        basic.AnsibleModule,
        "run_command",
        lambda self, argv, **kw: (1, "", "x\nClusterAuthorizationException: not a super user"),
    )
    failed = fail_module(monkeypatch, kafka_scram_users, args(tmp_path, {"zeek": "zeek-Pw-1"}))
    assert "upsert of zeek" in failed["msg"] and "not a super user" in failed["msg"]
    assert not (tmp_path / "scram-users.json").exists()


def test_fingerprints_are_salted_per_user():
    a = kafka_scram.record_entry("same-Pw")
    b = kafka_scram.record_entry("same-Pw")
    assert a["fingerprint"] != b["fingerprint"]
    assert kafka_scram.matches("same-Pw", a) and not kafka_scram.matches("other-Pw", a)
    assert not kafka_scram.matches("same-Pw", {"salt": "not base64!"})
