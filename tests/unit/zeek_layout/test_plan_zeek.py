"""playbooks/plan.yml + playbooks/tasks/plan_zeek.yml on the example site: the capacity table and
node.cfg are written; a farm too small for the LHCOPN link fails the plan naming link and shortfall."""

import configparser
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "playbooks" / "plan.yml"


def plan(inventory, out):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [
        str(REPO / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        str(inventory),
        str(PLAYBOOK),
        "-e",
        f"soc_plan_dir={out}",
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_example_site_plan_writes_node_cfg_and_capacity(tmp_path):
    res = plan(REPO / "inventories" / "example-site", tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]
    rows = [line.split()[1:] for line in res.stdout.splitlines() if line.strip().startswith("- lhcopn ")]
    assert rows == [["lhcopn", "60.0", "4", "92", "92.0", "+32.0", "ok"]]  # the printed capacity table
    md = (tmp_path / "zeek-capacity.md").read_text()
    assert md.startswith("## Zeek capacity")
    assert "| lhcopn | 1 | yes | 60.0 | 4 | 92 | 92.0 | +32.0 | ok |" in md
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(tmp_path / "zeek" / "zeek" / "node.cfg")
    workers = [s for s in cfg.sections() if cfg[s]["type"] == "worker"]
    assert len(workers) == 12  # 6 hosts x 2 capture NICs
    assert cfg["worker-zeek-w01-ens5f0"]["pin_cpus"] == ",".join(str(c) for c in range(25, 48))
    assert cfg["manager"]["host"] == "10.20.130.33"  # the data network address


def test_too_small_lhcopn_farm_fails_the_plan(tmp_path):
    inv = tmp_path / "inv"
    shutil.copytree(REPO / "inventories" / "example-site", inv)
    w02 = inv / "host_vars" / "zeek-w02.yml"
    w02.write_text(w02.read_text().replace("link: lhcopn", "link: janet-1"))  # one LHCOPN host left
    res = plan(inv, tmp_path / "out")
    assert res.returncode != 0
    assert (
        "link lhcopn: peak 60.0 Gb/s (100 Gb/s x 0.6) exceeds the Zeek farm's 46.0 Gb/s (46 workers on 2 "
        "interfaces at 1 Gb/s each): short by 14.0 Gb/s, about 14 more worker cores"
    ) in res.stdout
    # The report is still written, so the operator sees the table that failed.
    assert (
        "| lhcopn | 1 | yes | 60.0 | 2 | 46 | 46.0 | -14.0 | SHORT |"
        in (tmp_path / "out" / "zeek-capacity.md").read_text()
    )
