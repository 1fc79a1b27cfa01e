"""Test-wide set-up: make the collection importable by its FQCN path."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".collections"
LINK = COLLECTIONS / "ansible_collections" / "socforge" / "core"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(Path("../../.."))
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

SHARED_DATA = REPO.parent / "shared" / "data"
