"""The MISP configuration modules (misp_organisation, misp_user, misp_server, misp_feed, misp_setting,
misp_tag, misp_sharing_group) driven through main() against the MISP test double (real pymisp).
The double's admin endpoints answer with the shapes and quirks recorded on a real MISP 2.5.1."""

import json
import stat
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from ansible_collections.socforge.core.plugins.module_utils import misp_admin  # noqa: E402 -- path set above

# one import per module: test_module_docs_match_specs finds the driver of a module by it
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


def conn(double, **extra):
    base = {"misp_url": double.url, "misp_key": double.key, "retries": 0, "timeout": 10}
    base.update(extra)
    return base


def writes(double):
    return [r for r in double.requests if r.method == "POST" and not r.path.endswith(("/search", "restSearch"))]


def test_organisation_create_idempotent_check_diff_delete(monkeypatch, misp_double):
    args = conn(misp_double, name="Spoke-One", local=False, sector="Research", nationality="GB")
    planned = run_module(monkeypatch, misp_organisation, args, check_mode=True, diff=True)
    assert planned["changed"] and planned["diff"]["after"]["name"] == "Spoke-One"
    assert not writes(misp_double) and misp_double.admin.org("Spoke-One") is None
    made = run_module(monkeypatch, misp_organisation, args)
    assert made["changed"] and made["organisation"]["local"] is False
    again = run_module(monkeypatch, misp_organisation, args)
    assert again["changed"] is False
    edited = run_module(monkeypatch, misp_organisation, dict(args, sector="Physics"), diff=True)
    assert edited["changed"] and edited["diff"] == {"before": {"sector": "Research"}, "after": {"sector": "Physics"}}
    gone = run_module(monkeypatch, misp_organisation, dict(args, state="absent"))
    assert gone["changed"] and all(o["name"] != "Spoke-One" for o in misp_double.admin.orgs.values())
    assert run_module(monkeypatch, misp_organisation, dict(args, state="absent"))["changed"] is False


def test_organisation_uuid_mismatch_is_refused(monkeypatch, misp_double):
    run_module(monkeypatch, misp_organisation, conn(misp_double, name="Peer"))
    res = fail_module(
        monkeypatch, misp_organisation, conn(misp_double, name="Peer", uuid="5f6e1c2a-0d0b-4c7e-9a51-1c2d3e4f5a6b")
    )
    assert "exists with uuid" in res["msg"]


def test_user_key_kept_in_root_only_file_and_checked(monkeypatch, misp_double, tmp_path):
    run_module(monkeypatch, misp_organisation, conn(misp_double, name="Spoke-One"))
    key_file = tmp_path / "sync.key"
    args = conn(
        misp_double,
        email="sync@spoke-one.test",
        organisation="Spoke-One",
        role="Sync user",
        change_pw=False,
        termsaccepted=True,
        api_key_file=str(key_file),
    )
    made = run_module(monkeypatch, misp_user, args)
    key = key_file.read_text().strip()
    assert made["changed"] and made["api_key_changed"] and len(key) == 40
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key not in str(made) and "authkey" not in made["user"]
    assert misp_double.admin.users[made["user"]["id"]]["role_id"] == "5"
    again = run_module(monkeypatch, misp_user, args)  # the key on file still logs in as that user
    assert again["changed"] is False and key_file.read_text().strip() == key
    key_file.write_text("x" * 40 + "\n")  # a key MISP no longer knows: a new one is made
    fixed = run_module(monkeypatch, misp_user, args)
    assert fixed["changed"] and fixed["api_key_changed"] and key_file.read_text().strip() not in (key, "x" * 40)
    rotated = run_module(monkeypatch, misp_user, dict(args, rotate_credentials=True))
    assert rotated["api_key_changed"] and key_file.read_text().strip() != key
    role = run_module(monkeypatch, misp_user, dict(args, role="Read Only"), diff=True)
    assert role["diff"]["after"] == {"role_id": "6"}


def test_user_key_directory_checked_before_misp_is_touched(monkeypatch, misp_double):
    args = conn(misp_double, email="a@b.test", api_key_file="/nonexistent/dir/a.key")
    res = fail_module(monkeypatch, misp_user, args)
    assert "does not exist or is not writable" in res["msg"] and not writes(misp_double)


def test_user_unknown_role_names_the_roles(monkeypatch, misp_double):
    res = fail_module(monkeypatch, misp_user, conn(misp_double, email="a@b.test", role="Superhero"))
    assert "no role 'Superhero'" in res["msg"] and "Sync user" in res["msg"]


def test_server_link_with_rules_and_pinned_ca(monkeypatch, misp_double_tls):
    double = misp_double_tls
    tls = conn(double, ca_path=double.ca_path)
    run_module(monkeypatch, misp_organisation, dict(tls, name="Hub", local=False))
    args = dict(
        tls,
        url="https://hub.example.test",
        name="hub",
        remote_org="Hub",
        authkey="A" * 40,
        ca_file=double.ca_path,
        push=True,
        pull=True,
        push_sightings=True,
        push_rules={"tags_not": ["tlp:red"]},
        pull_rules={"orgs_or": ["Hub"], "url_params": '{"distribution": "2|3"}'},
    )
    made = run_module(monkeypatch, misp_server, args, diff=True)
    assert made["changed"] and made["server"]["cert_file"] == f"{made['server']['id']}.pem"
    assert "A" * 40 not in str(made) and "authkey" not in made["server"]
    stored = double.admin.servers[0]
    # MISP matches push rules by tag id (the tag was made on the instance); pull rules keep names
    (red,) = [t["id"] for t in double.admin.tags.values() if t["name"] == "tlp:red"]
    assert json.loads(stored["push_rules"])["tags"]["NOT"] == [red]
    assert '"url_params": "{\\"distribution\\": \\"2|3\\"}"' in stored["pull_rules"]
    again = run_module(monkeypatch, misp_server, args)
    assert again["changed"] is False
    always = run_module(monkeypatch, misp_server, dict(args, update_credentials="always"))
    assert always["changed"]  # MISP never shows the key back: sending it is a change
    off = run_module(monkeypatch, misp_server, dict(args, push=False), diff=True)
    assert off["diff"]["before"] == {"push": True} and off["diff"]["after"] == {"push": False}


def test_server_refusals_leave_nothing(monkeypatch, misp_double, tmp_path):
    run_module(monkeypatch, misp_organisation, conn(misp_double, name="Hub"))
    base = conn(misp_double, url="https://hub.example.test", remote_org="Hub", authkey="A" * 40)
    bad_pem = tmp_path / "ca.pem"
    bad_pem.write_text("-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n")
    for args, message in (
        (dict(base, ca_file=str(bad_pem)), "is not a PEM certificate"),
        (dict(base, authkey="short"), "exactly 40 letters and digits"),
        (dict(base, remote_org="Nobody"), "has no organisation 'Nobody'"),
        (dict(base, authkey=None), "authkey is required"),
        (dict(base, url="hub.example.test"), "is not an http(s) URL"),
    ):
        assert message in fail_module(monkeypatch, misp_server, args)["msg"]
    assert misp_double.admin.servers == []
    # MISP 2.5.1 keeps a server whose certificate it cannot parse (cert_file null): the link is undone
    admin = misp_admin.MispAdmin(misp_double.url, misp_double.key, retries=0)
    with pytest.raises(misp_admin.MispAdminError, match="did not store the CA certificate"):
        misp_admin.ensure_server(
            admin, {"url": "https://hub.example.test", "remote_org": "Hub"}, authkey="A" * 40, ca_pem=b"garbage"
        )
    assert misp_double.admin.servers == []
    assert [r.path for r in misp_double.requests_to(r"/servers/(add|delete)")] == ["/servers/add", "/servers/delete/1"]


def test_feed_create_idempotent_and_bad_input(monkeypatch, misp_double):
    infoblox = str(Path(__file__).resolve().parents[4].parent / "shared" / "data" / "misp-feed-infoblox")
    args = conn(misp_double, name="Infoblox", provider="Infoblox", url=infoblox, input_source="local",
                source_format="misp", enabled=True, distribution=1)  # fmt: skip
    made = run_module(monkeypatch, misp_feed, args)
    assert made["changed"] and made["feed"]["distribution"] == "1" and made["feed"]["enabled"] is True
    assert run_module(monkeypatch, misp_feed, args)["changed"] is False
    off = run_module(monkeypatch, misp_feed, dict(args, enabled=False), diff=True)
    assert off["diff"]["after"] == {"enabled": False}
    assert run_module(monkeypatch, misp_feed, dict(args, state="absent"))["changed"]
    # MISP checks a local feed's directory on its host, and a network feed's URL
    missing = fail_module(monkeypatch, misp_feed, dict(args, url="/nonexistent/feed"))
    assert "please specify the containing directory" in missing["msg"]
    bad = fail_module(monkeypatch, misp_feed, dict(args, url="feeds.example", input_source="network"))
    assert "refused to add feed 'Infoblox': HTTP 403: url" in bad["msg"]


def test_settings_all_or_nothing(monkeypatch, misp_double):
    args = conn(misp_double, settings={"MISP.welcome_text_top": "SOCForge hub", "MISP.default_event_distribution": 1})
    misp_double.admin.settings["MISP.default_event_distribution"]["value"] = "3"
    made = run_module(monkeypatch, misp_setting, args, diff=True)
    assert made["changed"] and made["diff"]["after"] == {
        "MISP.default_event_distribution": "1",
        "MISP.welcome_text_top": "SOCForge hub",
    }
    assert run_module(monkeypatch, misp_setting, args)["changed"] is False
    # a refused setting (CLI only) after one that was written: the written one is put back
    refused = conn(misp_double, settings={"MISP.live": False, "MISP.python_bin": "/usr/bin/python3.11"})
    res = fail_module(monkeypatch, misp_setting, refused)
    assert "MISP.python_bin" in res["msg"] and "CLI" in res["msg"] and "restored MISP.live" in res["msg"]
    assert misp_double.admin.settings["MISP.live"]["value"] is True
    # values MISP itself would store unchecked are refused before anything is written
    before = len(writes(misp_double))
    for settings, message in (
        ({"MISP.live": "maybe"}, "not a boolean"),
        ({"MISP.default_event_distribution": 5}, "not one of 0-3"),
        ({"MISP.host_org_id": "hub"}, "not a number"),
        ({"MISP.no_such_setting": 1}, "Setting MISP.no_such_setting is invalid"),
        ({"Security.salt": "x"}, "redacted"),
    ):
        assert message in fail_module(monkeypatch, misp_setting, conn(misp_double, settings=settings))["msg"]
    assert len(writes(misp_double)) == before


def test_tag(monkeypatch, misp_double):
    args = conn(misp_double, name="socforge:keep", colour="#0088CC", exportable=True)
    made = run_module(monkeypatch, misp_tag, args)
    assert made["changed"] and made["tag"]["colour"] == "#0088cc"
    assert run_module(monkeypatch, misp_tag, args)["changed"] is False
    assert "not #RRGGBB" in fail_module(monkeypatch, misp_tag, dict(args, colour="red"))["msg"]
    assert run_module(monkeypatch, misp_tag, dict(args, state="absent"))["changed"]


def test_sharing_group_members_and_rollback(monkeypatch, misp_double):
    for name in ("Hub", "Spoke-One", "Spoke-Two"):
        run_module(monkeypatch, misp_organisation, conn(misp_double, name=name))
    args = conn(
        misp_double,
        name="SOC sites",
        releasability="member sites",
        organisations=[{"name": "Hub", "extend": True}, {"name": "Spoke-One"}],
        servers=[{"url": "local"}],
    )
    made = run_module(monkeypatch, misp_sharing_group, args, diff=True)
    group = next(iter(misp_double.admin.groups.values()))
    assert made["changed"] and len(group["orgs"]) == 2 and group["servers"] == {"0": False}
    assert run_module(monkeypatch, misp_sharing_group, args)["changed"] is False
    swapped = dict(args, organisations=[{"name": "Hub", "extend": True}, {"name": "Spoke-Two"}])
    changed = run_module(monkeypatch, misp_sharing_group, swapped, diff=True)
    assert changed["changed"] and sorted(misp_double.admin.orgs[o]["name"] for o in group["orgs"]) == [
        "Hub",
        "Spoke-Two",
    ]
    # adding members of a new group fails half-way: the group made in this run is deleted again
    broken = dict(args, name="Other")
    misp_double.fail(403, path="addOrg", count=1)
    res = fail_module(monkeypatch, misp_sharing_group, broken)
    assert "refused to add org" in res["msg"]
    assert [g["name"] for g in misp_double.admin.groups.values()] == ["SOC sites"]


def test_sharing_group_renamed_by_misp_is_undone(monkeypatch, misp_double):
    admin = misp_admin.MispAdmin(misp_double.url, misp_double.key, retries=0)
    misp_double.admin.h_sg_add({"name": "Taken", "releasability": "r"})
    monkeypatch.setattr(admin.misp, "sharing_groups", lambda **_: [])  # as if the lookup missed it (a race)
    with pytest.raises(misp_admin.MispAdminError, match="renamed sharing group"):
        misp_admin.ensure_sharing_group(admin, {"name": "Taken", "releasability": "r"})
    assert [g["name"] for g in misp_double.admin.groups.values()] == ["Taken"]


@pytest.mark.parametrize("module", [misp_organisation, misp_tag], ids=["organisation", "tag"])
def test_wrong_key_fails_at_once_even_with_retries(monkeypatch, misp_double, module):
    started = time.monotonic()
    res = fail_module(monkeypatch, module, conn(misp_double, misp_key="W" * 40, retries=3, name="x"))
    assert "refused the API key" in res["msg"] and time.monotonic() - started < 2
    assert len(misp_double.requests_to(r"/users/view/me")) == 1


def test_intel_wrong_key_is_not_retried(monkeypatch, misp_double, tmp_path):
    """PyMISP raises a plain PyMISPError for the 403 from its constructor; it used to be retried
    (16 s with retries=3). Now: one attempt, a clear message, the file untouched."""
    dest = tmp_path / "misp.intel"
    started = time.monotonic()
    args = {"misp_url": misp_double.url, "misp_key": "W" * 40, "dest": str(dest), "retries": 3, "retry_backoff": 2.0}
    res = fail_module(monkeypatch, misp_zeek_intel, args)
    assert "refused the API key" in res["msg"] and "left untouched" in res["msg"]
    assert time.monotonic() - started < 2 and len(misp_double.requests_to(r"/users/view/me")) == 1
    assert not dest.exists()


def test_unreachable_and_5xx(monkeypatch, misp_double):
    misp_double.fail(500, path="organisations/add")
    res = fail_module(monkeypatch, misp_organisation, conn(misp_double, name="X", retries=1, retry_backoff=0.01))
    assert "HTTP 5xx" in res["msg"] and len(misp_double.requests_to(r"organisations/add")) == 2
    misp_double.clear_faults()
    args = conn(misp_double, name="X")
    misp_double.stop()
    res = fail_module(monkeypatch, misp_organisation, args)
    assert "cannot connect to MISP" in res["msg"]


def test_server_add_failing_after_the_save_is_undone_not_retried():
    """MISP 2.5.1 with Security.encryption_key set saves the server, then answers HTTP 500 (it cannot
    json-encode the encrypted key): the add is not retried (MISP takes a second server with the same
    URL) and the saved one is deleted, so nothing is left half-applied."""
    from pymisp.exceptions import MISPServerError

    class Client:
        def __init__(self):
            self.stored, self.adds = [], 0

        def organisations(self, scope="all"):
            return [{"Organisation": {"id": "2", "name": "Hub", "uuid": "u-1"}}]

        def servers(self):
            return [{"Server": dict(s)} for s in self.stored]

        def add_server(self, body):
            self.adds += 1
            self.stored.append(dict(body, id=str(self.adds)))
            raise MISPServerError("Error code 500: An Internal Error Has Occurred.")

        def delete_server(self, sid):
            self.stored = [s for s in self.stored if s["id"] != sid]
            return {"saved": True}

    client = Client()
    admin = misp_admin.MispAdmin(
        "https://spoke.example.test", "K" * 40, retries=3, sleep=lambda _s: None, client=client
    )
    with pytest.raises(misp_admin.MispAdminError, match="HTTP 5xx.*saved the server anyway, it was deleted again"):
        misp_admin.ensure_server(admin, {"url": "https://hub.example.test", "remote_org": "Hub"}, authkey="A" * 40)
    assert client.adds == 1 and client.stored == []
