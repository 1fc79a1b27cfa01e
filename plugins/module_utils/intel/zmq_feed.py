"""MISP's ZeroMQ feed -> change records -> the bridge's live store.

What MISP 2.5.1 publishes (from its source: app/Lib/Tools/PubSubTool.php, app/files/scripts/mispzmq/
mispzmq.py, the afterSave/beforeDelete hooks of app/Model/{Event,MispAttribute,MispObject,Sighting}.php),
each ZeroMQ message being ``<topic> <JSON>``:

- ``misp_json``: an event was published: the full event (``{"Event": {..., "Attribute": [...],
  "Object": [...], "Tag": [...]}}``, as restSearch returns it), no ``action``;
- ``misp_json_attribute``: ``{"Attribute": {..., "Tag": [...]}, "Event": {id, uuid, info, published,
  Orgc, ...}, "action": "add" | "edit" | "soft-delete"}`` on save; a hard delete sends only the
  attribute row, ``{"Attribute": {...}, "action": "delete"}`` (no Event, only ``event_id``);
- ``misp_json_event``: ``{"Event": {...event row...}, "action": "add" | "edit" | "delete"}``, never
  with attributes; an explicit unpublish sends NOTHING (Event::unpublishEvent sets unpublishAction,
  which skips the push): retractions are found by reconciling against the API;
- ``misp_json_object``: ``{"Object": {id, uuid, event_id, deleted, ...}, "action": ...}``, no attributes;
- ``misp_json_sighting``, ``misp_json_tag``, ...: nothing to apply to intel; ``misp_json_self``: the
  publisher's heartbeat every 10 s when idle (``{"status": ..., "uptime": N}``).

Policy (``published_only``, the intel library's default): withdrawals apply at once (hard/soft
delete, ``to_ids`` cleared, event deleted, object deleted); additions of an event's indicators wait
for its publication (``misp_json``), since MISP unpublishes an event on every edit. With
``published_only`` off, an attribute add/edit is applied as it arrives.
"""

import json
import time
from dataclasses import dataclass, field

from ansible_collections.socforge.core.plugins.module_utils.intel.events import MapStats, event_suffix, map_event
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import _flag

TOPICS = (
    "misp_json",
    "misp_json_event",
    "misp_json_attribute",
    "misp_json_object",
    "misp_json_sighting",
    "misp_json_self",
)


class FeedError(Exception):
    """A message that cannot be understood; the message names the topic and the cause."""


@dataclass
class Change:
    kind: str  # publish | attribute | attribute_delete | event_delete | event_changed | object_changed | heartbeat | ignore
    topic: str
    action: str = ""
    event_uuid: str = ""
    event_id: str = ""
    attr_uuid: str = ""
    body: dict = field(default_factory=dict)
    received: float = 0.0


def parse(raw, received=None):
    """One ZeroMQ message (bytes or str, ``topic SPACE json``) -> :class:`Change`."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw).decode("utf-8", "replace")
    topic, _, payload = raw.partition(" ")
    received = time.time() if received is None else received
    if topic not in TOPICS and not topic.startswith("misp_json"):
        raise FeedError(f"ZeroMQ message with unknown topic {topic[:60]!r}")
    try:
        data = json.loads(payload) if payload else {}
    except ValueError as exc:
        raise FeedError(f"ZeroMQ {topic}: payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FeedError(f"ZeroMQ {topic}: payload is not a JSON object")
    action = str(data.get("action") or "")
    if topic == "misp_json_self":
        return Change("heartbeat", topic, received=received, body=data)
    if topic == "misp_json":
        ev = data.get("Event", data)
        if not isinstance(ev, dict) or not ev.get("uuid"):
            raise FeedError("ZeroMQ misp_json: published event without uuid")
        # MISP sends misp_json only when it publishes an event, but it renders the event before it
        # saves the publication: the real MISP 2.5.1 sends "published": false, "publish_timestamp":
        # "0" (seen in the lab). The topic is the publication; the flag in the body is stale.
        ev = {**ev, "published": True}
        if str(ev.get("publish_timestamp") or "0") == "0":
            ev["publish_timestamp"] = str(int(received))
        return Change("publish", topic, "publish", ev["uuid"], str(ev.get("id", "")), body=ev, received=received)
    if topic == "misp_json_attribute":
        attr = data.get("Attribute")
        if not isinstance(attr, dict) or not attr.get("uuid"):
            raise FeedError(f"ZeroMQ misp_json_attribute ({action or 'no action'}): no Attribute with a uuid")
        ev = data.get("Event") if isinstance(data.get("Event"), dict) else {}
        kind = "attribute_delete" if action in ("delete", "soft-delete") or _flag(attr.get("deleted")) else "attribute"
        return Change(
            kind,
            topic,
            action,
            ev.get("uuid", ""),
            str(attr.get("event_id") or ev.get("id") or ""),
            attr["uuid"],
            body=data,
            received=received,
        )
    if topic == "misp_json_event":
        ev = data.get("Event")
        if not isinstance(ev, dict) or not ev.get("uuid"):
            raise FeedError(f"ZeroMQ misp_json_event ({action or 'no action'}): no Event with a uuid")
        kind = "event_delete" if action == "delete" else "event_changed"
        return Change(kind, topic, action, ev["uuid"], str(ev.get("id", "")), body=ev, received=received)
    if topic == "misp_json_object":
        obj = data.get("Object")
        if not isinstance(obj, dict):
            raise FeedError(f"ZeroMQ misp_json_object ({action or 'no action'}): no Object")
        return Change("object_changed", topic, action, "", str(obj.get("event_id", "")), body=obj, received=received)
    return Change("ignore", topic, action, received=received, body=data)


def _rest(suffix):
    src, _, rest = suffix.partition("\t")
    return src, rest


def _attrs_of(event):
    for attr in event.get("Attribute") or ():
        if isinstance(attr, dict):
            yield attr
    for obj in event.get("Object") or ():
        if isinstance(obj, dict) and not _flag(obj.get("deleted")):
            for attr in obj.get("Attribute") or ():
                if isinstance(attr, dict):
                    yield attr


def event_rows(event, flt, opts, stats=None):
    """``(record, {(attr uuid, key): (source, rest)})`` of one full event, per attribute.

    Uses the intel library's ``map_event`` (the same filters, normalisation and meta as the intel
    files): with ``EventRecord.attrs`` when the library provides it, else attribute by attribute."""
    stats = stats or MapStats()
    event = event.get("Event", event) if isinstance(event, dict) else {}
    rec = map_event(event, flt, opts, stats)
    if rec is None or not rec.selected:
        return rec, {}
    src, rest = _rest(rec.suffix)
    rows = {}
    attrs = getattr(rec, "attrs", None)
    if isinstance(attrs, dict) and attrs:
        for key, uuids in attrs.items():
            for uuid in uuids.split(",") if isinstance(uuids, str) else uuids:
                if uuid:
                    rows[(uuid, key)] = (src, rest)
        return rec, rows
    shell = {k: v for k, v in event.items() if k not in ("Attribute", "Object")}
    for attr in _attrs_of(event):
        uuid = attr.get("uuid")
        if not uuid:
            continue
        one = map_event({**shell, "Attribute": [attr]}, flt, opts, stats)
        if one is not None:
            for key in one.keys:
                rows[(uuid, key)] = (src, rest)
    return rec, rows


def attribute_rows(change, flt, opts, event_meta=None):
    """``{key: (source, rest)}`` of one attribute message (empty when the attribute maps to nothing)."""
    attr = change.body.get("Attribute", {})
    ev = dict(change.body.get("Event") or {})
    ev.setdefault("uuid", change.event_uuid)
    # the attribute message's Event has no tags: the event-level decision is the one the store made
    # from the last full event; here only the attribute's own filters apply
    ev["published"] = True
    ev.pop("Tag", None)
    stats = MapStats()
    rec = map_event({**ev, "Attribute": [attr], "Object": []}, flt, opts, stats)
    if rec is None or not rec.selected:
        return {}
    src, rest = _rest(event_suffix(ev, opts))
    return {key: (src, rest) for key in rec.keys}
