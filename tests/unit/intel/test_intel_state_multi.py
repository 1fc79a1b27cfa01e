"""The schema-3 state (event rows + ``multi`` + the intel file as the index of single-holder keys):
after any sequence of incremental syncs - events changed, deleted, added, keys shared by several
events, keys suppressed and lifted, the intel file lost - the intel file equals a full sync's, and
every key maps back to exactly the attribute UUIDs the feed holds for it."""

import json
import random
import shutil

from ansible_collections.socforge.core.plugins.module_utils.intel import sources, sync
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.state import State
from ansible_collections.socforge.core.plugins.module_utils.intel.suppress import Suppressions

OPTS = MetaOptions(instance="lab")
POOL = [f"shared{i}.example" for i in range(40)]  # few values: many keys held by several events


def write_feed(feed, events):
    shutil.rmtree(feed, ignore_errors=True)
    feed.mkdir()
    manifest = {}
    for uuid, (ts, attrs) in events.items():
        event = {
            "Event": {
                "uuid": uuid,
                "info": f"event {uuid[:8]}",
                "published": True,
                "timestamp": str(ts),
                "publish_timestamp": str(ts),
                "Orgc": {"name": "Org"},
                "Attribute": [
                    {"uuid": au, "type": "domain", "value": v, "to_ids": True, "category": "Network activity"}
                    for au, v in attrs
                ],
            }
        }
        (feed / f"{uuid}.json").write_text(json.dumps(event))
        manifest[uuid] = {"timestamp": ts}
    (feed / "manifest.json").write_text(json.dumps(manifest))


def truth(events, suppressed):
    """{key: sorted attribute uuids} of the feed, and the keys that must be in the intel file."""
    by_key = {}
    for _ts, attrs in events.values():
        for au, v in attrs:
            by_key.setdefault(f"{v}\tIntel::DOMAIN", set()).add(au)
    return {k: sorted(v) for k, v in by_key.items()}, set(by_key) - suppressed


def test_incremental_equals_full_over_random_changes(tmp_path):
    rng = random.Random(3)
    feed, dest, ref = tmp_path / "feed", tmp_path / "inc" / "misp.intel", tmp_path / "full" / "misp.intel"
    dest.parent.mkdir()
    ref.parent.mkdir()
    n = 0

    def new_attr():
        nonlocal n
        n += 1
        value = rng.choice(POOL) if rng.random() < 0.7 else f"own{n}.example"
        return (f"00000000-0000-4000-8000-{n:012d}", value)

    events = {f"{e:08d}-0000-4000-8000-000000000000": (1000, [new_attr() for _ in range(8)]) for e in range(12)}
    sup = Suppressions(str(dest) + ".suppressed")
    suppressed = set()
    ts = 1000
    for round_no in range(25):
        ts += 10
        for uuid in rng.sample(sorted(events), 3):  # change some events: values in and out
            _, attrs = events[uuid]
            attrs = [a for a in attrs if rng.random() > 0.3] + [new_attr() for _ in range(rng.randint(0, 3))]
            events[uuid] = (ts, attrs)
        if rng.random() < 0.3:
            del events[rng.choice(sorted(events))]
        if rng.random() < 0.4:
            events[f"{100 + round_no:08d}-0000-4000-8000-000000000000"] = (ts, [new_attr() for _ in range(5)])
        if rng.random() < 0.4:  # noisy intel taken out, or a suppression lifted
            key = f"{rng.choice(POOL)}\tIntel::DOMAIN"
            if key in suppressed:
                sup.lift(key)
                suppressed.discard(key)
            else:
                sup.add(key, rate=150.0)
                suppressed.add(key)
        if round_no == 12:
            dest.unlink()  # the intel file lost: rebuilt from the state's event rows
        write_feed(feed, events)
        res = sync.sync(sources.FeedSource(str(feed)), IntelFilter(), OPTS, str(dest), now=ts)
        assert not res["full_sync"] or round_no == 0
        if suppressed or (tmp_path / "inc" / "misp.intel.suppressed").exists():
            shutil.copy(str(dest) + ".suppressed", str(ref) + ".suppressed")
        sync.sync(sources.FeedSource(str(feed)), IntelFilter(), OPTS, str(ref), now=ts, full=True)
        assert dest.read_text() == ref.read_text(), f"round {round_no}"
        uuids, in_file = truth(events, suppressed)
        lines = {ln.rsplit("\t", 5)[0] for ln in dest.read_text().splitlines()[1:]}
        assert lines == in_file
        for path in (dest, ref):
            st = State.open(str(path) + ".state")
            try:
                assert st.attribute_uuids_many(sorted(uuids)) == uuids, f"round {round_no}, {path.parent.name}"
            finally:
                st.close()
