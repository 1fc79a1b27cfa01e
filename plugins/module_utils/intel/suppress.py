"""Noisy intel kept out of Zeek until a MISP user decides: the persisted suppression list.

``<intel file>.suppressed`` (JSON, written atomically, mode 0640) maps ``indicator\\ttype`` keys to
why they are out (``rate``, ``since``, ``state``). The sync consults it (a suppressed key never reaches
the intel file, a lifted one comes back on the next sync) and so does the bridge's live path
(:meth:`Suppressions.contains` before an ``Intel::insert``).
"""

import json
import os

from ansible_collections.socforge.core.plugins.module_utils.intel.writer import atomic_write

VERSION = 1


class SuppressionError(Exception):
    pass


def default_path(intel_path):
    return intel_path + ".suppressed"


class Suppressions:
    def __init__(self, path):
        self.path = path
        self._stamp = None
        self._keys = {}

    def _load(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._keys = None, {}
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            keys = data["keys"]
            if data.get("version") != VERSION or not isinstance(keys, dict):
                raise ValueError("not a version 1 suppression list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SuppressionError(f"suppression list {self.path} is unreadable: {exc}") from None
        self._stamp, self._keys = stamp, keys

    def entries(self):
        self._load()
        return dict(self._keys)

    def keys(self):
        self._load()
        return set(self._keys)

    def contains(self, indicator, indicator_type):
        self._load()
        return f"{indicator}\t{indicator_type}" in self._keys

    def _save(self):
        body = json.dumps({"version": VERSION, "keys": self._keys}, sort_keys=True, indent=1) + "\n"
        atomic_write(self.path, [body], mode=0o640, only_if_changed=False)
        self._stamp = None

    def add(self, key, **info):
        self._load()
        self._keys[key] = {**self._keys.get(key, {}), **info}
        self._save()

    def update(self, key, **info):
        self._load()
        if key in self._keys:
            self._keys[key] = {**self._keys[key], **info}
            self._save()

    def lift(self, key):
        self._load()
        if self._keys.pop(key, None) is not None:
            self._save()
            return True
        return False


def suppressed_keys(path):
    """The suppressed keys of the list at ``path`` (empty when there is none)."""
    return Suppressions(path).keys() if path else set()
