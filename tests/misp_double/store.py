"""The MISP double's event store: events, attributes, tags, sightings, proposals, warninglists and the
clock, changed with MISP's edit semantics (timestamps bumped, events unpublished) and rendered as the
JSON MISP sends for them.  No HTTP here: :class:`~tests.misp_double.server.MispDouble` serves a store.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid as uuidlib
from collections.abc import Iterable
from typing import Any

from .data import LOCAL_ORG, Builder, Dataset, describe_types, iter_attributes, make_tag
from .errors import HttpError
from .search import Query, Warninglists

# Attribute keys never sent to clients (internal bookkeeping).
_INTERNAL = ("_keep_id", "_sightings", "_proposals", "_order")
_EVENT_STUB_KEYS = ("org_id", "distribution", "id", "info", "orgc_id", "uuid", "publish_timestamp")
EVENT_META_KEYS = (
    "id",
    "org_id",
    "date",
    "info",
    "uuid",
    "published",
    "analysis",
    "attribute_count",
    "orgc_id",
    "timestamp",
    "distribution",
    "sharing_group_id",
    "proposal_email_lock",
    "locked",
    "threat_level_id",
    "publish_timestamp",
    "disable_correlation",
    "extends_uuid",
)


class EventStore:
    """The data a MISP double serves (``data``: the live :class:`Dataset`) and the controls tests use to
    change it the way MISP would."""

    def __init__(self, data: Dataset, now: float | None = None) -> None:
        self.data = data
        self.warninglists = Warninglists()
        self._lock = threading.RLock()
        self._clock: float | None = now

    # ------------------------------------------------------------------ clock
    @property
    def now(self) -> int:
        """The double's clock (epoch seconds): real time unless set_time() froze it."""
        return int(self._clock if self._clock is not None else time.time())

    def set_time(self, epoch: float | None) -> None:
        """Freeze the clock used for edit timestamps and relative filters ('30d'); None: real time."""
        self._clock = epoch

    def advance(self, seconds: float) -> int:
        """Move the (frozen) clock forward; freezes it at real time first if needed.  Returns the new now."""
        self._clock = (self._clock if self._clock is not None else time.time()) + seconds
        return self.now

    # ------------------------------------------------------------------ data inspection
    def event(self, ref: int | str) -> dict[str, Any]:
        """The stored event by id or uuid (the live dict: changing it changes what the double serves)."""
        with self._lock:
            event = self.find_event(str(ref))
            if event is None:
                raise KeyError(f"MISP double: no event {ref!r}")
            return event

    def attribute(self, ref: int | str) -> dict[str, Any]:
        """The stored attribute by id or uuid (live dict)."""
        with self._lock:
            found = self.find_attribute(str(ref))
            if found is None:
                raise KeyError(f"MISP double: no attribute {ref!r}")
            return found[0]

    def attributes(self, *, event: int | str | None = None, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All stored attributes (object attributes included), optionally of one event."""
        with self._lock:
            events = [self.event(event)] if event is not None else list(self.data.events.values())
            return [a for e in events for a, _ in iter_attributes(e) if include_deleted or not a["deleted"]]

    @property
    def sightings(self) -> list[dict[str, Any]]:
        return self.data.sightings

    @property
    def proposals(self) -> list[dict[str, Any]]:
        return self.data.proposals

    # ------------------------------------------------------------------ data controls (MISP edit semantics)
    def add_event(self, event: dict[str, Any], *, published: bool | None = None) -> dict[str, Any]:
        """Store a new event (MISP JSON, ``{"Event": ...}`` or bare).  Ids are assigned as MISP does;
        timestamps missing from the JSON are set to now.  Returns the stored event."""
        raw = event.get("Event", event)
        with self._lock:
            if raw.get("uuid") and self.find_event(raw["uuid"]) is not None:
                raise ValueError(f"MISP double: event {raw['uuid']} exists; use replace_event()")
            stored = self._store_event(raw)
            if published is not None:
                stored["published"] = published
                if published and stored["publish_timestamp"] == "0":
                    stored["publish_timestamp"] = str(self.now)
            return stored

    def replace_event(self, event: dict[str, Any], *, bump: bool = True) -> dict[str, Any]:
        """Replace the event with the same uuid by ``event`` (keeping its id and its attributes' ids), as a
        sync would.  With ``bump`` the event and every attribute whose content changed get timestamp=now.
        Attributes missing from ``event`` are gone (a hard delete); use soft_delete_attribute() for
        MISP's soft delete.  Bad input raises ValueError and leaves the stored event untouched."""
        raw = event.get("Event", event)
        with self._lock:
            old = self.find_event(str(raw.get("uuid")))
            if old is None:
                raise KeyError(f"MISP double: no event with uuid {raw.get('uuid')!r} to replace")
            old_attrs = {a["uuid"]: a for a, _ in iter_attributes(old)}
            _check_event(raw)  # before anything is removed: bad input leaves the stored event as it was
            del self.data.events[int(old["id"])]
            try:
                stored = self._store_event(raw, event_id=old["id"], attr_ids={u: a["id"] for u, a in old_attrs.items()})
            except Exception:
                self.data.events[int(old["id"])] = old
                raise
            if bump:
                stamp = str(self.now)
                stored["timestamp"] = stamp
                for attr, _ in iter_attributes(stored):
                    before = old_attrs.get(attr["uuid"])
                    if before is None or _content(before) != _content(attr):
                        attr["timestamp"] = stamp
            return stored

    def delete_event(self, ref: int | str) -> None:
        """Hard-delete an event, as MISP's events/delete does (it then vanishes from every search)."""
        with self._lock:
            event = self.event(ref)
            del self.data.events[int(event["id"])]

    def add_attribute(
        self,
        event: int | str,
        type: str,
        value: str,
        *,
        to_ids: bool = True,
        category: str | None = None,
        tags: Iterable[str] = (),
        comment: str = "",
        object_id: int | str | None = None,
    ) -> dict[str, Any]:
        """Add an attribute as MISP's attributes/add does: timestamps now, event unpublished."""
        with self._lock:
            stored_event = self.event(event)
            builder = self._builder()
            attr = builder.attribute(
                {
                    "type": type,
                    "value": value,
                    "to_ids": to_ids,
                    "category": category or default_category(type),
                    "comment": comment,
                    "timestamp": self.now,
                    "Tag": [{"name": t} for t in tags],
                },
                keep_ids=False,
            )
            for key in _INTERNAL:
                attr.pop(key, None)
            attr["id"] = self.data.next_id("attribute")
            attr["event_id"] = stored_event["id"]
            if object_id is None:
                stored_event["Attribute"].append(attr)
            else:
                obj = next((o for o in stored_event["Object"] if o["id"] == str(object_id)), None)
                if obj is None:
                    raise KeyError(f"MISP double: event {event} has no object {object_id}")
                attr["object_id"] = obj["id"]
                obj["Attribute"].append(attr)
            self.touch(stored_event)
            return attr

    def edit_attribute(self, ref: int | str, **fields: Any) -> dict[str, Any]:
        """Change attribute fields (``to_ids=False``, ``value=...``, ``type=...``) as an edit in MISP:
        attribute and event timestamp become now and the event is unpublished."""
        with self._lock:
            attr, _, event = self.attribute_or_404(str(ref))
            unknown = set(fields) - {"to_ids", "value", "type", "category", "comment", "distribution", "deleted"}
            if unknown:
                raise ValueError(f"MISP double: edit_attribute cannot set {sorted(unknown)}")
            attr.update(fields)
            attr["timestamp"] = str(self.now)
            self.touch(event)
            return attr

    def set_to_ids(self, ref: int | str, to_ids: bool) -> dict[str, Any]:
        """Set or clear the IDS flag of an attribute (an edit: timestamps bumped, event unpublished)."""
        return self.edit_attribute(ref, to_ids=bool(to_ids))

    def soft_delete_attribute(self, ref: int | str) -> dict[str, Any]:
        """Soft-delete as MISP does: deleted=true, timestamps now, event unpublished; it then only shows up
        in restSearch with ``deleted: 1`` or ``deleted: [0, 1]``."""
        return self.edit_attribute(ref, deleted=True)

    def set_tags(self, ref: int | str, tags: Iterable[str], *, on: str = "auto") -> list[dict[str, Any]]:
        """Replace the tags of an event or attribute (``on``: "event", "attribute" or "auto": try the
        event first).  Bumps timestamps like a MISP edit."""
        with self._lock:
            target, event = self._tag_target(str(ref), on)
            target["Tag"] = [make_tag({"name": t}) for t in tags]
            if target is not event:
                target["timestamp"] = str(self.now)
            self.touch(event)
            return target["Tag"]

    def add_tag(self, ref: int | str, tag: str, *, on: str = "auto") -> None:
        with self._lock:
            target, _ = self._tag_target(str(ref), on)
            names = [t["name"] for t in target["Tag"]]
            if tag not in names:
                self.set_tags(ref, [*names, tag], on=on)

    def remove_tag(self, ref: int | str, tag: str, *, on: str = "auto") -> None:
        with self._lock:
            target, _ = self._tag_target(str(ref), on)
            self.set_tags(ref, [t["name"] for t in target["Tag"] if t["name"] != tag], on=on)

    def publish_event(self, ref: int | str) -> dict[str, Any]:
        """Publish: published=true, publish_timestamp=now (the 'last'/'publish_timestamp' filters see it)."""
        with self._lock:
            event = self.event(ref)
            event["published"] = True
            event["publish_timestamp"] = str(self.now)
            return event

    def unpublish_event(self, ref: int | str) -> dict[str, Any]:
        with self._lock:
            event = self.event(ref)
            event["published"] = False
            return event

    def add_warninglist(self, name: str, values: Iterable[str], list_type: str = "string") -> None:
        """Enable a warninglist: values on it are dropped by restSearch when enforceWarninglist is set.
        ``list_type``: string (exact), hostname (the value or a parent domain) or cidr."""
        with self._lock:
            self.warninglists.add(name, values, list_type)

    def add_server(self, name: str, url: str, *, pull: bool = True, push: bool = False) -> dict[str, Any]:
        """Add a sync server to /servers/index (the double never contacts it)."""
        with self._lock:
            server = {
                "id": str(len(self.data.servers) + 1),
                "name": name,
                "url": url,
                "push": push,
                "pull": pull,
                "push_sightings": False,
                "caching_enabled": False,
                "remote_org_id": LOCAL_ORG["id"],
                "self_signed": False,
                "internal": False,
                "skip_proxy": False,
                "priority": str(len(self.data.servers) + 1),
            }
            self.data.servers.append(server)
            return server

    def new_proposal(self, event: dict[str, Any], fields: dict[str, Any], old_id: str = "0") -> dict[str, Any]:
        """Store a proposal (shadow attribute) for ``event``: a new attribute, or (``old_id``) a change to
        or the deletion of an existing one."""
        proposal = {
            "id": self.data.next_id("proposal"),
            "old_id": old_id,
            "event_id": event["id"],
            "type": fields["type"],
            "category": fields.get("category") or default_category(fields["type"]),
            "value": str(fields["value"]),
            "to_ids": bool(fields.get("to_ids", True)),
            "uuid": str(fields.get("uuid") or uuidlib.uuid4()),
            "comment": str(fields.get("comment") or ""),
            "org_id": LOCAL_ORG["id"],
            "event_uuid": event["uuid"],
            "deleted": False,
            "proposal_to_delete": bool(fields.get("proposal_to_delete", False)),
            "disable_correlation": bool(fields.get("disable_correlation", False)),
            "timestamp": str(self.now),
            "first_seen": fields.get("first_seen"),
            "last_seen": fields.get("last_seen"),
            "Org": dict(LOCAL_ORG),
        }
        self.data.proposals.append(proposal)
        return proposal

    # ------------------------------------------------------------------ lookups and internals
    def _builder(self) -> Builder:
        builder = Builder()
        builder.ds = self.data  # reuse org registry and id counters
        builder.org_ids = {int(o["id"]) for o in self.data.orgs.values()}
        for kind in builder.used:
            builder.used[kind] = set()
        builder.used["sighting"] = {int(s["id"]) for s in self.data.sightings}
        return builder

    def _store_event(
        self, raw: dict[str, Any], event_id: str | None = None, attr_ids: dict[str, str] | None = None
    ) -> dict[str, Any]:
        _check_event(raw)
        raw = copy.deepcopy(raw)
        stamp = str(self.now)
        raw.setdefault("timestamp", stamp)
        for attr in [
            *(raw.get("Attribute") or []),
            *(a for o in raw.get("Object") or [] for a in o.get("Attribute") or []),
        ]:
            attr.setdefault("timestamp", raw["timestamp"])
            attr.pop("id", None)
            attr.pop("event_id", None)
        raw.pop("id", None)
        builder = self._builder()
        event = builder.add_event(raw, keep_ids=False)
        event["_keep_id"] = event_id
        for attr, _ in iter_attributes(event):
            attr["_keep_id"] = (attr_ids or {}).get(attr["uuid"])
        for obj in event["Object"]:
            obj["_keep_id"] = None
        builder.finish([event])
        return event

    def touch(self, event: dict[str, Any]) -> None:
        event["timestamp"] = str(self.now)
        event["published"] = False
        event["attribute_count"] = str(sum(1 for a, _ in iter_attributes(event) if not a["deleted"]))

    def find_event(self, ref: str) -> dict[str, Any] | None:
        if ref.isdigit():
            return self.data.events.get(int(ref))
        return next((e for e in self.data.events.values() if e["uuid"] == ref), None)

    def find_attribute(self, ref: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]] | None:
        key = "id" if ref.isdigit() else "uuid"
        for event in self.data.events.values():
            for attr, obj in iter_attributes(event):
                if attr[key] == ref:
                    return attr, obj, event
        return None

    def attribute_or_404(self, ref: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        found = self.find_attribute(ref)
        if found is None:
            raise HttpError(404, "Invalid attribute", f"Invalid attribute {ref}")
        return found

    def _tag_target(self, ref: str, on: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if on not in ("auto", "event", "attribute"):
            raise ValueError(f"on must be auto, event or attribute, got {on!r}")
        if on in ("auto", "event"):
            event = self.find_event(ref)
            if event is not None:
                return event, event
            if on == "event":
                raise KeyError(f"MISP double: no event {ref!r}")
        found = self.find_attribute(ref)
        if found is None:
            raise KeyError(f"MISP double: no attribute {ref!r}")
        return found[0], found[2]

    # ------------------------------------------------------------------ rendering: the JSON MISP sends
    def tags_json(self, tags: list[dict[str, Any]], inherited: bool = False) -> list[dict[str, Any]]:
        out = []
        for tag in tags:
            rendered = {
                "id": self.data.tag_id(tag["name"]),
                "name": tag["name"],
                "colour": tag["colour"],
                "exportable": tag["exportable"],
                "user_id": "0",
                "hide_tag": tag["hide_tag"],
                "numerical_value": None,
                "is_galaxy": tag["name"].startswith("misp-galaxy:"),
                "is_custom_galaxy": False,
                "local_only": False,
                "local": 1 if tag["local"] else 0,
            }
            if inherited:
                rendered["inherited"] = 1
            out.append(rendered)
        return out

    def attribute_json(
        self,
        attr: dict[str, Any],
        event: dict[str, Any],
        *,
        with_event: bool = False,
        query: Query | None = None,
        obj: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = {k: v for k, v in attr.items() if k not in _INTERNAL and k != "Tag"}
        if with_event:
            out["Event"] = {k: event[k] for k in _EVENT_STUB_KEYS}
            if obj is not None:
                out["Object"] = {k: obj[k] for k in ("id", "distribution", "sharing_group_id")}
        tags = self.tags_json(attr["Tag"])
        if query is not None and query.include_event_tags:
            own = {t["name"] for t in attr["Tag"]}
            tags += self.tags_json([t for t in event["Tag"] if t["name"] not in own], inherited=True)
        if tags:
            out["Tag"] = tags
        if query is not None and query.include_event_uuid:
            out["event_uuid"] = event["uuid"]
        if query is not None and query.include_sightings:
            out["Sighting"] = [s for s in self.data.sightings if s["attribute_id"] == attr["id"]]
        if not with_event:
            out["ShadowAttribute"] = [proposal_json(p) for p in self.data.proposals if p["old_id"] == attr["id"]]
        return out

    def event_json(self, event: dict[str, Any], query: Query | None = None) -> dict[str, Any]:
        out = {k: v for k, v in event.items() if k not in _INTERNAL and k not in ("Attribute", "Object", "Tag")}
        out["Tag"] = self.tags_json(event["Tag"])
        if query is not None and query.metadata:
            return out

        def keep(attr: dict[str, Any]) -> bool:
            """Which attributes a returned event carries: MISP applies deleted, to_ids and the
            warninglists to the event's attributes; the other filters only select events."""
            if query is None:
                return not attr["deleted"]
            if attr["deleted"] not in query.deleted:
                return False
            if query.to_ids is not None and attr["to_ids"] not in query.to_ids:
                return False
            return not (query.enforce_warninglist and self.warninglists.hits(attr["type"], attr["value"]))

        out["Attribute"] = [self.attribute_json(a, event, query=query) for a in event["Attribute"] if keep(a)]
        out["Object"] = []
        for obj in event["Object"]:
            rendered = {k: v for k, v in obj.items() if k not in _INTERNAL and k != "Attribute"}
            rendered["Attribute"] = [self.attribute_json(a, event, query=query) for a in obj["Attribute"] if keep(a)]
            out["Object"].append(rendered)
        out["ShadowAttribute"] = [
            proposal_json(p) for p in self.data.proposals if p["event_id"] == event["id"] and p["old_id"] == "0"
        ]
        return out

    def event_meta_json(self, event: dict[str, Any]) -> dict[str, Any]:
        out = {k: event[k] for k in EVENT_META_KEYS}
        out["Org"] = dict(event["Org"])
        out["Orgc"] = dict(event["Orgc"])
        out["EventTag"] = [
            {"id": str(i), "event_id": event["id"], "tag_id": t["id"], "local": bool(t["local"]), "Tag": t}
            for i, t in enumerate(self.tags_json(event["Tag"]), start=1)
        ]
        return out


def _check_event(raw: Any) -> None:
    """Refuse event JSON the double could not serve, naming the offending part."""
    if not isinstance(raw, dict) or not isinstance(raw.get("info"), str):
        raise ValueError("MISP double: an event needs a JSON object with an 'info' string")
    attrs = list(enumerate(raw.get("Attribute") or []))
    for o_index, obj in enumerate(raw.get("Object") or []):
        if not isinstance(obj, dict):
            raise ValueError(f"MISP double: event {raw['info']!r}: Object[{o_index}] is not an object")
        attrs += [(f"Object[{o_index}].Attribute[{i}]", a) for i, a in enumerate(obj.get("Attribute") or [])]
    for where, attr in attrs:
        label = where if isinstance(where, str) else f"Attribute[{where}]"
        if not isinstance(attr, dict):
            raise ValueError(f"MISP double: event {raw['info']!r}: {label} is not an object")
        for key in ("type", "value"):
            if not isinstance(attr.get(key), str) or not attr[key]:
                raise ValueError(f"MISP double: event {raw['info']!r}: {label} needs a non-empty '{key}' string")


def proposal_json(proposal: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in proposal.items() if k not in _INTERNAL}


def _content(attr: dict[str, Any]) -> tuple:
    return (
        attr["type"],
        attr["value"],
        attr["category"],
        attr["to_ids"],
        attr["deleted"],
        attr["comment"],
        tuple(sorted(t["name"] for t in attr["Tag"])),
    )


def default_category(attr_type: str) -> str:
    sane = describe_types().get("sane_defaults", {}).get(attr_type)
    return sane["default_category"] if sane else "Other"
