"""Real-server fixtures for integration tests.

Keep this a thin list of imports, one module per server kind (pytest only honours
``pytest_plugins`` in the top-level conftest, so the fixtures are imported here instead).
"""

import sys
from pathlib import Path

# Module helpers shared with the unit tests (run_module, the ISM double).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "plugins" / "modules"))

from kafka_server import kafka_server  # noqa: E402, F401 -- fixture, used by name
from opensearch_server import opensearch_client, opensearch_server  # noqa: E402, F401 -- fixtures, used by name
