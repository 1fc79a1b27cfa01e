"""Record the cluster's health while the side effect rolls a restart through it.

Run from side_effect.yml (async, on the controller, with the venv's Python): every --interval
seconds it reads cluster health, the allocation setting and the node names through any live node,
and appends one JSON line to --out, until --stop exists or --max-seconds pass. side_effect.yml
then checks the record (never red, one node away at a time, allocation held while it is away, green
between two nodes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from opensearchpy import OpenSearch


def sample(client: OpenSearch) -> dict:
    """One reading; the allocation setting first, then health and the nodes present."""
    row: dict = {"t": round(time.time(), 3)}
    try:
        persistent = client.cluster.get_settings(flat_settings=True).get("persistent", {})
        row["allocation"] = persistent.get("cluster.routing.allocation.enable")
        health = client.cluster.health()
        row["status"] = health["status"]
        row["number_of_nodes"] = health["number_of_nodes"]
        row["nodes"] = sorted(n["name"] for n in client.cat.nodes(format="json", h="name"))
    except Exception as exc:  # noqa: BLE001 -- every failure is recorded as a reading without an answer
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", nargs="+", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--stop", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--max-seconds", type=float, default=1500)
    args = parser.parse_args()
    client = OpenSearch(
        hosts=args.hosts,
        use_ssl=True,
        verify_certs=True,
        ca_certs=args.ca,
        client_cert=args.cert,
        client_key=args.key,
        timeout=5,
        max_retries=len(args.hosts),
        retry_on_timeout=True,
    )
    deadline = time.monotonic() + args.max_seconds
    stop = Path(args.stop)
    with open(args.out, "a", encoding="utf-8") as out:
        while not stop.exists() and time.monotonic() < deadline:
            out.write(json.dumps(sample(client)) + "\n")
            out.flush()
            time.sleep(args.interval)


if __name__ == "__main__":
    main()
