"""Every real MISP event and feed in ../shared/data goes through the exporter into a valid file."""

import json
import uuid
from collections import Counter

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import events as ev
from ansible_collections.socforge.core.plugins.module_utils.intel import sources, sync
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.mapping import MAPPING
from conftest import EVENTS_DIR, INFOBLOX, require_shared_data
from zeek_reader import read_intel

require_shared_data(EVENTS_DIR, INFOBLOX, module_level=True)
REAL_EVENTS = sorted(p for p in EVENTS_DIR.rglob("*.json"))


def test_the_real_events_are_found():
    # with ../shared/data present, an empty parameter set below would pass silently: it must not
    assert len(REAL_EVENTS) >= 20, f"only {len(REAL_EVENTS)} MISP event files under {EVENTS_DIR}"
    assert sum(1 for p in REAL_EVENTS if _events_in(p)) >= 20


def _events_in(path):
    """The events in one fixture file, as ``{"Event": {...}}``. PyMISP's expected-output fixtures for
    not-yet-saved events carry no uuid: they get a deterministic one so they go through the exporter too."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "response" in data:
        data = data["response"]
    items = data if isinstance(data, list) else [data]
    out = []
    for item in items:
        e = item.get("Event", item) if isinstance(item, dict) else None
        if not isinstance(e, dict) or not ({"Attribute", "Object", "info"} & set(e)):
            continue  # galaxies, sightings, bare attributes
        e = dict(e)
        e.setdefault("uuid", str(uuid.uuid5(uuid.NAMESPACE_URL, path.name)))
        out.append({"Event": e})
    return out


def _deleted(flag):
    """MISP JSON carries the deleted flag as true/false, 0/1 or "0"/"1"."""
    return flag.strip().lower() in ("1", "true") if isinstance(flag, str) else bool(flag)


@pytest.mark.parametrize("path", REAL_EVENTS, ids=lambda p: p.name)
def test_real_event(path, tmp_path):
    found = _events_in(path)
    if not found:
        pytest.skip(f"{path.name} holds no event (attribute/sighting fixture)")
    flt = IntelFilter(published_only=False, to_ids_only=False)
    stats = ev.MapStats()
    mapped = deleted = 0
    unmapped = Counter()
    for event in found:
        e = event.get("Event", event)
        attrs = list(e.get("Attribute") or []) + [
            a for o in e.get("Object") or [] if not _deleted(o.get("deleted")) for a in o.get("Attribute") or []
        ]
        for a in attrs:
            if _deleted(a.get("deleted")):
                deleted += 1
            elif a.get("type") in MAPPING:
                mapped += 1
            else:
                unmapped[str(a.get("type"))] += 1
        rec = ev.map_event(event, flt, ev.MetaOptions(), stats)
        assert rec.selected
    # every attribute (of the event and of its live objects) is accounted for, exactly once: deleted,
    # of a mapped type (exported, possibly as two indicators, or rejected), or skipped by type
    assert stats.attributes == mapped + deleted + sum(unmapped.values())
    assert stats.skipped_types == unmapped

    feed = tmp_path / "feed"
    feed.mkdir()
    manifest = {}
    for event in found:
        e = event.get("Event", event)
        (feed / f"{e['uuid']}.json").write_text(json.dumps({"Event": e}))
        manifest[e["uuid"]] = {"timestamp": e.get("timestamp", "1")}
    (feed / "manifest.json").write_text(json.dumps(manifest))
    dest = tmp_path / "out.intel"
    res = sync.sync(sources.FeedSource(str(feed)), flt, ev.MetaOptions(), str(dest))
    rows = read_intel(dest.read_text())
    assert res["indicators"] == len(rows)


def test_objects_attributes_are_exported(tmp_path):
    """existing_event.json (real OSINT Sednit event) carries most indicators inside MISP objects."""
    (event,) = _events_in(EVENTS_DIR / "pymisp-tests" / "mispevent_testfiles" / "existing_event.json")
    e = event["Event"]
    flt = IntelFilter(published_only=False)
    only_objects = dict(e, Attribute=[])
    rec = ev.map_event({"Event": only_objects}, flt, ev.MetaOptions(), ev.MapStats())
    assert len(rec.keys) > 0
    object_values = {
        a["value"] for o in e["Object"] for a in o["Attribute"] if a.get("to_ids") and a["type"] in ("domain", "md5")
    }
    exported = {k.split("\t")[0] for k in rec.keys}
    assert object_values and object_values <= exported


def test_infoblox_feed(tmp_path):
    dest = tmp_path / "infoblox.intel"
    res = sync.sync(sources.FeedSource(str(INFOBLOX)), IntelFilter(), ev.MetaOptions(instance="Infoblox"), str(dest))
    text = dest.read_text()
    rows = read_intel(text)
    types = Counter(r[1] for r in rows)
    assert res["indicators"] == len(rows) > 16000
    assert types["Intel::DOMAIN"] > 16000 and types["Intel::URL"] > 150 and types["Intel::ADDR"] > 100
    # the feed's defanged URLs (hxxps://) and values with stray whitespace came out clean
    attrs = [a for p in (INFOBLOX / "events").glob("*.json") for a in json.loads(p.read_text())["Event"]["Attribute"]]
    raw = [a["value"] for a in attrs]
    sha256 = {a["value"].strip().lower() for a in attrs if a["type"] == "sha256"}
    emails = {a["value"].strip() for a in attrs if a["type"] == "email-src"}
    assert types["Intel::FILE_HASH"] == len(sha256) and types["Intel::EMAIL"] == len(emails)
    assert any(v.startswith("hxxp") for v in raw) and any(v != v.strip() for v in raw)
    assert "hxxp" not in text
    indicators = {r[0] for r in rows}
    for v in raw:
        if v.strip().lower().startswith("hxxps://"):
            url = v.strip()[8:]
            host, _, rest = url.partition("/")
            assert host.lower() + (_ + rest if _ else "") in indicators
    # the one malformed filename|sha256 attribute of the real feed is counted, not written
    assert res["rejected"] == {"invalid_composite": 1}
    # deterministic: a second full export is byte-identical
    dest2 = tmp_path / "again.intel"
    sync.sync(sources.FeedSource(str(INFOBLOX)), IntelFilter(), ev.MetaOptions(instance="Infoblox"), str(dest2))
    assert dest2.read_bytes() == dest.read_bytes()
