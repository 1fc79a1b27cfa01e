"""Tags per tier and per concern (README, "Tags"): `--tags firewall` on site.yml touches only the
firewall across the fleet (plus the validation that builds the host list, tagged always), each tier
playbook carries its tier tag, and the README documents exactly the tags the playbooks define."""

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
INVENTORY = REPO / "inventories" / "example-site"
PLAY = re.compile(r"^\s+play #\d+ \((?P<hosts>[^)]*)\): (?P<name>.*?)\tTAGS: \[(?P<tags>[^\]]*)\]$")
TASK = re.compile(r"^\s{6}(?P<name>.*?)\tTAGS: \[(?P<tags>[^\]]*)\]$")
TASK_TAGS = re.compile(r"^\s+TASK TAGS: \[(?P<tags>[^\]]*)\]$")


def _tags(text):
    return {t.strip() for t in text.split(",") if t.strip()}


@functools.cache
def ansible_playbook(playbook, *args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(INVENTORY),
            str(REPO / "playbooks" / playbook),
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def listed_tasks(playbook, *args):
    """[(play name, play tags, [(task name, task tags)])] from --list-tasks."""
    plays = []
    for line in ansible_playbook(playbook, "--list-tasks", *args).splitlines():
        if m := PLAY.match(line):
            plays.append((m["name"], _tags(m["tags"]), []))
        elif (m := TASK.match(line)) and plays:
            plays[-1][2].append((m["name"], _tags(m["tags"])))
    assert plays, f"no play listed for {playbook}"
    return plays


def defined_tags(playbook):
    out = set()
    for line in ansible_playbook(playbook, "--list-tags").splitlines():
        if m := TASK_TAGS.match(line):
            out |= _tags(m["tags"])
    return out - {"always"}


def _openings_tasks():
    """The task names of roles/common's openings entry point, blocks flattened, as --list-tasks shows them."""
    out = []
    for task in yaml.safe_load((REPO / "roles/common/tasks/openings.yml").read_text()):
        out += [f"socforge.core.common : {t['name']}" for t in task.get("block", [task])]
    return out


OPENINGS_TASKS = _openings_tasks()


def test_firewall_tag_touches_only_the_firewall_across_the_fleet():
    plays = listed_tasks("site.yml", "--tags", "firewall")
    selected = [(play, task) for play, _, tasks in plays for task, tags in tasks if "always" not in tags]
    # the baseline policy, then each tier's own openings (roles/common tasks/openings.yml), nothing else
    baseline = [
        "socforge.core.common : Directory for the openings other roles declare (included by the policy's input chain)",
        "socforge.core.common : Write the nftables policy",
        "socforge.core.common : Enable nftables",
    ]
    by_play: dict[str, list[str]] = {}
    for play, task in selected:
        by_play.setdefault(play, []).append(task)
    assert by_play.pop("Baseline every SOC host") == baseline
    assert sorted(by_play) == [
        "Kafka brokers (KRaft)",
        "MISP instances",
        "OpenSearch nodes",
        "Zeek | Accounts, installation and zeekctl trust on every Zeek host",
    ]
    for play, tasks in by_play.items():
        assert tasks == OPENINGS_TASKS, play
    # the host list (soc_in_stage) is still built, and common's inputs still computed
    validation = [task for play, _, tasks in plays if play == "Validate the site inventory" for task, _ in tasks]
    assert "Select the hosts of this rollout stage" in validation
    baseline = next(tasks for play, _, tasks in plays if play == "Baseline every SOC host")
    assert "socforge.core.common : Compute the VLAN interfaces and firewall sources for this host" in dict(baseline)


@pytest.mark.parametrize(
    ("concern", "task"),
    [
        ("time", "socforge.core.common : Configure chrony sources"),
        ("ssh", "socforge.core.common : Harden sshd"),
        ("syslog", "socforge.core.common : Configure rsyslog for the SOC"),
    ],
)
def test_each_common_concern_selects_its_own_tasks(concern, task):
    plays = listed_tasks("common.yml", "--tags", concern)
    selected = [t for _, _, tasks in plays for t, tags in tasks if "always" not in tags]
    assert task in selected
    assert all(concern in tags for _, _, tasks in plays for _, tags in tasks if "always" not in tags)


def test_tier_tags():
    tiers = {name: tags for name, tags, _ in listed_tasks("site.yml") if name != "Validate the site inventory"}
    assert tiers["Baseline every SOC host"] == {"common"}
    assert all("zeek" in tags for name, tags in tiers.items() if name.startswith("Zeek |"))
    assert tiers["Kafka brokers (KRaft)"] == {"pipeline", "kafka"}
    assert tiers["OpenSearch nodes"] == {"pipeline", "opensearch"}
    assert tiers["Log shippers"] == {"pipeline", "shipper"}
    # run alone, a tier playbook carries its own tags too
    assert {"kafka", "opensearch", "shipper"} <= defined_tags("pipeline.yml")


def test_readme_documents_exactly_the_defined_tags():
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Tags\n", 1)
    assert len(section) == 2, "README.md has no '## Tags' section"
    body = section[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.M))
    assert documented == defined_tags("site.yml") | defined_tags("lab.yml")
