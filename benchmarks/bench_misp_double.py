"""How fast the MISP test double is, so test authors know what a fixture and a query cost.

Prints: data load (first parse, then per-test copy), server start, full and paged attribute pulls
through real pymisp, an events pull, and the cost of OpenAPI checking per attribute served.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pymisp import PyMISP  # noqa: E402 -- after the path set-up

from tests.misp_double import MispDouble, fresh_dataset  # noqa: E402 -- after the path set-up
from tests.misp_double.data import _pickled  # noqa: E402 -- after the path set-up


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    _pickled.cache_clear()
    first, _ = timed(fresh_dataset)
    copy, data = timed(fresh_dataset, repeat=5)
    attrs = sum(len(e["Attribute"]) + sum(len(o["Attribute"]) for o in e["Object"]) for e in data.events.values())
    print(f"data: {len(data.events)} events, {attrs} attributes")
    print(f"first load (parse + normalise): {first * 1000:.0f} ms")
    print(f"fresh copy per test (median of 5): {copy * 1000:.0f} ms")

    start, double = timed(lambda: MispDouble().start())
    print(f"server start: {start * 1000:.1f} ms")
    try:
        misp = PyMISP(double.url, double.key, ssl=False, timeout=60)
        full, result = timed(lambda: misp.search(controller="attributes", to_ids=1), repeat=3)
        count = len(result["Attribute"])
        print(
            f"pymisp attributes/restSearch to_ids=1, one answer: {count} attributes in {full:.2f} s "
            f"({count / full:,.0f} attributes/s)"
        )

        def paged() -> int:
            total, page = 0, 1
            while True:
                chunk = misp.search(controller="attributes", to_ids=1, limit=1000, page=page)["Attribute"]
                total += len(chunk)
                if len(chunk) < 1000:
                    return total
                page += 1

        paged_time, paged_count = timed(paged)
        print(f"pymisp paged pull, limit 1000: {paged_count} attributes in {paged_time:.2f} s")
        events_time, events = timed(lambda: misp.search(controller="events"))
        print(f"pymisp events/restSearch, all events with attributes: {len(events)} events in {events_time:.2f} s")
    finally:
        double.stop()

    with MispDouble(openapi="record") as checked:
        misp = PyMISP(checked.url, checked.key, ssl=False, timeout=120)
        plain_double = MispDouble().start()
        try:
            plain = PyMISP(plain_double.url, plain_double.key, ssl=False, timeout=60)
            base, _ = timed(lambda: plain.search(controller="attributes", type_attribute="domain", limit=1000), 3)
        finally:
            plain_double.stop()
        with_check, _ = timed(lambda: misp.search(controller="attributes", type_attribute="domain", limit=1000), 3)
        print(
            f"OpenAPI checking: {(with_check - base):.2f} s extra per 1000 attributes "
            f"({(with_check - base):.2f} ms per attribute); violations: {len(checked.openapi.violations)}"
        )


if __name__ == "__main__":
    main()
