"""Make ``tests.misp_double`` importable and its fixtures available to the double's own tests.

(The lead registers the same fixtures project-wide through ``pytest_plugins`` in tests/conftest.py.)
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.misp_double.fixtures import misp_double, misp_double_factory, misp_double_tls  # noqa: E402,F401 -- path set above; fixtures
