"""Intel written by the intel library, read by the real Zeek through the socforge-intel package.

- Every line the library writes from the real MISP feed and events in ../shared/data, and from
  hostile values, is read by Zeek's ASCII reader exactly as the reader model in
  tests/unit/intel/zeek_reader.py says (no reader warning, no Intel error, same values).
- On the shared pcaps, an indicator present in the trace produces its intel.log hit: a Host header,
  a DNS query, an address of an established TCP connection, a file hash. After the library's next
  sync removes them (a ``.removals`` file), the same trace gives no hit; an indicator that another
  source also carries keeps hitting, with that source only.
"""

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import sync
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.sources import FeedSource
from zeek_site import (
    merged_pcap,
    misp_event,
    read_log,
    reporter_messages,
    run_site,
    sync_feed,
    unexpected_stderr,
    write_feed,
    write_site,
)

from tests.zeek_runtime import SHARED

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "intel"))
from zeek_reader import read_intel, unescape  # noqa: E402 -- the independent reader model

pytestmark = pytest.mark.integration

DATA = SHARED / "data"

# Indicators present in the shared pcaps (zeek/zeek testing/btest/Traces), each where Zeek sees it.
HOST_ONLY = "bits.wikimedia.org"  # wikipedia.pcap: an HTTP Host header, never queried in DNS
DNS_ONLY = "upload.wikimedia.org.ncsa.uiuc.edu"  # wikipedia.pcap: a DNS query only
ADDR = "45.9.74.78"  # http_ctu-62604-80.pcap: the Agent Tesla C2, an established TCP connection
FILE_MD5 = "7d95bdfe318af965be2f8e0ac9126b74"  # http_http-filename.pcap: test.json's md5
SHARED_DOMAIN = "meta.wikimedia.org"  # Host header and DNS; in both sources
SHARED_ADDR = "208.80.152.118"  # wikipedia.pcap, established; in both sources
KEEP = "httpbin.org"  # http_http-filename.pcap Host header; source A keeps it


def source_of(dest: Path, indicator: str) -> str:
    """meta.source of ``indicator``'s line in an intel file written by the library."""
    for row in read_intel(dest.read_text()):
        if unescape(row[0]) == indicator:
            return unescape(row[2])
    raise AssertionError(f"{indicator} not in {dest}")


# --- hits and removals on pcap traffic ----------------------------------------------------------------


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    names = ["wikipedia.pcap", "http_ctu-62604-80.pcap", "http_http-filename.pcap"]
    return merged_pcap(tmp_path_factory.mktemp("pcap") / "intel-trace.pcap", names)


@pytest.fixture
def two_sources(tmp_path, zeek):
    """Site with two intel sources written by the library: misp-a (generation 1 loaded; generation 2,
    which deletes event A1, staged with its removals) and partner-b."""
    site = write_site(tmp_path, zeek, intel_sources=("misp-a", "partner-b"))
    a_file, b_file = site.intel_files
    a1 = misp_event(
        "A1: wikipedia and C2 indicators",
        [
            ("hostname", HOST_ONLY),
            ("domain", DNS_ONLY),
            ("ip-dst", ADDR),
            ("md5", FILE_MD5),
            ("domain", SHARED_DOMAIN),
            ("ip-dst", SHARED_ADDR),
        ],
        1_700_000_000,
    )
    a2 = misp_event("A2: kept", [("domain", KEEP)], 1_700_000_100)
    b1 = misp_event("B1: partner", [("domain", SHARED_DOMAIN), ("ip-dst", SHARED_ADDR)], 1_700_000_200, "Partner")
    feeds = tmp_path / "feeds"
    write_feed(feeds / "a", [a1, a2])
    write_feed(feeds / "b", [b1])
    sync_feed(feeds / "a", a_file, "misp-a")
    sync_feed(feeds / "b", b_file, "partner-b")
    # Generation 2 of source A, written by the library's incremental sync in a staging copy.
    stage = tmp_path / "stage"
    stage.mkdir()
    for suffix in ("", ".removals", ".state"):
        shutil.copy2(f"{a_file}{suffix}", stage / f"{a_file.name}{suffix}")
    write_feed(feeds / "a", [a2])  # event A1 deleted from the feed
    result = sync_feed(feeds / "a", stage / a_file.name, "misp-a")
    assert result["changed"] and result["removals"] == 6, result
    return (
        site,
        stage,
        {"a1": source_of(a_file, HOST_ONLY), "a2": source_of(a_file, KEEP), "b": source_of(b_file, SHARED_DOMAIN)},
    )


def hits(rundir: Path):
    """intel.log as {(indicator, where): set of sources}."""
    out = {}
    for rec in read_log(rundir, "intel"):
        out.setdefault((rec["seen.indicator"], rec["seen.where"]), set()).update(rec["sources"])
    return out


def assert_clean(res, rundir):
    assert res.returncode == 0, res.stderr
    assert not unexpected_stderr(res.stderr), res.stderr
    assert reporter_messages(rundir) == []


def test_indicators_in_the_trace_hit_and_removals_take_them_out(zeek, two_sources, trace, tmp_path):
    site, stage, src = two_sources
    a_file = site.intel_files[0]

    loaded = tmp_path / "run-loaded"
    res = run_site(zeek, site, trace, loaded)
    assert_clean(res, loaded)
    got = hits(loaded)
    assert got[(HOST_ONLY, "HTTP::IN_HOST_HEADER")] == {src["a1"]}
    assert got[(DNS_ONLY, "DNS::IN_REQUEST")] == {src["a1"]}
    assert got[(ADDR, "Conn::IN_RESP")] == {src["a1"]}
    assert got[(FILE_MD5, "Files::IN_HASH")] == {src["a1"]}
    assert got[(SHARED_DOMAIN, "HTTP::IN_HOST_HEADER")] == {src["a1"], src["b"]}
    assert got[(SHARED_DOMAIN, "DNS::IN_REQUEST")] == {src["a1"], src["b"]}
    assert got[(SHARED_ADDR, "Conn::IN_RESP")] == {src["a1"], src["b"]}
    assert got[(KEEP, "HTTP::IN_HOST_HEADER")] == {src["a2"]}
    assert not {ind for ind, _ in got} - {HOST_ONLY, DNS_ONLY, ADDR, FILE_MD5, SHARED_DOMAIN, SHARED_ADDR, KEEP}

    # The same trace after the library's next sync (A1 deleted): Zeek loads generation 1, then the
    # new intel file and its .removals arrive, then the packets.
    removals = (stage / f"{a_file.name}.removals").read_text()
    assert f"{HOST_ONLY}\tIntel::DOMAIN\t{src['a1']}\n" in removals
    removed = tmp_path / "run-removed"
    swap = {stage / a_file.name: a_file, stage / f"{a_file.name}.removals": f"{a_file}.removals"}
    res = run_site(zeek, site, trace, removed, swap=swap)
    assert_clean(res, removed)
    after = hits(removed)
    for indicator in (HOST_ONLY, DNS_ONLY, ADDR, FILE_MD5):
        assert not [k for k in after if k[0] == indicator], f"{indicator} still hits after its removal: {after}"
    # The other source's copy stays, with its own meta only; source A's other event is untouched.
    assert after[(SHARED_DOMAIN, "HTTP::IN_HOST_HEADER")] == {src["b"]}
    assert after[(SHARED_DOMAIN, "DNS::IN_REQUEST")] == {src["b"]}
    assert after[(SHARED_ADDR, "Conn::IN_RESP")] == {src["b"]}
    assert after[(KEEP, "HTTP::IN_HOST_HEADER")] == {src["a2"]}


# --- the reader accepts every line the library writes ----------------------------------------------


HOSTILE = [
    ("domain", "Ünicode-Bücher.Example"),
    ("domain", "EXAMPLE.org."),
    ("domain", "evil\texample.org"),
    ("domain", "-"),
    ("hostname", "  padded.example.net \n"),
    ("url", "hxxps://evil[.]example/path?q=a b&x=\\x41#frag"),
    ("url", "http://example.org/(empty)"),
    ("url", "hxxp[:]//127.0.0.1:8080/a\\b\\x09c"),
    ("url", "ftp://example.org/nope"),
    ("ip-dst", "::ffff:192.0.2.1"),
    ("ip-dst", "2001:DB8:0:0:0:0:0:1"),
    ("ip-dst", "010.1.1.1"),
    ("ip-dst", "fe80::1%eth0"),
    ("ip-src", "192.0.2.77/24"),
    ("ip-dst|port", "198.51.100.7|443"),
    ("domain|ip", "Mixed.Example|2001:db8::7"),
    ("email-src", '"quoted name"@example.org'),
    ("email-src", "#comment@example.org"),
    ("filename", "-"),
    ("filename", "(empty)"),
    ("filename", "#start.exe"),
    ("filename", "back\\slash\\x41.exe"),
    ("filename", "name with  spaces.pdf"),
    ("filename", "tab\tname.exe"),
    ("filename", "rtl\u202etxt.exe"),
    ("filename", "zero\u200bwidth.doc"),
    ("filename", "nul\x00byte"),
    ("filename", "line\u2028sep"),
    ("filename", "x" * 3000),
    ("user-agent", "Mozilla/5.0 (X11; Linux) \\x00 ; DROP TABLE"),
    ("user-agent", "emoji \U0001f40d agent"),
    ("md5", "D41D8CD98F00B204E9800998ECF8427E"),
    ("sha256", " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "),
    ("sha1", "not-a-hash"),
    ("filename|md5", "a b.exe|0cc175b9c0f1b6a831c399e269772661"),
    ("malware-sample", "evil.bin|900150983cd24fb0d6963f7d28e17f72"),
    ("target-user", "DOMAIN\\admin"),
    ("ssh-fingerprint", "MD5:51:4F:2F:3A:2B:6E:02:0B:55:8D:5C:9E:BC:77:D5:1A"),
    ("x509-fingerprint-sha1", "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"),
]


def events_feed(directory: Path):
    """../shared/data/misp-events (PyMISP and MISP core test events) as one MISP feed."""
    events = {}
    for path in sorted((DATA / "misp-events").rglob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "response" in data:
            data = data["response"]
        for item in data if isinstance(data, list) else [data]:
            e = item.get("Event", item) if isinstance(item, dict) else None
            if not isinstance(e, dict) or not ({"Attribute", "Object"} & set(e)):
                continue
            e = dict(e, uuid=e.get("uuid") or str(uuid.uuid5(uuid.NAMESPACE_URL, path.name)))
            e.setdefault("timestamp", "1600000000")
            events.setdefault(e["uuid"], {"Event": e})  # the first file carrying a uuid wins
    write_feed(directory, list(events.values()))
    return len(events)


def expected_items(path: Path):
    """What Zeek must read from a library-written file, by the independent reader model."""
    out = []
    for ind, typ, src, desc, url, notice, if_in in read_intel(path.read_text()):
        item = {"indicator": unescape(ind), "indicator_type": typ, "source": unescape(src), "do_notice": notice == "T"}
        for key, value in (("desc", desc), ("url", url), ("if_in", if_in)):
            if value != "-":
                item[key] = "" if value == "(empty)" else unescape(value)
        out.append(item)
    return out


def test_zeek_reads_every_line_the_library_writes(zeek, tmp_path, trace):
    site = write_site(tmp_path, zeek, intel_sources=("infoblox", "misp-events", "hostile"))
    infoblox, events, hostile = site.intel_files
    everything = IntelFilter(to_ids_only=False, published_only=False)
    r1 = sync.sync(
        FeedSource(str(DATA / "misp-feed-infoblox")), everything, MetaOptions(instance="Infoblox"), str(infoblox)
    )
    assert r1["indicators"] > 16000, r1
    assert events_feed(tmp_path / "events-feed") >= 10
    r2 = sync_feed(tmp_path / "events-feed", events, "MISP", everything)
    assert r2["indicators"] > 300, r2
    nasty = misp_event("#1\tevil\nmulti-line \\x41 event \U0001f40d \\", HOSTILE, 1_700_000_000, "Org\twith\\tab")
    write_feed(tmp_path / "hostile-feed", [nasty])
    r3 = sync_feed(tmp_path / "hostile-feed", hostile, "hostile (#test)")
    assert r3["rejected"] and r3["indicators"] >= 25, r3  # the bad ones refused, the rest written

    rundir = tmp_path / "run"
    res = run_site(zeek, site, trace, rundir, dump_items=True)
    assert_clean(res, rundir)  # no reader warning, no Intel error
    read = {}
    for rec in read_log(rundir, "intel_items"):
        assert rec.pop("phase") == 0
        read.setdefault(rec.pop("path"), []).append(rec)
    for path in (infoblox, events, hostile):
        want = expected_items(path)
        got = read.get(str(path), [])
        assert len(got) == len(want), f"{path.name}: Zeek read {len(got)} of {len(want)} lines"
        key = lambda r: (r["indicator"], r["indicator_type"])  # noqa: E731
        assert sorted(got, key=key) == sorted(want, key=key), path.name
    # The hostile values that survived arrive intact, escapes and all.
    hostile_read = {r["indicator"] for r in read[str(hostile)]}
    assert {
        "back\\slash\\x41.exe",  # a literal backslash-x escape survives the reader's \\xHH unescaping
        "127.0.0.1:8080/a\\b\\x09c",  # re-fanged, scheme dropped, backslashes kept
        "DOMAIN\\admin",
        "example.org/(empty)",
        "xn--nicode-bcher-clbi.example",  # IDNA, lower case
        "2001:db8::1",
        "192.0.2.1",  # v4-mapped IPv6 written as IPv4, as Zeek stores it
        "rtl\u202etxt.exe",
    } <= hostile_read
