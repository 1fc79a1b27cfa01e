"""The intel bridge's logic without Zeek: MISP ZeroMQ messages -> store -> what is pushed, the link's
acknowledgements and resends (a recording transport), restarts of the daemon from its store."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import zeek_push
from ansible_collections.socforge.core.plugins.module_utils.intel.bridge import Bridge, BridgeConfig
from ansible_collections.socforge.core.plugins.module_utils.intel.zmq_feed import FeedError, parse

from tests.integration.intel_bridge import misp_messages as mm


class Recorder(zeek_push.Transport):
    """Acknowledges every batch (unless told to lose them) and keeps what Zeek would hold."""

    kind = "recorder"

    def __init__(self):
        self.held = {}
        self.replies = []
        self.lose = False
        self.batches = []

    def connect(self):
        pass

    def publish(self, name, args):
        if name == zeek_push.PING:
            self.replies.append(zeek_push.Reply(zeek_push.HELLO, [args[0], "t0", True, 0, 0]))
            return
        if name == zeek_push.RELOAD:
            return
        seq, ins, rem = args
        self.batches.append((seq, list(ins), list(rem)))
        if self.lose:
            return
        for line in rem:
            ind, typ, src = line.split("\t")
            self.held.pop((f"{ind}\t{typ}", src), None)
        for line in ins:
            ind, typ, src, rest = line.split("\t", 3)
            self.held[(f"{ind}\t{typ}", src)] = rest
        self.replies.append(zeek_push.Reply(zeek_push.APPLIED, [seq, len(ins), len(rem), 0.0]))

    def poll(self, timeout):
        out, self.replies = self.replies, []
        return out


def make(tmp_path, transport=None, **kw):
    cfg = BridgeConfig(intel_file=str(tmp_path / "misp-live.intel"), store_path=str(tmp_path / "bridge.db"), **kw)
    b = Bridge(cfg, transport=transport or Recorder())
    return b


def settle(b, rounds=20):
    for _ in range(rounds):
        b.service_zeek(0)


def held(b):
    return {k.split("\t")[0] for k, _ in b.transport.held}


def test_parse_rejects_what_it_cannot_apply():
    with pytest.raises(FeedError, match="misp_json_attribute.*no Attribute"):
        parse(b'misp_json_attribute {"action": "add"}')
    with pytest.raises(FeedError, match="not JSON"):
        parse(b"misp_json_event {oops")
    with pytest.raises(FeedError, match="unknown topic"):
        parse(b"something else")
    assert parse(mm.heartbeat()).kind == "heartbeat"
    assert parse(b'misp_json_sighting {"Sighting": {}, "action": "add"}').kind == "ignore"


def test_publish_delete_to_ids_and_event_delete(tmp_path):
    b = make(tmp_path)
    a1, a2 = mm.new_attribute("ip-dst", "198.51.100.1"), mm.new_attribute("domain", "evil.example")
    off = mm.new_attribute("ip-dst", "198.51.100.9", to_ids=False)
    ev = mm.new_event(attributes=[a1, a2, off])
    b.handle_messages([mm.publish_event(ev)])
    settle(b)
    assert held(b) == {"198.51.100.1", "evil.example"}
    # to_ids cleared by an edit (MISP unpublishes the event on the edit): withdrawn at once
    b.handle_messages([mm.attribute_saved(dict(a2, to_ids=False), dict(ev, published=False), "edit")])
    settle(b)
    assert held(b) == {"198.51.100.1"}
    # an unpublished event's new attribute waits for the publication
    a3 = mm.new_attribute("ip-dst", "198.51.100.3")
    b.handle_messages([mm.attribute_saved(a3, dict(ev, published=False), "add")])
    settle(b)
    assert held(b) == {"198.51.100.1"}
    b.handle_messages([mm.publish_event(dict(ev, Attribute=[a1, a3, off]))])
    settle(b)
    assert held(b) == {"198.51.100.1", "198.51.100.3"}
    # hard delete: the bare row (no Event)
    b.handle_messages([mm.attribute_deleted(a3)])
    settle(b)
    assert held(b) == {"198.51.100.1"}
    b.handle_messages([mm.event_saved(ev, "delete")])
    settle(b)
    assert held(b) == set()
    assert b.refetch == {("uuid", ev["uuid"])}  # soft vs hard: the API is asked


def test_published_only_off_applies_attribute_adds_at_once(tmp_path):
    b = make(tmp_path, filters={"published_only": False})
    ev = mm.new_event(published=False)
    b.handle_messages([mm.attribute_saved(mm.new_attribute("ip-dst", "203.0.113.7"), ev, "add")])
    settle(b)
    assert held(b) == {"203.0.113.7"}


def test_two_attributes_one_item_refcounted(tmp_path):
    b = make(tmp_path)
    a1, a2 = mm.new_attribute("ip-dst", "192.0.2.5"), mm.new_attribute("ip-src", "192.0.2.5")
    ev = mm.new_event(attributes=[a1, a2])
    b.handle_messages([mm.publish_event(ev)])
    settle(b)
    b.handle_messages([mm.attribute_deleted(a1)])
    settle(b)
    assert held(b) == {"192.0.2.5"}  # still backed by a2
    b.handle_messages([mm.attribute_deleted(a2)])
    settle(b)
    assert held(b) == set()


def test_burst_is_coalesced_into_one_batch(tmp_path):
    b = make(tmp_path)
    a = mm.new_attribute("ip-dst", "192.0.2.77")
    ev = mm.new_event(attributes=[a])
    settle(b)
    b.handle_messages([mm.publish_event(ev), mm.attribute_deleted(a), mm.publish_event(ev)])
    settle(b)
    assert held(b) == {"192.0.2.77"}
    assert len(b.transport.batches) == 1 and b.transport.batches[0][1:] == (
        [b.store.line(*next(iter(b.transport.held)))],
        [],
    )


def test_lost_batches_are_resent_with_current_state(tmp_path):
    clock = [0.0]
    t = Recorder()
    b = make(tmp_path, transport=t, ack_timeout=1.0)
    b.link.clock = lambda: clock[0]
    b.link.last_refill = 0.0
    settle(b)
    t.lose = True
    a = mm.new_attribute("ip-dst", "192.0.2.9")
    ev = mm.new_event(attributes=[a])
    b.handle_messages([mm.publish_event(ev)])
    settle(b)
    b.handle_messages([mm.attribute_deleted(a)])  # a newer change while the first is unacknowledged
    settle(b)
    assert held(b) == set() and len(t.batches) == 2
    t.lose = False
    clock[0] = 5.0  # past ack_timeout: both re-sent, with the item's CURRENT state (absent)
    settle(b)
    assert held(b) == set()
    assert t.batches[-1][1] == [] and len(t.batches[-1][2]) == 1


def test_restart_reasserts_unacknowledged_changes_and_keeps_the_file(tmp_path):
    t = Recorder()
    t.lose = True
    b = make(tmp_path, transport=t)
    settle(b)
    a = mm.new_attribute("domain", "kept.example")
    b.handle_messages([mm.publish_event(mm.new_event(attributes=[a]))])
    settle(b)
    b.write_file()
    b.store.close()  # a crash: nothing acknowledged
    t2 = Recorder()
    b2 = make(tmp_path, transport=t2)
    b2.zeek_started = "t0"  # the same Zeek as before: only the unacknowledged changes go again
    settle(b2)
    assert held(b2) == {"kept.example"}
    assert "kept.example\tIntel::DOMAIN" in (tmp_path / "misp-live.intel").read_text()
    # acknowledged now: a further restart re-sends nothing
    b2.store.close()
    t3 = Recorder()
    b3 = make(tmp_path, transport=t3)
    b3.zeek_started = "t0"
    settle(b3)
    assert t3.batches == []


def test_bad_message_is_skipped_not_fatal(tmp_path):
    b = make(tmp_path)
    ev = mm.new_event(attributes=[mm.new_attribute("ip-dst", "192.0.2.1")])
    b.handle_messages([b"misp_json_attribute {broken", mm.publish_event(ev)])
    settle(b)
    assert held(b) == {"192.0.2.1"}
    assert b.stats["errors"] == 1


def test_new_intel_goes_to_historical_matching_in_a_worker(tmp_path):
    class Matcher:
        def __init__(self):
            self.seen = []

        def match(self, items):
            from types import SimpleNamespace

            self.seen.extend(items)
            return SimpleNamespace(sightings=[{"uuid": u, "timestamp": 1700000000} for _, _, us in items for u in us],
                                   summary=f"historical: {len(items)} searched")  # fmt: skip

    class Fb:
        def __init__(self):
            self.queued = []
            self.suppressions = type("S", (), {"keys": lambda self: []})()

        def queue_sightings(self, s):
            self.queued.extend(s)

        def poll(self):
            from types import SimpleNamespace

            return SimpleNamespace(removals=[], readmit=[], lines=0, delivered=0, misp_error="", summary="")

        def close(self):
            pass

    b = make(tmp_path)
    fb, m = Fb(), Matcher()
    b.attach_feedback(fb)
    b.attach_historical(m)
    a = mm.new_attribute("domain", "old.example")
    b.handle_messages([mm.publish_event(mm.new_event(attributes=[a]))])
    import time as _t

    deadline = _t.time() + 10
    while not fb.queued and _t.time() < deadline:
        b.service_historical()
        _t.sleep(0.05)
    b.stop_event.set()
    assert m.seen == [("old.example", "Intel::DOMAIN", [a["uuid"]])]
    assert fb.queued == [{"uuid": a["uuid"], "timestamp": 1700000000}]


def test_matches_with_nothing_for_misp_are_counted_not_logged_every_poll(tmp_path, caplog):
    """The lab's feed indicators match the replayed traffic every second: one line per interval."""
    from ansible_collections.socforge.core.plugins.module_utils.intel.feedback import PollResult

    now = [1000.0]
    cfg = BridgeConfig(intel_file=str(tmp_path / "i.intel"), store_path=str(tmp_path / "b.db"), quiet_log_interval=300)
    b = Bridge(cfg, transport=Recorder(), clock=lambda: now[0])
    caplog.set_level("INFO", logger="socforge-intel-bridge")
    for _ in range(299):
        now[0] += 1.0
        b.log_feedback(PollResult(lines=9, unmapped=9))
    assert not caplog.records
    now[0] += 1.0
    b.log_feedback(PollResult(lines=9, unmapped=9, outbox=2))
    (rec,) = caplog.records
    assert rec.getMessage() == "intel.log: 2700 matches in the last 300 s, none to report to MISP; sightings: 2 waiting"
    b.log_feedback(PollResult(lines=1, matched=1, queued=1))  # a sighting: at once
    assert caplog.records[-1].getMessage().startswith("intel.log: 1 matches (0 not from MISP); sightings: 1 queued")
