"""The status page (playbooks/status.yml -> soc_status_report) in a real headless browser: Chromium
from Debian (scripts/bootstrap installs it). The checks come from the tiers' real outputs (zeekctl
status with a stopped worker, capture_loss.log, Kafka's consumer group tool and cluster health, MISP's
worker diagnostics and sync log, OpenSearch's health and searches, iproute2's counters); the module writes index.html and status.json; Chromium loads the
page and a probe appended to a copy reports what the browser shows: the verdict and its colour, the
problems, each row's colour, that no resource was fetched and no markup injected by a detail."""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
import test_soc_status_report as fx
from ansible_collections.socforge.core.plugins.module_utils import soc_status
from ansible_collections.socforge.core.plugins.modules import soc_status_report
from utils import AnsibleFailJson, run_module

PROBE = """
<script>
const rgb = el => getComputedStyle(el).backgroundColor;
const rows = [...document.querySelectorAll('#checks tbody tr')];
document.body.dataset.probe = JSON.stringify({
  overall: document.getElementById('overall').textContent,
  overallColour: getComputedStyle(document.getElementById('overall')).color,
  problems: [...document.querySelectorAll('#problems li')].map(li => li.textContent),
  rows: rows.map(tr => ({cells: [...tr.cells].map(td => td.textContent), background: rgb(tr)})),
  summary: [...document.querySelectorAll('#summary tbody tr')].map(tr => [...tr.cells].map(td => td.textContent)),
  resources: performance.getEntriesByType('resource').map(r => r.name),
  scripts: document.scripts.length,
  images: document.images.length,
  bodyWidth: document.body.getBoundingClientRect().width,
});
</script>
"""


class _Probe(HTMLParser):
    def __init__(self):
        super().__init__()
        self.data = None

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.data = dict(attrs).get("data-probe")


def chromium():
    exe = shutil.which("chromium")
    if not exe:
        pytest.fail("chromium is not installed: run scripts/bootstrap (it installs Debian's chromium)")
    return exe


def render_in_chromium(page, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,1024",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, HOME=str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    parser = _Probe()
    parser.feed(done.stdout)
    assert parser.data, f"the probe did not run: {done.stdout[:500]}"
    return json.loads(parser.data)


def lab_checks():
    checks = soc_status.zeekctl_status_checks(fx.ZEEKCTL_STATUS, "lab-zeek-mgr")
    checks += soc_status.capture_loss_checks(fx.CAPTURE_LOSS, "lab-zeek-mgr")
    checks += soc_status.kafka_health_checks(fx.KAFKA_HEALTH_FAILED, "lab-kafka", 3)
    checks += soc_status.kafka_lag_checks(fx.GROUPS, "lab-kafka")
    checks += soc_status.misp_worker_checks(fx.MISP_WORKERS, "lab-misp-hub")
    checks += soc_status.misp_sync_checks(fx.MISP_SERVERS, fx.MISP_LOGS, "lab-misp-hub", fx.NOW, 3600)
    checks += soc_status.opensearch_checks(fx.OS_HEALTH, fx.OS_NEWEST, "lab-opensearch", fx.NOW)
    checks += soc_status.aggregator_port_checks(fx.IP_LINKS, "lab-aggregator", {"tap0": "tap lab-uplink"})
    checks.append(
        {
            "component": "opensearch",
            "host": "lab-opensearch",
            "check": "newest weird",
            "status": "warn",
            "detail": "<script>alert('no dns records')</script>",
        }
    )
    return checks


def test_status_page_in_headless_chromium(monkeypatch, tmp_path):
    out = tmp_path / "status-out"
    args = {
        "checks": lab_checks(),
        "title": "SOC status: lab",
        "generated": "2026-11-30T11:20:00Z",
        "html_path": str(out / "index.html"),
        "json_path": str(out / "status.json"),
    }
    with pytest.raises(AnsibleFailJson) as failed:
        run_module(monkeypatch, soc_status_report, args)
    assert (
        "zeek lab-zeek-mgr: node worker-lab-zeek-w2-cap0-1: worker on 10.89.30.14: stopped"
        in failed.value.result["msg"]
    )
    doc = json.loads((out / "status.json").read_text())
    shown = render_in_chromium(out / "index.html", tmp_path)

    # the verdict, in the failure colour (#8b0000), and what is wrong, one line per failed check
    assert shown["overall"] == "FAIL" and shown["overallColour"] == "rgb(139, 0, 0)"
    assert shown["problems"] == doc["problems"]
    assert "zeek lab-zeek-mgr: node worker-lab-zeek-w2-cap0-1: worker on 10.89.30.14: stopped" in shown["problems"]
    assert "kafka lab-kafka: brokers: 2 of 3 brokers live (ids 1, 2)" in shown["problems"]
    assert any(p.startswith("misp lab-misp-hub: sync partner-cert: last push") for p in shown["problems"])
    # every check is a row with its status colour; the JSON holds the same checks
    assert len(shown["rows"]) == len(doc["checks"]) == len(args["checks"])
    colours = {"OK": "rgb(227, 246, 227)", "WARN": "rgb(255, 244, 214)", "FAIL": "rgb(253, 224, 224)"}
    for row, check in zip(shown["rows"], doc["checks"], strict=True):
        assert row["cells"] == [
            check["status"].upper(),
            check["component"],
            check["host"],
            check["check"],
            check["detail"],
        ]
        assert row["background"] == colours[row["cells"][0]]
    stopped = next(r for r in shown["rows"] if r["cells"][3] == "node worker-lab-zeek-w2-cap0-1")
    assert stopped["background"] == colours["FAIL"]
    # a summary row per component with its worst status
    summary = {row[0]: row[1] for row in shown["summary"]}
    assert summary == {"aggregator": "OK", "kafka": "FAIL", "misp": "FAIL", "opensearch": "WARN", "zeek": "FAIL"}
    # self-contained: nothing fetched, no image; the detail's markup shown as text, not run
    assert shown["resources"] == [] and shown["images"] == 0
    assert shown["scripts"] == 1  # the probe only
    assert any(r["cells"][4] == "<script>alert('no dns records')</script>" for r in shown["rows"])
    assert shown["bodyWidth"] > 600


def test_green_page_in_headless_chromium(monkeypatch, tmp_path):
    checks = [c for c in lab_checks() if c["status"] == "ok"]
    args = {"checks": checks, "generated": "now", "html_path": str(tmp_path / "index.html")}
    result = run_module(monkeypatch, soc_status_report, args)
    assert result["overall"] == "ok"
    shown = render_in_chromium(tmp_path / "index.html", tmp_path)
    assert shown["overall"] == "OK" and shown["overallColour"] == "rgb(20, 82, 20)"
    assert shown["problems"] == [] and len(shown["rows"]) == len(checks)
    assert re.fullmatch(r"rgb\(227, 246, 227\)", shown["rows"][0]["background"])
