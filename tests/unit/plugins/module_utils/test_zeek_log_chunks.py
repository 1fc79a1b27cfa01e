"""zeek_log_chunks on the real logs: TSV chunks are self-describing, JSON one record per message."""

from pathlib import Path

import pytest
from ansible_collections.socforge.core.plugins.module_utils.zeek_log_chunks import (
    json_messages,
    open_text,
    parse_tsv,
    tsv_chunks,
    tsv_record,
)

DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "zeek-logs"
DNS_TSV = DATA / "wrccdc-2018-brimdata" / "zeek-default" / "dns.log"
CONN_GZ = sorted((DATA / "rita-testdata" / "internet-server-2024-04-19").glob("conn.00*.log.gz"))[0]


def test_tsv_chunks_carry_the_header_and_every_record_once():
    log = parse_tsv(open_text(DNS_TSV), str(DNS_TSV))
    assert log.path == "dns" and len(log.rows) == 10000 and log.fields[0] == "ts"
    chunks = tsv_chunks(log, rows=300)
    assert len(chunks) == 34
    rows = []
    for chunk in chunks:
        lines = chunk.decode().splitlines(keepends=True)
        assert [h for h in lines if h.startswith("#")] == list(log.header)
        assert not any(line.startswith("#close") for line in lines)
        rows += [line for line in lines if not line.startswith("#")]
    assert rows == list(log.rows)


def test_gzip_logs_and_records():
    log = parse_tsv(open_text(CONN_GZ), str(CONN_GZ))
    rec = tsv_record(log, log.rows[0])
    assert log.path == "conn" and "id.orig_h" in rec and "-" not in rec.values()


def test_json_messages_one_per_line():
    lines = ['{"a": 1}\n', "\n", '{"b": 2}']
    assert json_messages(lines) == [b'{"a": 1}', b'{"b": 2}']


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["a\tb\n"], "missing header line"),
        (["#separator \\x09\n", "#fields\ta\tb\n", "#types\tstring\n"], "#fields has 2 columns but #types has 1"),
        (["#separator \\x09\n", "#fields\ta\n", "#types\tstring\n", "x\ty\n"], "record 1 has 2 columns"),
        (
            ["#separator \\x09\n", "#fields\ta\n", "#types\tstring\n", "x\n", "#fields\tb\n"],
            r"header line after records \(#fields\)",
        ),
    ],
)
def test_bad_tsv_is_refused_naming_the_source(lines, message):
    with pytest.raises(ValueError, match=message):
        parse_tsv(lines, "bad.log")


def test_chunk_size_must_be_positive():
    log = parse_tsv(open_text(DNS_TSV), "dns")
    with pytest.raises(ValueError, match="rows per chunk must be >= 1"):
        tsv_chunks(log, rows=0)
