"""The shipper pipeline's record handling, in the real Tenzir engine, without Kafka or OpenSearch.

The pipeline is the one roles/tenzir renders; only its source and sink are swapped: ``from_kafka`` by
a file holding the same Kafka messages (``{"message": ...}``), ``to_opensearch`` by JSON output of
what it would have sent (index, id, doc). That checks every form of ``ts`` Zeek can write and every
kind of bad record in about a second per case, on real Zeek logs from ../shared/data.

Found by ``make lab``'s smoke check: Zeek's JSON writer and the zeek-kafka plugin write ts as epoch
seconds by default (JSON::TS_EPOCH); the pipeline only recognised Tenzir's old type names for
numbers, left ts a number, produced a null index and OpenSearch refused the whole bulk request - and
the run, replayed from its safe point, failed on the same record for ever.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ansible_collections.socforge.core.plugins.module_utils.zeek_log_chunks import (
    json_messages,
    open_text,
    parse_tsv,
    tsv_chunks,
)
from tenzir_shipper import render_pipeline, tenzir_binary
from zeek_samples import WRCCDC_JSON, rita_logs, zeek_fields

pytestmark = pytest.mark.integration

WRCCDC_DNS = WRCCDC_JSON / "dns.json"
RITA_CONN = rita_logs("conn")[0]


def run_pipeline(
    tmp_path: Path, log: str, fmt: str, messages: list[str], opensearch_url: str | None = None, **overrides
):
    """Run the rendered pipeline over ``messages`` read from a file instead of Kafka. Without
    ``opensearch_url`` its sink is replaced by JSON output of what it would send (index, id, doc)."""
    pipeline = render_pipeline(
        log,
        fmt,
        tenzir_kafka_bootstrap_servers="127.0.0.1:9",
        tenzir_opensearch_url=opensearch_url or "http://127.0.0.1:9",
        tenzir_opensearch_user="",
        tenzir_opensearch_buffer_timeout="1s",
        **overrides,
    )
    lines = pipeline.splitlines()
    source = next(i for i, line in enumerate(lines) if line.startswith("from_kafka "))
    given = tmp_path / f"{log}-messages.ndjson"
    given.write_text("".join(json.dumps({"message": m}) + "\n" for m in messages), encoding="utf-8")
    lines[source] = f"from_file {json.dumps(str(given))} {{ read_ndjson }}"
    if opensearch_url is None:
        sink = next(i for i, line in enumerate(lines) if line.startswith("to_opensearch "))
        lines[sink:] = ["select index, id, doc", "write_ndjson"]
    tql = tmp_path / f"{log}.tql"
    tql.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return subprocess.run([tenzir_binary(), "-f", str(tql)], capture_output=True, text=True, timeout=120, check=False)


def ship(tmp_path: Path, log: str, fmt: str, messages: list[str]) -> list[dict]:
    """What the rendered pipeline would send to OpenSearch for ``messages``."""
    done = run_pipeline(tmp_path, log, fmt, messages)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def dns_records() -> list[dict]:
    return [json.loads(m) for m in json_messages(open_text(WRCCDC_DNS))[:200]]


def with_ts(records: list[dict], convert) -> list[str]:
    return [json.dumps({**r, "ts": convert(instant(r["ts"]))}) for r in records]


def test_iso_epoch_float_and_epoch_int_ts_give_the_same_index_and_timestamp(tmp_path, dns_records):
    iso = ship(tmp_path, "dns", "json", [json.dumps(r) for r in dns_records])
    epoch = ship(tmp_path, "dns", "json", with_ts(dns_records, lambda t: t.timestamp()))  # JSON::TS_EPOCH
    whole = ship(tmp_path, "dns", "json", with_ts(dns_records, lambda t: int(t.timestamp())))
    assert len(iso) == len(epoch) == len(whole) == len(dns_records)
    for record, a, b, c in zip(dns_records, iso, epoch, whole, strict=True):
        when = instant(record["ts"])
        day = when.strftime("%Y.%m.%d")
        assert a["index"] == b["index"] == f"zeek-dns-{day}"
        assert c["index"] == f"zeek-dns-{datetime.fromtimestamp(int(when.timestamp()), UTC):%Y.%m.%d}"
        assert instant(a["doc"]["@timestamp"]) == when
        assert abs((instant(b["doc"]["@timestamp"]) - when).total_seconds()) < 1e-5
        assert instant(b["doc"]["ts"]) == instant(b["doc"]["@timestamp"])
        assert a["doc"]["query"] == record.get("query") and a["doc"]["uid"] == record["uid"]
    # content ids: the same message gives the same id, a different encoding of ts a different one
    assert [x["id"] for x in iso] == [
        x["id"] for x in ship(tmp_path, "dns", "json", [json.dumps(r) for r in dns_records])
    ]
    assert not {x["id"] for x in iso} & {x["id"] for x in epoch}


def test_tsv_chunks_are_indexed_by_their_ts(tmp_path):
    log = parse_tsv(open_text(RITA_CONN), str(RITA_CONN))
    chunks = [c.decode() for c in tsv_chunks(log, rows=100)][:3]
    out = ship(tmp_path, "conn", "tsv", chunks)
    rows = [row.split("\t") for chunk in chunks for row in chunk.splitlines() if not row.startswith("#")]
    col = log.fields.index("ts")
    assert len(out) == len(rows) == 300
    for row, shipped in zip(rows, out, strict=True):
        when = datetime.fromtimestamp(float(row[col]), UTC)
        assert shipped["index"] == f"zeek-conn-{when:%Y.%m.%d}"
        assert abs((instant(shipped["doc"]["@timestamp"]) - when).total_seconds()) < 1e-5


def test_records_without_a_usable_ts_go_to_the_dead_letter_index_and_the_rest_still_ships(tmp_path, dns_records):
    good = [json.dumps(r) for r in dns_records[:5]]
    bad = ["not json at all", json.dumps({"uid": "CnoTs"}), json.dumps({"ts": "yesterday", "uid": "CbadTs"})]
    out = ship(tmp_path, "dns", "json", good[:2] + bad + good[2:])
    assert len(out) == len(good) + len(bad)
    letters = [x for x in out if x["index"].startswith("zeek-deadletter-")]
    shipped = [x for x in out if x["index"].startswith("zeek-dns-")]
    assert len(shipped) == len(good)
    assert sorted(x["doc"]["record"] for x in letters) == sorted(bad)  # kept verbatim
    today = datetime.now(UTC)
    for letter in letters:
        assert letter["doc"]["log"] == "dns" and letter["doc"]["reason"] == "no usable ts"
        assert letter["index"] == f"zeek-deadletter-{today:%Y.%m.%d}"
        assert abs((instant(letter["doc"]["@timestamp"]) - today).total_seconds()) < 120


@pytest.mark.parametrize("ignore_malformed", [True, False])
def test_a_value_that_does_not_fit_its_type_does_not_stop_the_shipper(
    tmp_path, dns_records, opensearch_server, opensearch_client, ignore_malformed
):
    """Real OpenSearch with the role's dns template: a record whose port is not a number and whose
    answer address is not an IP. With the role's default (ignore_malformed) the run succeeds and the
    record is kept with those fields in _ignored; strict mapping refuses it and fails the run - the
    failure a replaying shipper would repeat for ever."""
    from ansible_collections.socforge.core.plugins.module_utils import zeek_index  # noqa: PLC0415

    prefix = f"mal{int(ignore_malformed)}"
    body = zeek_index.zeek_index_template(
        "dns", zeek_fields()["dns"], prefix=prefix, replicas=0, ignore_malformed=ignore_malformed
    )
    opensearch_client.indices.put_index_template(name=f"{prefix}-dns", body=body)
    bad = {**dns_records[0], "uid": "CMalformed1", "id.resp_p": "fifty-three", "id.orig_h": "not-an-address"}
    messages = [json.dumps(r) for r in dns_records[1:20]] + [json.dumps(bad)]
    pipeline_prefix = {"tenzir_index_prefix": f"{prefix}-"}
    done = run_pipeline(tmp_path, "dns", "json", messages, opensearch_server.url, **pipeline_prefix)
    opensearch_client.indices.refresh(index=f"{prefix}-dns-*")
    found = opensearch_client.search(index=f"{prefix}-dns-*", body={"query": {"term": {"uid": "CMalformed1"}}})
    if ignore_malformed:
        assert done.returncode == 0, done.stderr[-2000:]
        assert opensearch_client.count(index=f"{prefix}-dns-*")["count"] == 20
        hit = found["hits"]["hits"][0]
        assert sorted(hit["_ignored"]) == ["id.orig_h", "id.resp_p"]
        assert hit["_source"]["id.resp_p"] == "fifty-three"  # the record itself is kept as sent
    else:
        assert done.returncode != 0 and "mapper_parsing_exception" in done.stderr
        assert found["hits"]["total"]["value"] == 0
