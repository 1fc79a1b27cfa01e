"""module_utils.zeek_index: Zeek types -> OpenSearch mappings, templates and ISM retention."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import validate_ism_policy
from ansible_collections.socforge.core.plugins.module_utils.zeek_index import (
    ZeekMappingError,
    field_mapping,
    zeek_index_template,
    zeek_ism_policy,
    zeek_properties,
)

REPO = Path(__file__).resolve().parents[4]
FIELDS = yaml.safe_load((REPO / "roles/opensearch/vars/zeek_fields.yml").read_text())["__opensearch_zeek_fields"]


@pytest.mark.parametrize(
    ("zeek", "os_type"),
    [
        ("addr", "ip"),
        ("set[addr]", "ip"),
        ("vector[addr]", "ip"),
        ("subnet", "ip_range"),
        ("port", "integer"),
        ("count", "long"),
        ("interval", "double"),
        ("vector[interval]", "double"),
        ("time", "date"),
        ("bool", "boolean"),
        ("enum", "keyword"),
        ("set[string]", "keyword"),
    ],
)
def test_field_mapping(zeek, os_type):
    assert field_mapping(zeek)["type"] == os_type


def test_dotted_names_nest():
    props = zeek_properties({"ts": "time", "id.orig_h": "addr", "id.orig_p": "port", "seen.indicator": "string"})
    assert props["id"]["properties"]["orig_h"] == {"type": "ip"}
    assert props["id"]["properties"]["orig_p"] == {"type": "integer"}
    assert props["seen"]["properties"]["indicator"]["type"] == "keyword"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"id.orig_h": "addr", "id": "string"}, "conn.id"),
        ({"id": "string", "id.orig_h": "addr"}, "conn.id.orig_h"),
        ({"ts": "table[string]"}, "conn.ts: unknown Zeek type"),
        ({"bad name": "string"}, "conn.bad name"),
        ({}, "non-empty"),
    ],
)
def test_bad_field_lists_name_the_field(fields, named):
    with pytest.raises(ZeekMappingError, match=named):
        zeek_properties(fields, "conn")


def test_every_shipped_log_has_a_valid_template():
    expected = {"conn", "dns", "http", "ssl", "x509", "files", "notice", "intel", "weird", "ssh", "software"}
    assert expected | {"smtp", "known_certs"} <= set(FIELDS)
    for log, fields in FIELDS.items():
        body = zeek_index_template(log, fields)
        props = body["template"]["mappings"]["properties"]
        assert body["index_patterns"] == [f"zeek-{log}-*"]
        if log != "loaded_scripts":  # the one Zeek log without a ts (one script name per record)
            assert props["ts"]["type"] == "date", log
        if "id.orig_h" in fields:
            assert props["id"]["properties"]["orig_h"]["type"] == "ip", log
            assert props["id"]["properties"]["resp_p"]["type"] == "integer", log


def test_template_settings_and_errors():
    body = zeek_index_template("dns", FIELDS["dns"], prefix="site", shards=3, replicas=2, pipeline="zeek")
    assert body["index_patterns"] == ["site-dns-*"]
    assert body["template"]["settings"] == {
        "number_of_shards": 3,
        "number_of_replicas": 2,
        "refresh_interval": "5s",
        "mapping.ignore_malformed": True,
        "default_pipeline": "zeek",
    }
    strict = zeek_index_template("dns", FIELDS["dns"], ignore_malformed=False)
    assert strict["template"]["settings"]["mapping.ignore_malformed"] is False
    with pytest.raises(ZeekMappingError, match="Conn"):
        zeek_index_template("Conn", FIELDS["conn"])
    with pytest.raises(ZeekMappingError, match="shards"):
        zeek_index_template("conn", FIELDS["conn"], shards=0)


def test_ism_policy_retention():
    policy = zeek_ism_policy("conn", 30, prefix="zeek")
    assert validate_ism_policy(policy) == []
    assert policy["states"][0]["transitions"][0]["conditions"] == {"min_index_age": "30d"}
    assert policy["states"][1]["actions"] == [{"delete": {}}]
    assert policy["ism_template"][0]["index_patterns"] == ["zeek-conn-*"]
    for bad in (0, -1, "abc", None):
        with pytest.raises(ZeekMappingError, match="conn: retention_days"):
            zeek_ism_policy("conn", bad)
