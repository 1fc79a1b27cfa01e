"""Put the collection on sys.path so benchmarks import module_utils by their FQCN path."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / ".collections"))
SHARED_DATA = REPO.parent / "shared" / "data"
