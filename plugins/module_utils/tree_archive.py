"""Pack files of a source tree into one uncompressed tar, for roles that install many files as one.

Roles that install a Python library from this collection on a host (roles/zeek_intel and
roles/intel_bridge: plugins/module_utils/intel) used to copy it file by file: one copy task item per
file, two module calls each, every run. One tar built on the controller, copied to the host and
unpacked there with ``ansible.builtin.unarchive`` does the same with four: the copy (a checksum) reports
a changed library, in check mode too; ``unarchive`` compares every member with the host's file
(``tar --diff``: content, size, mode, owner, mtime), so a run changes nothing when the files match
(idempotence) and puts back a file that was edited or removed on the host. The same files give the
same tar bytes.

Members are the given files only (no directory entries: the role makes the directories with their own
modes), under ``prefix``, owned by root (uid/gid 0) with mode 0644, in the order given, with each
source file's mtime (an edited file has a new mtime, so Python's bytecode cache never serves an old
module for it).

CLI (what the roles run on the controller)::

    python tree_archive.py --root DIR --prefix PREFIX --dest OUT.tar FILE [FILE ...]
"""

from __future__ import annotations

import argparse
import os
import tarfile

FILE_MODE = 0o644


def write_tree_archive(root: str, files: list[str], dest: str, prefix: str = "") -> list[str]:
    """Write ``files`` (paths relative to ``root``) into the tar ``dest`` as ``prefix/<file>``.

    Returns the member names. Raises ValueError for a path that leaves ``root`` or is not a file.
    """
    root = os.path.abspath(root)
    names = []
    with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as tar:
        for rel in files:
            path = os.path.abspath(os.path.join(root, rel))
            if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
                raise ValueError(f"{rel}: not a file under {root}")
            name = "/".join(p for p in (prefix.strip("/"), os.path.relpath(path, root)) if p)
            info = tar.gettarinfo(path, arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = FILE_MODE
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="directory the file paths are relative to")
    parser.add_argument("--prefix", default="", help="directory path the members go under")
    parser.add_argument("--dest", required=True, help="the tar to write")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    for name in write_tree_archive(args.root, args.files, args.dest, args.prefix):
        print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
