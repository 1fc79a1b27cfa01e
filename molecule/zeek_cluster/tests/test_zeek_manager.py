"""Verify the Zeek manager/logger/proxy container: zeekctl configuration from the layout engine,
site scripts that parse with zeekscript, the alert sender and its secret file, the systemd units."""

import configparser
import io
import json

import zeekscript

testinfra_hosts = ["podman://zeek_cluster-manager"]


def parse_zeek(text):
    script = zeekscript.Script(io.BytesIO(text.encode()))
    assert script.parse() and not script.has_error(), script.get_error()


def test_node_cfg_from_the_layout(host):
    f = host.file("/opt/zeek/etc/node.cfg")
    assert f.user == "root" and f.group == "zeek" and f.mode == 0o644
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(f.content_string)
    assert [cfg[s]["type"] for s in cfg.sections()] == ["logger", "manager", "proxy", "worker", "worker"]
    w1, w2 = cfg["worker-zeek-cluster-w1-eth0"], cfg["worker-zeek-cluster-w2-eth0"]
    assert (w1["host"], w2["host"]) == ("10.89.94.21", "10.89.94.22")
    # w1: 4 cores, 1 reserved -> 3 workers; w2: 4 cores with HT, siblings skipped -> 3 workers on 1-3.
    assert (w1["lb_procs"], w1["pin_cpus"]) == ("3", "1,2,3")
    assert (w2["lb_procs"], w2["pin_cpus"]) == ("3", "1,2,3")
    assert w1["interface"] == "af_packet::eth0" and w1["lb_method"] == "custom"
    assert w1["af_packet_fanout_mode"] == "AF_Packet::FANOUT_HASH"


def test_zeekctl_cfg_for_zeek_8(host):
    text = host.file("/opt/zeek/etc/zeekctl.cfg").content_string
    assert "ClusterBackend = ZeroMQ" in text
    assert "LogDir = /var/log/zeek" in text and "SpoolDir = /var/spool/zeek" in text
    assert "SendMail =\n" in text


def test_networks_cfg(host):
    assert "10.89.94.0/24\tScenario data network" in host.file("/opt/zeek/etc/networks.cfg").content_string


def test_rendered_site_scripts_parse_with_zeekscript(host):
    local = host.file("/opt/zeek/share/zeek/site/local.zeek").content_string
    parse_zeek(local)
    for line in (
        "@load policy/tuning/json-logs",
        "@load frameworks/intel/seen",
        "@load frameworks/intel/seen/manage-event-groups",
        "@load socforge-intel",
        "@load socforge-alert",
        "\tIntel::Notice,",
        "@load Seiso/Kafka",
    ):
        assert line in local
    for name in ("__load__.zeek", "main.zeek"):
        parse_zeek(host.file(f"/opt/zeek/share/zeek/site/socforge-alert/{name}").content_string)


def test_alert_secret_file_is_not_world_readable_and_sender_works_offline(host):
    f = host.file("/etc/socforge/zeek-alert.json")
    assert (f.user, f.group, f.mode) == ("root", "zeek", 0o640)
    cfg = json.loads(f.content_string)
    assert cfg["api_key"] == "molecule-secret-key" and cfg["target"] == "opsgenie"
    sender = host.file("/usr/local/libexec/socforge-zeek-alert")
    assert sender.mode == 0o755
    # Nothing listens on 127.0.0.1:9 in the container: a clean failure that does not print the key.
    res = host.run("/usr/local/libexec/socforge-zeek-alert --note Intel::Notice --msg test")
    assert res.rc == 1 and "post failed" in res.stderr and "molecule-secret-key" not in res.stderr + res.stdout


def test_zeek_account_dirs_and_ssh_key(host):
    user = host.user("zeek")
    assert user.home == "/var/lib/zeek" and user.shell == "/bin/bash"
    for d in ("/var/log/zeek", "/var/spool/zeek", "/var/lib/zeek"):
        f = host.file(d)
        assert f.is_directory and f.user == "zeek" and f.mode == 0o750
    key = host.file("/var/lib/zeek/.ssh/id_ed25519")
    assert key.user == "zeek" and key.mode == 0o600


def test_units_installed_but_not_enabled_without_binaries(host):
    for unit in ("zeek.service", "zeek-cron.service", "zeek-cron.timer"):
        assert host.file(f"/etc/systemd/system/{unit}").exists
    assert "ExecStop=/opt/zeek/bin/zeekctl stop" in host.file("/etc/systemd/system/zeek.service").content_string
    assert host.run("systemd-analyze verify /etc/systemd/system/zeek-cron.timer").rc in (0, 1)
    assert not host.service("zeek").is_enabled
