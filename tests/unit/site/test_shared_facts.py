"""One owner for each cross-role fact (issue 12): roles/soc.

- grep level: the Zeek log list, the topic prefix and the shipper's OpenSearch user are given a value
  in roles/soc only; every other role default, role var, inventory and playbook points at it
  (the checker is shown to catch a planted copy);
- behaviour: the topic prefix (and the log list) changed in one place, the inventory's
  group_vars/all, changes Zeek's Kafka output, the Kafka topics the broker role creates and both
  shippers' subscriptions, as Ansible renders them from the roles' own templates and tasks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
OWNER = REPO / "roles" / "soc" / "defaults" / "main.yml"
FACTS = yaml.safe_load(OWNER.read_text())
LOGS = set(FACTS["soc_zeek_logs"])


def _files():
    for pattern in ("roles/*/defaults/**/*.yml", "roles/*/vars/**/*.yml", "inventories/**/*.yml", "playbooks/*.yml"):
        for path in sorted(REPO.glob(pattern)):
            if path != OWNER:
                yield path


def _walk(node, trail=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*trail, str(key)))
    elif isinstance(node, list):
        yield trail, node
        for i, value in enumerate(node):
            yield from _walk(value, (*trail, str(i)))
    else:
        yield trail, node


def copies(name: str, data) -> list[str]:
    """Where `data` (one YAML file) gives the log list, a topic prefix or the writer user a value of
    its own instead of pointing at roles/soc."""
    found = []
    for trail, value in _walk(data):
        key = trail[-1] if trail else ""
        where = f"{name}: {'.'.join(trail)}"
        # a site's quiet logs (status view: logs its traffic need not produce) name logs, they are no log list
        quiet = key.endswith("_quiet_logs")
        if isinstance(value, list) and not quiet and len([v for v in value if isinstance(v, str) and v in LOGS]) >= 3:
            found.append(f"{where}: a list of Zeek logs {value}")
        literal = value is not None and not (isinstance(value, str) and "{{" in value)
        if literal and not isinstance(value, (list, dict)):
            if key.endswith("topic_prefix"):
                found.append(f"{where}: topic prefix {value!r}")
            if key.endswith(("_opensearch_user", "writer_user")):
                found.append(f"{where}: writer user {value!r}")
        if isinstance(value, str) and ("logstash_writer" in value or re.fullmatch(r"zeek-", value)):
            found.append(f"{where}: {value!r}")
    return found


def test_log_list_topic_prefix_and_writer_user_are_defined_once():
    assert {"soc_zeek_logs", "soc_zeek_topic_prefix", "soc_log_writer_user"} <= set(FACTS)
    found = []
    for path in _files():
        for doc in yaml.safe_load_all(path.read_text()):
            found += copies(str(path.relative_to(REPO)), doc)
    assert found == []


def test_the_checker_catches_a_copy():
    planted = {
        "tenzir_logs": ["conn", "dns", "http"],
        "kafka_topic_prefix": "zeek-",
        "logstash_opensearch_user": "logstash_writer",
        "fine": "{{ soc_zeek_topic_prefix }}",
    }
    flagged = {hit.split(": ")[1] for hit in copies("planted.yml", planted)}
    assert flagged == {"tenzir_logs", "kafka_topic_prefix", "logstash_opensearch_user"}
    assert (
        copies("ok.yml", {"kafka_topic_prefix": "{{ soc_zeek_topic_prefix }}", "tenzir_logs": "{{ soc_zeek_logs }}"})
        == []
    )


# --- One change, every role follows ---------------------------------------------------------------


def _probe(tmp: Path, inventory: Path) -> dict:
    """Render on one host per role what names the topics: Zeek's local.zeek (its Kafka table), the
    Kafka role's topic task (its own loop and name expressions), Tenzir's environment file and
    every Logstash pipeline."""
    topics_task = yaml.safe_load((REPO / "roles/kafka/tasks/topics.yml").read_text())[0]
    name_expr = topics_task["socforge.core.kafka_topic"]["name"]
    loop_expr = topics_task["loop"]

    def play(hosts, role, tasks):
        return {
            "hosts": hosts,
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "roles": [{"role": f"socforge.core.{role}"}],
            "tasks": [{**t, "tags": ["render"]} for t in tasks],
        }

    template = "lookup('ansible.builtin.template', '" + str(REPO / "roles") + "/{}')"
    plays = [
        play(
            "zeek_managers[0]",
            "zeek",
            [
                {
                    "name": "local.zeek",
                    "ansible.builtin.copy": {
                        "content": "{{ "
                        + template.format("zeek/templates/opt/zeek/share/zeek/site/local.zeek.j2")
                        + " }}",
                        "dest": f"{tmp}/local.zeek",
                        "mode": "0600",
                    },
                    "vars": {"__zeek_cluster": "zeek"},
                    "delegate_to": "localhost",
                }
            ],
        ),
        play(
            "kafka_brokers[0]",
            "kafka",
            [
                {
                    "name": "the topics roles/kafka creates",
                    "ansible.builtin.set_fact": {
                        "__probe_topics": "{{ __probe_topics | default([]) + [__probe_name] }}"
                    },
                    "vars": {"__probe_name": name_expr},
                    "loop": loop_expr,
                },
                {
                    "name": "write them",
                    "ansible.builtin.copy": {
                        "content": "{{ __probe_topics | to_json }}",
                        "dest": f"{tmp}/kafka.json",
                        "mode": "0600",
                    },
                },
            ],
        ),
        play(
            "log_shippers[0]",
            "tenzir",
            [
                {
                    "name": "shipper.env",
                    "ansible.builtin.copy": {
                        "content": "{{ " + template.format("tenzir/templates/etc/tenzir/shipper/shipper.env.j2") + " }}"
                        "LOGS={{ tenzir_logs | join(',') }}\n",
                        "dest": f"{tmp}/tenzir.env",
                        "mode": "0600",
                    },
                    "vars": {"__tenzir_state_dir": "/x", "__tenzir_secure_kafka": False},
                }
            ],
        ),
        play(
            "log_shippers[0]",
            "logstash",
            [
                {
                    "name": "every pipeline",
                    "ansible.builtin.copy": {
                        "content": "{{ "
                        + template.format("logstash/templates/etc/logstash/conf.d/zeek.conf.j2")
                        + " }}",
                        "dest": f"{tmp}/logstash-{{{{ __logstash_log }}}}.conf",
                        "mode": "0600",
                    },
                    "loop": "{{ logstash_zeek_logs }}",
                    "vars": {"__logstash_log": "{{ item }}"},
                }
            ],
        ),
    ]
    playbook = tmp / "probe.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            str(playbook),
            "--tags",
            "render",
            "--skip-tags",
            "always",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    zeek = dict(re.findall(r'^\t\t\["(\w+)"\] = "([^"]+)"', (tmp / "local.zeek").read_text(), re.M))
    env_file = dict(line.split("=", 1) for line in (tmp / "tenzir.env").read_text().splitlines() if "=" in line)
    logstash = {}
    for path in tmp.glob("logstash-*.conf"):
        (topic,) = re.findall(r'topics => \["([^"]+)"\]', path.read_text())
        logstash[path.stem.removeprefix("logstash-")] = topic
    return {
        "zeek": zeek,
        "kafka": set(yaml.safe_load((tmp / "kafka.json").read_text())),
        "tenzir": {log: env_file["TOPIC_PREFIX"] + log for log in env_file["LOGS"].split(",")},
        "logstash": logstash,
    }


def test_changing_the_topic_prefix_in_one_place_changes_every_role(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(REPO / "inventories" / "example-site", site)
    before = _probe(tmp_path / "before", site) if (tmp_path / "before").mkdir() is None else None
    expected = {log: f"zeek-{log}" for log in FACTS["soc_zeek_logs"]}
    assert before == {"zeek": expected, "kafka": set(expected.values()), "tenzir": expected, "logstash": expected}

    # one file in the site's inventory, nothing else
    (site / "group_vars" / "all" / "zz-shared.yml").write_text(
        "soc_zeek_topic_prefix: site7.zk_\nsoc_zeek_logs: [conn, dns, notice]\n"
    )
    (tmp_path / "after").mkdir()
    after = _probe(tmp_path / "after", site)
    expected = {log: f"site7.zk_{log}" for log in ("conn", "dns", "notice")}
    assert after == {"zeek": expected, "kafka": set(expected.values()), "tenzir": expected, "logstash": expected}
