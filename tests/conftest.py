"""Test-wide set-up: make the collection importable by its FQCN path, and the test helpers
(`tests.misp_double`) importable by package; register the MISP test double's fixtures."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "socforge" / "core"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(Path("../../.."))
for path in (COLLECTIONS, REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

SHARED_DATA = REPO.parent / "shared" / "data"

# Tests read ansible-playbook's output: keep it free of colour codes whatever the caller's settings.
os.environ.pop("ANSIBLE_FORCE_COLOR", None)
os.environ["ANSIBLE_NOCOLOR"] = "1"

pytest_plugins = ["tests.misp_double.fixtures"]
