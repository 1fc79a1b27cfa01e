"""Incremental sync state, in SQLite (stdlib): per event its version, meta suffix, keys and the MISP
attribute UUIDs behind each key.

It lets an incremental sync touch only what changed: replace the keys of changed events, find the
new winning line of every affected ``indicator\\ttype`` key, and patch the sorted intel file.
A full sync builds a fresh database next to the old one and renames it into place.

Layout (schema 2, chosen for the cost of a full build: one SQLite row costs about 1 us, a row per
key was the biggest part of a 1.3 M-attribute export): each event row carries its keys and, aligned
with them, the comma-joined attribute UUIDs as two newline-joined text columns; the only per-key rows
are ``cand (ev, k)`` with one index on ``k``, which finds the events holding a key.
"""

import bisect
import os
import sqlite3

SCHEMA_VERSION = "2"
_SCHEMA = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, ts INTEGER NOT NULL,
                     pts INTEGER NOT NULL, keep INTEGER NOT NULL, suffix TEXT NOT NULL,
                     keys TEXT NOT NULL, attrs TEXT NOT NULL);
CREATE TABLE cand (ev INTEGER NOT NULL, k TEXT NOT NULL);
"""
_INDEXES = """
CREATE INDEX cand_k ON cand (k);
"""
_EVENT_CACHE = 64
_BATCH = 500
_WINNERS_SQL = "SELECT c.k, MIN(e.suffix) FROM cand c JOIN events e ON e.id = c.ev WHERE c.k IN ({marks}) GROUP BY c.k"
_HOLDERS_SQL = "SELECT k, ev FROM cand WHERE k IN ({marks})"
_ALL_WINNERS_SQL = "SELECT c.k, MIN(e.suffix) FROM cand c JOIN events e ON e.id = c.ev GROUP BY c.k"


class State:
    def __init__(self, conn, path):
        self.conn = conn
        self.path = path
        self._events = {}  # event row id -> (keys, attrs) lists, for attribute_uuids()
        self._version = None

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
    def build(cls, path, records, meta):
        """Write a complete new state atomically (temp file + rename). ``records`` are EventRecords."""
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
            conn.executemany(
                "INSERT INTO cand (ev, k) VALUES (?, ?)",
                ((i, k) for i, r in enumerate(records, 1) for k in r.keys),
            )
            conn.executemany("INSERT INTO meta (k, v) VALUES (?, ?)", [("schema", SCHEMA_VERSION), *meta.items()])
            conn.execute("COMMIT")
            conn.executescript(_INDEXES)
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
        """Delete one event; return its keys."""
        row = self.conn.execute("SELECT id, keys FROM events WHERE uuid = ?", (uuid,)).fetchone()
        if not row:
            return []
        ev = row[0]
        keys = row[1].split("\n") if row[1] else []
        self.conn.executemany("DELETE FROM cand WHERE k = ? AND ev = ?", ((k, ev) for k in keys))
        self.conn.execute("DELETE FROM events WHERE id = ?", (ev,))
        self._events.pop(ev, None)
        return keys

    def add_event(self, rec):
        cur = self.conn.execute(
            "INSERT INTO events (uuid, ts, pts, keep, suffix, keys, attrs) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rec.uuid, rec.timestamp, rec.publish_timestamp, int(rec.keep), rec.suffix, *_blobs(rec)),
        )
        ev = cur.lastrowid
        self.conn.executemany("INSERT INTO cand (ev, k) VALUES (?, ?)", ((ev, k) for k in rec.keys))

    def winners(self, keys):
        """``{key: winning suffix}`` for the given keys (the smallest suffix wins: deterministic)."""
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i : i + _BATCH]
            marks = ",".join("?" * len(chunk))
            sql = _WINNERS_SQL.format(marks=marks)  # only "?" placeholders are formatted in; values are bound
            out.update(self.conn.execute(sql, chunk))
        return out

    def all_winners(self):
        return dict(self.conn.execute(_ALL_WINNERS_SQL))

    def attribute_uuids(self, indicator, indicator_type):
        """UUIDs of every MISP attribute (of every event in the state) that yields this indicator."""
        return self.attribute_uuids_many([f"{indicator}\t{indicator_type}"]).get(f"{indicator}\t{indicator_type}", [])

    def attribute_uuids_many(self, keys):
        """``{key: sorted attribute UUIDs}`` for ``indicator\\ttype`` keys (absent keys left out); each
        event's row is read once per call, however many of the keys it holds."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:  # another connection (the sync) committed: row ids may be reused
            self._events.clear()
            self._version = version
        keys = list(keys)
        by_event = {}
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i : i + _BATCH]
            sql = _HOLDERS_SQL.format(marks=",".join("?" * len(chunk)))  # only "?" placeholders; values bound
            for k, ev in self.conn.execute(sql, chunk):
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


def _blobs(rec):
    """The event's sorted keys and their attribute UUIDs as two aligned newline-joined texts
    (keys never hold a newline: the normaliser rejects control characters)."""
    attrs = rec.attrs or {}
    return "\n".join(rec.keys), "\n".join([attrs.get(k, "") for k in rec.keys])


def _split(keys, attrs):
    if not keys:
        return [], []
    keys = keys.split("\n")
    attrs = attrs.split("\n") if attrs else [""] * len(keys)
    return keys, attrs
