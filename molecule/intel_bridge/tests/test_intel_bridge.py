"""Verify roles/intel_bridge: the service as its own unprivileged account, file modes, the Zeek
package, and the daemon turning MISP ZeroMQ messages into the intel file while Zeek is unreachable
(the last good intel is kept and current)."""

import json
import time

testinfra_hosts = ["podman://intel-bridge-manager"]

INTEL = "/var/lib/socforge-intel-bridge/misp-live.intel"
SITE = "/opt/zeek/share/zeek/site/socforge-intel-bridge"

# a publisher bound where the bridge connects, sending MISP 2.5.1's shapes (topic SPACE json)
PUBLISH = r"""
import json, sys, time, uuid, zmq
ctx = zmq.Context(); s = ctx.socket(zmq.PUB); s.bind("tcp://127.0.0.1:50123")
time.sleep(3)  # the bridge reconnects every 0.5 s; its subscription must arrive first
ev_uuid, attr_uuid = sys.argv[2], sys.argv[3]
attr = {"id": "7", "type": "ip-dst", "category": "Network activity", "to_ids": True, "uuid": attr_uuid,
        "event_id": "3", "distribution": "5", "timestamp": str(int(time.time())), "comment": "", "deleted": False,
        "object_id": "0", "value": sys.argv[1]}
ev = {"id": "3", "uuid": ev_uuid, "info": "molecule", "published": True, "timestamp": str(int(time.time())),
      "publish_timestamp": str(int(time.time())), "Orgc": {"id": "1", "uuid": str(uuid.uuid4()), "name": "SOCForge"},
      "Attribute": [attr], "Object": [], "Tag": []}
for _ in range(3):
    if sys.argv[4] == "delete":
        s.send(("misp_json_attribute " + json.dumps({"Attribute": attr, "action": "delete"})).encode())
    else:
        s.send(("misp_json " + json.dumps({"Event": ev})).encode())
    time.sleep(0.5)
"""


EV, ATTR = "5d1c5f0e-1b7a-4a57-9d7e-6b1f0a5e2b01", "5d1c5f0e-1b7a-4a57-9d7e-6b1f0a5e2b02"


def _publish(host, value, ev, attr, action="publish"):
    host.check_output(f"/usr/bin/python3 -c {json.dumps(PUBLISH)} {value} {ev} {attr} {action}")


def _wait_for(host, cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        f = host.file(INTEL)
        if f.exists and cond(f.content_string):
            return True
        time.sleep(1)
    return False


def test_service_runs_unprivileged(host):
    svc = host.service("socforge-intel-bridge")
    assert svc.is_enabled and svc.is_running
    uid = host.user("socforge-intel-bridge").uid
    pid = host.check_output("systemctl show -p MainPID --value socforge-intel-bridge").strip()
    assert host.check_output(f"stat -c %u /proc/{pid}").strip() == str(uid) and uid != 0
    assert host.user("socforge-intel-bridge").shell == "/usr/sbin/nologin"


def test_secrets_and_config_modes(host):
    cred = host.file("/etc/socforge-intel-bridge/credentials.env")
    assert cred.mode == 0o600 and cred.user == "root"
    cfg = host.file("/etc/socforge-intel-bridge/bridge.json")
    assert cfg.mode == 0o640 and cfg.group == "socforge-intel-bridge"
    data = json.loads(cfg.content_string)
    assert data["transport"] == "broker" and data["zmq_url"] == "tcp://127.0.0.1:50123"
    assert data["misp_key_env"] == "SOCFORGE_INTEL_BRIDGE_MISP_KEY"


def test_zeek_package_installed(host):
    for name in ("__load__.zeek", "main.zeek", "config.zeek"):
        assert host.file(f"{SITE}/{name}").is_file
    assert f'snapshot_file = "{INTEL}"' in host.file(f"{SITE}/config.zeek").content_string


def test_zeromq_messages_reach_the_intel_file_while_zeek_is_down(host):
    _publish(host, "198.51.100.23", EV, ATTR)
    assert _wait_for(host, lambda t: "198.51.100.23\tIntel::ADDR" in t)
    assert f"198.51.100.23\tIntel::ADDR\tMISP ({EV}) - SOCForge\tmolecule" in host.file(INTEL).content_string
    log = host.check_output("journalctl -u socforge-intel-bridge --no-pager -n 200")
    assert "Zeek not reachable" in log  # retried with backoff, never fatal


def test_restart_keeps_intel_and_a_delete_removes_it(host):
    host.check_output("systemctl restart socforge-intel-bridge")
    time.sleep(2)
    assert "198.51.100.23\tIntel::ADDR" in host.file(INTEL).content_string  # restart loses nothing
    ev2, attr2 = EV[:-2] + "aa", ATTR[:-2] + "bb"
    _publish(host, "198.51.100.24", ev2, attr2)
    assert _wait_for(host, lambda t: "198.51.100.24\tIntel::ADDR" in t)
    _publish(host, "198.51.100.24", ev2, attr2, action="delete")
    assert _wait_for(host, lambda t: "198.51.100.24" not in t)
    assert "198.51.100.23\tIntel::ADDR" in host.file(INTEL).content_string
