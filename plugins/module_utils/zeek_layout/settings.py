"""The layout engine's tunables (:data:`DEFAULTS`), their validation, and the input error it raises."""

from __future__ import annotations

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


def number(value, what, minimum=0.0, integer=False):
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
        out[key] = number(out[key], f"zeek layout setting {key}", integer=True)
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
        out[key] = number(out[key], f"zeek layout setting {key}")
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
        out["stage"] = number(out["stage"], "zeek layout setting stage", integer=True)
    return out
