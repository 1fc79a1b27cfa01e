"""Verify roles/common on the converged container, probing its firewall from two other containers."""

import time
import uuid

import pytest
import testinfra

TARGET_IP = "10.89.90.5"
testinfra_hosts = ["podman://common-host"]

admin_probe = testinfra.get_host("podman://common-admin-probe")
outside_probe = testinfra.get_host("podman://common-outside-probe")


def _connects(probe, port):
    return probe.run(f"nc -z -w 3 {TARGET_IP} {port}").rc == 0


def test_ssh_reachable_from_admin_network_only(host):
    assert host.service("ssh").is_running
    assert _connects(admin_probe, 22), "SSH must be reachable from the admin network"
    assert not _connects(outside_probe, 22), "SSH must be dropped from outside the admin network"


def test_service_rule_admits_only_its_sources(host):
    listener = host.run("systemd-run --unit socforge-test-listener nc -lk -p 8080")
    assert listener.rc == 0, listener.stderr
    try:
        host.run("sleep 1")
        assert _connects(outside_probe, 8080), "the 8080 rule admits 10.89.90.64/26"
        assert not _connects(admin_probe, 8080), "10.89.90.10 is not in the 8080 rule's sources"
    finally:
        host.run("systemctl stop socforge-test-listener")


def test_role_openings_are_included_and_loaded(host):
    """The converge's second play passes a role's openings to roles/common (tasks/openings.yml): the
    set's file is in the directory the policy includes, and its rule admits only its sources."""
    rules = host.file("/etc/nftables.d/socforge/probe.nft")
    assert rules.mode == 0o640
    assert "probe: probe listener" in rules.content_string
    # state: absent removed the second opening; the third resolved to no source and opens nothing
    assert "8082" not in rules.content_string and "8083" not in rules.content_string
    listener = host.run("systemd-run --unit socforge-test-listener-8081 nc -lk -p 8081")
    assert listener.rc == 0, listener.stderr
    try:
        host.run("sleep 1")
        assert _connects(outside_probe, 8081), "the probe opening admits 10.89.90.64/26"
        assert not _connects(admin_probe, 8081), "10.89.90.10 is not in the probe opening's sources"
    finally:
        host.run("systemctl stop socforge-test-listener-8081")


def test_ruleset_is_default_deny(host):
    ruleset = host.check_output("nft list table inet socforge")
    assert "hook input priority filter; policy drop;" in ruleset
    assert "hook forward priority filter; policy drop;" in ruleset
    # IPMI is never routed to the data network, either way.
    assert "ip saddr 10.89.91.0/24 ip daddr 10.89.92.0/24 drop" in ruleset
    assert "ip saddr 10.89.92.0/24 ip daddr 10.89.91.0/24 drop" in ruleset
    assert host.service("nftables").is_enabled


def _kernel_has_8021q(host):
    probe = host.run(
        "ip link add socf-probe0 type dummy && ip link add link socf-probe0 name socf-probe0.9 type vlan id 9"
    )
    host.run("ip link del socf-probe0")
    return probe.rc == 0


def test_ipmi_vlan_netdev_rendered(host):
    netdev = host.file("/etc/systemd/network/10-socforge-ipmi.netdev").content_string
    assert "Name=vlan120" in netdev and "Kind=vlan" in netdev and "Id=120" in netdev
    network = host.file("/etc/systemd/network/10-socforge-ipmi.network").content_string
    assert "Address=10.89.91.5/24" in network
    parent = host.file("/etc/systemd/network/05-socforge-parent.network").content_string
    assert "Name=eth0" in parent and "VLAN=vlan120" in parent and "KeepConfiguration=yes" in parent
    # admin is untagged here (the container's own network), so it gets no VLAN interface
    assert not host.file("/etc/systemd/network/10-socforge-admin.netdev").exists


def test_ipmi_vlan_interface_up(host):
    assert host.service("systemd-networkd").is_running
    if _kernel_has_8021q(host):
        assert "vlan protocol 802.1Q id 120" in host.check_output("ip -d link show vlan120")
        assert "inet 10.89.91.5/24" in host.check_output("ip -4 addr show vlan120")
    else:
        # This machine's kernel has no 802.1Q support (no 8021q): networkd must still have read the
        # netdev and asked the kernel for exactly this VLAN on eth0.
        journal = host.check_output("journalctl -u systemd-networkd --no-pager")
        assert "eth0: Could not create stacked netdev: Unknown device type" in journal
    # the parent keeps its own address and stays reachable (KeepConfiguration)
    assert f"inet {TARGET_IP}/24" in host.check_output("ip -4 addr show eth0")
    assert _connects(admin_probe, 22)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("passwordauthentication", "no"),
        ("permitrootlogin", "without-password"),
        ("maxauthtries", "3"),
        ("x11forwarding", "no"),
    ],
)
def test_sshd_effective_settings(host, key, value):
    effective = host.check_output("sshd -T")
    assert f"{key} {value}" in effective.splitlines()


def test_sshd_dropin_not_world_readable(host):
    f = host.file("/etc/ssh/sshd_config.d/50-socforge.conf")
    assert f.mode == 0o600


def test_admin_address_on_one_interface_only(host):
    holders = host.check_output(f"ip -4 -o addr show | grep -F ' {TARGET_IP}/' || true").splitlines()
    assert len(holders) == 1 and holders[0].split()[1] == "eth0", holders
    assert not host.file("/etc/systemd/network/10-socforge-admin.netdev").exists
    assert "VLAN=vlan110" not in host.file("/etc/systemd/network/05-socforge-parent.network").content_string


def test_chrony_uses_only_the_site_servers(host):
    active = host.check_output(
        "grep -hE '^[[:space:]]*(pool|server|peer)[[:space:]]' /etc/chrony/chrony.conf /etc/chrony/conf.d/*.conf || true"
    )
    assert active.splitlines() == ["server 10.89.90.1 iburst"]
    assert "#socforge-off# pool " in host.file("/etc/chrony/chrony.conf").content_string


def test_auth_messages_logged_once(host):
    token = f"socforge-auth-once-{uuid.uuid4().hex}"
    host.run_test(f"logger -p authpriv.notice {token}")
    count = 0
    for _ in range(20):
        count = int(host.check_output(f"grep -c {token} /var/log/auth.log || true") or 0)
        if count:
            break
        time.sleep(0.5)
    time.sleep(1)
    assert int(host.check_output(f"grep -c {token} /var/log/auth.log || true")) == 1


def test_baseline_services_and_files(host):
    assert host.service("rsyslog").is_running
    assert host.service("chrony").is_enabled
    assert "kernel.kptr_restrict = 2" in host.file("/etc/sysctl.d/60-socforge.conf").content_string
    user = host.user("socsvc")
    assert user.shell == "/usr/sbin/nologin"
    assert host.run("passwd -S socsvc").stdout.split()[1] == "L"


def test_syslog_forwarded_over_tls_to_the_log_host(host):
    """rsyslog's gtls driver (rsyslog-gnutls, installed by the role) forwards to the log host's TLS
    listener (prepare.yml: openssl s_server, which reads nothing but TLS): a message logged here arrives
    there in clear text only after the TLS handshake with a certificate of the configured CA and name."""
    assert host.package("rsyslog-gnutls").is_installed
    conf = host.file("/etc/rsyslog.d/50-socforge.conf").content_string
    assert 'StreamDriver="gtls"' in conf and 'StreamDriverAuthMode="x509/name"' in conf
    assert 'StreamDriverPermittedPeers="loghost.molecule.test"' in conf and 'port="6514"' in conf
    token = f"socforge-tls-forward-{uuid.uuid4().hex}"
    host.run_test(f"logger -p user.notice {token}")
    received = ""
    for _ in range(60):
        received = admin_probe.run("cat /var/log/loghost-received.log").stdout
        if token in received:
            break
        time.sleep(0.5)
    assert token in received
