"""Property tests of the layout engine over random hardware: either a clear LayoutInputError, or a
layout whose invariants hold (pins unique, in range, NUMA-local unless overridden, never on the
reserve; fanout ids unique per host; lb_procs == pins; memory/capacity findings consistent).
A short run is part of `make test`; `make fuzz` (-m slow) runs 100k examples."""

import os

import pytest
from ansible_collections.socforge.core.plugins.module_utils import zeek_layout as z
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LINKS = [
    {"name": "a", "capacity_gbps": 100, "peak_utilisation": 0.5},
    {"name": "b", "capacity_gbps": 10, "peak_utilisation": 0.9},
]


@st.composite
def hardware(draw):
    cores = draw(st.integers(1, 64))
    tpc = draw(st.sampled_from([1, 2]))
    n_nodes = draw(st.integers(1, min(4, cores)))
    per = cores // n_nodes
    nodes = []
    for i in range(n_nodes):
        lo, hi = i * per, (cores if i == n_nodes - 1 else (i + 1) * per)
        cpus = list(range(lo, hi)) + [c + cores for c in range(lo, hi)] * (tpc - 1)
        nodes.append({"id": i, "cpus": z.format_cpulist(cpus)})
    nics = [
        {
            "name": f"eth{j}",
            "speed_gbps": draw(st.sampled_from([1, 10, 25, 100])),
            "numa_node": draw(st.integers(0, n_nodes - 1)),
            "link": draw(st.sampled_from(["a", "b"])),
        }
        for j in range(draw(st.integers(1, 6)))
    ]
    return {
        "cores": cores,
        "threads_per_core": tpc,
        "memory_gb": draw(st.integers(1, 1024)),
        "numa_nodes": nodes,
        "capture_nics": nics,
    }


SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "reserved_cores": st.integers(0, 4),
        "ht_policy": st.sampled_from(["skip", "use"]),
        "gbps_per_worker": st.floats(0.1, 5),
        "max_workers_per_nic": st.integers(0, 16),
    },
)


def check_invariants(layout, hosts):
    hw = {h["name"]: z.parse_hardware(h["name"], h["hardware"]) for h in hosts}
    by_host = {}
    for e in layout["interfaces"]:
        by_host.setdefault(e["host"], []).append(e)
        assert e["lb_procs"] == len(e["pin_cpus"])
        h = hw[e["host"]]
        assert all(h["cpu_node"][c] == e["numa_node"] for c in e["pin_cpus"])  # NUMA-local
        assert set(e["irq_cpus"]).isdisjoint(e["pin_cpus"])
    for name, entries in by_host.items():
        pins = [c for e in entries for c in e["pin_cpus"]]
        assert len(pins) == len(set(pins))
        assert len({e["fanout_id"] for e in entries}) == len(entries)
        reserved = (
            set(z.parse_cpulist(layout["hosts"][name]["reserved_cpus"]))
            if layout["hosts"][name]["reserved_cpus"]
            else set()
        )
        assert reserved.isdisjoint(pins)
    for row in layout["links"]:
        if not row["interfaces"]:
            assert row["status"] == "not captured"
            continue
        short = row["shortfall_gbps"] > 0
        assert short == any(
            f["rule"] == "capacity"
            and f.get("link") == row["link"]
            and "short by" in f["message"]
            and f["message"].startswith(f"link {row['link']}: peak")
            for f in layout["findings"]
        )


def run(hw_list, settings_):
    hosts = [{"name": "m", "roles": ["manager", "logger", "proxy"], "hardware": {"cores": 8, "memory_gb": 64}}]
    hosts += [{"name": f"w{i}", "roles": ["worker"], "hardware": hw} for i, hw in enumerate(hw_list)]
    try:
        layout = z.compute_layout(hosts, LINKS, settings_)
    except z.LayoutInputError as exc:
        assert str(exc)
        return
    check_invariants(layout, hosts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hardware(), min_size=1, max_size=3), SETTINGS)
def test_layout_invariants_short(hw_list, settings_):
    run(hw_list, settings_)


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("SOCFORGE_FUZZ_EXAMPLES", "100000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(hardware(), min_size=1, max_size=4), SETTINGS)
def test_layout_invariants_long(hw_list, settings_):
    run(hw_list, settings_)
