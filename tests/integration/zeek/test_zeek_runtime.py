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
