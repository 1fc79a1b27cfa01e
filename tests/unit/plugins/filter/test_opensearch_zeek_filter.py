"""The zeek_index_template / zeek_ism_policy filters: pass-through of module_utils, errors as AnsibleFilterError."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.filter.opensearch_zeek import FilterModule

FILTERS = FilterModule().filters()


def test_template_filter_applies_settings():
    body = FILTERS["zeek_index_template"](
        "conn", {"ts": "time", "id.orig_h": "addr"}, {"prefix": "site", "replicas": 0}
    )
    assert body["index_patterns"] == ["site-conn-*"]
    assert body["template"]["settings"]["number_of_replicas"] == 0
    assert body["template"]["mappings"]["properties"]["id"]["properties"]["orig_h"] == {"type": "ip"}


def test_template_filter_rejects_unknown_settings_and_types():
    with pytest.raises(AnsibleFilterError, match="unknown settings \\['shard'\\]"):
        FILTERS["zeek_index_template"]("conn", {"ts": "time"}, {"shard": 2})
    with pytest.raises(AnsibleFilterError, match="conn.ts: unknown Zeek type 'timestamp'"):
        FILTERS["zeek_index_template"]("conn", {"ts": "timestamp"})


def test_ism_filter():
    policy = FILTERS["zeek_ism_policy"]("dns", 7, "zeek")
    assert policy["states"][0]["transitions"][0]["conditions"]["min_index_age"] == "7d"
    with pytest.raises(AnsibleFilterError, match="dns: retention_days"):
        FILTERS["zeek_ism_policy"]("dns", 0)
