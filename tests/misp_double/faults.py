"""Faults a test injects into the double's answers: an HTTP status, a hang, an HTML page instead of
JSON, a truncated body.  Each matches a path pattern and a number of requests (or all of them)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    kind: str  # "status" | "hang" | "garbage" | "truncate" | "reset"
    status: int = 500
    delay: float | None = None  # hang: seconds before answering normally; None: until the double stops
    remaining: int | None = None  # None: every matching request
    path: re.Pattern[str] | None = None
    hits: int = 0


class Faults:
    """The faults in force, in the order added; the first matching one answers a request."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The fault answering a request for ``path`` (its count used up by one), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.path is not None and not fault.path.search(path):
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def path_re(path: str | None) -> re.Pattern[str] | None:
    return re.compile(path) if path else None
