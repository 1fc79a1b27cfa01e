"""The double's traffic checked against MISP's OpenAPI spec, with requests made by real pymisp.

``openapi="strict"`` makes the factory fail the test at teardown on any violation; these tests also
assert on the findings directly, and prove that the checker does catch a response that breaks the spec.
"""

from __future__ import annotations

import pytest
import requests
from pymisp import MISPAttribute, MISPSighting, PyMISP

from tests.misp_double import MispDouble
from tests.misp_double.openapi import UNSPECIFIED, SpecChecker, _operation_ids


@pytest.fixture
def strict(misp_double_factory) -> MispDouble:
    return misp_double_factory(datasets=("pymisp",), openapi="strict")


def test_everything_the_project_calls_matches_the_spec(strict: MispDouble) -> None:
    misp = PyMISP(strict.url, strict.key, ssl=False, timeout=10)
    attr = strict.attributes(event=750)[0]
    # attributes/restSearch with every filter the intel library uses
    misp.search(controller="attributes", eventid=750, to_ids=1, include_event_uuid=True, include_event_tags=True)
    misp.search(controller="attributes", type_attribute=["ip-dst", "domain"], limit=5, page=2)
    misp.search(
        controller="attributes",
        tags=misp.build_complex_query(or_parameters=["tlp:white"], not_parameters=["tlp:red"]),
        timestamp=1_400_000_000,
        publish_timestamp="3650d",
        enforce_warninglist=True,
        deleted=[0, 1],
        org="CIRCL",
        limit=3,
    )
    misp.search(controller="attributes", last="30d", published=True, limit=3, include_sightings=True)
    misp.search(controller="events", eventid=750)
    misp.search(controller="events", metadata=True, limit=3, page=1, type_attribute="ip-dst")
    misp.get_event(750)
    misp.get_event(9747)  # objects, galaxies
    misp.get_event(999_999)  # 404
    misp.events()
    misp.search_index(published=True, limit=3)
    sighting = MISPSighting()
    sighting.from_dict(value=attr["value"], source="zeek")
    misp.add_sighting(sighting)
    misp.add_sighting({"source": "zeek"}, attribute=attr["id"])
    misp.search_sightings(context="attribute", context_id=attr["id"])
    misp.sightings(misp.get_event(750, pythonify=True))
    proposal = MISPAttribute()
    proposal.from_dict(type="domain", value="noisy.example.org")
    added = misp.add_attribute_proposal(750, proposal, pythonify=True)
    edit = misp.update_attribute_proposal(attr["id"], {"to_ids": False}, pythonify=True)  # type: ignore[arg-type]
    misp.delete_attribute_proposal(attr["id"])
    misp.attribute_proposals()
    misp.accept_attribute_proposal(edit.id)
    misp.discard_attribute_proposal(added.id)
    misp.feeds()
    misp.tags()
    misp.servers()
    misp.get_attribute(attr["id"])
    assert misp.attribute_exists(attr["uuid"]) and not misp.attribute_exists(999_999_999)
    misp.publish(750)
    misp.delete_attribute(attr["id"])
    requests.get(strict.url + "/sightings/index/60", headers={"Authorization": strict.key}, timeout=5)

    checker = strict.openapi
    assert checker is not None
    assert checker.violations == [], checker.report()
    operations = {_operation_ids().get(c) for c in checker.checked}
    assert {
        "restSearchAttributes",
        "restSearchEvents",
        "getEventById",
        "getEvents",
        "searchEvents",
        "addSightingByValue",
        "addSighting",
        "getSightingsByEventId",
        "getFeeds",
        "getTags",
        "getServers",
        "getServerVersion",
        "describeAttributeTypes",
        "getAttributeById",
        "publishEvent",
    } <= operations
    # the endpoints the spec lacks are served, recorded as unchecked, and each is documented
    assert set(checker.unchecked) <= set(UNSPECIFIED)
    assert ("GET", "/users/view/me") in checker.unchecked


def test_tolerated_divergences_are_real(strict: MispDouble) -> None:
    """What pymisp sends really differs from the spec in the documented ways (else the list is stale)."""
    misp = PyMISP(strict.url, strict.key, ssl=False, timeout=10)
    misp.search(controller="attributes", eventid=750, tags=misp.build_complex_query(not_parameters=["x"]))
    tolerated = {(f.field, f.keyword) for f in strict.openapi.tolerated}
    assert ("includeEventUuid", "type") in tolerated  # 0/1 for a boolean
    assert ("eventid", "type") in tolerated  # an int id where the spec wants a string
    assert ("tags", "type") in tolerated  # {"NOT": [...]} where the spec wants a list
    assert strict.openapi.violations == []


def test_checker_catches_a_response_that_breaks_the_spec(misp_double_factory) -> None:
    double = misp_double_factory(datasets=("pymisp",), openapi="record")
    double.edit_attribute(double.attributes(event=750)[0]["id"], type=["not", "a", "string"])
    double.event(750)["published"] = "maybe"
    misp = PyMISP(double.url, double.key, ssl=False, timeout=10)
    misp.search(controller="attributes", eventid=750)
    misp.get_event(750)
    bad = {(f.operation, f.field.split(".")[-1]) for f in double.openapi.violations}
    assert ("restSearchAttributes", "type") in bad
    assert ("getEventById", "published") in bad
    assert "VIOLATION" in double.openapi.report()


def test_checker_catches_a_bad_request() -> None:
    checker = SpecChecker()
    found = checker.check(
        method="POST",
        path="/attributes/restSearch",
        spec_path="/attributes/restSearch",
        route_template="/attributes/restSearch",
        path_params={},
        request_headers={"authorization": "k", "content-type": "application/json"},
        request_body=b'{"limit": {"no": "dict"}, "uuid": 5}',
        status=200,
        response_headers={"Content-Type": "application/json"},
        response_body=b'{"response": {"Attribute": []}}',
    )
    assert {(f.direction, f.field) for f in found if f.tolerated is None} >= {("request", "uuid")}
    undocumented = checker.check(
        method="GET",
        path="/made/up",
        spec_path=None,
        route_template="/made/up",
        path_params={},
        request_headers={},
        request_body=b"",
        status=200,
        response_headers={},
        response_body=b"{}",
    )
    assert undocumented and undocumented[0].keyword == "undocumented"


def test_strict_factory_fails_the_test_on_violation(pytester_free_strict_check) -> None:
    assert pytester_free_strict_check


@pytest.fixture
def pytester_free_strict_check() -> bool:
    """Run the factory's strict teardown logic on a double with a violation, without pytester."""
    from tests.misp_double import fixtures

    gen = fixtures.misp_double_factory.__wrapped__()
    make = next(gen)
    double = make(datasets=("pymisp",), openapi="strict")
    double.event(750)["published"] = "maybe"
    PyMISP(double.url, double.key, ssl=False, timeout=10).get_event(750)
    with pytest.raises(pytest.fail.Exception, match="does not match MISP's OpenAPI spec"):
        next(gen)
    return True


def _view_every_event(double: MispDouble, event_ids: list[int]) -> None:
    from pymisp import MISPEvent

    misp = PyMISP(double.url, double.key, ssl=False, timeout=60)
    for event_id in event_ids:
        stored = double.event(event_id)
        event = misp.get_event(event_id, pythonify=True)
        assert isinstance(event, MISPEvent), event
        live = [a for a in double.attributes(event=event_id)]
        served = list(event.attributes) + [a for o in event.objects for a in o.attributes]
        assert sorted(a.uuid for a in served) == sorted(a["uuid"] for a in live)
        assert event.uuid == stored["uuid"]
    assert double.openapi.violations == [], double.openapi.report()


def test_every_pymisp_test_event_is_served_as_the_spec_says(misp_double_factory) -> None:
    double = misp_double_factory(datasets=("pymisp",), openapi="strict")
    _view_every_event(double, sorted(double.data.events))


def test_small_feed_events_are_served_as_the_spec_says(misp_double_factory) -> None:
    double = misp_double_factory(datasets=("infoblox",), openapi="strict")
    sizes = sorted((len(e["Attribute"]), i) for i, e in double.data.events.items())
    _view_every_event(double, [i for _n, i in sizes[:5]])


@pytest.mark.slow
def test_every_feed_event_is_served_as_the_spec_says(misp_double_factory) -> None:
    double = misp_double_factory(datasets=("infoblox",), openapi="strict")
    _view_every_event(double, sorted(double.data.events))
