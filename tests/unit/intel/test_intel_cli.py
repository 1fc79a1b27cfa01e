"""The socforge-intel-sync CLI shipped by roles/zeek_intel (what the systemd timer runs)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import INFOBLOX, require_shared_data
from zeek_reader import read_intel

require_shared_data(INFOBLOX, module_level=True)

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "roles" / "zeek_intel" / "files" / "usr" / "local" / "bin" / "socforge-intel-sync"


def run_cli(config, *args, env=None):
    cmd = [sys.executable, str(CLI), "--config", str(config), "--lib", str(REPO / ".collections"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)


def write_config(tmp_path, sources, **extra):
    intel = tmp_path / "intel"
    intel.mkdir(exist_ok=True)
    config = tmp_path / "sync.json"
    config.write_text(json.dumps({"intel_dir": str(intel), "sources": sources, **extra}))
    return config, intel


def test_feed_sync_then_unchanged(tmp_path):
    config, intel = write_config(tmp_path, [{"name": "infoblox", "feed_path": str(INFOBLOX)}])
    first = run_cli(config)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["source"] == "infoblox" and result["changed"] and result["full_sync"]
    assert len(read_intel((intel / "infoblox.intel").read_text())) == result["indicators"]
    second = json.loads(run_cli(config).stdout)
    assert second["changed"] is False and second["full_sync"] is False
    check = json.loads(run_cli(config, "--check", "--full").stdout)
    assert check["full_sync"] and check["changed"] is False


def test_one_failing_source_does_not_stop_the_others(tmp_path):
    config, intel = write_config(
        tmp_path,
        [
            {"name": "misp", "misp_url": "https://misp.invalid", "key_env": "SOCFORGE_INTEL_KEY_MISP"},
            {"name": "infoblox", "feed_path": str(INFOBLOX)},
        ],
    )
    proc = run_cli(config, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    err = json.loads(proc.stderr.strip().splitlines()[-1])
    assert err["source"] == "misp" and "SOCFORGE_INTEL_KEY_MISP" in err["error"]
    assert (intel / "infoblox.intel").exists() and not (intel / "misp.intel").exists()


def test_refresh_touches_an_unchanged_file(tmp_path):
    # The file is aged explicitly (not by sleeping past a 1 s refresh): on a loaded machine a CLI run
    # can take longer than a short refresh interval, and the third run would refresh again.
    config, intel = write_config(tmp_path, [{"name": "f", "feed_path": str(INFOBLOX)}], refresh_seconds=600)
    assert run_cli(config).returncode == 0
    dest = intel / "f.intel"
    aged = time.time() - 3600
    os.utime(dest, (aged, aged))
    content, mtime = dest.read_bytes(), dest.stat().st_mtime_ns
    out = json.loads(run_cli(config).stdout)
    assert out.get("refreshed") is True and out["changed"] is False
    assert dest.stat().st_mtime_ns > mtime and dest.read_bytes() == content
    again = json.loads(run_cli(config).stdout)  # the new stamp is trusted: no re-render
    assert again["changed"] is False and "refreshed" not in again


def test_bad_config(tmp_path):
    config = tmp_path / "sync.json"
    config.write_text('{"sources": [{"name": "a/b", "feed_path": "/x"}]}')
    proc = run_cli(config)
    assert proc.returncode == 2 and "unique name without '/'" in proc.stderr
    config.write_text("not json")
    assert run_cli(config).returncode == 2


def test_suppression_list_of_the_bridge_keeps_noisy_intel_out(tmp_path):
    """``suppress_path`` per source: the timer sync honours the suppression list the intel bridge's
    feedback writes (noisy intel), so Zeek's re-read of this file does not bring it back."""
    config, intel = write_config(tmp_path, [{"name": "infoblox", "feed_path": str(INFOBLOX)}])
    assert run_cli(config).returncode == 0
    line = (intel / "infoblox.intel").read_text().splitlines()[1]
    key = "\t".join(line.split("\t")[:2])
    shared = tmp_path / "bridge" / "suppressed.json"
    shared.parent.mkdir()
    shared.write_text(json.dumps({"version": 1, "keys": {key: {"rate": 150.0, "state": "proposed"}}}))
    config, intel = write_config(
        tmp_path, [{"name": "infoblox", "feed_path": str(INFOBLOX), "suppress_path": str(shared)}]
    )
    result = json.loads(run_cli(config).stdout)
    assert result["changed"] and result["removals"] == 1
    assert f"\n{key}\t" not in (intel / "infoblox.intel").read_text()
    assert (intel / "infoblox.intel.removals").read_text().splitlines()[1].startswith(key + "\t")
    shared.write_text(json.dumps({"version": 1, "keys": {}}))  # decided: discarded
    assert json.loads(run_cli(config).stdout)["added"] == 1
    assert f"\n{key}\t" in (intel / "infoblox.intel").read_text()
