"""socforge-intel's opt-in seen-any-proto.zeek on the real Zeek builds (7.2.2 Broker, 8.1.2 ZeroMQ).

Zeek's stock conn-established.zeek matches a listed address only on an established TCP connection.
With ``zeek_intel_seen_all_protocols`` the package also matches the addresses of UDP and ICMP
connections and of TCP connections that never completed a handshake. On the shared
``wikipedia.pcap`` the DNS resolver 141.142.2.2 is only ever talked to over UDP; a two-packet ICMP
echo trace (built here, IPv4 in Ethernet) adds an ICMP-only peer and an unanswered TCP SYN adds a
third. Each matches with the option and does not without it; an established-TCP address matches
exactly once either way (no double counting).
"""

import struct

import pytest
from zeek_site import merged_pcap, misp_event, read_log, run_site, sync_feed, write_feed, write_site

pytestmark = pytest.mark.integration

UDP_ONLY = "141.142.2.2"  # wikipedia.pcap: the DNS resolver, UDP only
ICMP_ONLY = "198.51.100.7"  # the echo trace below
SYN_ONLY = "203.0.113.9"  # an unanswered TCP SYN, below
ESTABLISHED = "208.80.152.118"  # wikipedia.pcap, established TCP (stock script)
HOST = "10.0.0.5"


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _ipv4(src, dst, proto, payload):
    ip = lambda a: bytes(int(x) for x in a.split("."))  # noqa: E731 - local helper
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, ip(src), ip(dst))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + hdr + payload


def _icmp(kind):
    body = struct.pack("!BBHHH", kind, 0, 0, 7, 1) + b"socforge"
    return body[:2] + struct.pack("!H", _csum(body)) + body[4:]


def _syn():
    return struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, 0x50, 0x02, 1024, 0, 0)


def extra_trace(path, start):
    """ICMP echo request + reply with ICMP_ONLY, and one SYN to SYN_ONLY nobody answers."""
    packets = [
        (start, _ipv4(HOST, ICMP_ONLY, 1, _icmp(8))),
        (start + 0.01, _ipv4(ICMP_ONLY, HOST, 1, _icmp(0))),
        (start + 0.02, _ipv4(HOST, SYN_ONLY, 6, _syn())),
    ]
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for ts, frame in packets:
        out += struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), len(frame), len(frame)) + frame
    path.write_bytes(out)
    return path


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    d = tmp_path_factory.mktemp("seen-pcap")
    wiki = merged_pcap(d / "wiki.pcap", ["wikipedia.pcap"])
    first = struct.unpack("<I", wiki.read_bytes()[24:28])[0]
    extra = extra_trace(d / "extra.pcap", first + 5)
    # one classic pcap (zeek takes a single -r): the echo trace's packets after wikipedia's
    (d / "all.pcap").write_bytes(wiki.read_bytes() + extra.read_bytes()[24:])
    return d / "all.pcap"


@pytest.mark.parametrize("enabled", [False, True], ids=["stock", "all-protocols"])
def test_udp_icmp_and_unanswered_tcp_addresses_match_only_with_the_option(zeek, trace, tmp_path, enabled):
    site = write_site(tmp_path, zeek, intel_seen_all_protocols=enabled)
    event = misp_event(
        "addresses of every protocol",
        [("ip-dst", UDP_ONLY), ("ip-dst", ICMP_ONLY), ("ip-dst", SYN_ONLY), ("ip-dst", ESTABLISHED)],
        1_700_000_000,
    )
    write_feed(tmp_path / "feed", [event])
    sync_feed(tmp_path / "feed", site.intel_files[0], "misp")
    rundir = tmp_path / "run"
    res = run_site(zeek, site, trace, rundir)
    assert res.returncode == 0, res.stderr
    conns = {(r["proto"], r["id.resp_h"]) for r in read_log(rundir, "conn")}
    assert {("udp", UDP_ONLY), ("icmp", ICMP_ONLY), ("tcp", SYN_ONLY)} <= conns, conns  # Zeek saw the traffic
    hits = {}
    for rec in read_log(rundir, "intel"):
        hits.setdefault(rec["seen.indicator"], []).append((rec["seen.where"], rec["uid"]))
    # established TCP: Zeek's own script, once per connection and side, with or without the option
    est = hits.get(ESTABLISHED, [])
    assert est and len(est) == len(set(est)), est
    if enabled:
        assert {w for w, _ in hits[UDP_ONLY]} == {"Conn::IN_RESP"}
        assert {w for w, _ in hits[ICMP_ONLY]} == {"Conn::IN_RESP"}  # echo request + reply: one connection
        assert [w for w, _ in hits[SYN_ONLY]] == ["Conn::IN_RESP"]
        assert "(empty)" not in str(hits)
    else:
        assert not {UDP_ONLY, ICMP_ONLY, SYN_ONLY} & set(hits), hits
