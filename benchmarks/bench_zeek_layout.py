"""Layout engine speed: how long the plan takes to size Zeek farms of growing size.

Prints, per farm size: worker hosts, capture interfaces, worker processes, and the median time of
compute_layout + node.cfg + the capacity report over several runs.
"""

import statistics
import time

import _path  # noqa: F401 - puts .collections on sys.path
from ansible_collections.socforge.core.plugins.module_utils import zeek_layout as z


def farm(n_hosts, links):
    hw = {
        "cores": 48,
        "threads_per_core": 2,
        "memory_gb": 384,
        "numa_nodes": [{"id": 0, "cpus": "0-23,48-71"}, {"id": 1, "cpus": "24-47,72-95"}],
    }
    hosts = [{"name": "mgr", "roles": ["manager"], "hardware": {"cores": 32, "memory_gb": 512}}]
    hosts += [{"name": f"log{i}", "roles": ["logger"], "hardware": {"cores": 32, "memory_gb": 256}} for i in range(4)]
    hosts += [{"name": f"px{i}", "roles": ["proxy"], "hardware": {"cores": 32, "memory_gb": 128}} for i in range(4)]
    for i in range(n_hosts):
        link = links[i % len(links)]["name"]
        nics = [
            {"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": link},
            {"name": "ens5f0", "speed_gbps": 100, "numa_node": 1, "link": link},
        ]
        hosts.append(
            {
                "name": f"w{i:03d}",
                "address": f"10.1.{i // 250}.{i % 250 + 1}",
                "roles": ["worker"],
                "hardware": {**hw, "capture_nics": nics},
            }
        )
    return hosts


def main():
    links = [{"name": f"link{i}", "capacity_gbps": 100, "peak_utilisation": 0.5} for i in range(8)]
    print(f"{'worker hosts':>12} {'interfaces':>10} {'workers':>8} {'median ms':>10} {'min ms':>8} {'errors':>6}")
    for n in (2, 8, 32, 128, 512):
        hosts = farm(n, links)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            layout = z.compute_layout(hosts, links, {"intel_size_mb": 500})
            z.capacity_markdown(layout)
            z.capacity_text(layout)
            times.append((time.perf_counter() - t0) * 1000)
        workers = sum(e["lb_procs"] for e in layout["interfaces"])
        print(
            f"{n:>12} {len(layout['interfaces']):>10} {workers:>8} {statistics.median(times):>10.1f} "
            f"{min(times):>8.1f} {len(layout['errors']):>6}"
        )


if __name__ == "__main__":
    main()
