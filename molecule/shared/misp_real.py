"""Checks against a REAL MISP: the configuration modules through main() (integration), and the
FIDELITY of the MISP test double (the same requests to the real MISP and to the double, the answers'
shapes compared, so the double cannot drift from the real thing).

Not collected by ``pytest tests/``: a scenario that brings up a real MISP imports these tests into its
verifier (``from misp_real import *``) after setting, in the environment:

- ``SOCFORGE_MISP_URL``: the MISP's base URL, reachable from the controller;
- ``SOCFORGE_MISP_KEY_FILE``: a file holding a site-admin API key;
- ``SOCFORGE_MISP_CA``: the CA bundle its certificate chains to (optional: verification off without).

By hand, against any throw-away MISP: ``SOCFORGE_MISP_URL=... SOCFORGE_MISP_KEY_FILE=... pytest
molecule/shared/misp_real.py -p no:cacheprovider``. Every object the tests make is named
``socforge-test-<random>`` and deleted at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO / ".collections", REPO, REPO / "tests" / "unit" / "plugins" / "modules"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ansible_collections.socforge.core.plugins.module_utils import misp_admin  # noqa: E402 -- path set above

# isort: off
from ansible_collections.socforge.core.plugins.modules import misp_feed  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_organisation  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_server  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_setting  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_sharing_group  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_tag  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_user  # noqa: E402 -- path set above
from ansible_collections.socforge.core.plugins.modules import misp_zeek_intel  # noqa: E402 -- path set above

# isort: on
from utils import fail_module, run_module  # noqa: E402 -- path set above

from tests.misp_double import MispDouble  # noqa: E402 -- path set above


@pytest.fixture(scope="module")
def real_misp():
    url = os.environ.get("SOCFORGE_MISP_URL")
    key_file = os.environ.get("SOCFORGE_MISP_KEY_FILE")
    if not url or not key_file:
        pytest.fail("SOCFORGE_MISP_URL and SOCFORGE_MISP_KEY_FILE must name the real MISP under test", pytrace=False)
    ca = os.environ.get("SOCFORGE_MISP_CA") or None
    return {"url": url.rstrip("/"), "key": Path(key_file).read_text().strip(), "ca": ca}


@pytest.fixture
def tag():
    return f"socforge-test-{secrets.token_hex(4)}"


def conn(real, **extra):
    base = {"misp_url": real["url"], "misp_key": real["key"], "retries": 0, "timeout": 60}
    if real["ca"]:
        base["ca_path"] = real["ca"]
    else:
        base["validate_certs"] = False
    base.update(extra)
    return base


def admin_of(real):
    return misp_admin.MispAdmin(
        real["url"], real["key"], ca_path=real["ca"], validate_certs=bool(real["ca"]), retries=0
    )


# ------------------------------------------------------------------------------------ modules on real MISP
def test_modules_converge_and_are_idempotent_on_real_misp(monkeypatch, real_misp, tag, tmp_path):
    r = real_misp
    org, peer, key_file = f"{tag}-org", f"{tag}-peer", tmp_path / "sync.key"
    steps = [
        (misp_organisation, {"name": org, "local": True, "sector": "Research"}),
        (misp_organisation, {"name": peer, "local": False}),
        (misp_user, {"email": f"sync@{tag}.test", "organisation": org, "role": "Sync user", "change_pw": False,
                     "termsaccepted": True, "api_key_file": str(key_file)}),
        (misp_tag, {"name": f"{tag}:keep", "colour": "#0088cc", "exportable": True}),
        (misp_feed, {"name": f"{tag} feed", "url": f"https://{tag}.example.test/feed", "provider": "test", "input_source": "network",
                     "source_format": "misp", "enabled": False, "distribution": 1}),
        (misp_server, {"url": f"https://{tag}.example.test", "name": peer, "remote_org": peer, "authkey": "A" * 40,
                       "push": True, "pull": True, "push_sightings": True,
                       "push_rules": {"tags_not": ["tlp:red"]}, "pull_rules": {"url_params": '{"distribution": "2|3"}'}}),
        (misp_sharing_group, {"name": f"{tag} sg", "releasability": "test", "organisations": [{"name": org}],
                              "servers": [{"url": "local"}]}),
    ]  # fmt: skip
    try:
        timings = {}
        for module, args in steps:
            started = time.monotonic()
            first = run_module(monkeypatch, module, conn(r, **args))
            second = run_module(monkeypatch, module, conn(r, **args))
            checked = run_module(monkeypatch, module, conn(r, **args), check_mode=True)
            timings[module.__name__.rsplit(".", 1)[1]] = round(time.monotonic() - started, 2)
            assert first["changed"], (module.__name__, first)
            assert second["changed"] is False, (module.__name__, second.get("diff"))
            assert checked["changed"] is False
        assert len(key_file.read_text().strip()) == 40 and oct(key_file.stat().st_mode)[-3:] == "600"
        print("real MISP, create + idempotent re-run + check per module (s):", json.dumps(timings))
        # the key the module kept logs in as the sync user on the real MISP
        assert misp_admin.key_works(admin_of(r), f"sync@{tag}.test", key_file.read_text().strip())
    finally:
        for module, args in reversed(steps):
            cleanup = {k: v for k, v in args.items() if k in ("name", "url", "email")}
            run_module(monkeypatch, module, conn(r, state="absent", **cleanup))


def test_settings_are_all_or_nothing_on_real_misp(monkeypatch, real_misp):
    r = real_misp
    before = admin_of(r).misp.get_server_setting("MISP.welcome_text_top")["value"]
    try:
        res = fail_module(
            monkeypatch,
            misp_setting,
            conn(r, settings={"MISP.welcome_text_top": "socforge-test", "MISP.python_bin": "/usr/bin/python3"}),
        )
        assert "MISP.python_bin" in res["msg"] and "CLI" in res["msg"]
        assert admin_of(r).misp.get_server_setting("MISP.welcome_text_top")["value"] == before
        bad = fail_module(monkeypatch, misp_setting, conn(r, settings={"MISP.live": "maybe"}))
        assert "not a boolean" in bad["msg"]
    finally:
        admin_of(r).misp.set_server_setting("MISP.welcome_text_top", before)


def test_wrong_key_and_unknown_ca_fail_clearly_on_real_misp(monkeypatch, real_misp, tmp_path):
    r = real_misp
    started = time.monotonic()
    res = fail_module(monkeypatch, misp_organisation, conn(r, misp_key="W" * 40, retries=3, name="x"))
    assert "refused the API key" in res["msg"] and time.monotonic() - started < 5
    dest = tmp_path / "x.intel"
    res = fail_module(monkeypatch, misp_zeek_intel, {**conn(r, misp_key="W" * 40, retries=3), "dest": str(dest)})
    assert "refused the API key" in res["msg"] and not dest.exists()
    if r["ca"]:
        res = fail_module(monkeypatch, misp_organisation, conn(r, ca_path=None, validate_certs=True, name="x"))
        assert "TLS error" in res["msg"]


# ------------------------------------------------------------------------------------ fidelity of the double
def shape(value):
    """The structure of a JSON value: dicts by key, lists by their first element, scalars by type."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return None
    return type(value).__name__


def drift(double, real, path="$"):
    """Where the double's answer has a key the real one lacks, or another type (null matches anything)."""
    out = []
    if double is None or real is None:
        return out
    if isinstance(double, dict):
        if not isinstance(real, dict):
            return [f"{path}: double has an object, MISP {type(real).__name__}"]
        for key, sub in double.items():
            if key not in real:
                out.append(f"{path}.{key}: served by the double, absent from MISP")
            else:
                out += drift(sub, real[key], f"{path}.{key}")
        return out
    if isinstance(double, list):
        if not isinstance(real, list):
            return [f"{path}: double has a list, MISP {real!r}"]
        return drift(double[0], real[0], f"{path}[0]") if double and real else []
    if double != real:
        out.append(f"{path}: double sends {double}, MISP {real}")
    return out


FIDELITY_CALLS = [
    # (label, method, path, body) - {org}, {user}, {tag} ... are filled in from earlier answers
    ("me", "GET", "/users/view/me", None),
    ("orgs", "GET", "/organisations/index/scope:all", None),
    ("org_add", "POST", "/admin/organisations/add", {"name": "{name}-org", "sector": "Research"}),
    ("org_add_dup", "POST", "/admin/organisations/add", {"name": "{name}-org"}),
    ("org_edit", "POST", "/admin/organisations/edit/{org}", {"description": "edited"}),
    ("org_view", "GET", "/organisations/view/{org}", None),
    ("roles", "GET", "/roles/index", None),
    ("user_add", "POST", "/admin/users/add", {"email": "{name}@example.test", "org_id": "{org}", "role_id": 5}),
    ("user_add_dup", "POST", "/admin/users/add", {"email": "{name}@example.test", "org_id": "{org}", "role_id": 5}),
    ("users", "GET", "/admin/users", None),
    ("user_edit", "POST", "/admin/users/edit/{user}", {"disabled": True}),
    ("authkey_add", "POST", "/auth_keys/add/{user}", {}),
    ("setting_get", "GET", "/servers/getSetting/MISP.welcome_text_top", None),
    ("setting_unknown", "GET", "/servers/getSetting/MISP.no_such_setting", None),
    ("setting_cli_only", "POST", "/servers/serverSettingsEdit/MISP.python_bin", {"value": "/usr/bin/python3"}),
    ("setting_redacted", "GET", "/servers/getSetting/Security.salt", None),
    ("tag_add", "POST", "/tags/add", {"name": "{name}:tag", "colour": "#123456"}),
    ("tag_bad_colour", "POST", "/tags/add", {"name": "{name}:bad", "colour": "red"}),
    ("tag_search", "POST", "/tags/search", {"tagname": "{name}:tag", "strict_tagname": 1}),
    ("feed_add_bad_url", "POST", "/feeds/add", {"Feed": {"name": "{name} x", "provider": "p", "url": "/srv/{name}"}}),
    ("feed_add_missing_dir", "POST", "/feeds/add", {"Feed": {"name": "{name} y", "provider": "p", "url": "/nonexistent/{name}",
                                                              "input_source": "local"}}),
    ("feed_add", "POST", "/feeds/add", {"Feed": {"name": "{name} feed", "provider": "p",
                                                 "url": "https://{name}.example.test/feed"}}),
    ("feed_edit", "POST", "/feeds/edit/{feed}", {"Feed": {"enabled": False}}),
    ("server_add", "POST", "/servers/add", {"name": "{name}", "url": "https://{name}.test", "authkey": "A" * 40,
                                            "remote_org_id": "{org}", "push": True}),
    ("server_add_badkey", "POST", "/servers/add", {"name": "x", "url": "https://x.test", "authkey": "short",
                                                   "remote_org_id": "{org}"}),
    ("servers", "GET", "/servers/index", None),
    ("server_edit", "POST", "/servers/edit/{server}", {"pull": True}),
    ("sg_add", "POST", "/sharing_groups/add", {"name": "{name} sg", "releasability": "r"}),
    ("sg_add_org", "POST", "/sharing_groups/addOrg", {"sg_id": "{sg}", "org_id": "{org}", "extend": False}),
    ("sg_view", "GET", "/sharing_groups/view/{sg}", None),
    ("sgs", "GET", "/sharing_groups/index", None),
    ("sg_delete", "POST", "/sharing_groups/delete/{sg}", None),
    ("server_delete", "POST", "/servers/delete/{server}", None),
    ("feed_delete", "POST", "/feeds/delete/{feed}", None),
    ("tag_delete", "POST", "/tags/delete/{tag}", None),
    ("user_delete", "POST", "/admin/users/delete/{user}", None),
    ("org_delete", "POST", "/admin/organisations/delete/{org}", None),
    ("org_view_missing", "GET", "/organisations/view/{org}", None),
]  # fmt: skip
IDS = {"org_add": ("org", "Organisation"), "user_add": ("user", "User"), "tag_add": ("tag", "Tag"),
       "feed_add": ("feed", "Feed"), "server_add": ("server", "Server"), "sg_add": ("sg", "SharingGroup")}  # fmt: skip


def _fill(value, ids):
    if isinstance(value, str):
        for k, v in ids.items():
            value = value.replace("{" + k + "}", str(v))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _play(base, key, verify, name):
    import requests

    session = requests.Session()
    session.headers.update({"Authorization": key, "Accept": "application/json", "Content-Type": "application/json"})
    ids = {"name": name}
    answers = {}
    for label, method, path, body in FIDELITY_CALLS:
        resp = session.request(method, base + _fill(path, ids), json=_fill(body, ids), verify=verify, timeout=60)
        try:
            data = resp.json()
        except ValueError:
            data = resp.text[:200]
        answers[label] = (resp.status_code, data)
        if label in IDS and resp.status_code == 200:
            ident, wrapper = IDS[label]
            ids[ident] = (data[0] if isinstance(data, list) else data)[wrapper]["id"]
    return answers


def test_double_answers_like_real_misp(real_misp, tag):
    """Same requests to the real MISP and to the double: same status codes, and no key or type in the
    double's answers that the real MISP does not send. Keys MISP sends and the double does not are
    listed (what the double does not model), not failed."""
    r = real_misp
    real = _play(r["url"], r["key"], r["ca"] or False, tag)
    with MispDouble(datasets=("pymisp",)) as double:
        fake = _play(double.url, double.key, False, tag)
        assert not double.errors, double.errors
    problems, unmodelled = [], []
    for label, _method, _path, _body in FIDELITY_CALLS:
        (rs, rb), (ds, db) = real[label], fake[label]
        if rs != ds:
            problems.append(f"{label}: MISP answered HTTP {rs}, the double {ds} ({json.dumps(db)[:160]})")
            continue
        problems += [f"{label}: {p}" for p in drift(shape(db), shape(rb))]
        unmodelled += [f"{label}: {p}" for p in drift(shape(rb), shape(db)) if "absent from MISP" in p]
    print(f"fidelity: {len(FIDELITY_CALLS)} exchanges compared; keys MISP sends that the double leaves out:")
    print("\n".join(p.replace("served by the double, absent from MISP", "not modelled") for p in unmodelled) or "none")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------ intel on real MISP
def _intel(real, dest, **extra):
    return {**conn(real, retries=1, retry_backoff=1.0), "dest": str(dest), "reconcile_interval": 0, **extra}


def _lines(dest):
    return [ln.split("\t") for ln in Path(dest).read_text().splitlines() if not ln.startswith("#")]


def _published(misp, event_id, since):
    """MISP publishes in a background job: wait until publish_timestamp moved past ``since``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ev = misp.get_event(event_id, pythonify=False)["Event"]
        if ev["published"] and int(ev["publish_timestamp"]) > since:
            return ev
        time.sleep(1)
    pytest.fail(f"MISP did not publish event {event_id} within 60 s (are its workers running?)")


def test_intel_unpublished_retracted_deleted_on_real_misp(monkeypatch, real_misp, tag, tmp_path):
    """The documented behaviour on a real MISP, full and incremental: an edit in progress keeps its
    indicators, an explicit unpublish (retraction) and a hard delete remove them; e-mails lower-cased;
    a quiet run is served no event."""
    from pymisp import MISPEvent

    misp = admin_of(real_misp).misp
    made = []

    def event(value):
        ev = MISPEvent()
        ev.info = f"{tag} {value}"
        ev.distribution = 0
        ev.add_attribute("domain", value, to_ids=True)
        stored = misp.add_event(ev, pythonify=False)["Event"]
        made.append(stored["id"])
        misp.publish(stored["id"])
        return _published(misp, stored["id"], 0)

    try:
        edited, retracted, deleted = (event(f"{tag}-{k}.example") for k in ("edited", "retracted", "deleted"))
        misp.add_attribute(
            edited["id"], {"type": "email-src", "value": f"Bad.Actor@{tag.upper()}.Example", "to_ids": True}
        )
        time.sleep(1)
        misp.publish(edited["id"])
        _published(misp, edited["id"], int(edited["publish_timestamp"] or 0))
        dest = tmp_path / "misp.intel"
        first = run_module(monkeypatch, misp_zeek_intel, _intel(real_misp, dest, tags_include=[], orgs=[]))
        values = {r[0] for r in _lines(dest)}
        assert {f"{tag}-edited.example", f"{tag}-retracted.example", f"{tag}-deleted.example"} <= values, first
        assert f"bad.actor@{tag}.example" in values  # lower-cased as MISP stores it
        # an edit (MISP unpublishes, timestamp > publish_timestamp), an explicit unpublish, a hard delete
        time.sleep(2)
        misp.add_attribute(edited["id"], {"type": "domain", "value": f"{tag}-draft.example", "to_ids": True})
        misp.unpublish(retracted["id"])
        misp.delete_event(deleted["id"])
        made.remove(deleted["id"])
        state = Path(str(dest) + ".state").read_bytes()
        inc = run_module(monkeypatch, misp_zeek_intel, _intel(real_misp, dest))
        assert not inc["full_sync"] and inc["reconciled"] == {"deleted": 1, "editing": 1, "retracted": 1}, inc
        values = {r[0] for r in _lines(dest)}
        assert f"{tag}-edited.example" in values and f"{tag}-draft.example" not in values
        assert f"{tag}-retracted.example" not in values and f"{tag}-deleted.example" not in values
        # a full sync from the previous state agrees with the incremental run
        other = tmp_path / "full.intel"
        Path(str(other) + ".state").write_bytes(state)
        full = run_module(monkeypatch, misp_zeek_intel, _intel(real_misp, other, full_sync=True))
        assert full["full_sync"] and full["reconciled"] == inc["reconciled"]
        mine = lambda p: sorted(r[:2] for r in _lines(p) if tag in r[0])  # noqa: E731 - local helper
        assert mine(other) == mine(dest)
        quiet = run_module(monkeypatch, misp_zeek_intel, _intel(real_misp, dest, reconcile_interval=3600))
        assert quiet["changed"] is False
        print("real MISP intel:", json.dumps({k: inc[k] for k in ("added", "removed", "removals", "reconciled")}))
    finally:
        for event_id in made:
            misp.delete_event(event_id)
