"""Verify the converged MISP hub and spokes: HTTPS from the site CA, authentication, workers,
ZeroMQ publishing and nothing but HTTPS reachable from another container."""

import json
import secrets
import shlex

import pytest

testinfra_hosts = ["podman://misp-hub", "podman://misp-spoke1"]

CA = "/etc/ssl/misp/ca.crt"
SECRETS = "/etc/socforge/misp"
ADDRESSES = {"misp-hub": "10.89.111.10", "misp-spoke1": "10.89.111.11"}


def _name(host):
    return host.check_output("hostname")


def curl(host, path, key=None, method="GET", body=None, target=None, cacert=CA, accept="application/json"):
    """(HTTP status, parsed JSON or text) of a request to https://<target or this host><path>."""
    cmd = ["curl", "-s", "-w", "\\n%{http_code}", "-X", method]
    if accept:
        cmd += ["-H", f"Accept: {accept}"]
    if cacert:
        cmd += ["--cacert", cacert]
    if key is not None:
        cmd += ["-H", f"Authorization: {key}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    cmd.append(f"https://{target or _name(host)}{path}")
    result = host.run(" ".join(shlex.quote(c) for c in cmd))
    text, _, status = result.stdout.rpartition("\n")
    return int(status or 0), (json.loads(text) if text[:1] in ("{", "[") else text)


def api_key(host):
    return host.check_output(f"cat {SECRETS}/admin_api_key").strip()


def test_https_with_the_site_ca(host):
    status, _ = curl(host, "/users/login", accept=None)
    assert status == 200
    # the certificate does not verify without the site CA
    assert host.run(f"curl -s -o /dev/null https://{_name(host)}/users/login").rc == 60
    # HTTPS only: nothing on port 80
    assert host.run(f"curl -s -o /dev/null http://{_name(host)}/").rc == 7


def test_anonymous_and_wrong_key_refused(host):
    status, _ = curl(host, "/events/index")
    assert status in (401, 403)
    status, _ = curl(host, "/events/index", key="0123456789abcdef0123456789abcdef01234567")
    assert status in (401, 403)
    status, body = curl(host, "/servers/getVersion", key=api_key(host))
    assert status == 200 and body["version"] == "2.5.1"


def test_admin_key_and_secrets_are_root_only(host):
    assert host.file(SECRETS).mode == 0o700 and host.file(SECRETS).user == "root"
    for name in ("admin_api_key", "admin_password", "database_password", "supervisor_password", "salt"):
        f = host.file(f"{SECRETS}/{name}")
        assert f.mode == 0o600 and f.user == "root", name
    assert len(api_key(host)) == 40
    db = host.file("/var/www/MISP/app/Config/database.php")
    assert db.mode == 0o640 and db.user == "root" and db.group == "www-data"


def test_host_organisation_and_baseurl(host):
    status, body = curl(host, "/users/view/me", key=api_key(host))
    assert status == 200
    expected = "SOCForge Hub" if _name(host) == "misp-hub" else f"SOCForge {_name(host)}"
    assert body["Organisation"]["name"] == expected
    assert body["User"]["email"] == "admin@admin.test"
    config = json.loads(
        host.check_output("php /usr/local/libexec/socforge/misp-config.php /var/www/MISP/app/Config/config.php get")
    )
    assert config["MISP"]["baseurl"] == f"https://{_name(host)}"
    assert config["Security"]["advanced_authkeys"] is True
    assert config["Plugin"]["ZeroMQ_supervisor_managed"] is True


def test_workers_and_zeromq_publisher_running(host):
    out = host.check_output("supervisorctl status")
    lines = [line.split() for line in out.splitlines()]
    states = {parts[0]: parts[1] for parts in lines}
    for queue in ("default", "email", "cache", "prio", "update"):
        assert states.get(f"misp-workers:{queue}_00") == "RUNNING", out
    assert states.get("misp-zmq") == "RUNNING", out
    # MISP sees its workers through supervisor's loopback HTTP interface
    status, workers = curl(host, "/servers/getWorkers", key=api_key(host))
    assert status == 200
    assert workers["default"]["ok"] is True, workers["default"]


def test_only_https_is_reachable_from_another_container(host):
    me = _name(host)
    other = "misp-spoke1" if me == "misp-hub" else "misp-hub"
    target = ADDRESSES[other]
    # this container reaches the other's HTTPS (the sync path) with the site CA ...
    status, _ = curl(host, "/users/login", target=other, accept=None)
    assert status == 200
    # ... and none of its MariaDB, Redis, supervisor or ZeroMQ ports
    for port in (3306, 6379, 9001, 50000):
        assert host.run(f"nc -z -w 3 {target} {port}").rc != 0, f"{other}:{port} is reachable from {me}"
    listening = host.check_output("ss -Hltn")
    for port in (3306, 6379, 9001, 50000):
        addrs = {
            line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")
        }
        assert addrs and addrs <= {"127.0.0.1", "[::1]"}, (port, addrs)


ZMQ_PROBE = r"""
import json, ssl, sys, time, urllib.request
import zmq

key, value = sys.argv[1], sys.argv[2]
sub = zmq.Context().socket(zmq.SUB)
sub.connect("tcp://127.0.0.1:50000")
sub.setsockopt_string(zmq.SUBSCRIBE, "")
time.sleep(2)  # let the subscription reach the publisher
ctx = ssl.create_default_context(cafile="/etc/ssl/misp/ca.crt")


def api(path, body):
    req = urllib.request.Request("https://localhost" + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": key, "Accept": "application/json",
                                          "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, context=ctx, timeout=60))


event = api("/events/add", {"info": "molecule zmq probe", "distribution": 0, "threat_level_id": 4, "analysis": 0})
eid = event["Event"]["id"]
attr = api(f"/attributes/add/{eid}", {"type": "ip-dst", "value": value, "to_ids": True})
aid = attr["Attribute"]["id"]
api(f"/attributes/edit/{aid}", {"comment": "changed by the molecule probe"})
seen = []
deadline = time.time() + 60
while time.time() < deadline:
    if sub.poll(1000):
        topic, _, payload = sub.recv_string().partition(" ")
        seen.append(topic)
        if topic == "misp_json_attribute":
            data = json.loads(payload)
            a = data.get("Attribute", {})
            if a.get("value") == value and a.get("comment") == "changed by the molecule probe":
                print(json.dumps({"ok": True, "topics": seen, "action": data.get("action")}))
                break
else:
    print(json.dumps({"ok": False, "topics": seen}))
api(f"/events/delete/{eid}", {})
"""


@pytest.mark.parametrize("target", ["misp-hub"])
def test_zeromq_subscriber_receives_an_attribute_change(host, target):
    if _name(host) != target:
        pytest.skip("ZeroMQ is probed on the hub")
    out = host.check_output(f"/usr/bin/python3 -c {shlex.quote(ZMQ_PROBE)} {shlex.quote(api_key(host))} 198.51.100.77")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"], result
    assert result["action"] == "edit"


def test_a_sync_server_can_be_added_over_rest(host):
    """The CI rehearsal's HTTP 500: with Security.encryption_key set, MISP 2.5.1 stores a sync server's
    auth key encrypted (binary) and json-encodes the stored record into the answer of servers/add and
    servers/edit ("Malformed UTF-8"), after saving. The role leaves the key unset."""
    config = json.loads(
        host.check_output("php /usr/local/libexec/socforge/misp-config.php /var/www/MISP/app/Config/config.php get")
    )
    assert config["Security"].get("encryption_key") in (None, ""), "Security.encryption_key is set"
    key, peer = api_key(host), f"verify-peer-{secrets.token_hex(4)}"
    status, org = curl(host, "/admin/organisations/add", key, "POST", {"name": peer, "local": False})
    assert status == 200, org
    org_id = org["Organisation"]["id"]
    url = f"https://{peer}.invalid"
    try:
        body = {"name": peer, "url": url, "authkey": "A" * 40, "remote_org_id": org_id, "push": True}
        status, added = curl(host, "/servers/add", key, "POST", body)
        assert status == 200 and added["Server"]["url"] == url, (status, added)
        status, edited = curl(host, f"/servers/edit/{added['Server']['id']}", key, "POST", {"authkey": "B" * 40})
        assert status == 200 and edited["Server"]["id"] == added["Server"]["id"], (status, edited)
    finally:
        _, servers = curl(host, "/servers/index", key)
        for server in servers if isinstance(servers, list) else []:
            if server["Server"]["url"] == url:
                curl(host, f"/servers/delete/{server['Server']['id']}", key, "POST", {})
        curl(host, f"/admin/organisations/delete/{org_id}", key, "POST", {})
