"""kafka_scram_users against a real broker (Kafka's own ConfigCommand, the cached jars): the
--add-config-file line the module writes is accepted (a password with quotes, backslash, brackets,
commas and non-ASCII), users appear with the module's iteration count, a rotation re-sets only the
rotated user, and a user removed from the list loses its credential. Logging in with the passwords is
checked by molecule/kafka_cluster (SASL_SSL brokers); this broker listens in plain text."""

from __future__ import annotations

import re
import subprocess

import pytest
from ansible_collections.socforge.core.plugins.modules import kafka_scram_users
from kafka_server import kafka_libs
from utils import run_module

pytestmark = pytest.mark.integration


def described(bootstrap):
    out = subprocess.run(  # noqa: S603 -- fixed argv: java and the cached jars
        ["java", "-Xmx128m", "-cp", f"{kafka_libs()}/*", "kafka.admin.ConfigCommand", "--bootstrap-server",  # noqa: S607
         bootstrap, "--describe", "--entity-type", "users"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return dict(re.findall(r"user-principal '([^']+)' are (\S+)", out))


def test_users_follow_the_list_on_a_real_broker(monkeypatch, kafka_server, tmp_path):
    base = {
        "bootstrap_server": kafka_server.bootstrap,
        "classpath": f"{kafka_libs()}/*",
        "java": "java",
        "record": str(tmp_path / "scram-users.json"),
    }
    users = [{"name": "scram-zeek", "password": "zeek-Pw-1"}, {"name": "scram-odd", "password": 'q"\\ ,]=[ päss'}]
    first = run_module(monkeypatch, kafka_scram_users, {**base, "users": users})
    assert first["upserted"] == ["scram-zeek", "scram-odd"]
    seen = described(kafka_server.bootstrap)
    assert seen.get("scram-zeek") == "SCRAM-SHA-512=iterations=8192" and seen.get("scram-odd") == seen["scram-zeek"]

    rotated = [users[0], {"name": "scram-late", "password": "late-Pw-1"}]
    second = run_module(monkeypatch, kafka_scram_users, {**base, "users": rotated, "iterations": 8192})
    assert second["upserted"] == ["scram-late"] and second["deleted"] == ["scram-odd"]
    seen = described(kafka_server.bootstrap)
    assert "scram-odd" not in seen and seen.get("scram-late") == "SCRAM-SHA-512=iterations=8192"
    assert not run_module(monkeypatch, kafka_scram_users, {**base, "users": rotated})["changed"]
