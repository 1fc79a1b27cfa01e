"""Verify the worker containers: zeekctl SSH access from the manager, capture tuning files (not
applied inside containers), IRQ CPUs from the layout engine."""

import testinfra

testinfra_hosts = ["podman://zeek_cluster-w1", "podman://zeek_cluster-w2"]
manager = testinfra.get_host("podman://zeek_cluster-manager")


def test_manager_key_is_authorised(host):
    pub = manager.file("/var/lib/zeek/.ssh/id_ed25519.pub").content_string.split()[1]
    keys = host.file("/var/lib/zeek/.ssh/authorized_keys")
    assert keys.user == "zeek" and pub in keys.content_string


def test_capture_tuning_script_and_unit(host):
    script = host.file("/usr/local/sbin/socforge-capture-tuning")
    assert script.mode == 0o755
    text = script.content_string
    assert "ethtool -K eth0 gro off" in text and "ethtool -K eth0 lro off" in text
    # IRQs go to the reserved CPU 0 (and its HT sibling 4 on w2), never to worker CPUs 1-3.
    expected_irq = "0,4" if host.check_output("hostname").endswith("w2") else "0"
    assert f"echo {expected_irq} > /proc/irq/$irq/smp_affinity_list" in text
    assert host.run("sh -n /usr/local/sbin/socforge-capture-tuning").rc == 0
    assert host.file("/etc/systemd/system/socforge-capture-tuning.service").exists
    # Inside a container nothing is applied: the unit stays disabled.
    assert not host.service("socforge-capture-tuning").is_enabled


def test_sysctl_file(host):
    text = host.file("/etc/sysctl.d/60-socforge-capture.conf").content_string
    assert "net.core.rmem_max = 134217728" in text and "net.core.netdev_max_backlog = 250000" in text


def test_no_manager_configuration_on_workers(host):
    assert not host.file("/opt/zeek/etc/node.cfg").exists
    assert not host.file("/etc/socforge/zeek-alert.json").exists
