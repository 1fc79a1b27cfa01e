"""The intel file writer: format, determinism, atomicity, mode/owner kept, escaping."""

import os

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import writer
from ansible_collections.socforge.core.plugins.module_utils.intel.events import escape_indicator, meta_text
from zeek_reader import read_intel, unescape


def test_render_and_read_back(tmp_path):
    dest = tmp_path / "x.intel"
    best = {"b.example\tIntel::DOMAIN": "S\tD\t-\tT\t-", "a.example\tIntel::DOMAIN": "S\tD\t-\tT\t-"}
    changed, digest = writer.atomic_write(dest, writer.render_chunks(writer.winners_to_lines(best)))
    assert changed
    text = dest.read_text()
    rows = read_intel(text)
    assert [r[0] for r in rows] == ["a.example", "b.example"]
    assert writer.file_digest(dest) == digest
    ok, lines, d2 = writer.read_lines(dest)
    assert ok and d2 == digest and lines == writer.winners_to_lines(best)


def test_unchanged_content_is_not_rewritten(tmp_path):
    dest = tmp_path / "x.intel"
    lines = ["a.example\tIntel::DOMAIN\tS\tD\t-\tT\t-"]
    writer.atomic_write(dest, writer.render_chunks(lines))
    os.utime(dest, ns=(1, 1))
    changed, _ = writer.atomic_write(dest, writer.render_chunks(lines))
    assert not changed
    assert dest.stat().st_mtime_ns == 1
    assert [p.name for p in tmp_path.iterdir()] == ["x.intel"]  # no temp file left behind


def test_existing_mode_is_kept_and_new_mode_applied(tmp_path):
    dest = tmp_path / "x.intel"
    writer.atomic_write(dest, ["one\n"], mode=0o640)
    assert dest.stat().st_mode & 0o777 == 0o640
    dest.chmod(0o600)
    writer.atomic_write(dest, ["two\n"], mode=0o644)
    assert dest.stat().st_mode & 0o777 == 0o600
    assert dest.read_text() == "two\n"


def test_failure_mid_write_keeps_the_old_file(tmp_path):
    dest = tmp_path / "x.intel"
    dest.write_text("old\n")

    def chunks():
        yield "new part\n"
        raise RuntimeError("upstream died half way")

    with pytest.raises(RuntimeError):
        writer.atomic_write(dest, chunks())
    assert dest.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.intel"]


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(writer.IntelWriteError, match="does not exist"):
        writer.atomic_write(tmp_path / "nope" / "x.intel", ["x\n"])


def test_foreign_file_is_not_trusted(tmp_path):
    dest = tmp_path / "x.intel"
    dest.write_text("#fields\tindicator\tindicator_type\n1.2.3.4\tIntel::ADDR\n")
    assert writer.read_lines(dest)[0] is False
    dest.write_bytes(writer.INTEL_HEADER.encode() + b"\xff\xfe\n")
    assert writer.read_lines(dest)[0] is False
    assert writer.read_lines(tmp_path / "absent") == (False, [], None)


def test_backslash_round_trips_through_zeeks_unescaping():
    raw = "C:\\x41\\build"
    escaped = escape_indicator(raw)
    assert "\\x41" not in escaped.replace("\\x5c", "")
    assert unescape(escaped) == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Event\tinfo\nwith lines", "Event info with lines"),
        ("", "-"),
        (None, "-"),
        ("-", "-"),
        ("#hash start", "\\x23hash start"),
        ("a\\b", "a\\x5cb"),
        ("  x\x00y  ", "x y"),
    ],
)
def test_meta_text(raw, expected):
    assert meta_text(raw) == expected


def test_removals_file(tmp_path):
    path = tmp_path / "x.removals"
    lines = ["b\tIntel::DOMAIN\tsrc2\tD\t-\tT\t-", "a\tIntel::DOMAIN\tsrc1\tD\t-\tT\t-"]
    writer.write_removals(path, lines)
    assert path.read_text() == writer.REMOVALS_HEADER + "a\tIntel::DOMAIN\tsrc1\nb\tIntel::DOMAIN\tsrc2\n"
    writer.write_removals(path, [])
    assert path.read_text() == writer.REMOVALS_HEADER
