"""Verify the converged OpenSearch node: TLS, no anonymous access, users/roles, Zeek templates."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from opensearch_http import CA, curl  # noqa: E402 -- molecule/shared is put on sys.path above

testinfra_hosts = ["podman://opensearch-node1"]

BASE = "https://127.0.0.1:9200"


def test_service_running_as_opensearch_user(host):
    svc = host.service("opensearch")
    assert svc.is_running and svc.is_enabled
    proc = host.process.get(comm="java")
    assert proc.user == "opensearch"
    # on the service address too, with a certificate valid for it (SAN IP); no credentials -> 401
    code = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {CA} https://10.89.95.10:9200/")
    assert code == "401"


def test_tls_signed_by_site_ca(host):
    status, health = curl(host, "/_cluster/health", user="analyst")
    assert status == 200 and health["status"] in ("green", "yellow")
    # Without the CA the certificate must not verify.
    assert host.run(f"curl -s -o /dev/null {BASE}/").rc == 60


def test_no_anonymous_access(host):
    status, _ = curl(host, "/")
    assert status == 401
    status, _ = curl(host, "/zeek-conn-*/_search")
    assert status == 401


def test_analyst_reads_but_cannot_write(host):
    status, _ = curl(host, "/zeek-conn-*/_search", user="analyst")
    assert status == 200
    status, _ = curl(host, "/zeek-conn-molecule/_doc", user="analyst", method="POST", body={"ts": 1})
    assert status == 403


def test_log_writer_indexes_with_the_zeek_template(host):
    doc = {
        "ts": "1713484800.123456",
        "uid": "C1",
        "id.orig_h": "192.0.2.1",
        "id.orig_p": 51000,
        "id.resp_h": "64.225.56.201",
        "id.resp_p": 22,
        "proto": "tcp",
        "local_orig": False,
    }
    status, _ = curl(host, "/zeek-conn-molecule/_doc?refresh=true", user="logstash", method="POST", body=doc)
    assert status == 201
    status, mapping = curl(host, "/zeek-conn-molecule/_mapping", user="admin")
    props = mapping["zeek-conn-molecule"]["mappings"]["properties"]
    assert props["id"]["properties"]["orig_h"]["type"] == "ip"
    assert props["id"]["properties"]["resp_p"]["type"] == "integer"
    assert props["ts"]["type"] == "date"
    # the writer may not touch the security index or other indices
    status, _ = curl(host, "/other-index/_doc", user="logstash", method="POST", body={"a": 1})
    assert status == 403
    curl(host, "/zeek-conn-molecule", user="admin", method="DELETE")


def test_every_zeek_template_is_installed(host):
    status, body = curl(host, "/_index_template/zeek-*", user="admin")
    assert status == 200
    names = {t["name"] for t in body["index_templates"]}
    for log in ("conn", "dns", "http", "ssl", "x509", "files", "notice", "intel", "weird", "ssh", "software"):
        assert f"zeek-{log}" in names


def test_secret_file_modes(host):
    assert host.file("/etc/opensearch/certs/admin.key").mode == 0o600
    assert host.file("/etc/opensearch/certs/node.key").mode == 0o640
    users = host.file("/etc/opensearch/opensearch-security/internal_users.yml")
    assert users.mode == 0o640 and users.group == "opensearch"
    assert "molecule-admin-Pw-1" not in users.content_string
    assert "$2y$12$" in users.content_string


def test_the_ca_key_never_reaches_the_node(host):
    found = host.run("find / -xdev -name ca.key -not -path '/proc/*' 2>/dev/null")
    assert found.stdout.strip() == ""
    assert host.file("/etc/opensearch/certs/ca.crt").exists


def test_heap_from_settings(host):
    assert "-Xmx512m" in host.file("/etc/opensearch/jvm.options.d/socforge.options").content_string


def test_single_node_is_green_with_its_audit_log(host):
    """The security plugin's audit log (created at its first start, before any template) holds no
    replica on a single node: the cluster is green, not yellow."""
    status, indices = curl(host, "/_cat/indices/security-auditlog-*?format=json", user="admin")
    assert status == 200 and indices, indices  # compliance logging wrote the security config reads
    assert {i["rep"] for i in indices} == {"0"}, indices
    status, health = curl(host, "/_cluster/health?wait_for_status=green&timeout=30s", user="admin")
    assert status == 200 and health["status"] == "green", health
    status, found = curl(host, "/_index_template/socforge-security-auditlog", user="admin")
    assert status == 200
    assert found["index_templates"][0]["index_template"]["template"]["settings"]["index"]["number_of_replicas"] == "0"
