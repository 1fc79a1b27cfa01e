"""OpenSearch index templates and ISM retention policies for Zeek logs.

Plain Python (no Ansible imports). The field lists are Zeek's own ``#fields``/``#types`` (see the
opensearch role's ``vars/zeek_fields.yml``); this module turns them into mappings:

- Zeek ``addr`` -> ``ip``, ``subnet`` -> ``ip_range``, ``port`` -> ``integer``, ``count``/``int``
  -> ``long``, ``double``/``interval`` -> ``double`` (intervals are seconds), ``time`` -> ``date``
  (epoch seconds with fraction, as Zeek's JSON writer emits, or ISO 8601), ``bool`` -> ``boolean``,
  ``string``/``enum``/``pattern`` -> ``keyword``; ``set[T]``/``vector[T]`` -> the type of ``T``
  (OpenSearch fields are multi-valued).
- Dotted Zeek names (``id.orig_h``) become nested ``properties`` (``id`` -> ``orig_h``), which is
  how OpenSearch maps a document that carries the dotted key, so either spelling indexes alike.
"""

from __future__ import annotations

import re
from typing import Any

ZEEK_DATE_FORMAT = "epoch_second||strict_date_optional_time"
KEYWORD_IGNORE_ABOVE = 4096  # longer values (huge URIs, headers) stay in _source, unindexed

SCALAR_TYPES: dict[str, dict[str, Any]] = {
    "addr": {"type": "ip"},
    "subnet": {"type": "ip_range"},
    "port": {"type": "integer"},
    "count": {"type": "long"},
    "int": {"type": "long"},
    "double": {"type": "double"},
    "interval": {"type": "double"},
    "time": {"type": "date", "format": ZEEK_DATE_FORMAT},
    "bool": {"type": "boolean"},
    "string": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
    "enum": {"type": "keyword"},
    "pattern": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
}

_CONTAINER = re.compile(r"^(?:set|vector)\[(\w+)\]$")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_LOG_NAME = re.compile(r"^[a-z0-9_]+$")


class ZeekMappingError(ValueError):
    """A field list or setting cannot be turned into a mapping; the message names it."""


def field_mapping(zeek_type: str, where: str = "") -> dict[str, Any]:
    """The OpenSearch mapping of one Zeek type (``set[addr]`` -> ``{"type": "ip"}``)."""
    match = _CONTAINER.match(zeek_type)
    base = match.group(1) if match else zeek_type
    try:
        return dict(SCALAR_TYPES[base])
    except KeyError:
        raise ZeekMappingError(f"{where}: unknown Zeek type {zeek_type!r}") from None


def zeek_properties(fields: dict[str, str], log: str = "?") -> dict[str, Any]:
    """Mapping ``properties`` for a Zeek log's ``{field: zeek_type}``, dotted names nested."""
    if not isinstance(fields, dict) or not fields:
        raise ZeekMappingError(f"{log}: the field list must be a non-empty mapping of name to Zeek type")
    props: dict[str, Any] = {}
    for name, zeek_type in fields.items():
        where = f"{log}.{name}"
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise ZeekMappingError(f"{where}: not a valid Zeek field name")
        parts = name.split(".")
        node = props
        for part in parts[:-1]:
            parent = node.setdefault(part, {"properties": {}})
            if "properties" not in parent:
                raise ZeekMappingError(f"{where}: {part!r} is both a field and an object")
            node = parent["properties"]
        if parts[-1] in node:
            raise ZeekMappingError(f"{where}: defined twice, or both a field and an object")
        node[parts[-1]] = field_mapping(str(zeek_type), where)
    return props


def index_pattern(prefix: str, log: str) -> str:
    return f"{prefix}-{log}-*"


def zeek_index_template(
    log: str,
    fields: dict[str, str],
    prefix: str = "zeek",
    shards: int = 1,
    replicas: int = 1,
    priority: int = 200,
    refresh_interval: str = "5s",
    pipeline: str | None = None,
    ignore_malformed: bool = True,
) -> dict[str, Any]:
    """A composable index template body for ``<prefix>-<log>-*`` indices.

    ``ignore_malformed`` (index.mapping.ignore_malformed): a value that does not fit its field's type
    (a port that is not a number, an address that is not an IP) is left out of that field's index and
    listed in the document's ``_ignored``, instead of OpenSearch refusing the whole document - which a
    shipper that replays until everything is acknowledged would retry for ever.
    """
    if not isinstance(log, str) or not _LOG_NAME.match(log):
        raise ZeekMappingError(f"log {log!r}: use lower-case letters, digits and _ only")
    if int(shards) < 1 or int(replicas) < 0:
        raise ZeekMappingError(f"{log}: shards must be >= 1 and replicas >= 0 (got {shards}, {replicas})")
    properties = zeek_properties(fields, log)
    properties.setdefault("@timestamp", {"type": "date"})
    settings: dict[str, Any] = {
        "number_of_shards": int(shards),
        "number_of_replicas": int(replicas),
        "refresh_interval": refresh_interval,
        "mapping.ignore_malformed": bool(ignore_malformed),
    }
    if pipeline:
        settings["default_pipeline"] = pipeline
    return {
        "index_patterns": [index_pattern(prefix, log)],
        "priority": int(priority),
        "_meta": {"managed_by": "socforge.core", "zeek_log": log},
        "template": {
            "settings": settings,
            "mappings": {
                # Fields a site's own Zeek scripts add are still indexed: strings as keyword.
                "dynamic_templates": [
                    {
                        "strings_as_keyword": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
                        }
                    }
                ],
                "properties": properties,
            },
        },
    }


def zeek_ism_policy(log: str, retention_days: int, prefix: str = "zeek", priority: int = 100) -> dict[str, Any]:
    """An ISM policy: indices of this log stay ``hot`` and are deleted ``retention_days`` after creation."""
    try:
        days = int(retention_days)
    except (TypeError, ValueError):
        raise ZeekMappingError(f"{log}: retention_days {retention_days!r} is not a whole number of days") from None
    if days < 1:
        raise ZeekMappingError(f"{log}: retention_days must be >= 1 (got {days})")
    return {
        "description": f"SOCForge: Zeek {log} logs - hot, deleted after {days} days",
        "default_state": "hot",
        "states": [
            {
                "name": "hot",
                "actions": [],
                "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}],
            },
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
        ],
        "ism_template": [{"index_patterns": [index_pattern(prefix, log)], "priority": int(priority)}],
    }
