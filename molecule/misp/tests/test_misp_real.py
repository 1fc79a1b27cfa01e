"""The configuration modules and the MISP test double's fidelity against this scenario's REAL MISP hub
(molecule/shared/misp_real.py): the hub's admin key is copied into a 0600 file on the controller for
the run, and the hub is reached at its address with the scenario's site CA."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

_key = subprocess.run(  # noqa: S603 -- fixed argv, no shell, no outside input
    [shutil.which("podman") or "/usr/bin/podman", "exec", "misp-hub", "cat", "/etc/socforge/misp/admin_api_key"],
    capture_output=True,
    text=True,
    check=True,
).stdout.strip()
_fd, _key_file = tempfile.mkstemp(prefix="socforge-misp-key.")
os.fchmod(_fd, 0o600)
os.write(_fd, _key.encode())
os.close(_fd)
os.environ["SOCFORGE_MISP_URL"] = "https://10.89.111.10"
os.environ["SOCFORGE_MISP_KEY_FILE"] = _key_file
os.environ["SOCFORGE_MISP_CA"] = str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki" / "ca.crt")

from misp_real import *  # noqa: E402,F403 -- the shared real-MISP tests, configured above
