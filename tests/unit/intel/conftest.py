"""Shared helpers for the intel library tests.

The real MISP data lives beside the checkout, in ../shared/data (not in the repository). Tests that
read it call :func:`require_shared_data`: without the directory they are skipped with the reason
printed (``pytest -rs``), or fail when ``SOCFORGE_REQUIRE_SHARED_DATA=1`` (CI, which has the data,
sets it: there a missing directory is a broken set-up, not a reason to skip).
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SHARED = HERE.parents[3] / "shared" / "data"
INFOBLOX = SHARED / "misp-feed-infoblox"
EVENTS_DIR = SHARED / "misp-events"
REQUIRE_ENV = "SOCFORGE_REQUIRE_SHARED_DATA"


def require_shared_data(*paths, module_level=False):
    """Skip (loudly) or fail when ../shared/data, or one of ``paths`` inside it, is missing."""
    missing = [str(p) for p in (SHARED, *paths) if not Path(p).exists()]
    if not missing:
        return
    reason = (
        f"real MISP data missing: {', '.join(missing)} (expected ../shared/data beside the checkout; "
        "these tests only run with it)"
    )
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 forbids skipping", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


@pytest.fixture
def feed_copy(tmp_path):
    """A private, editable copy of the real Infoblox MISP feed (../shared/data is never edited)."""
    require_shared_data(INFOBLOX)
    dest = tmp_path / "feed"
    shutil.copytree(INFOBLOX, dest)
    return dest
