"""The repository also works as an installed collection: build it, install it, run its plan playbook."""

import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_built_collection_installs_and_plans(tmp_path):
    build = subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = next(tmp_path.glob("socforge-core-*.tar.gz"))
    names = tarfile.open(tarball).getnames()
    assert "playbooks/plan.yml" in names and "plugins/module_utils/site_model.py" in names
    assert not any(n.startswith((".venv", ".collections", ".cache", "plan-out")) for n in names)

    # Outside the checkout (no ansible.cfg, no .collections link): only the installed copy resolves.
    install_dir = tmp_path / "collections"
    env = {
        "PATH": str(REPO / ".venv" / "bin") + ":/usr/bin:/bin",
        "ANSIBLE_COLLECTIONS_PATH": str(install_dir),
        "HOME": str(tmp_path),
    }
    inst = subprocess.run(
        ["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", str(install_dir), str(tarball)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inst.returncode == 0, inst.stdout + inst.stderr
    assert (install_dir / "ansible_collections" / "socforge" / "core" / "MANIFEST.json").exists()
    plan_dir = tmp_path / "plan"
    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(REPO / "inventories" / "example-site"),
            "socforge.core.plan",
            "-e",
            f"soc_plan_dir={plan_dir}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (plan_dir / "report.md").read_text().count("Validation: **passed**") == 1
    assert (plan_dir / "topology.svg").exists()
