"""kafka_replay: the safe point logic (rewind plan, clean/failed exits) and the state file."""

import io
import json
import threading
import time

import pytest
from ansible_collections.socforge.core.plugins.module_utils import kafka_replay as kr


def test_no_safe_point_means_no_rewind():
    assert kr.plan_rewind({0: 10}, None, {0: 0}) == []
    assert kr.plan_rewind({0: 10}, {}, {0: 0}) == []


def test_rewind_to_safe_point_per_partition():
    plan = kr.plan_rewind({0: 100, 1: 50, 2: -1}, {0: 40, 1: 50, 2: 0}, {0: 0, 1: 0, 2: 0})
    assert plan == [kr.Rewind(0, 100, 40)]
    assert plan[0].replayed == 60


def test_rewind_never_moves_forward_or_below_retention():
    assert kr.plan_rewind({0: 10}, {0: 99}, {0: 0}) == []
    assert kr.plan_rewind({0: 100}, {0: 5}, {0: 30}) == [kr.Rewind(0, 100, 30)]


def test_start_position_applies_the_plan():
    assert kr.start_position({0: 100, 1: 7}, [kr.Rewind(0, 100, 40)]) == {0: 40, 1: 7}


@pytest.mark.parametrize(
    ("code", "status", "clean"),
    [("exited", "0", True), ("exited", "1", False), ("killed", "9", False), ("dumped", "6", False), ("", "", False)],
)
def test_only_a_clean_exit_moves_the_safe_point(code, status, clean):
    after = kr.safe_after_stop({0: 5}, {0: 100}, code, status)
    assert after == ({0: 100} if clean else {0: 5})


def test_state_file_roundtrip_atomic_and_private(tmp_path):
    path = tmp_path / "s.json"
    assert kr.load_state(str(path)) == {}
    kr.save_state(str(path), {"safe": {"0": 3}})
    assert json.loads(path.read_text()) == {"safe": {"0": 3}}
    assert (path.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_bad_state_file_is_named_and_kept(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="s.json: unreadable replay state"):
        kr.load_state(str(path))
    assert path.read_text() == "{not json"
    path.write_text('{"safe": [1]}')
    with pytest.raises(ValueError, match="'safe' mapping"):
        kr.load_state(str(path))


def test_client_config_file(tmp_path):
    path = tmp_path / "c.properties"
    path.write_text("# comment\nsecurity.protocol = SASL_SSL\nsasl.username=u\n")
    assert kr.read_client_config(str(path)) == {"security.protocol": "SASL_SSL", "sasl.username": "u"}
    path.write_text("oops\n")
    with pytest.raises(ValueError, match="c.properties:1: expected key=value"):
        kr.read_client_config(str(path))


def test_cli_reports_a_bad_state_file_without_traceback(tmp_path, capsys):
    state = tmp_path / "s.json"
    state.write_text("garbage")
    rc = kr.main(["prestart", "--bootstrap", "127.0.0.1:1", "--group", "g", "--topic", "t", "--state", str(state)])
    assert rc == 2 and "unreadable replay state" in capsys.readouterr().err


# --- the supervisor (kafka_replay.py run) ----------------------------------------------------------


def test_records_shipped_and_next_pause():
    assert kr.records_shipped({0: 10, 1: 5}, {0: 25, 1: 5}) == 15
    assert kr.records_shipped({0: 10}, {0: 3}) == 0  # never negative
    assert kr.next_pause(5, 5, 15, clean=True, shipped=0) == 10  # idle: doubles
    assert kr.next_pause(10, 5, 15, clean=True, shipped=0) == 15  # ... up to the cap
    assert kr.next_pause(15, 5, 15, clean=True, shipped=7) == 5  # work: back to the base
    assert kr.next_pause(15, 5, 15, clean=False, shipped=0) == 5  # failure: retry at the base


class FakeGroup:
    """prestart/poststop stand-ins: a group whose committed offset a run moves by ``step``."""

    def __init__(self, step: int):
        self.committed, self.step, self.calls = 0, step, []

    def prestart(self, bootstrap, group, topic, state_path, client_config=None):
        self.calls.append("prestart")
        kr.save_state(state_path, {"safe": {"0": self.committed}})
        return []

    def poststop(self, bootstrap, group, topic, state_path, exit_code, exit_status, client_config=None):
        self.calls.append(f"poststop {exit_code} {exit_status}")
        clean = exit_code == "exited" and exit_status == "0"
        if clean:
            self.committed += self.step
        return {"clean": clean, "safe": {0: self.committed}}


def supervisor(tmp_path, monkeypatch, command, group, health=None, out=None):
    monkeypatch.setattr(kr, "prestart", group.prestart)
    monkeypatch.setattr(kr, "poststop", group.poststop)
    return kr.Supervisor(
        command, "127.0.0.1:1", "g", "zeek-conn", str(tmp_path / "s.json"), health_command=health, pause=0.01, out=out
    )


def test_supervisor_clean_run_reports_messages_shipped(tmp_path, monkeypatch):
    out = io.StringIO()
    group = FakeGroup(step=42)
    sup = supervisor(tmp_path, monkeypatch, ["true"], group, out=out)
    assert sup.run_once() == (True, 42)
    event = json.loads(out.getvalue())
    assert event["event"] == "run ended" and event["messages"] == 42 and event["exit"] == "exited 0"
    assert group.calls == ["prestart", "poststop exited 0"]


def test_supervisor_failed_run_is_logged_and_not_clean(tmp_path, monkeypatch):
    out = io.StringIO()
    group = FakeGroup(step=42)
    sup = supervisor(tmp_path, monkeypatch, ["sh", "-c", "exit 3"], group, out=out)
    assert sup.run_once() == (False, 0)
    assert json.loads(out.getvalue())["exit"] == "exited 3" and group.committed == 0


def test_supervisor_says_once_that_the_shipper_is_stuck_and_again_after_a_clean_run(tmp_path, monkeypatch):
    out = io.StringIO()
    group = FakeGroup(step=7)
    flag = tmp_path / "fail"
    flag.touch()
    sup = supervisor(tmp_path, monkeypatch, ["sh", "-c", f"test ! -e {flag}"], group, out=out)
    for _ in range(kr.STUCK_AFTER_FAILED_RUNS + 2):
        assert sup.run_once() == (False, 0)

    def stuck_events():
        return [e for e in map(json.loads, out.getvalue().splitlines()) if e["event"] == "shipper stuck"]

    assert len(stuck_events()) == 1 and stuck_events()[0]["failed_runs"] == kr.STUCK_AFTER_FAILED_RUNS
    flag.unlink()
    assert sup.run_once() == (True, 7) and sup.failed_in_a_row == 0
    flag.touch()
    for _ in range(kr.STUCK_AFTER_FAILED_RUNS):
        sup.run_once()
    assert len(stuck_events()) == 2


def test_supervisor_does_not_start_the_shipper_while_the_sink_is_down(tmp_path, monkeypatch):
    out = io.StringIO()
    group = FakeGroup(step=1)
    marker = tmp_path / "ran"
    sup = supervisor(tmp_path, monkeypatch, ["touch", str(marker)], group, health=["false"], out=out)
    assert sup.run_once() == (False, 0) and sup.run_once() == (False, 0)
    assert not marker.exists() and group.calls == []  # no rewind, no run, no offset moved
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "sink not ready" in lines[0]  # the same failure is logged once


def test_supervisor_stop_passes_sigterm_to_the_shipper(tmp_path, monkeypatch):
    group = FakeGroup(step=5)
    # A shipper that drains on SIGTERM and exits 0, as Tenzir does.
    script = "trap 'exit 0' TERM; while :; do sleep 0.05; done"
    sup = supervisor(tmp_path, monkeypatch, ["sh", "-c", script], group, out=io.StringIO())
    threading.Timer(0.5, sup.stop).start()
    began = time.monotonic()
    assert sup.run_forever() == 0
    assert time.monotonic() - began < 10
    assert group.calls == ["prestart", "poststop exited 0"] and group.committed == 5
