"""Hyper-thread sibling numbering (spread, adjacent, explicit), staged rollouts and cluster ports
(plugins/module_utils/zeek_layout/)."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils import zeek_layout as z

LINKS = [
    {"name": "lhcopn", "capacity_gbps": 10, "peak_utilisation": 0.5, "active": True, "stage": 1},
    {"name": "janet1", "capacity_gbps": 10, "peak_utilisation": 0.2, "active": True, "stage": 2},
]
MANAGER = {
    "name": "zm1",
    "address": "10.0.0.1",
    "roles": ["manager", "logger", "proxy"],
    "hardware": {"cores": 8, "threads_per_core": 1, "memory_gb": 64},
}


def ht_box(numbering=None, siblings=None):
    """One socket, 8 cores x 2 threads, one capture NIC."""
    hw = {
        "cores": 8,
        "threads_per_core": 2,
        "memory_gb": 128,
        "numa_nodes": [{"id": 0, "cpus": "0-15"}],
        "capture_nics": [{"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "lhcopn"}],
    }
    if numbering:
        hw["cpu_numbering"] = numbering
    if siblings:
        hw["thread_siblings"] = siblings
    return hw


def layout_of(hw, settings=None):
    worker = {"name": "zw1", "address": "10.0.0.2", "roles": ["worker"], "hardware": hw}
    return z.compute_layout([MANAGER, worker], LINKS, dict({"reserved_cores": 1}, **(settings or {})))


def entry(layout):
    return next(e for e in layout["interfaces"] if e["host"] == "zw1")


def test_spread_numbering_skips_the_upper_half():
    lay = layout_of(ht_box())
    assert entry(lay)["pin_cpus"] == [1, 2, 3, 4, 5, 6, 7]  # siblings 8-15 skipped
    assert lay["hosts"]["zw1"]["reserved_cpus"] == "0,8"


@pytest.mark.parametrize(
    "hw",
    [ht_box("adjacent"), ht_box(siblings=[f"{2 * c}-{2 * c + 1}" for c in range(8)])],
    ids=["cpu_numbering-adjacent", "explicit-thread_siblings"],
)
def test_adjacent_siblings_never_get_two_workers_on_one_core(hw):
    lay = layout_of(hw)
    e = entry(lay)
    # One worker per physical core: the first thread of cores 1..7; core 0 (CPUs 0,1) is reserved.
    assert e["pin_cpus"] == [2, 4, 6, 8, 10, 12, 14]
    assert lay["hosts"]["zw1"]["reserved_cpus"] == "0-1"
    assert {c // 2 for c in e["pin_cpus"]} == set(range(1, 8))
    assert e["irq_cpus"] == [0, 1]
    assert not lay["errors"] and "ht" not in {f["rule"] for f in lay["findings"]}


def test_the_old_assumption_would_have_put_workers_on_siblings_of_adjacent_hosts():
    # With spread numbering assumed on an adjacent host, CPUs 2 and 3 (one core) both get workers:
    spread_pins = entry(layout_of(ht_box()))["pin_cpus"]
    assert {2, 3} <= set(spread_pins)
    adjacent_pins = entry(layout_of(ht_box("adjacent")))["pin_cpus"]
    assert not {2, 3} <= set(adjacent_pins)


def test_ht_use_on_adjacent_numbering_adds_the_odd_threads_after_the_primaries():
    e = entry(layout_of(ht_box("adjacent"), {"ht_policy": "use"}))
    assert e["pin_cpus"] == [2, 4, 6, 8, 10, 12, 14, 3, 5, 7, 9, 11, 13, 15]


def test_override_pinning_a_sibling_warns_for_adjacent_numbering():
    hw = ht_box("adjacent")
    worker = {
        "name": "zw1",
        "address": "10.0.0.2",
        "roles": ["worker"],
        "hardware": hw,
        "overrides": {"ens1f0": {"pin_cpus": "2,3"}},
    }
    lay = z.compute_layout([MANAGER, worker], LINKS, {"reserved_cores": 1})
    assert any("CPU 3 is a hyper-thread sibling" in f["message"] for f in lay["findings"] if f["rule"] == "ht")


@pytest.mark.parametrize(
    ("hw", "message"),
    [
        (ht_box("zigzag"), "cpu_numbering: 'zigzag' is not one of"),
        (ht_box(siblings=["0-1"]), "thread_siblings: lists 1 cores, soc_hardware.cores is 8"),
        (ht_box(siblings=["0-2"] + [f"{2 * c}-{2 * c + 1}" for c in range(1, 8)]), "core has 3 threads"),
        (ht_box(siblings=["0-1", "1-2"] + [f"{2 * c}-{2 * c + 1}" for c in range(2, 8)]), "CPU 1 is in cores 0 and 1"),
    ],
)
def test_bad_sibling_declarations_name_the_field(hw, message):
    with pytest.raises(z.LayoutInputError, match=message):
        layout_of(hw)


def test_facts_check_compares_the_declared_numbering_with_sysfs():
    sysfs_adjacent = [f"{c - c % 2}-{c - c % 2 + 1}" for c in range(16)]  # what cpuN/topology says
    sysfs_spread = [f"{c % 8},{c % 8 + 8}" for c in range(16)]
    assert z.thread_siblings_from_sysfs(sysfs_adjacent)[:2] == ["0-1", "2-3"]
    found = z.check_facts("zw1", ht_box(), {"thread_siblings_lists": sysfs_adjacent, "interfaces": ["ens1f0"]})
    assert len(found) == 1 and "set soc_hardware.cpu_numbering" in found[0]["message"]
    assert (
        z.check_facts("zw1", ht_box("adjacent"), {"thread_siblings_lists": sysfs_adjacent, "interfaces": ["ens1f0"]})
        == []
    )
    assert z.check_facts("zw1", ht_box(), {"thread_siblings_lists": sysfs_spread, "interfaces": ["ens1f0"]}) == []


# ------------------------------------------------------------------------------------------------
# Staged rollout: -e soc_stage=N
# ------------------------------------------------------------------------------------------------


def staged_hosts():
    def w(name, links):
        nics = [{"name": f"ens{i}", "speed_gbps": 100, "numa_node": 0, "link": link} for i, link in enumerate(links)]
        return {
            "name": name,
            "address": f"10.0.0.{len(name) + 10}",
            "roles": ["worker"],
            "hardware": dict(ht_box(), capture_nics=nics),
        }

    return [MANAGER, w("zw-lhc", ["lhcopn"]), w("zw-janet", ["janet1"]), w("zw-both", ["lhcopn", "janet1"])]


def test_stage_one_node_cfg_lists_only_stage_one_workers():
    hosts = z.hosts_in_stage(staged_hosts(), LINKS, 1)
    assert [h["name"] for h in hosts] == ["zm1", "zw-lhc", "zw-both"]
    both = next(h for h in hosts if h["name"] == "zw-both")
    assert [n["link"] for n in both["hardware"]["capture_nics"]] == ["lhcopn"]
    node_cfg = z.compute_layout(hosts, LINKS, {"stage": 1})["clusters"]["zeek"]["node_cfg"]
    assert "[worker-zw-lhc-ens0]" in node_cfg and "[worker-zw-both-ens0]" in node_cfg
    assert "zw-janet" not in node_cfg and "worker-zw-both-ens1" not in node_cfg
    # Without a stage everything stays.
    full = z.compute_layout(z.hosts_in_stage(staged_hosts(), LINKS, None), LINKS)["clusters"]["zeek"]["node_cfg"]
    assert "[worker-zw-janet-ens0]" in full and "[worker-zw-both-ens1]" in full


def test_stage_keeps_a_service_role_of_a_host_whose_workers_are_later():
    hosts = staged_hosts()
    hosts[2] = dict(hosts[2], roles=["worker", "proxy"])
    staged = z.hosts_in_stage(hosts, LINKS, 1)
    assert next(h for h in staged if h["name"] == "zw-janet")["roles"] == ["proxy"]


def test_stage_rejects_a_nic_on_an_undeclared_link():
    with pytest.raises(z.LayoutInputError, match="undeclared link 'nowhere'"):
        z.hosts_in_stage(
            [{"name": "x", "roles": ["worker"], "hardware": {"capture_nics": [{"link": "nowhere"}]}}], LINKS, 1
        )


# ------------------------------------------------------------------------------------------------
# Ports zeekctl assigns from ZeekPort (for the firewall)
# ------------------------------------------------------------------------------------------------


def test_cluster_ports_for_broker_and_zeromq():
    cluster = layout_of(ht_box())["clusters"]["zeek"]
    nodes = 3 + 7  # manager, logger, proxy + 7 worker processes
    broker = z.cluster_ports(cluster, 27760, "broker")
    assert (broker["first"], broker["last"], broker["nodes"]) == (27760, 27760 + nodes, nodes)
    assert broker["backend_ports"] == []
    zmq = z.cluster_ports(cluster, 27760, "zeromq")
    # XPUB 27760, XSUB 27761, control 27762, manager 27763, ..., last worker 27762 + nodes.
    assert zmq["backend_ports"] == [27760, 27761] and zmq["last"] == 27762 + nodes
    assert zmq["range"] == f"27760-{27762 + nodes}"
    with pytest.raises(z.LayoutInputError, match="backend 'nats'"):
        z.cluster_ports(cluster, 27760, "nats")
    with pytest.raises(z.LayoutInputError, match="> 65535"):
        z.cluster_ports(cluster, 65530, "zeromq")
