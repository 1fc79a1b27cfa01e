"""Zeek cluster layout engine: declared hardware + tapped links -> node.cfg and capacity checks.

Pure Python (no Ansible imports). Used by the ``socforge.core.zeek_layout`` filters (plan time and
the ``zeek`` role on the manager) and by the unit tests and benchmark. Import the names below from
this package; the modules behind it are:

- :mod:`.settings`: the tunables (:data:`DEFAULTS`), their validation, :class:`LayoutInputError`;
- :mod:`.hardware`: ``soc_hardware`` parsed (cpulists, NUMA nodes, NICs, hyper-thread siblings);
- :mod:`.workers`: one host's workers (CPU pinning, fanout ids, IRQ CPUs, AF_PACKET rings);
- :mod:`.layout`: :func:`compute_layout`, the clusters (service placement, memory plan, node list);
- :mod:`.capacity`: peak traffic per link against the workers capturing it;
- :mod:`.render`: node.cfg and the capacity report;
- :mod:`.facts`: declared hardware against gathered facts;
- :mod:`.stage` and :mod:`.ports`: the hosts of a rollout stage, the ports zeekctl assigns.

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

from .facts import check_facts
from .hardware import (
    CPU_NUMBERINGS,
    core_threads,
    format_cpulist,
    parse_cpulist,
    parse_hardware,
    siblings,
    thread_siblings_from_sysfs,
)
from .layout import compute_layout
from .ports import BACKENDS, ZEEK_PORT, cluster_ports
from .render import capacity_markdown, capacity_text, render_node_cfg
from .settings import DEFAULTS, FANOUT_MODES, HT_POLICIES, MIB, ROLES, LayoutInputError, merge_settings
from .stage import hosts_in_stage

__all__ = [
    "BACKENDS",
    "CPU_NUMBERINGS",
    "DEFAULTS",
    "FANOUT_MODES",
    "HT_POLICIES",
    "MIB",
    "ROLES",
    "ZEEK_PORT",
    "LayoutInputError",
    "capacity_markdown",
    "capacity_text",
    "check_facts",
    "cluster_ports",
    "compute_layout",
    "core_threads",
    "format_cpulist",
    "hosts_in_stage",
    "merge_settings",
    "parse_cpulist",
    "parse_hardware",
    "render_node_cfg",
    "siblings",
    "thread_siblings_from_sysfs",
]
