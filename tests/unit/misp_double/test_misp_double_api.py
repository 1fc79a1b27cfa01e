"""The MISP test double, driven through real pymisp (and raw HTTP where pymisp hides the detail).

Expected numbers are computed from the JSON files in ../shared/data in the test itself, never typed in.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import requests
from pymisp import MISPAttribute, MISPSighting, PyMISP
from pymisp.exceptions import MISPServerError, PyMISPError

from tests.misp_double import SHARED_DATA, MispDouble, fresh_dataset, load_event_file
from tests.misp_double.data import PYMISP_EVENT_FILES

INFOBLOX = SHARED_DATA / "misp-feed-infoblox"


def _infoblox_events() -> list[dict]:
    manifest = json.loads((INFOBLOX / "manifest.json").read_text())
    return [json.loads((INFOBLOX / "events" / f"{u}.json").read_text())["Event"] for u in manifest]


def _all_raw_attributes(event: dict) -> list[dict]:
    return list(event.get("Attribute") or []) + [a for o in event.get("Object") or [] for a in o.get("Attribute") or []]


@pytest.fixture
def misp(misp_double: MispDouble) -> PyMISP:
    return PyMISP(misp_double.url, misp_double.key, ssl=False, timeout=10)


def post(double: MispDouble, path: str, body: dict, key: str | None = None) -> requests.Response:
    headers = {"Authorization": double.key if key is None else key, "Accept": "application/json"}
    return requests.post(double.url + path, json=body, headers=headers, timeout=10)


# ---------------------------------------------------------------- loading and connecting


def test_loads_every_real_event_with_ids(misp_double: MispDouble) -> None:
    raw_infoblox = _infoblox_events()
    assert len(raw_infoblox) == 36
    stored_uuids = {e["uuid"] for e in misp_double.data.events.values()}
    assert {e["uuid"] for e in raw_infoblox} <= stored_uuids
    expected_attrs = sum(len(_all_raw_attributes(e)) for e in raw_infoblox)
    for rel in PYMISP_EVENT_FILES:
        raw = load_event_file(rel)
        assert raw["uuid"] in stored_uuids
        expected_attrs += len(_all_raw_attributes(raw))
    stored = misp_double.attributes(include_deleted=True)
    assert len(stored) == expected_attrs
    ids = [int(a["id"]) for a in stored]
    assert len(set(ids)) == len(ids), "attribute ids must be unique"
    for event in misp_double.data.events.values():
        assert all(
            a["event_id"] == event["id"] for a in misp_double.attributes(event=event["id"], include_deleted=True)
        )
    # ids that came with a MISP export are kept (the Regin event is id 750 in MISP's own tests)
    assert misp_double.event(750)["info"] == load_event_file(PYMISP_EVENT_FILES[0])["info"]


def test_fresh_data_per_double(misp_double_factory) -> None:
    first = misp_double_factory(datasets=("pymisp",))
    first.soft_delete_attribute(first.attributes(event=750)[0]["id"])
    second = misp_double_factory(datasets=("pymisp",))
    assert len(second.attributes(event=750)) == len(first.attributes(event=750)) + 1


def test_json_is_parsed_once_per_process(misp_double_factory, monkeypatch) -> None:
    from tests.misp_double import data

    misp_double_factory()  # the process-wide parse happens at most here
    reads: list[str] = []
    real = data._read_json
    monkeypatch.setattr(data, "_read_json", lambda path: reads.append(str(path)) or real(path))
    first, second = misp_double_factory(), misp_double_factory()
    assert reads == [], "a new double copies the parsed data instead of reading the files again"
    assert first.data is not second.data
    assert first.data.events[750] is not second.data.events[750]


def test_pymisp_connects_and_sees_version(misp: PyMISP, misp_double: MispDouble) -> None:
    assert misp.misp_instance_version["version"].count(".") == 2
    paths = [r.path for r in misp_double.requests]
    assert paths[:2] == ["/servers/getVersion", "/users/view/me"]
    assert misp.describe_types["types"], "describeTypes served from the real file"


def test_missing_or_wrong_key_is_403(misp_double: MispDouble) -> None:
    response = requests.get(misp_double.url + "/servers/getVersion", timeout=5)
    assert response.status_code == 403
    assert "Authentication failed" in response.json()["message"]
    assert post(misp_double, "/attributes/restSearch", {}, key="not-the-key").status_code == 403
    with pytest.raises(PyMISPError):
        PyMISP(misp_double.url, "wrong" * 8, ssl=False, timeout=5)
    assert all(not r.authorized for r in misp_double.requests)
    assert all(r.headers.get("authorization") in (None, "<redacted>") for r in misp_double.requests)


def test_x_misp_auth_header_is_accepted(misp_double: MispDouble) -> None:
    misp = PyMISP(misp_double.url, misp_double.key, ssl=False, http_auth_header_name="X-MISP-AUTH", timeout=5)
    assert misp.search(controller="attributes", eventid=750, limit=1)["Attribute"]


def test_unknown_endpoint_is_404_and_logged(misp_double: MispDouble) -> None:
    response = requests.get(misp_double.url + "/nope/nothing", headers={"Authorization": misp_double.key}, timeout=5)
    assert response.status_code == 404
    assert "does not serve GET /nope/nothing" in response.json()["message"]
    wrong_method = requests.get(
        misp_double.url + "/attributes/restSearch", headers={"Authorization": misp_double.key}, timeout=5
    )
    assert wrong_method.status_code == 405
    assert [r.status for r in misp_double.requests] == [404, 405]


# ---------------------------------------------------------------- attributes/restSearch


def test_attribute_search_all_to_ids_matches_raw_files(misp: PyMISP, misp_double: MispDouble) -> None:
    result = misp.search(controller="attributes", to_ids=1)
    expected = sum(a["to_ids"] for a in misp_double.attributes())
    raw_ids = sum(bool(a.get("to_ids")) for e in _infoblox_events() for a in _all_raw_attributes(e))
    assert expected >= raw_ids > 16000
    assert len(result["Attribute"]) == expected
    assert all(a["to_ids"] is True and a["deleted"] is False for a in result["Attribute"])
    assert all(set(a["Event"]) >= {"id", "uuid", "info", "orgc_id"} for a in result["Attribute"])


def test_paging_is_complete_stable_and_counted(misp_double: MispDouble) -> None:
    body = {"returnFormat": "json", "type": ["domain", "url"], "to_ids": 1}
    everything = post(misp_double, "/attributes/restSearch", body).json()["response"]["Attribute"]
    total = len(everything)
    assert total > 5000
    seen, page = [], 1
    while True:
        response = post(misp_double, "/attributes/restSearch", {**body, "limit": 2000, "page": page})
        chunk = response.json()["response"]["Attribute"]
        assert response.headers["X-Result-Count"] == str(len(chunk))  # as MISP: elements in this answer
        if not chunk:
            break
        seen.extend(a["id"] for a in chunk)
        page += 1
    assert page == -(-total // 2000) + 1
    assert seen == [a["id"] for a in everything]
    assert [int(i) for i in seen] == sorted(int(i) for i in seen)


def test_type_tag_org_and_event_filters(misp: PyMISP, misp_double: MispDouble) -> None:
    raw = _infoblox_events()
    raw_ip = sum(1 for e in raw for a in _all_raw_attributes(e) if a["type"] == "ip-dst")
    ips = misp.search(controller="attributes", type_attribute="ip-dst", org="Infoblox")["Attribute"]
    assert len(ips) == raw_ip
    # NOT a tag: Infoblox events carry the 'infoblox' tag, so excluding it leaves only the other events
    not_infoblox = misp.search(
        controller="attributes", type_attribute="ip-dst", tags=misp.build_complex_query(not_parameters=["infoblox"])
    )["Attribute"]
    assert not_infoblox and all(a["Event"]["info"] not in {e["info"] for e in raw} for a in not_infoblox)
    bang = misp.search(controller="attributes", type_attribute="ip-dst", tags=["!infoblox"])["Attribute"]
    assert [a["id"] for a in bang] == [a["id"] for a in not_infoblox]
    # a LIKE pattern on tags, and the union of the two sets is the whole
    every_ip = misp.search(controller="attributes", type_attribute="ip-dst")["Attribute"]
    tagged = misp.search(controller="attributes", type_attribute="ip-dst", tags=["infob%"])["Attribute"]
    assert len(tagged) + len(not_infoblox) == len(every_ip)
    one_event = misp.search(controller="attributes", eventid=750)["Attribute"]
    assert len(one_event) == len(load_event_file(PYMISP_EVENT_FILES[0])["Attribute"])


def test_event_tags_and_uuid_included_on_request(misp: PyMISP, misp_double: MispDouble) -> None:
    attrs = misp.search(controller="attributes", eventid=750, include_event_uuid=True, include_event_tags=True)[
        "Attribute"
    ]
    event = misp_double.event(750)
    assert {a["event_uuid"] for a in attrs} == {event["uuid"]}
    event_tags = {t["name"] for t in event["Tag"]}
    assert event_tags and all(event_tags <= {t["name"] for t in a.get("Tag", [])} for a in attrs)
    plain = misp.search(controller="attributes", eventid=750)["Attribute"]
    assert all("event_uuid" not in a for a in plain)


def test_timestamp_last_and_publish_filters(misp: PyMISP, misp_double: MispDouble) -> None:
    misp_double.set_time(1_800_000_000)
    target = misp_double.attributes(event=750)[3]
    assert misp.search(controller="attributes", timestamp=1_799_999_000)["Attribute"] == []
    misp_double.set_to_ids(target["id"], False)
    changed = misp.search(controller="attributes", timestamp=1_799_999_000)["Attribute"]
    assert [a["uuid"] for a in changed] == [target["uuid"]]
    assert changed[0]["to_ids"] is False
    assert misp.search(controller="attributes", timestamp="1h")["Attribute"] == changed
    # the edit unpublished the event; publishing makes it visible to 'last' / publish_timestamp
    assert misp_double.event(750)["published"] is False
    assert misp.search(controller="attributes", last="1d", limit=1)["Attribute"] == []
    misp_double.publish_event(750)
    recent = misp.search(controller="attributes", last="1d")["Attribute"]
    assert {a["Event"]["id"] for a in recent} == {"750"}
    ranged = misp.search(controller="attributes", publish_timestamp=(1_799_000_000, 1_800_000_001))["Attribute"]
    assert len(ranged) == len(recent)


def test_soft_deleted_attributes_only_with_deleted_flag(misp: PyMISP, misp_double: MispDouble) -> None:
    victim = misp_double.attributes(event=750)[0]
    before = misp.search(controller="attributes", eventid=750)["Attribute"]
    misp.delete_attribute(victim["id"])  # through the API, as MISP's UI/API does
    after = misp.search(controller="attributes", eventid=750)["Attribute"]
    assert len(after) == len(before) - 1
    only_deleted = misp.search(controller="attributes", eventid=750, deleted=1)["Attribute"]
    assert [a["uuid"] for a in only_deleted] == [victim["uuid"]]
    both = misp.search(controller="attributes", eventid=750, deleted=[0, 1])["Attribute"]
    assert len(both) == len(before)
    assert int(misp_double.attribute(victim["id"])["timestamp"]) >= int(victim["timestamp"])


def test_enforce_warninglist(misp: PyMISP, misp_double: MispDouble) -> None:
    ips = misp.search(controller="attributes", type_attribute="ip-dst", org="Infoblox")["Attribute"]
    listed = ips[0]["value"]
    network = ".".join(ips[1]["value"].split(".")[:3]) + ".0/24"
    misp_double.add_warninglist("known", [listed])
    misp_double.add_warninglist("cidr", [network], "cidr")
    kept = misp.search(controller="attributes", type_attribute="ip-dst", org="Infoblox", enforce_warninglist=True)[
        "Attribute"
    ]
    kept_values = {a["value"] for a in kept}
    assert listed not in kept_values and ips[1]["value"] not in kept_values
    assert len(kept) < len(ips)
    # without the flag nothing is dropped
    assert len(misp.search(controller="attributes", type_attribute="ip-dst", org="Infoblox")["Attribute"]) == len(ips)


def test_bad_filter_is_400_naming_the_filter(misp_double: MispDouble) -> None:
    for body, name in (
        ({"limit": "ten"}, "limit"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"to_ids": "maybe"}, "to_ids"),
        ({"returnFormat": "bro"}, "returnFormat"),
        ({"tags": {"XOR": ["a"]}}, "tags"),
    ):
        response = post(misp_double, "/attributes/restSearch", body)
        assert response.status_code == 400, body
        assert response.json()["message"].startswith(name), response.json()
    broken = requests.post(
        misp_double.url + "/attributes/restSearch",
        data=b"{not json",
        headers={"Authorization": misp_double.key},
        timeout=5,
    )
    assert broken.status_code == 400


# ---------------------------------------------------------------- events


def test_event_search_and_view(misp: PyMISP, misp_double: MispDouble) -> None:
    events = misp.search(controller="events", org="Infoblox", metadata=True)
    assert len(events) == 36
    assert all("Attribute" not in e["Event"] for e in events)
    full = misp.search(controller="events", eventid=750, pythonify=True)
    assert len(full) == 1 and len(full[0].attributes) == len(load_event_file(PYMISP_EVENT_FILES[0])["Attribute"])
    with_objects = misp.get_event("5a3c2fcd-8328-42bb-a95e-4f4402de0b81", pythonify=True)  # Sednit, by uuid
    assert len(with_objects.objects) == 49
    missing = misp.get_event(999999)
    assert missing["errors"][0] == 404
    assert misp.event_exists(750) and not misp.event_exists(999999)
    # events restSearch with an attribute filter: events that have such an attribute
    by_type = misp.search(controller="events", type_attribute="email-src", metadata=True)
    raw_with_email = {
        e["uuid"] for e in _infoblox_events() if any(a["type"] == "email-src" for a in _all_raw_attributes(e))
    }
    assert raw_with_email <= {e["Event"]["uuid"] for e in by_type}


def test_events_index_get_and_search(misp: PyMISP, misp_double: MispDouble) -> None:
    index = misp.events()
    assert len(index) == len(misp_double.data.events)
    assert all("Attribute" not in e and "Orgc" in e for e in index)
    published = misp.search_index(published=True)
    assert {e["id"] for e in published} == {e["id"] for e in misp_double.data.events.values() if e["published"]}
    tagged = misp.search_index(tags=["tlp:white"], limit=5, page=1)
    assert len(tagged) == 5
    response = requests.post(
        misp_double.url + "/events/index",
        json={"tags": ["tlp:white"], "limit": 5},
        headers={"Authorization": misp_double.key},
        timeout=5,
    )
    white = [e for e in misp_double.data.events.values() if "tlp:white" in {t["name"] for t in e["Tag"]}]
    assert response.headers["X-Result-Count"] == str(len(white)) != "5"  # index: the absolute total


# ---------------------------------------------------------------- mutations


def test_replace_event_bumps_changed_attributes(misp: PyMISP, misp_double: MispDouble) -> None:
    misp_double.set_time(1_900_000_000)
    old = misp_double.event("5a3c2fcd-8328-42bb-a95e-4f4402de0b81")
    old_id = old["id"]
    edited = load_event_file("misp-events/pymisp-tests/mispevent_testfiles/existing_event_edited.json")
    stored = misp_double.replace_event(edited)
    assert stored["id"] == old_id and stored["timestamp"] == "1900000000"
    changed = misp.search(controller="attributes", timestamp=1_899_999_999, deleted=[0, 1])["Attribute"]
    assert {a["event_id"] for a in changed} == {old_id}
    # exactly the attributes whose content differs between the two real files got the new timestamp
    original = load_event_file("misp-events/pymisp-tests/mispevent_testfiles/existing_event.json")

    def content(a: dict) -> tuple:
        return (
            a["type"],
            a["value"],
            a.get("category"),
            bool(a.get("to_ids")),
            bool(a.get("deleted")),
            a.get("comment", ""),
            tuple(sorted(t["name"] for t in a.get("Tag") or [])),
        )

    before = {a["uuid"]: content(a) for a in _all_raw_attributes(original)}
    expected = {a["uuid"] for a in _all_raw_attributes(edited) if before.get(a["uuid"]) != content(a)}
    assert expected, "the edited file differs from the original in some attributes"
    assert {a["uuid"] for a in changed} == expected
    # ids of attributes present in both versions are kept
    old_ids = {a["uuid"]: a["id"] for a in _all_raw_attributes(original)}
    for attr in misp_double.attributes(event=old_id, include_deleted=True):
        if attr["uuid"] in old_ids:
            assert attr["id"] == old_ids[attr["uuid"]]


def test_add_and_delete_event(misp: PyMISP, misp_double: MispDouble) -> None:
    event = {
        "info": "added by a test",
        "uuid": "6a1b2c3d-0000-4000-8000-000000000001",
        "Orgc": {"name": "CERN"},
        "Tag": [{"name": "tlp:green"}],
        "Attribute": [{"type": "ip-dst", "value": "192.0.2.7", "to_ids": True, "category": "Network activity"}],
    }
    stored = misp_double.add_event(event, published=True)
    found = misp.search(controller="attributes", value="192.0.2.7", org="CERN")["Attribute"]
    assert [a["event_id"] for a in found] == [stored["id"]]
    with pytest.raises(ValueError, match="exists"):
        misp_double.add_event(event)
    misp_double.delete_event(stored["uuid"])
    assert misp.search(controller="attributes", value="192.0.2.7")["Attribute"] == []


def test_tag_changes_move_attributes_in_and_out(misp: PyMISP, misp_double: MispDouble) -> None:
    assert misp.search(controller="attributes", tags=["socforge:watch"])["Attribute"] == []
    attr = misp_double.add_attribute(750, "domain", "evil.example", tags=["socforge:watch"])
    assert [a["id"] for a in misp.search(controller="attributes", tags=["socforge:watch"])["Attribute"]] == [attr["id"]]
    misp_double.set_tags(750, ["socforge:watch"], on="event")
    assert len(misp.search(controller="attributes", tags=["socforge:watch"])["Attribute"]) == len(
        misp_double.attributes(event=750)
    )
    misp_double.remove_tag(750, "socforge:watch", on="event")
    misp_double.remove_tag(attr["id"], "socforge:watch", on="attribute")
    assert misp.search(controller="attributes", tags=["socforge:watch"])["Attribute"] == []


# ---------------------------------------------------------------- sightings and proposals


def test_sightings_add_and_search(misp: PyMISP, misp_double: MispDouble) -> None:
    attr = misp_double.attributes(event=750)[0]
    before = len(misp_double.sightings)
    sighting = MISPSighting()
    sighting.from_dict(value=attr["value"], source="zeek-intel", type="0")
    created = misp.add_sighting(sighting, pythonify=True)
    assert created.attribute_id == attr["id"]
    by_id = misp.add_sighting({"source": "zeek-intel"}, attribute=attr["id"])
    assert by_id["Sighting"]["attribute_uuid"] == attr["uuid"]
    assert len(misp_double.sightings) == before + 2
    found = misp.search_sightings(context="attribute", context_id=attr["id"], include_attribute=True, pythonify=True)
    assert len(found) == 2 and found[0]["attribute"].uuid == attr["uuid"]
    assert misp.add_sighting({"value": "no-such-value.invalid"})["errors"][0] == 404
    # the real sightings in sighting_1.json were loaded
    assert misp.search_sightings(context="event", context_id=60)


def test_proposals_add_and_index(misp: PyMISP, misp_double: MispDouble) -> None:
    loaded = misp.attribute_proposals(pythonify=True)
    assert len(loaded) == len(misp_double.proposals) >= 2  # from shadow.json
    proposal = MISPAttribute()
    proposal.from_dict(type="domain", value="noisy.example.org", comment="noisy intel: 4000 hits/day")
    new = misp.add_attribute_proposal(750, proposal, pythonify=True)
    assert new.event_id == "750" and new.value == "noisy.example.org"
    assert [p.value for p in misp.attribute_proposals(750, pythonify=True)] == ["noisy.example.org"]
    assert misp.get_attribute_proposal(new.id, pythonify=True).comment == "noisy intel: 4000 hits/day"


# ---------------------------------------------------------------- servers, feeds, tags


def test_feeds_tags_servers(misp: PyMISP, misp_double: MispDouble) -> None:
    feeds = misp.feeds(pythonify=True)
    defaults = json.loads((SHARED_DATA / "misp-feed-metadata" / "defaults.json").read_text())
    assert [f.name for f in feeds] == [d["Feed"]["name"] for d in defaults]
    tags = misp.tags(pythonify=True)
    counts = Counter(t["name"] for e in misp_double.data.events.values() for t in e["Tag"])
    by_name = {t.name: t for t in tags}
    assert by_name["tlp:white"].count == counts["tlp:white"]
    assert misp.servers() == []
    misp_double.add_server("partner", "https://misp.partner.example")
    assert misp.servers(pythonify=True)[0].name == "partner"


# ---------------------------------------------------------------- faults


def test_fail_with_status_then_recover(misp: PyMISP, misp_double: MispDouble) -> None:
    misp_double.fail(500, count=1, path="restSearch")
    with pytest.raises(MISPServerError):
        misp.search(controller="attributes", eventid=750)
    assert misp.search(controller="attributes", eventid=750)["Attribute"]
    misp_double.fail(403)
    assert misp.search(controller="attributes", eventid=750)["errors"][0] == 403
    misp_double.clear_faults()
    assert [r.fault for r in misp_double.requests_to("restSearch")] == ["status", None, "status"]


def test_hang_times_out_client(misp: PyMISP, misp_double: MispDouble) -> None:
    misp_double.hang(None, count=1)
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(
            misp_double.url + "/attributes/restSearch",
            json={},
            headers={"Authorization": misp_double.key},
            timeout=0.5,
        )
    assert time.perf_counter() - started < 5  # the 0.5 s client timeout, with room for a loaded machine
    misp_double.hang(0.3, count=1)
    started = time.perf_counter()
    assert misp.search(controller="attributes", eventid=750)["Attribute"]
    assert time.perf_counter() - started >= 0.3


def test_garbage_and_truncated_bodies(misp: PyMISP, misp_double: MispDouble) -> None:
    misp_double.garbage(count=1)
    with pytest.raises(PyMISPError):
        misp.search(controller="attributes", eventid=750)
    misp_double.truncate(count=1)
    with pytest.raises((PyMISPError, requests.exceptions.RequestException)):
        misp.search(controller="attributes", eventid=750)
    assert misp.search(controller="attributes", eventid=750)["Attribute"]


def test_stop_refuses_then_start_serves_again(misp: PyMISP, misp_double: MispDouble) -> None:
    url = misp_double.url
    assert misp.search(controller="attributes", eventid=750)["Attribute"]  # a pooled keep-alive connection
    misp_double.stop()
    with pytest.raises(requests.exceptions.ConnectionError):  # its pooled connection is closed too
        misp.search(controller="attributes", eventid=750)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/servers/getVersion", timeout=2)
    misp_double.start()
    assert misp_double.url == url
    assert misp.search(controller="attributes", eventid=750)["Attribute"]


def test_stop_releases_hung_requests(misp_double: MispDouble) -> None:
    import threading

    misp_double.hang(None)
    errors: list[Exception] = []

    def call() -> None:
        try:
            requests.get(
                misp_double.url + "/servers/getVersion", headers={"Authorization": misp_double.key}, timeout=10
            )
        except requests.exceptions.RequestException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    started = time.perf_counter()
    misp_double.stop()
    worker.join(timeout=5)
    assert not worker.is_alive() and errors
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- TLS


def test_tls_with_ca_bundle(misp_double_tls: MispDouble) -> None:
    assert misp_double_tls.url.startswith("https://127.0.0.1:")
    misp = PyMISP(misp_double_tls.url, misp_double_tls.key, ssl=misp_double_tls.ca_path, timeout=5)
    assert misp.search(controller="attributes", eventid=750, limit=1)["Attribute"]


def test_tls_without_ca_fails_verification(misp_double_tls: MispDouble) -> None:
    with pytest.raises(PyMISPError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        PyMISP(misp_double_tls.url, misp_double_tls.key, ssl=True, timeout=5)


@pytest.mark.parametrize(("mode", "reason"), [("expired", "expired"), ("wrong_host", "match|mismatch")])
def test_tls_bad_certificates_fail(misp_double_factory, mode: str, reason: str) -> None:
    double = misp_double_factory(datasets=("pymisp",), tls=True, tls_mode=mode)
    with pytest.raises(requests.exceptions.SSLError, match=reason):
        requests.get(double.url + "/servers/getVersion", verify=double.ca_path, timeout=5)


def test_unmodelled_filters_are_refused_not_ignored(misp: PyMISP, misp_double: MispDouble) -> None:
    for body in ({"quickFilter": "evil"}, {"requested_attributes": ["value"]}, {"excludeDecayed": 1}):
        response = post(misp_double, "/attributes/restSearch", body)
        assert response.status_code == 400
        assert response.json()["message"].startswith(f"{next(iter(body))}: this filter is not modelled")
    # pymisp's always-sent neutral defaults (0) and options with nothing to include are accepted
    assert misp.search(controller="attributes", eventid=750, with_attachments=True, include_correlations=True)
    assert misp.search_index(threatlevel=[1])["errors"][0] == 400


def test_event_search_applies_warninglists_to_returned_attributes(misp: PyMISP, misp_double: MispDouble) -> None:
    event = misp_double.event(750)
    values = [a["value"] for a in event["Attribute"][:2]]
    misp_double.add_warninglist("test", values)
    filtered = misp.search(controller="events", eventid=750, enforce_warninglist=True)
    plain = misp.search(controller="events", eventid=750)
    kept = [a["value"] for a in filtered[0]["Event"]["Attribute"]]
    assert len(kept) == len(plain[0]["Event"]["Attribute"]) - 2
    assert not set(values) & set(kept)


def test_values_are_served_exactly_as_the_feed_has_them(misp: PyMISP, misp_double: MispDouble) -> None:
    raw = [a for e in _infoblox_events() for a in _all_raw_attributes(e)]
    odd = [a for a in raw if a["value"] != a["value"].strip() or a["value"].startswith("hxxp")]
    assert odd, "the Infoblox feed carries whitespace/defanged values"
    served = {a["uuid"]: a["value"] for a in misp.search(controller="attributes", org="Infoblox")["Attribute"]}
    for attr in odd:
        assert served[attr["uuid"]] == attr["value"]


def test_concurrent_clients_during_edits(misp_double: MispDouble) -> None:
    import threading

    victims = [a["id"] for a in misp_double.attributes(event=750)]
    errors: list[str] = []
    counts: list[int] = []

    def reader() -> None:
        misp = PyMISP(misp_double.url, misp_double.key, ssl=False, timeout=30)
        for _ in range(10):
            answer = misp.search(controller="attributes", eventid=750)
            if "errors" in answer:
                errors.append(str(answer["errors"]))
            else:
                counts.append(len(answer["Attribute"]))

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for attr_id in victims:
        misp_double.soft_delete_attribute(attr_id)
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(counts) == 60
    assert all(0 <= c <= len(victims) for c in counts)
    assert all(r.status == 200 for r in misp_double.requests_to("restSearch"))
    assert (
        PyMISP(misp_double.url, misp_double.key, ssl=False).search(controller="attributes", eventid=750)["Attribute"]
        == []
    )


def test_tls_extra_names_and_log_limit(misp_double_factory) -> None:
    from cryptography import x509

    double = misp_double_factory(
        datasets=("pymisp",), tls=True, tls_names=("misp.lab.test", "10.88.0.1"), log_limit=3, keep_responses=False
    )
    cert = x509.load_pem_x509_certificate(double._tls.cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "misp.lab.test" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.88.0.1"]
    assert oct(double._tls.key_path.stat().st_mode & 0o777) == "0o600"
    for _ in range(5):
        response = requests.get(
            double.url.replace("127.0.0.1", "localhost") + "/servers/getVersion",
            headers={"Authorization": double.key},
            verify=double.ca_path,
            timeout=5,
        )
        assert response.status_code == 200
    assert len(double.requests) == 3
    assert all(r.response is None for r in double.requests)


def test_noisy_intel_proposal_accepted_clears_to_ids(misp: PyMISP, misp_double: MispDouble) -> None:
    misp_double.set_time(1_850_000_000)
    attr = next(a for a in misp_double.attributes(event=750) if a["to_ids"])
    change = {"to_ids": False, "comment": "noisy: 12000 hits/day on the site's resolvers"}
    proposal = misp.update_attribute_proposal(attr["id"], change, pythonify=True)  # type: ignore[arg-type]
    assert proposal.old_id == attr["id"] and proposal.to_ids is False and proposal.value == attr["value"]
    assert misp_double.attribute(attr["id"])["to_ids"] is True, "a proposal changes nothing until accepted"
    viewed = misp.get_event(750)["Event"]["Attribute"]
    assert [p["id"] for a in viewed if a["id"] == attr["id"] for p in a["ShadowAttribute"]] == [proposal.id]
    misp_double.advance(60)
    assert misp.accept_attribute_proposal(proposal.id)["success"] is True
    changed = misp.search(controller="attributes", timestamp=1_850_000_030)["Attribute"]
    assert [(a["id"], a["to_ids"]) for a in changed] == [(attr["id"], False)]
    assert misp_double.event(750)["published"] is False
    assert misp.attribute_proposals(750) == []


def test_deletion_proposal_and_discard(misp: PyMISP, misp_double: MispDouble) -> None:
    first, second = misp_double.attributes(event=750)[:2]
    assert misp.delete_attribute_proposal(first["id"])["success"] is True
    assert misp.delete_attribute_proposal(second["id"])["success"] is True
    pending = misp.attribute_proposals(750, pythonify=True)
    assert all(p.proposal_to_delete for p in pending) and len(pending) == 2
    by_attr = {p.old_id: p.id for p in pending}
    misp.accept_attribute_proposal(by_attr[first["id"]])
    misp.discard_attribute_proposal(by_attr[second["id"]])
    assert misp_double.attribute(first["id"])["deleted"] is True
    assert misp_double.attribute(second["id"])["deleted"] is False
    assert misp.attribute_proposals(750) == []
    assert misp.accept_attribute_proposal(by_attr[first["id"]])["errors"][0] == 404
    assert misp.update_attribute_proposal(999_999_999, {"to_ids": False})["errors"][0] == 404  # type: ignore[arg-type]


def test_bad_event_input_is_refused_and_nothing_is_lost(misp_double: MispDouble) -> None:
    before = len(misp_double.attributes(event=750))
    uuid = misp_double.event(750)["uuid"]
    with pytest.raises(ValueError, match=r"Attribute\[1\] needs a non-empty 'value'"):
        misp_double.replace_event(
            {
                "uuid": uuid,
                "info": "x",
                "Attribute": [{"type": "domain", "value": "a.example"}, {"type": "domain", "value": ""}],
            }
        )
    assert len(misp_double.attributes(event=750)) == before
    with pytest.raises(ValueError, match=r"Object\[0\]\.Attribute\[0\] needs a non-empty 'type'"):
        misp_double.add_event({"info": "y", "Object": [{"name": "file", "Attribute": [{"value": "x"}]}]})
    with pytest.raises(ValueError, match="'info' string"):
        misp_double.add_event({"Attribute": []})
    assert len(misp_double.data.events) == len(fresh_dataset().events)


def test_a_bug_in_the_double_is_a_500_and_fails_the_test(monkeypatch) -> None:
    from tests.misp_double import fixtures

    gen = fixtures.misp_double_factory.__wrapped__()
    double = next(gen)(datasets=("pymisp",))
    route = next(r for r in double.api.routes if r.template == "/servers/getVersion")
    monkeypatch.setattr(route, "handler", lambda **_: 1 / 0)
    response = requests.get(double.url + "/servers/getVersion", headers={"Authorization": double.key}, timeout=5)
    assert response.status_code == 500 and "ZeroDivisionError" in response.json()["message"]
    assert double.requests[-1].fault == "internal"
    with pytest.raises(pytest.fail.Exception, match="internal error"):
        next(gen)
