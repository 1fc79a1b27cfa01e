"""kafka_replay: the safe point logic (rewind plan, clean/failed exits) and the state file."""

import json

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
