"""Polling options shared by the socforge.core modules that wait for a cluster state (plain Python).

The argument spec matches the ``socforge.core.polling`` doc fragment.
"""

from __future__ import annotations


def polling_argument_spec() -> dict:
    """``timeout`` and ``interval``, as an Ansible argument spec."""
    return {
        "timeout": {"type": "int", "default": 180},
        "interval": {"type": "int", "default": 2},
    }


def polling_problem(params: dict) -> str | None:
    """A message naming the bad polling option, or None when ``timeout``/``interval`` are usable."""
    if params["timeout"] < 0:
        return f"timeout must be >= 0 (got {params['timeout']})"
    if params["interval"] < 1:
        return f"interval must be >= 1 (got {params['interval']})"
    return None
