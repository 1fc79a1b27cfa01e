"""Verify roles/intel_bridge on the real Zeek 8.1.2 cluster of one container (molecule.yml):

- the bridge runs as its unprivileged account, a member of Zeek's log group; secrets 0600;
- Zeek's logs are group-readable for it (0640, archives 0750/0640) across zeekctl's rotations;
- live path: MISP 2.5.1 ZeroMQ messages from a local publisher -> bridge -> zeekctl's WebSocket server
  -> Intel::insert on the manager -> the worker matches the replayed pcap -> intel.log (Zeek's own
  match) -> the bridge reads it and queues sightings for the attribute;
- a removal leaves Zeek: Zeek reports the Intel::remove, and a replay matches only what is still in.
"""

import json
import os
import shlex
import sys
import time

testinfra_hosts = ["podman://intel_bridge-manager"]

sys.path.insert(0, os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."))
from tests.integration.intel_bridge import misp_messages as mm  # noqa: E402 -- after the path set-up

USER = "socforge-intel-bridge"
DIR = "/var/lib/socforge-intel-bridge"
INTEL = f"{DIR}/misp-live.intel"
SPOOL = f"{DIR}/feedback"
LOGDIR = "/var/log/zeek"
# Indicators of ../shared/data/pcaps/wikipedia.pcap (its HTTP Host headers and DNS queries).
KEPT, REMOVED = "upload.wikimedia.org", "meta.wikimedia.org"
EVENT_UUID = "6a3e1c52-8d0b-4f7e-9a61-2b4c0d9e7f11"
ATTR_KEPT = "6a3e1c52-8d0b-4f7e-9a61-2b4c0d9e7f12"
ATTR_REMOVED = "6a3e1c52-8d0b-4f7e-9a61-2b4c0d9e7f13"

# Stands in for mispzmq.py: binds where the bridge connects. An XPUB socket hands over the bridge's
# subscriptions, so the frames go out once it has subscribed (it reconnects with backoff while no
# publisher is bound, and resubscribes after 35 s without a message): ZeroMQ drops what a PUB sends
# before that.
PUBLISHER = r"""
import json, sys, time, zmq
frames = json.load(open(sys.argv[1]))
s = zmq.Context().socket(zmq.XPUB)
s.bind("tcp://127.0.0.1:50123")
s.RCVTIMEO = 90000
wanted, topics = {f.split(" ", 1)[0] for f in frames}, set()
while not wanted <= topics:
    msg = s.recv()
    if msg[:1] == b"\x01":
        topics.add(msg[1:].decode().strip())
time.sleep(0.2)
for f in frames:
    s.send(f.encode())
time.sleep(1)
"""


def _event():
    kept = mm.new_attribute("domain", KEPT, event_id="41", attr_id="4101", uuid=ATTR_KEPT)
    removed = mm.new_attribute("domain", REMOVED, event_id="41", attr_id="4102", uuid=ATTR_REMOVED)
    ev = mm.new_event(info="molecule intel_bridge", event_id="41", attributes=[kept, removed], uuid=EVENT_UUID)
    return ev, kept, removed


def _publish(host, frames):
    name = host.check_output("mktemp --suffix=.json")  # in the container
    host.check_output(f"cat > {name} <<'EOF'\n{json.dumps([f.decode() for f in frames])}\nEOF")
    host.check_output(f"/usr/bin/python3 -c {shlex.quote(PUBLISHER)} {name}")


def _wait(what, cond, timeout=60, step=1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def _intel_matches(host):
    """Zeek's intel.log records (current and archived: logs rotate every minute here)."""
    out = host.run(f"cat {LOGDIR}/current/intel.log 2>/dev/null; zcat {LOGDIR}/*/intel.*.gz 2>/dev/null").stdout
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def _replay(host):
    res = host.run("tcpreplay -q -i cap1 --pps 200 /srv/pcaps/wikipedia.pcap")
    assert res.rc == 0, res.stderr


def _journal(host):
    return host.check_output(f"journalctl -u {USER} --no-pager -n 2000")


def test_bridge_runs_unprivileged_in_zeeks_log_group(host):
    svc = host.service(USER)
    assert svc.is_enabled and svc.is_running
    user = host.user(USER)
    assert user.uid != 0 and user.shell == "/usr/sbin/nologin"
    assert "zeek" in user.groups
    pid = host.check_output(f"systemctl show -p MainPID --value {USER}").strip()
    status = dict(line.split(":", 1) for line in host.file(f"/proc/{pid}/status").content_string.splitlines())
    assert status["Uid"].split()[0] == str(user.uid)
    zeek_gid = host.group("zeek").gid
    assert str(zeek_gid) in status["Groups"].split()  # the running service has the group


def test_secrets_and_config_modes(host):
    cred = host.file("/etc/socforge-intel-bridge/credentials.env")
    assert (cred.user, cred.group, cred.mode) == ("root", "root", 0o600)
    cfg = host.file("/etc/socforge-intel-bridge/bridge.json")
    assert (cfg.user, cfg.group, cfg.mode) == ("root", USER, 0o640)
    data = json.loads(cfg.content_string)
    assert data["transport"] == "websocket" and data["zeek_url"] == "ws://127.0.0.1:27759/v1/messages/json"
    assert data["sightings"]["intel_log"] == f"{LOGDIR}/current/intel.log"


def test_zeek_logs_group_readable_across_rotations(host):
    for unit in ("zeek.service", "zeek-cron.service"):
        assert "UMask=0027" in host.file(f"/etc/systemd/system/{unit}").content_string
    current = host.file(f"{LOGDIR}/current")
    assert current.is_symlink and current.linked_to == "/var/spool/zeek/logger-1"
    # logs rotate every 60 s: zeekctl's archive-log (run by the logger) made dated archive directories
    archived = _wait(
        "a rotated log archive",
        lambda: host.run(f"ls {LOGDIR}/20*/*.log.gz 2>/dev/null").stdout.split(),
        timeout=90,
        step=5,
    )
    for path in archived[:5]:
        f = host.file(path)
        assert (f.user, f.group, f.mode) == ("zeek", "zeek", 0o640), path
        d = host.file(os.path.dirname(path))
        assert (d.user, d.group, d.mode) == ("zeek", "zeek", 0o750), d.path
    live = host.run("ls /var/spool/zeek/logger-1/*.log").stdout.split()
    assert live
    for path in live:
        f = host.file(path)
        assert (f.group, f.mode) == ("zeek", 0o640), path
    # the bridge's account reads both; an account outside the group reads neither
    assert host.run(f"runuser -u {USER} -- zcat {archived[0]} > /dev/null").rc == 0
    assert host.run(f"runuser -u {USER} -- cat {live[0]} > /dev/null").rc == 0
    assert host.run(f"runuser -u nobody -- cat {live[0]} > /dev/null").rc != 0


def test_live_insert_matches_on_replayed_traffic_and_becomes_a_sighting(host):
    ev, kept, removed = _event()
    _publish(host, [mm.publish_event(ev)])
    # Zeek's manager applied both (Intel::insert, reported by the bridge package's log_changes)
    _wait(
        "Zeek's reporter.log to name both inserts",
        lambda: all(
            f"socforge-intel-bridge: inserted {v}" in host.run(f"cat {LOGDIR}/current/reporter.log").stdout
            or f"socforge-intel-bridge: inserted {v}" in host.run(f"zcat {LOGDIR}/*/reporter.*.gz 2>/dev/null").stdout
            for v in (KEPT, REMOVED)
        ),
    )
    _replay(host)
    hits = _wait(
        "intel.log matches of both indicators",
        lambda: {r["seen.indicator"] for r in _intel_matches(host)} >= {KEPT, REMOVED} and _intel_matches(host),
    )
    rec = next(r for r in hits if r["seen.indicator"] == KEPT)
    assert any(EVENT_UUID in s for s in rec["sources"]), rec
    # the bridge (as its own account) read intel.log and queued sightings for the attributes
    query = "SELECT uuid FROM pending UNION SELECT uuid FROM outbox UNION SELECT uuid FROM sent"
    reader = f"import sqlite3; print(*(r[0] for r in sqlite3.connect('{SPOOL}/feedback.sqlite').execute({query!r})))"
    queued = _wait(
        "sightings queued in the bridge's spool",
        lambda: host.run(f"/usr/bin/python3 -c {shlex.quote(reader)}").stdout.split(),
    )
    assert ATTR_KEPT in queued, queued
    assert "Permission denied" not in _journal(host)


def test_a_removal_leaves_zeek(host):
    ev, kept, removed = _event()
    _publish(host, [mm.attribute_deleted(removed)])
    _wait("the intel file without the removed indicator", lambda: REMOVED not in host.file(INTEL).content_string)
    assert KEPT in host.file(INTEL).content_string
    _wait(
        "Zeek's reporter.log to name the removal",
        lambda: (
            f"socforge-intel-bridge: removed {REMOVED}"
            in host.run(f"cat {LOGDIR}/current/reporter.log; zcat {LOGDIR}/*/reporter.*.gz 2>/dev/null").stdout
        ),
    )
    before = _intel_matches(host)
    n_kept = sum(r["seen.indicator"] == KEPT for r in before)
    n_removed = sum(r["seen.indicator"] == REMOVED for r in before)
    _replay(host)
    # the kept indicator matches again (Zeek saw the replay) ...
    _wait(
        "new matches of the kept indicator",
        lambda: sum(r["seen.indicator"] == KEPT for r in _intel_matches(host)) > n_kept,
    )
    time.sleep(3)  # the same replay's later packets
    # ... the removed one does not
    assert sum(r["seen.indicator"] == REMOVED for r in _intel_matches(host)) == n_removed
