"""Sightings and noisy intel (intel/feedback.py, intel/intellog.py) on the real Infoblox feed's intel.

The intel library syncs the real feed (state with attribute UUIDs); Zeek intel.log lines (TSV and
JSON, in the layout of Zeek's own intel.log baselines from ../shared/data) are written for its
indicators; sightings and proposals go through pymisp to the MISP test double holding the same feed,
which checks the traffic against MISP's OpenAPI spec (``openapi="strict"``).
"""

import dataclasses
import gzip
import json
import os

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import sources, sync
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.feedback import Feedback, FeedbackConfig
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.intellog import IntelLogFollower
from ansible_collections.socforge.core.plugins.module_utils.intel.state import State
from conftest import SHARED

BASELINE = SHARED / "zeek-logs/zeek-btest-baselines/intel/scripts.policy.frameworks.intel.seen.smtp__intel.log"
NOW = 1_800_000_000
HEADER_END = "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tenum\tenum\tstring\tset[enum]\tset[string]\tstring\tstring\tstring\n"


def tsv_header():
    """The header of a real Zeek intel.log (the baseline's, with a real #open time)."""
    lines = [ln for ln in BASELINE.read_text().splitlines(True) if ln.startswith("#") and not ln.startswith("###")]
    lines = [ln.replace("#open XXXX-XX-XX-XX-XX-XX", "#open 2026-11-30-14-00-00") for ln in lines]
    return "".join(ln for ln in lines if not ln.startswith("#close"))


def tsv_line(ts, indicator, itype, where="DNS::IN_REQUEST"):
    return (
        f"{ts:.6f}\tCHhAvVGS1DHFjwGM9\t10.0.0.5\t53124\t10.0.0.53\t53\t{indicator}\t{itype}\t{where}\t"
        f"worker-1\t{itype}\tlab (x) - Infoblox\t-\t-\t-\n"
    )


def json_line(ts, indicator, itype):
    return (
        json.dumps(
            {
                "ts": ts,
                "uid": "CHhAvVGS1DHFjwGM9",
                "id.orig_h": "10.0.0.5",
                "id.orig_p": 53124,
                "id.resp_h": "10.0.0.53",
                "id.resp_p": 53,
                "seen.indicator": indicator,
                "seen.indicator_type": itype,
                "seen.where": "DNS::IN_REQUEST",
                "seen.node": "worker-1",
                "matched": [itype],
                "sources": ["lab"],
            }
        )
        + "\n"
    )


@pytest.fixture
def intel(feed_copy, tmp_path):
    """The real feed synced by the intel library: (dest, {domain: [attribute uuids]})."""
    dest = tmp_path / "misp.intel"
    sync.sync(sources.FeedSource(str(feed_copy)), IntelFilter(), MetaOptions(instance="lab"), str(dest), now=NOW)
    by_value = {}
    for path in sorted((feed_copy / "events").glob("*.json")):
        for a in json.loads(path.read_text())["Event"]["Attribute"]:
            if a["type"] == "domain" and a.get("to_ids") in (True, "1", 1):
                by_value.setdefault(a["value"].strip().lower(), []).append(a["uuid"])
    return dest, feed_copy, by_value


@pytest.fixture
def misp(misp_double_factory):
    double = misp_double_factory(datasets=("infoblox",), openapi="strict")
    client = sources.connect_pymisp(double.url, double.key, False, 10, retries=0)
    return double, client


def make_feedback(tmp_path, dest, client, **kw):
    cfg = FeedbackConfig(
        intel_log=str(tmp_path / "logs" / "intel.log"),
        archive_dir=str(tmp_path / "archive"),
        spool_dir=str(tmp_path / "spool"),
        state_path=str(dest) + ".state",
        suppress_path=str(dest) + ".suppressed",
        source="cluster-a",
        **kw,
    )
    os.makedirs(tmp_path / "logs", exist_ok=True)
    return Feedback(cfg, misp=client)


def test_state_keeps_attribute_uuids(intel):
    dest, _feed, by_value = intel
    st = State.open(str(dest) + ".state")
    try:
        shared = [v for v, u in by_value.items() if len(u) > 1]
        for value in list(by_value)[:50] + shared[:20]:
            assert st.attribute_uuids(value, "Intel::DOMAIN") == sorted(set(by_value[value]))
        assert st.attribute_uuids("not-in-the-feed.example", "Intel::DOMAIN") == []
    finally:
        st.close()


def test_sightings_batched_per_interval_and_queued_while_misp_is_down(intel, misp, tmp_path):
    dest, _feed, by_value = intel
    double, client = misp
    a, b = sorted(by_value)[:2]
    fb = make_feedback(tmp_path, dest, client, interval=60, retry_min=5)
    log = tmp_path / "logs" / "intel.log"
    with open(log, "w") as fh:
        fh.write(tsv_header())
        for i in range(5):
            fh.write(tsv_line(NOW + i, a, "Intel::DOMAIN"))
        fh.write(tsv_line(NOW + 2, b.upper(), "Intel::DOMAIN"))  # Zeek may log a domain as seen
        fh.write(tsv_line(NOW + 3, "unlisted.example", "Intel::DOMAIN"))
        fh.write(tsv_line(NOW + 3, "10.1.2.3", "Intel::ADDR")[:20])  # a line being written: not read yet
    res = fb.poll(now=NOW + 10)
    assert (res.lines, res.matched, res.unmapped) == (7, 6, 1)
    got = {(s["attribute_uuid"], s["source"], s["date_sighting"]) for s in double.sightings}
    want = {(u, "cluster-a", str(NOW + 4)) for u in by_value[a]} | {(u, "cluster-a", str(NOW + 2)) for u in by_value[b]}
    assert got == want and res.delivered == len(want)
    posted = double.requests_to(r"^/sightings/add/", method="POST")
    assert {r.path.rsplit("/", 1)[1] for r in posted} == set(by_value[a]) | set(by_value[b])
    assert {(r.body["source"], r.body["type"]) for r in posted} == {("cluster-a", "0")}
    assert {r.body["timestamp"] for r in posted} == {NOW + 4, NOW + 2} and all(r.status == 200 for r in posted)

    # within the interval: counted, not sent; after it: one request per attribute
    with open(log, "a") as fh:
        for i in range(3):
            fh.write(tsv_line(NOW + 20 + i, a, "Intel::DOMAIN"))
    assert fb.poll(now=NOW + 30).delivered == 0
    assert len(double.sightings) == len(want)
    res = fb.poll(now=NOW + 75)
    assert res.delivered == len(by_value[a]) and len(double.sightings) == len(want) + len(by_value[a])

    # MISP down: the sighting waits on disk, survives a restart of the bridge, and is delivered once
    double.stop()
    with open(log, "a") as fh:
        fh.write(tsv_line(NOW + 200, b, "Intel::DOMAIN"))
    res = fb.poll(now=NOW + 300)
    assert res.delivered == 0 and res.outbox == len(by_value[b]) and res.misp_error
    fb.close()
    double.start()
    fb = make_feedback(tmp_path, dest, client, interval=60, retry_min=5)
    res = fb.poll(now=NOW + 310)
    assert res.lines == 0 and res.delivered == len(by_value[b]) and res.outbox == 0
    assert sum(s["date_sighting"] == str(NOW + 200) for s in double.sightings) == len(by_value[b])
    assert fb.poll(now=NOW + 400).delivered == 0
    fb.close()


def test_follows_rotations_tsv_json_and_zeekctl_archive(intel, tmp_path):
    dest, _feed, by_value = intel
    a, b, c = sorted(by_value)[:3]
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "intel.log"
    follower = IntelLogFollower(str(log), str(tmp_path / "archive"))
    with open(log, "w") as fh:
        fh.write(tsv_header() + tsv_line(NOW, a, "Intel::DOMAIN"))
    got, pos = follower.poll(None)
    assert [g[1] for g in got] == [a]
    # Zeek's own rotation: renamed beside, a new file with JSON lines
    with open(log, "a") as fh:
        fh.write(tsv_line(NOW + 1, b, "Intel::DOMAIN"))
    os.rename(log, logs / "intel.2026-11-30-14-00-00.log")
    log.write_text(json_line(NOW + 2, c, "Intel::DOMAIN"))
    got, pos = follower.poll(pos)
    assert [(g[0], g[1]) for g in got] == [(NOW + 1, b), (NOW + 2, c)]
    # zeekctl: the file moves to <archive>/<day>/intel.<from>-<to>.log.gz (gzip: a new inode)
    with open(log, "a") as fh:
        fh.write(json_line(NOW + 3, a, "Intel::DOMAIN"))
    day = tmp_path / "archive" / "2026-11-30"
    day.mkdir(parents=True)
    with open(log, "rb") as src, gzip.open(day / "intel.14:00:00-15:00:00.log.gz", "wb") as dst:
        dst.write(src.read())
    log.unlink()
    got, pos2 = follower.poll(pos)
    assert [(g[0], g[1]) for g in got] == [(NOW + 3, a)]
    assert pos2 == pos  # no live file yet: the position stays
    with open(log, "w") as fh:
        fh.write(tsv_header() + tsv_line(NOW + 4, b, "Intel::DOMAIN"))
    got, pos3 = follower.poll(pos2)
    assert [(g[0], g[1]) for g in got] == [(NOW + 4, b)]
    assert follower.poll(pos3)[0] == []
    # truncated in place: read again from the start
    log.write_text(tsv_header())
    with open(log, "a") as fh:
        fh.write(tsv_line(NOW + 5, c, "Intel::DOMAIN"))
    assert [g[1] for g in follower.poll(pos3)[0]] == [c]


def test_noisy_indicator_suppressed_proposed_once_and_decided(intel, misp, tmp_path):
    dest, feed, by_value = intel
    double, client = misp
    noisy = next(v for v, u in sorted(by_value.items()) if len(u) == 1)
    quiet = sorted(by_value)[-1]
    fb = make_feedback(tmp_path, dest, client, noisy_threshold=100, noisy_window=10, decision_interval=0)
    log = tmp_path / "logs" / "intel.log"
    with open(log, "w") as fh:
        fh.write(tsv_header())
        for i in range(1500):  # 300 matches/s for 5 s
            fh.write(tsv_line(NOW + i / 300, noisy, "Intel::DOMAIN"))
        fh.write(tsv_line(NOW + 1, quiet, "Intel::DOMAIN"))
    res = fb.poll(now=NOW + 10)
    assert res.removals == [(noisy, "Intel::DOMAIN")]
    assert not fb.allowed(noisy, "Intel::DOMAIN") and fb.allowed(quiet, "Intel::DOMAIN")
    props = [p for p in double.proposals if p["uuid"] == by_value[noisy][0]]
    assert len(props) == 1 and props[0]["to_ids"] is False
    assert props[0]["old_id"] == double.attribute(by_value[noisy][0])["id"]
    assert "matches/s" in props[0]["comment"] and "cluster-a" in props[0]["comment"]
    rate = float(props[0]["comment"].split("noisy intel, ")[1].split(" ")[0])
    assert 250 <= rate <= 310
    # more noise: no second proposal, no second removal
    with open(log, "a") as fh:
        for i in range(1500):
            fh.write(tsv_line(NOW + 20 + i / 300, noisy, "Intel::DOMAIN"))
    assert fb.poll(now=NOW + 30).removals == []
    assert len([p for p in double.proposals if p["uuid"] == by_value[noisy][0]]) == 1

    # the sync keeps it out of the intel file (a removal line) until decided
    src = sources.FeedSource(str(feed))
    res = sync.sync(src, IntelFilter(), MetaOptions(instance="lab"), str(dest), now=NOW + 40)
    text = dest.read_text()
    assert f"\n{noisy}\tIntel::DOMAIN\t" not in text and f"\n{quiet}\tIntel::DOMAIN\t" in text
    assert f"{noisy}\tIntel::DOMAIN\t" in (tmp_path / "misp.intel.removals").read_text()
    full = sync.sync(src, IntelFilter(), MetaOptions(instance="lab"), str(dest), now=NOW + 41, full=True)
    assert full["indicators"] == res["indicators"]
    assert f"\n{noisy}\tIntel::DOMAIN\t" not in dest.read_text()

    # a MISP user discards the proposal: the indicator comes back and is not flagged again
    client.discard_attribute_proposal(props[0]["id"])
    res = fb.poll(now=NOW + 50)
    assert res.readmit == [(noisy, "Intel::DOMAIN")] and fb.allowed(noisy, "Intel::DOMAIN")
    sync.sync(src, IntelFilter(), MetaOptions(instance="lab"), str(dest), now=NOW + 60)
    assert f"\n{noisy}\tIntel::DOMAIN\t" in dest.read_text()
    with open(log, "a") as fh:
        for i in range(1500):
            fh.write(tsv_line(NOW + 100 + i / 300, noisy, "Intel::DOMAIN"))
    assert fb.poll(now=NOW + 110).removals == []
    fb.close()


def test_noisy_proposal_accepted_keeps_it_out(intel, misp, tmp_path):
    dest, _feed, by_value = intel
    double, client = misp
    noisy = next(v for v, u in sorted(by_value.items()) if len(u) == 1)
    double.stop()  # MISP down when the indicator turns noisy: the proposal is made once it is back
    fb = make_feedback(tmp_path, dest, client, noisy_threshold=50, noisy_window=2, decision_interval=0)
    log = tmp_path / "logs" / "intel.log"
    with open(log, "w") as fh:
        fh.write(tsv_header() + "".join(tsv_line(NOW + i / 100, noisy, "Intel::DOMAIN") for i in range(150)))
    res = fb.poll(now=NOW + 10)
    assert res.removals == [(noisy, "Intel::DOMAIN")] and res.misp_error
    double.start()
    fb.poll(now=NOW + 400)
    props = [p for p in double.proposals if p["uuid"] == by_value[noisy][0]]
    assert len(props) == 1
    client.accept_attribute_proposal(props[0]["id"])
    assert double.attribute(by_value[noisy][0])["to_ids"] in (False, "0", 0)
    res = fb.poll(now=NOW + 500)
    assert res.readmit == [] and not fb.allowed(noisy, "Intel::DOMAIN")
    assert json.loads((tmp_path / "misp.intel.suppressed").read_text())["keys"][f"{noisy}\tIntel::DOMAIN"]["state"] == (
        "accepted"
    )
    fb.close()


def test_lookup_callable_maps_matches_of_a_live_store(intel, misp, tmp_path):
    """The bridge keeps its own live store: a lookup callable maps its items; asked again each poll."""
    dest, _feed, by_value = intel
    double, client = misp
    a = sorted(by_value)[0]
    live = {}
    plain = make_feedback(tmp_path, dest, client)
    plain.close()
    cfg = dataclasses.replace(plain.cfg, state_path="")
    fb = Feedback(cfg, misp=client, lookup=lambda i, t: live.get((i, t), []))
    log = tmp_path / "logs" / "intel.log"
    log.write_text(tsv_header() + tsv_line(NOW, a, "Intel::DOMAIN"))
    res = fb.poll(now=NOW + 1)
    assert (res.unmapped, res.delivered) == (1, 0)
    live[(a, "Intel::DOMAIN")] = by_value[a]
    with open(log, "a") as fh:
        fh.write(tsv_line(NOW + 2, a.upper(), "Intel::DOMAIN"))
    res = fb.poll(now=NOW + 3)
    assert (res.matched, res.delivered) == (1, len(by_value[a]))
    assert {s["attribute_uuid"] for s in double.sightings} == set(by_value[a])
    fb.close()


@pytest.mark.parametrize("fault", ["http500", "garbage", "hang"])
def test_misp_faults_keep_the_sighting_queued_then_deliver_it_once(intel, misp_double_factory, tmp_path, fault):
    dest, _feed, by_value = intel
    double = misp_double_factory(datasets=("infoblox",))
    client = sources.connect_pymisp(double.url, double.key, False, 1, retries=0)  # 1 s timeout
    a = sorted(by_value)[0]
    fb = make_feedback(tmp_path, dest, client, retry_min=5)
    (tmp_path / "logs" / "intel.log").write_text(tsv_header() + tsv_line(NOW, a, "Intel::DOMAIN"))
    {"http500": lambda: double.fail(500, count=1), "garbage": lambda: double.garbage(count=1),
     "hang": lambda: double.hang(5, count=1)}[fault]()  # fmt: skip
    res = fb.poll(now=NOW + 1)
    assert res.delivered == 0 and res.outbox == len(by_value[a]) and res.misp_error
    assert fb.poll(now=NOW + 2).delivered == 0  # backing off: no request
    res = fb.poll(now=NOW + 10)
    assert res.delivered == len(by_value[a]) and res.outbox == 0
    got = [s for s in double.sightings if s["attribute_uuid"] in by_value[a] and s["source"] == "cluster-a"]
    if fault == "http500":  # refused: MISP did nothing, the retry is the only sighting
        assert len(got) == len(by_value[a])
    else:  # done by MISP but the answer was lost (mangled or too late): at least once, at most twice
        assert len(by_value[a]) <= len(got) <= len(by_value[a]) + 1
    fb.close()
