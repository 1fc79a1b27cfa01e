"""The socforge.core.zeek_layout filters: host collection from inventory variables, error wrapping."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.filter import zeek_layout as f

HW_W = {"cores": 8, "memory_gb": 64, "capture_nics": [{"name": "eth1", "speed_gbps": 10, "link": "l"}]}
HW_M = {"cores": 8, "memory_gb": 64}

HOSTVARS = {
    "m1": {"soc_hardware": HW_M, "soc_host_addresses": {"admin": "10.0.1.1", "data": "10.0.3.1"}},
    "w1": {"soc_hardware": HW_W, "soc_host_addresses": {"data": "10.0.3.2"}, "zeek_node_address": "192.0.2.7"},
    "w2": {
        "soc_hardware": HW_W,
        "ansible_host": "w2.example.org",
        "zeek_cluster_name": "b",
        "zeek_layout_overrides": {"eth1": {"fanout_id": 40}},
    },
    "other": {"soc_hardware": HW_M},
}
GROUPS = {
    "all": list(HOSTVARS),
    "zeek_managers": ["m1"],
    "zeek_loggers": ["m1"],
    "zeek_proxies": [],
    "zeek_workers": ["w1", "w2"],
}


def test_hosts_roles_addresses_clusters_and_overrides():
    hosts = {h["name"]: h for h in f.zeek_cluster_hosts(HOSTVARS, GROUPS, None, "data")}
    assert set(hosts) == {"m1", "w1", "w2"}  # hosts outside the Zeek groups are left out
    assert hosts["m1"]["roles"] == ["logger", "manager"]
    assert hosts["m1"]["address"] == "10.0.3.1"  # the data network address
    assert hosts["w1"]["address"] == "192.0.2.7"  # zeek_node_address wins
    assert hosts["w2"]["address"] == "w2.example.org"  # then ansible_host
    assert hosts["w2"]["cluster"] == "b" and hosts["w2"]["overrides"] == {"eth1": {"fanout_id": 40}}


def test_group_map_renames_tiers():
    groups = {"mgr": ["m1"], "cap": ["w1"]}
    hosts = f.zeek_cluster_hosts(HOSTVARS, groups, {"manager": "mgr", "worker": "cap"}, "admin")
    assert [(h["name"], h["roles"], h["address"]) for h in hosts] == [
        ("m1", ["manager"], "10.0.1.1"),
        ("w1", ["worker"], "192.0.2.7"),
    ]


def test_layout_errors_become_filter_errors_naming_the_input():
    hosts = f.zeek_cluster_hosts(HOSTVARS, GROUPS, None, "data")
    with pytest.raises(AnsibleFilterError, match="zeek_layout: zeek layout setting 'bogus' is unknown"):
        f.zeek_layout_filter(hosts, [], {"bogus": 1})
    layout = f.zeek_layout_filter(hosts, [{"name": "l", "capacity_gbps": 10, "peak_utilisation": 0.5}])
    assert set(layout["clusters"]) == {"zeek", "b"}
    assert "placement" in {x["rule"] for x in layout["findings"]}  # cluster b has no manager
    assert f.zeek_capacity_markdown(layout).startswith("## Zeek capacity")
    with pytest.raises(AnsibleFilterError, match="host w9: soc_hardware.cores is missing"):
        f.zeek_check_facts({"memory_gb": 1}, {}, "w9")
