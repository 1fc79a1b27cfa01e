"""Verify roles/zeek_intel: package files, timer, credentials, a sync through systemd, and removals.

Zeek is not installed (fake prefix), so the Zeek side is checked as files; the scripts themselves
are parsed with Zeek's grammar in tests/unit/test_zeek_scripts_parse.py.
"""

import json

testinfra_hosts = ["podman://zeek-intel-manager"]

SITE = "/opt/zeek/share/zeek/site/socforge-intel"
INTEL = "/var/lib/socforge-intel/infoblox.intel"
HEADER = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\tmeta.do_notice\tmeta.if_in"


def test_zeek_package_installed(host):
    for name in ("__load__.zeek", "main.zeek", "config.zeek"):
        assert host.file(f"{SITE}/{name}").is_file
    config = host.file(f"{SITE}/config.zeek").content_string
    assert 'redef SOCForgeIntel::intel_dir = "/var/lib/socforge-intel";' in config
    assert '"infoblox.intel"' in config
    assert "redef Intel::item_expiration = 7 day;" in config
    assert "redef SOCForgeIntel::log_removals = T;" in config
    assert "Intel::remove" in host.file(f"{SITE}/main.zeek").content_string


def test_timer_enabled_and_active(host):
    timer = host.service("socforge-intel-sync.timer")
    assert timer.is_enabled and timer.is_running


def test_secrets_and_config_modes(host):
    creds = host.file("/etc/socforge-intel/credentials.env")
    assert creds.mode == 0o600 and creds.user == "root"
    config = host.file("/etc/socforge-intel/sync.json")
    assert config.mode == 0o640
    data = json.loads(config.content_string)
    assert data["sources"][0]["feed_path"] == "/srv/feeds/infoblox"
    assert data["refresh_seconds"] > 0  # expiration is set: live items get refreshed


def test_intel_file_written_by_the_sync_account(host):
    f = host.file(INTEL)
    assert f.user == "socforge-intel" and f.mode == 0o644
    lines = f.content_string.splitlines()
    assert lines[0] == HEADER
    assert len(lines) > 16000
    assert lines[1:] == sorted(lines[1:])
    assert all(len(ln.split("\t")) == 7 for ln in lines[1:])
    assert "hxxp" not in f.content_string
    assert host.file(INTEL + ".state").mode == 0o600


def test_service_run_is_idempotent_and_removal_reaches_the_removals_file(host):
    run = host.run("systemctl start socforge-intel-sync.service")
    assert run.rc == 0, run.stderr
    before = host.file(INTEL).content_string
    manifest = json.loads(host.file("/srv/feeds/infoblox/manifest.json").content_string)
    # drop, as a feed publisher would, the event with the fewest lines in the intel file (an event
    # whose values all also appear in other events has no line of its own)
    counts = {u: before.count(f"({u})") for u in manifest}
    victim = min((u for u in counts if counts[u]), key=counts.get)
    del manifest[victim]
    host.run("cp /srv/feeds/infoblox/manifest.json /srv/feeds/manifest.json.orig")
    try:
        write = host.run(f"cat > /srv/feeds/infoblox/manifest.json <<'EOF'\n{json.dumps(manifest)}\nEOF")
        assert write.rc == 0
        run = host.run("systemctl start socforge-intel-sync.service")
        assert run.rc == 0, run.stderr
        after = host.file(INTEL).content_string
        assert victim in before and victim not in after
        removals = host.file(INTEL + ".removals").content_string.splitlines()
        assert removals[0] == "#fields\tindicator\tindicator_type\tsource"
        assert len(removals) > 1 and all(victim in ln for ln in removals[1:])
        journal = host.run("journalctl -u socforge-intel-sync.service -o cat --no-pager | tail -n 5").stdout
        assert '"removed": ' in journal
    finally:
        host.run("mv /srv/feeds/manifest.json.orig /srv/feeds/infoblox/manifest.json")
        host.run("systemctl start socforge-intel-sync.service")
