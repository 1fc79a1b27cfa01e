"""Shared helpers for the intel library tests."""

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


@pytest.fixture
def feed_copy(tmp_path):
    """A private, editable copy of the real Infoblox MISP feed (../shared/data is never edited)."""
    dest = tmp_path / "feed"
    shutil.copytree(INFOBLOX, dest)
    return dest
