"""The TCP ports zeekctl gives a cluster's nodes."""

from __future__ import annotations

from .settings import LayoutInputError, number

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
    base = number(zeek_port, "zeek_port", minimum=1, integer=True)
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
