"""zeekctl ``check`` of the real builds on every node.cfg that playbooks/plan.yml writes (the example
site, the lab, the molecule zeek_cluster scenario's inventory), with the role's zeekctl.cfg and
local.zeek, and its refusal of broken ones.

zeekctl runs only on the machine holding the manager's address, so every host= is mapped to
127.0.0.1; it runs with a configuration of its own in the test's directory (zeekctl_isolated.py), so
the installed prefixes stay clean. zeekctl validates the whole node.cfg and then runs Zeek's script
check per node: one process per node.cfg section is checked (``worker-x-1`` of an lb_procs entry: the
other processes of an entry differ only by name), which keeps the 23-process workers of the example
site affordable.
"""

import os
import re
import subprocess

import pytest
import yaml
from zeek_site import node_sections, write_site, zeekctl

from tests.zeek_runtime import REPO, require_zeekctl

pytestmark = pytest.mark.integration

PLAYBOOK = REPO / "playbooks" / "plan.yml"
MOLECULE = REPO / "molecule" / "zeek_cluster" / "molecule.yml"


def molecule_inventory(dest):
    """The zeek_cluster scenario's inventory (platform groups, provisioner group/host vars) as files."""
    m = yaml.safe_load(MOLECULE.read_text())
    inv = m.get("provisioner", {}).get("inventory", {})
    groups = {}
    for p in m["platforms"]:
        for g in p.get("groups", []):
            groups.setdefault(g, {"hosts": {}})["hosts"][p["name"]] = {}
    dest.mkdir(parents=True)
    (dest / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": groups}}))
    for kind in ("group_vars", "host_vars"):
        (dest / kind).mkdir()
        linked = inv.get("links", {}).get(kind)
        if linked:
            src = (MOLECULE.parent / linked).resolve()
            for f in src.iterdir():
                (dest / kind / f.name).write_bytes(f.read_bytes()) if f.is_file() else None
        for name, values in inv.get(kind, {}).items():
            (dest / kind / f"{name}.yml").write_text(yaml.safe_dump(values))
    return dest


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """{name: node.cfg text} from plan.yml on each inventory (one plan run each, shared by the builds)."""
    tmp = tmp_path_factory.mktemp("plans")
    inventories = {
        "example-site": REPO / "inventories" / "example-site",
        "lab": REPO / "inventories" / "lab",
        "molecule-zeek_cluster": molecule_inventory(tmp / "molecule-inventory"),
    }
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    out = {}
    for name, inventory in inventories.items():
        plan_dir = tmp / name
        cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK)]
        res = subprocess.run(
            [*cmd, "-e", f"soc_plan_dir={plan_dir}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert res.returncode == 0, f"plan.yml on {name}:\n{res.stdout[-3000:]}"
        cfgs = sorted((plan_dir / "zeek").glob("*/node.cfg"))
        assert cfgs, f"plan.yml on {name} wrote no node.cfg"
        for cfg in cfgs:
            out[name if len(cfgs) == 1 else f"{name}/{cfg.parent.name}"] = cfg.read_text()
    return out


def one_per_section(node_cfg):
    return [f"{n}-1" if s.get("lb_procs") else n for n, s in node_sections(node_cfg).items()]


# zeekctl 8.1 talks to a running cluster over the WebSocket API and warns at every start when
# Python's websockets is older than 11 (Debian 12 ships 10.4); check/deploy/status work without it.
WEBSOCKETS_WARNING = re.compile(r"Warning: zeekctl option UseWebSocket is set, but websockets non-functional")


def warnings(res):
    text = res.stdout + res.stderr
    return [ln for ln in text.splitlines() if re.match(r"\s*(Warning|Error)", ln) and not WEBSOCKETS_WARNING.match(ln)]


@pytest.fixture
def site(zeek, tmp_path):
    require_zeekctl(zeek)
    return write_site(tmp_path / "site-root", zeek)


@pytest.mark.parametrize("name", ["example-site", "lab", "molecule-zeek_cluster"])
def test_zeekctl_check_passes_on_planned_node_cfg(zeek, site, planned, name, tmp_path):
    node_cfg = planned[name]
    nodes = one_per_section(node_cfg)
    res = zeekctl(zeek, tmp_path / "zeekctl", node_cfg, site, "check", *nodes)
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(re.findall(r"^(\S+) scripts are ok\.$", res.stdout, re.M)) == sorted(nodes)
    assert warnings(res) == []
    types = {s["type"] for s in node_sections(node_cfg).values()}
    assert {"manager", "proxy", "logger", "worker"} <= types


def mutate(node_cfg, section_type, key, value):
    """node_cfg with ``key=value`` set in every section of ``section_type`` (value None: key removed)."""
    out, current = [], None
    for line in node_cfg.splitlines():
        if line.startswith("["):
            current = line
        if line.startswith(f"{key}=") and current and section_type in current:
            if value is not None:
                out.append(f"{key}={value}")
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def without_section(node_cfg, prefix):
    kept, skip = [], False
    for line in node_cfg.splitlines():
        if line.startswith("["):
            skip = line.startswith(f"[{prefix}")
        if not skip:
            kept.append(line)
    return "\n".join(kept) + "\n"


def test_zeekctl_accepts_both_af_packet_spellings(zeek, site, planned, tmp_path):
    """lb_method=custom + interface=af_packet::<if> (what the layout writes) and lb_method=af_packet +
    a bare interface both pass (docs/zeek.md used to say only the first one did)."""
    bare = (
        planned["lab"].replace("interface=af_packet::", "interface=").replace("lb_method=custom", "lb_method=af_packet")
    )
    assert "lb_method=af_packet" in bare and "af_packet::" not in bare
    res = zeekctl(zeek, tmp_path / "zeekctl", bare, site, "check", *one_per_section(bare))
    assert res.returncode == 0 and warnings(res) == [], res.stdout + res.stderr


BROKEN = {
    "no-proxy": (lambda cfg: without_section(cfg, "proxy"), r"Error: no proxy defined in node config"),
    "fanout-mode-not-an-enum": (
        lambda cfg: cfg.replace(
            "af_packet_fanout_mode=AF_Packet::FANOUT_HASH", "af_packet_fanout_mode=FANOUT_SOMETIMES"
        ),
        r"scripts failed\.(.|\n)*unknown identifier FANOUT_SOMETIMES",
    ),
    "unknown-node-type": (
        lambda cfg: cfg.replace("type=proxy", "type=proxxy"),
        r"Error: unknown node type 'proxxy' given for node 'proxy-1'",
    ),
    "no-manager": (lambda cfg: without_section(cfg, "manager"), r"Error: no manager defined in node config"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_zeekctl_check_fails_on_broken_node_cfg(zeek, site, planned, case, tmp_path):
    breaker, message = BROKEN[case]
    broken = breaker(planned["lab"])
    assert broken != planned["lab"]
    nodes = [n for n in one_per_section(broken) if n in one_per_section(planned["lab"])]
    res = zeekctl(zeek, tmp_path / "zeekctl", broken, site, "check", *nodes)
    assert res.returncode != 0, res.stdout + res.stderr
    assert re.search(message, res.stdout + res.stderr, re.I), res.stdout + res.stderr
