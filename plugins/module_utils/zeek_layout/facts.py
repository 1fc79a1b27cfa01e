"""Declared hardware checked against the host's gathered facts (the zeek_worker role)."""

from __future__ import annotations

from .findings import Findings
from .hardware import format_cpulist, parse_cpulist, parse_hardware, thread_siblings_from_sysfs


def check_facts(host, hardware, facts, memory_tolerance=0.1):
    """Compare declared soc_hardware with Ansible facts; return findings (level, rule, message)."""
    hw = parse_hardware(host, hardware)
    fnd = Findings()
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
