"""opensearch_* modules and the Zeek index templates against a real OpenSearch (integ-test-zip).

Real Zeek logs from ../shared/data/zeek-logs (TSV and JSON) are indexed through the templates the
opensearch role installs, and the resulting mappings and queries are checked.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils.zeek_index import zeek_index_template
from ansible_collections.socforge.core.plugins.modules import opensearch_index_template as tmpl_mod
from ansible_collections.socforge.core.plugins.modules import opensearch_ingest_pipeline as pipe_mod
from opensearchpy import helpers

from tests.unit.plugins.modules.utils import fail_module as run_module_fail
from tests.unit.plugins.modules.utils import run_module

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ZEEK_LOGS = REPO.parent / "shared" / "data" / "zeek-logs"
ZEEK_FIELDS = yaml.safe_load((REPO / "roles/opensearch/vars/zeek_fields.yml").read_text())["__opensearch_zeek_fields"]
PREFIX = "itest-zeek"

# One real file per log: TSV (zeekctl archive or plain) and JSON (NDJSON) where the data has them.
SAMPLES = {
    "conn": "rita-testdata/internet-server-2024-04-19/conn.00:00:00-01:00:00.log.gz",
    "dns": "wrccdc-2018-brimdata/zeek-default/dns.log",
    "http": "rita-testdata/internet-server-2024-04-19/http.00:00:00-01:00:00.log.gz",
    "ssl": "wrccdc-2018-brimdata/zeek-json/ssl.json",
    "x509": "wrccdc-2018-brimdata/zeek-default/x509.log",
    "files": "rita-testdata/proxy-lab/files.log",
    "notice": "wrccdc-2018-brimdata/zeek-json/notice.json",
    "weird": "rita-testdata/proxy-lab/weird.log",
    "ssh": "rita-testdata/internet-server-2024-04-19/ssh.00:00:00-01:00:00.log.gz",
    "software": "wrccdc-2018-brimdata/zeek-default/software.log",
    "smtp": "wrccdc-2018-brimdata/zeek-json/smtp.json",
    "known_certs": "wrccdc-2018-brimdata/zeek-default/known_certs.log",
    "intel": "elastic-integrations-examples/test-intel.log",
}
MAX_RECORDS = 2000


def read_zeek(path: Path, limit: int = MAX_RECORDS) -> list[dict]:
    """Records of a Zeek TSV or NDJSON log as JSON documents (dotted keys, as Zeek's JSON writer)."""
    opener = gzip.open if path.suffix == ".gz" else open
    records: list[dict] = []
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        fields = types = None
        sep, set_sep, unset, empty = "\t", ",", "-", "(empty)"
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("{"):
                records.append(json.loads(line))
            elif line.startswith("#"):
                key, _, value = line.partition(sep)
                if key == "#fields":
                    fields = value.split(sep)
                elif key == "#types":
                    types = value.split(sep)
                elif key == "#set_separator":
                    set_sep = value
                elif key == "#unset_field":
                    unset = value
                elif key == "#empty_field":
                    empty = value
            else:
                doc = {}
                for name, ztype, value in zip(fields, types, line.split(sep), strict=True):
                    if value == unset:
                        continue
                    if ztype.startswith(("set[", "vector[")):
                        doc[name] = [] if value == empty else value.split(set_sep)
                    elif ztype == "bool":  # TSV writes T/F; JSON (and so a shipper) true/false
                        doc[name] = {"T": True, "F": False}[value]
                    elif ztype == "time":  # Zeek may write far-future times as 2.385616957e+09
                        doc[name] = f"{float(value):.6f}"
                    else:
                        doc[name] = value
                records.append(doc)
            if len(records) >= limit:
                break
    return records


def test_index_template_module_create_idempotent_check_and_diff(monkeypatch, opensearch_server, opensearch_client):
    body = zeek_index_template("conn", ZEEK_FIELDS["conn"], prefix="modtest", replicas=0)
    args = {"hosts": [opensearch_server.url], "name": "modtest-conn", "template": body}
    checked = run_module(monkeypatch, tmpl_mod, args, check_mode=True)
    assert checked["changed"] is True
    assert not opensearch_client.indices.exists_index_template(name="modtest-conn")

    created = run_module(monkeypatch, tmpl_mod, args, diff=True)
    assert created["changed"] is True and created["diff"]["before"] == {}
    stored = opensearch_client.indices.get_index_template(name="modtest-conn")["index_templates"][0]
    assert stored["index_template"]["index_patterns"] == ["modtest-conn-*"]

    again = run_module(monkeypatch, tmpl_mod, args)
    assert again["changed"] is False, "the stored template must compare equal to the wanted one"

    body["template"]["settings"]["refresh_interval"] = "30s"
    updated = run_module(monkeypatch, tmpl_mod, dict(args, template=body), diff=True)
    assert updated["changed"] is True
    assert updated["diff"]["before"]["template"]["settings"]["index.refresh_interval"] == "5s"
    assert updated["diff"]["after"]["template"]["settings"]["index.refresh_interval"] == "30s"

    gone = run_module(
        monkeypatch, tmpl_mod, {"hosts": [opensearch_server.url], "name": "modtest-conn", "state": "absent"}
    )
    assert gone["changed"] is True
    assert not opensearch_client.indices.exists_index_template(name="modtest-conn")


def test_index_template_bad_mapping_fails_and_keeps_the_stored_one(monkeypatch, opensearch_server, opensearch_client):
    good = {"index_patterns": ["badtest-*"], "template": {"mappings": {"properties": {"ts": {"type": "date"}}}}}
    args = {"hosts": [opensearch_server.url], "name": "badtest"}
    run_module(monkeypatch, tmpl_mod, dict(args, template=good))
    bad = {"index_patterns": ["badtest-*"], "template": {"mappings": {"properties": {"ts": {"type": "no_such_type"}}}}}
    failed = run_module_fail(monkeypatch, tmpl_mod, dict(args, template=bad))
    assert "index template 'badtest'" in failed["msg"] and "no_such_type" in failed["msg"]
    stored = opensearch_client.indices.get_index_template(name="badtest")["index_templates"][0]
    assert stored["index_template"]["template"]["mappings"]["properties"]["ts"]["type"] == "date"
    opensearch_client.indices.delete_index_template(name="badtest")


def _ingest_processors(client) -> set[str]:
    nodes = client.nodes.info(metric="ingest")["nodes"].values()
    return {p["type"] for node in nodes for p in node.get("ingest", {}).get("processors", [])}


def test_ingest_pipeline_module(monkeypatch, opensearch_server, opensearch_client):
    if "date" not in _ingest_processors(opensearch_client):
        pytest.skip("this OpenSearch has no ingest-common module (the integ-test-zip ships none)")
    pipeline = {
        "description": "zeek ts to @timestamp",
        "processors": [{"date": {"field": "ts", "formats": ["UNIX", "ISO8601"], "target_field": "@timestamp"}}],
    }
    args = {"hosts": [opensearch_server.url], "name": "itest-zeek", "pipeline": pipeline}
    assert run_module(monkeypatch, pipe_mod, args, check_mode=True)["changed"] is True
    assert run_module(monkeypatch, pipe_mod, args)["changed"] is True
    assert run_module(monkeypatch, pipe_mod, args)["changed"] is False
    sim = opensearch_client.ingest.simulate(id="itest-zeek", body={"docs": [{"_source": {"ts": "1524441601.5"}}]})
    assert sim["docs"][0]["doc"]["_source"]["@timestamp"].startswith("2018-04-23T00:00:01.5")

    bad = {"processors": [{"no_such_processor": {}}]}
    failed = run_module_fail(monkeypatch, pipe_mod, dict(args, pipeline=bad))
    assert "ingest pipeline 'itest-zeek'" in failed["msg"] and "no_such_processor" in failed["msg"]
    assert opensearch_client.ingest.get_pipeline(id="itest-zeek")["itest-zeek"] == pipeline
    assert run_module(
        monkeypatch, pipe_mod, {"hosts": [opensearch_server.url], "name": "itest-zeek", "state": "absent"}
    )["changed"]


def _leaf(mapping: dict, dotted: str) -> dict:
    node = {"properties": mapping}
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


EXPECTED_TYPES = {
    "addr": "ip",
    "port": "integer",
    "time": "date",
    "count": "long",
    "interval": "double",
    "bool": "boolean",
}


@pytest.fixture(scope="module")
def zeek_indexed(opensearch_server):
    """Every sample log indexed through its template; returns {log: (records, index)}."""
    client = opensearch_server.client(timeout=60)
    out = {}
    for log, rel in SAMPLES.items():
        body = zeek_index_template(log, ZEEK_FIELDS[log], prefix=PREFIX, replicas=0)
        client.indices.put_index_template(name=f"{PREFIX}-{log}", body=body)
        records = read_zeek(ZEEK_LOGS / rel)
        assert records, f"no records read from {rel}"
        index = f"{PREFIX}-{log}-2026.01.01"
        ok, errors = helpers.bulk(client, ({"_index": index, "_source": r} for r in records), raise_on_error=False)
        assert errors == [], f"{log}: {len(errors)} records rejected, first: {errors[:1]}"
        assert ok == len(records)
        out[log] = (records, index)
    client.indices.refresh(index=f"{PREFIX}-*")
    yield out
    client.indices.delete(index=f"{PREFIX}-*")
    for log in SAMPLES:
        client.indices.delete_index_template(name=f"{PREFIX}-{log}")


@pytest.mark.parametrize("log", sorted(SAMPLES))
def test_real_zeek_records_index_with_the_right_types(log, zeek_indexed, opensearch_client):
    records, index = zeek_indexed[log]
    assert opensearch_client.count(index=index)["count"] == len(records)
    mapping = opensearch_client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    checked = 0
    for field, ztype in ZEEK_FIELDS[log].items():
        base = ztype.split("[")[-1].rstrip("]")
        if base in EXPECTED_TYPES:
            assert _leaf(mapping, field)["type"] == EXPECTED_TYPES[base], f"{log}.{field}"
            checked += 1
        elif base in ("string", "enum"):
            assert _leaf(mapping, field)["type"] == "keyword", f"{log}.{field}"
    assert checked >= 1
    # No field was added by dynamic mapping with a numeric/date guess for a Zeek string field.
    assert "ts" in mapping and mapping["ts"]["type"] == "date"


def test_zeek_queries_use_the_types(zeek_indexed, opensearch_client):
    """ip fields answer CIDR queries, ports range queries, ts date-range queries (as epoch seconds)."""
    records, index = zeek_indexed["conn"]
    resp_hosts = [r["id.resp_h"] for r in records]
    expected = sum(1 for h in resp_hosts if h.startswith("64.225.56."))
    got = opensearch_client.count(index=index, body={"query": {"term": {"id.resp_h": "64.225.56.0/24"}}})["count"]
    assert got == expected > 0
    low_ports = sum(1 for r in records if int(r["id.resp_p"]) < 1024)
    got = opensearch_client.count(index=index, body={"query": {"range": {"id.resp_p": {"lt": 1024}}}})["count"]
    assert got == low_ports
    first_ts = min(float(r["ts"]) for r in records)
    got = opensearch_client.count(
        index=index,
        body={"query": {"range": {"ts": {"gte": int(first_ts), "lt": int(first_ts) + 60, "format": "epoch_second"}}}},
    )["count"]
    assert got == sum(1 for r in records if int(first_ts) <= float(r["ts"]) < int(first_ts) + 60)
