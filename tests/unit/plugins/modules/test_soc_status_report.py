"""socforge.core.soc_status_report and plugins/module_utils/soc_status.py: parsing what the tiers report,
the verdict, and the HTML/JSON/text renderings (the HTML is opened in Chromium by test_soc_status_chromium.py)."""

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from ansible_collections.socforge.core.plugins.module_utils import soc_status, tap_aggregation
from ansible_collections.socforge.core.plugins.modules import soc_status_report
from utils import AnsibleFailJson, run_module

from tests.unit.site.test_site_model import load_site

# zeekctl 8.1 `status` output of the lab, with one worker stopped.
ZEEKCTL_STATUS = """\
Name         Type    Host             Status    Pid    Started
logger-1     logger  10.89.30.12      running   4711   30 Nov 10:02:11
manager      manager 10.89.30.12      running   4766   30 Nov 10:02:13
proxy-1      proxy   10.89.30.12      running   4810   30 Nov 10:02:14
worker-lab-zeek-w1-cap0-1 worker  10.89.30.13      running   1201   30 Nov 10:02:16
worker-lab-zeek-w2-cap0-1 worker  10.89.30.14      stopped
"""

CAPTURE_LOSS = [
    '{"ts":1796030000.0,"ts_delta":900.0,"peer":"worker-1","gaps":0,"acks":120,"percent_lost":0.0}',
    '{"ts":1796030900.0,"ts_delta":900.0,"peer":"worker-1","gaps":3,"acks":100,"percent_lost":3.0}',
    '{"ts":1796030100.0,"ts_delta":900.0,"peer":"worker-2","gaps":1,"acks":500,"percent_lost":0.2}',
    "#not json",
]

# Kafka 4.1 ConsumerGroupCommand --describe --all-groups (two groups, one far behind).
GROUPS = """\

GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
socforge-conn   zeek-conn       0          1200            1200            0               -               -               -
socforge-conn   zeek-conn       1          1100            1105            5               -               -               -

GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
socforge-dns    zeek-dns        0          10              2000010         2000000         -               -               -
"""


def test_zeekctl_status_names_the_stopped_worker():
    checks = soc_status.zeekctl_status_checks(ZEEKCTL_STATUS, "lab-zeek-mgr")
    assert [c["status"] for c in checks] == ["ok"] * 4 + ["fail"]
    assert checks[-1]["check"] == "node worker-lab-zeek-w2-cap0-1"
    assert checks[-1]["detail"] == "worker on 10.89.30.14: stopped"
    assert soc_status.zeekctl_status_checks("Warning: zeekctl not installed\n", "m")[0]["status"] == "fail"


def test_capture_loss_uses_each_workers_latest_measurement():
    checks = {c["check"]: c for c in soc_status.capture_loss_checks(CAPTURE_LOSS, "mgr")}
    assert checks["capture loss worker-1"]["status"] == "fail"  # 3 % now, 0 % before
    assert checks["capture loss worker-1"]["detail"].startswith("3.000 % lost (3 gaps in 100 ACKs)")
    assert checks["capture loss worker-2"]["status"] == "warn"


def test_consumer_lag_is_summed_per_group():
    checks = {c["check"]: c for c in soc_status.kafka_lag_checks(GROUPS, "kafka1")}
    assert checks["consumer lag socforge-conn"]["detail"] == "5 messages behind"
    assert checks["consumer lag socforge-conn"]["status"] == "ok"
    assert checks["consumer lag socforge-dns"]["status"] == "fail"


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.external = [], []
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "class" in attrs:
            self._row = [attrs["class"]]
            self.rows.append(self._row)
        for key in ("src", "href"):
            if key in attrs:
                self.external.append(attrs[key])
        if tag in ("script", "link", "img", "iframe"):
            self.external.append(tag)

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def test_module_writes_page_and_json_and_fails_naming_the_problem(monkeypatch, tmp_path):
    checks = soc_status.zeekctl_status_checks(ZEEKCTL_STATUS, "lab-zeek-mgr") + [
        {
            "component": "opensearch",
            "host": "os1",
            "check": "newest dns",
            "status": "warn",
            "detail": "<no> dns records",
        }
    ]
    args = {
        "checks": checks,
        "generated": "2026-11-30T10:30:00Z",
        "html_path": str(tmp_path / "out" / "index.html"),
        "json_path": str(tmp_path / "out" / "status.json"),
    }
    with pytest.raises(AnsibleFailJson) as failed:
        run_module(monkeypatch, soc_status_report, args)
    result = failed.value.result
    assert (
        result["msg"] == "SOC status: zeek lab-zeek-mgr: node worker-lab-zeek-w2-cap0-1: worker on 10.89.30.14: stopped"
    )
    assert result["overall"] == "fail" and result["counts"] == {"ok": 4, "warn": 1, "fail": 1}
    page = (tmp_path / "out" / "index.html").read_text()
    parser = _Cells()
    parser.feed(page)
    assert parser.external == []  # self-contained: no scripts, links or images
    assert ["fail", "FAIL", "zeek", "lab-zeek-mgr", "node worker-lab-zeek-w2-cap0-1"] == parser.rows[-1][:5]
    assert "&lt;no&gt; dns records" in page  # details are escaped
    doc = json.loads((tmp_path / "out" / "status.json").read_text())
    assert doc["overall"] == "fail" and len(doc["checks"]) == 6 and len(doc["problems"]) == 1

    # same checks again, not failing on problems: nothing rewritten, not changed
    args["fail_on_problem"] = False
    result = run_module(monkeypatch, soc_status_report, args)
    assert result["changed"] is False and result["overall"] == "fail"
    assert result["table"].splitlines()[-1].split()[:3] == ["FAIL", "zeek", "lab-zeek-mgr"]


def test_check_mode_writes_nothing(monkeypatch, tmp_path):
    ok = [{"component": "kafka", "host": "k1", "check": "brokers", "status": "ok", "detail": "1 live"}]
    result = run_module(
        monkeypatch,
        soc_status_report,
        {"checks": ok, "generated": "now", "html_path": str(tmp_path / "i.html")},
        check_mode=True,
    )
    assert result["changed"] is True and result["overall"] == "ok"
    assert not (tmp_path / "i.html").exists()


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("not a dict", "unable to convert to dict"),
        ({"component": "zeek", "host": "m", "check": "x"}, "missing ['status']"),
        ({"component": "zeek", "host": "m", "check": "x", "status": "bad"}, "status 'bad' is not one of"),
    ],
)
def test_bad_checks_fail_naming_them(monkeypatch, check, message):
    with pytest.raises(AnsibleFailJson) as failed:
        run_module(monkeypatch, soc_status_report, {"checks": [check], "generated": "now"})
    assert message in failed.value.result["msg"]


def test_nodes_of_node_cfg_that_zeekctl_does_not_list_fail():
    # Run as root, zeekctl 8.1 has no SSH key for the workers and silently lists only the local nodes.
    node_cfg = "[logger-1]\ntype=logger\n[manager]\ntype=manager\n[proxy-1]\ntype=proxy\n"
    node_cfg += "[worker-lab-zeek-w1-cap0]\ntype=worker\nlb_procs=1\n[worker-lab-zeek-w2-cap0]\ntype=worker\n"
    local_only = "\n".join(ZEEKCTL_STATUS.splitlines()[:4])
    checks = soc_status.zeekctl_status_checks(local_only, "mgr", soc_status.node_cfg_sections(node_cfg))
    failed = [c["check"] for c in checks if c["status"] == "fail"]
    assert failed == ["node worker-lab-zeek-w1-cap0", "node worker-lab-zeek-w2-cap0"]
    # every node listed (workers as <entry>-1): nothing missing, the stopped one still fails
    checks = soc_status.zeekctl_status_checks(ZEEKCTL_STATUS, "mgr", soc_status.node_cfg_sections(node_cfg))
    assert [c["check"] for c in checks if c["status"] == "fail"] == ["node worker-lab-zeek-w2-cap0-1"]


# MISP 2.5.1 GET /servers/getWorkers (Server::workerDiagnostics with SimpleBackgroundJobs): the
# update queue has no worker.
MISP_WORKERS = {
    "cache": {
        "ok": True,
        "workers": [{"pid": 2301, "user": "www-data", "alive": True, "correct_user": True, "ok": True}],
        "jobCount": 0,
    },
    "default": {
        "ok": True,
        "jobCount": 3,
        "workers": [
            {"pid": 2302, "user": "www-data", "alive": True, "correct_user": True, "ok": True},
            {"pid": 2303, "user": "www-data", "alive": False, "correct_user": True, "ok": False},
        ],
    },
    "email": {
        "ok": True,
        "workers": [{"pid": 2304, "user": "www-data", "alive": True, "correct_user": True, "ok": True}],
        "jobCount": 0,
    },
    "prio": {
        "ok": True,
        "workers": [{"pid": 2305, "user": "www-data", "alive": True, "correct_user": True, "ok": True}],
        "jobCount": 0,
    },
    "update": {"ok": False, "jobCount": 0},
    "proc_accessible": True,
    "controls": 1,
    "supervisord_status": True,
}
NOW = 1796037600.0  # 2026-11-30 11:20:00 UTC
# GET /servers/index and POST /admin/logs/index (model Server) on the hub: the spoke pulled 20 minutes
# ago; the partner's last push (3 days ago) was followed by an error.
MISP_SERVERS = [
    {
        "Server": {"id": "1", "name": "lab-misp-spoke", "url": "https://10.89.30.22", "pull": True, "push": True},
        "Organisation": {"id": "1"},
        "RemoteOrg": {"id": "2"},
    },
    {
        "Server": {
            "id": "2",
            "name": "partner-cert",
            "url": "https://misp.partner.invalid",
            "pull": False,
            "push": True,
        },
        "Organisation": {"id": "1"},
        "RemoteOrg": {"id": "3"},
    },
    {"Server": {"id": "3", "name": "disabled", "url": "https://old.invalid", "pull": False, "push": False}},
]
MISP_LOGS = [
    {
        "Log": {
            "id": "40",
            "title": "Pull from https://10.89.30.22 initiated by admin@admin.test",
            "created": "2026-11-30 10:30:00",
            "model": "Server",
            "model_id": "1",
            "action": "pull",
        }
    },
    {
        "Log": {
            "id": "41",
            "title": "Pull from https://10.89.30.22 initiated by admin@admin.test",
            "created": "2026-11-30 11:00:00",
            "model": "Server",
            "model_id": 1,
            "action": "pull",
        }
    },
    {
        "Log": {
            "id": "12",
            "title": "Push to https://misp.partner.invalid initiated by admin@admin.test",
            "created": "2026-11-27 11:00:00",
            "model": "Server",
            "model_id": "2",
            "action": "push",
        }
    },
    {
        "Log": {
            "id": "13",
            "title": "Failed: Push to https://misp.partner.invalid initiated by admin@admin.test",
            "created": "2026-11-28 11:00:00",
            "model": "Server",
            "model_id": "2",
            "action": "error",
        }
    },
]
# socforge.core.kafka_cluster_health's result when a broker is down (fail_json with the health).
KAFKA_HEALTH_FAILED = {
    "failed": True,
    "msg": "kafka cluster health: 2 of 3 brokers live; 2 partitions under-replicated",
    "brokers": [1, 2],
    "partitions": 42,
    "under_replicated": ["zeek-conn/0", "zeek-dns/3"],
    "offline": [],
}


def test_misp_workers_one_check_per_queue():
    checks = {c["check"]: c for c in soc_status.misp_worker_checks(MISP_WORKERS, "hub")}
    assert checks["workers default"] == {
        "component": "misp",
        "host": "hub",
        "check": "workers default",
        "status": "ok",
        "detail": "1 of 2 workers alive, 3 jobs queued",
    }
    assert checks["workers update"]["status"] == "fail"
    assert checks["workers update"]["detail"] == "0 of 0 workers alive, 0 jobs queued"
    down = dict(MISP_WORKERS, supervisord_status=False)
    assert soc_status.misp_worker_checks(down, "hub")[-1]["check"] == "supervisord"
    off = soc_status.misp_worker_checks(["Background jobs not enabled"], "hub")
    assert off == [
        {
            "component": "misp",
            "host": "hub",
            "check": "workers",
            "status": "fail",
            "detail": "Background jobs not enabled",
        }
    ]


def test_misp_last_sync_per_link():
    checks = soc_status.misp_sync_checks(MISP_SERVERS, MISP_LOGS, "hub", NOW, max_age_seconds=3600)
    assert [c["check"] for c in checks] == ["sync lab-misp-spoke", "sync partner-cert"]  # disabled link left out
    assert checks[0]["status"] == "ok"
    assert checks[0]["detail"] == "last pull 1200 s ago (pull/push with https://10.89.30.22)"
    assert checks[1]["status"] == "fail"
    assert checks[1]["detail"].endswith(
        "; failed since: Failed: Push to https://misp.partner.invalid initiated by admin@admin.test"
    )
    stale = soc_status.misp_sync_checks(MISP_SERVERS[:1], MISP_LOGS, "hub", NOW + 7200, max_age_seconds=3600)
    assert stale[0]["status"] == "fail" and stale[0]["detail"].endswith("; older than 3600 s")
    none = soc_status.misp_sync_checks(MISP_SERVERS[2:], MISP_LOGS, "hub", NOW)
    assert [(c["check"], c["status"]) for c in none] == [("sync links", "warn")]
    hub = soc_status.misp_sync_checks(MISP_SERVERS[2:], MISP_LOGS, "hub", NOW, holds_links=False)
    assert [(c["check"], c["status"]) for c in hub] == [("sync links", "ok")]
    assert hub[0]["detail"] == "hub: its spokes hold the sync links to it (checked on each spoke)"
    hub_partner = soc_status.misp_sync_checks(MISP_SERVERS, MISP_LOGS, "hub", NOW, 3600, holds_links=False)
    assert [c["status"] for c in hub_partner] == ["ok", "fail"]  # links it does hold are still checked
    never = soc_status.misp_sync_checks(MISP_SERVERS[:1], [], "hub", NOW)
    assert never[0]["status"] == "warn"  # a new link, not synced yet
    only_failed = soc_status.misp_sync_checks(MISP_SERVERS[1:2], MISP_LOGS[3:], "hub", NOW)
    assert only_failed[0]["status"] == "fail" and "; last error: Failed: Push to" in only_failed[0]["detail"]
    assert never[0]["detail"] == "pull/push with https://10.89.30.22: no sync logged"


def test_kafka_health_names_brokers_and_partitions():
    checks = {c["check"]: c for c in soc_status.kafka_health_checks(KAFKA_HEALTH_FAILED, "k1", 3)}
    assert checks["brokers"]["status"] == "fail" and checks["brokers"]["detail"] == "2 of 3 brokers live (ids 1, 2)"
    assert checks["under-replicated partitions"]["detail"] == "2 of 42 partitions: zeek-conn/0, zeek-dns/3"
    assert checks["offline partitions"]["status"] == "ok"
    unreachable = soc_status.kafka_health_checks({"failed": True, "msg": "timed out"}, "k1", 3)
    assert unreachable == [
        {"component": "kafka", "host": "k1", "check": "brokers", "status": "fail", "detail": "timed out"}
    ]


# iproute2 6.1 `ip -json -statistics link show` in a network namespace with two veth pairs, one down.
IP_LINKS = json.loads((Path(__file__).parent / "fixtures" / "ip_link_stats.json").read_text())


def test_aggregator_port_counters():
    every = {c["check"]: c for c in soc_status.aggregator_port_checks(IP_LINKS, "agg")}
    assert sorted(every) == ["port tap0", "port tap1", "port tool0", "port tool1"]  # lo left out
    assert every["port tap0"]["status"] == "ok" and every["port tap0"]["detail"].startswith("UP; received 1 packets")
    assert every["port tool1"]["status"] == "warn"  # down, but nobody said it carries anything
    ports = {"tap0": "tap lhcopn", "tool1": "tool zeek-w01/ens1f0", "tool9": "tool zeek-w02/ens1f0"}
    listed = {c["check"]: c for c in soc_status.aggregator_port_checks(IP_LINKS, "agg", ports)}
    assert listed["port tap0 (tap lhcopn)"]["status"] == "ok"
    assert listed["port tool1 (tool zeek-w01/ens1f0)"]["status"] == "fail"
    assert listed["port tool1 (tool zeek-w01/ens1f0)"]["detail"].startswith("DOWN;")
    assert listed["port tool9 (tool zeek-w02/ens1f0)"] == {
        "component": "aggregator",
        "host": "agg",
        "check": "port tool9 (tool zeek-w02/ens1f0)",
        "status": "fail",
        "detail": "no such interface",
    }
    dropping = json.loads(json.dumps(IP_LINKS))
    dropping[1]["stats64"]["rx"]["dropped"] = 7
    assert soc_status.aggregator_port_checks(dropping, "agg", {"tool0": "tool"})[0]["status"] == "warn"


# OpenSearch 2.19 GET _cluster/health and POST zeek-<log>-*/_search {size: 0, aggs: {newest: {max:
# {field: @timestamp}}}} as ansible.builtin.uri registers them (a log with records, one without, one
# whose index pattern matched nothing).
OS_HEALTH = {
    "status": 200,
    "json": {"cluster_name": "lab", "status": "yellow", "number_of_nodes": 1, "unassigned_shards": 15},
}
OS_NEWEST = [
    {
        "item": {"key": "conn", "value": {}},
        "status": 200,
        "json": {
            "took": 3,
            "hits": {"total": {"value": 120}},
            "aggregations": {"newest": {"value": 1796037300000.0, "value_as_string": "2026-11-30T11:15:00.000Z"}},
        },
    },
    {
        "item": {"key": "dns", "value": {}},
        "status": 200,
        "json": {"took": 1, "hits": {"total": {"value": 0}}, "aggregations": {"newest": {"value": None}}},
    },
    {"item": {"key": "x509", "value": {}}, "status": -1, "msg": "Status code was -1 and not [200]: Connection refused"},
]


def test_opensearch_health_and_newest_record_per_log():
    checks = {c["check"]: c for c in soc_status.opensearch_checks(OS_HEALTH, OS_NEWEST, "os1", NOW, 900)}
    assert checks["cluster health"]["status"] == "warn"
    assert checks["cluster health"]["detail"] == "yellow, 1 nodes, 15 unassigned shards"
    assert checks["newest conn"] == {
        "component": "opensearch",
        "host": "os1",
        "check": "newest conn",
        "status": "ok",
        "detail": "newest record 300 s old",
    }
    assert checks["newest dns"]["detail"] == "no dns records stored" and checks["newest dns"]["status"] == "warn"
    quiet = {
        c["check"]: c for c in soc_status.opensearch_checks(OS_HEALTH, OS_NEWEST, "os1", NOW, 900, ("dns", "x509"))
    }
    assert quiet["newest dns"]["status"] == "ok"
    assert quiet["newest dns"]["detail"] == "no dns records stored (a quiet log: none expected)"
    assert quiet["newest x509"]["status"] == "warn"  # no answer is never quiet
    assert checks["newest x509"]["detail"].startswith("no answer: Status code was -1")
    assert checks["Zeek records arriving"]["status"] == "ok"
    stale = {c["check"]: c for c in soc_status.opensearch_checks(OS_HEALTH, OS_NEWEST, "os1", NOW + 3600, 900)}
    assert stale["newest conn"]["status"] == "warn" and stale["Zeek records arriving"]["status"] == "fail"
    quiet_stale = {
        c["check"]: c for c in soc_status.opensearch_checks(OS_HEALTH, OS_NEWEST, "os1", NOW + 3600, 900, ("conn",))
    }
    assert quiet_stale["newest conn"] == {
        **quiet_stale["newest conn"],
        "status": "ok",
        "detail": "newest record 3900 s old (a quiet log: not continuous)",
    }
    assert quiet_stale["Zeek records arriving"]["status"] == "fail"  # a quiet log is never the fresh one
    down = soc_status.opensearch_checks({"status": -1, "msg": "Connection refused"}, [], "os1", NOW)
    assert down[0]["status"] == "fail" and down[0]["detail"] == "unreachable: Connection refused"


def test_aggregator_ports_from_the_lab_port_map():
    lab = load_site(Path(__file__).resolve().parents[4] / "inventories" / "lab")
    config = tap_aggregation.aggregator_config(lab["links"], lab["hosts"], lab["groups"], "lab-aggregator", 1)
    assert soc_status.aggregator_port_map(config) == {
        "tap0": "tap lab-uplink",
        "tool-w1": "tool lab-zeek-w1/cap0",
        "tool-w2": "tool lab-zeek-w2/cap0",
    }
    # the fixture namespace has tap0 but no tool-w* ports: those fail, named with the worker they feed
    checks = {c["check"]: c["status"] for c in soc_status.aggregator_port_checks(IP_LINKS, "lab-aggregator", config)}
    assert checks == {
        "port tap0 (tap lab-uplink)": "ok",
        "port tool-w1 (tool lab-zeek-w1/cap0)": "fail",
        "port tool-w2 (tool lab-zeek-w2/cap0)": "fail",
    }
