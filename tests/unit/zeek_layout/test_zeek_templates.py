"""roles/zeek templates rendered with Ansible's own filters/tests: local.zeek and the site scripts parse
with zeekscript for every supported variant, node.cfg comes from the engine, the alert sender really
posts (to a loopback server), keeps the key off argv/stderr, and rate-limits."""

import http.server
import io
import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import jinja2
import pytest
import zeekscript
from ansible.plugins.filter.core import FilterModule as CoreFilters
from ansible.plugins.test.core import TestModule as CoreTests
from ansible_collections.socforge.core.plugins.filter.quoting import FilterModule as QuotingFilters
from ansible_collections.socforge.core.plugins.module_utils import zeek_layout as z

from tests.role_defaults import role_defaults

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "zeek"
DEFAULTS = role_defaults("zeek")


def env():
    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    e.filters.update(CoreFilters().filters())
    e.filters.update({f"socforge.core.{name}": f for name, f in QuotingFilters().filters().items()})
    e.tests.update(CoreTests().tests())
    return e


def render(template, **overrides):
    ctx = {k: v for k, v in DEFAULTS.items() if not (isinstance(v, str) and "{{" in v)}
    ctx.update(
        ansible_managed="Managed by SOCForge",
        __zeek_cluster="zeek",
        zeek_etc_dir="/opt/zeek/etc",
        zeek_cluster_backend="broker",
        zeek_mail_from="zeek@example.org",
    )
    ctx.update(overrides)
    return env().get_template(template).render(**ctx)


def parse_zeek(text):
    script = zeekscript.Script(io.BytesIO(text.encode()))
    assert script.parse(), script.get_error()
    assert not script.has_error(), script.get_error()


VARIANTS = {
    "7.0-defaults": {"zeek_version": "7.0"},
    "8.1-zeromq-intel-alert-kafka": {
        "zeek_version": "8.1",
        "zeek_cluster_backend": "zeromq",
        "zeek_alert_enabled": True,
        "zeek_alert_notice_types": ["Intel::Notice", "SSH::Password_Guessing"],
        "zeek_kafka_enabled": True,
        "zeek_kafka_brokers": ["k1:9092", "k2:9092"],
        "zeek_kafka_security_protocol": "sasl_ssl",
        "zeek_kafka_sasl_password": 'p"w\\$x',
        "zeek_kafka_ca_path": "/etc/ssl/socforge/ca.pem",
        "zeek_kafka_options": {"message.timeout.ms": 60000, "enable.idempotence": True},
        "zeek_local_extra": "redef Intel::item_expiration = 1day;",
    },
    "no-intel-no-json": {"zeek_intel_enabled": False, "zeek_json_logs": False},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_local_zeek_parses_with_zeekscript(variant):
    text = render("opt/zeek/share/zeek/site/local.zeek.j2", **VARIANTS[variant])
    parse_zeek(text)
    v = VARIANTS[variant]
    assert ("@load socforge-intel" in text) == v.get("zeek_intel_enabled", True)
    assert ("@load frameworks/intel/seen/manage-event-groups" in text) == (v.get("zeek_version") == "8.1")
    assert ("@load policy/tuning/json-logs" in text) == v.get("zeek_json_logs", True)
    if v.get("zeek_alert_enabled"):
        assert "\tSSH::Password_Guessing,\n" in text and "redef SOCForgeAlert::enabled = T;" in text


def test_alert_scripts_parse_and_quote_every_argument():
    main = render("opt/zeek/share/zeek/site/socforge-alert/main.zeek.j2")
    parse_zeek(main)
    parse_zeek(render("opt/zeek/share/zeek/site/socforge-alert/__load__.zeek.j2"))
    # Every %s after the command itself is wrapped in safe_shell_quote.
    call = main[main.index("local cmd = fmt(") : main.index("when [cmd]")]
    fmt_string = call[call.index('fmt("') + 5 : call.index('",')]
    assert call.count("safe_shell_quote(") == fmt_string.count("%s") - 1 == 7
    assert "Exec::run" in main


def test_zeekctl_cfg_differs_between_7_and_8():
    seven = render("opt/zeek/etc/zeekctl.cfg.j2", zeek_version="7.0")
    eight = render("opt/zeek/etc/zeekctl.cfg.j2", zeek_version="8.1", zeek_cluster_backend="zeromq")
    assert "ClusterBackend" not in seven and "BrokerDBDir" in seven
    assert "ClusterBackend = ZeroMQ" in eight and "UseWebSocket = 1" in eight and "BrokerDBDir" not in eight
    assert "ZeekPort = 27760" in seven and "ZeekPort = 27760" in eight
    # A site without websockets >= 11 for zeekctl can turn the WebSocket client off.
    assert "UseWebSocket = 0" in render(
        "opt/zeek/etc/zeekctl.cfg.j2", zeek_version="8.1", zeek_cluster_backend="zeromq", zeek_use_websocket=False
    )
    assert "SendMail =\n" in seven  # mail off by default
    assert "LogExpireInterval = 30day" in seven


def test_node_cfg_and_networks_cfg_templates():
    layout = z.compute_layout(
        [
            {
                "name": "m",
                "address": "10.0.0.1",
                "roles": ["manager", "logger", "proxy"],
                "hardware": {"cores": 4, "memory_gb": 16},
            },
            {
                "name": "w",
                "address": "10.0.0.2",
                "roles": ["worker"],
                "hardware": {
                    "cores": 8,
                    "memory_gb": 64,
                    "capture_nics": [{"name": "eth1", "speed_gbps": 10, "link": "l"}],
                },
            },
        ],
        [{"name": "l", "capacity_gbps": 10, "peak_utilisation": 0.3}],
    )
    node_cfg = render("opt/zeek/etc/node.cfg.j2", __zeek_layout=layout)
    assert node_cfg.startswith("#\n# Managed by SOCForge")
    assert "[worker-w-eth1]\ntype=worker\nhost=10.0.0.2\ninterface=af_packet::eth1\n" in node_cfg
    e = env()
    e.filters["ansible.utils.ipaddr"] = lambda cidr, what: str(__import__("netaddr").IPNetwork(cidr).cidr)
    nets = e.get_template("opt/zeek/etc/networks.cfg.j2").render(
        ansible_managed="x",
        soc_networks={"admin": {"cidr": "10.20.110.0/24", "description": "Admin"}},
        zeek_local_networks=[{"cidr": "192.0.2.0/24", "description": "Campus"}, {"cidr": "198.51.100.7/24"}],
    )
    # Only the monitored site networks (zeek_local_networks), never the SOC's own admin network.
    assert [x for x in nets.splitlines() if not x.startswith("#")] == ["192.0.2.0/24\tCampus", "198.51.100.0/24\t"]


# --- Kafka output: one topic per log ----------------------------------------------------------------


def zeek_declarations(text):
    """Read a Zeek script's declarations from zeekscript's syntax tree: ``redef`` values by id (source
    text) and string-to-string table constants by module-qualified id (as a dict)."""
    script = zeekscript.Script(io.BytesIO(text.encode()))
    assert script.parse() and not script.has_error(), script.get_error()

    def src(node):
        return script.get_content(*node.script_range()).decode()

    def kids(node, kind):
        return [c for c in node.nonerr_children if c.type == kind]

    def string(node):  # an expr node holding one string constant
        (const,) = kids(node, "constant")
        return json.loads(src(const))

    redefs, tables, module = {}, {}, "GLOBAL"
    for node, _ in script.traverse():
        if node.type == "module_decl":
            module = src(kids(node, "id")[0])
        elif node.type == "redef_decl" and kids(node, "initializer"):
            (expr,) = kids(kids(node, "initializer")[0], "expr")
            redefs[src(kids(node, "id")[0])] = src(expr)
        elif node.type == "const_decl" and kids(node, "initializer"):
            (expr,) = kids(kids(node, "initializer")[0], "expr")
            if src(expr).startswith("table("):
                entries = {}
                for lists in kids(expr, "expr_list"):
                    for entry in kids(lists, "expr"):  # ["key"] = "value": expr(`[` expr_list `]`) = expr
                        index, value = kids(entry, "expr")
                        (key_list,) = kids(index, "expr_list")
                        (key,) = kids(key_list, "expr")
                        entries[string(key)] = string(value)
                tables[f"{module}::{src(kids(node, 'id')[0])}"] = entries
    return redefs, tables


KAFKA_FILTER = (
    '\t\tlocal filter = copy(Log::get_filter(id, "default"));\n'
    '\t\tif ( filter$name == "<not found>" )\n'
    '\t\t\tfilter = Log::Filter($name="socforge-kafka");\n'
    '\t\tfilter$name = "socforge-kafka";\n'
    "\t\tfilter$writer = Log::WRITER_KAFKAWRITER;\n"
    '\t\tfilter$config = table(["topic_name"] = topics[stream$path]);\n'
    "\t\tLog::add_filter(id, filter);\n"
)


def test_kafka_output_sends_each_log_to_the_topic_the_kafka_role_creates():
    text = render(
        "opt/zeek/share/zeek/site/local.zeek.j2",
        zeek_kafka_enabled=True,
        zeek_kafka_brokers=["k1:9092"],
        zeek_kafka_security_protocol="plaintext",
    )
    redefs, tables = zeek_declarations(text)
    kafka = role_defaults("kafka")
    created = {log: kafka["kafka_topic_prefix"] + log for log in kafka["kafka_zeek_logs"]}
    assert tables["SOCForgeKafka::topics"] == created
    assert created["conn"] == "zeek-conn" and created["known_certs"] == "zeek-known_certs"
    # No shared topic to fall back on, plain records (the topic names the log), brokers as given.
    assert redefs["Kafka::topic_name"] == '""'
    assert redefs["Kafka::tag_json"] == "F"
    assert (
        redefs["Kafka::kafka_conf"]
        == 'table(\n\t["metadata.broker.list"] = "k1:9092",\n\t["security.protocol"] = "plaintext"\n)'
    )
    assert "socforge-kafka-login" not in text
    # The package's own filters would all write to one topic: they stay off.
    assert "send_all_active_logs" not in text and "logs_to_send" not in text
    # Every stream whose path is in the table gets a filter whose topic is the table's entry.
    assert KAFKA_FILTER in text
    assert "if ( ! stream?$path || stream$path !in topics )\n\t\t\tnext;" in text
    # The shippers read the same topics.
    tenzir, logstash = role_defaults("tenzir"), role_defaults("logstash")
    assert tenzir["tenzir_kafka_topic_prefix"] == logstash["logstash_kafka_topic_prefix"] == kafka["kafka_topic_prefix"]
    assert set(tenzir["tenzir_logs"]) == set(logstash["logstash_zeek_logs"]) == set(kafka["kafka_zeek_logs"])


def test_kafka_topic_prefix_and_logs_follow_the_variables():
    text = render(
        "opt/zeek/share/zeek/site/local.zeek.j2",
        zeek_kafka_enabled=True,
        zeek_kafka_brokers=["k1:9092", "k2:9092"],
        zeek_kafka_security_protocol="plaintext",
        zeek_kafka_topic_prefix="site1.zeek_",
        zeek_kafka_logs=["conn", "dns"],
        zeek_local_extra="redef Kafka::max_wait_on_shutdown = 5000;",
    )
    redefs, tables = zeek_declarations(text)
    assert tables["SOCForgeKafka::topics"] == {"conn": "site1.zeek_conn", "dns": "site1.zeek_dns"}
    assert '"k1:9092,k2:9092"' in redefs["Kafka::kafka_conf"]
    # The module block is closed again: site additions land in the global namespace.
    assert text.index("module GLOBAL;") < text.index("redef Kafka::max_wait_on_shutdown")
    assert redefs["Kafka::max_wait_on_shutdown"] == "5000"


def kafka_conf(text):
    """Kafka::kafka_conf of a rendered local.zeek, as a dict (Zeek string escapes decoded)."""
    redefs, _ = zeek_declarations(text)
    literal = r'"((?:[^"\\]|\\.)*)"'
    unquote = lambda v: re.sub(r"\\x([0-9a-f]{2})|\\(.)", lambda m: chr(int(m[1], 16)) if m[1] else m[2], v)  # noqa: E731
    return {unquote(k): unquote(v) for k, v in re.findall(rf"\[{literal}\] = {literal}", redefs["Kafka::kafka_conf"])}


KAFKA_SASL_SSL = {
    "zeek_kafka_enabled": True,
    "zeek_kafka_brokers": ["k1:9092", "k2:9092"],
    "zeek_kafka_security_protocol": "sasl_ssl",
    "zeek_kafka_ca_path": "/etc/ssl/socforge/ca.pem",
    "zeek_kafka_sasl_password": 'pa"ss\\wörd $HOME',
}


def test_kafka_producer_follows_the_security_protocol():
    """roles/soc's protocol, lower-cased: sasl_ssl logs in with SCRAM-SHA-512 as zeek and pins the CA,
    ssl only pins the CA, plaintext neither; the password is never in local.zeek, which loads the
    login script only when it logs in; options are merged last, booleans as librdkafka spells them."""
    sasl = render("opt/zeek/share/zeek/site/local.zeek.j2", **KAFKA_SASL_SSL)
    parse_zeek(sasl)
    assert kafka_conf(sasl) == {
        "metadata.broker.list": "k1:9092,k2:9092",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "zeek",
        "ssl.ca.location": "/etc/ssl/socforge/ca.pem",
    }
    assert "sasl.password" not in sasl and "ss\\w" not in sasl and "rd $HOME" not in sasl
    # loaded after the table it adds to
    assert sasl.index("redef Kafka::kafka_conf = table(") < sasl.index("\n@load ./socforge-kafka-login\n")

    ssl = render("opt/zeek/share/zeek/site/local.zeek.j2", **{**KAFKA_SASL_SSL, "zeek_kafka_security_protocol": "SSL"})
    assert kafka_conf(ssl) == {
        "metadata.broker.list": "k1:9092,k2:9092",
        "security.protocol": "ssl",
        "ssl.ca.location": "/etc/ssl/socforge/ca.pem",
    }
    assert "socforge-kafka-login" not in ssl
    plain = render(
        "opt/zeek/share/zeek/site/local.zeek.j2",
        **{
            **KAFKA_SASL_SSL,
            "zeek_kafka_security_protocol": "plaintext",
            "zeek_kafka_options": {"acks": "all", "enable.idempotence": True},
        },
    )
    assert kafka_conf(plain) == {
        "metadata.broker.list": "k1:9092,k2:9092",
        "security.protocol": "plaintext",
        "acks": "all",
        "enable.idempotence": "true",
    }
    # no CA path: librdkafka's default trust store
    nocap = render("opt/zeek/share/zeek/site/local.zeek.j2", **{**KAFKA_SASL_SSL, "zeek_kafka_ca_path": ""})
    assert "ssl.ca.location" not in kafka_conf(nocap)


def test_kafka_login_script_holds_the_quoted_password():
    login = render("opt/zeek/share/zeek/site/socforge-kafka-login.zeek.j2", **KAFKA_SASL_SSL)
    parse_zeek(login)
    (line,) = [x for x in login.splitlines() if not x.startswith("#")]
    assert line == 'redef Kafka::kafka_conf += { ["sasl.password"] = "pa\\"ss\\\\w\\xc3\\xb6rd $HOME" };'


def test_kafka_output_off_by_default():
    text = render("opt/zeek/share/zeek/site/local.zeek.j2")
    redefs, tables = zeek_declarations(text)
    assert "Seiso/Kafka" not in text and "SOCForgeKafka::topics" not in tables
    assert not [k for k in redefs if k.startswith("Kafka::")]


# ---------------------------------------------------------------------------------------------
# The alert sender, for real, against a loopback HTTP server
# ---------------------------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests = []
    status = 202

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def pager():
    _Recorder.requests = []
    _Recorder.status = 202
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/alerts", _Recorder
    server.shutdown()


@pytest.fixture
def sender(tmp_path):
    path = tmp_path / "socforge-zeek-alert"
    path.write_text(render("usr/local/libexec/socforge-zeek-alert.j2"))
    path.chmod(0o755)
    return path


def write_config(tmp_path, url, target="opsgenie", limit=3, key="s3cr3t-key", suppress="1hr"):
    cfg = tmp_path / "zeek-alert.json"
    cfg.write_text(
        render(
            "etc/socforge/zeek-alert.json.j2",
            zeek_alert_target=target,
            zeek_alert_url=url,
            zeek_alert_api_key=key,
            zeek_alert_rate_limit=limit,
            zeek_alert_suppress_for=suppress,
            zeek_spool_dir=str(tmp_path),
        )
    )
    cfg.chmod(0o640)
    return cfg


def run(sender, cfg, *args):
    cmd = [sys.executable, str(sender), "--config", str(cfg), "--note", "Intel::Notice", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def test_sender_posts_opsgenie_alert_with_key_in_header_only(sender, pager, tmp_path):
    url, rec = pager
    cfg = write_config(tmp_path, url)
    res = run(
        sender, cfg, "--msg", "evil.example.org seen; $(rm -rf /) `x`", "--src", "10.0.0.5", "--identifier", "evil"
    )
    assert res.returncode == 0, res.stderr
    (req,) = rec.requests
    assert req["headers"]["Authorization"] == "GenieKey s3cr3t-key"
    assert req["body"]["message"] == "Zeek Intel::Notice: evil.example.org seen; $(rm -rf /) `x`"
    assert req["body"]["alias"] == "zeek:Intel::Notice:evil"
    assert req["body"]["details"]["src"] == "10.0.0.5"
    assert "s3cr3t-key" not in json.dumps(req["body"])
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o640


def test_sender_webhook_rate_limit_and_failures_never_print_the_key(sender, pager, tmp_path):
    url, rec = pager
    cfg = write_config(tmp_path, url.replace("/v2/alerts", "/hook"), target="webhook", limit=2)
    results = [run(sender, cfg, "--msg", f"hit {i}") for i in range(4)]
    assert [r.returncode for r in results] == [0, 0, 0, 0]
    assert len(rec.requests) == 2  # two posts, two dropped
    assert all("rate limit reached" in r.stderr for r in results[2:])
    assert rec.requests[0]["headers"]["Authorization"] == "Bearer s3cr3t-key"
    state = json.loads((tmp_path / "socforge-alert.state").read_text())
    assert state["dropped"] == 2
    rec.status = 500
    bad = write_config(tmp_path, url, limit=100)
    (tmp_path / "socforge-alert.state").unlink()
    res = run(sender, bad, "--msg", "x")
    assert res.returncode == 1 and "s3cr3t-key" not in res.stderr + res.stdout
    # The drop count rides on the next successful post.
    rec.status = 202
    state_file = tmp_path / "socforge-alert.state"
    state_file.write_text(json.dumps({"sent": [], "dropped": 5}))
    assert run(sender, bad, "--msg", "y").returncode == 0
    assert rec.requests[-1]["body"]["details"]["dropped_by_rate_limit"] == "5"


@pytest.mark.parametrize(("interval", "seconds"), [("1hr", 3600), ("30 mins", 1800), ("2days", 172800), ("90sec", 90)])
def test_config_carries_the_zeek_suppression_interval_in_seconds(tmp_path, interval, seconds):
    cfg = write_config(tmp_path, "http://127.0.0.1:9/", suppress=interval)
    assert json.loads(cfg.read_text())["suppress_seconds"] == seconds


def test_sender_does_not_page_a_repeat_nor_count_it_against_the_limit(sender, pager, tmp_path):
    """After a Zeek restart every notice still true is raised again at once (Zeek's suppression is in
    memory): those repeats are not paged and leave the rate limit to new alerts."""
    url, rec = pager
    cfg = write_config(tmp_path, url, limit=2)
    first = run(sender, cfg, "--msg", "evil.example.org seen", "--identifier", "evil.example.org")
    repeat = run(sender, cfg, "--msg", "evil.example.org seen", "--identifier", "evil.example.org")
    other_note = run(
        sender, cfg, "--note=SSH::Password_Guessing", "--msg", "guessing", "--identifier", "evil.example.org"
    )
    assert [r.returncode for r in (first, repeat, other_note)] == [0, 0, 0]
    assert "was paged already, not again" in repeat.stderr
    assert [r["body"]["alias"] for r in rec.requests] == [
        "zeek:Intel::Notice:evil.example.org",
        "zeek:SSH::Password_Guessing:evil.example.org",
    ]
    state = json.loads((tmp_path / "socforge-alert.state").read_text())
    assert state["dropped"] == 0 and len(state["sent"]) == 2  # the repeat used no slot
    # the limit (2) is reached now: a new notice is dropped and counted, a repeat still is not
    assert "rate limit reached" in run(sender, cfg, "--msg", "new", "--identifier", "new.example.org").stderr
    assert "paged already" in run(sender, cfg, "--msg", "again", "--identifier", "evil.example.org").stderr
    assert json.loads((tmp_path / "socforge-alert.state").read_text())["dropped"] == 1
    # once the suppression interval is over the notice pages again
    state = json.loads((tmp_path / "socforge-alert.state").read_text())
    state["paged"] = {k: t - 3601 for k, t in state["paged"].items()}
    state["sent"] = []
    (tmp_path / "socforge-alert.state").write_text(json.dumps(state))
    assert run(sender, cfg, "--msg", "later", "--identifier", "evil.example.org").returncode == 0
    assert rec.requests[-1]["body"]["alias"] == "zeek:Intel::Notice:evil.example.org"
    assert rec.requests[-1]["body"]["details"]["dropped_by_rate_limit"] == "1"


def test_sender_bad_config_is_a_clear_error(sender, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"target": "pagerduty", "url": "http://127.0.0.1:9/"}))
    res = run(sender, cfg)
    assert res.returncode == 2 and "target must be opsgenie or webhook" in res.stderr
