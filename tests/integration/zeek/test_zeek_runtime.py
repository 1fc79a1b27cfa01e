"""The real Zeek builds the tier runs on: found, the right line, with the plugins the roles use, and
the relocated (cache) copy of the shared artifact runs a pcap like the installed one."""

import json
import os

import pytest

from tests import zeek_runtime as zr

pytestmark = pytest.mark.integration


def test_build_has_the_plugins_the_roles_load(zeek, tmp_path):
    res = zeek.run(["-N"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    plugins = {line.split(" - ")[0] for line in res.stdout.splitlines()}
    assert {"Zeek::AF_Packet", "Seiso::Kafka"} <= plugins
    assert ("Zeek::Cluster_Backend_ZeroMQ" in plugins) == (zeek.major == "8")


@pytest.mark.parametrize("line", list(zr.LINES))
def test_relocated_artifact_runs_a_pcap(line, tmp_path):
    if not zr.artifact_expected(line):
        pytest.skip(f"REAL ZEEK {line}.x NOT TESTED: no {zr.ARTIFACTS / zr.LINES[line][0]}")
    build = zr._unpack(line)
    assert build is not None and build.relocated and build.major == line, build
    assert build.zeekctl is None  # zeekctl needs the compiled-in prefix
    res = build.run(["-r", zr.PCAPS / "wikipedia.pcap", "local", "LogAscii::use_json=T"], cwd=tmp_path)
    assert res.returncode == 0 and not res.stderr, res.stderr
    hosts = {json.loads(x).get("host") for x in (tmp_path / "http.log").read_text().splitlines()}
    assert "upload.wikimedia.org" in hosts
    assert not os.path.exists(tmp_path / "reporter.log")


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """The finder with no Zeek anywhere: no ZEEK_PREFIX, no zeek on PATH, empty install prefixes,
    the cache in tmp_path."""
    monkeypatch.setenv("ZEEK_PREFIX", str(tmp_path / "no-such-prefix"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(zr, "LINES", {"7": ("zeek", tmp_path / "opt-zeek")})
    monkeypatch.setattr(zr, "CACHE", tmp_path / "cache")
    zr.find_zeek.cache_clear()
    yield tmp_path
    zr.find_zeek.cache_clear()


def test_missing_zeek_fails_when_the_shared_artifact_exists(nowhere, monkeypatch):
    artifacts = nowhere / "artifacts"
    (artifacts / "zeek").mkdir(parents=True)  # a build is expected, but it has no archive
    monkeypatch.setattr(zr, "ARTIFACTS", artifacts)
    with pytest.raises(pytest.fail.Exception, match=r"real-Zeek tier: .*artifacts/zeek exists, so this must run"):
        zr.require_zeek("7")


def test_missing_zeek_skips_loudly_without_shared(nowhere, monkeypatch):
    monkeypatch.setattr(zr, "ARTIFACTS", nowhere / "no-shared" / "artifacts")
    with pytest.raises(pytest.skip.Exception, match=r"REAL ZEEK 7.x NOT TESTED: .* is absent"):
        zr.require_zeek("7")


def test_corrupt_artifact_is_refused(nowhere, monkeypatch):
    artifacts = nowhere / "artifacts"
    (artifacts / "zeek").mkdir(parents=True)
    (artifacts / "zeek" / "zeek-7.2.2-kafka-bookworm-amd64.tar.xz").write_bytes(b"not an archive")
    (artifacts / "zeek" / "SHA256SUMS").write_text("0" * 64 + "  zeek-7.2.2-kafka-bookworm-amd64.tar.xz\n")
    monkeypatch.setattr(zr, "ARTIFACTS", artifacts)
    with pytest.raises(zr.ZeekNotFound, match="does not match SHA256SUMS"):
        zr.find_zeek("7")
