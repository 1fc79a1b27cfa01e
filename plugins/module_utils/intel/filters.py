"""Which MISP events and attributes become Zeek intel.

All filtering happens on the client, after the fetch: an incremental sync must see every changed
event, including one that *left* the filter (tag removed, to_ids cleared, org excluded), so that
its indicators can be removed. Server-side filtering would silently hide those events.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field


def _tag_names(tags):
    out = set()
    for tag in tags or ():
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str):
            out.add(name)
    return out


def _flag(value):
    """MISP JSON carries booleans as true/false, 0/1 or "0"/"1"."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class IntelFilter:
    """Selection rules. ``published_within_days`` ages events out unless they carry a ``keep_tags`` tag
    (CERN: events (re)published in the last 30 days plus events with chosen tags)."""

    to_ids_only: bool = True
    published_only: bool = True
    tags_include: frozenset = field(default_factory=frozenset)
    tags_exclude: frozenset = field(default_factory=frozenset)
    types: frozenset = field(default_factory=frozenset)
    orgs: frozenset = field(default_factory=frozenset)
    published_within_days: int | None = None
    keep_tags: frozenset = field(default_factory=frozenset)

    @classmethod
    def build(cls, **kwargs):
        sets = ("tags_include", "tags_exclude", "types", "orgs", "keep_tags")
        clean = {k: (frozenset(v or ()) if k in sets else v) for k, v in kwargs.items() if v is not None or k in sets}
        return cls(**clean)

    def fingerprint(self):
        """Stable digest of the *attribute-level* rules: a change forces a full resync."""
        data = asdict(self)
        data.pop("published_within_days")  # re-evaluated on every run from stored event metadata
        data.pop("keep_tags")
        canon = json.dumps({k: sorted(v) if isinstance(v, frozenset) else v for k, v in data.items()}, sort_keys=True)
        return hashlib.sha256(canon.encode()).hexdigest()

    def event_selected(self, event, event_tags):
        """Event-level rules that do not depend on the clock."""
        if self.published_only and not _flag(event.get("published", False)):
            return False
        if self.orgs:
            orgc = event.get("Orgc") or {}
            if not ({orgc.get("name"), orgc.get("uuid")} & self.orgs):
                return False
        if self.tags_exclude and event_tags & self.tags_exclude:
            return False
        return True

    def keep(self, event_tags):
        return bool(self.keep_tags and event_tags & self.keep_tags)

    def in_age_window(self, publish_timestamp, keep, now):
        if self.published_within_days is None or keep:
            return True
        return publish_timestamp >= now - self.published_within_days * 86400

    def attribute_selected(self, attribute, event_tags):
        if self.to_ids_only and not _flag(attribute.get("to_ids", False)):
            return False
        if _flag(attribute.get("deleted", False)):
            return False
        if self.types and attribute.get("type") not in self.types:
            return False
        if self.tags_include or self.tags_exclude:
            tags = _tag_names(attribute.get("Tag"))
            if self.tags_exclude and tags & self.tags_exclude:
                return False
            if self.tags_include and not ((tags | event_tags) & self.tags_include):
                return False
        return True
