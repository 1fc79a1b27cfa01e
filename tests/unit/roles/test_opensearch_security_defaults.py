"""roles/opensearch security defaults, rendered by Ansible itself from the role's defaults:

- bcrypt salts are random per site and kept: two sites with the same cluster name, user and password
  get different hashes; a second run on one site renders the same file (idempotent); two users with
  the same password get different hashes; the site secret is stored once, 0600, on the controller;
- an archive install needs a checksum (the role refuses, naming the variable, without one).
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import bcrypt
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "opensearch"
PASSWORD = "same-password-on-every-site"


def run_playbook(tmp_path, plays, *extra, inventory=None):
    """ansible-playbook on `plays` (written to tmp_path): on localhost, or on an inventory's hosts."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    target = ["-i", "localhost,", "-c", "local"] if inventory is None else ["-i", str(inventory)]
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *target,
            str(playbook),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_bcrypt_salts_are_random_per_site_and_kept(tmp_path):
    users = {name: {"password": PASSWORD, "roles": ["all_access"]} for name in ("admin", "analyst")}
    renders = [{"site": "a", "run": 1}, {"site": "a", "run": 2}, {"site": "b", "run": 1}]
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": _role_vars_files(),
            "tasks": [
                {
                    "name": "Render internal_users.yml as the role does",
                    "ansible.builtin.template": {
                        "src": str(ROLE / "templates/etc/opensearch/opensearch-security/internal_users.yml.j2"),
                        "dest": str(tmp_path) + "/{{ item.site }}-{{ item.run }}.yml",
                        "mode": "0600",
                    },
                    # task vars: above the role defaults loaded as vars_files
                    "vars": {
                        "opensearch_pki_dir": str(tmp_path) + "/{{ item.site }}/pki",
                        "opensearch_internal_users": users,
                        "opensearch_cluster_name": "socforge",
                    },
                    "loop": renders,
                }
            ],
        }
    ]
    done = run_playbook(tmp_path, plays)
    assert done.returncode == 0, done.stdout + done.stderr
    hashes = {
        f"{r['site']}-{r['run']}": {
            name: entry["hash"]
            for name, entry in yaml.safe_load((tmp_path / f"{r['site']}-{r['run']}.yml").read_text()).items()
            if name != "_meta"
        }
        for r in renders
    }
    for rendered in hashes.values():
        for digest in rendered.values():
            assert bcrypt.checkpw(PASSWORD.encode(), digest.replace("$2y$", "$2b$", 1).encode())
    assert hashes["a-1"] == hashes["a-2"], "a re-run must render the same hashes (kept salt)"
    assert hashes["a-1"]["admin"] != hashes["b-1"]["admin"], "same cluster name, user, password: different sites"
    assert hashes["a-1"]["admin"] != hashes["a-1"]["analyst"], "two users with one password"
    for site in ("a", "b"):
        secret = tmp_path / site / "pki" / "internal-users.salt"
        assert stat.S_IMODE(secret.stat().st_mode) & 0o077 == 0, f"{secret} must be private"
        assert len(secret.read_text().strip()) == 32
    assert (tmp_path / "a/pki/internal-users.salt").read_text() != (tmp_path / "b/pki/internal-users.salt").read_text()


def _validate(tmp_path, **overrides):
    variables = {
        "ansible_memtotal_mb": 8192,
        "opensearch_heap_mb": 1024,
        "opensearch_install_method": "archive",
        "opensearch_archive_url": "https://mirror.example.org/opensearch-2.19.4-linux-x64.tar.gz",
        **overrides,
    }
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": variables,
            "tasks": [
                {
                    "name": "The role's input checks",
                    "ansible.builtin.include_role": {"name": "socforge.core.opensearch", "tasks_from": "validate.yml"},
                }
            ],
        }
    ]
    return run_playbook(tmp_path, plays)


def test_archive_install_requires_a_checksum(tmp_path):
    refused = _validate(tmp_path)
    assert refused.returncode != 0
    assert "opensearch_archive_checksum" in refused.stdout and '"sha512:<hex>"' in refused.stdout
    digest = "sha512:" + "ab" * 64
    accepted = _validate(tmp_path, opensearch_archive_checksum=digest)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    local = _validate(tmp_path, opensearch_install_method="local_artifact", opensearch_local_artifact="/srv/os.tgz")
    assert local.returncode == 0, local.stdout + local.stderr


def test_example_site_gives_a_checksum_with_any_archive_url():
    """The inventories must not ship an archive install the role now refuses."""
    for path in (REPO / "inventories").rglob("*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        if isinstance(data, dict) and data.get("opensearch_archive_url"):
            assert data.get("opensearch_archive_checksum"), f"{path}: archive URL without checksum"


def test_ca_key_lives_beside_the_site_inventory_never_in_the_collection(tmp_path):
    """The PKI directory resolves beside the site's inventory (the role default, and the value
    pipeline.yml reads through hostvars), and no task of the role copies the CA key to a node."""
    out = tmp_path / "resolved.json"
    plays = [
        {
            "hosts": "opensearch_nodes[0]",
            "gather_facts": False,
            "connection": "local",
            "tasks": [
                {
                    "name": "The shared facts the role's defaults point at (roles/soc, its dependency)",
                    "ansible.builtin.include_vars": {"file": str(REPO / "roles" / "soc" / "defaults" / "main.yml")},
                },
                {
                    "name": "The role defaults",
                    "ansible.builtin.include_vars": {"file": str(ROLE / "defaults" / "main.yml"), "name": "role"},
                },
                {
                    "name": "Resolve the PKI directory",
                    "ansible.builtin.copy": {
                        "content": "{{ {'role': role.opensearch_pki_dir, 'inventory': "
                        "hostvars[inventory_hostname].soc_pki_dir} | to_json }}",
                        "dest": str(out),
                        "mode": "0600",
                    },
                },
            ],
        }
    ]
    done = run_playbook(tmp_path, plays, inventory=str(REPO / "inventories" / "example-site"))
    assert done.returncode == 0, done.stdout + done.stderr
    resolved = json.loads(out.read_text())
    site = REPO / "inventories" / "example-site" / ".pki" / "opensearch"
    assert Path(resolved["role"]) == site and Path(resolved["inventory"]) == site
    for task_file in (ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(task_file.read_text()) or []:
            copy = task.get("ansible.builtin.copy") or {}
            sources = json.dumps([copy.get("src"), task.get("loop")])
            assert not copy or "ca.key" not in sources, f"{task_file.name}: {task['name']} copies the CA key"


def _role_vars_files():
    return [
        str(REPO / "roles" / "soc" / "defaults" / "main.yml"),
        str(ROLE / "defaults" / "main.yml"),
        str(ROLE / "vars" / "main.yml"),
    ]


def test_the_shippers_writer_is_made_from_the_shared_facts(tmp_path):
    """soc_log_writer_user with soc_log_writer_password becomes an internal user mapped to
    socforge_log_writer (the password the shippers default to); no password, no writer; an entry of the
    writer's name in opensearch_internal_users replaces the made one."""
    security = ROLE / "templates/etc/opensearch/opensearch-security"
    cases = {
        "shared": {"soc_log_writer_user": "shipper", "soc_log_writer_password": "writer-Pw-from-vault"},
        "none": {},
        "own": {
            "soc_log_writer_password": "writer-Pw-from-vault",
            "opensearch_internal_users": {"logstash": {"password": "own-entry-Pw-12", "roles": ["all_access"]}},
        },
    }
    tasks = []
    for case, case_vars in cases.items():
        for name in ("internal_users", "roles_mapping"):
            tasks.append(
                {
                    "name": f"{case}: {name}",
                    "ansible.builtin.template": {
                        "src": str(security / f"{name}.yml.j2"),
                        "dest": str(tmp_path / f"{case}-{name}.yml"),
                        "mode": "0600",
                    },
                    "vars": {"opensearch_pki_dir": str(tmp_path / "pki"), **case_vars},
                }
            )
    shippers = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [str(REPO / "roles" / r / "defaults" / "main.yml") for r in ("soc", "tenzir", "logstash")],
        "tasks": [
            {
                "name": "the shippers' password defaults",
                "ansible.builtin.copy": {
                    "content": "{{ [tenzir_opensearch_password, logstash_opensearch_password] | to_json }}",
                    "dest": str(tmp_path / "shippers.json"),
                    "mode": "0600",
                },
                "vars": {"soc_log_writer_password": "writer-Pw-from-vault"},
            }
        ],
    }
    plays = [{"hosts": "localhost", "gather_facts": False, "vars_files": _role_vars_files(), "tasks": tasks}, shippers]
    done = run_playbook(tmp_path, plays)
    assert done.returncode == 0, done.stdout + done.stderr

    def load(case, name):
        data = yaml.safe_load((tmp_path / f"{case}-{name}.yml").read_text())
        return {k: v for k, v in data.items() if k != "_meta"}

    users = load("shared", "internal_users")
    assert list(users) == ["shipper"]
    assert bcrypt.checkpw(b"writer-Pw-from-vault", users["shipper"]["hash"].replace("$2y$", "$2b$", 1).encode())
    assert load("shared", "roles_mapping") == {"socforge_log_writer": {"reserved": False, "users": ["shipper"]}}
    assert load("none", "internal_users") == {} and load("none", "roles_mapping") == {}
    own = load("own", "internal_users")
    assert list(own) == ["logstash"]
    assert bcrypt.checkpw(b"own-entry-Pw-12", own["logstash"]["hash"].replace("$2y$", "$2b$", 1).encode())
    assert load("own", "roles_mapping") == {"all_access": {"reserved": False, "users": ["logstash"]}}
    # the shippers log in with the same shared password (their role defaults, resolved)
    assert json.loads((tmp_path / "shippers.json").read_text()) == ["writer-Pw-from-vault"] * 2


def test_admin_key_only_on_the_node_that_runs_securityadmin(tmp_path):
    """The certificate task's loop, as each node of a three-node cluster resolves it: the admin
    certificate and key go to the cluster's first host only, which is where securityadmin is
    delegated; the other nodes get a task that removes them."""
    tasks = yaml.safe_load((ROLE / "tasks" / "configure.yml").read_text())
    install = next(t for t in tasks if t["name"].startswith("Install the CA and node certificates"))
    remove = next(t for t in tasks if t["name"].startswith("No admin key"))
    apply = yaml.safe_load((ROLE / "tasks" / "security_apply.yml").read_text())
    securityadmin = next(t for t in apply if "securityadmin" in t["name"])
    assert securityadmin["delegate_to"] == "{{ __opensearch_admin_host }}" and securityadmin["run_once"]
    assert "-key" in securityadmin["ansible.builtin.command"]["argv"]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump({"all": {"children": {"opensearch_nodes": {"hosts": {f"os{i}": {} for i in (1, 2, 3)}}}}})
    )
    out = tmp_path / "out"
    out.mkdir()
    plays = [
        {
            "hosts": "opensearch_nodes",
            "gather_facts": False,
            "connection": "local",
            "vars_files": _role_vars_files(),
            "tasks": [
                {
                    "name": "resolve",
                    "ansible.builtin.copy": {
                        "content": "{{ {'copied': ("
                        + install["loop"].strip()[2:-2]
                        + ") | map(attribute='dest') | list,"
                        " 'admin_host': __opensearch_admin_host, 'removes': (" + remove["when"] + ")} | to_json }}",
                        "dest": str(out) + "/{{ inventory_hostname }}.json",
                        "mode": "0600",
                    },
                }
            ],
        }
    ]
    done = run_playbook(tmp_path, plays, inventory=str(inventory))
    assert done.returncode == 0, done.stdout + done.stderr
    seen = {h: json.loads((out / f"{h}.json").read_text()) for h in ("os1", "os2", "os3")}
    assert {h: v["admin_host"] for h, v in seen.items()} == {"os1": "os1", "os2": "os1", "os3": "os1"}
    assert seen["os1"]["copied"] == ["ca.crt", "node.crt", "node.key", "admin.crt", "admin.key"]
    assert seen["os1"]["removes"] is False
    for host in ("os2", "os3"):
        assert seen[host]["copied"] == ["ca.crt", "node.crt", "node.key"]
        assert seen[host]["removes"] is True
