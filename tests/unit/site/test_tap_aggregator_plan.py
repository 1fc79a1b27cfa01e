"""plan.yml renders each tap aggregator's configuration from the site model: the example site's Arista
EOS tap aggregation (parsed back with arista.eos inside the role) and the lab's nftables ruleset."""

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def plan(inventory, out, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "plan.yml")]
    cmd += ["-e", f"soc_plan_dir={out}", *extra]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stdout[-3000:]
    return res


def blocks(text):
    """{interface: [its indented lines]} of an EOS configuration."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("interface "):
            current = out.setdefault(line.split()[1], [])
        elif line.startswith("   ") and current is not None:
            current.append(line.strip())
        else:
            current = None
    return out


def test_example_site_eos_tap_aggregation(tmp_path):
    plan(REPO / "inventories" / "example-site", tmp_path)
    text = (tmp_path / "tap-agg01-tap-aggregation.eos").read_text()
    assert text.startswith("!\n! Ansible managed")
    assert "tap aggregation\n   mode exclusive\n" in text
    assert "distribution symmetric-hash mac-ip" in text
    b = blocks(text)
    # LHCOPN's optical tap: one port per direction, both into tool group lhcopn
    for port in ("Ethernet1", "Ethernet2"):
        assert "switchport mode tap" in b[port] and "switchport tap default group lhcopn" in b[port]
        assert "ingress load-balance profile socforge_symmetric" in b[port]
    assert "switchport tap default group janet_2" in b["Ethernet5"]  # the mirrored link: one port
    # its tool port-channel: the four LHCOPN capture NICs (zeek-w01/w02), balanced symmetrically
    members = sorted(p for p, lines in b.items() if "channel-group 101 mode on" in lines)
    assert members == ["Ethernet33", "Ethernet34", "Ethernet35", "Ethernet36"]
    assert "switchport tool group set lhcopn" in b["Port-Channel101"]
    assert len([p for p in b if p.startswith("Port-Channel")]) == 5  # one per link
    assert len([p for p, lines in b.items() if "switchport mode tap" in lines]) == 8


def test_stage_1_renders_only_lhcopn_and_the_lab_gets_its_ruleset(tmp_path):
    plan(REPO / "inventories" / "example-site", tmp_path / "site", "-e", "soc_stage=1")
    b = blocks((tmp_path / "site" / "tap-agg01-tap-aggregation.eos").read_text())
    assert sorted(b) == [
        "Ethernet1",
        "Ethernet2",
        "Ethernet33",
        "Ethernet34",
        "Ethernet35",
        "Ethernet36",
        "Port-Channel101",
    ]

    plan(REPO / "inventories" / "lab", tmp_path / "lab")
    nft = (tmp_path / "lab" / "lab-aggregator-tap-aggregator.nft").read_text()
    assert 'type filter hook ingress device "tap0" priority filter; policy drop;' in nft
    assert re.search(r"symhash mod 2 vmap \{ 0 : jump tool_tool_w1, 1 : jump tool_tool_w2 \}", nft)
    assert 'fwd to "tool-w1"' in nft and 'fwd to "tool-w2"' in nft
    report = (tmp_path / "lab" / "report.md").read_text()
    assert (
        "| 1 | lab-uplink | mirror | lab-aggregator | tap0 | tool-w1 (lab-zeek-w1 cap0), tool-w2 (lab-zeek-w2 cap0) | 1 | 2 | ok |"
        in report
    )
