"""Filters exposing the SOCForge site model (plugins/module_utils/site_model.py) to roles.

Each filter is documented in plugins/filter/<filter name>.yml (ansible-doc -t filter socforge.core.<name>).
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import site_model, tap_aggregation


def _wrap(func):
    @functools.wraps(func)
    def inner(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (site_model.SiteModelError, tap_aggregation.AggregationError) as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return inner


def soc_site_hosts(hostvars, groups):
    """Collect, per inventory host, what the site model needs from its variables."""
    out = {}
    for host in groups.get("all", []):
        hv = hostvars[host]
        out[host] = {
            "groups": sorted(g for g, members in groups.items() if host in members and g not in ("all", "ungrouped")),
            "addresses": dict(hv.get("soc_host_addresses") or {}),
            "bmc_address": hv.get("soc_bmc_address"),
            "hardware": dict(hv.get("soc_hardware") or {}),
            # the rollout stage of a host that captures no link (soc_rollout.py); default 1
            "stage": hv.get("soc_host_stage"),
            # Kafka's security as the inventory sets it (unset: roles/soc's default, SASL_SSL with ACLs)
            "kafka": {name: hv.get(name) for name in site_model.KAFKA_SECURITY_VARS if hv.get(name) is not None},
        }
    return out


def soc_lab_network_arg(network, addresses, networks):
    """`podman run --network` value attaching a lab container to a network at its inventory address
    (and under the network's `podman_interface` name when it sets one: podman otherwise numbers a
    container's interfaces in the alphabetical order of the network names)."""
    arg = f"{networks[network]['podman_network']}:ip={addresses[network]}"
    if networks[network].get("podman_interface"):
        arg += f",interface_name={networks[network]['podman_interface']}"
    return arg


def soc_interface_with_address(facts, address):
    """Name of the interface holding IPv4 `address` in a host's facts ('' if none): a stable choice
    of VLAN parent where a host has several default routes (as lab containers on several networks do)."""
    for name in facts.get("interfaces") or []:
        ipv4 = (facts.get(name.replace("-", "_")) or {}).get("ipv4") or {}
        if address and ipv4.get("address") == address:
            return name
    return ""


def soc_tap_aggregation(hosts, links, groups, aggregator, stage=None):
    """The port map `aggregator` applies (tap_aggregation.aggregator_config)."""
    return tap_aggregation.aggregator_config(
        links, hosts, groups, aggregator, None if stage in (None, "") else int(stage)
    )


class FilterModule:
    def filters(self):
        return {
            "soc_host_vlans": _wrap(site_model.host_vlans),
            "soc_firewall_rules": _wrap(site_model.firewall_rules),
            "soc_isolation_pairs": _wrap(site_model.isolation_pairs),
            "soc_site_hosts": soc_site_hosts,
            "soc_lab_network_arg": soc_lab_network_arg,
            "soc_interface_with_address": soc_interface_with_address,
            "soc_hosts_in_stage": _wrap(site_model.hosts_in_stage),
            "soc_tap_aggregation": _wrap(soc_tap_aggregation),
            "soc_nft_counters": _wrap(tap_aggregation.nft_counters),
            "soc_split_connections": tap_aggregation.split_connections,
        }
