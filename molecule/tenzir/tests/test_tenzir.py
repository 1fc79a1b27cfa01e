"""Verify the converged Tenzir shipper: engine, pipelines, units, secrets, sink guard."""

testinfra_hosts = ["podman://tenzir-shipper1"]

LOGS = {"conn": "tsv", "dns": "json", "ssl": "json"}


def test_engine_runs_a_pipeline(host):
    out = host.check_output("/opt/tenzir/bin/tenzir 'from {x: 41} | x = x + 1 | write_json'")
    assert '"x": 42' in out


def test_pipelines_rendered_private_and_accepted_by_tenzir(host):
    for log, fmt in LOGS.items():
        f = host.file(f"/etc/tenzir/shipper/{log}.tql")
        assert f.mode == 0o640 and f.user == "root" and f.group == "tenzir"
        text = f.content_string
        assert f'from_kafka "zeek-{log}"' in text
        assert ("read_zeek_tsv" in text) == (fmt == "tsv")
        assert f'"zeek-{log}-"' in text and 'action="index"' in text and "id=id" in text
        assert '"cacert": "/etc/ssl/socforge/ca.pem"' in text and 'user="logstash"' in text
        host.check_output(f"/opt/tenzir/bin/tenzir --dump-ir -f /etc/tenzir/shipper/{log}.tql")


def test_health_check_config_private(host):
    f = host.file("/etc/tenzir/shipper/opensearch-health.curlrc")
    assert f.mode == 0o640 and f.group == "tenzir"
    assert "https://10.89.97.30:9200/_cluster/health" in f.content_string


def test_replay_guard_installed_and_runs(host):
    assert host.file("/usr/local/lib/socforge/kafka_replay.py").exists
    cmd = host.run("python3 /usr/local/lib/socforge/kafka_replay.py --help")
    assert cmd.rc == 0 and "prestart" in cmd.stdout


def test_units_enabled_and_guarded_while_the_sinks_are_absent(host):
    for log in LOGS:
        unit = f"tenzir-shipper@{log}.service"
        assert host.service(unit).is_enabled
        # The unit's main process is the supervisor; it stays up while OpenSearch is unreachable ...
        state = host.check_output(f"systemctl show -p ActiveState,SubState --value {unit}").split()
        assert state == ["active", "running"], state
        main_pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
        cmdline = host.check_output(f"tr '\\0' ' ' < /proc/{main_pid}/cmdline")
        assert "kafka_replay.py run" in cmdline and f"/etc/tenzir/shipper/{log}.tql" in cmdline, cmdline
        # ... the engine never ran (its only child may be the health check's curl), and no safe point
        # was recorded (no offsets moved).
        children = host.check_output(
            f"for c in $(cat /proc/{main_pid}/task/*/children); do tr '\\0' ' ' < /proc/$c/cmdline; echo; done"
        )
        assert ".tql" not in children, children
        assert not host.file(f"/var/lib/tenzir/shipper/{log}.json").exists
    journal = host.check_output("journalctl -u tenzir-shipper@dns.service --no-pager -n 50")
    assert "sink not ready, not starting the shipper" in journal and "health check curl exited" in journal, journal
