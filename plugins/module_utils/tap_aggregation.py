"""The tap aggregator's port map: border links' tap ports -> tool ports (Zeek workers' capture NICs).

Plain Python, no Ansible imports. Used by the site model's validation (plan.yml, site.yml), the
``soc_tap_aggregation`` filter (roles/tap_aggregator renders its nftables ruleset or its Arista EOS
configuration from what :func:`aggregator_config` returns) and the unit tests.

Inventory, per link (``soc_links``)::

    tap_ports: [Ethernet1, Ethernet2]   # the aggregator ports the link's tap (or mirror) feeds
    aggregator: tap-agg01               # optional when the site has one tap aggregator

and per capture NIC of a Zeek worker (``soc_hardware.capture_nics``)::

    {name: ens1f0, speed_gbps: 100, link: lhcopn, aggregator_port: Ethernet33}

Every tap port of a link is mapped to the link's *tool group*: the aggregator ports cabled to the
capture NICs on that link. The aggregator balances a link's traffic over its tool group by a
symmetric flow hash, so both directions of a connection reach the same tool port (same Zeek worker).

Peak traffic at the tool ports: a tap copies both directions of a full-duplex link, so a link of
C Gb/s at peak utilisation u delivers up to 2 x C x u Gb/s (both directions at u). The tool group
must carry that; the plan fails naming the link and the Gb/s short otherwise.
"""

from __future__ import annotations

import re

# Aggregator port names: Linux interface names (<= 15 chars) or switch ports (Ethernet1/1, Et33).
PORT_NAME = re.compile(r"^[A-Za-z0-9_./:-]{1,32}$")
GROUP_NAME = re.compile(r"[^A-Za-z0-9_]")
# Directions a tap delivers: an optical tap has one monitor fibre per direction (two ports at least);
# a port mirror (SPAN) sends both directions on one port.
MIN_TAP_PORTS = {"optical": 2, "mirror": 1}
DIRECTIONS = 2
# A tool port whose even share of the peak is above this fraction of its speed gets a warning: flows
# are balanced, not bytes, and one elephant flow (a WLCG transfer) can fill a tool port on its own.
SHARE_WARN = 0.8


class AggregationError(ValueError):
    """A problem with the aggregation model (the message names the link, host or port)."""


def group_name(link_name: str) -> str:
    """A tool group name usable in nftables chain names and EOS tool group names (lab-uplink -> lab_uplink)."""
    return GROUP_NAME.sub("_", str(link_name))


def _num(value, default=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value)


def _aggregators(groups: dict) -> list[str]:
    return sorted((groups or {}).get("tap_aggregators") or [])


def link_aggregator(link: dict, aggregators: list[str]) -> tuple[str | None, str | None]:
    """(aggregator, error): the aggregator a link's tap feeds."""
    name = link.get("name")
    if link.get("aggregator"):
        if link["aggregator"] not in aggregators:
            return None, (
                f"link {name}: aggregator '{link['aggregator']}' is not in the tap_aggregators group "
                f"({', '.join(aggregators) or 'empty'})"
            )
        return link["aggregator"], None
    if len(aggregators) == 1:
        return aggregators[0], None
    if not aggregators:
        return None, f"link {name}: no host in the tap_aggregators group to feed its tap into"
    return None, f"link {name}: {len(aggregators)} tap aggregators ({', '.join(aggregators)}): name its aggregator"


def analyse(links, hosts: dict, groups: dict, stage: int | None = None) -> dict:
    """Check the port map of every aggregator and compute it.

    Returns ``{"errors": [...], "warnings": [...], "aggregators": {host: {"tap_ports": [...],
    "tool_groups": [...]}}, "rows": [...]}`` (rows: one per link, for the plan report). Links of a
    stage above ``stage`` are left out (None: every stage). Every problem is reported, each naming the
    link, host or port.
    """
    errors: list[str] = []
    warnings: list[str] = []
    aggregators = _aggregators(groups)
    out: dict[str, dict] = {a: {"tap_ports": [], "tool_groups": []} for a in aggregators}
    rows: list[dict] = []
    # port owner per aggregator, to find a port used twice
    owners: dict[tuple[str, str], str] = {}

    def claim(agg: str, port: str, what: str) -> None:
        key = (agg, port)
        if key in owners:
            errors.append(f"aggregator {agg}: port {port} is used twice: {owners[key]} and {what}")
        else:
            owners[key] = what

    # Tool ports: the capture NICs that declare their aggregator port, by link.
    tool_ports: dict[str, list[dict]] = {}
    for host, spec in sorted((hosts or {}).items()):
        nics = ((spec or {}).get("hardware") or {}).get("capture_nics") or []
        for idx, nic in enumerate(nics):
            if not isinstance(nic, dict) or not nic.get("link"):
                continue
            where = f"host {host}: soc_hardware.capture_nics[{idx}] ({nic.get('name')})"
            port = nic.get("aggregator_port")
            if port is None:
                if aggregators:
                    errors.append(
                        f"{where} captures link {nic['link']} but has no aggregator_port: "
                        "no tap aggregator port feeds it"
                    )
                continue
            if not PORT_NAME.match(str(port)):
                errors.append(f"{where}.aggregator_port: '{port}' is not a port name")
                continue
            speed = _num(nic.get("speed_gbps"))
            if speed is None or speed <= 0:
                errors.append(
                    f"{where}.speed_gbps: '{nic.get('speed_gbps')}' must be a positive number (tool port capacity)"
                )
                speed = 0.0
            tool_ports.setdefault(nic["link"], []).append(
                {
                    "port": str(port),
                    "host": host,
                    "nic": str(nic.get("name")),
                    "speed_gbps": speed,
                    "aggregator": nic.get("aggregator"),
                }
            )

    declared = set()
    for link in links or []:
        if not isinstance(link, dict) or not link.get("name"):
            continue
        name = link["name"]
        declared.add(name)
        link_stage = link.get("stage")
        in_stage = stage is None or (isinstance(link_stage, int) and link_stage <= int(stage))
        agg, problem = link_aggregator(link, aggregators)
        if problem:
            if aggregators or link.get("tap_ports"):
                errors.append(problem)
            continue
        taps = link.get("tap_ports")
        if not taps and not tool_ports.get(name):
            # Declared but neither tapped nor captured yet (validate_site warns that no NIC captures it).
            warnings.append(f"link {name}: no tap_ports and no tool ports: it is not tapped into {agg} yet")
            continue
        if taps is None or taps == []:
            errors.append(
                f"link {name}: no tap_ports: the ports of {agg} that its {link.get('tap', '?')} tap feeds are not declared"
            )
            taps = []
        elif not isinstance(taps, list):
            errors.append(f"link {name}: tap_ports must be a list of {agg} port names, got {taps!r}")
            taps = []
        bad = [p for p in taps if not PORT_NAME.match(str(p))]
        for p in bad:
            errors.append(f"link {name}: tap port '{p}' is not a port name")
        taps = [str(p) for p in taps if p not in bad]
        need = MIN_TAP_PORTS.get(link.get("tap"), 1)
        if taps and len(taps) < need:
            errors.append(
                f"link {name}: an optical tap delivers each direction on its own monitor fibre; "
                f"{len(taps)} tap port ({', '.join(taps)}) declared, {need} needed"
            )
        for p in taps:
            claim(agg, p, f"tap port of link {name}")
        tools = []
        for t in sorted(tool_ports.get(name, []), key=lambda t: (t["host"], t["nic"])):
            if t["aggregator"] and t["aggregator"] != agg:
                errors.append(
                    f"host {t['host']}: capture NIC {t['nic']} on link {name} names aggregator "
                    f"{t['aggregator']}, but the link's tap feeds {agg}"
                )
                continue
            claim(agg, t["port"], f"tool port to {t['host']} {t['nic']}")
            tools.append({k: t[k] for k in ("port", "host", "nic", "speed_gbps")})
        if taps and not tools:
            errors.append(
                f"link {name}: tap port(s) {', '.join(taps)} on {agg} map to no tool port: no Zeek worker "
                f"capture NIC on link {name} declares an aggregator_port"
            )
        capacity = _num(link.get("capacity_gbps"), 0.0)
        util = _num(link.get("peak_utilisation"), 1.0)
        peak = round(capacity * util * DIRECTIONS, 3)
        tool_gbps = round(sum(t["speed_gbps"] for t in tools), 3)
        short = round(max(0.0, peak - tool_gbps), 3)
        if tools and short > 0:
            errors.append(
                f"link {name}: its tool ports on {agg} ({', '.join(t['port'] for t in tools)}) carry "
                f"{tool_gbps:g} Gb/s but the tapped link peaks at {peak:g} Gb/s (both directions of "
                f"{capacity:g} Gb/s at {util:.0%}): short by {short:g} Gb/s; add tool ports"
            )
        elif tools:
            share = peak / len(tools)
            for t in tools:
                if t["speed_gbps"] and share > SHARE_WARN * t["speed_gbps"]:
                    warnings.append(
                        f"link {name}: tool port {t['port']} ({t['host']} {t['nic']}, {t['speed_gbps']:g} Gb/s) gets "
                        f"{share:g} Gb/s at peak if flows balance evenly (over {SHARE_WARN:.0%}): one elephant flow "
                        "can overload it"
                    )
        rows.append(
            {
                "link": name,
                "aggregator": agg,
                "tap": link.get("tap"),
                "stage": link_stage,
                "tap_ports": taps,
                "tool_ports": tools,
                "peak_gbps": peak,
                "tool_gbps": tool_gbps,
                "short_gbps": short,
                "in_stage": in_stage,
            }
        )
        if not in_stage or not taps or not tools:
            continue
        group = group_name(name)
        out[agg]["tool_groups"].append(
            {"name": group, "link": name, "tool_ports": tools, "peak_gbps": peak, "tool_gbps": tool_gbps}
        )
        for p in taps:
            out[agg]["tap_ports"].append({"port": p, "link": name, "tap": link.get("tap"), "group": group})
    for link_name in sorted(set(tool_ports) - declared):
        for t in tool_ports[link_name]:
            errors.append(
                f"host {t['host']}: capture NIC {t['nic']} has aggregator_port {t['port']} on undeclared link '{link_name}'"
            )
    return {"errors": errors, "warnings": warnings, "aggregators": out, "rows": rows}


def aggregator_config(links, hosts: dict, groups: dict, aggregator: str, stage: int | None = None) -> dict:
    """The port map one aggregator applies: ``{"aggregator", "tap_ports": [{port, link, tap, group}],
    "tool_groups": [{name, link, tool_ports: [{port, host, nic, speed_gbps}], peak_gbps, tool_gbps}]}``,
    tool ports in a stable order (host, NIC): the hash bucket i of a group goes to its tool port i.
    Raises AggregationError listing every problem of the site's port map."""
    result = analyse(links, hosts, groups, stage)
    if result["errors"]:
        raise AggregationError("the tap aggregation model is not valid:\n- " + "\n- ".join(result["errors"]))
    if aggregator not in result["aggregators"]:
        raise AggregationError(f"{aggregator} is not in the tap_aggregators group")
    return {"aggregator": aggregator, **result["aggregators"][aggregator]}


def report_section(rows: list[dict]) -> list[str]:
    """The plan report's tap aggregation table."""
    if not rows:
        return []
    out = [
        "",
        "## Tap aggregation (symmetric flow hash per link)",
        "",
        "| stage | link | tap | aggregator | tap ports | tool ports (worker NIC) | peak both ways (Gb/s) "
        "| tool ports (Gb/s) | status |",
        "|---:|---|---|---|---|---|---:|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["stage"] if isinstance(r["stage"], int) else 99, r["link"])):
        tools = ", ".join(f"{t['port']} ({t['host']} {t['nic']})" for t in r["tool_ports"]) or "-"
        if not r["tap_ports"] or not r["tool_ports"]:
            status = "UNMAPPED"
        elif r["short_gbps"]:
            status = f"SHORT by {r['short_gbps']:g} Gb/s"
        else:
            status = "ok"
        out.append(
            f"| {r['stage']} | {r['link']} | {r['tap']} | {r['aggregator']} | {', '.join(r['tap_ports']) or '-'} | "
            f"{tools} | {r['peak_gbps']:g} | {r['tool_gbps']:g} | {status} |"
        )
    return out


# ---------------------------------------------------------------------------------------------
# What the aggregator did: its nftables counters, and the connections the workers logged.


def nft_counters(nft_json: str, table: str = "socforge_tap") -> dict[str, int]:
    """Packets per counter of the aggregator's table from `nft -j list table netdev <table>`:
    ``{"tap_tap0": n, "tool_tool_w1": n, "group_lab_uplink/not forwarded": n, ...}`` (chain, plus
    "/comment" for a commented rule)."""
    import json

    try:
        data = json.loads(nft_json)
    except ValueError as exc:
        raise AggregationError(f"nft -j list table netdev {table}: not JSON ({exc})") from None
    out: dict[str, int] = {}
    for item in data.get("nftables", []) if isinstance(data, dict) else []:
        rule = item.get("rule") if isinstance(item, dict) else None
        if not rule or rule.get("table") != table:
            continue
        for expr in rule.get("expr") or []:
            if isinstance(expr, dict) and "counter" in expr:
                key = rule["chain"] + (f"/{rule['comment']}" if rule.get("comment") else "")
                out[key] = out.get(key, 0) + int(expr["counter"].get("packets", 0))
    return out


def _node_prefix(host: str) -> str:
    # zeekctl node names of a host's workers: worker-<host>-<nic>[-<n>] (zeek_layout._node_name)
    return "worker-" + re.sub(r"[^A-Za-z0-9-]+", "-", str(host)).strip("-") + "-"


def split_connections(records, workers, node_key: str = "_node") -> dict:
    """Which worker logged each connection (Zeek conn records with the _node extension).

    A connection is its unordered 5-tuple (a split connection's halves may be oriented differently by
    the two workers). Returns ``{"connections": n, "per_worker": {host: n}, "split": [{"connection",
    "workers"}], "split_processes": n, "without_node": n, "unknown_nodes": [...]}``: ``split`` lists
    connections logged by more than one worker host (the aggregator's symmetric hash failed them),
    ``split_processes`` those seen by several worker processes of one host (AF_PACKET fanout)."""
    prefixes = sorted(((_node_prefix(w), w) for w in workers or []), key=lambda p: -len(p[0]))
    hosts_of: dict[tuple, set] = {}
    nodes_of: dict[tuple, set] = {}
    without_node = 0
    unknown: set[str] = set()
    for rec in records or []:
        if not isinstance(rec, dict):
            continue
        node = rec.get(node_key)
        if not node:
            without_node += 1
            continue
        host = next((w for p, w in prefixes if str(node).startswith(p)), None)
        if host is None:
            unknown.add(str(node))
            continue
        ends = sorted(
            [
                (str(rec.get("id.orig_h")), str(rec.get("id.orig_p"))),
                (str(rec.get("id.resp_h")), str(rec.get("id.resp_p"))),
            ]
        )
        key = (str(rec.get("proto")), *ends[0], *ends[1])
        hosts_of.setdefault(key, set()).add(host)
        nodes_of.setdefault(key, set()).add(str(node))
    per_worker = {w: 0 for w in workers or []}
    for hosts in hosts_of.values():
        for h in hosts:
            per_worker[h] += 1
    split = [
        {"connection": f"{k[0]} {k[1]}:{k[2]} <-> {k[3]}:{k[4]}", "workers": sorted(h)}
        for k, h in sorted(hosts_of.items())
        if len(h) > 1
    ]
    return {
        "connections": len(hosts_of),
        "per_worker": per_worker,
        "split": split,
        "split_processes": sum(1 for k, n in nodes_of.items() if len(n) > 1 and len(hosts_of[k]) == 1),
        "without_node": without_node,
        "unknown_nodes": sorted(unknown),
    }
