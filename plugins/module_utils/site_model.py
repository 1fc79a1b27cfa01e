"""The SOCForge site model: validation of an inventory and what roles derive from it.

Pure Python (netaddr for all address maths), no Ansible imports. Used by the
`soc_site_plan` module (plan.yml / site.yml's validation play), the `site_model` filters
(roles/common) and the unit tests.

The model, as the inventory declares it::

    networks:  {name: {cidr, vlan, untagged?, routed?, gateway?, routes?: [{destination, gateway}],
                       description?}}
    links:     [{name, capacity_gbps, tap: optical|mirror, stage, active?, peak_utilisation?,
                 tap_ports?, aggregator?, optics?, ...}]   (tap_aggregation.py: the aggregator's port map)
    hosts:     {hostname: {groups: [...], addresses: {network: ip}, bmc_address?, hardware?}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import netaddr
from ansible_collections.socforge.core.plugins.module_utils import (
    misp_topology,
    optical_budget,
    soc_rollout,
    tap_aggregation,
)

TAP_TYPES = ("optical", "mirror")
# Groups a complete SOC needs; plan.yml and site.yml fail when one is empty.
DEFAULT_REQUIRED_GROUPS = (
    "tap_aggregators",
    "zeek_managers",
    "zeek_loggers",
    "zeek_proxies",
    "zeek_workers",
    "misp_hubs",
    "kafka_brokers",
    "opensearch_nodes",
    "log_shippers",
)
# Networks whose separation the model enforces.
ADMIN_NETWORK = "admin"
IPMI_NETWORK = "ipmi"
# Kafka: what roles/soc gives every broker and client unless the inventory says otherwise
# (soc_kafka_security_protocol; tests/unit/site/test_kafka_security_default.py keeps the two equal),
# and the inventory variables that say otherwise.
DEFAULT_KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
KAFKA_SECURITY_VARS = ("kafka_security_protocol", "soc_kafka_security_protocol", "kafka_acl_enabled")
KAFKA_GROUP = "kafka_brokers"
HARDWARE_KEYS = ("cores", "threads_per_core", "memory_gb", "numa_nodes")
INTERFACE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")


class SiteModelError(ValueError):
    """A problem with the site model; the message names the variable/host and what is wrong."""


@dataclass
class ValidationReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _network(cidr, where: str) -> netaddr.IPNetwork:
    try:
        net = netaddr.IPNetwork(str(cidr))
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise SiteModelError(f"{where}: '{cidr}' is not a valid subnet ({exc})") from None
    if net.ip != net.network:
        raise SiteModelError(f"{where}: '{cidr}' has host bits set; the subnet is {net.cidr}")
    return net


def _address(value, where: str) -> netaddr.IPAddress:
    try:
        return netaddr.IPAddress(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise SiteModelError(f"{where}: '{value}' is not a valid IP address ({exc})") from None


def parse_networks(networks: dict) -> dict[str, netaddr.IPNetwork]:
    """Return {name: IPNetwork} for every network with a cidr; raises on the first bad one."""
    parsed = {}
    for name, spec in (networks or {}).items():
        if not isinstance(spec, dict):
            raise SiteModelError(f"soc_networks.{name}: must be a mapping, got {type(spec).__name__}")
        if spec.get("cidr"):
            parsed[name] = _network(spec["cidr"], f"soc_networks.{name}.cidr")
    return parsed


def validate_site(site: dict, required_groups=DEFAULT_REQUIRED_GROUPS) -> ValidationReport:
    """Check a whole site model; every problem found is reported (not just the first)."""
    report = ValidationReport()
    err = report.errors.append
    networks = site.get("networks") or {}
    links = site.get("links") or []
    hosts = site.get("hosts") or {}
    groups = site.get("groups") or {}

    # Networks: valid, non-overlapping, VLAN ids unique.
    parsed: dict[str, netaddr.IPNetwork] = {}
    for name, spec in networks.items():
        if not isinstance(spec, dict):
            err(f"soc_networks.{name}: must be a mapping, got {type(spec).__name__}")
            continue
        if spec.get("cidr"):
            try:
                parsed[name] = _network(spec["cidr"], f"soc_networks.{name}.cidr")
            except SiteModelError as exc:
                err(str(exc))
        vlan = spec.get("vlan")
        if vlan is not None and (not isinstance(vlan, int) or isinstance(vlan, bool) or not 1 <= vlan <= 4094):
            err(f"soc_networks.{name}.vlan: '{vlan}' is not a VLAN id (1-4094)")
    names = sorted(parsed)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if (
                parsed[a] in parsed[b]
                or parsed[b] in parsed[a]
                or (parsed[a].first <= parsed[b].last and parsed[b].first <= parsed[a].last)
            ):
                err(f"soc_networks.{a} ({parsed[a]}) overlaps soc_networks.{b} ({parsed[b]})")
    vlan_owner: dict[int, str] = {}
    for name, spec in networks.items():
        vlan = spec.get("vlan") if isinstance(spec, dict) else None
        if isinstance(vlan, int) and not isinstance(vlan, bool):
            if vlan in vlan_owner:
                err(f"soc_networks.{name}.vlan: VLAN {vlan} is already used by soc_networks.{vlan_owner[vlan]}")
            else:
                vlan_owner[vlan] = name

    # Admin and IPMI: both present, separate, IPMI never routed.
    for required in (ADMIN_NETWORK, IPMI_NETWORK):
        if required not in networks:
            err(f"soc_networks.{required}: missing; the SOC needs separate admin and IPMI networks")
    admin, ipmi = networks.get(ADMIN_NETWORK) or {}, networks.get(IPMI_NETWORK) or {}
    if admin and ipmi:
        if admin.get("vlan") is not None and admin.get("vlan") == ipmi.get("vlan"):
            err(
                f"soc_networks.ipmi.vlan: the IPMI network must not share VLAN {ipmi.get('vlan')} with the admin network"
            )
        if ipmi.get("routed", False):
            err("soc_networks.ipmi.routed: the IPMI network must never be routed (set routed: false)")
        if ipmi.get("gateway"):
            err("soc_networks.ipmi.gateway: the IPMI network must have no gateway (it is never routed)")
    for name, spec in networks.items():
        if not isinstance(spec, dict):
            continue
        if spec.get("gateway") and name in parsed:
            try:
                gw = _address(spec["gateway"], f"soc_networks.{name}.gateway")
                if gw not in parsed[name]:
                    err(f"soc_networks.{name}.gateway: {gw} is outside {parsed[name]}")
            except SiteModelError as exc:
                err(str(exc))
        for idx, route in enumerate(spec.get("routes") or []):
            where = f"soc_networks.{name}.routes[{idx}]"
            try:
                dest = _network(route.get("destination"), f"{where}.destination")
                if name == IPMI_NETWORK:
                    err(f"{where}: the IPMI network must have no routes (to {dest})")
                gw = _address(route.get("gateway"), f"{where}.gateway")
                if name in parsed and gw not in parsed[name]:
                    err(f"{where}.gateway: {gw} is outside soc_networks.{name} ({parsed[name]})")
            except (SiteModelError, AttributeError) as exc:
                err(
                    str(exc)
                    if isinstance(exc, SiteModelError)
                    else f"{where}: must be a mapping with destination and gateway"
                )

    # Links: stage, tap type, capacity, unique names.
    seen_links = set()
    for idx, link in enumerate(links):
        name = link.get("name") if isinstance(link, dict) else None
        where = f"soc_links[{idx}]" + (f" ({name})" if name else "")
        if not name:
            err(f"{where}.name: every link needs a name")
            continue
        if name in seen_links:
            err(f"{where}.name: link '{name}' is declared twice")
        seen_links.add(name)
        stage = link.get("stage")
        if not isinstance(stage, int) or isinstance(stage, bool) or stage < 1:
            err(f"{where}.stage: every link must be assigned a deployment stage (an integer >= 1), got '{stage}'")
        if link.get("tap") not in TAP_TYPES:
            err(f"{where}.tap: '{link.get('tap')}' is not a tap type ({' or '.join(TAP_TYPES)})")
        cap = link.get("capacity_gbps")
        if not isinstance(cap, (int, float)) or isinstance(cap, bool) or cap <= 0:
            err(f"{where}.capacity_gbps: '{cap}' is not a positive number")
        util = link.get("peak_utilisation", 1.0)
        if not isinstance(util, (int, float)) or not 0 < util <= 1:
            err(f"{where}.peak_utilisation: '{util}' must be in (0, 1]")
    if not links:
        err("soc_links: no border links are declared")
    # Optical taps: each leg of the split must still deliver enough light (optical_budget.py).
    budget_errors, _ = optical_budget.budget_errors(links)
    for message in budget_errors:
        err(message)
    for link in links:
        if isinstance(link, dict) and link.get("tap") == "optical" and "optics" not in link:
            report.warnings.append(
                f"link {link.get('name')}: optical tap without optics settings: its light budget is not checked"
            )

    # Hosts: addresses inside their subnets and unique; BMC in IPMI; hardware declared.
    owner: dict[str, str] = {}
    for host, spec in sorted(hosts.items()):
        for net_name, addr in (spec.get("addresses") or {}).items():
            where = f"host {host}: soc_host_addresses.{net_name}"
            if net_name not in networks:
                err(f"{where}: no network '{net_name}' in soc_networks")
                continue
            try:
                ip = _address(addr, where)
            except SiteModelError as exc:
                err(str(exc))
                continue
            if net_name in parsed:
                net = parsed[net_name]
                if ip not in net:
                    err(f"{where}: {ip} is outside {net}")
                elif net.size > 2 and ip in (net.network, net.broadcast):
                    err(f"{where}: {ip} is the network or broadcast address of {net}")
            if str(ip) in owner:
                err(f"{where}: {ip} is already assigned to {owner[str(ip)]}")
            owner[str(ip)] = f"{host} ({net_name})"
        bmc = spec.get("bmc_address")
        if bmc:
            where = f"host {host}: soc_bmc_address"
            try:
                ip = _address(bmc, where)
                if IPMI_NETWORK in parsed and ip not in parsed[IPMI_NETWORK]:
                    err(f"{where}: {ip} is outside the IPMI network {parsed[IPMI_NETWORK]}")
                if str(ip) in owner:
                    err(f"{where}: {ip} is already assigned to {owner[str(ip)]}")
                owner[str(ip)] = f"{host} (BMC)"
            except SiteModelError as exc:
                err(str(exc))
        if "zeek_workers" in (spec.get("groups") or []):
            hw = spec.get("hardware") or {}
            missing = [k for k in HARDWARE_KEYS if k not in hw]
            if missing:
                err(f"host {host}: soc_hardware is missing {', '.join(missing)} (needed to size Zeek workers)")
            nics = hw.get("capture_nics") or []
            if not nics:
                err(f"host {host}: soc_hardware.capture_nics is empty; a Zeek worker needs a capture NIC")
            for nidx, nic in enumerate(nics):
                if not INTERFACE_NAME.match(str(nic.get("name", ""))):
                    err(
                        f"host {host}: soc_hardware.capture_nics[{nidx}].name '{nic.get('name')}' is not an interface name"
                    )
                if nic.get("link") and nic["link"] not in seen_links:
                    err(f"host {host}: soc_hardware.capture_nics[{nidx}].link '{nic['link']}' is not a declared link")

    # Groups that place roles.
    for group in required_groups:
        if not groups.get(group):
            err(f"group '{group}': empty; the SOC needs at least one host in it")
    untapped = sorted(
        seen_links
        - {
            nic.get("link")
            for spec in hosts.values()
            for nic in ((spec.get("hardware") or {}).get("capture_nics") or [])
        }
    )
    for name in untapped:
        report.warnings.append(f"link '{name}' is not fed to any Zeek worker capture NIC")
    report.warnings.extend(kafka_security_warnings(hosts))
    # Tap aggregator: every tap port mapped to tool ports, tool ports able to carry the link's peak.
    aggregation = tap_aggregation.analyse(links, hosts, groups)
    report.errors.extend(aggregation["errors"])
    report.warnings.extend(aggregation["warnings"])
    return report


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")


def kafka_security_warnings(hosts: dict, group: str = KAFKA_GROUP) -> list[str]:
    """A warning per set of brokers whose inventory takes Kafka below the default (SASL_SSL with ACLs):
    plain text, no logins, or ACLs off - each saying what is then open."""
    settings: dict[tuple[str, bool], list[str]] = {}
    for host, spec in sorted(hosts.items()):
        if group not in (spec.get("groups") or []):
            continue
        given = spec.get("kafka") or {}
        protocol = str(
            given.get("kafka_security_protocol")
            or given.get("soc_kafka_security_protocol")
            or DEFAULT_KAFKA_SECURITY_PROTOCOL
        ).upper()
        acls = given.get("kafka_acl_enabled")
        acls = protocol == "SASL_SSL" if acls is None else _truthy(acls)
        settings.setdefault((protocol, acls), []).append(host)
    out = []
    for (protocol, acls), names in sorted(settings.items()):
        gaps = []
        if "SSL" not in protocol:
            gaps.append("no TLS: Zeek's logs cross the data network in clear")
        if not protocol.startswith("SASL"):
            gaps.append("no logins: any host that reaches the brokers can read and write every topic")
        elif not acls:
            gaps.append("ACLs off (kafka_acl_enabled): every logged-in user can read and write every topic")
        if gaps:
            out.append(
                f"kafka on {', '.join(names)}: {protocol}{' without ACLs' if protocol.startswith('SASL') and not acls else ''}"
                " as the inventory sets it "
                f"(the default is {DEFAULT_KAFKA_SECURITY_PROTOCOL} with ACLs) - {'; '.join(gaps)}"
            )
    return out


def host_vlans(addresses: dict, networks: dict, vlan_networks) -> list[dict]:
    """The VLAN interfaces a host gets: tagged networks it has an address in, in name order."""
    parsed = parse_networks(networks)
    out = []
    for name in sorted(vlan_networks or []):
        spec = (networks or {}).get(name)
        if not spec or name not in (addresses or {}) or spec.get("untagged") or spec.get("vlan") is None:
            continue
        if name not in parsed:
            raise SiteModelError(f"soc_networks.{name}.cidr: needed for the VLAN interface address")
        ip = _address(addresses[name], f"soc_host_addresses.{name}")
        if ip not in parsed[name]:
            raise SiteModelError(f"soc_host_addresses.{name}: {ip} is outside {parsed[name]}")
        out.append(
            {
                "network": name,
                "vlan": int(spec["vlan"]),
                "interface": spec.get("interface") or f"vlan{int(spec['vlan'])}",
                "address": str(ip),
                "prefixlen": parsed[name].prefixlen,
                "routes": [
                    {
                        "destination": str(_network(r["destination"], f"soc_networks.{name}.routes")),
                        "gateway": str(_address(r["gateway"], f"soc_networks.{name}.routes")),
                    }
                    for r in spec.get("routes") or []
                ],
            }
        )
    return out


def _sources(items, networks: dict, where: str, hostvars=None, groups=None) -> list[str]:
    """CIDRs of an opening's `from`: network names of soc_networks, addresses/CIDRs, and group
    references {group, network} (every host of the group at its soc_host_addresses[network])."""
    parsed = parse_networks(networks)
    out = []
    if not isinstance(items, (list, tuple)):
        raise SiteModelError(f"{where}: must be a list of networks, CIDRs or {{group, network}} references")
    for item in items:
        if isinstance(item, dict):
            group, net = item.get("group"), item.get("network")
            if not group or not net or set(item) - {"group", "network"}:
                raise SiteModelError(
                    f"{where}: a group reference is {{group: <inventory group>, network: <network name>}}, got {item}"
                )
            for host in sorted((groups or {}).get(group) or []):
                addresses = (hostvars or {})[host].get("soc_host_addresses") or {}
                if net not in addresses:
                    raise SiteModelError(f"{where}: host {host} (group {group}) has no soc_host_addresses.{net}")
                out.append(
                    str(netaddr.IPNetwork(str(_address(addresses[net], f"host {host}: soc_host_addresses.{net}"))).cidr)
                )
        elif item in (networks or {}):
            if item not in parsed:
                raise SiteModelError(f"{where}: network '{item}' has no cidr")
            out.append(str(parsed[item].cidr))
        else:
            try:
                out.append(str(netaddr.IPNetwork(str(item)).cidr))
            except (netaddr.AddrFormatError, ValueError):
                raise SiteModelError(f"{where}: '{item}' is neither a network in soc_networks nor a CIDR") from None
    return sorted(set(out))


def merge_openings(layers) -> list[dict]:
    """Firewall openings from layers (a list of openings, or a list of such lists: a role's
    default openings, then the site's), merged by name: a later entry with the same name replaces
    the earlier one, `state: absent` removes it. First-seen order is kept."""
    merged: dict[str, dict] = {}
    flat = []
    for idx, layer in enumerate(layers or []):
        if isinstance(layer, (list, tuple)):
            flat.extend((f"[{idx}][{j}]", item) for j, item in enumerate(layer))
        else:
            flat.append((f"[{idx}]", layer))
    for where, item in flat:
        if not isinstance(item, dict) or not item.get("name"):
            raise SiteModelError(f"firewall opening {where}: needs name, port, proto and from (got {item!r})")
        state = item.get("state", "present")
        if state not in ("present", "absent"):
            raise SiteModelError(
                f"firewall opening {where} ({item['name']}).state: '{state}' must be present or absent"
            )
        if state == "absent":
            merged.pop(item["name"], None)
        else:
            merged[item["name"]] = item
    return list(merged.values())


def firewall_rules(services, networks: dict, hostvars=None, groups=None) -> list[dict]:
    """Inbound service rules ({name, port, proto, from}) resolved to CIDRs, sorted for stable output.

    ``services`` is a list of openings or a list of such lists, merged by name (``merge_openings``).
    ``port`` is one port or an inclusive range "lo-hi" (the Zeek cluster's ports from ZeekPort).
    ``from`` lists network names, CIDRs and {group, network} references (resolved with ``hostvars``
    and ``groups``). An opening whose sources resolve to nothing (an empty group, no consumers) opens
    nothing and is left out."""
    rules = []
    for idx, svc in enumerate(merge_openings(services)):
        where = f"common_firewall_services[{idx}] ({svc['name']})"
        port, first = _port(svc.get("port"), f"{where}.port")
        proto = svc.get("proto", "tcp")
        if proto not in ("tcp", "udp"):
            raise SiteModelError(f"{where}.proto: '{proto}' must be tcp or udp")
        if "from" not in svc:
            raise SiteModelError(f"{where}.from: list the networks, CIDRs or groups allowed to reach {svc['name']}")
        sources = _sources(svc.get("from") or [], networks, f"{where}.from", hostvars, groups)
        if not sources:
            continue
        rules.append({"name": svc["name"], "port": port, "proto": proto, "sources": sources})
        rules[-1]["first_port"] = first
    out = sorted(rules, key=lambda r: (r["first_port"], r["proto"], r["name"]))
    for rule in out:
        del rule["first_port"]
    return out


def _port(value, where: str):
    """A port (22, "22") or an inclusive range ("27760-27859") -> (int or "lo-hi" string, first port)."""
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    m = re.fullmatch(r"(\d{1,5})(?:\s*-\s*(\d{1,5}))?", text)
    if not m:
        raise SiteModelError(f"{where}: '{value}' is not a port number or a range like 27760-27859")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if not 1 <= lo <= 65535 or not 1 <= hi <= 65535:
        raise SiteModelError(f"{where}: '{value}' is not a port number (1-65535)")
    if hi < lo:
        raise SiteModelError(f"{where}: range '{value}' runs backwards")
    return (lo if hi == lo else f"{lo}-{hi}"), lo


def isolation_pairs(networks: dict, isolated: str, others) -> list[dict]:
    """Forward-drop pairs keeping `isolated` (IPMI) and each of `others` apart, both ways."""
    parsed = parse_networks(networks)
    if isolated not in parsed:
        return []
    pairs = []
    for other in sorted(others or []):
        if other not in parsed:
            continue
        a, b = str(parsed[isolated].cidr), str(parsed[other].cidr)
        pairs.append({"source": a, "destination": b, "comment": f"{isolated} never routed to {other}"})
        pairs.append({"source": b, "destination": a, "comment": f"{other} never routed to {isolated}"})
    return pairs


# ---------------------------------------------------------------------------------------------
# The plan: a Markdown report (the diagram of the whole SOC: soc_diagram.py).


def plan_report(site: dict, report: ValidationReport) -> str:
    """The Markdown site plan: links by stage, networks, hosts and the roles they get."""
    out = [f"# SOC plan: {site.get('name', 'site')}", ""]
    out.append(
        f"Validation: **{'passed' if report.ok else 'FAILED'}** "
        f"({len(report.errors)} errors, {len(report.warnings)} warnings)"
    )
    out.append("")
    for e in report.errors:
        out.append(f"- ERROR: {e}")
    for w in report.warnings:
        out.append(f"- warning: {w}")
    out += [
        "",
        "## Border links and deployment stages",
        "",
        "| stage | link | capacity (Gb/s) | peak use | tap | active | description |",
        "|---:|---|---:|---:|---|---|---|",
    ]
    for link in sorted(site.get("links") or [], key=lambda x: (x.get("stage", 99), x.get("name", ""))):
        out.append(
            f"| {link.get('stage')} | {link.get('name')} | {link.get('capacity_gbps')} | "
            f"{link.get('peak_utilisation', 1.0):.0%} | {link.get('tap')} | "
            f"{'yes' if link.get('active', True) else 'standby'} | {link.get('description', '')} |"
        )
    _, budgets = optical_budget.budget_errors(site.get("links") or [])
    if budgets:
        out += [
            "",
            "## Light budget of the optical taps",
            "",
            "| link | optics | split | leg | tap loss (dB) | fibre etc. (dB) | received (dBm) | receiver min (dBm) "
            "| margin (dB) | status |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for b in budgets:
            for leg, v in b["legs"].items():
                status = "ok" if not v["short_db"] else f"SHORT by {v['short_db']:.1f} dB"
                out.append(
                    f"| {b['link']} | {b['transceiver']} | {b['split']} | {leg} | {v['tap_loss_db']:.2f} | "
                    f"{v['path_loss_db']:.2f} | {v['received_dbm']:.2f} | {v['rx_min_dbm']:.1f} | "
                    f"{v['margin_db']:.2f} (need {v['required_margin_db']:.1f}) | {status} |"
                )
    out += tap_aggregation.report_section(
        tap_aggregation.analyse(site.get("links") or [], site.get("hosts") or {}, site.get("groups") or {})["rows"]
    )
    out += ["", "## Networks", "", "| network | subnet | VLAN | routed | description |", "|---|---|---:|---|---|"]
    for name, spec in sorted((site.get("networks") or {}).items()):
        out.append(
            f"| {name} | {spec.get('cidr') or '-'} | {spec.get('vlan', '-')} | "
            f"{'yes' if spec.get('routed', name != IPMI_NETWORK) else 'never'} | {spec.get('description', '')} |"
        )
    out += ["", "## Hosts", "", "| host | groups | addresses | hardware |", "|---|---|---|---|"]
    for host, spec in sorted((site.get("hosts") or {}).items()):
        addrs = ", ".join(f"{k}={v}" for k, v in sorted((spec.get("addresses") or {}).items()))
        if spec.get("bmc_address"):
            addrs += f", BMC={spec['bmc_address']}"
        hw = spec.get("hardware") or {}
        hw_text = (
            (
                f"{hw.get('cores')} cores x{hw.get('threads_per_core', 1)}, {hw.get('memory_gb')} GB, "
                f"{len(hw.get('numa_nodes') or [])} NUMA, NICs: "
                + ", ".join(f"{n.get('name')} {n.get('speed_gbps')}G" for n in hw.get("capture_nics") or [])
            )
            if hw
            else "-"
        )
        out.append(
            f"| {host} | {', '.join(sorted(g for g in spec.get('groups') or [] if g not in ('all', 'ungrouped')))} | "
            f"{addrs or '-'} | {hw_text} |"
        )
    out += ["", "## Roles by group", ""]
    for group, members in sorted((site.get("groups") or {}).items()):
        if group in ("all", "ungrouped"):
            continue
        out.append(f"- **{group}**: {', '.join(members) if members else '(empty)'}")
    out += misp_sync_section(site)
    out += ["", "## Topology", "", "![topology](topology.svg)", ""]
    return "\n".join(out)


def misp_instances(site: dict) -> tuple[dict | None, list[dict], list[dict]]:
    """The hub, spokes and partners of the site's MISP sync, from the ``misp_hubs``/``misp_spokes``
    groups and ``misp_sync`` (``soc_misp_sync``: ``instances: {host: {url, org, ca_file,
    self_signed}}``, ``partners: [{name, url, org, ...}]``, ``mode``, ``internal``)."""
    groups = site.get("groups") or {}
    sync = site.get("misp_sync") or {}
    extra = sync.get("instances") or {}

    def inst(host: str) -> dict:
        return {"name": host, "url": f"https://{host}", "org": host, **(extra.get(host) or {})}

    hubs = list(groups.get("misp_hubs") or [])
    hub = inst(hubs[0]) if hubs else None
    return hub, [inst(h) for h in groups.get("misp_spokes") or []], list(sync.get("partners") or [])


def misp_sync_section(site: dict) -> list[str]:
    """The plan report's MISP sync section (layout, link counts hub-and-spoke vs mesh, reach)."""
    hub, spokes, partners = misp_instances(site)
    if hub is None:
        return []
    sync = site.get("misp_sync") or {}
    try:
        text = misp_topology.report_section(
            hub, spokes, partners, mode=sync.get("mode", "hub_and_spoke"), internal=bool(sync.get("internal", False))
        )
    except misp_topology.TopologyError as exc:
        return ["", "## MISP sync topology", "", f"- ERROR: {exc}"]
    return text.split("\n")


def svg_is_well_formed(svg: str) -> bool:
    """A cheap check that Graphviz produced an SVG document (used by the module before it writes)."""
    return "<svg" in svg and svg.rstrip().endswith("</svg>")


def hosts_in_stage(hosts: dict, links: list, stage: int | None) -> list[str]:
    """Hosts a staged rollout touches (soc_rollout.py): every host capturing at least one link whose
    stage is <= `stage`, and every host capturing nothing whose `stage` (soc_host_stage, default 1)
    is <= `stage` (None: every stage). LHCOPN (stage 1) comes up first."""
    try:
        return soc_rollout.hosts_in_stage(hosts, links, stage)
    except soc_rollout.RolloutError as exc:
        raise SiteModelError(str(exc)) from None
