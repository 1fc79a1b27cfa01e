"""Every real MISP event and feed in ../shared/data goes through the exporter into a valid file."""

import json
import uuid
from collections import Counter

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import events as ev
from ansible_collections.socforge.core.plugins.module_utils.intel import sources, sync
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.mapping import MAPPING
from conftest import EVENTS_DIR, INFOBLOX
from zeek_reader import read_intel

REAL_EVENTS = sorted(p for p in EVENTS_DIR.rglob("*.json"))


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


@pytest.mark.parametrize("path", REAL_EVENTS, ids=lambda p: p.name)
def test_real_event(path, tmp_path):
    found = _events_in(path)
    if not found:
        pytest.skip(f"{path.name} holds no event (attribute/sighting fixture)")
    flt = IntelFilter(published_only=False, to_ids_only=False)
    stats = ev.MapStats()
    expected_mapped = 0
    for event in found:
        e = event.get("Event", event)
        attrs = list(e.get("Attribute") or []) + [a for o in e.get("Object") or [] for a in o.get("Attribute") or []]
        expected_mapped += sum(1 for a in attrs if a.get("type") in MAPPING and not a.get("deleted"))
        rec = ev.map_event(event, flt, ev.MetaOptions(), stats)
        assert rec.selected
    # every attribute is accounted for: mapped (possibly into two indicators), rejected, or skipped
    skipped = sum(stats.skipped_types.values())
    assert stats.attributes >= expected_mapped + skipped - 0  # deleted attributes are neither
    assert all(t not in MAPPING for t in stats.skipped_types)

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
