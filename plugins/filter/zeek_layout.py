"""Filters exposing the Zeek layout engine (plugins/module_utils/zeek_layout/) to playbooks and roles.

Each filter is documented in plugins/filter/<filter name>.yml (ansible-doc -t filter socforge.core.<name>).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import zeek_layout

DEFAULT_GROUPS = {
    "manager": "zeek_managers",
    "logger": "zeek_loggers",
    "proxy": "zeek_proxies",
    "worker": "zeek_workers",
}


def _plain(value):
    """Lazy Ansible containers -> plain Python (the engine only sees dicts, lists and scalars)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def zeek_cluster_hosts(hostvars, groups, group_map=None, network=None):
    """Collect every Zeek host: roles from group membership, hardware, address, cluster, overrides.

    The address zeekctl uses for a node is, in order: the host's ``zeek_node_address``, its address on
    the ``network`` (``zeek_cluster_network``) from ``soc_host_addresses``, ``ansible_host``, the name.
    """
    gmap = dict(DEFAULT_GROUPS, **(group_map or {}))
    hosts = {}
    for role, group in gmap.items():
        for name in groups.get(group, []) or []:
            hosts.setdefault(name, []).append(role)
    out = []
    for name in sorted(hosts):
        hv = hostvars[name]
        net = hv.get("zeek_cluster_network", network) or network
        addresses = _plain(hv.get("soc_host_addresses") or {})
        address = hv.get("zeek_node_address") or (addresses.get(net) if net else None) or hv.get("ansible_host") or name
        out.append(
            {
                "name": name,
                "address": str(address),
                "cluster": str(hv.get("zeek_cluster_name") or "zeek"),
                "roles": sorted(hosts[name]),
                "hardware": _plain(hv.get("soc_hardware") or {}),
                "overrides": _plain(hv.get("zeek_layout_overrides") or {}),
            }
        )
    return out


def zeek_layout_filter(hosts, links=None, settings=None):
    try:
        return zeek_layout.compute_layout(_plain(hosts), _plain(links or []), _plain(settings or {}))
    except zeek_layout.LayoutInputError as exc:
        raise AnsibleFilterError(f"zeek_layout: {exc}") from exc


def zeek_capacity_markdown(layout):
    return zeek_layout.capacity_markdown(layout)


def zeek_capacity_text(layout):
    return zeek_layout.capacity_text(layout)


def zeek_check_facts(hardware, facts, host="this host"):
    try:
        return zeek_layout.check_facts(str(host), _plain(hardware), _plain(facts))
    except zeek_layout.LayoutInputError as exc:
        raise AnsibleFilterError(f"zeek_check_facts: {exc}") from exc


def zeek_hosts_in_stage(hosts, links=None, stage=None):
    try:
        return zeek_layout.hosts_in_stage(_plain(hosts), _plain(links or []), stage)
    except zeek_layout.LayoutInputError as exc:
        raise AnsibleFilterError(f"zeek_hosts_in_stage: {exc}") from exc


def zeek_cluster_ports(cluster, zeek_port=zeek_layout.ZEEK_PORT, backend="broker"):
    try:
        return zeek_layout.cluster_ports(_plain(cluster), zeek_port, backend)
    except zeek_layout.LayoutInputError as exc:
        raise AnsibleFilterError(f"zeek_cluster_ports: {exc}") from exc


def zeek_thread_siblings(lists):
    try:
        return zeek_layout.thread_siblings_from_sysfs(_plain(lists))
    except zeek_layout.LayoutInputError as exc:
        raise AnsibleFilterError(f"zeek_thread_siblings: {exc}") from exc


class FilterModule:
    def filters(self):
        return {
            "zeek_cluster_hosts": zeek_cluster_hosts,
            "zeek_layout": zeek_layout_filter,
            "zeek_capacity_markdown": zeek_capacity_markdown,
            "zeek_capacity_text": zeek_capacity_text,
            "zeek_check_facts": zeek_check_facts,
            "zeek_hosts_in_stage": zeek_hosts_in_stage,
            "zeek_cluster_ports": zeek_cluster_ports,
            "zeek_thread_siblings": zeek_thread_siblings,
        }
