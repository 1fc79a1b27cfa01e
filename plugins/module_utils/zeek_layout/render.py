"""Text rendered from a layout: zeekctl's node.cfg and the capacity report (Markdown and console)."""

from __future__ import annotations

from .hardware import format_cpulist


def render_node_cfg(cluster, name="zeek"):
    """zeekctl node.cfg text for one cluster (without the ansible_managed header)."""
    lines = [f"# Zeek cluster {name}: {cluster['workers']} worker processes, computed by socforge.core.zeek_layout"]
    for n in cluster["nodes"]:
        lines.append("")
        if n.get("comment"):
            lines.append(f"# {n['comment']}")
        lines.append(f"[{n['section']}]")
        lines.append(f"type={n['type']}")
        lines.append(f"host={n['address']}")
        if n["type"] == "worker":
            # zeekctl's AF_Packet plugin: interface prefix af_packet::, lb_method custom (zeekctl
            # accepts only pf_ring, myricom, custom and interfaces) and the af_packet_* node keys.
            lines.append(f"interface=af_packet::{n['interface']}")
            lines.append("lb_method=custom")
            lines.append(f"lb_procs={n['lb_procs']}")
            lines.append("pin_cpus=" + ",".join(str(c) for c in n["pin_cpus"]))
            lines.append(f"af_packet_fanout_id={n['fanout_id']}")
            lines.append(f"af_packet_fanout_mode=AF_Packet::{n['fanout_mode']}")
            lines.append(f"af_packet_buffer_size={n['buffer_size']}")
    return "\n".join(lines) + "\n"


def capacity_markdown(layout):
    """The "Zeek capacity" section of the plan report (Markdown)."""
    s = layout["settings"]
    out = [
        "## Zeek capacity",
        "",
        f"Assumptions: {s['gbps_per_worker']:g} Gb/s per worker, {s['worker_memory_gb']:g} GB per worker, "
        f"{s['reserved_cores']} cores reserved per host, hyper-threads: {s['ht_policy']}.",
        "",
        "### Per link",
        "",
        "| link | stage | active | peak Gb/s | interfaces | workers | farm Gb/s | headroom Gb/s | status |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in layout["links"]:
        out.append(
            f"| {r['link']} | {r['stage'] if r['stage'] is not None else '-'} | {'yes' if r['active'] else 'no'} "
            f"| {r['peak_gbps']:.1f} | {r['interfaces']} | {r['workers']} | {r['farm_gbps']:.1f} "
            f"| {r['headroom_gbps']:+.1f} | {r['status']} |"
        )
    out += [
        "",
        "### Per host and interface",
        "",
        "| host | interface | link | NUMA | workers | pinned CPUs | fanout | ring MiB | traffic Gb/s | "
        "capacity Gb/s | headroom Gb/s |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in layout["interfaces"]:
        traffic = e.get("traffic_gbps")
        head = e.get("headroom_gbps")
        out.append(
            f"| {e['host']} | {e['interface']} | {e['link'] or '-'} | {e['numa_node']} | {e['lb_procs']} "
            f"| {format_cpulist(e['pin_cpus'])} | {e['fanout_id']} | {e['buffer_size_mb']} "
            f"| {'-' if traffic is None else f'{traffic:.1f}'} | {e['capacity_gbps']:.1f} "
            f"| {'-' if head is None else f'{head:+.1f}'} |"
        )
    out += [
        "",
        "### Hosts",
        "",
        "| host | cluster | roles | cores x threads | reserved CPUs | workers | memory plan GB | memory GB |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for name, h in sorted(layout["hosts"].items()):
        out.append(
            f"| {name} | {h['cluster']} | {', '.join(h['roles'])} | {h['cores']} x {h['threads_per_core']} "
            f"| {h['reserved_cpus'] or '-'} | {h['workers']} | {h['memory_total_gb']:.1f} | {h['memory_gb']:g} |"
        )
    if layout["findings"]:
        out += ["", "### Findings", ""]
        for f in layout["findings"]:
            out.append(f"- **{f['level']}** ({f['rule']}): {f['message']}")
    return "\n".join(out) + "\n"


def capacity_text(layout):
    """A fixed-width capacity table for the console."""
    rows = [("link", "peak Gb/s", "ifaces", "workers", "farm Gb/s", "headroom", "status")]
    for r in layout["links"]:
        rows.append(
            (
                r["link"],
                f"{r['peak_gbps']:.1f}",
                str(r["interfaces"]),
                str(r["workers"]),
                f"{r['farm_gbps']:.1f}",
                f"{r['headroom_gbps']:+.1f}",
                r["status"],
            )
        )
    rows.append(("", "", "", "", "", "", ""))
    rows.append(("host/interface", "traffic", "workers", "CPUs", "capacity", "headroom", "link"))
    for e in layout["interfaces"]:
        traffic = e.get("traffic_gbps")
        head = e.get("headroom_gbps")
        rows.append(
            (
                f"{e['host']}/{e['interface']}",
                "-" if traffic is None else f"{traffic:.1f}",
                str(e["lb_procs"]),
                format_cpulist(e["pin_cpus"]),
                f"{e['capacity_gbps']:.1f}",
                "-" if head is None else f"{head:+.1f}",
                e["link"] or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
