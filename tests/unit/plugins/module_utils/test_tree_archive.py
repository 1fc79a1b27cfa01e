"""tree_archive: the one tar roles/zeek_intel and roles/intel_bridge unpack instead of copying the intel
library file by file. GNU tar's --diff is what ansible.builtin.unarchive decides 'changed' by."""

import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from ansible_collections.socforge.core.plugins.module_utils import tree_archive

from tests.conftest import REPO

MODULE_UTILS = REPO / "plugins" / "module_utils"


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "pkg" / "a.py").write_text("A = 1\n")
    (src / "pkg" / "b.py").write_text("B = 2\n")
    os.chmod(src / "pkg" / "b.py", 0o664)  # a group-writable checkout: the member is 0644 all the same
    os.utime(src / "pkg" / "a.py", (1_700_000_000, 1_700_000_000))
    return src


def test_members_are_the_files_under_the_prefix_root_owned_0644_with_their_mtimes(tree, tmp_path):
    dest = tmp_path / "lib.tar"
    names = tree_archive.write_tree_archive(str(tree), ["__init__.py", "pkg/a.py", "pkg/b.py"], str(dest), "x/y/")
    assert names == ["x/y/__init__.py", "x/y/pkg/a.py", "x/y/pkg/b.py"]
    with tarfile.open(dest) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == names  # files only: no directory entries
        for m in members:
            assert m.isfile() and (m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, "root", "root", 0o644)
        assert tar.getmember("x/y/pkg/a.py").mtime == 1_700_000_000
        assert tar.extractfile("x/y/pkg/b.py").read() == b"B = 2\n"


@pytest.mark.parametrize("bad", ["../outside.py", "pkg", "pkg/missing.py"])
def test_paths_outside_the_root_or_not_files_are_refused(tree, tmp_path, bad):
    (tmp_path / "outside.py").write_text("")
    with pytest.raises(ValueError, match="not a file under"):
        tree_archive.write_tree_archive(str(tree), [bad], str(tmp_path / "lib.tar"))


def test_cli_writes_the_same_archive(tree, tmp_path):
    dest = tmp_path / "lib.tar"
    cmd = [sys.executable, str(MODULE_UTILS / "tree_archive.py"), "--root", str(tree), "--prefix", "p"]
    res = subprocess.run([*cmd, "--dest", str(dest), "pkg/a.py"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["p/pkg/a.py"]
    with tarfile.open(dest) as tar:
        assert tar.getnames() == ["p/pkg/a.py"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("tar"), reason="GNU tar as root (owner checks)")
def test_tar_diff_is_clean_after_unpacking_and_names_each_drift(tree, tmp_path):
    """What unarchive sees: nothing after an unpack (idempotent), and content, mode, owner or a removed
    file afterwards (the next run puts them back)."""
    dest, host = tmp_path / "lib.tar", tmp_path / "host"
    host.mkdir()
    tree_archive.write_tree_archive(str(tree), ["__init__.py", "pkg/a.py", "pkg/b.py"], str(dest), "lib")

    def diff():
        res = subprocess.run(["tar", "--diff", "-C", str(host), "-f", str(dest)], capture_output=True, text=True)
        return res.stdout + res.stderr

    subprocess.run(["tar", "-x", "-C", str(host), "-f", str(dest)], check=True)
    assert diff() == ""
    (host / "lib" / "pkg" / "a.py").write_text("A = 9\n")
    os.utime(host / "lib" / "pkg" / "a.py", (1_700_000_000, 1_700_000_000))
    os.chmod(host / "lib" / "pkg" / "b.py", 0o666)
    os.chown(host / "lib" / "__init__.py", 65534, 65534)
    assert "lib/pkg/a.py: Contents differ" in diff()
    assert "lib/pkg/b.py: Mode differs" in diff()
    assert "lib/__init__.py: Uid differs" in diff()
    (host / "lib" / "pkg" / "a.py").unlink()
    assert "lib/pkg/a.py: Warning: Cannot stat: No such file or directory" in diff()


@pytest.mark.parametrize(
    "role, files_var",
    [("zeek_intel", "__zeek_intel_library_files"), ("intel_bridge", "__intel_bridge_library_files")],
)
def test_the_roles_library_lists_name_every_module_the_library_imports(role, files_var):
    """The archive holds only the listed files: each intel module another listed one imports is listed."""
    listed = set(yaml.safe_load((REPO / "roles" / role / "vars" / "main.yml").read_text())[files_var])
    intel = MODULE_UTILS / "intel"
    imported = set()
    for name in listed:
        text = (intel / name).read_text()
        for mod in (p.stem for p in intel.glob("*.py")):
            if f"module_utils.intel.{mod} import" in text or f"from .{mod} import" in text or f"import {mod}" in text:
                imported.add(f"{mod}.py")
    assert imported <= listed, f"{role}: imported but not installed: {sorted(imported - listed)}"


def test_the_same_files_give_the_same_archive_bytes(tree, tmp_path):
    """The role copies the archive by checksum: an unchanged library must not look changed."""
    files = ["__init__.py", "pkg/a.py", "pkg/b.py"]
    tree_archive.write_tree_archive(str(tree), files, str(tmp_path / "1.tar"), "lib")
    tree_archive.write_tree_archive(str(tree), files, str(tmp_path / "2.tar"), "lib")
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    (tree / "pkg" / "b.py").write_text("B = 3\n")
    tree_archive.write_tree_archive(str(tree), files, str(tmp_path / "3.tar"), "lib")
    assert (tmp_path / "3.tar").read_bytes() != (tmp_path / "1.tar").read_bytes()
