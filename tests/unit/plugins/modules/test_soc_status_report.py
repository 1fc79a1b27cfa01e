"""socforge.core.soc_status_report and plugins/module_utils/soc_status.py: parsing what the tiers report,
the verdict, and the HTML/JSON/text renderings (the HTML is also opened in Chromium in the lab)."""

import json
from html.parser import HTMLParser

import pytest
from ansible_collections.socforge.core.plugins.module_utils import soc_status
from ansible_collections.socforge.core.plugins.modules import soc_status_report
from utils import AnsibleFailJson, run_module

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
