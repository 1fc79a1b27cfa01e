"""The hub-and-spoke sync on this scenario's REAL MISPs, as converge.yml applied it (playbooks/misp.yml
then playbooks/misp_sync.yml): the spoke's link to the hub exists as misp_sync_topology computed it and
logs in; an event published on the spoke reaches the hub with the attributes MISP's rules let through
(not a distribution-0 attribute, not a tlp:red event); the hub's intel reaches a Zeek intel file; the
attribute deleted on the spoke is deleted on the hub and leaves the intel file.

Nothing triggers the transfer but the publish itself: MISP 2.5.1 pushes a published event to every
push-enabled link from the publish job (prio worker), so no cron run or /servers/push call is made.
The delays are printed (spoke -> hub, deletion spoke -> hub)."""

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
for extra in (REPO / ".collections", REPO, REPO / "tests" / "unit" / "plugins" / "modules"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ansible_collections.socforge.core.plugins.modules import misp_zeek_intel  # noqa: E402 -- path set above
from utils import run_module  # noqa: E402 -- path set above

HUB, SPOKE = "https://10.89.111.10", "https://10.89.111.11"
CA = str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki" / "ca.crt")
WAIT = 180  # s: bound on each transfer (measured: a few seconds on an idle 2-core host)


def _admin_key(container):
    return subprocess.run(  # noqa: S603 -- fixed argv, no shell, no outside input
        [shutil.which("podman") or "/usr/bin/podman", "exec", container, "cat", "/etc/socforge/misp/admin_api_key"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def keys():
    return {"hub": _admin_key("misp-hub"), "spoke": _admin_key("misp-spoke1")}


@pytest.fixture(scope="module")
def hub(keys):
    from pymisp import PyMISP

    return PyMISP(HUB, keys["hub"], ssl=CA, timeout=60)


@pytest.fixture(scope="module")
def spoke(keys):
    from pymisp import PyMISP

    return PyMISP(SPOKE, keys["spoke"], ssl=CA, timeout=60)


def _wait(what, probe, timeout=WAIT):
    """Poll ``probe()`` until it returns a truthy value; (value, seconds taken); fail naming ``what``."""
    started = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not seen within {timeout} s")
        time.sleep(2)


def _on_hub(hub, value):
    """The hub's live (not deleted) attributes with this value."""
    found = hub.search(controller="attributes", value=value, pythonify=False)
    return found.get("Attribute", []) if isinstance(found, dict) else found


def test_the_spokes_link_exists_as_computed_and_logs_in(hub, spoke):
    (link,) = [s["Server"] for s in spoke.servers(pythonify=False)]
    assert link["url"] == HUB and link["push"] and link["pull"] and link["push_sightings"], link
    assert link["cert_file"], "the site CA is not pinned on the spoke's link"
    remote = spoke.get_organisation(link["remote_org_id"], pythonify=False)["Organisation"]
    assert remote["name"] == "SOCForge Hub" and remote["local"] is False
    assert remote["uuid"] == hub.get_user("me", pythonify=False)["Organisation"]["uuid"]
    assert hub.servers(pythonify=False) == []  # hub-and-spoke: the hub holds no link
    sync_user = [u for u in hub.users(pythonify=False) if u["User"]["email"] == "sync-misp-spoke1@socforge.invalid"]
    assert len(sync_user) == 1 and sync_user[0]["Role"]["name"] == "Sync user", sync_user
    test = spoke.test_server(link["id"])
    assert test.get("status") == 1, test  # 1 = the hub answered and the sync user logged in
    assert test.get("post") == 1, test  # the hub accepts pushed data over this link


def test_a_published_spoke_event_reaches_the_hub_and_its_deletion_follows(monkeypatch, hub, spoke, keys, tmp_path):
    from pymisp import MISPEvent

    tag = f"socforge-sync-{secrets.token_hex(4)}"
    shared, private, red = f"{tag}-shared.example", f"{tag}-private.example", f"{tag}-red.example"
    made = []

    def event(info, tags, *attributes):
        ev = MISPEvent()
        ev.info = f"{tag} {info}"
        ev.distribution = 2  # connected communities: travels over the link
        for name in tags:
            ev.add_tag(name)
        for value, distribution in attributes:
            ev.add_attribute("domain", value, to_ids=True, distribution=distribution)
        stored = spoke.add_event(ev, pythonify=False)["Event"]
        made.append(stored["uuid"])
        return stored

    try:
        # published first: when the shared event has reached the hub, the publish job has handled this one
        withheld = event("tlp:red", ["tlp:red"], (red, 5))
        spoke.publish(withheld["id"])
        ev = event("connected communities", [], (shared, 5), (private, 0))
        published_at = time.monotonic()
        spoke.publish(ev["id"])
        arrived, delay = _wait(f"{shared} published on the spoke, on the hub", lambda: _on_hub(hub, shared))
        assert len(arrived) == 1 and arrived[0]["to_ids"] is True, arrived
        assert _on_hub(hub, private) == [], "a distribution-0 attribute left the spoke"
        assert _on_hub(hub, red) == [], "a tlp:red event was pushed despite the link's push rule"
        hub_event = hub.get_event(ev["uuid"], pythonify=False)["Event"]
        assert hub_event["Orgc"]["name"] == "SOCForge misp-spoke1" and hub_event["published"] is True

        # the hub's intel reaches a Zeek intel file (the Zeek manager's sync, run here from the controller)
        dest = tmp_path / "misp-hub.intel"
        args = {"misp_url": HUB, "misp_key": keys["hub"], "ca_path": CA, "dest": str(dest), "retries": 1}
        run_module(monkeypatch, misp_zeek_intel, args)
        assert shared in dest.read_text() and private not in dest.read_text() and red not in dest.read_text()

        # the attribute deleted on the spoke (and the event published again) is deleted on the hub
        attribute = next(
            a for a in spoke.get_event(ev["id"], pythonify=False)["Event"]["Attribute"] if a["value"] == shared
        )
        spoke.delete_attribute(attribute["id"])
        deleted_at = time.monotonic()
        spoke.publish(ev["id"])
        _, removal = _wait(f"the deletion of {shared} on the hub", lambda: _on_hub(hub, shared) == [])
        kept = hub.get_event(ev["uuid"], deleted=True, pythonify=False)["Event"]["Attribute"]
        assert [a["deleted"] for a in kept if a["value"] == shared] == [True]  # deleted there too, not lost
        after = run_module(monkeypatch, misp_zeek_intel, dict(args, full_sync=True))
        assert after["changed"] and shared not in dest.read_text()
        print(
            f"spoke -> hub: published event on the hub after {delay} s (publish call to seen: "
            f"{round(time.monotonic() - published_at, 1)} s in all with the checks); "
            f"attribute deletion on the hub after {removal} s ({round(time.monotonic() - deleted_at, 1)} s with the intel run)"
        )
    finally:
        for uuid in made:
            for misp in (spoke, hub):
                misp.delete_event(uuid)
