"""Full and incremental sync on a copy of the real Infoblox feed: removals, ageing, check mode, errors."""

import functools
import http.server
import json
import threading

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import sources, sync
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.writer import REMOVALS_HEADER
from hypothesis import given, settings
from hypothesis import strategies as st
from zeek_reader import read_intel

OPTS = MetaOptions(instance="lab")
NOW = 1_800_000_000


def run(feed, dest, flt=None, **kw):
    kw.setdefault("now", NOW)
    return sync.sync(sources.FeedSource(str(feed)), flt or IntelFilter(), OPTS, str(dest), **kw)


def event_path(feed, uuid):
    return feed / "events" / f"{uuid}.json"


def load(feed, uuid):
    return json.loads(event_path(feed, uuid).read_text())


def save(feed, uuid, data, bump=True):
    event_path(feed, uuid).write_text(json.dumps(data))
    if bump:
        manifest = json.loads((feed / "manifest.json").read_text())
        manifest[uuid]["timestamp"] = int(manifest[uuid]["timestamp"]) + 10
        (feed / "manifest.json").write_text(json.dumps(manifest))


def _value_counts(feed):
    counts = {}
    for path in (feed / "events").glob("*.json"):
        for a in json.loads(path.read_text())["Event"]["Attribute"]:
            key = a["value"].strip().lower()
            counts[key] = counts.get(key, 0) + 1
    return counts


def smallest_event(feed):
    """The smallest event that has at least one value no other event carries."""
    manifest = json.loads((feed / "manifest.json").read_text())
    counts = _value_counts(feed)
    candidates = [
        u for u in manifest if any(counts[a["value"].strip().lower()] == 1 for a in load(feed, u)["Event"]["Attribute"])
    ]
    return min(candidates, key=lambda u: (len(load(feed, u)["Event"]["Attribute"]), u))


def pop_unique(feed, uuid, data):
    """Remove (and return) an attribute of ``data`` whose value no other event of the feed carries."""
    counts = _value_counts(feed)
    attrs = data["Event"]["Attribute"]
    index = next(i for i, a in enumerate(attrs) if counts[a["value"].strip().lower()] == 1)
    return attrs.pop(index)


def rows(dest):
    return read_intel(dest.read_text())


def removals(dest):
    text = (dest.parent / (dest.name + ".removals")).read_text()
    assert text.startswith(REMOVALS_HEADER)
    return [ln.split("\t") for ln in text[len(REMOVALS_HEADER) :].splitlines()]


def test_second_run_is_unchanged_and_does_not_touch_the_file(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    first = run(feed_copy, dest)
    assert first["changed"] and first["full_sync"]
    mtime = dest.stat().st_mtime_ns
    second = run(feed_copy, dest)
    assert not second["changed"] and not second["full_sync"]
    assert second["added"] == second["removed"] == 0
    assert dest.stat().st_mtime_ns == mtime


def test_deleted_attribute_reaches_the_removals_file(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    uuid = smallest_event(feed_copy)
    data = load(feed_copy, uuid)
    gone = pop_unique(feed_copy, uuid, data)
    save(feed_copy, uuid, data)
    res = run(feed_copy, dest)
    assert not res["full_sync"] and res["changed"]
    assert res["removed"] == 1 and res["added"] == 0 and res["removals"] == 1
    value = gone["value"].strip().lower()
    (rem,) = removals(dest)
    assert rem[0] == value and uuid in rem[2]
    assert all(r[0] != value for r in rows(dest))
    # invariant: nothing in the removals file is live intel
    live = {(r[0], r[1], r[2]) for r in rows(dest)}
    assert not {tuple(r) for r in removals(dest)} & live


def test_cleared_to_ids_is_removed(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    uuid = smallest_event(feed_copy)
    data = load(feed_copy, uuid)
    attr = pop_unique(feed_copy, uuid, data)
    data["Event"]["Attribute"].append(dict(attr, to_ids=False))
    save(feed_copy, uuid, data)
    res = run(feed_copy, dest)
    assert res["removed"] == 1 and res["removals"] == 1


def test_event_left_the_manifest(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    before = run(feed_copy, dest)["indicators"]
    uuid = smallest_event(feed_copy)
    in_event = {a["value"].strip().lower() for a in load(feed_copy, uuid)["Event"]["Attribute"]}
    elsewhere = {
        a["value"].strip().lower()
        for p in (feed_copy / "events").glob("*.json")
        if p.stem != uuid
        for a in json.loads(p.read_text())["Event"]["Attribute"]
    }
    manifest = json.loads((feed_copy / "manifest.json").read_text())
    del manifest[uuid]
    (feed_copy / "manifest.json").write_text(json.dumps(manifest))
    res = run(feed_copy, dest)
    assert res["removed"] == len(in_event)  # lines of the event; shared ones switch to another event
    assert before - res["indicators"] == len(in_event - elsewhere)
    assert all(uuid not in r[2] for r in rows(dest))
    assert {uuid in r[2] for r in removals(dest)} == {True}


def test_shared_indicator_moves_to_the_other_event(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    manifest = json.loads((feed_copy / "manifest.json").read_text())
    a, b = sorted(manifest)[:2]
    ev_a, ev_b = load(feed_copy, a), load(feed_copy, b)
    shared = dict(ev_a["Event"]["Attribute"][0], value="shared-indicator.example", type="domain")
    ev_a["Event"]["Attribute"].append(dict(shared))
    ev_b["Event"]["Attribute"].append(dict(shared))
    save(feed_copy, a, ev_a)
    save(feed_copy, b, ev_b)
    run(feed_copy, dest)
    (line,) = [r for r in rows(dest) if r[0] == "shared-indicator.example"]
    winner, other = (a, b) if a in line[2] else (b, a)
    ev_w = load(feed_copy, winner)
    ev_w["Event"]["Attribute"] = [x for x in ev_w["Event"]["Attribute"] if x["value"] != "shared-indicator.example"]
    save(feed_copy, winner, ev_w)
    res = run(feed_copy, dest)
    (line,) = [r for r in rows(dest) if r[0] == "shared-indicator.example"]
    assert other in line[2]
    assert res["added"] == res["removed"] == 1
    (rem,) = removals(dest)
    assert rem[0] == "shared-indicator.example" and winner in rem[2]


def test_meta_only_change_writes_no_removal(feed_copy, tmp_path):
    """Same indicator and source, new event info: Zeek updates the meta on re-read; removing it could race."""
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    uuid = smallest_event(feed_copy)
    data = load(feed_copy, uuid)
    data["Event"]["info"] = "renamed"
    save(feed_copy, uuid, data)
    res = run(feed_copy, dest)
    assert res["changed"] and res["added"] == res["removed"] > 0
    assert res["removals"] == 0 and removals(dest) == []


def test_events_age_out_unless_kept(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    manifest = json.loads((feed_copy / "manifest.json").read_text())
    a, b = sorted(manifest)[:2]
    for uuid, pts, tags in ((a, NOW - 5 * 86400, []), (b, NOW - 5 * 86400, [{"name": "socforge:keep"}])):
        data = load(feed_copy, uuid)
        data["Event"]["publish_timestamp"] = str(pts)
        data["Event"]["Tag"] = tags
        save(feed_copy, uuid, data)
    flt = IntelFilter.build(published_within_days=7, keep_tags=["socforge:keep"])
    # everything else in the real feed was published in 2024: only a and b are inside 7 days
    res = run(feed_copy, dest, flt)
    sources_seen = {r[2] for r in rows(dest)}
    assert any(a in s for s in sources_seen) and any(b in s for s in sources_seen)
    assert len({s.split("(")[1].split(")")[0] for s in sources_seen}) == 2
    # three days later, a is 8 days old and ages out; b carries the keep tag
    res = run(feed_copy, dest, flt, now=NOW + 3 * 86400)
    assert not res["full_sync"] and res["removed"] > 0
    assert all(a not in r[2] for r in rows(dest)) and any(b in r[2] for r in rows(dest))
    assert all(a in r[2] for r in removals(dest))


def test_check_mode_writes_nothing(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    res = run(feed_copy, dest, check_mode=True)
    assert res["changed"] and res["added"] > 16000
    assert "intel: +" in res["diff"]["prepared"]
    assert list(tmp_path.iterdir()) == [feed_copy]
    run(feed_copy, dest)
    snapshot = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    uuid = smallest_event(feed_copy)
    data = load(feed_copy, uuid)
    pop_unique(feed_copy, uuid, data)
    save(feed_copy, uuid, data)
    res = run(feed_copy, dest, check_mode=True)
    assert res["changed"] and res["removed"] == 1
    assert res["diff"]["prepared"].count("\n-") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == snapshot
    assert run(feed_copy, dest)["removed"] == 1  # the state was rolled back: the real run still sees it


def test_broken_event_file_keeps_last_good(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    good = dest.read_bytes()
    uuid = smallest_event(feed_copy)
    event_path(feed_copy, uuid).write_text('{"Event": {"uuid": ')
    manifest = json.loads((feed_copy / "manifest.json").read_text())
    manifest[uuid]["timestamp"] += 1
    (feed_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(sources.SourceError, match=f"{uuid}.json.*not valid JSON"):
        run(feed_copy, dest)
    with pytest.raises(sources.SourceError, match="not valid JSON"):
        run(feed_copy, dest, full=True)
    assert dest.read_bytes() == good
    event_path(feed_copy, uuid).unlink()
    with pytest.raises(sources.SourceError, match="cannot read feed file"):
        run(feed_copy, dest)
    assert dest.read_bytes() == good


def test_missing_feed_dir_and_dest_dir(tmp_path):
    with pytest.raises(sources.SourceError, match="is not a directory"):
        sources.FeedSource(str(tmp_path / "nope"))
    (tmp_path / "feed").mkdir()
    (tmp_path / "feed" / "manifest.json").write_text("{}")
    with pytest.raises(sync.SyncError, match="does not exist"):
        run(tmp_path / "feed", tmp_path / "nodir" / "x.intel")


def test_changed_filter_forces_a_full_resync(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    res = run(feed_copy, dest, IntelFilter.build(types=["domain"]))
    assert res["full_sync"] and res["changed"]
    assert {r[1] for r in rows(dest)} == {"Intel::DOMAIN"}
    assert res["removals"] == res["removed"] > 0


def test_lost_intel_file_is_re_rendered_from_state(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    good = dest.read_bytes()
    dest.unlink()
    res = run(feed_copy, dest)
    assert not res["full_sync"] and res["changed"]
    assert dest.read_bytes() == good
    dest.write_text("garbage\n")
    run(feed_copy, dest)
    assert dest.read_bytes() == good


def test_corrupt_state_means_full_sync(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    (tmp_path / "f.intel.state").write_bytes(b"not sqlite")
    res = run(feed_copy, dest)
    assert res["full_sync"] and not res["changed"]


@pytest.mark.parametrize(
    ("flt", "check"),
    [
        (IntelFilter.build(tags_include=["no-such-tag"]), lambda r: r == []),
        (IntelFilter.build(tags_exclude=["infoblox"]), lambda r: r == []),
        (IntelFilter.build(orgs=["Infoblox"]), lambda r: len(r) > 16000),
        (IntelFilter.build(orgs=["Someone else"]), lambda r: r == []),
        (IntelFilter.build(types=["ip-dst", "url"]), lambda r: {x[1] for x in r} == {"Intel::ADDR", "Intel::URL"}),
        (IntelFilter.build(tags_include=["infoblox"]), lambda r: len(r) > 16000),
    ],
)
def test_filters(feed_copy, tmp_path, flt, check):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest, flt)
    assert check(rows(dest))


@pytest.fixture
def feed_http(feed_copy):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(feed_copy))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", feed_copy
    server.shutdown()
    server.server_close()


def test_feed_over_http(feed_http, tmp_path):
    url, feed = feed_http
    dest = tmp_path / "f.intel"
    res = sync.sync(sources.FeedSource(url, retries=0), IntelFilter(), OPTS, str(dest))
    assert res["indicators"] > 16000
    local = tmp_path / "local.intel"
    sync.sync(sources.FeedSource(str(feed)), IntelFilter(), OPTS, str(local))
    assert local.read_bytes().replace(str(feed).encode(), b"") == dest.read_bytes().replace(url.encode(), b"")
    good = dest.read_bytes()
    uuid = smallest_event(feed)
    event_path(feed, uuid).unlink()
    manifest = json.loads((feed / "manifest.json").read_text())
    manifest[uuid]["timestamp"] += 1
    (feed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(sources.SourceError, match="HTTP 404"):
        sync.sync(sources.FeedSource(url, retries=0), IntelFilter(), OPTS, str(dest))
    assert dest.read_bytes() == good


def test_exclude_tag_drops_exactly_the_tagged_events(feed_copy, tmp_path):
    """The real feed mixes tlp:white (older) and tlp:clear (newer) events."""
    dest = tmp_path / "f.intel"
    white = {
        p.stem
        for p in (feed_copy / "events").glob("*.json")
        if "tlp:white" in {t["name"] for t in json.loads(p.read_text())["Event"]["Tag"]}
    }
    assert 0 < len(white) < 36
    run(feed_copy, dest, IntelFilter.build(tags_exclude=["tlp:white"]))
    exported = {r[2].split("(")[1].split(")")[0] for r in rows(dest)}
    assert exported and not exported & white


def test_hand_edited_file_is_rewritten_by_a_full_sync(feed_copy, tmp_path):
    dest = tmp_path / "f.intel"
    run(feed_copy, dest)
    good = dest.read_bytes()
    header, first, second, *rest = dest.read_text().split("\n")
    dest.write_text("\n".join([header, second, first, *rest]))  # out of order, as an editor leaves it
    res = run(feed_copy, dest, full=True)
    assert res["changed"] and dest.read_bytes() == good


def test_patch_keeps_order():
    lines = [b"a", b"c", b"e", b"g"]
    assert sync._patch(lines, [1, 3], [b"b", b"h", b"d"]) == [b"a", b"b", b"d", b"e", b"h"]
    assert sync._patch(lines, [], [b"0"]) == [b"0", *lines]
    assert sync._patch(lines, [0, 1, 2, 3], []) == []


@settings(max_examples=300, deadline=None)
@given(
    st.sets(st.text(alphabet="abcdef.", min_size=1, max_size=6), max_size=30),
    st.sets(st.text(alphabet="abcdef.", min_size=1, max_size=6), max_size=10),
    st.sets(st.text(alphabet="abcdef.", min_size=1, max_size=6), max_size=10),
)
def test_raw_patch_equals_rebuilding(existing, to_remove, to_add):
    """The byte-level patch of the incremental path gives exactly the sorted rebuild."""
    from ansible_collections.socforge.core.plugins.module_utils.intel.writer import INTEL_HEADER_B

    def line(ind, src="S"):
        return f"{ind}\tIntel::DOMAIN\t{src}\t-\t-\tT\t-".encode()

    lines = sorted(line(i) for i in existing)
    raw = INTEL_HEADER_B + b"".join(ln + b"\n" for ln in lines)
    edits, expected = [], set(lines)
    for ind in to_remove | to_add:
        prefix = f"{ind}\tIntel::DOMAIN\t".encode()
        pos = sync._bisect_raw(raw, prefix)
        end = raw.find(b"\n", pos) if raw.startswith(prefix, pos) else -1
        new = line(ind, "T") if ind in to_add else None
        if end >= 0:
            expected.discard(raw[pos:end])
        if new:
            expected.add(new)
        edits.append((pos, end + 1 if end >= 0 else pos, new + b"\n" if new else b""))
    out = b"".join(bytes(c) for c in sync._apply_edits(raw, edits))
    assert out == INTEL_HEADER_B + b"".join(ln + b"\n" for ln in sorted(expected))
