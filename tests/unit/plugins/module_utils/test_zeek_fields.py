"""module_utils.zeek_fields without Zeek: the walker's output read strictly, versions merged with
notes, the table rendered and diffed, JSON record values checked against Zeek types. (The same code
against the real Zeek builds: tests/integration/zeek/test_zeek_field_table.py.)"""

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils import zeek_fields as zf

from tests.role_defaults import role_defaults

REPO = Path(__file__).resolve().parents[4]

WALK = """\
field conn Conn::LOG ts time
field conn Conn::LOG id.orig_h addr
field conn Conn::LOG id.orig_p port
field conn Conn::LOG tunnel_parents set[string]
field dns DNS::LOG TTLs vector[interval]
end 5
"""


def test_parse_walk_reads_fields_in_order():
    table = zf.parse_walk(WALK)
    assert table == {
        "conn": {"ts": "time", "id.orig_h": "addr", "id.orig_p": "port", "tunnel_parents": "set[string]"},
        "dns": {"TTLs": "vector[interval]"},
    }
    assert list(table["conn"]) == ["ts", "id.orig_h", "id.orig_p", "tunnel_parents"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (WALK.replace("end 5", "end 6"), "printed 6 fields, 5 were read"),
        (WALK.replace("end 5\n", ""), "no end line"),
        (WALK + "field x X::LOG a string\n", "output after the end line"),
        ("error Foo::LOG has no path\nend 0\n", "line 1: 'error Foo::LOG has no path'"),
        ("field conn Conn::LOG ts time\nfield conn Conn::LOG ts time\nend 2\n", "conn.ts is listed twice"),
        ("field conn Conn::LOG t table[string] of count\nend 1\n", "conn.t: unknown Zeek type"),
        ("field Conn-X C::LOG ts time\nend 1\n", "log path 'Conn-X'"),
        ("end 0\n", "no log stream"),
    ],
)
def test_parse_walk_refuses_what_it_cannot_trust(text, named):
    with pytest.raises(zf.ZeekFieldsError, match=named):
        zf.parse_walk(text, "zeek")


def test_load_lines_keeps_order_and_skips_the_site_packages():
    local = "# managed\n@load misc/stats\n\n@load  socforge-alert\n@load frameworks/intel/seen  # intel\nredef x = 1;\n"
    assert zf.load_lines(local, skip=["socforge-alert"]) == ["misc/stats", "frameworks/intel/seen"]


def test_merge_keeps_the_truth_and_notes_the_other_version():
    truth = {
        "conn": {"ts": "time", "uid": "string", "ip_proto": "count"},
        "ssh": {"ts": "time", "host_key_fingerprint": "string", "cipher": "string"},
        "x509": {"ts": "time", "serial": "string"},
    }
    other = {
        "conn": {"ts": "time", "uid": "string"},
        "ssh": {"ts": "time", "host_key": "string", "cipher": "count"},
        "dpd": {"ts": "time", "analyzer": "string"},
    }
    merged, notes = zf.merge_tables([("8.1", truth), ("7.2", other)])
    assert list(merged) == ["conn", "dpd", "ssh", "x509"]
    assert list(merged["ssh"]) == ["ts", "host_key", "host_key_fingerprint", "cipher"]  # after its predecessor
    assert merged["ssh"]["cipher"] == "string"  # the truth's type wins
    assert notes == {
        ("conn", "ip_proto"): "not in 7.2",
        ("ssh", "host_key_fingerprint"): "not in 7.2",
        ("ssh", "host_key"): "7.2 only",
        ("ssh", "cipher"): "7.2: count",
        ("dpd", ""): "7.2 only",
        ("x509", ""): "not in 7.2",
    }
    text = zf.render_table(merged, notes, "Generated.\nTwo lines.")
    assert text.startswith("# Generated.\n# Two lines.\n---\n__opensearch_zeek_fields:\n")
    assert "  dpd:  # 7.2 only\n" in text and "    host_key: string  # 7.2 only\n" in text
    assert yaml.safe_load(text)[zf.TABLE_VAR] == merged
    assert zf.table_body(text) == text[text.index("---\n") :]
    assert zf.table_body(text.replace("Two lines.", "Other header.")) == zf.table_body(text)
    with pytest.raises(zf.ZeekFieldsError):
        zf.merge_tables([])


def test_table_diff_names_each_difference():
    wanted = {"conn": {"ts": "time", "id.orig_h": "addr", "uid": "string"}, "dns": {"ts": "time"}}
    assert zf.table_diff(wanted, wanted) == []
    stale = {"conn": {"ts": "time", "id.orig_h": "string", "_node_name": "string"}, "open_conn": {"ts": "time"}}
    assert zf.table_diff(wanted, stale) == [
        "conn.uid: missing (string)",
        "conn.id.orig_h: committed string, Zeek writes addr",
        "conn._node_name: not written by Zeek",
        "dns: missing from the committed table",
        "open_conn: in the committed table, not written by Zeek",
    ]
    reordered = {"conn": {"uid": "string", "ts": "time", "id.orig_h": "addr"}, "dns": {"ts": "time"}}
    assert zf.table_diff(wanted, reordered) == ["conn: the same fields in another order"]


@pytest.mark.parametrize(
    ("zeek_type", "value"),
    [
        ("time", 1300475167.096535),
        ("time", "2011-03-18T19:06:07.096535Z"),
        ("addr", "fe80::217:f2ff:fed7:cf65"),
        ("subnet", "10.0.0.0/8"),
        ("port", 443),
        ("count", 0),
        ("int", -3),
        ("interval", 0),
        ("double", 37.5),
        ("bool", False),
        ("enum", "Notice::ACTION_LOG"),
        ("set[enum]", ["Notice::ACTION_LOG"]),
        ("vector[addr]", ["10.0.0.1", "::1"]),
        ("vector[string]", []),
    ],
)
def test_values_that_fit(zeek_type, value):
    assert zf.value_problem(zeek_type, value) is None


@pytest.mark.parametrize(
    ("zeek_type", "value", "problem"),
    [
        ("time", "yesterday", "not a time"),
        ("time", True, "not a time"),
        ("addr", "10.0.0.300", "not an address"),
        ("subnet", "10.0.0.0/33", "not a subnet"),
        ("port", 70000, "not a port number"),
        ("port", "80", "not a port number"),
        ("count", -1, "negative"),
        ("count", 1.5, "not a whole number"),
        ("bool", "T", "not true/false"),
        ("string", 5, "not a string"),
        ("set[addr]", "10.0.0.1", "not a list"),
        ("vector[count]", [1, "2"], "element '2': not a whole number"),
    ],
)
def test_values_that_do_not_fit(zeek_type, value, problem):
    assert zf.value_problem(zeek_type, value) == problem


def test_record_problems_name_the_field():
    fields = {"ts": "time", "id.orig_h": "addr", "id.orig_p": "port"}
    assert zf.record_problems("conn", {"ts": 1.5, "id.orig_h": "10.0.0.1", "id.orig_p": 5}, fields) == []
    assert zf.record_problems("conn", {"ts": 1.5, "id.orig_h": "nope", "ip_proto": 6}, fields) == [
        "conn.id.orig_h (addr): 'nope' is not an address",
        "conn.ip_proto: not in the table (value 6)",
    ]


def test_the_site_packages_the_walk_leaves_out_log_nothing():
    """scripts/zeek_fields.py does not load socforge-alert and socforge-intel (they are not in a bare
    Zeek build): they must create no log stream and add no logged field, or the table would miss them."""
    packages = [*(REPO / "roles/zeek/templates/opt/zeek/share/zeek/site/socforge-alert").glob("*.zeek.j2")]
    packages += [*(REPO / "roles/zeek_intel/files/socforge-intel").glob("*.zeek")]
    packages += [*(REPO / "roles/zeek_intel/templates").rglob("*.zeek.j2")]
    assert len(packages) >= 4, packages
    for path in packages:
        text = path.read_text()
        assert "create_stream" not in text and "&log" not in text, path


@pytest.mark.parametrize(
    ("role", "variable"),
    [
        ("opensearch", "opensearch_zeek_log_names"),
        ("kafka", "kafka_zeek_logs"),
        ("zeek", "zeek_kafka_logs"),
        ("logstash", "logstash_zeek_logs"),
        ("tenzir", "tenzir_logs"),
    ],
)
def test_every_log_the_roles_ship_is_one_zeek_8_writes(role, variable):
    """A shipped log name that Zeek 8.1 does not write (a typo, a log of an old Zeek) has no field list
    in the table, so no template: caught here rather than by the role's assert on a site."""
    text = (REPO / "roles/opensearch/vars/zeek_fields.yml").read_text()
    table = yaml.safe_load(text)[zf.TABLE_VAR]
    only_7 = set(re.findall(r"^  (\w+):  # 7\.2 only$", text, re.M))
    shipped = role_defaults(role)[variable]
    assert shipped and set(shipped) <= set(table) - only_7, f"{variable}: {set(shipped) - (set(table) - only_7)}"
