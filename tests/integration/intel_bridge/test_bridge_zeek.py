"""The intel bridge on real pieces: a live Zeek (7.2.2 over Broker, 8.1.2 over the WebSocket API)
capturing on ``lo``, MISP's ZeroMQ message shapes from a local publisher (see misp_messages.py for
their provenance), the daemon as a subprocess; the MISP test double only where a fault is injected
(API 500s) or an API is needed to recover from a gap (the bridge killed mid-stream)."""

import random
import socket
import threading
import time

import pytest

from tests.integration.intel_bridge import misp_messages as mm
from tests.integration.intel_bridge.harness import BridgeProc, LiveZeek, Publisher, wait
from tests.zeek_runtime import require_zeek, zeek_build_params

pytestmark = pytest.mark.integration

SRC = "MISP ({uuid}) - SOCForge"


@pytest.fixture(params=zeek_build_params())
def zeek_build(request):
    return require_zeek(request.param)


@pytest.fixture
def rig(zeek_build, tmp_path):
    """(zeek, publisher, bridge factory); everything stopped at teardown."""
    made = []
    octet = random.randint(2, 250)
    zeek = LiveZeek(
        zeek_build,
        tmp_path / "zeek",
        snapshot_file=str(tmp_path / "bridge" / "intel" / "misp-live.intel"),
        prefix=f"127.77.{octet}.",
    )
    pub = Publisher()

    def bridge(**kw):
        b = BridgeProc(tmp_path / "bridge", zeek, pub, **kw)
        made.append(b)
        return b

    zeek.start()
    yield zeek, pub, bridge
    for b in made:
        b.stop()
    zeek.stop()
    pub.close()


def _ready(bridge, zeek, pub):
    """Wait until the daemon is subscribed and has talked to Zeek (a heartbeat is harmless)."""
    wait(lambda: "connected to Zeek" in bridge.logtext() and "ZeroMQ: connected" in bridge.logtext(), 30,
         what=f"the bridge to connect:\n{bridge.logtext()[-3000:]}")  # fmt: skip
    time.sleep(0.3)  # a SUB socket's subscription reaches the publisher a moment after the connect
    pub.send(mm.heartbeat())


def _touch(addr, port):
    """One established TCP connection to ``addr`` (a listener there accepts it)."""
    srv = socket.socket()
    srv.bind((addr, port))
    srv.listen(1)
    threading.Thread(target=lambda: srv.accept()[0].close(), daemon=True).start()
    with socket.create_connection((addr, port), timeout=5) as c:
        c.sendall(b"x")
    time.sleep(0.05)
    srv.close()


def test_publish_insert_match_delete_remove(rig):
    zeek, pub, bridge = rig
    b = bridge().start()
    _ready(b, zeek, pub)
    p = zeek.prefix
    a1 = mm.new_attribute("ip-dst", p + "10", event_id="11")
    a2 = mm.new_attribute("ip-dst", p + "11", event_id="11")
    a3 = mm.new_attribute("domain", "evil.bridge.test", event_id="11")
    quiet = mm.new_attribute("ip-dst", p + "12", event_id="11", to_ids=False)
    ev = mm.new_event(event_id="11", attributes=[a1, a2, a3, quiet])
    src = SRC.format(uuid=ev["uuid"])
    t0 = time.time()
    pub.send(mm.publish_event(ev))
    want = {(p + "10", "Intel::ADDR", src), (p + "11", "Intel::ADDR", src), ("evil.bridge.test", "Intel::DOMAIN", src)}
    wait(lambda: zeek.state() == want, 10, what=f"the inserts in Zeek (state {zeek.state()})")
    took = time.time() - t0
    assert took < 2.0, f"publish -> in Zeek took {took:.2f} s"

    # live traffic meets the new intel: intel.log (and a notice: do_notice is on)
    _touch(p + "10", 40000 + random.randint(0, 999))
    wait(lambda: any(p + "10" in ln for ln in zeek.log_lines("intel")), 10, what="intel.log to show the match")
    wait(lambda: any("Intel::Notice" in ln for ln in zeek.log_lines("notice")), 10, what="an Intel::Notice")

    # hard delete (bare attribute row, no Event) and to_ids cleared by an edit -> removed
    pub.send(mm.attribute_deleted(a1))
    a2_edit = dict(a2, to_ids=False)
    pub.send(mm.attribute_saved(a2_edit, dict(ev, published=False), action="edit"))
    wait(
        lambda: zeek.state() == {("evil.bridge.test", "Intel::DOMAIN", src)},
        10,
        what=f"the removals (state {zeek.state()})",
    )
    n_before = sum(p + "10" in ln for ln in zeek.log_lines("intel"))
    _touch(p + "10", 41000 + random.randint(0, 999))
    # a marker inserted after the connection: once it is in, the connection above was processed
    marker = mm.new_attribute("ip-dst", p + "99", event_id="12")
    ev2 = mm.new_event(event_id="12", attributes=[marker])
    pub.send(mm.publish_event(ev2))
    wait(lambda: any(r[0] == p + "99" for r in zeek.state()), 10, what="the marker")
    _touch(p + "99", 42000 + random.randint(0, 999))
    wait(lambda: any(p + "99" in ln for ln in zeek.log_lines("intel")), 10, what="the marker's match")
    assert sum(p + "10" in ln for ln in zeek.log_lines("intel")) == n_before, "a removed indicator still matched"

    # event deleted (the message has no attributes) -> every item of that event leaves Zeek
    pub.send(mm.event_saved(ev, action="delete"))
    wait(lambda: not any(r[2] == src for r in zeek.state()), 10, what=f"the event delete (state {zeek.state()})")

    # the intel file follows (a Zeek restart would load it)
    wait(lambda: b.intel_file.exists() and p + "99" in b.intel_file.read_text() and "evil" not in b.intel_file.read_text(),
         10, what="the intel file")  # fmt: skip
    assert "skipped" not in b.logtext()


def test_restart_zeek_loads_file_then_catches_up(rig, zeek_build, tmp_path):
    zeek, pub, bridge = rig
    b = bridge().start()
    _ready(b, zeek, pub)
    p = zeek.prefix
    attrs = [mm.new_attribute("ip-dst", f"{p}{i}", event_id="21") for i in range(1, 41)]
    ev = mm.new_event(event_id="21", attributes=attrs)
    src = SRC.format(uuid=ev["uuid"])
    pub.send(mm.publish_event(ev))
    wait(lambda: len(zeek.state()) == 40, 10, what="40 items")
    wait(lambda: b.intel_file.exists() and b.intel_file.read_text().count(src) == 40, 10, what="the file")
    zeek.stop()
    # changes while Zeek is down: one removed, one added
    pub.send(mm.attribute_deleted(attrs[0]))
    extra = mm.new_attribute("ip-dst", p + "200", event_id="22")
    ev2 = mm.new_event(event_id="22", attributes=[extra])
    pub.send(mm.publish_event(ev2))
    time.sleep(1.0)
    zeek.start()
    want = {(f"{p}{i}", "Intel::ADDR", src) for i in range(2, 41)} | {
        (p + "200", "Intel::ADDR", SRC.format(uuid=ev2["uuid"]))
    }
    wait(
        lambda: zeek.state() == want,
        30,
        what=f"Zeek after its restart (missing {want - zeek.state()}, extra {zeek.state() - want})",
    )


def test_kill_bridge_mid_stream_nothing_lost_nothing_duplicated(rig, misp_double):
    """SIGKILL the daemon while changes stream in; messages published while it is dead are recovered
    from the API (the double holds the same events), none is applied twice, Zeek keeps its intel."""
    zeek, pub, bridge = rig
    misp_double.data.events.clear() if hasattr(misp_double.data, "events") else None
    b = bridge(misp=misp_double).start()
    _ready(b, zeek, pub)
    p = zeek.prefix
    published = []
    for i in range(30):
        attr = mm.new_attribute("ip-dst", f"{p}{i + 1}", event_id=str(100 + i))
        ev = mm.new_event(event_id=str(100 + i), attributes=[attr], info=f"kill test {i}")
        stored = misp_double.add_event({"Event": ev}, published=True)
        ev = stored.get("Event", stored) if isinstance(stored, dict) else ev
        published.append(ev)
        if i == 15:
            b.kill()
        if i <= 15 or i >= 25:
            pub.send(mm.publish_event(ev))
        time.sleep(0.02)
    b2 = bridge(misp=misp_double).start()
    for ev in published[25:]:
        pub.send(mm.publish_event(ev))
    want = {(f"{p}{i + 1}", "Intel::ADDR", SRC.format(uuid=ev["uuid"])) for i, ev in enumerate(published)}
    wait(lambda: zeek.state() == want, 40,
         what=f"all 30 (missing {sorted(want - zeek.state())[:5]}, extra {sorted(zeek.state() - want)[:5]})\n{b2.logtext()[-3000:]}")  # fmt: skip


def test_misp_api_500_keeps_last_good_intel(rig, misp_double):
    zeek, pub, bridge = rig
    p = zeek.prefix
    attr = mm.new_attribute("ip-dst", p + "50", event_id="300")
    ev = mm.new_event(event_id="300", attributes=[attr])
    misp_double.add_event({"Event": ev}, published=True)
    b = bridge(misp=misp_double).start()
    _ready(b, zeek, pub)
    src = SRC.format(uuid=ev["uuid"])
    wait(lambda: zeek.state() == {(p + "50", "Intel::ADDR", src)}, 20, what="the snapshot item")
    misp_double.fail(status=500)
    time.sleep(5)  # two resync periods against a failing API
    assert zeek.state() == {(p + "50", "Intel::ADDR", src)}
    assert "keeping the last good intel" in b.logtext()
    # ZeroMQ changes still flow while the API fails
    attr2 = mm.new_attribute("ip-dst", p + "51", event_id="301")
    ev2 = mm.new_event(event_id="301", attributes=[attr2])
    pub.send(mm.publish_event(ev2))
    wait(
        lambda: (p + "51", "Intel::ADDR", SRC.format(uuid=ev2["uuid"])) in zeek.state(),
        10,
        what="a live change during the API outage",
    )
    assert (p + "50", "Intel::ADDR", src) in zeek.state()
    misp_double.clear_faults()


def test_matches_become_sightings_and_noisy_intel_leaves_zeek(rig, misp_double):
    """Zeek's intel.log -> sightings in MISP (the double stands in for the hub: the real MISP runs in
    the lab); an indicator matching faster than the threshold is taken out of Zeek and proposed."""
    zeek, pub, bridge = rig
    p = zeek.prefix
    calm = mm.new_attribute("ip-dst", p + "60", event_id="400")
    noisy = mm.new_attribute("ip-dst", p + "61", event_id="400")
    ev = mm.new_event(event_id="400", attributes=[calm, noisy])
    misp_double.add_event({"Event": ev}, published=True)
    sightings = {"enabled": True, "intel_log": str(zeek.dir / "intel.log"), "source": "bridge-test",
                 "interval": 1, "noisy_threshold": 3, "noisy_window": 2}  # fmt: skip
    b = bridge(misp=misp_double, extra={"sightings": sightings}).start()
    _ready(b, zeek, pub)
    src = SRC.format(uuid=ev["uuid"])
    wait(
        lambda: {(p + "60", "Intel::ADDR", src), (p + "61", "Intel::ADDR", src)} <= zeek.state(),
        20,
        what="the snapshot",
    )
    _touch(p + "60", 43000 + random.randint(0, 999))
    wait(lambda: any(s.get("attribute_uuid") == calm["uuid"] or s.get("uuid") == calm["uuid"] for s in _sightings(misp_double)),
         20, what=f"a sighting of the matched attribute\n{b.logtext()[-2000:]}")  # fmt: skip
    for i in range(12):
        _touch(p + "61", 44000 + i)
    wait(
        lambda: (p + "61", "Intel::ADDR", src) not in zeek.state(),
        20,
        what=f"the noisy indicator to leave Zeek\n{b.logtext()[-2000:]}",
    )
    assert (p + "60", "Intel::ADDR", src) in zeek.state()
    wait(lambda: misp_double.proposals, 20, what="a proposal to clear the IDS flag")
    assert "noisy intel" in b.logtext()


def _sightings(double):
    out = []
    for s in double.sightings:
        out.append(s.get("Sighting", s) if isinstance(s, dict) else s)
    return out
