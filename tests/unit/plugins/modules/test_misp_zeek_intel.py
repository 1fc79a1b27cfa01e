"""socforge.core.misp_zeek_intel driven through main(), against the MISP test double (real pymisp)
and the real Infoblox feed. Assertions are on the exit/fail JSON and on the files left on disk."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
for extra in (REPO, REPO / "tests" / "unit" / "intel", Path(__file__).resolve().parent):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ansible_collections.socforge.core.plugins.modules import misp_zeek_intel  # noqa: E402 -- path set above
from utils import fail_module, run_module  # noqa: E402 -- path set above
from zeek_reader import read_intel  # noqa: E402 -- path set above

from tests.misp_double import fixtures as _double_fixtures  # noqa: E402 -- path set above

# The double's fixtures, made visible here until tests/conftest.py registers them project-wide.
globals().update({n: getattr(_double_fixtures, n) for n in ("misp_double", "misp_double_factory", "misp_double_tls")})

INFOBLOX = REPO.parent / "shared" / "data" / "misp-feed-infoblox"


def args_for(double, dest, **extra):
    base = {"misp_url": double.url, "misp_key": double.key, "dest": str(dest), "retries": 0, "timeout": 10}
    base.update(extra)
    return base


def rows(dest):
    return read_intel(Path(dest).read_text())


def removals(dest):
    return [ln.split("\t") for ln in Path(str(dest) + ".removals").read_text().splitlines()[1:]]


def published_event(double):
    return next(e for e in double.data.events.values() if e.get("published"))


def test_feed_directory_is_deterministic_and_idempotent(monkeypatch, tmp_path):
    dest = tmp_path / "infoblox.intel"
    first = run_module(monkeypatch, misp_zeek_intel, {"feed_path": str(INFOBLOX), "dest": str(dest)})
    assert first["changed"] and first["full_sync"]
    assert first["indicators"] == len(rows(dest)) > 16000
    assert first["rejected"] == {"invalid_composite": 1}
    content = dest.read_bytes()
    second = run_module(monkeypatch, misp_zeek_intel, {"feed_path": str(INFOBLOX), "dest": str(dest)})
    assert second["changed"] is False and second["added"] == second["removed"] == 0
    assert dest.read_bytes() == content
    other = tmp_path / "again.intel"
    run_module(monkeypatch, misp_zeek_intel, {"feed_path": str(INFOBLOX), "dest": str(other), "full_sync": True})
    assert other.read_bytes() == content


def test_full_sync_then_unchanged(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert res["changed"] and res["full_sync"] and res["indicators"] == len(rows(dest)) > 0
    assert all(r[4].startswith(misp_double.url + "/events/view/") for r in rows(dest))
    assert "misp_key" not in str(res) and misp_double.key not in str(res)
    again = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert again["changed"] is False and not again["full_sync"]


def test_incremental_add_then_remove(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    event = published_event(misp_double)
    attr = misp_double.add_attribute(event["uuid"], "domain", "Fresh-C2[.]Example", to_ids=True)
    misp_double.advance(5)
    misp_double.publish_event(event["uuid"])
    misp_double.clear_requests()
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert not res["full_sync"] and res["changed"] and res["added"] == 1 and res["removed"] == 0
    assert any(r[0] == "fresh-c2.example" and event["uuid"] in r[2] for r in rows(dest))
    # incremental: only time-bounded searches, no walk over the whole timeline
    searches = misp_double.requests_to(r"/events/restSearch")
    assert searches and all(("timestamp" in s.body) or ("publish_timestamp" in s.body) for s in searches)
    assert len(searches) <= 4

    misp_double.advance(5)
    misp_double.soft_delete_attribute(attr["uuid"])
    misp_double.advance(5)
    misp_double.publish_event(event["uuid"])
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert res["changed"] and res["removed"] == 1 and res["removals"] == 1
    assert all(r[0] != "fresh-c2.example" for r in rows(dest))
    (rem,) = removals(dest)
    assert rem[:2] == ["fresh-c2.example", "Intel::DOMAIN"] and event["uuid"] in rem[2]


def test_cleared_to_ids_is_removed(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    event = published_event(misp_double)
    attr = misp_double.add_attribute(event["uuid"], "ip-dst", "2001:DB8::dead", to_ids=True)
    misp_double.publish_event(event["uuid"])
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert any(r[0] == "2001:db8::dead" for r in rows(dest))
    misp_double.advance(5)
    misp_double.set_to_ids(attr["uuid"], False)
    misp_double.advance(5)
    misp_double.publish_event(event["uuid"])
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert res["removed"] == 1 and [r[:2] for r in removals(dest)] == [["2001:db8::dead", "Intel::ADDR"]]


def test_unpublished_edit_keeps_intel_until_republished(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    event = published_event(misp_double)
    attr = misp_double.add_attribute(event["uuid"], "domain", "kept-while-editing.example")
    misp_double.publish_event(event["uuid"])
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    misp_double.advance(5)
    misp_double.soft_delete_attribute(attr["uuid"])  # MISP unpublishes the event on edit
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert res["changed"] is False
    assert any(r[0] == "kept-while-editing.example" for r in rows(dest))


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d.stop(), "cannot connect to MISP"),
        (lambda d: d.fail(500), "500"),
        (lambda d: d.fail(403, path="restSearch"), "403"),
        (lambda d: d.garbage(path="restSearch"), "MISP at"),
    ],
    ids=["down", "http500", "http403", "garbage"],
)
def test_misp_failure_keeps_last_good_file(monkeypatch, misp_double, tmp_path, break_it, message):
    dest = tmp_path / "misp.intel"
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    event = published_event(misp_double)
    misp_double.add_attribute(event["uuid"], "domain", "never-written.example")
    misp_double.publish_event(event["uuid"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = args_for(misp_double, dest)
    break_it(misp_double)
    for full in (False, True):
        res = fail_module(monkeypatch, misp_zeek_intel, dict(args, full_sync=full))
        assert message in res["msg"] and "left untouched" in res["msg"]
        assert misp_double.key not in res["msg"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_wrong_key(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    res = fail_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest, misp_key="not-the-key"))
    assert "403" in res["msg"] or "Authentication" in res["msg"]
    assert not dest.exists()


def test_transient_500_is_retried(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    misp_double.fail(500, count=2, path="restSearch")
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest, retries=3, retry_backoff=0.01))
    assert res["changed"] and res["indicators"] > 0


def test_tls(monkeypatch, misp_double_tls, tmp_path):
    dest = tmp_path / "misp.intel"
    res = fail_module(monkeypatch, misp_zeek_intel, args_for(misp_double_tls, dest))
    assert "TLS error" in res["msg"] and "left untouched" in res["msg"]
    assert not dest.exists()
    ok = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double_tls, dest, ca_path=misp_double_tls.ca_path))
    assert ok["changed"] and ok["indicators"] == len(rows(dest))


def test_tls_expired_certificate(monkeypatch, misp_double_factory, tmp_path):
    double = misp_double_factory(tls=True, tls_mode="expired")
    res = fail_module(monkeypatch, misp_zeek_intel, args_for(double, tmp_path / "x.intel", ca_path=double.ca_path))
    assert "TLS error" in res["msg"]


def test_check_mode_and_diff(monkeypatch, misp_double, tmp_path):
    dest = tmp_path / "misp.intel"
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest), check_mode=True, diff=True)
    assert res["changed"] and res["added"] > 0
    assert res["diff"]["prepared"].startswith(f"intel: +{res['added']} -0")
    assert list(tmp_path.iterdir()) == []
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    event = published_event(misp_double)
    misp_double.add_attribute(event["uuid"], "url", "hxxps://evil.example/payload")
    misp_double.publish_event(event["uuid"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest), check_mode=True, diff=True)
    assert res["changed"] and res["added"] == 1
    assert "+evil.example/payload\tIntel::URL" in res["diff"]["prepared"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"dest": "/tmp/x"}, "one of the following is required"),
        ({"dest": "/tmp/x", "feed_path": "/tmp", "misp_url": "http://x", "misp_key": "k"}, "mutually exclusive"),
        ({"dest": "/tmp/x", "misp_url": "http://x"}, "misp_key"),
        ({"dest": "/tmp/x", "misp_url": "misp.example", "misp_key": "k"}, "is not an http(s) URL"),
        ({"dest": "/tmp/x", "feed_path": "/nonexistent/feed"}, "feed_path '/nonexistent/feed' is not a directory"),
        ({"dest": "/nonexistent/x.intel", "feed_path": str(INFOBLOX)}, "does not exist"),
        ({"dest": "/tmp/x", "feed_path": str(INFOBLOX), "mode": "rw"}, "not an octal file mode"),
        ({"dest": "/tmp/x", "feed_path": str(INFOBLOX), "page_limit": 0}, "page_limit must be positive"),
    ],
)
def test_bad_arguments(monkeypatch, args, message):
    res = fail_module(monkeypatch, misp_zeek_intel, args)
    assert message in res["msg"]


def test_time_windows_keep_pages_shallow(monkeypatch, misp_double, tmp_path):
    """Small pages: the same file as big pages, fetched in timestamp windows, never deep pages."""
    big = tmp_path / "big.intel"
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, big, page_limit=1000))
    misp_double.clear_requests()
    small = tmp_path / "small.intel"
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, small, page_limit=3))
    assert small.read_bytes().replace(b"small", b"big") == big.read_bytes().replace(b"small", b"big")
    searches = [r.body for r in misp_double.requests_to(r"/events/restSearch")]
    windows = {tuple(q["timestamp"]) for q in searches}
    deepest = max(int(q["page"]) for q in searches)
    flat_pages = -(-res["events"] // 3)  # what plain paging over all events would need
    assert len(windows) > 1 and all(isinstance(q["timestamp"], list) for q in searches)
    assert deepest == 1 < flat_pages, (deepest, flat_pages)


# --- unpublished events, retractions, hard deletes, e-mail case, sync point (issue 11 part 4) -----------
# One documented behaviour (docs/intel.md "Unpublished events"), the same for full and incremental:
# an event unpublished by an edit keeps its last synced indicators; an explicit unpublish (MISP leaves
# both timestamps alone: a retraction) and a hard delete remove them.


def _seeded(monkeypatch, double, tmp_path, value):
    dest = tmp_path / "misp.intel"
    event = published_event(double)
    attr = double.add_attribute(event["uuid"], "domain", value, to_ids=True)
    double.advance(5)
    double.publish_event(event["uuid"])
    run_module(monkeypatch, misp_zeek_intel, args_for(double, dest, reconcile_interval=0))
    assert any(r[0] == value for r in rows(dest))
    return dest, event, attr


def _full_copy(monkeypatch, double, tmp_path, dest, name):
    """A full sync of the same MISP into a copy of dest's state: what a full resync would write."""
    other = tmp_path / name
    other.write_bytes(dest.read_bytes())
    Path(str(other) + ".state").write_bytes(Path(str(dest) + ".state").read_bytes())
    res = run_module(monkeypatch, misp_zeek_intel, args_for(double, other, full_sync=True, source_name="127.0.0.1"))
    return other, res


@pytest.mark.parametrize("how", ["incremental", "full"])
def test_edit_in_progress_keeps_intel_in_full_and_incremental(monkeypatch, misp_double, tmp_path, how):
    dest, event, attr = _seeded(monkeypatch, misp_double, tmp_path, "being-edited.example")
    misp_double.advance(5)
    misp_double.edit_attribute(attr["uuid"], comment="edited")  # MISP: timestamp bumped, event unpublished
    stored = misp_double.event(event["uuid"])
    assert not stored["published"] and int(stored["timestamp"]) > int(stored["publish_timestamp"])
    misp_double.advance(300)
    if how == "incremental":
        res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest, reconcile_interval=0))
        assert res["changed"] is False and res["reconciled"] == {"editing": 1}
        kept = dest
    else:
        kept, res = _full_copy(monkeypatch, misp_double, tmp_path, dest, "full.intel")
        assert res["full_sync"] and res["reconciled"] == {"editing": 1} and res["removed"] == 0
    assert any(r[0] == "being-edited.example" for r in rows(kept))


@pytest.mark.parametrize("how", ["incremental", "full"])
def test_retraction_removes_intel_in_full_and_incremental(monkeypatch, misp_double, tmp_path, how):
    dest, event, _ = _seeded(monkeypatch, misp_double, tmp_path, "retracted.example")
    lines_of_event = sum(1 for r in rows(dest) if event["uuid"] in r[2])
    misp_double.advance(5)
    misp_double.unpublish_event(event["uuid"])  # MISP's unpublish: neither timestamp moves
    misp_double.advance(300)
    if how == "incremental":
        res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest, reconcile_interval=0))
        gone = dest
    else:
        gone, res = _full_copy(monkeypatch, misp_double, tmp_path, dest, "full.intel")
    assert res["reconciled"] == {"retracted": 1} and res["removed"] == lines_of_event > 0
    assert all(event["uuid"] not in r[2] for r in rows(gone))
    if how == "incremental":
        assert ["retracted.example", "Intel::DOMAIN"] in [r[:2] for r in removals(dest)]


def test_hard_delete_noticed_by_incremental_reconciliation(monkeypatch, misp_double, tmp_path):
    dest, event, _ = _seeded(monkeypatch, misp_double, tmp_path, "deleted-event.example")
    misp_double.delete_event(event["uuid"])
    misp_double.advance(300)
    # reconciled at most once an hour by default: the run right after the last one does not ask
    waiting = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    assert waiting["reconciled"] == {} and any(r[0] == "deleted-event.example" for r in rows(dest))
    misp_double.clear_requests()
    res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest, reconcile_interval=0))
    assert not res["full_sync"] and res["reconciled"] == {"deleted": 1} and res["removals"] > 0
    assert all(event["uuid"] not in r[2] for r in rows(dest))
    # the reconciliation is metadata-only: no attributes travel
    listing = [r for r in misp_double.requests_to(r"/events/restSearch") if r.body.get("metadata")]
    assert listing and all("Attribute" not in e["Event"] for r in listing for e in r.response["response"])


def test_email_indicators_lower_cased_as_misp_does(monkeypatch, misp_double, tmp_path):
    dest, event, _ = _seeded(monkeypatch, misp_double, tmp_path, "seed.example")
    misp_double.add_attribute(event["uuid"], "email-src", "Bad.Actor@Example.COM", to_ids=True)
    misp_double.advance(5)
    misp_double.publish_event(event["uuid"])
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
    emails = [r[0] for r in rows(dest) if r[1] == "Intel::EMAIL"]
    assert "bad.actor@example.com" in emails and not any(e != e.lower() for e in emails)


def test_event_published_after_its_last_edit_is_not_reread(monkeypatch, misp_double, tmp_path):
    dest, event, _ = _seeded(monkeypatch, misp_double, tmp_path, "published-later.example")
    stored = misp_double.event(event["uuid"])
    assert int(stored["publish_timestamp"]) > int(stored["timestamp"])
    misp_double.advance(600)
    run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))  # the sync point moves to MISP's now
    for _ in range(2):
        misp_double.advance(600)
        misp_double.clear_requests()
        res = run_module(monkeypatch, misp_zeek_intel, args_for(misp_double, dest))
        served = [e for r in misp_double.requests_to(r"/events/restSearch") for e in r.response["response"]]
        assert res["changed"] is False and served == [], [e["Event"]["info"] for e in served]
