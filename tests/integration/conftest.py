"""Real-server fixtures for integration tests.

Keep this a thin list of imports, one module per server kind (pytest only honours
``pytest_plugins`` in the top-level conftest, so the fixtures are imported here instead).
"""

from opensearch_server import opensearch_client, opensearch_server  # noqa: F401 -- fixtures, used by name
