"""Capacity per tapped link: its peak traffic split over the interfaces capturing it, against their workers."""

from __future__ import annotations

import math


def check_link_capacity(out, links, link_by_name, s, findings):
    """Capacity table: peak traffic per link split over its capture interfaces vs their workers."""
    by_link = {}
    for e in out["interfaces"]:
        if e["link"] is None:
            findings.warn(
                "capacity", f"host {e['host']} interface {e['interface']}: no link declared; capacity not checked"
            )
            continue
        if e["link"] not in link_by_name:
            findings.error(
                "hardware",
                f"host {e['host']} interface {e['interface']}: link {e['link']!r} is not in soc_links",
                host=e["host"],
                interface=e["interface"],
            )
            continue
        by_link.setdefault(e["link"], []).append(e)
    for link in links:
        lname = link["name"]
        active = bool(link.get("active", True))
        level = "error" if active else "warning"
        peak = float(link["capacity_gbps"]) * float(link["peak_utilisation"])
        ifaces = by_link.get(lname, [])
        row = {
            "link": lname,
            "stage": link.get("stage"),
            "active": active,
            "capacity_gbps": float(link["capacity_gbps"]),
            "peak_gbps": round(peak, 3),
            "interfaces": len(ifaces),
            "workers": sum(e["lb_procs"] for e in ifaces),
            "farm_gbps": round(sum(e["capacity_gbps"] for e in ifaces), 3),
        }
        row["headroom_gbps"] = round(row["farm_gbps"] - peak, 3)
        row["shortfall_gbps"] = round(max(peak - row["farm_gbps"], 0.0), 3)
        if not ifaces:
            row["status"] = "not captured"
            if s["stage"] is not None and link.get("stage") is not None and int(link["stage"]) <= s["stage"]:
                findings.error(
                    "link-uncaptured",
                    f"link {lname} (stage {link.get('stage')}) is in deployment stage <= {s['stage']} but no Zeek "
                    "worker interface captures it",
                    link=lname,
                )
            out["links"].append(row)
            continue
        share = peak / len(ifaces)
        for e in ifaces:
            e["traffic_gbps"] = round(share, 3)
            e["headroom_gbps"] = round(e["capacity_gbps"] - share, 3)
            e["utilisation"] = round(share / e["capacity_gbps"], 3) if e["capacity_gbps"] else None
            where = f"link {lname}: host {e['host']} interface {e['interface']}"
            if share > e["speed_gbps"]:
                findings.add(
                    level,
                    "nic-speed",
                    f"{where} receives {share:.1f} Gb/s at peak but the NIC runs at {e['speed_gbps']:g} Gb/s",
                    link=lname,
                    host=e["host"],
                    interface=e["interface"],
                )
            if e["capacity_gbps"] < share and row["shortfall_gbps"] == 0:
                # The farm as a whole is big enough but this interface's share is not (uneven workers).
                need = math.ceil((share - e["capacity_gbps"]) / s["gbps_per_worker"] - 1e-9)
                findings.add(
                    level,
                    "capacity",
                    f"{where} gets {share:.1f} Gb/s at peak but its {e['lb_procs']} workers analyse "
                    f"{e['capacity_gbps']:.1f} Gb/s: short by {share - e['capacity_gbps']:.1f} Gb/s "
                    f"(about {need} more workers at {s['gbps_per_worker']:g} Gb/s each)",
                    link=lname,
                    host=e["host"],
                    interface=e["interface"],
                )
            elif e["utilisation"] is not None and e["utilisation"] > 1 - s["headroom_warn"]:
                findings.warn(
                    "headroom",
                    f"{where} runs at {e['utilisation']:.0%} of its workers' capacity at peak "
                    f"(less than {s['headroom_warn']:.0%} headroom)",
                    link=lname,
                    host=e["host"],
                    interface=e["interface"],
                )
        if row["shortfall_gbps"] > 0:
            need = math.ceil(row["shortfall_gbps"] / s["gbps_per_worker"] - 1e-9)
            findings.add(
                level,
                "capacity",
                f"link {lname}: peak {peak:.1f} Gb/s ({row['capacity_gbps']:g} Gb/s x "
                f"{float(link['peak_utilisation']):g}) exceeds the Zeek farm's {row['farm_gbps']:.1f} Gb/s "
                f"({row['workers']} workers on {len(ifaces)} interfaces at {s['gbps_per_worker']:g} Gb/s each): "
                f"short by {row['shortfall_gbps']:.1f} Gb/s, about {need} more worker cores"
                + ("" if active else " (standby link)"),
                link=lname,
            )
            row["status"] = "SHORT" if active else "short (standby)"
        elif row["farm_gbps"] and peak / row["farm_gbps"] > 1 - s["headroom_warn"]:
            row["status"] = "tight"
        else:
            row["status"] = "ok"
        out["links"].append(row)
