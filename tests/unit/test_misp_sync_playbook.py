"""playbooks/misp_sync.yml run by ansible-playbook against three MISP test doubles (a hub and two
spokes, hosts on a local connection): the links exist as misp_sync_topology computed them, every
spoke's link logs in to the hub as its own sync user, the second run changes nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def run_playbook(inventory, extra_env=None, check=False, stage=None):
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **(extra_env or {})}
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "playbooks/misp_sync.yml"]
    if check:
        cmd.append("--check")
    if stage is not None:
        cmd += ["-e", f"soc_stage={stage}"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def recap(out):
    return {line.split()[0]: line for line in out.splitlines() if " : ok=" in line}


# misp_sync.yml validates the inventory first (validate.yml): a small valid site around the MISPs
SITE = {
    "soc_required_groups": ["misp_hubs"],
    "soc_networks": {
        "admin": {"cidr": "10.89.112.0/24", "vlan": 110, "untagged": True, "description": "admin"},
        "ipmi": {"cidr": "10.89.113.0/24", "vlan": 120, "routed": False, "description": "ipmi"},
        "data": {"cidr": "10.89.111.0/24", "untagged": True, "description": "data"},
    },
    "soc_links": [{"name": "uplink", "capacity_gbps": 1, "peak_utilisation": 0.5, "active": True, "stage": 1,
                   "tap": "mirror"}],
}  # fmt: skip


def _site(misp_double_factory, tmp_path, names, later=()):
    """Doubles for ``names`` (the first the hub) and a site inventory of them; ``later``: instances of
    rollout stage 2 (soc_host_stage), the others stage 1."""
    doubles = {n: misp_double_factory(datasets=("pymisp",)) for n in names}
    hosts = {}
    for name, double in doubles.items():
        secrets = tmp_path / name
        secrets.mkdir()
        (secrets / "admin_api_key").write_text(double.key + "\n")
        hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "misp_secrets_dir": str(secrets),
            "misp_sync_url": double.url,
            "misp_organisation": f"SOCForge {name}",
        }
        if name in later:
            hosts[name]["soc_host_stage"] = 2
    inventory = tmp_path / "hosts.yml"
    children = {
        "misp_hubs": {"hosts": {"misp-hub": hosts["misp-hub"]}},
        "misp_spokes": {"hosts": {n: hosts[n] for n in names[1:]}},
    }
    inventory.write_text(
        yaml.safe_dump({"all": {"vars": {"misp_sync_keys_dir": str(tmp_path / "keys"), **SITE}, "children": children}})
    )
    return doubles, inventory


def test_sync_links_applied_and_idempotent(misp_double_factory, tmp_path):
    names = ("misp-hub", "misp-spoke1", "misp-spoke2")
    doubles, inventory = _site(misp_double_factory, tmp_path, names)
    checked = run_playbook(inventory, check=True)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    assert all(d.admin.servers == [] for d in doubles.values())  # check mode wrote nothing

    first = run_playbook(inventory)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    flat = " ".join(first.stdout.split())  # the callback wraps long messages
    assert "2 sync links (hub-and-spoke 2, mesh 3): misp-spoke1 -> misp-hub, misp-spoke2 -> misp-hub" in flat
    hub = doubles["misp-hub"]
    for spoke in names[1:]:
        (link,) = doubles[spoke].admin.servers
        assert link["url"] == hub.url and link["push"] and link["pull"] and link["push_sightings"]
        # by the id of tlp:red on the spoke: MISP matches push rules by tag id
        red = [t["id"] for t in doubles[spoke].admin.tags.values() if t["name"] == "tlp:red"]
        assert json.loads(link["push_rules"])["tags"]["NOT"] == red and len(red) == 1
        # the spoke's link logs in to the hub as the sync user made for that spoke
        user = hub.admin.user_for_key(link["authkey"])
        assert user is not None and user["email"] == f"sync-{spoke}@socforge.invalid" and user["role_id"] == "5"
        assert hub.admin.orgs[user["org_id"]]["name"] == f"SOCForge {spoke}"
        # the remote organisation on the spoke is the hub's, with the hub's UUID
        remote = doubles[spoke].admin.orgs[link["remote_org_id"]]
        hub_org = next(o for o in hub.admin.orgs.values() if o["name"] == "SOCForge misp-hub")
        assert remote["uuid"] == hub_org["uuid"] and remote["local"] is False
        key_file = tmp_path / "keys" / f"misp-hub-{spoke}.key"
        assert oct(key_file.stat().st_mode)[-3:] == "600" and link["authkey"] not in first.stdout
    assert doubles["misp-hub"].admin.servers == []  # hub-and-spoke: the hub holds no link

    second = run_playbook(inventory)
    assert second.returncode == 0
    assert "changed=0" in recap(second.stdout)["localhost"], second.stdout[-3000:]


def test_only_the_instances_of_the_rollout_stage_are_linked(misp_double_factory, tmp_path):
    """site.yml -e soc_stage=1: a spoke of stage 2 (not installed yet) is neither read nor linked; the
    stage's spoke is."""
    doubles, inventory = _site(
        misp_double_factory, tmp_path, ("misp-hub", "misp-spoke1", "misp-spoke2"), later=("misp-spoke2",)
    )
    (tmp_path / "misp-spoke2" / "admin_api_key").unlink()  # not installed yet: reading its key would fail
    run = run_playbook(inventory, stage=1)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 sync links (hub-and-spoke 1, mesh 1): misp-spoke1 -> misp-hub" in " ".join(run.stdout.split())
    assert len(doubles["misp-spoke1"].admin.servers) == 1 and doubles["misp-spoke2"].admin.servers == []
