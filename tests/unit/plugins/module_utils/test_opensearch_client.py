"""Pure helpers of module_utils.opensearch_client: connection checks, normalisation, comparison."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (
    OpenSearchConfigError,
    client_kwargs,
    flatten_settings,
    is_subset,
    normalize_index_template,
    strip_ism_server_fields,
    validate_ism_policy,
)

BASE = {"hosts": ["https://os1:9200"], "validate_certs": True, "request_timeout": 10}


def test_client_kwargs_https_with_ca_and_basic_auth():
    kw = client_kwargs({**BASE, "username": "admin", "password": "s3cret", "ca_path": "/ca.crt"})
    assert kw["use_ssl"] and kw["verify_certs"]
    assert kw["ca_certs"] == "/ca.crt"
    assert kw["http_auth"] == ("admin", "s3cret")
    assert kw["timeout"] == 10


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"hosts": []}, "hosts"),
        ({"hosts": ["os1:9200"]}, "hosts"),
        ({"hosts": ["ftp://os1"]}, "hosts"),
        ({"hosts": ["http://a:9200", "https://b:9200"]}, "hosts"),
        ({"hosts": ["https://a:9200"], "username": "admin"}, "username and password"),
        ({"hosts": ["https://a:9200"], "client_cert": "/c.pem"}, "client_cert and client_key"),
        ({"hosts": ["http://a:9200"], "username": "u", "password": "p"}, "plain http"),
    ],
)
def test_client_kwargs_rejects_bad_input_naming_it(params, named):
    with pytest.raises(OpenSearchConfigError, match=named):
        client_kwargs(params)


def test_flatten_settings_matches_opensearch_storage_form():
    assert flatten_settings(
        {"number_of_shards": 1, "index": {"refresh_interval": "5s", "codec": "best_compression"}, "hidden": False}
    ) == {
        "index.number_of_shards": "1",
        "index.refresh_interval": "5s",
        "index.codec": "best_compression",
        "index.hidden": "false",
    }


def test_normalize_index_template_is_order_and_type_insensitive():
    a = normalize_index_template(
        {"index_patterns": ["b-*", "a-*"], "priority": "10", "template": {"settings": {"number_of_replicas": 0}}}
    )
    b = normalize_index_template(
        {"index_patterns": ["a-*", "b-*"], "priority": 10, "template": {"settings": {"index.number_of_replicas": "0"}}}
    )
    assert a == b
    c = normalize_index_template({"index_patterns": ["a-*", "b-*"], "priority": 11})
    assert a != c


def test_is_subset_ignores_server_defaults_but_sees_changes():
    stored = {"states": [{"name": "hot", "actions": [{"delete": {}, "retry": {"count": 3}}]}], "x": "1"}
    assert is_subset({"states": [{"name": "hot", "actions": [{"delete": {}}]}]}, stored)
    assert is_subset({"x": 1}, stored)
    assert not is_subset({"states": [{"name": "warm", "actions": [{"delete": {}}]}]}, stored)
    assert not is_subset({"states": []}, stored)
    assert not is_subset({"y": 1}, stored)


def test_strip_ism_server_fields():
    stored = {
        "policy_id": "p",
        "last_updated_time": 1,
        "schema_version": 21,
        "error_notification": None,
        "default_state": "hot",
        "ism_template": [{"index_patterns": ["a-*"], "last_updated_time": 2}],
    }
    assert strip_ism_server_fields(stored) == {"default_state": "hot", "ism_template": [{"index_patterns": ["a-*"]}]}


def test_validate_ism_policy_names_each_problem():
    assert validate_ism_policy({"default_state": "hot", "states": [{"name": "hot"}]}) == []
    problems = validate_ism_policy(
        {
            "default_state": "cold",
            "states": [
                {"name": "hot", "transitions": [{"state_name": "gone"}]},
                {"name": "hot"},
            ],
        }
    )
    text = "; ".join(problems)
    assert "unique" in text
    assert "'cold'" in text
    assert "'gone'" in text
    assert validate_ism_policy({"states": []}) == ["policy.states: a non-empty list of states is required"]
