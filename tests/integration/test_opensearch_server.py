"""The OpenSearch fixture itself: a real node answers, and survives a stop/start with its data."""

import pytest

pytestmark = pytest.mark.integration


def test_server_answers_and_keeps_data_across_restart(opensearch_server):
    client = opensearch_server.client(timeout=30)
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    if opensearch_server.version:
        assert info["version"]["number"] == opensearch_server.version
    client.index(index="fixture-restart", id="1", body={"n": 1}, refresh=True)
    opensearch_server.stop()
    opensearch_server.start()
    client = opensearch_server.client(timeout=30)
    assert client.get(index="fixture-restart", id="1")["_source"] == {"n": 1}
    client.indices.delete(index="fixture-restart")
