"""The cluster layout: hosts and links in, every cluster's nodes (services placed, workers pinned),
memory plan per host, the capacity table and the rendered node.cfg out."""

from __future__ import annotations

import math
import re

from .capacity import check_link_capacity
from .findings import Findings
from .hardware import format_cpulist, parse_hardware
from .render import render_node_cfg
from .settings import ROLES, LayoutInputError, merge_settings, number
from .workers import host_workers, size_rings


def compute_layout(hosts, links=None, settings=None):
    """Lay out every Zeek cluster described by ``hosts``; see the module docstring."""
    s = merge_settings(settings)
    findings = Findings()
    links = list(links or [])
    link_by_name = {}
    for i, link in enumerate(links):
        if not isinstance(link, dict) or not link.get("name"):
            raise LayoutInputError(f"soc_links[{i}] needs a 'name'")
        for key in ("capacity_gbps", "peak_utilisation"):
            if key not in link:
                raise LayoutInputError(f"soc_links[{link['name']}].{key} is missing")
        util = number(link["peak_utilisation"], f"soc_links[{link['name']}].peak_utilisation")
        if util > 1:
            raise LayoutInputError(f"soc_links[{link['name']}].peak_utilisation {util} is above 1.0")
        link_by_name[link["name"]] = link

    clusters = {}
    for h in hosts:
        if not h.get("name"):
            raise LayoutInputError("a Zeek host entry has no name")
        bad = sorted(set(h.get("roles") or []) - set(ROLES))
        if bad:
            raise LayoutInputError(f"host {h['name']}: unknown Zeek role(s) {bad} (known: {ROLES})")
        clusters.setdefault(str(h.get("cluster") or "zeek"), []).append(h)

    out = {"settings": s, "clusters": {}, "hosts": {}, "interfaces": [], "links": [], "findings": None}
    for cname, members in sorted(clusters.items()):
        out["clusters"][cname] = _layout_cluster(cname, members, s, findings, out, link_by_name)

    check_link_capacity(out, links, link_by_name, s, findings)
    out["findings"] = findings.items
    out["errors"] = [f["message"] for f in findings.items if f["level"] == "error"]
    out["warnings"] = [f["message"] for f in findings.items if f["level"] == "warning"]
    by_iface = {(e["host"], e["interface"]): e for e in out["interfaces"]}
    for cname, cl in out["clusters"].items():
        for n in cl["nodes"]:
            e = by_iface.get((n["host"], n.get("interface")))
            if e is not None:
                peak = e.get("traffic_gbps")
                n["comment"] = (
                    f"link {e['link'] or '-'}, NUMA node {e['numa_node']}, "
                    + (f"peak share {peak:.1f} Gb/s, " if peak is not None else "")
                    + f"capacity {e['capacity_gbps']:.1f} Gb/s, ring {e['buffer_size_mb']} MiB"
                )
        cl["node_cfg"] = render_node_cfg(cl, cname)
    return out


def _layout_cluster(cname, members, s, findings, out, link_by_name):
    hw_by_host = {}
    for h in members:
        hw_by_host[h["name"]] = parse_hardware(h["name"], h.get("hardware"))
    managers = [h["name"] for h in members if "manager" in (h.get("roles") or [])]
    workers_hosts = [h["name"] for h in members if "worker" in (h.get("roles") or [])]
    loggers_hosts = [h["name"] for h in members if "logger" in (h.get("roles") or [])]
    proxies_hosts = [h["name"] for h in members if "proxy" in (h.get("roles") or [])]
    if len(managers) != 1:
        findings.error(
            "placement",
            f"cluster {cname}: needs exactly one manager host, found {len(managers)} ({', '.join(managers) or 'none'})",
            cluster=cname,
        )
    manager = managers[0] if managers else None
    for w in workers_hosts:
        if not hw_by_host[w]["nics"]:
            findings.error("hardware", f"host {w}: in the worker group but declares no capture_nics", host=w)

    # Worker process count is needed for the service counts, and service counts for the worker
    # hosts' CPU reserve; a first pass without service reserve gives the count, the second is final.
    def worker_pass(service_count_by_host, fnd):
        entries = []
        for w in workers_hosts:
            e, _, _ = host_workers(
                {"name": w, "overrides": _host(members, w).get("overrides")},
                hw_by_host[w],
                s,
                service_count_by_host.get(w, 0),
                fnd,
            )
            entries.extend(e)
        return entries

    first = worker_pass({}, Findings())
    n_workers = sum(e["lb_procs"] for e in first)
    n_loggers = s["loggers"] or max(1, math.ceil(n_workers / s["workers_per_logger"]))
    n_proxies = s["proxies"] or max(1, math.ceil(n_workers / s["workers_per_proxy"]))
    fallback = [manager] if manager else (workers_hosts[:1] or [members[0]["name"]])
    logger_place = _place(n_loggers, loggers_hosts or fallback)
    proxy_place = _place(n_proxies, proxies_hosts or fallback)
    services = {}
    for hname in ([manager] if manager else []) + logger_place + proxy_place:
        services[hname] = services.get(hname, 0) + 1

    # Final worker layout with the service reserve on shared hosts.
    entries = []
    host_reserved = {}
    for w in workers_hosts:
        e, reserved, reserved_threads = host_workers(
            {"name": w, "overrides": _host(members, w).get("overrides")}, hw_by_host[w], s, services.get(w, 0), findings
        )
        entries.extend(e)
        host_reserved[w] = (reserved, reserved_threads)
    n_workers = sum(e["lb_procs"] for e in entries)

    # Memory plan per host (and rings, which take a share of what is left).
    for h in members:
        name = h["name"]
        hw = hw_by_host[name]
        mine = [e for e in entries if e["host"] == name]
        mem = {"os": s["os_memory_gb"]}
        w = sum(e["lb_procs"] for e in mine)
        if w:
            mem["workers"] = w * s["worker_memory_gb"]
        if name == manager:
            mem["manager"] = s["manager_memory_gb"] + s["intel_size_mb"] * s["manager_intel_rss_factor"] / 1024
        if logger_place.count(name):
            mem["loggers"] = logger_place.count(name) * s["logger_memory_gb"]
        if proxy_place.count(name):
            mem["proxies"] = proxy_place.count(name) * s["proxy_memory_gb"]
        fixed = sum(mem.values())
        size_rings(name, hw, mine, fixed, s)
        if mine:
            mem["af_packet_rings"] = sum(e["lb_procs"] * e["buffer_size_mb"] for e in mine) / 1024
        total = sum(mem.values())
        breakdown = ", ".join(f"{k} {v:.1f}" for k, v in mem.items())
        intel_gb = s["intel_size_mb"] * s["manager_intel_rss_factor"] / 1024 if name == manager else 0.0
        if total > hw["memory_gb"] and intel_gb and total - intel_gb <= hw["memory_gb"]:
            # The intel set is what tips this host over: say so, with the numbers.
            other = total - mem["manager"]
            findings.error(
                "manager-intel",
                f"host {name}: the Zeek manager needs about {mem['manager']:.1f} GB "
                f"({s['manager_memory_gb']:g} GB + {s['intel_size_mb']:g} MB of intel x "
                f"{s['manager_intel_rss_factor']:g} = {intel_gb:.1f} GB; Zeek issues 2394/5420) but only "
                f"{max(hw['memory_gb'] - other, 0):.1f} of the host's {hw['memory_gb']:g} GB is left after "
                f"{other:.1f} GB for everything else; shrink the intel set or give the manager more memory",
                host=name,
            )
        elif total > hw["memory_gb"]:
            findings.error(
                "memory",
                f"host {name}: memory plan needs {total:.1f} GB ({breakdown}) but the host has "
                f"{hw['memory_gb']:g} GB; reduce workers per host, worker_memory_gb or the ring size",
                host=name,
            )
        elif total > hw["memory_gb"] * s["memory_warn"]:
            findings.warn(
                "memory",
                f"host {name}: memory plan uses {total:.1f} of {hw['memory_gb']:.1f} GB ({breakdown})",
                host=name,
            )
        svc = services.get(name, 0)
        if svc and not mine and svc > hw["cores"] - s["reserved_cores"]:
            findings.warn(
                "cores",
                f"host {name}: {svc} Zeek service processes (manager/loggers/proxies) but only "
                f"{max(hw['cores'] - s['reserved_cores'], 0)} cores after the {s['reserved_cores']} reserved; "
                "add logger/proxy hosts or raise workers_per_proxy / workers_per_logger",
                host=name,
            )
        reserved, reserved_threads = host_reserved.get(name, ([], []))
        out["hosts"][name] = {
            "cluster": cname,
            "roles": sorted(h.get("roles") or []),
            "cores": hw["cores"],
            "threads_per_core": hw["threads_per_core"],
            "memory_gb": hw["memory_gb"],
            "reserved_cpus": format_cpulist(reserved_threads),
            "service_processes": services.get(name, 0),
            "workers": w,
            "memory_plan_gb": {k: round(v, 2) for k, v in mem.items()},
            "memory_total_gb": round(total, 2),
        }
    out["interfaces"].extend(entries)

    # Node list in zeekctl order: logger(s), manager, proxies, workers.
    address = {h["name"]: str(h.get("address") or h["name"]) for h in members}
    nodes = []
    for i, hname in enumerate(logger_place, 1):
        nodes.append({"section": f"logger-{i}", "type": "logger", "host": hname, "address": address[hname]})
    if manager:
        nodes.append({"section": "manager", "type": "manager", "host": manager, "address": address[manager]})
    for i, hname in enumerate(proxy_place, 1):
        nodes.append({"section": f"proxy-{i}", "type": "proxy", "host": hname, "address": address[hname]})
    for e in entries:
        nodes.append(
            {
                "section": f"worker-{_node_name(e['host'])}-{_node_name(e['interface'])}",
                "type": "worker",
                "host": e["host"],
                "address": address[e["host"]],
                "interface": e["interface"],
                "lb_procs": e["lb_procs"],
                "pin_cpus": e["pin_cpus"],
                "fanout_id": e["fanout_id"],
                "fanout_mode": s["fanout_mode"],
                "buffer_size": e["buffer_size"],
                # zeekctl expands lb_procs into nodes named <section>-1 .. <section>-N.
                "processes": [
                    f"worker-{_node_name(e['host'])}-{_node_name(e['interface'])}-{i}"
                    for i in range(1, e["lb_procs"] + 1)
                ],
            }
        )
    return {
        "manager": manager,
        "loggers": logger_place,
        "proxies": proxy_place,
        "worker_hosts": workers_hosts,
        "workers": n_workers,
        "nodes": nodes,
    }


def _place(count, hosts):
    """Round-robin ``count`` processes over ``hosts`` (list of names)."""
    return [hosts[i % len(hosts)] for i in range(count)]


def _host(members, name):
    return next(h for h in members if h["name"] == name)


def _node_name(text):
    """zeekctl node names: letters, digits, '-' (dots and '_' from host names become '-')."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", str(text)).strip("-")
