"""The tap aggregator on real packets: the shared pcaps replayed into the border link (border0 -> tap0)
reach real Zeek on both receivers through the tool ports tool1/tool2, every connection on one receiver only (the
symmetric hash), every connection of the pcaps somewhere, and no counter shows a drop."""

import json
import time

import pytest
import testinfra

agg = testinfra.get_host("podman://tap_aggregator-agg")
# the aggregator's tool ports and the receiver at the other end of each one's cable
receivers = {
    "tool1": testinfra.get_host("podman://tap_aggregator-r1"),
    "tool2": testinfra.get_host("podman://tap_aggregator-r2"),
}
PCAPS = [
    "wikipedia.pcap",
    "http_ctu-62604-80.pcap",
    "http_http-filename.pcap",
    "smtp-multi-addr.pcap",
    "tls_google-duplicate.pcap",
    "tls_ecdsa-cert.pcap",
]
ZDIR = "/var/lib/socforge-tap-test"  # inside the receiver containers
# At zeek_done: the capture's own counters (packets received and dropped by the kernel / Zeek).
STATS_SCRIPT = "event zeek_done() { print to_json(get_net_stats()); }"


def nft_counters():
    """{chain: packets} of every counter in the aggregator's table ('group_x/not forwarded' apart)."""
    data = json.loads(agg.check_output("nft -j list table netdev socforge_tap"))
    out = {}
    for item in data["nftables"]:
        rule = item.get("rule")
        if not rule:
            continue
        for expr in rule["expr"]:
            if "counter" in expr:
                key = rule["chain"] + ("/" + rule["comment"] if rule.get("comment") else "")
                out[key] = out.get(key, 0) + expr["counter"]["packets"]
    return out


def link_stats(host, ifname):
    return json.loads(host.check_output(f"ip -json -statistics link show {ifname}"))[0]["stats64"]


def conn_tuples(host, directory):
    """Unordered 5-tuples of the conn.log in `directory` (direction-free: a split connection would
    appear on both receivers even where Zeek oriented its halves differently)."""
    text = host.check_output(f"cat {directory}/conn.log")
    fields = next(line for line in text.splitlines() if line.startswith("#fields")).split("\t")[1:]
    out = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        rec = dict(zip(fields, line.split("\t"), strict=True))
        ends = sorted([(rec["id.orig_h"], rec["id.orig_p"]), (rec["id.resp_h"], rec["id.resp_p"])])
        out.add((rec["proto"], *ends[0], *ends[1]))
    return out


@pytest.fixture(scope="module")
def replay():
    """Zeek listening on both receivers, the pcaps replayed once, Zeek stopped: what each saw."""
    before = nft_counters()
    before_links = {port: link_stats(agg, port) for port in receivers}
    for host in receivers.values():
        host.check_output(f"rm -rf {ZDIR} && mkdir -p {ZDIR}")
        host.check_output(f"echo '{STATS_SCRIPT}' > {ZDIR}/stats.zeek")
        # -C: the replayed checksums are the original capture's; -b: only the conn log's scripts
        host.check_output(
            f"cd {ZDIR} && (nohup sh -c 'echo $$ > zeek.pid; exec /opt/zeek8/bin/zeek -C -b -i cap0 "
            f"base/protocols/conn ./stats.zeek' > stdout.txt 2> stderr.txt &)"
        )
    for host in receivers.values():
        for _ in range(60):
            if "listening on cap0" in host.run(f"cat {ZDIR}/stderr.txt").stdout:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"Zeek did not start listening: {host.run(f'cat {ZDIR}/stderr.txt').stdout}")
    sent = agg.check_output(
        "tcpreplay --mbps=20 --intf1=border0 "
        + " ".join(f"/srv/pcaps/{p}" for p in PCAPS)
        + " | grep -E '^\\s*Actual:'"
    )
    time.sleep(2)
    stats = {}
    for port, host in receivers.items():
        host.check_output(f"kill -TERM $(cat {ZDIR}/zeek.pid)")
        for _ in range(60):
            if host.run(f"kill -0 $(cat {ZDIR}/zeek.pid)").rc != 0:
                break
            time.sleep(0.5)
        stats[port] = json.loads(host.check_output(f"cat {ZDIR}/stdout.txt").strip().splitlines()[-1])
    after = nft_counters()
    return {
        "sent": int(sent.split()[1]),
        "counters": {k: after.get(k, 0) - before.get(k, 0) for k in after},
        "links": {
            port: {
                d: {k: link_stats(agg, port)[d][k] - before_links[port][d][k] for k in ("packets", "dropped", "errors")}
                for d in ("tx", "rx")
            }
            for port in receivers
        },
        "zeek": stats,
        "conns": {port: conn_tuples(host, ZDIR) for port, host in receivers.items()},
    }


def test_ruleset_is_the_rendered_map():
    text = agg.check_output("nft list table netdev socforge_tap")
    assert 'type filter hook ingress device "tap0"' in text
    assert "symhash mod 2 vmap { 0 : jump tool_tool1, 1 : jump tool_tool2 }" in text
    assert 'fwd to "tool1"' in text and 'fwd to "tool2"' in text
    assert agg.service("socforge-tap-aggregator").is_enabled
    rules = agg.file("/etc/socforge/tap-aggregator.nft").content_string
    assert rules.startswith("#!/usr/sbin/nft -f\n#\n# Ansible managed")


def test_every_replayed_packet_is_forwarded_to_one_tool_port(replay):
    c = replay["counters"]
    print(f"sent {replay['sent']}, counters {c}, tool port links {replay['links']}")
    assert replay["sent"] == 249  # the six pcaps' packets
    assert c["tap_tap0"] == replay["sent"]
    assert c["tool_tool1"] + c["tool_tool2"] == replay["sent"]
    assert c["tool_tool1"] > 0 and c["tool_tool2"] > 0
    assert c["group_border/not forwarded"] == 0


def test_no_drop_on_the_tool_ports(replay):
    for port, stats in replay["links"].items():
        assert stats["tx"]["dropped"] == 0 and stats["tx"]["errors"] == 0, (port, stats)
        assert stats["tx"]["packets"] >= replay["counters"][f"tool_{port}"], (port, stats)
        # the aggregator sends nothing of its own on a tool port
        assert stats["tx"]["packets"] == replay["counters"][f"tool_{port}"], (port, stats)


def test_zeek_on_both_receivers_got_their_share_without_loss(replay):
    for port, ns in replay["zeek"].items():
        print(f"{port}: zeek net stats {ns}")
        assert ns["pkts_dropped"] == 0, (port, ns)
        assert ns["pkts_recvd"] >= replay["counters"][f"tool_{port}"], (port, ns)


def test_no_connection_is_split_across_tool_ports(replay):
    one, two = replay["conns"]["tool1"], replay["conns"]["tool2"]
    print(f"connections: tool1 {len(one)}, tool2 {len(two)}, split {len(one & two)}")
    assert one and two
    assert one & two == set()


def test_every_connection_of_the_pcaps_arrived(replay, capsys):
    r1 = receivers["tool1"]
    offline = set()
    for pcap in PCAPS:
        d = f"{ZDIR}/offline-{pcap}"
        r1.check_output(f"mkdir -p {d} && cd {d} && /opt/zeek8/bin/zeek -C -b -r /srv/pcaps/{pcap} base/protocols/conn")
        offline |= conn_tuples(r1, d)
    seen = replay["conns"]["tool1"] | replay["conns"]["tool2"]
    with capsys.disabled():  # the scenario's numbers, in molecule's output
        print(
            f"\ntap_aggregator: {replay['sent']} packets replayed, per tool port {replay['counters']}; "
            f"Zeek: {replay['zeek']}; connections in the pcaps {len(offline)}, seen behind the aggregator "
            f"{len(seen)} (tool1 {len(replay['conns']['tool1'])}, tool2 {len(replay['conns']['tool2'])}, "
            f"on both {len(replay['conns']['tool1'] & replay['conns']['tool2'])})"
        )
    assert offline - seen == set()
