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


def run_playbook(tmp_path, plays, *extra):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
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
            "vars_files": [
                str(REPO / "roles" / "soc" / "defaults" / "main.yml"),
                str(ROLE / "defaults" / "main.yml"),
            ],
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
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(REPO / "inventories" / "example-site"),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    resolved = json.loads(out.read_text())
    site = REPO / "inventories" / "example-site" / ".pki" / "opensearch"
    assert Path(resolved["role"]) == site and Path(resolved["inventory"]) == site
    for task_file in (ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(task_file.read_text()) or []:
            copy = task.get("ansible.builtin.copy") or {}
            sources = json.dumps([copy.get("src"), task.get("loop")])
            assert not copy or "ca.key" not in sources, f"{task_file.name}: {task['name']} copies the CA key"
