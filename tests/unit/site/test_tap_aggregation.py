"""The tap aggregator's port map (plugins/module_utils/tap_aggregation.py), on copies of the real inventories."""

import copy
import json

import pytest
from ansible_collections.socforge.core.plugins.module_utils import site_model
from ansible_collections.socforge.core.plugins.module_utils import tap_aggregation as ta
from test_site_model import REPO, load_site


@pytest.fixture(scope="module")
def example():
    return load_site(REPO / "inventories" / "example-site")


@pytest.fixture
def site(example):
    return copy.deepcopy(example)


def analyse(site, stage=None):
    return ta.analyse(site["links"], site["hosts"], site["groups"], stage)


def link(site, name):
    return next(x for x in site["links"] if x["name"] == name)


def test_example_site_maps_every_tap_port_to_its_workers(site):
    result = analyse(site)
    assert result["errors"] == []
    cfg = ta.aggregator_config(site["links"], site["hosts"], site["groups"], "tap-agg01")
    taps = {t["port"]: t["link"] for t in cfg["tap_ports"]}
    assert taps == {
        "Ethernet1": "lhcopn", "Ethernet2": "lhcopn", "Ethernet3": "janet-1", "Ethernet4": "janet-1",
        "Ethernet5": "janet-2", "Ethernet6": "janet-3", "Ethernet7": "janet-3", "Ethernet8": "janet-4",
    }  # fmt: skip
    lhcopn = next(g for g in cfg["tool_groups"] if g["link"] == "lhcopn")
    # both LHCOPN workers, both NICs each, in (host, NIC) order: bucket i -> tool port i
    assert [(t["host"], t["nic"], t["port"]) for t in lhcopn["tool_ports"]] == [
        ("zeek-w01", "ens1f0", "Ethernet33"),
        ("zeek-w01", "ens5f0", "Ethernet34"),
        ("zeek-w02", "ens1f0", "Ethernet35"),
        ("zeek-w02", "ens5f0", "Ethernet36"),
    ]
    # 100 Gb/s at 60 %, both directions: 120 Gb/s onto 4 x 100 Gb/s
    assert (lhcopn["peak_gbps"], lhcopn["tool_gbps"]) == (120.0, 400.0)


def test_stage_1_configures_only_the_lhcopn_ports(site):
    cfg = ta.aggregator_config(site["links"], site["hosts"], site["groups"], "tap-agg01", stage=1)
    assert [t["port"] for t in cfg["tap_ports"]] == ["Ethernet1", "Ethernet2"]
    assert [g["link"] for g in cfg["tool_groups"]] == ["lhcopn"]


def test_lab_inventory_maps_its_tap_port_to_both_workers():
    lab = load_site(REPO / "inventories" / "lab")
    cfg = ta.aggregator_config(lab["links"], lab["hosts"], lab["groups"], "lab-aggregator")
    assert cfg["tap_ports"] == [{"port": "tap0", "link": "lab-uplink", "tap": "mirror", "group": "lab_uplink"}]
    assert [(t["host"], t["port"]) for t in cfg["tool_groups"][0]["tool_ports"]] == [
        ("lab-zeek-w1", "tool-w1"),
        ("lab-zeek-w2", "tool-w2"),
    ]


def test_tool_ports_short_of_the_peak_fail_naming_the_link(site):
    # LHCOPN at 100 % both ways is 200 Gb/s; leave it two 25 Gb/s tool ports
    link(site, "lhcopn")["peak_utilisation"] = 1.0
    for host in ("zeek-w01", "zeek-w02"):
        nics = site["hosts"][host]["hardware"]["capture_nics"]
        site["hosts"][host]["hardware"]["capture_nics"] = [dict(nics[0], speed_gbps=25)]
    errors = analyse(site)["errors"]
    assert errors == [
        "link lhcopn: its tool ports on tap-agg01 (Ethernet33, Ethernet35) carry 50 Gb/s but the tapped link "
        "peaks at 200 Gb/s (both directions of 100 Gb/s at 100%): short by 150 Gb/s; add tool ports"
    ]
    assert errors[0] in site_model.validate_site(site).errors
    with pytest.raises(ta.AggregationError, match="short by 150 Gb/s"):
        ta.aggregator_config(site["links"], site["hosts"], site["groups"], "tap-agg01")


def test_an_uneven_share_near_a_tool_ports_speed_is_a_warning(site):
    link(site, "janet-2")["peak_utilisation"] = 0.9  # 180 Gb/s on 2 x 100: 90 Gb/s each
    result = analyse(site)
    assert result["errors"] == []
    assert any("link janet-2: tool port Ethernet39" in w and "elephant flow" in w for w in result["warnings"])


def test_a_tap_port_feeding_no_tool_port_fails_naming_link_and_ports(site):
    for host in ("zeek-w05",):
        site["hosts"][host]["hardware"]["capture_nics"] = []
    for host in ("zeek-w05", "zeek-w06"):
        for nic in site["hosts"][host]["hardware"]["capture_nics"]:
            nic["link"] = "janet-4"
    errors = analyse(site)["errors"]
    assert (
        "link janet-3: tap port(s) Ethernet6, Ethernet7 on tap-agg01 map to no tool port: no Zeek worker "
        "capture NIC on link janet-3 declares an aggregator_port"
    ) in errors


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda s: link(s, "lhcopn").update(tap_ports=["Ethernet1"]),
            "link lhcopn: an optical tap delivers each direction on its own monitor fibre; 1 tap port (Ethernet1) "
            "declared, 2 needed",
        ),
        (
            lambda s: link(s, "janet-2").update(tap_ports=["Ethernet1"]),
            "aggregator tap-agg01: port Ethernet1 is used twice: tap port of link lhcopn and tap port of link janet-2",
        ),
        (
            lambda s: link(s, "janet-2").update(tap_ports=["Ethernet33"]),
            "aggregator tap-agg01: port Ethernet33 is used twice: tool port to zeek-w01 ens1f0 and tap port of link janet-2",
        ),
        (
            lambda s: s["hosts"]["zeek-w03"]["hardware"]["capture_nics"][0].pop("aggregator_port"),
            "host zeek-w03: soc_hardware.capture_nics[0] (ens1f0) captures link janet-1 but has no aggregator_port: "
            "no tap aggregator port feeds it",
        ),
        (
            lambda s: link(s, "janet-1").update(tap_ports=[]),
            "link janet-1: no tap_ports: the ports of tap-agg01 that its optical tap feeds are not declared",
        ),
        (
            lambda s: link(s, "janet-1").update(aggregator="tap-agg99"),
            "link janet-1: aggregator 'tap-agg99' is not in the tap_aggregators group (tap-agg01)",
        ),
        (
            lambda s: link(s, "janet-1").update(tap_ports=["Ethernet3", "Eth 4"]),
            "link janet-1: tap port 'Eth 4' is not a port name",
        ),
        (
            lambda s: s["groups"].update(tap_aggregators=["tap-agg01", "tap-agg02"]),
            "link lhcopn: 2 tap aggregators (tap-agg01, tap-agg02): name its aggregator",
        ),
    ],
)
def test_broken_port_maps_fail_naming_what_is_wrong(site, break_it, expected):
    break_it(site)
    errors = site_model.validate_site(site).errors
    assert expected in errors, errors


def test_plan_report_has_the_port_map(site):
    report = site_model.plan_report(site, site_model.validate_site(site))
    assert "## Tap aggregation (symmetric flow hash per link)" in report
    assert (
        "| 1 | lhcopn | optical | tap-agg01 | Ethernet1, Ethernet2 | Ethernet33 (zeek-w01 ens1f0), "
        "Ethernet34 (zeek-w01 ens5f0), Ethernet35 (zeek-w02 ens1f0), Ethernet36 (zeek-w02 ens5f0) | 120 | 400 | ok |"
    ) in report


def test_sites_without_an_aggregator_are_not_checked():
    site = {
        "links": [{"name": "l", "tap": "mirror", "stage": 1, "capacity_gbps": 1}],
        "hosts": {"w": {"hardware": {"capture_nics": [{"name": "eth1", "link": "l", "speed_gbps": 1}]}}},
        "groups": {"zeek_workers": ["w"]},
    }
    assert analyse(site) == {"errors": [], "warnings": [], "aggregators": {}, "rows": []}


def test_nft_counters_from_nft_json():
    text = json.dumps(
        {
            "nftables": [
                {"metainfo": {"json_schema_version": 1}},
                {"table": {"family": "netdev", "name": "socforge_tap"}},
                {"rule": {"table": "socforge_tap", "chain": "tap_tap0", "expr": [{"counter": {"packets": 249, "bytes": 1}}, {"jump": {"target": "group_x"}}]}},
                {"rule": {"table": "socforge_tap", "chain": "group_x", "comment": "not forwarded", "expr": [{"counter": {"packets": 0, "bytes": 0}}]}},
                {"rule": {"table": "socforge_tap", "chain": "tool_tool1", "expr": [{"counter": {"packets": 121, "bytes": 9}}, {"fwd": {"dev": "tool1"}}]}},
                {"rule": {"table": "other", "chain": "tool_tool1", "expr": [{"counter": {"packets": 5, "bytes": 9}}]}},
            ]
        }
    )  # fmt: skip
    assert ta.nft_counters(text) == {"tap_tap0": 249, "group_x/not forwarded": 0, "tool_tool1": 121}
    with pytest.raises(ta.AggregationError, match="not JSON"):
        ta.nft_counters("nft: command not found")


def conn(orig, resp, node, proto="tcp"):
    return {
        "id.orig_h": orig[0],
        "id.orig_p": orig[1],
        "id.resp_h": resp[0],
        "id.resp_p": resp[1],
        "proto": proto,
        "_node": node,
    }


def test_split_connections_by_worker_host():
    a, b = ("10.0.0.1", 40000), ("192.0.2.80", 443)
    c, d = ("10.0.0.2", 40001), ("192.0.2.81", 80)
    records = [
        conn(a, b, "worker-lab-zeek-w1-cap0-1"),
        conn(a, b, "worker-lab-zeek-w1-cap0-2"),  # the same host's other process: fanout, not the aggregator
        conn(c, d, "worker-lab-zeek-w2-cap0-1"),
        conn(d, c, "worker-lab-zeek-w1-cap0-1"),  # the reply direction logged by the other worker: split
        conn(("10.0.0.3", 1), ("10.0.0.4", 2), "worker-lab-zeek-w10-cap0-1"),  # w10, not w1
        {"id.orig_h": "10.0.0.9", "proto": "udp"},  # no _node
        conn(a, b, "logger-1"),
    ]
    out = ta.split_connections(records, ["lab-zeek-w1", "lab-zeek-w2", "lab-zeek-w10"])
    assert out["connections"] == 3
    assert out["per_worker"] == {"lab-zeek-w1": 2, "lab-zeek-w2": 1, "lab-zeek-w10": 1}
    assert out["split"] == [
        {"connection": "tcp 10.0.0.2:40001 <-> 192.0.2.81:80", "workers": ["lab-zeek-w1", "lab-zeek-w2"]}
    ]
    assert out["split_processes"] == 1
    assert (out["without_node"], out["unknown_nodes"]) == (1, ["logger-1"])
