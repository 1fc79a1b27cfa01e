"""Load the real MISP events in ``../shared/data`` into the shape a MISP instance serves them in.

The files come in three shapes: full events as exported by a MISP instance (``{"Event": {...}}`` with
ids), events in MISP *feed* format (no ids, no ``event_id`` on attributes, only ``Orgc``), and PyMISP's
test fixtures (a bare event dict).  A MISP instance that stores them gives every event, object and
attribute a numeric id, sets ``event_id``/``object_id`` on attributes, an ``Org`` (local owner) and
``Orgc`` (creator) with ids, and fills the flags MISP always returns (``deleted``, ``to_ids``...).  This
module does that once per process; :func:`fresh_dataset` hands out an independent copy per test.
"""

from __future__ import annotations

import functools
import json
import pickle
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"

# The real events loaded by default, relative to SHARED_DATA.  Files that are fragments (no uuid/info)
# or a second version of an event already listed (existing_event_edited.json) are not loaded: tests
# use the latter through MispDouble.replace_event().
PYMISP_EVENT_FILES = (
    "misp-events/misp-core-tests/event.json",
    "misp-events/pymisp-tests/57c4445b-c548-4654-af0b-4be3950d210f.json",
    "misp-events/pymisp-tests/misp_event.json",
    "misp-events/pymisp-tests/new_misp_event.json",
    "misp-events/pymisp-tests/mispevent_testfiles/existing_event.json",
    "misp-events/pymisp-tests/mispevent_testfiles/shadow.json",
    "misp-events/pymisp-tests/reportlab_testfiles/long_event.json",
    "misp-events/pymisp-tests/reportlab_testfiles/mainly_objects_1.json",
    "misp-events/pymisp-tests/reportlab_testfiles/sighting_1.json",
    "misp-events/pymisp-tests/reportlab_testfiles/to_delete1.json",
)
INFOBLOX_FEED = "misp-feed-infoblox"
FEED_DEFAULTS = "misp-feed-metadata/defaults.json"
DESCRIBE_TYPES = "misp-describetypes/describeTypes.json"

DATASETS = ("pymisp", "infoblox")

# The organisation that owns the double's copy of every event (MISP's "Org": the local owner).
LOCAL_ORG = {"id": "1", "name": "SOCForge-Test", "uuid": "0b3a9d0c-5f3e-4d0e-9a51-50cf0e5a7e01"}

ATTRIBUTE_DEFAULTS: dict[str, Any] = {
    "object_id": "0",
    "object_relation": None,
    "category": "Other",
    "to_ids": False,
    "distribution": "5",
    "sharing_group_id": "0",
    "comment": "",
    "deleted": False,
    "disable_correlation": False,
    "first_seen": None,
    "last_seen": None,
}
EVENT_DEFAULTS: dict[str, Any] = {
    "distribution": "3",
    "sharing_group_id": "0",
    "analysis": "0",
    "threat_level_id": "4",
    "published": False,
    "publish_timestamp": "0",
    "locked": False,
    "proposal_email_lock": False,
    "disable_correlation": False,
    "extends_uuid": "",
    "sighting_timestamp": "0",
}
# Keys of a stored attribute that MISP does not return inside the attribute itself.
ATTRIBUTE_CHILDREN = ("Tag", "Sighting", "ShadowAttribute", "Galaxy", "AttributeTag", "RelatedAttribute")


@dataclass
class Dataset:
    """Everything the double serves; mutated by the server and the test controls."""

    events: dict[int, dict[str, Any]] = field(default_factory=dict)  # event id -> stored Event dict
    orgs: dict[str, dict[str, str]] = field(default_factory=dict)  # org uuid -> {id, name, uuid}
    sightings: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)  # ShadowAttribute dicts
    feeds: list[dict[str, Any]] = field(default_factory=list)
    servers: list[dict[str, Any]] = field(default_factory=list)
    tag_ids: dict[str, str] = field(default_factory=dict)  # tag name -> id, assigned on first sight
    next_ids: dict[str, int] = field(default_factory=dict)

    def tag_id(self, name: str) -> str:
        if name not in self.tag_ids:
            self.tag_ids[name] = str(len(self.tag_ids) + 1)
        return self.tag_ids[name]

    def next_id(self, kind: str) -> str:
        value = self.next_ids.get(kind, 1)
        self.next_ids[kind] = value + 1
        return str(value)


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"MISP double: cannot load {path}: {exc}") from exc


def _unwrap_event(raw: Any, path: Path) -> dict[str, Any]:
    if isinstance(raw, dict) and isinstance(raw.get("Event"), dict):
        raw = raw["Event"]
    if not isinstance(raw, dict) or "info" not in raw:
        raise RuntimeError(f"MISP double: {path} is not a MISP event (no Event/info)")
    return raw


def _str_ts(value: Any, default: str) -> str:
    if value in (None, ""):
        return default
    return str(int(float(value)))


class Builder:
    """Turns loaded event dicts into stored events with ids, like MISP's import does."""

    def __init__(self) -> None:
        self.ds = Dataset()
        self.used: dict[str, set[int]] = {"event": set(), "attribute": set(), "object": set(), "sighting": set()}
        self.ds.orgs[LOCAL_ORG["uuid"]] = dict(LOCAL_ORG)
        self.org_ids = {int(LOCAL_ORG["id"])}

    def org(self, raw: dict[str, Any] | None) -> dict[str, str]:
        raw = raw or {}
        org_uuid = raw.get("uuid") or str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, raw.get("name", "unknown")))
        known = self.ds.orgs.get(org_uuid)
        if known:
            return dict(known)
        wanted = int(raw["id"]) if str(raw.get("id", "")).isdigit() else None
        if wanted is None or wanted in self.org_ids:
            wanted = max(self.org_ids) + 1
        self.org_ids.add(wanted)
        org = {"id": str(wanted), "name": raw.get("name") or "unknown", "uuid": org_uuid}
        self.ds.orgs[org_uuid] = org
        return dict(org)

    def claim(self, kind: str, raw_id: Any) -> str | None:
        if str(raw_id or "").isdigit() and int(raw_id) not in self.used[kind]:
            self.used[kind].add(int(raw_id))
            return str(int(raw_id))
        return None

    def add_event(self, raw: dict[str, Any], keep_ids: bool) -> dict[str, Any]:
        event = {k: v for k, v in raw.items() if k not in ("Attribute", "Object", "RelatedEvent", "ShadowAttribute")}
        for key, value in EVENT_DEFAULTS.items():
            event.setdefault(key, value)
        event["uuid"] = str(raw.get("uuid") or uuidlib.uuid4())
        event["_keep_id"] = self.claim("event", raw.get("id")) if keep_ids else None
        orgc = self.org(raw.get("Orgc") or raw.get("Org"))
        event["Orgc"] = orgc
        event["orgc_id"] = orgc["id"]
        event["Org"] = dict(LOCAL_ORG)
        event["org_id"] = LOCAL_ORG["id"]
        event["timestamp"] = _str_ts(raw.get("timestamp"), "0")
        event["publish_timestamp"] = _str_ts(raw.get("publish_timestamp"), "0")
        event["sighting_timestamp"] = _str_ts(raw.get("sighting_timestamp"), "0")
        for key in ("analysis", "threat_level_id", "distribution", "sharing_group_id"):
            event[key] = str(event[key])
        event["published"] = bool(event["published"])
        event["Tag"] = [make_tag(t) for t in raw.get("Tag") or []]
        event["Galaxy"] = raw.get("Galaxy") or []
        event["RelatedEvent"] = []
        event["Attribute"] = [self.attribute(a, keep_ids) for a in raw.get("Attribute") or []]
        event["Object"] = []
        for obj in raw.get("Object") or []:
            stored = {k: v for k, v in obj.items() if k != "Attribute"}
            stored["_keep_id"] = self.claim("object", obj.get("id")) if keep_ids else None
            stored.setdefault("uuid", str(uuidlib.uuid4()))
            stored.setdefault("deleted", False)
            stored.setdefault("distribution", "5")
            stored.setdefault("sharing_group_id", "0")
            stored.setdefault("comment", "")
            stored["timestamp"] = _str_ts(obj.get("timestamp"), event["timestamp"])
            stored["Attribute"] = [self.attribute(a, keep_ids) for a in obj.get("Attribute") or []]
            event["Object"].append(stored)
        return event

    def attribute(self, raw: dict[str, Any], keep_ids: bool) -> dict[str, Any]:
        attr = {k: v for k, v in raw.items() if k not in ATTRIBUTE_CHILDREN}
        for key, value in ATTRIBUTE_DEFAULTS.items():
            attr.setdefault(key, value)
        attr["_keep_id"] = self.claim("attribute", raw.get("id")) if keep_ids else None
        attr["uuid"] = str(raw.get("uuid") or uuidlib.uuid4())
        attr["timestamp"] = _str_ts(raw.get("timestamp"), "0")
        attr["to_ids"] = bool(attr["to_ids"])
        attr["deleted"] = bool(attr["deleted"])
        attr["disable_correlation"] = bool(attr["disable_correlation"])
        attr["distribution"] = str(attr["distribution"])
        attr["Tag"] = [make_tag(t) for t in raw.get("Tag") or []]
        attr["_sightings"] = raw.get("Sighting") or []
        attr["_proposals"] = raw.get("ShadowAttribute") or []
        return attr

    def finish(self, staged: list[dict[str, Any]]) -> Dataset:
        """Give everything ids (kept ids first, so they never collide) and link children to parents."""
        ds = self.ds
        for kind in ("event", "attribute", "object", "sighting"):
            ds.next_ids[kind] = max(ds.next_ids.get(kind, 1), max(self.used[kind] | {0}) + 1)
        ds.next_ids.setdefault("proposal", 1)
        for event in staged:
            event_id = event.pop("_keep_id") or ds.next_id("event")
            event["id"] = event_id
            ds.events[int(event_id)] = event
            for attr, obj in iter_attributes(event):
                attr["id"] = attr.pop("_keep_id") or ds.next_id("attribute")
                attr["event_id"] = event_id
                if obj is not None:
                    if "_keep_id" in obj:
                        obj["id"] = obj.pop("_keep_id") or ds.next_id("object")
                        obj["event_id"] = event_id
                    attr["object_id"] = obj["id"]
                for sighting in attr.pop("_sightings"):
                    self.sighting(sighting, attr, event)
                for proposal in attr.pop("_proposals"):
                    self.proposal(proposal, attr, event)
            for obj in event["Object"]:  # objects without attributes
                if "_keep_id" in obj:
                    obj["id"] = obj.pop("_keep_id") or ds.next_id("object")
                    obj["event_id"] = event_id
            event["attribute_count"] = str(sum(1 for a, _ in iter_attributes(event) if not a["deleted"]))
        return ds

    def sighting(self, raw: dict[str, Any], attr: dict[str, Any], event: dict[str, Any]) -> None:
        org = self.org(raw.get("Organisation"))
        self.ds.sightings.append(
            {
                "id": self.claim("sighting", raw.get("id")) or self.ds.next_id("sighting"),
                "attribute_id": attr["id"],
                "event_id": event["id"],
                "org_id": org["id"],
                "date_sighting": _str_ts(raw.get("date_sighting"), "0"),
                "uuid": raw.get("uuid") or str(uuidlib.uuid4()),
                "source": raw.get("source") or "",
                "type": str(raw.get("type", "0")),
                "attribute_uuid": attr["uuid"],
                "Organisation": org,
            }
        )

    def proposal(self, raw: dict[str, Any], attr: dict[str, Any], event: dict[str, Any]) -> None:
        proposal = {k: v for k, v in raw.items() if k != "Org"}
        proposal["id"] = self.ds.next_id("proposal")
        proposal["old_id"] = attr["id"]
        proposal["event_id"] = event["id"]
        proposal["event_uuid"] = event["uuid"]
        proposal["Org"] = self.org(raw.get("Org"))
        proposal["org_id"] = proposal["Org"]["id"]
        proposal.setdefault("deleted", False)
        proposal.setdefault("proposal_to_delete", False)
        self.ds.proposals.append(proposal)


def make_tag(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": raw["name"],
        "colour": raw.get("colour") or "#ffffff",
        "exportable": raw.get("exportable", True),
        "local": bool(raw.get("local", False)),
        "hide_tag": raw.get("hide_tag", False),
    }


def iter_attributes(event: dict[str, Any]):
    """Yield ``(attribute, object_or_None)`` for every attribute of a stored event, objects included."""
    for attr in event.get("Attribute", []):
        yield attr, None
    for obj in event.get("Object", []):
        for attr in obj.get("Attribute", []):
            yield attr, obj


def _build(datasets: tuple[str, ...], data_dir: Path) -> Dataset:
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise ValueError(f"MISP double: unknown dataset(s) {sorted(unknown)}; known: {list(DATASETS)}")
    builder = Builder()
    staged: list[dict[str, Any]] = []
    if "pymisp" in datasets:
        for rel in PYMISP_EVENT_FILES:
            path = data_dir / rel
            staged.append(builder.add_event(_unwrap_event(_read_json(path), path), keep_ids=True))
    if "infoblox" in datasets:
        feed_dir = data_dir / INFOBLOX_FEED
        manifest = _read_json(feed_dir / "manifest.json")
        for event_uuid in sorted(manifest):
            path = feed_dir / "events" / f"{event_uuid}.json"
            staged.append(builder.add_event(_unwrap_event(_read_json(path), path), keep_ids=False))
    dataset = builder.finish(staged)
    feeds_path = data_dir / FEED_DEFAULTS
    if feeds_path.exists():
        for index, entry in enumerate(_read_json(feeds_path), start=1):
            feed = dict(entry["Feed"])
            feed["id"] = str(index)
            dataset.feeds.append(feed)
    return dataset


@functools.lru_cache(maxsize=8)
def _pickled(datasets: tuple[str, ...], data_dir: str) -> bytes:
    return pickle.dumps(_build(datasets, Path(data_dir)), protocol=pickle.HIGHEST_PROTOCOL)


def fresh_dataset(datasets: tuple[str, ...] = DATASETS, data_dir: Path | None = None) -> Dataset:
    """An independent copy of the loaded data: the JSON is parsed once per process, then unpickled."""
    return pickle.loads(_pickled(tuple(sorted(set(datasets))), str(data_dir or SHARED_DATA)))


@functools.lru_cache(maxsize=1)
def describe_types(data_dir: str = str(SHARED_DATA)) -> dict[str, Any]:
    """MISP's describeTypes (types, categories, sane defaults), the file PyMISP ships."""
    return _read_json(Path(data_dir) / DESCRIBE_TYPES)["result"]


def load_event_file(path: str | Path) -> dict[str, Any]:
    """Read one MISP event JSON file (``{"Event": ...}`` or bare) for MispDouble.add_event/replace_event."""
    path = Path(path)
    if not path.is_absolute():
        path = SHARED_DATA / path
    return _unwrap_event(_read_json(path), path)
