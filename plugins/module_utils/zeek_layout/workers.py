"""One host's worker processes: CPU pinning per capture NIC, fanout ids, IRQ CPUs, CPU checks,
per-interface capacity and AF_PACKET ring sizes."""

from __future__ import annotations

from .hardware import core_threads_of, format_cpulist, parse_cpulist
from .settings import MIB, number


def _floor_pow2(n):
    return 1 << (int(n).bit_length() - 1) if n >= 1 else 0


def _reserve_cores(hw, count):
    """Take ``count`` physical cores, round-robin over NUMA nodes, lowest-numbered first."""
    per_node = {nid: [c for c in cpus if c in hw["primary"]] for nid, cpus in sorted(hw["numa"].items())}
    taken = []
    while len(taken) < count and any(per_node.values()):
        for nid in sorted(per_node):
            if per_node[nid] and len(taken) < count:
                taken.append(per_node[nid].pop(0))
    return taken


def host_workers(h, hw, s, services_here, findings):
    """Workers for one host's capture NICs: CPU pinning, fanout ids, ring sizes."""
    name = h["name"]
    overrides = h.get("overrides") or {}
    nics = hw["nics"]
    unknown = sorted(set(overrides) - {n["name"] for n in nics})
    for nic in unknown:
        findings.error("hardware", f"host {name}: override for interface {nic}, which is not a capture NIC", host=name)
    # Cores kept away from workers: the OS/IRQ reserve, plus one per service process on a capture host.
    reserve_n = s["reserved_cores"] + (services_here if nics else 0)
    reserved = _reserve_cores(hw, reserve_n)
    reserved_threads = sorted({t for c in reserved for t in core_threads_of(hw, c)})
    if nics and reserve_n >= hw["cores"]:
        findings.error(
            "cores",
            f"host {name}: {hw['cores']} cores leave none for capture after reserving {s['reserved_cores']} "
            f"for the OS/IRQs and {services_here} for Zeek service processes",
            host=name,
        )
    # Usable CPUs per NUMA node in pinning order: physical cores first, then siblings if used.
    usable = {}
    for nid, cpus in sorted(hw["numa"].items()):
        phys = [c for c in cpus if c in hw["primary"] and c not in reserved_threads]
        ht = [c for c in cpus if c not in hw["primary"] and c not in reserved_threads]
        usable[nid] = phys + (ht if s["ht_policy"] == "use" else [])
    # Explicitly pinned CPUs are not handed out automatically.
    pinned_by_override = set()
    for ov in overrides.values():
        if "pin_cpus" in ov:
            pinned_by_override.update(parse_cpulist(ov["pin_cpus"], f"host {name}: override pin_cpus"))
    by_node = {}
    for nic in nics:
        by_node.setdefault(nic["numa_node"], []).append(nic)
    entries = []
    for nid, node_nics in sorted(by_node.items()):
        auto = [n for n in node_nics if "pin_cpus" not in overrides.get(n["name"], {})]
        pool = [c for c in usable[nid] if c not in pinned_by_override]
        # Even split of the node's CPUs between its NICs (the aggregator hashes flows evenly).
        shares = {}
        if auto:
            base, extra = divmod(len(pool), len(auto))
            for i, nic in enumerate(auto):
                shares[nic["name"]] = base + (1 if i < extra else 0)
            if base < s["min_workers_per_nic"]:
                findings.error(
                    "cores",
                    f"host {name}: NUMA node {nid} has {len(pool)} CPUs free for workers "
                    f"({format_cpulist(pool) or 'none'}) but {len(auto)} capture interfaces "
                    f"({', '.join(n['name'] for n in auto)}) need at least {s['min_workers_per_nic']} each",
                    host=name,
                )
        for nic in node_nics:
            ov = overrides.get(nic["name"], {})
            where = f"host {name} interface {nic['name']}"
            if "pin_cpus" in ov:
                pins = parse_cpulist(ov["pin_cpus"], f"{where}: override pin_cpus")
            else:
                take = shares[nic["name"]]
                if s["max_workers_per_nic"]:
                    take = min(take, s["max_workers_per_nic"])
                pins, pool = pool[:take], pool[take:]
            lb_procs = ov.get("lb_procs", len(pins))
            lb_procs = number(lb_procs, f"{where}: override lb_procs", integer=True)
            if lb_procs != len(pins):
                findings.error(
                    "cpu-range",
                    f"{where}: lb_procs={lb_procs} but {len(pins)} CPUs pinned ({format_cpulist(pins)})",
                    host=name,
                    interface=nic["name"],
                )
            entries.append(
                {
                    "host": name,
                    "interface": nic["name"],
                    "link": nic["link"],
                    "numa_node": nid,
                    "speed_gbps": nic["speed_gbps"],
                    "lb_procs": lb_procs,
                    "pin_cpus": pins,
                    "fanout_id": ov.get("fanout_id"),
                    "buffer_size_mb": ov.get("buffer_size_mb"),
                }
            )
    # Fanout ids: unique per interface on the host (AF_PACKET fanout groups are per network namespace).
    used_ids = {e["fanout_id"] for e in entries if e["fanout_id"] is not None}
    next_id = s["fanout_id_base"]
    for e in entries:
        if e["fanout_id"] is None:
            while next_id in used_ids:
                next_id += 1
            e["fanout_id"] = next_id
            used_ids.add(next_id)
        e["fanout_id"] = number(e["fanout_id"], f"host {name} interface {e['interface']}: fanout_id", integer=True)
    # CPU checks: range, overlap (between NICs and with the reserve), NUMA locality.
    owner = {c: "the OS/IRQ reserve" for c in reserved_threads}
    for e in entries:
        where = f"host {name} interface {e['interface']}"
        for cpu in e["pin_cpus"]:
            if cpu >= hw["logical"] or cpu not in hw["cpu_node"]:
                findings.error(
                    "cpu-range",
                    f"{where}: pinned CPU {cpu} does not exist (host has CPUs 0-{hw['logical'] - 1})",
                    host=name,
                    interface=e["interface"],
                )
                continue
            if cpu in owner:
                findings.error(
                    "cpu-overlap",
                    f"{where}: CPU {cpu} is also pinned to {owner[cpu]}",
                    host=name,
                    interface=e["interface"],
                )
            else:
                owner[cpu] = f"interface {e['interface']}"
            if s["ht_policy"] == "skip" and cpu not in hw["primary"]:
                findings.warn(
                    "ht",
                    f"{where}: CPU {cpu} is a hyper-thread sibling but ht_policy is 'skip'",
                    host=name,
                    interface=e["interface"],
                )
            if hw["cpu_node"][cpu] != e["numa_node"]:
                findings.warn(
                    "numa",
                    f"{where}: CPU {cpu} is on NUMA node {hw['cpu_node'][cpu]}, the NIC on node {e['numa_node']}",
                    host=name,
                    interface=e["interface"],
                )
    ids = {}
    for e in entries:
        if not 0 <= e["fanout_id"] <= 65535:
            findings.error(
                "fanout",
                f"host {name} interface {e['interface']}: fanout id {e['fanout_id']} is outside 0-65535",
                host=name,
                interface=e["interface"],
            )
        if e["fanout_id"] in ids:
            findings.error(
                "fanout",
                f"host {name}: fanout id {e['fanout_id']} is used by both {ids[e['fanout_id']]} and "
                f"{e['interface']}; their packets would be mixed in one fanout group",
                host=name,
                interface=e["interface"],
            )
        ids.setdefault(e["fanout_id"], e["interface"])
    # NIC interrupts go to the reserved CPUs on the NIC's NUMA node (all reserved CPUs if none there).
    for e in entries:
        local = [c for c in reserved_threads if hw["cpu_node"].get(c) == e["numa_node"]]
        e["irq_cpus"] = local or list(reserved_threads)
    # Capacity of each interface's workers.
    for e in entries:
        phys = sum(1 for c in e["pin_cpus"] if c in hw["primary"])
        ht = len(e["pin_cpus"]) - phys
        e["capacity_gbps"] = round((phys + ht * s["ht_sibling_gbps_factor"]) * s["gbps_per_worker"], 3)
    return entries, reserved, reserved_threads


def size_rings(name, hw, entries, fixed_mem_gb, s):
    """AF_PACKET buffer per worker, scaled to the memory left after workers and services."""
    workers = max(sum(e["lb_procs"] for e in entries), 1)
    left_mb = (hw["memory_gb"] - fixed_mem_gb) * 1024 * s["ring_memory_share"]
    auto_mb = _floor_pow2(max(left_mb, 0) / workers)
    auto_mb = min(max(auto_mb, s["buffer_min_mb"]), s["buffer_max_mb"])
    for e in entries:
        if e["buffer_size_mb"] is None:
            e["buffer_size_mb"] = auto_mb
        e["buffer_size_mb"] = number(e["buffer_size_mb"], f"host {name}: buffer_size_mb", minimum=1, integer=True)
        e["buffer_size"] = e["buffer_size_mb"] * MIB
