"""A role's defaults as plain values for tests that render its templates without Ansible: a default
that only points at a shared fact of roles/soc (``"{{ soc_x }}"``) takes that fact's value,
so the tests see what a site gets."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parent.parent / "roles"
SHARED = re.compile(r"^\{\{\s*(soc_[a-z0-9_]+)\s*\}\}$")


def shared_facts() -> dict:
    return yaml.safe_load((ROLES / "soc" / "defaults" / "main.yml").read_text())


def role_defaults(role: str) -> dict:
    facts = shared_facts()
    out = {}
    for key, value in (yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}).items():
        m = SHARED.match(value.strip()) if isinstance(value, str) else None
        out[key] = facts[m.group(1)] if m and m.group(1) in facts else value
    return out
