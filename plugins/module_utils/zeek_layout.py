"""Zeek cluster layout engine: declared hardware + tapped links -> node.cfg and capacity checks.

Pure Python (no Ansible imports). Used by the ``socforge.core.zeek_layout`` filter (plan time and
the ``zeek`` role on the manager) and by the unit tests and benchmark.

Inputs
------
``hosts``: list of dicts, one per Zeek host::

    {"name": "zw1", "address": "10.1.0.11", "cluster": "zeek",
     "roles": ["worker"],                       # any of manager, logger, proxy, worker
     "hardware": {<soc_hardware from the inventory>},
     "overrides": {"ens1f0": {"lb_procs": 8, "pin_cpus": "2-9", "fanout_id": 40,
                               "buffer_size_mb": 512}}}      # optional, per capture NIC

``soc_hardware`` (inventory model)::

    cores: 32            # physical cores in total
    threads_per_core: 2
    memory_gb: 256
    numa_nodes: [{id: 0, cpus: "0-15,32-47"}, {id: 1, cpus: "16-31,48-63"}]
    capture_nics: [{name: ens1f0, speed_gbps: 100, numa_node: 0, link: lhcopn}]

How hyper-thread siblings are numbered differs between hosts, so it is declared, never assumed:

- ``cpu_numbering: spread`` (default; most x86 servers): the first thread of every core is
  numbered 0..cores-1 and the siblings after them, so the siblings of core ``c`` are
  ``c + k*cores`` (k = 1 .. threads_per_core-1);
- ``cpu_numbering: adjacent`` (many ARM and some AMD/virtual hosts): a core's threads are next to
  each other, core ``c`` owns ``c*tpc .. c*tpc + tpc-1``;
- ``thread_siblings: ["0,32", "1,33", ...]``: each core's threads as Linux lists them in
  ``/sys/devices/system/cpu/cpu*/topology/thread_siblings_list`` (wins over ``cpu_numbering``).

The lowest-numbered thread of a core is its "primary" thread; the others are its siblings.

``links``: ``soc_links`` entries (name, capacity_gbps, peak_utilisation, active, stage, ...).

``settings``: overrides of :data:`DEFAULTS`.

Output: a dict (JSON-serialisable) with ``clusters`` (node list + rendered node.cfg), ``hosts``,
``interfaces`` and ``links`` (the capacity table), and ``findings`` (each with level, rule, message).
"""

from __future__ import annotations

import math
import re

MIB = 1024 * 1024

#: Every tunable, with the default SOCForge uses. Sources are in docs/zeek.md.
DEFAULTS = {
    # Physical cores per host kept away from workers for the OS and NIC IRQs ("cores minus 1 or 2").
    "reserved_cores": 2,
    # Hyper-thread siblings: "skip" (pin workers to one thread per core) or "use".
    "ht_policy": "skip",
    # Extra throughput a sibling thread adds, as a fraction of a core (0 = count none; measure yours).
    "ht_sibling_gbps_factor": 0.0,
    # Sustained traffic one worker process analyses (WLCG guidance: 0.8-1 Gb/s per worker core).
    "gbps_per_worker": 1.0,
    # Resident memory per worker process (WLCG guidance: about 6 GB per worker).
    "worker_memory_gb": 6.0,
    # Memory kept for the OS, page cache and IRQ handling on every host.
    "os_memory_gb": 4.0,
    # Service processes.
    "manager_memory_gb": 4.0,
    "logger_memory_gb": 8.0,
    "proxy_memory_gb": 2.0,
    # Size of the loaded intel files; the manager holds ~6-8x that in RSS (Zeek issues 2394, 5420).
    "intel_size_mb": 0.0,
    "manager_intel_rss_factor": 8.0,
    # AF_PACKET ring per worker: scaled to the memory left after workers, between min and max.
    "buffer_min_mb": 128,
    "buffer_max_mb": 2048,
    "ring_memory_share": 0.5,
    "fanout_id_base": 23,
    "fanout_mode": "FANOUT_HASH",
    # Counts that grow with the worker count (0 = automatic from the ratios).
    "workers_per_proxy": 25,
    "workers_per_logger": 50,
    "proxies": 0,
    "loggers": 0,
    "min_workers_per_nic": 1,
    "max_workers_per_nic": 0,
    # Warn when peak traffic uses more than (1 - headroom_warn) of an interface's capacity.
    "headroom_warn": 0.2,
    # Warn when a host's memory plan uses more than this fraction of its memory.
    "memory_warn": 0.9,
    # Deployment stage being planned: links with stage <= this must be captured (None = no rule).
    "stage": None,
}

FANOUT_MODES = ("FANOUT_HASH", "FANOUT_QM", "FANOUT_CPU", "FANOUT_EBPF")
HT_POLICIES = ("skip", "use")
ROLES = ("manager", "logger", "proxy", "worker")


class LayoutInputError(ValueError):
    """The input cannot be laid out at all (malformed settings or hardware)."""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def parse_cpulist(value, what="cpulist"):
    """Parse Linux cpulist syntax ("0-3,8,10-11") or a list of ints into a sorted list of ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(parse_cpulist(item, what))
        return sorted(set(out))
    if not isinstance(value, str) or not value.strip():
        raise LayoutInputError(f"{what}: expected a cpulist like '0-15,32-47', got {value!r}")
    cpus = set()
    for part in value.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise LayoutInputError(f"{what}: bad cpulist element {part!r} in {value!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise LayoutInputError(f"{what}: range {part!r} runs backwards")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def format_cpulist(cpus):
    """Format ints as compact cpulist syntax: [0,1,2,5] -> "0-2,5"."""
    cpus = sorted(set(cpus))
    parts = []
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        parts.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(parts)


def _floor_pow2(n):
    return 1 << (int(n).bit_length() - 1) if n >= 1 else 0


def _node_name(text):
    """zeekctl node names: letters, digits, '-' (dots and '_' from host names become '-')."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", str(text)).strip("-")


def _num(value, what, minimum=0.0, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise LayoutInputError(f"{what}: expected a number, got {value!r}") from None
    if integer and int(value) != value:
        raise LayoutInputError(f"{what}: expected a whole number, got {value!r}")
    if value < minimum:
        raise LayoutInputError(f"{what}: must be >= {minimum}, got {value!r}")
    return int(value) if integer else float(value)


def merge_settings(settings=None):
    """Defaults + user settings, validated; unknown keys are an error (typos must not pass silently)."""
    out = dict(DEFAULTS)
    for key, value in (settings or {}).items():
        if key not in DEFAULTS:
            raise LayoutInputError(f"zeek layout setting {key!r} is unknown (known: {', '.join(sorted(DEFAULTS))})")
        if value is not None:
            out[key] = value
    ints = (
        "reserved_cores",
        "buffer_min_mb",
        "buffer_max_mb",
        "fanout_id_base",
        "workers_per_proxy",
        "workers_per_logger",
        "proxies",
        "loggers",
        "min_workers_per_nic",
        "max_workers_per_nic",
    )
    for key in ints:
        out[key] = _num(out[key], f"zeek layout setting {key}", integer=True)
    for key in ("workers_per_proxy", "workers_per_logger", "min_workers_per_nic"):
        if out[key] < 1:
            raise LayoutInputError(f"zeek layout setting {key}: must be >= 1, got {out[key]}")
    floats = (
        "ht_sibling_gbps_factor",
        "gbps_per_worker",
        "worker_memory_gb",
        "os_memory_gb",
        "manager_memory_gb",
        "logger_memory_gb",
        "proxy_memory_gb",
        "intel_size_mb",
        "manager_intel_rss_factor",
        "ring_memory_share",
        "headroom_warn",
        "memory_warn",
    )
    for key in floats:
        out[key] = _num(out[key], f"zeek layout setting {key}")
    if out["gbps_per_worker"] <= 0:
        raise LayoutInputError("zeek layout setting gbps_per_worker: must be > 0")
    if out["buffer_max_mb"] < out["buffer_min_mb"]:
        raise LayoutInputError("zeek layout settings: buffer_max_mb is smaller than buffer_min_mb")
    if out["ht_policy"] not in HT_POLICIES:
        raise LayoutInputError(f"zeek layout setting ht_policy: {out['ht_policy']!r} is not one of {HT_POLICIES}")
    mode = str(out["fanout_mode"]).removeprefix("AF_Packet::")
    if mode not in FANOUT_MODES:
        raise LayoutInputError(f"zeek layout setting fanout_mode: {out['fanout_mode']!r} is not one of {FANOUT_MODES}")
    out["fanout_mode"] = mode
    if out["stage"] is not None:
        out["stage"] = _num(out["stage"], "zeek layout setting stage", integer=True)
    return out


# --------------------------------------------------------------------------------------------
# Hardware model
# --------------------------------------------------------------------------------------------


def parse_hardware(host, hw):
    """Validate one host's soc_hardware; return a normalised dict or raise LayoutInputError."""
    where = f"host {host}: soc_hardware"
    if not isinstance(hw, dict):
        raise LayoutInputError(f"{where} is missing or not a mapping")
    for key in ("cores", "memory_gb"):
        if key not in hw:
            raise LayoutInputError(f"{where}.{key} is missing")
    cores = _num(hw["cores"], f"{where}.cores", minimum=1, integer=True)
    tpc = _num(hw.get("threads_per_core", 1), f"{where}.threads_per_core", minimum=1, integer=True)
    memory = _num(hw["memory_gb"], f"{where}.memory_gb", minimum=0.001)
    logical = cores * tpc
    nodes_in = hw.get("numa_nodes") or [{"id": 0, "cpus": f"0-{logical - 1}"}]
    nodes = {}
    seen = {}
    for i, node in enumerate(nodes_in):
        if not isinstance(node, dict) or "cpus" not in node:
            raise LayoutInputError(f"{where}.numa_nodes[{i}] needs 'id' and 'cpus'")
        nid = _num(node.get("id", i), f"{where}.numa_nodes[{i}].id", integer=True)
        if nid in nodes:
            raise LayoutInputError(f"{where}.numa_nodes: NUMA node id {nid} appears twice")
        cpus = parse_cpulist(node["cpus"], f"{where}.numa_nodes[{i}].cpus")
        for cpu in cpus:
            if cpu >= logical:
                raise LayoutInputError(
                    f"{where}.numa_nodes[{i}].cpus: CPU {cpu} is out of range for "
                    f"{cores} cores x {tpc} threads (CPUs 0-{logical - 1})"
                )
            if cpu in seen:
                raise LayoutInputError(f"{where}.numa_nodes: CPU {cpu} is listed on NUMA nodes {seen[cpu]} and {nid}")
            seen[cpu] = nid
        nodes[nid] = cpus
    missing = sorted(set(range(logical)) - set(seen))
    if missing:
        raise LayoutInputError(
            f"{where}.numa_nodes: CPUs {format_cpulist(missing)} of {cores} cores x {tpc} threads are on no NUMA node"
        )
    nics = []
    names = set()
    for i, nic in enumerate(hw.get("capture_nics") or []):
        if not isinstance(nic, dict) or not nic.get("name"):
            raise LayoutInputError(f"{where}.capture_nics[{i}] needs a 'name'")
        name = str(nic["name"])
        if name in names:
            raise LayoutInputError(f"{where}.capture_nics: interface {name} is listed twice")
        names.add(name)
        numa = nic.get("numa_node", min(nodes))
        numa = _num(numa, f"{where}.capture_nics[{name}].numa_node", integer=True)
        if numa not in nodes:
            raise LayoutInputError(
                f"{where}.capture_nics[{name}].numa_node {numa} is not a declared NUMA node ({sorted(nodes)})"
            )
        if "speed_gbps" not in nic:
            raise LayoutInputError(f"{where}.capture_nics[{name}].speed_gbps is missing")
        nics.append(
            {
                "name": name,
                "speed_gbps": _num(nic["speed_gbps"], f"{where}.capture_nics[{name}].speed_gbps", minimum=0.001),
                "numa_node": numa,
                "link": nic.get("link"),
            }
        )
    groups = core_threads(host, hw, cores, tpc)
    return {
        "cores": cores,
        "threads_per_core": tpc,
        "logical": logical,
        "memory_gb": memory,
        "numa": nodes,
        "cpu_node": seen,
        "nics": nics,
        # core index -> its threads (lowest first); cpu -> core index; first thread of every core.
        "core_threads": groups,
        "core_of": {t: i for i, threads in enumerate(groups) for t in threads},
        "primary": {threads[0] for threads in groups},
    }


CPU_NUMBERINGS = ("spread", "adjacent")


def core_threads(host, hw, cores, tpc):
    """Each physical core's hardware threads (sorted), from thread_siblings or cpu_numbering."""
    where = f"host {host}: soc_hardware"
    logical = cores * tpc
    explicit = hw.get("thread_siblings")
    if explicit:
        if not isinstance(explicit, (list, tuple)):
            raise LayoutInputError(f"{where}.thread_siblings: expected a list of cpulists, one per core")
        groups = [parse_cpulist(g, f"{where}.thread_siblings[{i}]") for i, g in enumerate(explicit)]
        if len(groups) != cores:
            raise LayoutInputError(f"{where}.thread_siblings: lists {len(groups)} cores, soc_hardware.cores is {cores}")
        owner = {}
        for i, g in enumerate(groups):
            if len(g) != tpc:
                raise LayoutInputError(
                    f"{where}.thread_siblings[{i}]: core has {len(g)} threads, threads_per_core is {tpc}"
                )
            for t in g:
                if t >= logical:
                    raise LayoutInputError(f"{where}.thread_siblings[{i}]: CPU {t} is out of range (0-{logical - 1})")
                if t in owner:
                    raise LayoutInputError(f"{where}.thread_siblings: CPU {t} is in cores {owner[t]} and {i}")
                owner[t] = i
        return sorted(groups)
    numbering = hw.get("cpu_numbering", "spread")
    if numbering not in CPU_NUMBERINGS:
        raise LayoutInputError(
            f"{where}.cpu_numbering: {numbering!r} is not one of {CPU_NUMBERINGS} (or declare thread_siblings)"
        )
    if numbering == "adjacent":
        return [list(range(c * tpc, c * tpc + tpc)) for c in range(cores)]
    return [[c + k * cores for k in range(tpc)] for c in range(cores)]


def thread_siblings_from_sysfs(lists):
    """The distinct thread_siblings_list values read from sysfs (one per CPU) -> one cpulist per core."""
    seen = []
    for value in lists:
        cpus = parse_cpulist(str(value).strip(), "thread_siblings_list")
        if cpus not in seen:
            seen.append(cpus)
    return [format_cpulist(c) for c in sorted(seen)]


def siblings(cpu, cores, threads_per_core, numbering="spread"):
    """All hardware threads of the core that ``cpu`` belongs to, for a declared numbering."""
    if numbering == "adjacent":
        core = cpu // threads_per_core
        return [core * threads_per_core + k for k in range(threads_per_core)]
    core = cpu % cores
    return [core + k * cores for k in range(threads_per_core)]


def _threads(hw, cpu):
    """The hardware threads of the core ``cpu`` belongs to, from the parsed hardware."""
    return hw["core_threads"][hw["core_of"][cpu]]


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


class _Findings:
    def __init__(self):
        self.items = []

    def add(self, level, rule, message, **where):
        self.items.append({"level": level, "rule": rule, "message": message, **where})

    def error(self, rule, message, **where):
        self.add("error", rule, message, **where)

    def warn(self, rule, message, **where):
        self.add("warning", rule, message, **where)


def _place(count, hosts):
    """Round-robin ``count`` processes over ``hosts`` (list of names)."""
    return [hosts[i % len(hosts)] for i in range(count)]


def _reserve_cores(hw, count):
    """Take ``count`` physical cores, round-robin over NUMA nodes, lowest-numbered first."""
    per_node = {nid: [c for c in cpus if c in hw["primary"]] for nid, cpus in sorted(hw["numa"].items())}
    taken = []
    while len(taken) < count and any(per_node.values()):
        for nid in sorted(per_node):
            if per_node[nid] and len(taken) < count:
                taken.append(per_node[nid].pop(0))
    return taken


def _layout_host(h, hw, s, services_here, findings):
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
    reserved_threads = sorted({t for c in reserved for t in _threads(hw, c)})
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
            lb_procs = _num(lb_procs, f"{where}: override lb_procs", integer=True)
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
        e["fanout_id"] = _num(e["fanout_id"], f"host {name} interface {e['interface']}: fanout_id", integer=True)
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


def _size_rings(name, hw, entries, fixed_mem_gb, s):
    """AF_PACKET buffer per worker, scaled to the memory left after workers and services."""
    workers = max(sum(e["lb_procs"] for e in entries), 1)
    left_mb = (hw["memory_gb"] - fixed_mem_gb) * 1024 * s["ring_memory_share"]
    auto_mb = _floor_pow2(max(left_mb, 0) / workers)
    auto_mb = min(max(auto_mb, s["buffer_min_mb"]), s["buffer_max_mb"])
    for e in entries:
        if e["buffer_size_mb"] is None:
            e["buffer_size_mb"] = auto_mb
        e["buffer_size_mb"] = _num(e["buffer_size_mb"], f"host {name}: buffer_size_mb", minimum=1, integer=True)
        e["buffer_size"] = e["buffer_size_mb"] * MIB


def compute_layout(hosts, links=None, settings=None):
    """Lay out every Zeek cluster described by ``hosts``; see the module docstring."""
    s = merge_settings(settings)
    findings = _Findings()
    links = list(links or [])
    link_by_name = {}
    for i, link in enumerate(links):
        if not isinstance(link, dict) or not link.get("name"):
            raise LayoutInputError(f"soc_links[{i}] needs a 'name'")
        for key in ("capacity_gbps", "peak_utilisation"):
            if key not in link:
                raise LayoutInputError(f"soc_links[{link['name']}].{key} is missing")
        util = _num(link["peak_utilisation"], f"soc_links[{link['name']}].peak_utilisation")
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

    _capacity(out, links, link_by_name, s, findings)
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
            e, _, _ = _layout_host(
                {"name": w, "overrides": _host(members, w).get("overrides")},
                hw_by_host[w],
                s,
                service_count_by_host.get(w, 0),
                fnd,
            )
            entries.extend(e)
        return entries

    first = worker_pass({}, _Findings())
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
        e, reserved, reserved_threads = _layout_host(
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
        _size_rings(name, hw, mine, fixed, s)
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


def _host(members, name):
    return next(h for h in members if h["name"] == name)


def _capacity(out, links, link_by_name, s, findings):
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


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Declared hardware vs gathered facts (zeek_worker role)
# --------------------------------------------------------------------------------------------


def check_facts(host, hardware, facts, memory_tolerance=0.1):
    """Compare declared soc_hardware with Ansible facts; return findings (level, rule, message)."""
    hw = parse_hardware(host, hardware)
    fnd = _Findings()
    vcpus = facts.get("processor_nproc") or facts.get("processor_vcpus")
    if vcpus is not None and int(vcpus) != hw["logical"]:
        fnd.error(
            "facts",
            f"host {host}: declares {hw['cores']} cores x {hw['threads_per_core']} threads = {hw['logical']} CPUs "
            f"but has {vcpus}",
        )
    tpc = facts.get("processor_threads_per_core")
    if tpc is not None and int(tpc) != hw["threads_per_core"]:
        fnd.error("facts", f"host {host}: declares threads_per_core {hw['threads_per_core']} but has {tpc}")
    mem_mb = facts.get("memtotal_mb")
    if mem_mb is not None:
        have = float(mem_mb) / 1024
        if have < hw["memory_gb"] * (1 - memory_tolerance):
            fnd.error("facts", f"host {host}: declares {hw['memory_gb']:g} GB memory but has {have:.1f} GB")
    sysfs = facts.get("thread_siblings_lists")
    if sysfs:
        actual = [parse_cpulist(c) for c in thread_siblings_from_sysfs(sysfs)]
        if actual != hw["core_threads"]:
            declared = "; ".join(format_cpulist(g) for g in hw["core_threads"][:3])
            have = "; ".join(format_cpulist(g) for g in actual[:3])
            fnd.error(
                "facts",
                f"host {host}: declared hyper-thread siblings ({declared}; ...) differ from the host's "
                f"({have}; ...): set soc_hardware.cpu_numbering (spread|adjacent) or thread_siblings",
            )
    interfaces = set(facts.get("interfaces") or [])
    for nic in hw["nics"]:
        if nic["name"] not in interfaces:
            fnd.error("facts", f"host {host}: capture NIC {nic['name']} does not exist (have: {sorted(interfaces)})")
            continue
        nf = facts.get(nic["name"].replace("-", "_").replace(".", "_")) or facts.get(nic["name"]) or {}
        speed = nf.get("speed")
        if isinstance(speed, int) and speed > 0 and speed / 1000 < nic["speed_gbps"]:
            fnd.error(
                "facts",
                f"host {host}: capture NIC {nic['name']} runs at {speed / 1000:g} Gb/s, "
                f"declared {nic['speed_gbps']:g} Gb/s",
            )
    return fnd.items


# --------------------------------------------------------------------------------------------
# Rollout stage and cluster ports
# --------------------------------------------------------------------------------------------


def hosts_in_stage(hosts, links, stage):
    """Zeek hosts of a staged rollout (``-e soc_stage=N``): capture NICs on links of a later stage
    are dropped, and a worker host left without NICs loses its worker role (and leaves the list
    when it has no other role). ``stage`` None keeps everything."""
    if stage is None or stage == "":
        return list(hosts)
    stage = _num(stage, "soc_stage", minimum=1, integer=True)
    stages = {}
    for i, link in enumerate(links or []):
        if not isinstance(link, dict) or not link.get("name"):
            raise LayoutInputError(f"soc_links[{i}] needs a 'name'")
        stages[link["name"]] = link.get("stage")
    out = []
    for h in hosts:
        roles = list(h.get("roles") or [])
        hw = dict(h.get("hardware") or {})
        if "worker" in roles:
            kept = []
            for nic in hw.get("capture_nics") or []:
                link = nic.get("link") if isinstance(nic, dict) else None
                if link is not None and link not in stages:
                    raise LayoutInputError(f"host {h.get('name')}: capture NIC on undeclared link {link!r}")
                link_stage = stages.get(link)
                if link_stage is None or int(link_stage) <= stage:
                    kept.append(nic)
            hw["capture_nics"] = kept
            if not kept:
                roles.remove("worker")
        if roles:
            out.append(dict(h, roles=roles, hardware=hw))
    return out


#: zeekctl's ZeekPort default and what each backend takes from it.
ZEEK_PORT = 27760
BACKENDS = ("broker", "zeromq")


def cluster_ports(cluster, zeek_port=ZEEK_PORT, backend="broker"):
    """The TCP ports zeekctl assigns from ZeekPort for one cluster layout.

    zeekctl (ZeekControl/install.py make_layout) numbers upwards from ZeekPort: the "control"
    entry, the manager, each logger, each proxy, then every worker process (lb_procs expanded).
    With the ZeroMQ backend (zeekctl 8.1 plugin cluster_backend_zeromq) the manager's XPUB/XSUB
    proxy takes ZeekPort and ZeekPort+1 first and the nodes start at ZeekPort+2.
    """
    if backend not in BACKENDS:
        raise LayoutInputError(f"zeek cluster backend {backend!r} is not one of {BACKENDS}")
    base = _num(zeek_port, "zeek_port", minimum=1, integer=True)
    nodes = 0
    for n in cluster["nodes"]:
        nodes += n["lb_procs"] if n["type"] == "worker" else 1
    offset = 2 if backend == "zeromq" else 0
    last = base + offset + nodes  # control + every node
    if last > 65535:
        raise LayoutInputError(f"zeek_port {base}: the cluster's {nodes} nodes need ports up to {last} (> 65535)")
    return {
        "first": base,
        "last": last,
        "count": last - base + 1,
        "backend_ports": list(range(base, base + offset)),
        "nodes": nodes,
        "range": f"{base}-{last}",
    }
