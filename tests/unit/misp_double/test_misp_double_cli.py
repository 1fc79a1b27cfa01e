"""``python -m tests.misp_double``: the double run by hand (and by the lab)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from pymisp import PyMISP

REPO = Path(__file__).resolve().parents[3]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.misp_double", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_serves_over_tls_with_key_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    key_file = tmp_path / "misp.key"
    key_file.write_text("k" * 40 + "\n")
    info_file = tmp_path / "info.json"
    proc = _start("--tls", "--datasets", "pymisp", "--key-file", str(key_file), "--log", "--info-file", str(info_file))
    try:
        info = json.loads(proc.stdout.readline())
        assert "key" not in info, "a key read from a file is not echoed"
        assert info["url"].startswith("https://127.0.0.1:")
        assert oct(info_file.stat().st_mode & 0o777) == "0o600"
        misp = PyMISP(info["url"], "k" * 40, ssl=info["ca_path"], timeout=10)
        assert misp.search(controller="attributes", eventid=750)["Attribute"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "POST /attributes/restSearch -> 200" in err


def test_cli_rejects_unreadable_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    proc = _start("--key-file", str(missing))
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert str(missing) in err


def test_cli_rejects_unknown_dataset() -> None:
    proc = _start("--datasets", "pymisp,circl")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "circl" in err
