"""socforge.core.soc_site_plan driven through main() on the example site: validation result, the
site's warnings returned as ``warnings_found`` (``warnings`` is Ansible's own key), plan files
written atomically, idempotent, and left alone in check mode. run_module also checks the result
against the module's RETURN."""

import copy
from pathlib import Path

import pytest
from ansible_collections.socforge.core.plugins.modules import soc_site_plan

from tests.unit.plugins.modules.utils import fail_module, run_module
from tests.unit.site.test_site_model import load_site

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def example_site():
    return load_site(REPO / "inventories" / "example-site")


@pytest.fixture
def site(example_site):
    return copy.deepcopy(example_site)


def test_valid_site_validates_without_writing(monkeypatch, site):
    result = run_module(monkeypatch, soc_site_plan, {"site": site})
    assert result["errors"] == [] and result["changed"] is False
    assert "files" not in result


def test_site_warnings_are_returned(monkeypatch, site):
    # janet-3 not tapped yet (no tap ports), its worker moved to janet-1 on the same tool ports
    next(link for link in site["links"] if link["name"] == "janet-3").pop("tap_ports")
    for nic in site["hosts"]["zeek-w05"]["hardware"]["capture_nics"]:
        nic["link"] = "janet-1"
    result = run_module(monkeypatch, soc_site_plan, {"site": site})
    assert "link 'janet-3' is not fed to any Zeek worker capture NIC" in result["warnings_found"]


def test_plan_files_written_once_and_not_in_check_mode(monkeypatch, site, tmp_path):
    dest = tmp_path / "plan"
    names = ["report.md", "topology.dot", "topology.svg"]
    dry = run_module(monkeypatch, soc_site_plan, {"site": site, "dest": str(dest)}, check_mode=True)
    assert dry["changed"] is True and sorted(Path(f).name for f in dry["files"]) == sorted(names)
    assert not dest.exists()
    first = run_module(monkeypatch, soc_site_plan, {"site": site, "dest": str(dest)})
    assert first["changed"] is True and sorted(p.name for p in dest.iterdir()) == sorted(names)
    assert (dest / "topology.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    again = run_module(monkeypatch, soc_site_plan, {"site": site, "dest": str(dest)})
    assert again["changed"] is False and again["files"] == []


def test_invalid_site_fails_listing_the_errors(monkeypatch, site):
    site["networks"]["data"].update(vlan=5000)
    failed = fail_module(monkeypatch, soc_site_plan, {"site": site})
    assert failed["errors"] == ["soc_networks.data.vlan: '5000' is not a VLAN id (1-4094)"]
    assert failed["msg"].startswith("The site inventory is not valid")
