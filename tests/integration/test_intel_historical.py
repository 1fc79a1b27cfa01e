"""Historical matching (intel/historical.py) on the real OpenSearch with real Zeek records.

The WRCCDC 2018 Zeek JSON logs in ../shared/data (dns, ssl) are indexed into ``histtest-<log>-*``
indices made from the opensearch role's own index templates (zeek_index.zeek_index_template on the
role's Zeek field table); the matcher's per-type fields come from the same table. Expected hits are
computed from the raw records independently of the matcher.
"""

import json

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel.historical import (
    HistoricalMatcher,
    fields_by_type,
    load_table,
)
from ansible_collections.socforge.core.plugins.module_utils.zeek_index import zeek_index_template
from opensearchpy import OpenSearch, helpers
from zeek_samples import WRCCDC_JSON, ZEEK_FIELDS, zeek_fields

pytestmark = pytest.mark.integration
PREFIX = "histtest"
LOGS = ("dns", "ssl")


def _epoch(ts):
    from datetime import datetime

    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def stored(opensearch_server):
    client = opensearch_server.client(timeout=60)
    records = {log: [json.loads(ln) for ln in (WRCCDC_JSON / f"{log}.json").open()] for log in LOGS}
    for log in LOGS:
        body = zeek_index_template(log, zeek_fields()[log], prefix=PREFIX, replicas=0, refresh_interval="1s")
        client.indices.put_index_template(name=f"{PREFIX}-{log}", body=body)
        client.indices.delete(index=f"{PREFIX}-{log}-*", ignore_unavailable=True)
        actions = ({"_index": f"{PREFIX}-{log}-2018.03.24", "_source": r} for r in records[log])
        ok, errors = helpers.bulk(client, actions, chunk_size=2000, raise_on_error=False)
        assert not errors and ok == len(records[log])
    client.indices.refresh(index=f"{PREFIX}-*")
    yield client, records
    client.indices.delete(index=f"{PREFIX}-*", ignore_unavailable=True)
    for log in LOGS:
        client.indices.delete_index_template(name=f"{PREFIX}-{log}")
    client.close()


def test_fields_per_type_come_from_the_field_table():
    f = fields_by_type(load_table(ZEEK_FIELDS))
    table = zeek_fields()
    assert f["Intel::DOMAIN"]["dns"] == ["query"] and f["Intel::DOMAIN"]["ssl"] == ["server_name"]
    assert "id.resp_h" in f["Intel::ADDR"]["conn"] and f["Intel::FILE_HASH"]["files"] == ["md5", "sha1", "sha256"]
    for itype, logs in f.items():  # every field it searches is one Zeek writes, of the right type
        for log, names in logs.items():
            for name in names:
                assert name in table[log], (itype, log, name)
                if itype in ("Intel::ADDR", "Intel::SUBNET"):
                    assert "addr" in table[log][name]
    # a table without DNS logs searches no DNS field: derived, not listed
    assert "dns" not in fields_by_type({k: v for k, v in table.items() if k != "dns"})["Intel::DOMAIN"]


def test_new_intel_found_in_stored_logs_with_original_timestamps(stored):
    client, records = stored
    dns, ssl = records["dns"], records["ssl"]
    last = max(_epoch(r["ts"]) for log in LOGS for r in records[log])
    busy = "ise.wrccdc.org"
    sni_only = sorted({r["server_name"] for r in ssl if r.get("server_name")} - {r.get("query") for r in dns})[0]
    resolver = "10.0.0.100"
    items = [
        (busy, "Intel::DOMAIN", ["11111111-1111-4111-8111-111111111111"]),
        (sni_only, "Intel::DOMAIN", ["22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"]),
        (resolver, "Intel::ADDR", ["44444444-4444-4444-8444-444444444444"]),
        ("never-seen.example", "Intel::DOMAIN", ["55555555-5555-4555-8555-555555555555"]),
    ]
    hm = HistoricalMatcher(client, zeek_fields(), prefix=PREFIX, lookback_days=1, max_hits=2000, per_indicator=5)
    res = hm.match(items, now=last + 3600)
    assert res.error == "" and (res.indicators, res.found) == (4, 3)
    by = {}
    for s in res.sightings:
        by.setdefault(s["uuid"], []).append((s["timestamp"], s["log"]))
    want_busy = sorted((int(_epoch(r["ts"])) for r in dns if r.get("query") == busy), reverse=True)[:5]
    assert [t for t, _ in by["11111111-1111-4111-8111-111111111111"]] == want_busy
    want_sni = sorted((int(_epoch(r["ts"])) for r in ssl if r.get("server_name") == sni_only), reverse=True)[:5]
    for u in ("22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"):
        assert by[u] == [(t, "ssl") for t in want_sni]
    assert {log for _, log in by["44444444-4444-4444-8444-444444444444"]} <= {"dns", "ssl"}
    assert "55555555-5555-4555-8555-555555555555" not in by
    assert res.records >= sum(r.get("query") == busy for r in dns)  # counted, not only the 5 newest
    assert res.summary.startswith("historical: 3 of 4 new indicators seen in ")
    assert "dns" in res.by_log and "ssl" in res.by_log and "look-back 1 d" in res.summary


def test_lookback_bounds_the_search(stored):
    client, records = stored
    dns = records["dns"]
    last = max(_epoch(r["ts"]) for r in dns)
    window = 30  # seconds
    first_seen = {}
    for r in dns:
        if r.get("query"):
            q = r["query"]
            first_seen[q] = max(first_seen.get(q, 0), _epoch(r["ts"]))
    early = sorted(q for q, t in first_seen.items() if t < last - window - 5)[:3]  # only before the window
    late = sorted(q for q, t in first_seen.items() if t > last - window + 5)[:3]
    assert early and late
    items = [(q, "Intel::DOMAIN", [f"00000000-0000-4000-8000-{i:012d}"]) for i, q in enumerate(early + late)]
    hm = HistoricalMatcher(client, zeek_fields(), prefix=PREFIX, lookback_days=window / 86400, per_indicator=3)
    res = hm.match(items, now=last)
    got = {s["indicator"] for s in res.sightings}
    assert got == set(late)
    assert all(s["timestamp"] >= int(last - window) - 1 for s in res.sightings)


def test_opensearch_down_is_reported_not_raised():
    client = OpenSearch(["http://127.0.0.1:9"], timeout=2, max_retries=0)
    res = HistoricalMatcher(client, zeek_fields(), prefix=PREFIX).match([("a.example", "Intel::DOMAIN", ["x"])])
    assert res.error and res.sightings == [] and "error: ConnectionError" in res.summary
