"""Incremental sync state, in SQLite (stdlib): per event its version, meta suffix, keys and the MISP
attribute UUIDs behind each key.

It lets an incremental sync touch only what changed: replace the keys of changed events, find the
new winning line of every affected ``indicator\\ttype`` key, and patch the sorted intel file.
A full sync builds a fresh database next to the old one and renames it into place.

Layout (schema 3, chosen for the cost of a full build: one SQLite row costs about 1 us, and a row
per key - 1.3 M rows and their index - was the biggest part of a 1.3 M-attribute export):

- ``events``: one row per event with its keys and, aligned with them, the comma-joined attribute
  UUIDs, as two newline-joined text columns;
- ``multi (k, ev)``: every holder of the keys that more than one event holds, and of the keys that
  were suppressed (noisy intel) at the last sync;
- any other key has exactly one holder, and the intel file the state belongs to carries that key's
  line, whose meta suffix names the holder (suffixes are unique per event: they hold its UUID).
  The sync checks the file's stamp before trusting it and rebuilds everything from the event rows
  when the file changed behind its back.
"""

import bisect
import mmap
import os
import sqlite3

SCHEMA_VERSION = "3"
_SCHEMA = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, ts INTEGER NOT NULL,
                     pts INTEGER NOT NULL, keep INTEGER NOT NULL, suffix TEXT NOT NULL,
                     keys TEXT NOT NULL, attrs TEXT NOT NULL);
CREATE TABLE multi (k TEXT NOT NULL, ev INTEGER NOT NULL, PRIMARY KEY (k, ev)) WITHOUT ROWID;
"""
_EVENT_CACHE = 64
_BATCH = 500
_MULTI_SQL = "SELECT k, ev FROM multi WHERE k IN ({marks})"


class State:
    def __init__(self, conn, path):
        self.conn = conn
        self.path = path
        self._events = {}  # event row id -> (keys, attrs) lists, for attribute_uuids()
        self._version = None
        self._suffix_ids = None

    @classmethod
    def open(cls, path):
        """Open existing state; ``None`` when missing, unreadable or of another schema version."""
        if not os.path.isfile(path):
            return None
        try:
            conn = sqlite3.connect(path, isolation_level=None)
            row = conn.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
        except sqlite3.DatabaseError:
            return None
        if not row or row[0] != SCHEMA_VERSION:
            conn.close()
            return None
        return cls(conn, path)

    @classmethod
    def build(cls, path, records, meta, multi=()):
        """Write a complete new state atomically (temp file + rename). ``records`` are EventRecords
        (row ids 1..n in this order); ``multi``: ``(key, row id)`` pairs (see the module doc)."""
        tmp = f"{path}.{os.getpid()}.tmp"
        if os.path.exists(tmp):
            os.unlink(tmp)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO events (id, uuid, ts, pts, keep, suffix, keys, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (i, r.uuid, r.timestamp, r.publish_timestamp, int(r.keep), r.suffix, *_blobs(r))
                    for i, r in enumerate(records, 1)
                ),
            )
            conn.executemany("INSERT INTO multi (k, ev) VALUES (?, ?)", sorted(multi))
            conn.executemany("INSERT INTO meta (k, v) VALUES (?, ?)", [("schema", SCHEMA_VERSION), *meta.items()])
            conn.execute("COMMIT")
            conn.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            conn.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return cls.open(path)

    def close(self):
        self.conn.close()

    def get(self, key, default=None):
        row = self.conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key, value):
        self.conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, str(value)))

    def known(self):
        return dict(self.conn.execute("SELECT uuid, ts FROM events"))

    def record(self, uuid):
        """The stored event as an ``EventRecord`` (to carry it into a new state), or None."""
        from ansible_collections.socforge.core.plugins.module_utils.intel.events import EventRecord

        row = self.conn.execute(
            "SELECT id, ts, pts, keep, suffix, keys, attrs FROM events WHERE uuid = ?", (uuid,)
        ).fetchone()
        if row is None:
            return None
        keys, attrs = _split(row[5], row[6])
        return EventRecord(uuid, row[1], row[2], bool(row[3]), True, row[4], keys, dict(zip(keys, attrs, strict=True)))

    def aged_out(self, cutoff):
        return [r[0] for r in self.conn.execute("SELECT uuid FROM events WHERE keep = 0 AND pts < ?", (cutoff,))]

    def begin(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self):
        self.conn.execute("COMMIT")

    def rollback(self):
        self.conn.execute("ROLLBACK")

    def drop_event(self, uuid):
        """Delete one event; return ``(row id, its keys)`` (``(None, [])`` when unknown)."""
        row = self.conn.execute("SELECT id, keys FROM events WHERE uuid = ?", (uuid,)).fetchone()
        if not row:
            return None, []
        ev = row[0]
        keys = row[1].split("\n") if row[1] else []
        self.conn.executemany("DELETE FROM multi WHERE k = ? AND ev = ?", ((k, ev) for k in keys))
        self.conn.execute("DELETE FROM events WHERE id = ?", (ev,))
        self._events.pop(ev, None)
        return ev, keys

    def add_event(self, rec):
        """Insert one event; return its row id (the caller maintains ``multi``)."""
        cur = self.conn.execute(
            "INSERT INTO events (uuid, ts, pts, keep, suffix, keys, attrs) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rec.uuid, rec.timestamp, rec.publish_timestamp, int(rec.keep), rec.suffix, *_blobs(rec)),
        )
        return cur.lastrowid

    def suffixes(self):
        """``{row id: suffix}`` of every event."""
        return dict(self.conn.execute("SELECT id, suffix FROM events"))

    def multi_holders(self, keys):
        """``{key: set of row ids}`` for the given keys that are in ``multi``."""
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i : i + _BATCH]
            sql = _MULTI_SQL.format(marks=",".join("?" * len(chunk)))  # only "?" placeholders; values bound
            for k, ev in self.conn.execute(sql, chunk):
                out.setdefault(k, set()).add(ev)
        return out

    def add_multi(self, pairs):
        self.conn.executemany("INSERT OR IGNORE INTO multi (k, ev) VALUES (?, ?)", pairs)

    def replace_multi(self, pairs):
        self.conn.execute("DELETE FROM multi")
        self.conn.executemany("INSERT INTO multi (k, ev) VALUES (?, ?)", sorted(pairs))

    def all_holders(self):
        """``({key: winning suffix}, {key: set of row ids} for keys with several holders)`` from the
        event rows alone (the rebuild when the intel file cannot be trusted)."""
        best = {}
        multi = {}
        rows = sorted(self.conn.execute("SELECT id, suffix, keys FROM events"), key=lambda r: r[1], reverse=True)
        owner = {}
        for ev, suffix, keys in rows:
            keys = keys.split("\n") if keys else []
            for k in best.keys() & keys:
                multi.setdefault(k, {owner[best[k]]}).add(ev)
            best.update(dict.fromkeys(keys, suffix))
            owner[suffix] = ev
        return best, multi

    def attribute_uuids(self, indicator, indicator_type):
        """UUIDs of every MISP attribute (of every event in the state) that yields this indicator."""
        return self.attribute_uuids_many([f"{indicator}\t{indicator_type}"]).get(f"{indicator}\t{indicator_type}", [])

    def attribute_uuids_many(self, keys):
        """``{key: sorted attribute UUIDs}`` for ``indicator\\ttype`` keys (absent keys left out); each
        event's row is read once per call, however many of the keys it holds. Single-holder keys are
        found through the intel file the state belongs to (meta ``dest``), memory-mapped."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:  # another connection (the sync) committed: row ids may be reused
            self._events.clear()
            self._suffix_ids = None
            self._version = version
        keys = list(keys)
        holders = self.multi_holders(keys)
        single = [k for k in keys if k not in holders]
        if single:
            if self._suffix_ids is None:
                self._suffix_ids = {v: k for k, v in self.suffixes().items()}
            for k, suffix in file_suffixes(self.get("dest", ""), single).items():
                ev = self._suffix_ids.get(suffix)
                if ev is not None:
                    holders[k] = {ev}
        by_event = {}
        for k, evs in holders.items():
            for ev in evs:
                by_event.setdefault(ev, []).append(k)
        out = {}
        for ev, wanted in by_event.items():
            cached = self._events.get(ev)
            if cached is None:
                row = self.conn.execute("SELECT keys, attrs FROM events WHERE id = ?", (ev,)).fetchone()
                if row is None:
                    continue
                if len(self._events) >= _EVENT_CACHE:
                    self._events.pop(next(iter(self._events)))
                cached = self._events[ev] = _split(*row)
            ekeys, attrs = cached
            for key in wanted:
                j = bisect.bisect_left(ekeys, key)
                if j < len(ekeys) and ekeys[j] == key and attrs[j]:
                    out.setdefault(key, set()).update(u for u in attrs[j].split(",") if u)
        return {k: sorted(v) for k, v in out.items()}


def bisect_lines(raw, prefix, lo):
    """Offset of the first line >= ``prefix`` in the sorted lines of ``raw`` from offset ``lo``."""
    hi = len(raw)
    while lo < hi:
        mid = (lo + hi) // 2
        start = raw.rfind(b"\n", lo, mid) + 1 or lo
        start = max(start, lo)
        end = raw.find(b"\n", start)
        if end < 0:
            end = len(raw)
        if raw[start:end] < prefix:
            lo = end + 1
        else:
            hi = start
    return lo


def line_suffix(raw, key, lo):
    """The meta suffix of ``key``'s line in the sorted intel file bytes ``raw`` (None if absent)."""
    prefix = (key + "\t").encode()
    pos = bisect_lines(raw, prefix, lo)
    if pos < len(raw) and raw[pos : pos + len(prefix)] == prefix:
        end = raw.find(b"\n", pos)
        return raw[pos + len(prefix) : end if end >= 0 else len(raw)].decode("utf-8", "replace")
    return None


def file_suffixes(path, keys):
    """``{key: suffix}`` of the keys whose line the intel file at ``path`` holds."""
    from ansible_collections.socforge.core.plugins.module_utils.intel.writer import INTEL_HEADER_B

    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return {}
    try:
        if os.fstat(fh.fileno()).st_size <= len(INTEL_HEADER_B):
            return {}
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            if raw[: len(INTEL_HEADER_B)] != INTEL_HEADER_B:
                return {}
            out = {}
            for k in keys:
                suffix = line_suffix(raw, k, len(INTEL_HEADER_B))
                if suffix is not None:
                    out[k] = suffix
            return out
    finally:
        fh.close()


def _blobs(rec):
    """The event's sorted keys and their attribute UUIDs as two aligned newline-joined texts
    (keys never hold a newline: the normaliser rejects control characters)."""
    if rec.attr_blob is not None:
        return "\n".join(rec.keys), rec.attr_blob
    attrs = rec.attrs or {}
    return "\n".join(rec.keys), "\n".join([attrs.get(k, "") for k in rec.keys])


def _split(keys, attrs):
    if not keys:
        return [], []
    keys = keys.split("\n")
    attrs = attrs.split("\n") if attrs else [""] * len(keys)
    return keys, attrs
