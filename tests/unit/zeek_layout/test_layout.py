"""Layout engine: a table of hardware cases plus one test per rule (plugins/module_utils/zeek_layout/)."""

import configparser

import pytest
from ansible_collections.socforge.core.plugins.module_utils import zeek_layout as z
from hypothesis import given, settings
from hypothesis import strategies as st

# ------------------------------------------------------------------------------------------------
# Hardware fixtures (the inventory model: soc_hardware)
# ------------------------------------------------------------------------------------------------


def two_socket(memory_gb=256, nics=None):
    """2-socket, 32 physical cores, HT; NIC on each socket."""
    return {
        "cores": 32,
        "threads_per_core": 2,
        "memory_gb": memory_gb,
        "numa_nodes": [{"id": 0, "cpus": "0-15,32-47"}, {"id": 1, "cpus": "16-31,48-63"}],
        "capture_nics": nics
        if nics is not None
        else [
            {"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "lhcopn"},
            {"name": "ens4f0", "speed_gbps": 100, "numa_node": 1, "link": "janet1"},
        ],
    }


def lab_box(nic="eth1", link="lab-uplink"):
    return {
        "cores": 4,
        "threads_per_core": 1,
        "memory_gb": 8,
        "numa_nodes": [{"id": 0, "cpus": "0-3"}],
        "capture_nics": [{"name": nic, "speed_gbps": 1, "numa_node": 0, "link": link}],
    }


MANAGER_HW = {"cores": 16, "threads_per_core": 2, "memory_gb": 128, "numa_nodes": [{"id": 0, "cpus": "0-31"}]}

LINKS = [
    {"name": "lhcopn", "capacity_gbps": 100, "peak_utilisation": 0.6, "active": True, "stage": 1},
    {"name": "janet1", "capacity_gbps": 100, "peak_utilisation": 0.2, "active": True, "stage": 2},
    {"name": "janet3", "capacity_gbps": 100, "peak_utilisation": 0.2, "active": False, "stage": 3},
]
LAB_LINKS = [{"name": "lab-uplink", "capacity_gbps": 1, "peak_utilisation": 0.5, "active": True, "stage": 1}]
LAB_SETTINGS = {
    "reserved_cores": 1,
    "worker_memory_gb": 1,
    "os_memory_gb": 1,
    "manager_memory_gb": 0.5,
    "logger_memory_gb": 0.5,
    "proxy_memory_gb": 0.5,
    "buffer_min_mb": 16,
    "buffer_max_mb": 256,
}


def manager(name="zm1", hw=None, roles=("manager", "logger", "proxy")):
    return {"name": name, "address": "10.0.0.1", "roles": list(roles), "hardware": hw or MANAGER_HW}


def worker(name, hw, address=None, overrides=None, cluster=None):
    h = {"name": name, "address": address or f"10.0.1.{len(name)}", "roles": ["worker"], "hardware": hw}
    if overrides:
        h["overrides"] = overrides
    if cluster:
        h["cluster"] = cluster
    return h


def rules(layout, level="error"):
    return {f["rule"] for f in layout["findings"] if f["level"] == level}


def messages(layout, rule):
    return [f["message"] for f in layout["findings"] if f["rule"] == rule]


def iface(layout, host, name):
    return next(e for e in layout["interfaces"] if e["host"] == host and e["interface"] == name)


# ------------------------------------------------------------------------------------------------
# The hardware-case table
# ------------------------------------------------------------------------------------------------

CASES = {
    # name: (hosts, links, settings, expected error rules, expected workers per (host, nic))
    "small-lab-box": (
        [
            manager(hw={"cores": 2, "threads_per_core": 1, "memory_gb": 4}),
            worker("zw1", lab_box()),
            worker("zw2", lab_box()),
        ],
        LAB_LINKS,
        LAB_SETTINGS,
        set(),
        {("zw1", "eth1"): 3, ("zw2", "eth1"): 3},
    ),
    "2-socket-32-core-ht-two-100g": (
        [manager()] + [worker(f"zw{i}", two_socket()) for i in range(1, 5)],
        LINKS,
        {},
        set(),
        {(f"zw{i}", n): 15 for i in range(1, 5) for n in ("ens1f0", "ens4f0")},
    ),
    "over-subscribed-site": (
        [manager(), worker("zw1", two_socket())],
        LINKS,
        {},
        {"capacity"},
        {("zw1", "ens1f0"): 15, ("zw1", "ens4f0"): 15},
    ),
    "over-subscribed-rockNSM-many-nics-few-cores": (
        [
            manager(),
            worker(
                "zw1",
                {
                    "cores": 4,
                    "threads_per_core": 1,
                    "memory_gb": 64,
                    "capture_nics": [
                        {"name": f"eth{i}", "speed_gbps": 10, "numa_node": 0, "link": "janet1"} for i in range(4)
                    ],
                },
            ),
        ],
        LINKS,
        {},
        {"cores", "capacity"},
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hardware_case_table(case):
    hosts, links, settings_, expected_errors, expected_workers = CASES[case]
    layout = z.compute_layout(hosts, links, settings_)
    assert rules(layout) == expected_errors, layout["errors"]
    if expected_workers:
        got = {(e["host"], e["interface"]): e["lb_procs"] for e in layout["interfaces"]}
        assert got == expected_workers
    # Every worker entry is internally consistent whatever the case.
    for e in layout["interfaces"]:
        assert e["lb_procs"] == len(e["pin_cpus"])
        assert len(set(e["pin_cpus"])) == len(e["pin_cpus"])


def test_two_socket_pins_numa_local_physical_cores_and_reserves_one_core_per_socket():
    layout = z.compute_layout([manager(), worker("zw1", two_socket())], LINKS)
    a, b = iface(layout, "zw1", "ens1f0"), iface(layout, "zw1", "ens4f0")
    assert a["pin_cpus"] == list(range(1, 16))  # node 0, core 0 reserved, no HT siblings (32-47)
    assert b["pin_cpus"] == list(range(17, 32))  # node 1, core 16 reserved
    assert layout["hosts"]["zw1"]["reserved_cpus"] == "0,16,32,48"  # reserved cores with their siblings
    assert {a["fanout_id"], b["fanout_id"]} == {23, 24}
    assert (a["irq_cpus"], b["irq_cpus"]) == ([0, 32], [16, 48])  # IRQs stay on the reserve, NUMA-local
    assert a["buffer_size_mb"] == 1024  # (256 - 4 - 30*6) GB * 0.5 / 30 workers -> 1.2 GiB -> 1024 MiB


def test_ht_policy_use_adds_siblings_after_physical_cores_and_counts_their_factor():
    layout = z.compute_layout(
        [manager(), worker("zw1", two_socket(memory_gb=512))],
        LINKS,
        {"ht_policy": "use", "ht_sibling_gbps_factor": 0.25},
    )
    a = iface(layout, "zw1", "ens1f0")
    assert a["pin_cpus"] == list(range(1, 16)) + list(range(33, 48))  # sibling 32 of reserved core 0 stays free
    assert a["lb_procs"] == 30
    assert a["capacity_gbps"] == pytest.approx(15 + 15 * 0.25)


def test_ht_skip_warns_when_an_override_pins_a_sibling():
    layout = z.compute_layout(
        [manager(), worker("zw1", two_socket(), overrides={"ens1f0": {"pin_cpus": "1-4,33"}})], LINKS
    )
    assert "ht" in rules(layout, "warning")


def test_lab_two_nics_on_one_node_split_cpus_evenly():
    hw = two_socket(
        nics=[
            {"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "janet1"},
            {"name": "ens1f1", "speed_gbps": 100, "numa_node": 0, "link": "janet1"},
        ]
    )
    layout = z.compute_layout([manager(), worker("zw1", hw)], LINKS)
    a, b = iface(layout, "zw1", "ens1f0"), iface(layout, "zw1", "ens1f1")
    assert (a["lb_procs"], b["lb_procs"]) == (8, 7)  # 15 free physical cores on node 0
    assert not set(a["pin_cpus"]) & set(b["pin_cpus"])


def test_service_processes_on_a_capture_host_take_cores_from_workers():
    hw = lab_box()
    alone = z.compute_layout([manager(), worker("zw1", hw)], LAB_LINKS, LAB_SETTINGS)
    shared = z.compute_layout(
        [{"name": "zw1", "roles": ["manager", "logger", "proxy", "worker"], "hardware": hw}], LAB_LINKS, LAB_SETTINGS
    )
    assert iface(alone, "zw1", "eth1")["lb_procs"] == 3
    assert shared["clusters"]["zeek"]["manager"] == "zw1"
    assert shared["hosts"]["zw1"]["service_processes"] == 3
    assert "cores" in rules(shared)  # 4 cores - 1 reserved - 3 services leaves nothing


# ------------------------------------------------------------------------------------------------
# One test per rule
# ------------------------------------------------------------------------------------------------


def test_memory_rule_workers_plus_rings_over_host_memory():
    layout = z.compute_layout([manager(), worker("zw1", two_socket(memory_gb=96))], LINKS)
    msg = messages(layout, "memory")
    assert msg and "host zw1" in msg[0] and "96 GB" in msg[0] and "workers 180.0" in msg[0]


def test_memory_rule_warns_near_the_limit():
    layout = z.compute_layout([manager(), worker("zw1", two_socket(memory_gb=200))], LINKS, {"memory_warn": 0.9})
    assert "memory" not in rules(layout)
    assert "memory" in rules(layout, "warning")  # 4 + 180 + 30*128MiB = 187.75 > 180


def test_rings_scale_with_memory_and_clamp_to_bounds():
    big = z.compute_layout([manager(), worker("zw1", two_socket(memory_gb=1024))], LINKS)
    small = z.compute_layout([manager(), worker("zw1", two_socket(memory_gb=190))], LINKS)
    assert iface(big, "zw1", "ens1f0")["buffer_size_mb"] == 2048  # clamped at buffer_max_mb
    assert iface(small, "zw1", "ens1f0")["buffer_size_mb"] == 128  # Zeek's default as the floor
    assert iface(big, "zw1", "ens1f0")["buffer_size"] == 2048 * 1024 * 1024


def test_manager_intel_rule_names_the_intel_set():
    hw = {"cores": 8, "threads_per_core": 1, "memory_gb": 32}
    ok = z.compute_layout([manager(hw=hw, roles=["manager"])], [], {"intel_size_mb": 100})
    assert not ok["errors"]
    bad = z.compute_layout([manager(hw=hw, roles=["manager"])], [], {"intel_size_mb": 4096})
    msg = messages(bad, "manager-intel")
    assert msg and "4096 MB of intel x 8 = 32.0 GB" in msg[0] and "host zm1" in msg[0]


def test_cpu_overlap_between_interfaces_and_with_the_reserve():
    overrides = {"ens1f0": {"pin_cpus": "0-3"}, "ens4f0": {"pin_cpus": [3, 4, 5]}}
    hw = two_socket(
        nics=[
            {"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "janet1"},
            {"name": "ens4f0", "speed_gbps": 100, "numa_node": 0, "link": "janet1"},
        ]
    )
    layout = z.compute_layout([manager(), worker("zw1", hw, overrides=overrides)], LINKS)
    msg = messages(layout, "cpu-overlap")
    assert any("CPU 0 is also pinned to the OS/IRQ reserve" in m for m in msg)
    assert any("CPU 3 is also pinned to interface ens1f0" in m for m in msg)


def test_cpu_range_and_lb_procs_mismatch():
    layout = z.compute_layout(
        [manager(), worker("zw1", two_socket(), overrides={"ens1f0": {"pin_cpus": "1-3,200", "lb_procs": 4}})], LINKS
    )
    assert any("pinned CPU 200 does not exist" in m for m in messages(layout, "cpu-range"))
    mismatch = z.compute_layout(
        [manager(), worker("zw1", two_socket(), overrides={"ens1f0": {"pin_cpus": "1-3", "lb_procs": 5}})], LINKS
    )
    assert any("lb_procs=5 but 3 CPUs pinned" in m for m in messages(mismatch, "cpu-range"))


def test_numa_remote_pin_warns():
    layout = z.compute_layout(
        [manager(), worker("zw1", two_socket(), overrides={"ens1f0": {"pin_cpus": "17-20"}})], LINKS
    )
    assert any("CPU 17 is on NUMA node 1" in m for m in messages(layout, "numa"))


def test_fanout_collision_and_range():
    layout = z.compute_layout(
        [manager(), worker("zw1", two_socket(), overrides={"ens1f0": {"fanout_id": 40}, "ens4f0": {"fanout_id": 40}})],
        LINKS,
    )
    assert any("fanout id 40 is used by both ens1f0 and ens4f0" in m for m in messages(layout, "fanout"))
    high = z.compute_layout([manager(), worker("zw1", two_socket(), overrides={"ens1f0": {"fanout_id": 70000}})], LINKS)
    assert any("outside 0-65535" in m for m in messages(high, "fanout"))


def test_fanout_auto_ids_skip_an_id_taken_by_an_override():
    layout = z.compute_layout([manager(), worker("zw1", two_socket(), overrides={"ens4f0": {"fanout_id": 23}})], LINKS)
    assert "fanout" not in rules(layout)
    assert iface(layout, "zw1", "ens1f0")["fanout_id"] == 24


def test_too_few_cores_for_interfaces_names_host_node_and_nics():
    layout = CASES["over-subscribed-rockNSM-many-nics-few-cores"]
    out = z.compute_layout(*layout[:3])
    msg = messages(out, "cores")
    assert msg and "host zw1: NUMA node 0 has 2 CPUs free" in msg[0] and "eth0, eth1, eth2, eth3" in msg[0]


def test_capacity_shortfall_names_link_and_shortfall():
    layout = z.compute_layout([manager(), worker("zw1", two_socket())], LINKS)
    msg = [m for m in messages(layout, "capacity") if m.startswith("link lhcopn: peak")]
    assert msg == [
        "link lhcopn: peak 60.0 Gb/s (100 Gb/s x 0.6) exceeds the Zeek farm's 15.0 Gb/s (15 workers on 1 "
        "interfaces at 1 Gb/s each): short by 45.0 Gb/s, about 45 more worker cores"
    ]
    row = next(r for r in layout["links"] if r["link"] == "lhcopn")
    assert (row["shortfall_gbps"], row["status"]) == (45.0, "SHORT")


def test_capacity_gbps_per_worker_is_a_variable():
    hosts = [manager()] + [worker(f"zw{i}", two_socket()) for i in range(1, 5)]
    assert "capacity" not in rules(z.compute_layout(hosts, LINKS, {"gbps_per_worker": 1.0}))
    assert "capacity" in rules(z.compute_layout(hosts, LINKS, {"gbps_per_worker": 0.8}))  # 60 > 4*15*0.8=48


def test_uneven_interface_share_is_reported_even_when_the_link_total_fits():
    hosts = [manager()] + [worker(f"zw{i}", two_socket()) for i in range(1, 5)]
    hosts.append(
        worker("zw5", two_socket(), overrides={"ens1f0": {"pin_cpus": "1", "lb_procs": 1}})  # starved interface
    )
    layout = z.compute_layout(hosts, LINKS)
    assert any("host zw5 interface ens1f0 gets 12.0 Gb/s" in m for m in messages(layout, "capacity"))


def test_headroom_warning():
    hosts = [manager()] + [worker(f"zw{i}", two_socket()) for i in range(1, 5)]  # 60 Gb/s on 4x15 = 100 %
    layout = z.compute_layout(hosts, LINKS, {"gbps_per_worker": 1.1})
    assert "headroom" in rules(layout, "warning")
    assert next(r for r in layout["links"] if r["link"] == "lhcopn")["status"] == "tight"


def test_nic_speed_below_its_share():
    hw = two_socket(nics=[{"name": "ens1f0", "speed_gbps": 10, "numa_node": 0, "link": "janet1"}])
    layout = z.compute_layout([manager(), worker("zw1", hw)], LINKS, {"gbps_per_worker": 2})
    assert any("receives 20.0 Gb/s at peak but the NIC runs at 10 Gb/s" in m for m in messages(layout, "nic-speed"))


def test_standby_link_shortfall_is_a_warning():
    hw = two_socket(nics=[{"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "janet3"}])
    layout = z.compute_layout([manager(), worker("zw1", hw)], LINKS, {"gbps_per_worker": 0.5})
    assert "capacity" not in rules(layout)
    assert "capacity" in rules(layout, "warning")


def test_stage_rule_link_not_captured():
    layout = z.compute_layout([manager(), worker("zw1", two_socket())], LINKS, {"stage": 3})
    assert any(m.startswith("link janet3 (stage 3)") for m in messages(layout, "link-uncaptured"))
    assert "link-uncaptured" not in rules(
        z.compute_layout([manager(), worker("zw1", two_socket())], LINKS, {"stage": 2})
    )


def test_unknown_link_on_a_nic():
    hw = two_socket(nics=[{"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "nope"}])
    layout = z.compute_layout([manager(), worker("zw1", hw)], LINKS)
    assert any("link 'nope' is not in soc_links" in m for m in messages(layout, "hardware"))


def test_placement_needs_one_manager_and_services_grow_with_workers():
    no_mgr = z.compute_layout([worker("zw1", two_socket())], LINKS)
    assert any("needs exactly one manager" in m for m in messages(no_mgr, "placement"))
    hosts = [manager(), {"name": "zl1", "roles": ["logger"], "hardware": MANAGER_HW}]
    hosts += [
        {"name": "zp1", "roles": ["proxy"], "hardware": MANAGER_HW},
        {"name": "zp2", "roles": ["proxy"], "hardware": MANAGER_HW},
    ]
    hosts[0]["roles"] = ["manager"]
    small = z.compute_layout(hosts + [worker("zw1", two_socket())], LINKS)
    big = z.compute_layout(hosts + [worker(f"zw{i}", two_socket()) for i in range(1, 8)], LINKS)
    assert (len(small["clusters"]["zeek"]["proxies"]), len(small["clusters"]["zeek"]["loggers"])) == (2, 1)
    assert len(big["clusters"]["zeek"]["proxies"]) == 9  # 210 workers / 25
    assert len(big["clusters"]["zeek"]["loggers"]) == 5  # 210 / 50
    assert set(big["clusters"]["zeek"]["proxies"]) == {"zp1", "zp2"}  # round-robin over the proxy group
    assert set(big["clusters"]["zeek"]["loggers"]) == {"zl1"}


def test_two_clusters_are_laid_out_separately():
    hosts = [manager("ma", roles=["manager"]), worker("wa", two_socket())]
    hosts[0]["cluster"] = "a"
    hosts[1]["cluster"] = "a"
    hosts += [{**manager("mb", roles=["manager"]), "cluster": "b"}, worker("wb", two_socket(), cluster="b")]
    layout = z.compute_layout(hosts, LINKS)
    assert set(layout["clusters"]) == {"a", "b"}
    assert layout["clusters"]["b"]["manager"] == "mb"
    assert "host=10.0.0.1" in layout["clusters"]["a"]["node_cfg"]


# ------------------------------------------------------------------------------------------------
# Bad input: clear errors naming the input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hw_change", "needle"),
    [
        (
            {"numa_nodes": [{"id": 0, "cpus": "0-15,32-47"}, {"id": 1, "cpus": "15-31,48-63"}]},
            "CPU 15 is listed on NUMA nodes 0 and 1",
        ),
        (
            {"numa_nodes": [{"id": 0, "cpus": "0-15,32-47"}]},
            "CPUs 16-31,48-63 of 32 cores x 2 threads are on no NUMA node",
        ),
        ({"numa_nodes": [{"id": 0, "cpus": "0-15,a"}]}, "bad cpulist element 'a'"),
        ({"numa_nodes": [{"id": 0, "cpus": "0-70"}]}, "CPU 64 is out of range"),
        (
            {"capture_nics": [{"name": "x", "speed_gbps": 10, "numa_node": 3}]},
            "numa_node 3 is not a declared NUMA node",
        ),
        ({"capture_nics": [{"name": "x", "numa_node": 0}]}, "capture_nics[x].speed_gbps is missing"),
        ({"cores": "many"}, "soc_hardware.cores: expected a number"),
    ],
)
def test_bad_hardware_names_host_and_field(hw_change, needle):
    hw = {**two_socket(), **hw_change}
    with pytest.raises(z.LayoutInputError) as err:
        z.compute_layout([manager(), worker("zw9", hw)], LINKS)
    assert "host zw9" in str(err.value) and needle in str(err.value)


def test_unknown_setting_and_bad_link_are_errors():
    with pytest.raises(z.LayoutInputError, match="'gbps_per_wroker' is unknown"):
        z.compute_layout([], [], {"gbps_per_wroker": 1})
    with pytest.raises(z.LayoutInputError, match="ht_policy"):
        z.compute_layout([], [], {"ht_policy": "maybe"})
    with pytest.raises(z.LayoutInputError, match=r"soc_links\[lhcopn\].peak_utilisation 6.0 is above 1.0"):
        z.compute_layout([], [{"name": "lhcopn", "capacity_gbps": 100, "peak_utilisation": 6}])


# ------------------------------------------------------------------------------------------------
# node.cfg rendering and the report
# ------------------------------------------------------------------------------------------------


def test_node_cfg_is_valid_zeekctl_ini_with_af_packet_keys():
    layout = z.compute_layout([manager()] + [worker(f"zw{i}", two_socket()) for i in range(1, 3)], LINKS)
    text = layout["clusters"]["zeek"]["node_cfg"]
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(text)
    types = [cfg[s]["type"] for s in cfg.sections()]
    assert types.count("manager") == 1 and types.count("logger") == 2 and types.count("proxy") == 3  # 60 workers
    w = cfg["worker-zw1-ens4f0"]
    assert w["interface"] == "af_packet::ens4f0"
    assert w["lb_method"] == "custom"  # zeekctl rejects any other value for AF_PACKET
    assert len(w["pin_cpus"].split(",")) == int(w["lb_procs"]) == 15
    assert w["af_packet_fanout_mode"] == "AF_Packet::FANOUT_HASH"
    assert int(w["af_packet_buffer_size"]) == 1024 * 1024 * 1024
    assert cfg["manager"]["host"] == "10.0.0.1"


def test_capacity_reports_contain_every_link_and_interface():
    layout = z.compute_layout([manager(), worker("zw1", two_socket())], LINKS)
    md = z.capacity_markdown(layout)
    assert md.startswith("## Zeek capacity")
    assert "| lhcopn | 1 | yes | 60.0 | 1 | 15 | 15.0 | -45.0 | SHORT |" in md
    assert "| janet3 | 3 | no | 20.0 | 0 | 0 | 0.0 | -20.0 | not captured |" in md
    text = z.capacity_text(layout)
    assert "zw1/ens4f0" in text and "SHORT" in text


# ------------------------------------------------------------------------------------------------
# Declared hardware vs facts
# ------------------------------------------------------------------------------------------------


def test_check_facts():
    hw = two_socket()
    facts = {
        "processor_nproc": 64,
        "processor_threads_per_core": 2,
        "memtotal_mb": 257000,
        "interfaces": ["lo", "ens1f0", "ens4f0"],
        "ens1f0": {"speed": 100000},
        "ens4f0": {"speed": 25000},
    }
    found = z.check_facts("zw1", hw, facts)
    assert [f["message"] for f in found] == ["host zw1: capture NIC ens4f0 runs at 25 Gb/s, declared 100 Gb/s"]
    facts.update(processor_nproc=32, memtotal_mb=64000, interfaces=["lo"])
    msgs = " | ".join(f["message"] for f in z.check_facts("zw1", hw, facts))
    assert "= 64 CPUs but has 32" in msgs and "declares 256 GB memory but has 62.5 GB" in msgs
    assert "capture NIC ens1f0 does not exist" in msgs


# ------------------------------------------------------------------------------------------------
# cpulist round trip
# ------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=255)))
def test_cpulist_round_trip(cpus):
    text = z.format_cpulist(cpus)
    if cpus:
        assert z.parse_cpulist(text) == sorted(cpus)
    else:
        assert text == ""


def test_service_host_with_too_few_cores_for_its_processes():
    tiny = {"cores": 4, "threads_per_core": 1, "memory_gb": 64}
    hosts = [manager(hw=tiny)] + [worker(f"zw{i}", two_socket()) for i in range(1, 5)]  # 120 workers
    layout = z.compute_layout(hosts, LINKS, {"workers_per_proxy": 20})
    assert "cores" not in rules(layout)  # a warning: service processes share cores well at small scale
    assert any("host zm1: 10 Zeek service processes" in m for m in messages(layout, "cores"))
