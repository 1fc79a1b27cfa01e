"""The double's filter semantics, tested directly (no HTTP): value filters, times, warninglists, paging."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.misp_double import fresh_dataset
from tests.misp_double.search import (
    BadFilter,
    Query,
    ValueFilter,
    Warninglists,
    parse_time,
    search_attributes,
    search_events,
    time_range,
)

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("spec", "candidates", "expected"),
    [
        ("tlp:white", ["TLP:WHITE"], True),  # MISP compares case-insensitively
        ("tlp:white", ["tlp:green"], False),
        (["a", "b"], ["b"], True),  # a list is OR
        ("!a", ["a", "b"], False),  # NOT wins when any candidate matches
        ("!a", ["b"], True),
        ({"AND": ["a", "b"]}, ["a"], False),
        ({"AND": ["a", "b"]}, ["b", "a", "c"], True),
        ({"OR": ["x"], "NOT": ["y"]}, ["x", "y"], False),
        ({"NOT": ["y"]}, [], True),
        ("misp-galaxy:%", ['misp-galaxy:threat-actor="Sofacy"'], True),  # LIKE wildcard
        ("%.example.org", ["a.b.example.org"], True),
        ("%.example.org", ["example.org"], False),
        ("a.c", ["abc"], False),  # '.' is literal, not a regex
    ],
)
def test_value_filter(spec, candidates, expected) -> None:
    assert ValueFilter("tags", spec).match(candidates) is expected


def test_value_filter_rejects_bad_shapes() -> None:
    with pytest.raises(BadFilter, match="^tags: complex query keys"):
        ValueFilter("tags", {"XOR": ["a"]})
    with pytest.raises(BadFilter, match="^type: nested value"):
        ValueFilter("type", [["ip-dst"]])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, 1_700_000_000),
        ("1700000000", 1_700_000_000),
        ("30d", NOW - 30 * 86400),
        ("12h", NOW - 43200),
        ("15m", NOW - 900),
        ("90s", NOW - 90),
        ("2w", NOW - 2 * 604800),
        (" 5D ", NOW - 5 * 86400),
    ],
)
def test_parse_time(value, expected) -> None:
    assert parse_time("timestamp", value, NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "5y", True, "", "1d2h"])
def test_parse_time_rejects(value) -> None:
    with pytest.raises(BadFilter, match="^last:"):
        parse_time("last", value, NOW)


def test_time_range_shapes() -> None:
    assert time_range("timestamp", None, NOW) is None
    assert time_range("timestamp", 0, NOW) is None  # pymisp's 'not set'
    assert time_range("timestamp", [10, 20], NOW) == (10, 20)
    assert time_range("timestamp", [None, 20], NOW) == (float("-inf"), 20)
    assert time_range("timestamp", "1d", NOW) == (NOW - 86400, float("inf"))
    with pytest.raises(BadFilter, match="range must be"):
        time_range("timestamp", [1, 2, 3], NOW)


def test_warninglists() -> None:
    lists = Warninglists()
    lists.add("hosts", ["example.com"], "hostname")
    lists.add("nets", ["192.0.2.0/24", "2001:db8::/32"], "cidr")
    lists.add("exact", ["evil.test"], "string")
    assert lists.hits("domain", "www.Example.com.") == ["hosts"]
    assert lists.hits("domain", "notexample.com") == []
    assert lists.hits("ip-dst", "192.0.2.55") == ["nets"]
    assert lists.hits("ip-dst", "2001:db8::1") == ["nets"]
    assert lists.hits("ip-dst|port", "192.0.2.1|443") == ["nets"]
    assert lists.hits("domain|ip", "evil.test|198.51.100.1") == ["exact"]
    assert lists.hits("ip-dst", "not an ip") == []
    with pytest.raises(ValueError, match="regex"):
        lists.add("bad", ["x"], "regex")


def test_query_rejects_what_misp_rejects() -> None:
    for params, name in (
        ({"page": 0}, "page"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"to_ids": 2}, "to_ids"),
        ({"from": "2020-13-01"}, "from"),
        ({"returnFormat": "csv"}, "returnFormat"),
        ({"searchall": "x"}, "searchall"),
    ):
        with pytest.raises(BadFilter, match=f"^{name}"):
            Query(params, NOW, "attributes")
    with pytest.raises(BadFilter, match="JSON object"):
        Query([], NOW, "attributes")  # type: ignore[arg-type]


def test_org_filter_is_the_creator_org() -> None:
    data = fresh_dataset(("pymisp",))
    lists = Warninglists()
    owner = search_events(data, Query({"org": "SOCForge-Test"}, NOW, "events"), lists)
    assert owner == [], "the local owner org is not the creator of the loaded events"
    circl = search_events(data, Query({"org": "CIRCL"}, NOW, "events"), lists)
    assert circl and all(e["Orgc"]["name"] == "CIRCL" for e in circl)


DATA = fresh_dataset(("pymisp",))
EVERYTHING = [a["id"] for a, _o, _e in search_attributes(DATA, Query({}, NOW, "attributes"), Warninglists())]


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(min_value=1, max_value=len(EVERYTHING) + 5))
def test_pages_partition_the_result(limit: int) -> None:
    seen: list[str] = []
    page = 1
    while True:
        query = Query({"limit": limit, "page": page}, NOW, "attributes")
        chunk = [a["id"] for a, _o, _e in query.paginate(search_attributes(DATA, query, Warninglists()))]
        seen.extend(chunk)
        if len(chunk) < limit:
            break
        page += 1
    assert seen == EVERYTHING


@settings(max_examples=60, deadline=None)
@given(
    types=st.lists(
        st.sampled_from(sorted({a["type"] for e in DATA.events.values() for a in e["Attribute"]})), max_size=3
    ),
    negate=st.booleans(),
)
def test_type_filter_and_its_negation_split_the_data(types: list[str], negate: bool) -> None:
    if not types:
        return
    spec = ["!" + t for t in types] if negate else types
    picked = search_attributes(DATA, Query({"type": spec}, NOW, "attributes"), Warninglists())
    other = search_attributes(
        DATA, Query({"type": types if negate else ["!" + t for t in types]}, NOW, "attributes"), Warninglists()
    )
    assert len(picked) + len(other) == len(EVERYTHING)
    assert all((a["type"] in types) != negate for a, _o, _e in picked)
