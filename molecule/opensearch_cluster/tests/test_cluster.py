"""Verify the three-node cluster: membership and roles, an elected cluster manager, replicas on
other nodes, writes on one node read on another, TLS on transport and HTTP, no anonymous access.

The nodes share node1's network namespace (see molecule.yml): transport on 127.0.0.1:9300-9302,
HTTP on 10.89.105.10:9200-9202 (and loopback).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import pytest
from opensearch_http import CA, CERTS  # noqa: E402 -- molecule/shared is put on sys.path above
from opensearch_http import curl as curl_on  # noqa: E402

NODES = ["opensearch_cluster-node1", "opensearch_cluster-node2", "opensearch_cluster-node3"]
testinfra_hosts = [f"podman://{n}" for n in NODES]

HTTP = {n: 9200 + i for i, n in enumerate(NODES)}
TRANSPORT = {n: 9300 + i for i, n in enumerate(NODES)}
SERVICE_ADDRESS = "10.89.105.10"


def me(host):
    return host.backend.get_hostname()


def curl(host, path, user=None, method="GET", body=None, port=None):
    """(HTTP status, JSON or text) of a request to this node's HTTP port, or to ``port``."""
    return curl_on(host, path, user=user, method=method, body=body, port=port or HTTP[me(host)])


def test_service_running_as_opensearch_user(host):
    svc = host.service("opensearch")
    assert svc.is_running and svc.is_enabled
    assert host.process.get(comm="java").user == "opensearch"
    settings = host.file("/etc/opensearch/opensearch.yml").content_string
    assert f"node.name: {me(host)}" in settings
    assert "-Xmx384m" in host.file("/etc/opensearch/jvm.options.d/socforge.options").content_string


def test_green_with_three_nodes_as_every_node_sees_it(host):
    status, health = curl(host, "/_cluster/health?wait_for_status=green&timeout=60s", user="analyst")
    assert status == 200
    assert health["status"] == "green"
    assert health["number_of_nodes"] == 3 and health["number_of_data_nodes"] == 3


def test_every_node_is_cluster_manager_eligible_and_data_and_one_is_elected(host):
    status, nodes = curl(host, "/_cat/nodes?format=json&h=name,node.role,cluster_manager,port", user="admin")
    assert status == 200
    assert sorted(n["name"] for n in nodes) == NODES
    for node in nodes:
        # d = data, i = ingest, m = cluster-manager-eligible
        assert node["node.role"] == "dim", node
        assert node["port"] == str(TRANSPORT[node["name"]])
    elected = [n["name"] for n in nodes if n["cluster_manager"] == "*"]
    assert len(elected) == 1
    status, manager = curl(host, "/_cat/cluster_manager?format=json", user="admin")
    assert manager[0]["node"] == elected[0]


def test_http_on_the_service_address_with_a_site_ca_certificate(host):
    code = host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {CA} https://{SERVICE_ADDRESS}:{HTTP[me(host)]}/"
    )
    assert code == "401"
    # without the CA the certificate does not verify
    assert host.run(f"curl -s -o /dev/null https://127.0.0.1:{HTTP[me(host)]}/").rc == 60


@pytest.mark.parametrize("path", ["/", "/_cluster/health", "/zeek-conn-*/_search", "/_cat/nodes"])
def test_no_anonymous_access(host, path):
    status, _ = curl(host, path)
    assert status == 401


def test_transport_tls_with_the_site_ca_and_client_certificates(host):
    """Transport speaks TLS only, with this node's site-CA certificate, and wants a client
    certificate from the site CA: no certificate or a foreign one is refused, plaintext too."""
    port = TRANSPORT[me(host)]
    # stdin stays open a few seconds so that a TLS 1.3 server's alert after the handshake is read
    s_client = f"sleep 3 | timeout 20 openssl s_client -connect 127.0.0.1:{port} -CAfile {CA}"
    ok = host.run(f"{s_client} -cert {CERTS}/node.crt -key {CERTS}/node.key 2>&1")
    assert "Verify return code: 0 (ok)" in ok.stdout
    assert f"subject=OU = socforge, CN = {me(host)}" in ok.stdout
    assert "issuer=CN = SOCForge site CA" in ok.stdout
    assert "alert" not in ok.stdout

    anonymous = host.run(f"{s_client} 2>&1")
    assert "alert certificate required" in anonymous.stdout

    host.check_output(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/OU=socforge/CN=rogue'"
        " -keyout /tmp/rogue.key -out /tmp/rogue.crt 2>/dev/null"
    )
    rogue = host.run(f"{s_client} -cert /tmp/rogue.crt -key /tmp/rogue.key 2>&1")
    host.run("rm -f /tmp/rogue.key /tmp/rogue.crt")
    assert "alert certificate unknown" in rogue.stdout

    # a plaintext transport answers an HTTP request with "This is not an HTTP port"; TLS drops it
    plain = host.run(f"curl -sS -m 10 http://127.0.0.1:{port}/")
    assert plain.rc in (52, 56) and "not an HTTP port" not in plain.stdout


def test_write_on_one_node_read_on_the_others_with_the_replica_elsewhere(host):
    if me(host) != NODES[0]:
        pytest.skip("written once, through node1; read through the other two")
    index = "zeek-conn-molecule-cluster"
    doc = {"ts": "1713484800.123456", "uid": "C1", "id.orig_h": "192.0.2.1", "id.resp_p": 22, "proto": "tcp"}
    try:
        status, _ = curl(host, f"/{index}/_doc/c1?refresh=true", user="logstash", method="PUT", body=doc)
        assert status == 201
        for node in NODES[1:]:
            status, got = curl(host, f"/{index}/_doc/c1", user="analyst", port=HTTP[node])
            assert status == 200 and got["_source"] == doc, node

        # the template's replica count, on the index, allocated on another node than the primary
        status, settings = curl(host, f"/{index}/_settings?flat_settings=true", user="admin")
        assert settings[index]["settings"]["index.number_of_replicas"] == "1"
        status, health = curl(host, f"/_cluster/health/{index}?wait_for_status=green&timeout=60s", user="admin")
        assert health["status"] == "green"
        status, shards = curl(host, f"/_cat/shards/{index}?format=json&h=prirep,state,node", user="admin")
        assert sorted(s["prirep"] for s in shards) == ["p", "r"]
        assert all(s["state"] == "STARTED" for s in shards)
        assert shards[0]["node"] != shards[1]["node"]
        assert {s["node"] for s in shards} <= set(NODES)
    finally:
        curl(host, f"/{index}", user="admin", method="DELETE")


def test_zeek_templates_carry_one_replica(host):
    status, body = curl(host, "/_index_template/zeek-*", user="admin")
    assert status == 200
    templates = {t["name"]: t["index_template"] for t in body["index_templates"]}
    for log in ("conn", "dns", "ssl", "x509", "notice", "intel"):
        settings = templates[f"zeek-{log}"]["template"]["settings"]["index"]
        assert settings["number_of_replicas"] == "1", log
        assert settings["number_of_shards"] == "1", log


def test_writer_cannot_touch_other_indices_and_analyst_cannot_write(host):
    status, _ = curl(host, "/other-index/_doc", user="logstash", method="POST", body={"a": 1})
    assert status == 403
    status, _ = curl(host, "/zeek-conn-x/_doc", user="analyst", method="POST", body={"a": 1})
    assert status == 403


def test_admin_key_only_on_the_node_that_runs_securityadmin(host):
    """securityadmin runs on the cluster's first node; the admin key (which can rewrite the security
    index) is there alone, 0600 root, and nowhere else; every node keeps its own node key."""
    admin_key = host.file("/etc/opensearch/certs/admin.key")
    if me(host) == NODES[0]:
        assert admin_key.exists and admin_key.mode == 0o600 and admin_key.user == "root"
    else:
        assert not admin_key.exists
        assert not host.file("/etc/opensearch/certs/admin.crt").exists
    assert host.file("/etc/opensearch/certs/node.key").mode == 0o640
