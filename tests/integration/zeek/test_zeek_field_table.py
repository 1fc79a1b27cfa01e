"""The opensearch role's Zeek field table against the real Zeek builds (7.2.2 and 8.1.2).

1. The committed ``roles/opensearch/vars/zeek_fields.yml`` is what ``scripts/zeek_fields.py`` writes
   from the real Zeek (so a Zeek upgrade or a new load in roles/zeek that changes a log fails here
   until the table is regenerated), and ``--check`` names a drifted field.
2. Zeek's own JSON logs from the shared pcaps, with the scripts the site's local.zeek loads and an
   intel file that hits in the traces: every field of every record is in the table with a value of
   its Zeek type, and a real OpenSearch takes every record through the index templates rendered from
   the table with unknown fields refused (``dynamic: strict``) and no malformed value let through.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections import Counter

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils import zeek_fields as zf
from ansible_collections.socforge.core.plugins.module_utils.zeek_index import field_mapping, zeek_index_template
from opensearchpy import helpers

from tests.zeek_runtime import PCAPS, REPO, require_zeek

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location("zeek_fields_cli", REPO / "scripts" / "zeek_fields.py")
cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli)

TABLE = yaml.safe_load(cli.TABLE.read_text(encoding="utf-8"))[zf.TABLE_VAR]
# Indicators present in the shared traces (DNS query and HTTP Host of wikipedia.pcap, a server
# address of it, the SHA-1 of test.json in http_http-filename.pcap), so intel.log and an
# Intel::Notice are written too.
INTEL = [
    ("upload.wikimedia.org", "Intel::DOMAIN", "T"),
    ("208.80.152.2", "Intel::ADDR", "F"),
    ("427b5b203fa74661dc5e976b7d9afb3ae25529f7", "Intel::FILE_HASH", "F"),
]
# Hold the trace until the intel file is read (it loads asynchronously; a short trace ends first).
HOLD = """\
redef Intel::read_files += { "%s" };
event zeek_init() { suspend_processing(); }
event Input::end_of_data(name: string, source: string)
	{ if ( starts_with(name, "intel-") ) continue_processing(); }
"""
# Logs these traces must produce: the check below is only as good as what it sees.
EXPECTED_LOGS = {
    "conn", "dns", "http", "files", "ssl", "x509", "smtp", "notice", "intel", "software", "known_hosts",
    "capture_loss", "stats", "packet_filter", "loaded_scripts", "reporter",
}  # fmt: skip
MAX_INDEXED = 300  # records per log and version sent to OpenSearch


@pytest.fixture(scope="module")
def builds():
    return [require_zeek(line) for line in cli.LINES]  # 8.x (source of truth), then 7.x


@pytest.fixture(scope="module")
def walked(builds):
    """{build: its table}, each build walked with the site's loads."""
    t0 = time.monotonic()
    tables = {b: cli.walk(b) for b in builds}
    print(f"\nwalked {', '.join(b.version for b in builds)} in {time.monotonic() - t0:.1f} s")
    return tables


@pytest.fixture(scope="module")
def generated(builds, walked):
    return cli.generate(builds, walked)


def test_committed_table_is_what_the_real_zeek_writes(generated):
    wanted = yaml.safe_load(generated)[zf.TABLE_VAR]
    diff = zf.table_diff(wanted, TABLE)
    assert diff == [], f"the committed table is stale (re-run scripts/zeek_fields.py): {diff}"
    committed = zf.table_body(cli.TABLE.read_text(encoding="utf-8"))
    assert committed == zf.table_body(generated), "the version notes or the order differ: re-run scripts/zeek_fields.py"


def test_the_walk_sees_what_each_version_logs(walked):
    """Facts of the two builds (from their NEWS), so an empty or mixed-up walk cannot pass."""
    by_line = {b.major: table for b, table in walked.items()}
    z8, z7 = by_line["8"], by_line["7"]
    for table in (z8, z7):
        assert table["conn"]["id.orig_h"] == "addr" and table["conn"]["id.resp_p"] == "port"
        assert table["dns"]["TTLs"] == "vector[interval]" and table["notice"]["actions"] == "set[enum]"
        assert table["x509"]["certificate.not_valid_after"] == "time" and table["intel"]["seen.where"] == "enum"
        assert {"known_hosts", "known_services", "known_certs", "software", "capture_loss"} <= set(table)
        assert "ssl" in table and "validation_status" in table["ssl"]  # protocols/ssl/validate-certs loaded
    assert "dpd" in z7 and "dpd" not in z8  # dpd.log gone in 8.0 (analyzer.log)
    assert "ip_proto" in z8["conn"] and "ip_proto" in z7["conn"]
    assert "host_key_fingerprint" in z8["ssh"] and "host_key" in z7["ssh"]
    assert set(TABLE) == set(z8) | set(z7)


def test_check_names_a_drifted_field(builds, tmp_path, capsys):
    stale = yaml.safe_load(cli.TABLE.read_text(encoding="utf-8"))
    stale[zf.TABLE_VAR]["conn"]["id.orig_h"] = "string"
    del stale[zf.TABLE_VAR]["dns"]["query"]
    stale[zf.TABLE_VAR]["conn"]["_node_name"] = "string"
    path = tmp_path / "zeek_fields.yml"
    path.write_text(yaml.safe_dump(stale, sort_keys=False))
    assert cli.main(["--check", "--table", str(path)], builds=builds) == 1
    err = capsys.readouterr().err
    assert "conn.id.orig_h: committed string, Zeek writes addr" in err
    assert "dns.query: missing (string)" in err and "conn._node_name: not written by Zeek" in err


@pytest.fixture(scope="module")
def zeek_logs(builds, tmp_path_factory):
    """{version: {log: [JSON records]}} from every shared pcap, per build, with the site's loads."""
    out = {}
    for build in builds:
        root = tmp_path_factory.mktemp(f"zeek{build.major}-logs")
        intel = root / "intel.dat"
        rows = ["\t".join(("#fields", "indicator", "indicator_type", "meta.source", "meta.do_notice"))]
        rows += ["\t".join((i, t, "socforge-test", n)) for i, t, n in INTEL]
        intel.write_text("\n".join(rows) + "\n")
        (root / "hold.zeek").write_text(HOLD % intel)
        loads = cli.site_loads(build.minor_line)
        records: dict[str, list] = {}
        t0 = time.monotonic()
        for pcap in sorted(PCAPS.glob("*.pcap")):
            run = root / pcap.stem
            run.mkdir()
            res = build.run(["-r", pcap, *loads, root / "hold.zeek"], cwd=run)
            assert res.returncode == 0, f"{build} on {pcap.name}: {res.stderr}"
            for log in sorted(run.glob("*.log")):
                lines = log.read_text().splitlines()
                records.setdefault(log.stem, []).extend(json.loads(x) for x in lines if x)
        print(f"\n{build}: {len(list(PCAPS.glob('*.pcap')))} pcaps in {time.monotonic() - t0:.1f} s, "
              f"{sum(map(len, records.values()))} records in {len(records)} logs")  # fmt: skip
        out[build.minor_line] = records
    return out


def test_every_field_of_every_real_record_is_in_the_table(zeek_logs):
    seen_types: Counter = Counter()
    for version, records in zeek_logs.items():
        assert EXPECTED_LOGS <= set(records), f"{version}: logs not written: {EXPECTED_LOGS - set(records)}"
        unknown_logs = set(records) - set(TABLE)
        assert not unknown_logs, f"Zeek {version} writes logs the table lacks: {unknown_logs}"
        problems: Counter = Counter()
        for log, docs in records.items():
            for doc in docs:
                problems.update(zf.record_problems(log, doc, TABLE[log]))
                seen_types.update(TABLE[log][k] for k in doc if k in TABLE[log])
        assert not problems, f"Zeek {version}: (problem, records) {problems.most_common(10)}"
        assert any(r.get("seen.where") == "HTTP::IN_HOST_HEADER" for r in records["intel"]), version
        assert any(r.get("fuid") for r in records["intel"]), version  # the file hash hit
    # The traces exercise every kind of value the writers produce, not only strings.
    assert {"time", "addr", "port", "count", "interval", "bool", "enum", "double", "set[string]", "set[enum]",
            "vector[string]", "vector[interval]", "vector[addr]"} <= set(seen_types)  # fmt: skip
    print(f"\nfield values checked, by Zeek type: {dict(seen_types.most_common())}")


def test_opensearch_takes_every_real_record_through_the_table_templates(zeek_logs, opensearch_server):
    """The settings and mappings of the index templates the role renders from the table, but strict:
    an unknown field or a value OpenSearch cannot parse as its field's type rejects the record instead
    of being mapped dynamically or ignored. (Each index is created with its template's body directly:
    one cluster-state update per log instead of two; test_opensearch_modules.py covers templates
    matching new indices.)"""
    client = opensearch_server.client(timeout=60)
    prefix = "zftest"
    logs = sorted({log for records in zeek_logs.values() for log in records})
    t0 = time.monotonic()
    try:
        for log in logs:
            body = zeek_index_template(log, TABLE[log], prefix=prefix, replicas=0, ignore_malformed=False)
            body["template"]["mappings"]["dynamic"] = "strict"
            client.indices.create(index=f"{prefix}-{log}-2026.11.30", body=body["template"])
        created = time.monotonic() - t0
        actions = [  # every value was checked in Python above; here enough of each log (loaded_scripts has 3 000)
            {"_index": f"{prefix}-{log}-2026.11.30", "_source": doc}
            for records in zeek_logs.values()
            for log, docs in records.items()
            for doc in docs[:MAX_INDEXED]
        ]
        ok, errors = helpers.bulk(client, actions, raise_on_error=False, refresh=True)
        assert errors == [], f"{len(errors)} records rejected, first: {errors[:2]}"
        assert ok == len(actions)
        print(f"\n{len(logs)} indices created in {created:.1f} s; {ok} real Zeek records "
              f"({', '.join(zeek_logs)}) indexed in {time.monotonic() - t0 - created:.1f} s")  # fmt: skip
        for log in logs:  # one index per log, both versions' records in it
            index = f"{prefix}-{log}-2026.11.30"
            want = sum(len(r.get(log, [])[:MAX_INDEXED]) for r in zeek_logs.values())
            assert client.count(index=index)["count"] == want
        index = f"{prefix}-conn-2026.11.30"
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert mapping["id"]["properties"]["orig_h"]["type"] == "ip"
        assert mapping["ts"]["type"] == field_mapping("time")["type"] == "date"
        conns = [r for records in zeek_logs.values() for r in records["conn"][:MAX_INDEXED]]
        want = sum(1 for r in conns if r["id.resp_h"].startswith("208.80.152."))
        got = client.count(index=index, body={"query": {"term": {"id.resp_h": "208.80.152.0/24"}}})["count"]
        assert got == want > 0
        tls = client.count(index=index, body={"query": {"term": {"id.resp_p": 443}}})["count"]
        assert tls == sum(1 for r in conns if r["id.resp_p"] == 443) > 0
        first = min(r["ts"] for r in conns)
        window = {"gte": f"{first:.6f}", "lt": f"{first + 60:.6f}", "format": "epoch_second"}
        in_first_minute = {"range": {"ts": window}}
        got = client.count(index=index, body={"query": in_first_minute})["count"]
        assert got == sum(1 for r in conns if first <= r["ts"] < first + 60) > 0
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
