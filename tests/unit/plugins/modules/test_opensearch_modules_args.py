"""Argument checks of the opensearch_* modules: bad input fails naming it, before any request."""

import socket

import pytest
from ansible_collections.socforge.core.plugins.modules import opensearch_index_template as tmpl_mod
from ansible_collections.socforge.core.plugins.modules import opensearch_ingest_pipeline as pipe_mod

from tests.unit.plugins.modules.utils import fail_module as run_module_fail


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_template_without_index_patterns(monkeypatch, closed_port):
    result = run_module_fail(
        monkeypatch, tmpl_mod, {"hosts": [f"http://127.0.0.1:{closed_port}"], "name": "t1", "template": {"priority": 1}}
    )
    assert result["msg"] == "template: index template 't1' needs index_patterns"


def test_pipeline_without_processors(monkeypatch, closed_port):
    result = run_module_fail(
        monkeypatch, pipe_mod, {"hosts": [f"http://127.0.0.1:{closed_port}"], "name": "p1", "pipeline": {}}
    )
    assert "needs a processors list" in result["msg"]


def test_credentials_over_plain_http_refused(monkeypatch, closed_port):
    args = {
        "hosts": [f"http://127.0.0.1:{closed_port}"],
        "username": "admin",
        "password": "secret-Pw-123",
        "name": "t1",
        "template": {"index_patterns": ["a-*"]},
    }
    result = run_module_fail(monkeypatch, tmpl_mod, args)
    assert "plain http" in result["msg"]
    assert "secret-Pw-123" not in result["msg"]


def test_unreachable_server_names_the_object(monkeypatch, closed_port):
    args = {
        "hosts": [f"http://127.0.0.1:{closed_port}"],
        "name": "zeek-conn",
        "template": {"index_patterns": ["zeek-conn-*"]},
        "request_timeout": 2,
    }
    result = run_module_fail(monkeypatch, tmpl_mod, args)
    assert result["msg"].startswith("index template 'zeek-conn': ")
    assert "Connection" in result["msg"]
