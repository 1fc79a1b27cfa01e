"""Declared hardware (``soc_hardware``) parsed into the model the layout works on: cpulists, NUMA
nodes, capture NICs and which hardware threads belong to which physical core."""

from __future__ import annotations

import re

from .settings import LayoutInputError, number


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


def parse_hardware(host, hw):
    """Validate one host's soc_hardware; return a normalised dict or raise LayoutInputError."""
    where = f"host {host}: soc_hardware"
    if not isinstance(hw, dict):
        raise LayoutInputError(f"{where} is missing or not a mapping")
    for key in ("cores", "memory_gb"):
        if key not in hw:
            raise LayoutInputError(f"{where}.{key} is missing")
    cores = number(hw["cores"], f"{where}.cores", minimum=1, integer=True)
    tpc = number(hw.get("threads_per_core", 1), f"{where}.threads_per_core", minimum=1, integer=True)
    memory = number(hw["memory_gb"], f"{where}.memory_gb", minimum=0.001)
    logical = cores * tpc
    nodes_in = hw.get("numa_nodes") or [{"id": 0, "cpus": f"0-{logical - 1}"}]
    nodes = {}
    seen = {}
    for i, node in enumerate(nodes_in):
        if not isinstance(node, dict) or "cpus" not in node:
            raise LayoutInputError(f"{where}.numa_nodes[{i}] needs 'id' and 'cpus'")
        nid = number(node.get("id", i), f"{where}.numa_nodes[{i}].id", integer=True)
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
        numa = number(numa, f"{where}.capture_nics[{name}].numa_node", integer=True)
        if numa not in nodes:
            raise LayoutInputError(
                f"{where}.capture_nics[{name}].numa_node {numa} is not a declared NUMA node ({sorted(nodes)})"
            )
        if "speed_gbps" not in nic:
            raise LayoutInputError(f"{where}.capture_nics[{name}].speed_gbps is missing")
        nics.append(
            {
                "name": name,
                "speed_gbps": number(nic["speed_gbps"], f"{where}.capture_nics[{name}].speed_gbps", minimum=0.001),
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


def core_threads_of(hw, cpu):
    """The hardware threads of the core ``cpu`` belongs to, from the parsed hardware."""
    return hw["core_threads"][hw["core_of"][cpu]]
