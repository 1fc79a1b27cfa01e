"""Every rendered local.zeek variant runs in the real Zeek (7.2.2 with the 7.x knobs, 8.1.2 with the
8.x ones) over all the shared pcaps with an empty reporter.log; the alert action really pages a
loopback webhook (rate limit held, a message starting with "-" still pages); Zeek -> Kafka writes
each log's records into its own topic of a real Kafka broker."""

import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from zeek_site import (
    merged_pcap,
    misp_event,
    read_log,
    render,
    reporter_messages,
    role_defaults,
    site_command,
    sync_feed,
    unexpected_stderr,
    write_feed,
    write_site,
    zeek_env,
)
from zeek_site import run_site as run_zeek

pytestmark = pytest.mark.integration

# In the merged trace: an HTTP Host header, a DNS query, an established connection's responder.
TRACE_INDICATORS = [("hostname", "bits.wikimedia.org"), ("domain", "meta.wikimedia.org"), ("ip-dst", "45.9.74.78")]


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    return merged_pcap(tmp_path_factory.mktemp("pcap") / "all.pcap")  # all six shared pcaps


def site_with_intel(tmp_path, zeek, **zeek_vars):
    site = write_site(tmp_path, zeek, **zeek_vars)
    if zeek_vars.get("zeek_intel_enabled", True):
        feed = tmp_path / "feed"
        write_feed(feed, [misp_event("trace indicators", TRACE_INDICATORS, 1_700_000_000)])
        sync_feed(feed, site.intel_files[0], "misp")
    return site


def assert_clean(res, rundir):
    assert res.returncode == 0, res.stderr
    assert not unexpected_stderr(res.stderr), res.stderr
    assert reporter_messages(rundir) == [], reporter_messages(rundir)


VARIANTS = {
    "defaults": {},
    "no-intel-ascii-logs": {"zeek_intel_enabled": False, "zeek_json_logs": False},
    "site-extra": {
        "zeek_local_extra": "redef Intel::item_expiration = 1day;\nredef Site::local_nets += { 10.0.0.0/8 };"
    },
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_local_zeek_runs_the_shared_pcaps_cleanly(zeek, variant, trace, tmp_path):
    v = VARIANTS[variant]
    site = site_with_intel(tmp_path, zeek, **v)
    intel = v.get("zeek_intel_enabled", True)
    assert ("manage-event-groups" in site.local_text) == (intel and zeek.major == "8")
    assert ("detect-sqli" in site.local_text) == (zeek.major == "7")
    rundir = tmp_path / "run"
    res = run_zeek(zeek, site, trace, rundir, hold=intel)
    assert_clean(res, rundir)
    conn = read_log(rundir, "conn")
    assert len(conn) >= 30
    first = (rundir / "conn.log").read_text().splitlines()[0]
    assert first.startswith("{") == v.get("zeek_json_logs", True)
    if intel:
        assert {r["seen.indicator"] for r in read_log(rundir, "intel")} == {v for _, v in TRACE_INDICATORS}
    else:
        assert not (rundir / "intel.log").exists()


# --- the alert action ------------------------------------------------------------------------------


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.posts.append({"auth": self.headers.get("Authorization"), "body": body})
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.posts = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


DASH_MSG = "-rf / --everything looks like an option"


def page_run(zeek, trace, tmp_path, url, rate_limit):
    """Zeek with alerting on over the trace; kept alive after it until the senders are done."""
    spool = tmp_path / "spool"
    spool.mkdir()
    sender = tmp_path / "socforge-zeek-alert"
    sender.write_text(render("zeek", "usr/local/libexec/socforge-zeek-alert.j2"))
    sender.chmod(0o755)
    cfg = tmp_path / "zeek-alert.json"
    cfg.write_text(
        render(
            "zeek",
            "etc/socforge/zeek-alert.json.j2",
            zeek_alert_target="webhook",
            zeek_alert_url=url,
            zeek_alert_api_key="hook-s3cret",
            zeek_alert_rate_limit=rate_limit,
            zeek_spool_dir=str(spool),
        )
    )
    site = site_with_intel(
        tmp_path,
        zeek,
        zeek_alert_enabled=True,
        zeek_alert_command=f"{sender} --config={cfg}",
        zeek_alert_notice_types=["Intel::Notice", "Weird::Activity"],
    )
    extra = (
        "redef exit_only_after_terminate = T;\n"
        "event zeek_init() &priority=-100\n"
        f'\t{{ NOTICE([$note=Weird::Activity, $msg="{DASH_MSG}", $sub="-s", $identifier="dash"]); }}\n'
    )
    rundir = tmp_path / "run"
    cmd = site_command(zeek, site, trace, rundir, extra=extra)
    proc = subprocess.Popen(
        cmd, cwd=rundir, env=zeek_env(zeek, site), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return proc, rundir, spool / "socforge-alert.state", sender


def senders_running(sender):
    """Whether a process started from ``sender`` is still alive (the senders are Zeek's children)."""
    needle = str(sender).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


def settle(proc, server, state_file, sender, quiet=3.0, limit=90.0):
    """Wait until no sender runs and none has posted or dropped for ``quiet`` seconds, then stop Zeek
    (SIGTERM)."""
    deadline = time.monotonic() + limit
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        dropped = json.loads(state_file.read_text() or "{}").get("dropped", 0) if state_file.exists() else 0
        now = (len(server.posts), dropped)
        if now != last or senders_running(sender):
            last, since = now, time.monotonic()
        elif sum(now) and time.monotonic() - since >= quiet:
            break
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), last


def stopped_stderr(text):
    """stderr of a run stopped by SIGTERM, less Zeek's note that it received it."""
    return [ln for ln in unexpected_stderr(text) if not re.fullmatch(r"[0-9.]+ received termination signal", ln)]


def paged(rundir):
    return [n for n in read_log(rundir, "notice") if "SOCForgeAlert::ACTION_PAGE" in n.get("actions", [])]


def test_notices_page_the_webhook_with_their_fields(zeek, trace, tmp_path, webhook):
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    proc, rundir, state, sender = page_run(zeek, trace, tmp_path, url, rate_limit=100)
    res, _ = settle(proc, webhook, state, sender)
    assert not stopped_stderr(res.stderr), res.stderr
    assert [m for m in reporter_messages(rundir) if m != "Reporter::INFO: received termination signal ()"] == []
    notices = paged(rundir)
    intel = [n for n in notices if n["note"] == "Intel::Notice"]
    assert {n["sub"] for n in intel} >= {v for _, v in TRACE_INDICATORS}  # do_notice=T from the library
    # notice.log does not log the identifier: match on what it logs; the identifier is checked below.
    posts = {(p["body"]["note"], p["body"]["message"], p["body"]["uid"]): p for p in webhook.posts}
    assert len(webhook.posts) == len(notices) == len(posts)
    host = os.uname().nodename
    for n in notices:
        post = posts[(n["note"], n["msg"], n.get("uid", ""))]
        assert post["auth"] == "Bearer hook-s3cret"
        body = dict(post["body"])
        assert body.pop("identifier")
        assert body == {
            "source": "zeek",
            "message": n["msg"],
            "note": n["note"],
            "sub": n.get("sub", ""),
            "src": n.get("src", ""),
            "dst": n.get("dst", ""),
            "uid": n.get("uid", ""),
            "host": host,
        }
    # The message starting with "-" paged like any other (argparse took it for an option before).
    dash = [p["body"] for p in webhook.posts if p["body"]["message"] == DASH_MSG]
    assert [(b["sub"], b["identifier"]) for b in dash] == [("-s", "dash")]


def test_rate_limit_holds_under_a_burst_of_notices(zeek, trace, tmp_path, webhook):
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    proc, rundir, state, sender = page_run(zeek, trace, tmp_path, url, rate_limit=2)
    res, (posted, dropped) = settle(proc, webhook, state, sender)
    assert not stopped_stderr(res.stderr), res.stderr
    notices = paged(rundir)
    assert len(notices) >= 4
    assert posted == len(webhook.posts) == 2
    assert dropped == len(notices) - 2


# --- Zeek -> Kafka ------------------------------------------------------------------------------------


def consume_all(bootstrap, topics, want, timeout=30.0):
    """Every record in ``topics`` (partition 0, from the start): {topic: [record, ...]}. Reads until
    ``want`` records arrived, then one more second (to catch any beyond what the logs hold)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"zt-{uuid.uuid4().hex[:8]}"})
    consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in topics])
    out = {t: [] for t in topics}
    got, deadline, extra_until = 0, time.monotonic() + timeout, None
    try:
        while time.monotonic() < (extra_until or deadline):
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                out[msg.topic()].append(json.loads(msg.value()))
                got += 1
            if got >= want and extra_until is None:
                extra_until = time.monotonic() + 1.0
    finally:
        consumer.close()
    return out


def test_zeek_writes_each_log_to_its_own_kafka_topic(zeek, trace, tmp_path, kafka_server):
    prefix = f"zt{zeek.major}-{uuid.uuid4().hex[:6]}.zeek-"
    logs = role_defaults("kafka")["kafka_zeek_logs"]
    assert role_defaults("zeek")["zeek_kafka_logs"] == logs
    for log in logs:
        kafka_server.create_topic(prefix + log)
    site = site_with_intel(
        tmp_path,
        zeek,
        zeek_kafka_enabled=True,
        zeek_kafka_brokers=[kafka_server.bootstrap],
        zeek_kafka_security_protocol="plaintext",  # the test broker's listener
        zeek_kafka_topic_prefix=prefix,
    )
    rundir = tmp_path / "run"
    res = run_zeek(zeek, site, trace, rundir)
    assert_clean(res, rundir)  # a missing topic would show as "Unable to deliver" here
    files = {log: read_log(rundir, log) for log in logs}
    topics = consume_all(kafka_server.bootstrap, [prefix + log for log in logs], sum(map(len, files.values())))
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    sent = {}
    for log in logs:
        got, records = sorted(topics[prefix + log], key=key), sorted(files[log], key=key)
        diff = [
            {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
            for a, b in zip(got, records, strict=False)
            if a != b
        ]
        assert len(got) == len(records) and not diff, f"topic {prefix + log}: {len(got)} vs {len(records)}: {diff[:3]}"
        sent[log] = len(got)
    assert all(sent[log] > 0 for log in ("conn", "dns", "http", "files", "ssl", "x509", "intel", "notice")), sent
