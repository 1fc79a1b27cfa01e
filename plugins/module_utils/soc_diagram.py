"""The plan's diagram of the whole SOC (Graphviz DOT, rendered to SVG by `dot` in soc_site_plan):
border links and their taps -> tap aggregator -> Zeek workers -> loggers -> Kafka -> shippers ->
OpenSearch; the Zeek manager and proxies; the MISP hub, its spokes and partners; the admin, IPMI and
data networks. Drawn for one rollout stage: what that stage brings up is solid, what later stages
add is grey and dashed (SVG class ``later``). Plain Python, no Ansible imports.

Every element has a stable SVG id: ``link-<name>``, ``host-<name>`` (workers, aggregators, the
bastion), ``tier-<group>`` (central groups, one node listing their hosts), ``net-<name>``,
``misp-partner-<name>``, and edges ``edge-<from>-<to>``.
"""

from __future__ import annotations

import html
import re

from ansible_collections.socforge.core.plugins.module_utils import soc_rollout

LATER = 'color="#9a9a9a", fontcolor="#9a9a9a", style="rounded,dashed", class="later"'
LATER_EDGE = 'color="#9a9a9a", fontcolor="#9a9a9a", style=dashed, class="later"'
TIERS = (
    ("zeek_managers", "Zeek manager", "box"),
    ("zeek_proxies", "Zeek proxies", "box"),
    ("zeek_loggers", "Zeek loggers", "box"),
    ("kafka_brokers", "Kafka (KRaft)", "cylinder"),
    ("log_shippers", "Log shippers", "box"),
    ("opensearch_nodes", "OpenSearch", "cylinder"),
    ("misp_hubs", "MISP hub", "folder"),
    ("misp_spokes", "MISP spokes", "folder"),
)


def _q(text) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _id(*parts) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(p)) for p in parts)


def _html(text) -> str:
    return html.escape(str(text), quote=True)


def _label(title: str, lines: list[tuple[str, bool]]) -> str:
    """An HTML-like label: a bold title, then one line per (text, later) - later lines in grey."""
    rows = [f"<b>{_html(title)}</b>"]
    for text, later in lines:
        rows.append(f'<font color="#9a9a9a">{_html(text)}</font>' if later else _html(text))
    return "<" + "<br/>".join(rows) + ">"


def _link_stage(link) -> int:
    return int(link.get("stage") or 1)


def topology_dot(site: dict, stage=None) -> str:
    """The whole SOC for rollout stage ``stage`` (None: every stage)."""
    stage = soc_rollout.requested_stage(stage)
    links = sorted(site.get("links") or [], key=lambda lk: (_link_stage(lk), lk.get("name", "")))
    hosts = site.get("hosts") or {}
    groups = site.get("groups") or {}
    last = max([_link_stage(lk) for lk in links] or [1])

    def host_stage(name):
        spec = hosts.get(name) or {}
        try:
            return soc_rollout.host_stage(spec.get("hardware"), links, spec.get("stage"), name)
        except soc_rollout.RolloutError:
            return 1

    def later(number) -> bool:
        return stage is not None and number > stage

    title = f"SOC of {site.get('name', 'site')}: " + (
        f"stage {stage} of {last} (grey, dashed: later stages)" if stage is not None else f"all {last} stages"
    )
    out = [
        f"digraph {_q(site.get('name', 'soc'))} {{",
        f"  graph [rankdir=LR, compound=true, newrank=true, fontname=Helvetica, labelloc=t, label={_q(title)}];",
        '  node [shape=box, style="rounded", fontname=Helvetica, fontsize=10];',
        "  edge [fontname=Helvetica, fontsize=9];",
    ]

    def node(nid, label, shape="box", is_later=False, extra=""):
        attrs = [f"id={_q(nid)}", f"shape={shape}", f"label={label}"]
        if is_later:
            attrs.append(LATER)
        if extra:
            attrs.append(extra)
        out.append(f"    {_q(nid)} [{', '.join(attrs)}];")

    def edge(src, dst, label="", is_later=False, extra=""):
        attrs = [f"id={_q('edge-' + src + '-' + dst)}"]
        if label:
            attrs.append(f"label={_q(label)}")
        if is_later:
            attrs.append(LATER_EDGE)
        if extra:
            attrs.append(extra)
        out.append(f"  {_q(src)} -> {_q(dst)} [{', '.join(attrs)}];")

    # Border links and their taps.
    out.append(f"  subgraph cluster_border {{ label={_q('Border links (tap per link)')}; style=dashed;")
    for lk in links:
        optics = lk.get("optics") or {}
        text = [(f"{lk.get('capacity_gbps')} Gb/s, peak {float(lk.get('peak_utilisation', 1.0)):.0%}", False)]
        text.append((f"stage {_link_stage(lk)}" + ("" if lk.get("active", True) else ", standby"), False))
        if optics:
            text.append((f"{optics.get('transceiver', '?')}, split {optics.get('split', '?')}", False))
        node(_id("link", lk["name"]), _label(lk["name"], text), "cds", later(_link_stage(lk)))
    out.append("  }")

    # Tap aggregators (one node each) or, without one, links straight to the workers.
    aggregators = list(groups.get("tap_aggregators") or [])
    workers = list(groups.get("zeek_workers") or [])
    in_stage_links = [lk for lk in links if not later(_link_stage(lk))]
    in_stage_nics = [
        nic
        for w in workers
        if not later(host_stage(w))
        for nic in ((hosts.get(w) or {}).get("hardware") or {}).get("capture_nics") or []
        if any(nic.get("link") == lk["name"] for lk in in_stage_links)
    ]
    for agg in aggregators:
        device = "network device (rendered config)" if agg in (groups.get("network_devices") or []) else "Linux host"
        node(
            _id("host", agg),
            _label(
                agg,
                [
                    ("tap aggregator, symmetric flow hash", False),
                    (device, False),
                    (
                        f"{sum(len(lk.get('tap_ports') or [None]) for lk in in_stage_links)} tap ports -> "
                        f"{len(in_stage_nics)} tool ports",
                        False,
                    ),
                ],
            ),
            "box3d",
            later(host_stage(agg)),
        )
    for lk in links:
        tap = lk.get("tap", "?") + (" tap " + str((lk.get("optics") or {}).get("split")) if lk.get("optics") else "")
        if lk.get("tap_ports"):
            tap += ": " + ", ".join(str(p) for p in lk["tap_ports"])
        for agg in aggregators[:1]:
            edge(_id("link", lk["name"]), _id("host", agg), tap, later(_link_stage(lk)))

    # Zeek: workers (one node each, with their capture NICs), manager/proxies/loggers (one node per tier).
    out.append(f"  subgraph cluster_zeek {{ label={_q('Zeek cluster')}; style=dashed;")
    out.append(f"   subgraph cluster_workers {{ label={_q('Zeek workers (AF_PACKET)')}; style=dotted;")
    for w in workers:
        nics = ((hosts.get(w) or {}).get("hardware") or {}).get("capture_nics") or []
        lines = [(f"{n.get('name')}: {n.get('link', '?')} ({n.get('speed_gbps', '?')}G)", False) for n in nics]
        node(_id("host", w), _label(w, lines + [(f"stage {host_stage(w)}", False)]), "component", later(host_stage(w)))
    out.append("   }")
    tier_nodes = {}

    def tier(group, title, shape):
        members = list(groups.get(group) or [])
        if not members:
            return
        tier_nodes[group] = _id("tier", group)
        lines = []
        for h in members:
            also = [g for g, _, _ in TIERS if g != group and h in (groups.get(g) or [])]
            text = h + (" (also " + ", ".join(also) + ")" if also else "")
            lines.append((text + (f" [stage {host_stage(h)}]" if later(host_stage(h)) else ""), later(host_stage(h))))
        node(tier_nodes[group], _label(title, lines), shape, all(later(host_stage(h)) for h in members))

    for group, title, shape in TIERS:
        if group.startswith("zeek_"):
            tier(group, title, shape)
    out.append("  }")  # cluster_zeek
    for group, title, shape in TIERS:
        if not group.startswith("zeek_"):
            tier(group, title, shape)

    first_worker = _id("host", workers[0]) if workers else None
    for w in workers:
        nics = ((hosts.get(w) or {}).get("hardware") or {}).get("capture_nics") or []
        w_links = sorted({n.get("link") for n in nics if n.get("link")})
        label = "; ".join(
            f"{lk}: "
            + ", ".join(
                (f"{n['aggregator_port']} -> " if n.get("aggregator_port") else "") + str(n.get("name"))
                for n in nics
                if n.get("link") == lk
            )
            for lk in w_links
        )
        if aggregators:
            edge(_id("host", aggregators[0]), _id("host", w), label, later(host_stage(w)))
        else:
            for lk in w_links:
                edge(_id("link", lk), _id("host", w), "capture", later(host_stage(w)))
    if first_worker and "zeek_loggers" in tier_nodes:
        edge(first_worker, tier_nodes["zeek_loggers"], "logs", extra='ltail="cluster_workers"')
    if first_worker and "zeek_managers" in tier_nodes:
        edge(
            tier_nodes["zeek_managers"],
            first_worker,
            "control, intel",
            extra='lhead="cluster_workers", constraint=false',
        )
    if "zeek_managers" in tier_nodes and "zeek_proxies" in tier_nodes:
        edge(tier_nodes["zeek_managers"], tier_nodes["zeek_proxies"], "cluster", extra="constraint=false")
    chain = [
        ("zeek_loggers", "kafka_brokers", "Zeek logs, topic per log"),
        ("kafka_brokers", "log_shippers", "consume"),
        ("log_shippers", "opensearch_nodes", "index"),
    ]
    for src, dst, label in chain:
        if src in tier_nodes and dst in tier_nodes:
            edge(tier_nodes[src], tier_nodes[dst], label)

    # MISP: spokes and partners sync with the hub; the hub's intel reaches the Zeek manager.
    sync = site.get("misp_sync") or {}
    if "misp_hubs" in tier_nodes:
        if "misp_spokes" in tier_nodes:
            edge(
                tier_nodes["misp_spokes"],
                tier_nodes["misp_hubs"],
                "sync",
                all(later(host_stage(h)) for h in groups["misp_spokes"]),
                "dir=both",
            )
        for partner in sync.get("partners") or []:
            pid = _id("misp-partner", partner.get("name", "partner"))
            node(pid, _label(partner.get("name", "partner"), [("MISP partner (external)", False)]), "folder")
            edge(pid, tier_nodes["misp_hubs"], "sync", extra="dir=both")
        if "zeek_managers" in tier_nodes:
            edge(tier_nodes["misp_hubs"], tier_nodes["zeek_managers"], "intel (REST + deltas)")
            edge(
                tier_nodes["zeek_managers"],
                tier_nodes["misp_hubs"],
                "sightings",
                extra="style=dotted, constraint=false",
            )

    # Networks: admin (operators, via the bastion), IPMI (never routed), data, capture.
    networks = site.get("networks") or {}
    out.append(f"  subgraph cluster_networks {{ label={_q('Networks')}; style=dashed;")
    for name, spec in sorted(networks.items()):
        if not isinstance(spec, dict):
            continue
        members = [h for h, s in hosts.items() if name in (s.get("addresses") or {})]
        bmcs = [h for h, s in hosts.items() if s.get("bmc_address")]
        facts = [
            (f"{spec.get('cidr') or 'no addresses'}" + (f", VLAN {spec['vlan']}" if spec.get("vlan") else ""), False)
        ]
        if name == "ipmi":
            facts.append((f"{len(bmcs)} BMCs; never routed", False))
        elif name == "capture":
            facts.append((f"{len(in_stage_nics)} capture NICs in this stage (receive only)", False))
        else:
            facts.append((f"{len(members)} hosts", False))
            if spec.get("routed") is False:
                facts.append(("never routed", False))
        node(_id("net", name), _label(f"{name} network", facts), "note")
    for bastion in groups.get("soc_management") or []:
        node(
            _id("host", bastion),
            _label(bastion, [("bastion (operators' way in)", False)]),
            "box",
            later(host_stage(bastion)),
        )
        if "admin" in networks:
            edge(_id("host", bastion), _id("net", "admin"), "ssh, admin")
        if "ipmi" in networks:
            edge(_id("host", bastion), _id("net", "ipmi"), "console only", extra="style=dotted")
    out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"
