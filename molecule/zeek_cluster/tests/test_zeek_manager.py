"""Verify the real Zeek 8.1.2 cluster from the manager container: the archive install, zeekctl's
configuration from the layout engine, zeekctl's SSH trust and firewall, every node running, a pcap
replayed onto the capture network logged by the logger from both workers, and the rolling restart
(side_effect.yml) one worker host at a time."""

import configparser
import io
import json
import re
import time
from datetime import datetime

import netaddr
import zeekscript

testinfra_hosts = ["podman://zeek_cluster-manager"]

PREFIX = "/opt/zeek8"
SHA256 = "52cde4af451fa450c5ab0ccf03d149206fa8c7a316f20735aa3bf16599db2828"
W1, W2 = "worker-zeek-cluster-w1-eth1", "worker-zeek-cluster-w2-eth1"
NODES = ["logger-1", "manager", "proxy-1", f"{W1}-1", f"{W1}-2", f"{W2}-1"]


def zeekctl(host, *args):
    return host.run(f"su zeek -s /bin/sh -c '{PREFIX}/bin/zeekctl {' '.join(args)}'")


def status(host):
    """zeekctl status as {node: (status, started datetime or None)}."""
    res = zeekctl(host, "status")
    assert res.rc == 0, res.stdout + res.stderr
    out = {}
    for line in res.stdout.splitlines():
        f = line.split()
        if f and f[0] in NODES:
            started = None
            if len(f) >= 8 and f[3] == "running":
                started = datetime.strptime(" ".join(f[5:8]), "%d %b %H:%M:%S")
            out[f[0]] = (f[3], started)
    return out


def test_zeek_from_the_archive(host):
    # zeek names itself by argv[0]: "/opt/zeek8/bin/zeek version 8.1.2"
    assert host.run(f"{PREFIX}/bin/zeek --version").stdout.strip() == f"{PREFIX}/bin/zeek version 8.1.2"
    assert host.file(f"{PREFIX}/.socforge-archive.sha256").content_string.strip() == SHA256
    plugins = host.run(f"{PREFIX}/bin/zeek -N").stdout
    for plugin in ("Zeek::AF_Packet", "Zeek::Cluster_Backend_ZeroMQ", "Seiso::Kafka"):
        assert plugin in plugins
    for pkg in ("libzmq5", "librdkafka1", "rsync", "openssh-client"):
        assert host.package(pkg).is_installed


def test_node_cfg_from_the_layout(host):
    f = host.file(f"{PREFIX}/etc/node.cfg")
    assert f.user == "root" and f.group == "zeek" and f.mode == 0o644
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(f.content_string)
    assert [cfg[s]["type"] for s in cfg.sections()] == ["logger", "manager", "proxy", "worker", "worker"]
    w1, w2 = cfg[W1], cfg[W2]
    assert (w1["host"], w2["host"]) == ("10.89.94.21", "10.89.94.22")
    # w1: 2 cores, no reserve -> 2 workers (one fanout group); w2: 1 core with adjacent sibling CPU 1
    # (cpu_numbering: adjacent, ht_policy skip) -> 1 worker on CPU 0, never on the sibling.
    assert (w1["lb_procs"], w1["pin_cpus"]) == ("2", "0,1")
    assert (w2["lb_procs"], w2["pin_cpus"]) == ("1", "0")
    assert w1["interface"] == "af_packet::eth1" and w1["lb_method"] == "custom"
    assert w1["af_packet_fanout_mode"] == "AF_Packet::FANOUT_HASH"


def test_zeekctl_cfg_for_zeek_8(host):
    text = host.file(f"{PREFIX}/etc/zeekctl.cfg").content_string
    for line in ("ClusterBackend = ZeroMQ", "UseWebSocket = 1", "ZeekPort = 27760", "SendMail =\n"):
        assert line in text
    assert "LogDir = /var/log/zeek" in text and "SpoolDir = /var/spool/zeek" in text


def test_networks_cfg_lists_the_monitored_site_networks_only(host):
    lines = [x for x in host.file(f"{PREFIX}/etc/networks.cfg").content_string.splitlines() if not x.startswith("#")]
    assert [x.split("\t")[0] for x in lines] == ["208.80.152.0/22", "141.142.220.0/24"]
    # Zeek got them: the installed local-networks policy.
    installed = host.file("/var/spool/zeek/installed-scripts-do-not-touch/auto/local-networks.zeek").content_string
    assert "208.80.152.0/22" in installed and "10.89.9" not in installed


def test_rendered_site_scripts_parse_with_zeekscript(host):
    local = host.file(f"{PREFIX}/share/zeek/site/local.zeek").content_string
    script = zeekscript.Script(io.BytesIO(local.encode()))
    assert script.parse() and not script.has_error(), script.get_error()
    for line in (
        "@load policy/tuning/json-logs",
        "@load socforge-alert",
        "\tSSH::Password_Guessing,",
        "@load Seiso/Kafka",
    ):
        assert line in local
    assert "@load socforge-intel" not in local  # zeek_intel_enabled: false here


def test_zeekctl_ssh_trust(host):
    known = host.file("/var/lib/zeek/.ssh/known_hosts")
    assert known.user == "zeek"
    for addr in ("10.89.94.21", "10.89.94.22"):
        assert re.search(rf"^{re.escape(addr)} ssh-ed25519 AAAA", known.content_string, re.M)
        # zeekctl's own ssh options: BatchMode, no prompt for an unknown host key.
        res = host.run(f"su zeek -s /bin/sh -c 'ssh -o BatchMode=yes -o ConnectTimeout=10 {addr} hostname'")
        assert res.rc == 0 and res.stdout.strip().startswith("zeek-cluster-w"), res.stderr


def test_firewall_opens_the_cluster_range_and_ssh_from_the_manager_only(host):
    # roles/zeek's own openings (zeek_default_firewall_openings), loaded through roles/common.
    rules = host.run("nft list table inet socforge").stdout
    # nft prints adjacent addresses of an interval set as a range (10.89.94.21-10.89.94.22): compare
    # the addresses the rule admits, not its spelling.
    m = re.search(r"ip saddr \{ ([^}]+) \} tcp dport 27760-27799 accept", rules)
    assert m, rules
    admitted = netaddr.IPSet()
    for element in m.group(1).split(","):
        first, _, last = element.strip().partition("-")
        admitted.add(netaddr.IPRange(first, last or first))
    assert admitted == netaddr.IPSet(["10.89.94.10", "10.89.94.21", "10.89.94.22"]), rules
    assert re.search(r"ip saddr 10\.89\.94\.10 tcp dport 22 accept", rules), rules
    assert "policy drop" in rules


def test_every_node_is_running(host):
    st = status(host)
    assert sorted(st) == sorted(NODES)
    assert {n: s for n, (s, _) in st.items() if s != "running"} == {}
    # ZeroMQ: the manager holds the XPUB/XSUB pair on ZeekPort and ZeekPort+1.
    listening = host.run("ss -Hltn").stdout
    assert "10.89.94.10:27760 " in listening and "10.89.94.10:27761 " in listening


def test_replayed_pcap_is_logged_by_the_logger_from_both_workers(host):
    conn = "/var/spool/zeek/logger-1/conn.log"
    # Broadcast-free unknown-unicast frames: the bridge floods them to every port of the capture network.
    res = host.run(
        "tcprewrite --enet-smac=02:00:00:00:00:98 --enet-dmac=02:00:00:00:00:99 "
        "-i /srv/pcaps/wikipedia.pcap -o /tmp/replay.pcap && tcpreplay -q -i eth1 --pps 500 /tmp/replay.pcap"
    )
    assert res.rc == 0, res.stderr
    # Only the replayed connections count (clients in 141.142.220.0/24): the containers' own IPv6
    # router solicitations reach conn.log from both workers first and say nothing about the replay.
    replay_clients = netaddr.IPNetwork("141.142.220.0/24")
    deadline = time.time() + 90
    replayed = []
    while time.time() < deadline:
        text = host.run(f"cat {conn} 2>/dev/null").stdout
        records = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
        replayed = [r for r in records if netaddr.IPAddress(r["id.orig_h"]) in replay_clients]
        if {r["_node"].rsplit("-", 1)[0] for r in replayed} >= {W1, W2}:
            break
        # conn records are written when connections end or time out; an idle worker flushes them.
        time.sleep(5)
    nodes = {r["_node"] for r in replayed}
    assert {n.rsplit("-", 1)[0] for n in nodes} >= {W1, W2}, (nodes, len(replayed))
    assert all(n.startswith("worker-") for n in nodes)
    # networks.cfg reached the workers: the replay's clients and the Wikimedia servers are local.
    assert all(r["local_orig"] for r in replayed), replayed
    assert any(r["local_resp"] for r in replayed), replayed


def test_rolling_restart_restarted_one_worker_host_at_a_time(host):
    """side_effect.yml changed local.zeek: manager, logger, proxy restarted first, then w1, then w2."""
    assert "molecule side effect" in host.file(f"{PREFIX}/share/zeek/site/local.zeek").content_string
    st = status(host)
    services = [st[n][1] for n in ("logger-1", "manager", "proxy-1")]
    w1 = [st[n][1] for n in NODES if n.startswith(W1)]
    w2 = [st[n][1] for n in NODES if n.startswith(W2)]
    assert None not in services + w1 + w2
    assert max(services) <= min(w1), st
    # w2 restarts only after w1's workers run again (the worker play waits for them): seconds apart.
    assert (min(w2) - max(w1)).total_seconds() >= 2, st


def test_alert_secret_file_and_sender(host):
    f = host.file("/etc/socforge/zeek-alert.json")
    assert (f.user, f.group, f.mode) == ("root", "zeek", 0o640)
    cfg = json.loads(f.content_string)
    assert cfg["api_key"] == "molecule-secret-key" and cfg["target"] == "opsgenie"
    assert host.file("/usr/local/libexec/socforge-zeek-alert").mode == 0o755


def test_zeek_account_dirs_and_ssh_key(host):
    user = host.user("zeek")
    assert user.home == "/var/lib/zeek" and user.shell == "/bin/bash"
    for d in ("/var/log/zeek", "/var/spool/zeek", "/var/lib/zeek"):
        f = host.file(d)
        assert f.is_directory and f.user == "zeek" and f.mode == 0o750
    key = host.file("/var/lib/zeek/.ssh/id_ed25519")
    assert key.user == "zeek" and key.mode == 0o600


def test_units_enabled_and_active(host):
    assert "ExecStart=/opt/zeek8/bin/zeekctl start" in host.file("/etc/systemd/system/zeek.service").content_string
    res = host.run("systemd-analyze verify /etc/systemd/system/zeek.service /etc/systemd/system/zeek-cron.timer")
    assert res.rc == 0, res.stderr
    assert host.service("zeek").is_enabled and host.service("zeek").is_running
    assert host.service("zeek-cron.timer").is_enabled
