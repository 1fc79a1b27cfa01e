"""misp_sync_topology: links of hub-and-spoke and mesh for 1..50 spokes, their validation, MISP's
distribution rules over the links, the module through main() and the plan report's section."""

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from ansible_collections.socforge.core.plugins.module_utils import misp_topology as topo  # noqa: E402
from ansible_collections.socforge.core.plugins.module_utils import site_model  # noqa: E402
from ansible_collections.socforge.core.plugins.modules import misp_sync_topology  # noqa: E402
from utils import fail_module, run_module  # noqa: E402


def inst(name, **extra):
    return {"name": name, "url": f"https://{name}.example.org", "org": f"Org-{name}", **extra}


HUB = inst("hub")


def spokes(n):
    return [inst(f"spoke{i:02d}") for i in range(1, n + 1)]


@pytest.mark.parametrize("n", range(1, 51))
def test_hub_and_spoke_and_mesh_for_1_to_50_spokes(n):
    sp = spokes(n)
    hub_links = topo.compute_links(HUB, sp)
    assert len(hub_links) == n == topo.link_count(n, 0, "hub_and_spoke")
    assert sorted(link["on"] for link in hub_links) == sorted(s["name"] for s in sp)
    assert {link["name"] for link in hub_links} == {"hub"}
    assert topo.validate(hub_links, HUB, sp) == []
    mesh = topo.compute_links(HUB, sp, mode="mesh")
    assert len(mesh) == n * (n + 1) // 2 == topo.link_count(n, 0, "mesh")
    pairs = {frozenset((link["on"], link["name"])) for link in mesh}
    assert len(pairs) == len(mesh)  # every pair exactly once
    assert topo.validate(mesh, HUB, sp, mode="mesh") == []
    # in hub-and-spoke the same links fail: they hold spoke-to-spoke pairs
    errors = topo.validate(mesh, HUB, sp, mode="hub_and_spoke")
    assert len(errors) == n * (n - 1) // 2 and all("spoke-to-spoke" in e for e in errors)
    # all communities (3) reaches every instance unchanged, in both layouts
    for links in (hub_links, mesh):
        assert topo.propagate(links, sp[0]["name"], 3) == {i["name"]: 3 for i in [HUB, *sp]}


def test_partners_link_to_the_hub_only_with_stricter_rules():
    sp = spokes(3)
    partners = [inst("partner-a"), inst("partner-b")]
    links = topo.compute_links(HUB, sp, partners)
    assert len(links) == 5 == topo.link_count(3, 2)
    partner_links = [link for link in links if link["kind"] == "hub-partner"]
    assert [(link["on"], link["name"]) for link in partner_links] == [("hub", "partner-a"), ("hub", "partner-b")]
    assert all("tlp:amber" in link["push_rules"]["tags_not"] and not link["internal"] for link in partner_links)
    assert all(link["push_sightings"] for link in links if link["kind"] == "spoke-hub")
    assert topo.validate(links, HUB, sp, partners) == []


def test_misp_distribution_rules_per_hop():
    """MISP 2.5.1: non-internal push needs >= 2 and turns 2 into 1; pull turns 1 into 0, 2 into 1."""
    sp = spokes(2)
    links = topo.compute_links(HUB, sp)
    assert topo.propagate(links, "spoke01", 0) == {"spoke01": 0}
    assert topo.propagate(links, "spoke01", 1) == {"spoke01": 1}  # this community only: never pushed
    assert topo.propagate(links, "spoke01", 2) == {"spoke01": 2, "hub": 1, "spoke02": 0}
    internal = topo.compute_links(HUB, sp, internal=True)
    assert topo.propagate(internal, "spoke01", 1) == {"spoke01": 1, "hub": 1, "spoke02": 1}
    # the hub's own events reach the spokes by their pull
    assert topo.propagate(links, "hub", 2) == {"hub": 2, "spoke01": 1, "spoke02": 1}


def test_validation_finds_every_fault():
    sp = spokes(3)
    partners = [inst("partner", self_signed=True)]
    links = topo.compute_links(HUB, sp, partners)
    broken = [dict(link) for link in links if link["on"] != "spoke03"]  # spoke03 unreachable
    broken.append(dict(links[0], on="hub", on_url=HUB["url"], name="spoke01"))  # duplicate pair (reversed)
    broken.append(dict(links[0], on="spoke01", name="spoke02"))  # spoke to spoke
    broken.append(dict(links[1], push=False, pull=False, on="spoke02", name="spoke02"))
    broken[1]["push_rules"] = dict(broken[1]["push_rules"], url_params='{"distribution": "1|2"}')
    broken[0]["pull_rules"] = dict(broken[0]["pull_rules"], url_params='{"distribution": "0|3"}')
    broken[0]["push_rules"] = dict(broken[0]["push_rules"], url_params='{"distribution": "2,3"}')
    errors = "\n".join(topo.validate(broken, HUB, sp, partners))
    for expected in (
        "spoke03 is not reachable from the hub",
        "link hub -> spoke01: duplicate of link spoke01 -> hub",
        "link spoke01 -> spoke02: spoke-to-spoke link",
        "link hub -> partner: partner has a self-signed/private-CA certificate; pin its CA",
        "link spoke02 -> spoke02: an instance cannot sync with itself",
        "neither push nor pull",
        "push rules select distribution 1 (this community only), which MISP never pushes",
        "pull rules select distribution 0",
        "distribution filter '2,3' is not MISP's syntax",
    ):
        assert expected in errors, expected
    # "2|3" is fine, and an internal link may push "this community only"
    ok = [dict(link) for link in topo.compute_links(HUB, sp)]
    ok[0]["pull_rules"] = dict(ok[0]["pull_rules"], url_params=json.dumps({"distribution": "2|3"}))
    ok[1]["internal"] = True
    ok[1]["push_rules"] = dict(ok[1]["push_rules"], url_params='{"distribution": ["1", "2", "3"]}')
    assert topo.validate(ok, HUB, sp) == []


def test_bad_instances_are_named():
    with pytest.raises(topo.TopologyError, match="spoke {'name': 'x'}: an instance needs name, url and org"):
        topo.compute_links(HUB, [{"name": "x"}])
    with pytest.raises(topo.TopologyError, match="names used twice: hub"):
        topo.compute_links(HUB, [inst("hub")])
    with pytest.raises(topo.TopologyError, match="is not an http"):
        topo.compute_links(HUB, [dict(inst("s"), url="s.example")])


def test_module(monkeypatch):
    sp = [inst("spoke01", ca_file="/srv/pki/ca.crt"), inst("spoke02")]
    res = run_module(monkeypatch, misp_sync_topology, {"hub": dict(HUB, ca_file="/srv/pki/ca.crt"), "spokes": sp})
    assert res["changed"] is False and res["counts"] == {"hub_and_spoke": 2, "mesh": 3}
    assert [(link["on"], link["url"], link["ca_file"]) for link in res["links"]] == [
        ("spoke01", HUB["url"], "/srv/pki/ca.crt"),
        ("spoke02", HUB["url"], "/srv/pki/ca.crt"),
    ]
    assert res["reach"]["2"] == {"spoke01": 2, "hub": 1, "spoke02": 0}
    bad = fail_module(monkeypatch, misp_sync_topology, {"hub": dict(HUB, self_signed=True), "spokes": sp})
    assert "pin its CA" in bad["msg"] and len(bad["errors"]) == 2
    bad = fail_module(monkeypatch, misp_sync_topology, {"hub": {"name": "hub"}, "spokes": sp})
    assert "needs name, url and org" in bad["msg"]


def test_plan_report_shows_layout_and_counts():
    site = {
        "name": "lab",
        "groups": {"misp_hubs": ["misp-hub01"], "misp_spokes": [f"misp-spoke{i:02d}" for i in range(1, 9)]},
        "misp_sync": {"partners": [{"name": "cert-eu", "url": "https://misp.cert-eu.example", "org": "CERT-EU"}]},
    }
    text = site_model.plan_report(site, site_model.validate_site(site, required_groups=[]))
    section = text.split("## MISP sync topology", 1)[1].split("## Topology", 1)[0]
    assert "| hub-and-spoke | 9 | n + partners |" in section
    assert "| mesh | 37 | (n+1)n/2 + partners |" in section
    assert section.count("\n| misp-spoke") == 8 and "| misp-hub01 | cert-eu |" in section
    assert "| 3 all communities | 3 | 3 |" in section
    assert "## MISP sync topology" not in site_model.plan_report({"groups": {}}, site_model.validate_site({}, []))
