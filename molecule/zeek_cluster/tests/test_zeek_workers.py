"""Verify the worker containers: Zeek from the archive with capture capabilities, zeekctl SSH access
from the manager, AF_PACKET workers on the capture interface, capture tuning files (not applied
inside containers)."""

import testinfra

testinfra_hosts = ["podman://zeek_cluster-w1", "podman://zeek_cluster-w2"]
manager = testinfra.get_host("podman://zeek_cluster-manager")


def test_manager_key_is_authorised(host):
    pub = manager.file("/var/lib/zeek/.ssh/id_ed25519.pub").content_string.split()[1]
    keys = host.file("/var/lib/zeek/.ssh/authorized_keys")
    assert keys.user == "zeek" and pub in keys.content_string


def test_zeek_binary_keeps_its_capture_capabilities_after_zeekctl_install(host):
    caps = host.run("getcap /opt/zeek8/bin/zeek").stdout
    assert "cap_net_admin,cap_net_raw=eip" in caps
    assert host.file("/opt/zeek8/.socforge-archive.sha256").exists


def test_workers_capture_on_eth1_pinned_as_laid_out(host):
    name = host.check_output("hostname")
    procs = host.run("ps -o pid=,psr=,args= -u zeek").stdout.splitlines()
    workers = [p for p in procs if "af_packet::eth1" in p and "/bin/zeek" in p]
    assert len(workers) == (2 if name.endswith("w1") else 1), procs
    for line in workers:
        pid = line.split()[0]
        allowed = host.run(f"taskset -pc {pid}").stdout.split(":")[-1].strip()
        assert allowed in ("0", "1"), line  # pin_cpus: one CPU each


def test_capture_tuning_script_and_unit(host):
    script = host.file("/usr/local/sbin/socforge-capture-tuning")
    assert script.mode == 0o755
    text = script.content_string
    assert "ethtool -K eth1 gro off" in text and "ethtool -K eth1 lro off" in text
    assert host.run("sh -n /usr/local/sbin/socforge-capture-tuning").rc == 0
    assert host.file("/etc/systemd/system/socforge-capture-tuning.service").exists
    # Inside a container nothing is applied: the unit stays disabled.
    assert not host.service("socforge-capture-tuning").is_enabled


def test_sysctl_file(host):
    text = host.file("/etc/sysctl.d/60-socforge-capture.conf").content_string
    assert "net.core.rmem_max = 134217728" in text and "net.core.netdev_max_backlog = 250000" in text


def test_no_manager_configuration_on_workers(host):
    assert not host.file("/etc/socforge/zeek-alert.json").exists
    assert not host.file("/etc/systemd/system/zeek.service").exists
