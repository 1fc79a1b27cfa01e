"""Zeek's Kafka producer login as the real Zeek reads it (7.2.2 and 8.1.2, both with the zeek-kafka
plugin): local.zeek rendered for sasl_ssl loads the login script, and ``Kafka::kafka_conf`` holds the
protocol, mechanism, user, CA and the password byte for byte - for passwords with double and single
quotes, backslashes, ``$``, spaces, a tab and non-ASCII. Every password goes through the role's real
login template; one Zeek run per build reads them all (a global after each login script takes the
value at parse time, as Zeek evaluates global initialisers in load order)."""

from __future__ import annotations

import base64
import subprocess

import pytest
from zeek_site import render, unexpected_stderr, write_site, zeek_env

pytestmark = pytest.mark.integration

PASSWORDS = [
    'pa"ss',
    "it's",
    "back\\slash\\",
    "dollar$HOME${X}`id`%s",
    "  spaced  ",
    "tab\there",
    'x\\"y\\\\"',  # an escaped quote, as written by a naive quoter
    "päss€😀",
    "mixed'\"\\$ ;",
]
LOGIN = "opt/zeek/share/zeek/site/socforge-kafka-login.zeek.j2"
CA = "/etc/ssl/socforge/ca.pem"


def test_the_producer_login_reaches_kafka_conf_byte_for_byte(zeek, tmp_path):
    site = write_site(
        tmp_path,
        zeek,
        zeek_intel_enabled=False,
        zeek_kafka_enabled=True,
        zeek_kafka_brokers=["127.0.0.1:9"],
        zeek_kafka_security_protocol="sasl_ssl",
        zeek_kafka_sasl_password=PASSWORDS[-1],
        zeek_kafka_ca_path=CA,
        zeek_kafka_logs=["conn"],  # no traffic, no conn.log: the writer never starts
    )
    assert (site.root / "socforge-kafka-login.zeek").is_file() and "@load ./socforge-kafka-login" in site.local_text
    assert "mixed" not in site.local_text
    probe = ["global seen_site = Kafka::kafka_conf;"]
    for i, password in enumerate(PASSWORDS):
        (tmp_path / f"login_{i}.zeek").write_text(render("zeek", LOGIN, zeek_kafka_sasl_password=password))
        probe += [f"@load ./login_{i}", f'global seen_{i} = Kafka::kafka_conf["sasl.password"];']
    probe.append("event zeek_init()\n\t{")
    probe.append('\tfor ( k, v in seen_site )\n\t\tprint fmt("site %s %s", k, encode_base64(v));')
    probe += [f'\tprint fmt("login {i} %s", encode_base64(seen_{i}));' for i in range(len(PASSWORDS))]
    probe.append("\t}")
    (tmp_path / "probe.zeek").write_text("\n".join(probe) + "\n")

    res = subprocess.run(
        [str(zeek.zeek), str(site.local), str(tmp_path / "probe.zeek")],
        cwd=tmp_path,
        env=zeek_env(zeek, site),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0 and not unexpected_stderr(res.stderr), res.stderr
    seen = {}
    for line in res.stdout.splitlines():
        where, key, value = line.split(" ")
        seen[(where, key)] = base64.b64decode(value).decode()
    assert {k: v for (w, k), v in seen.items() if w == "site"} == {
        "metadata.broker.list": "127.0.0.1:9",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "zeek",
        "sasl.password": PASSWORDS[-1],
        "ssl.ca.location": CA,
    }
    assert [seen[("login", str(i))] for i in range(len(PASSWORDS))] == PASSWORDS
