"""The intel bridge's live store (SQLite, stdlib): what Zeek must hold, per MISP attribute.

One row per (attribute UUID, intel key) with the event it belongs to and the meta of the Zeek item.
A Zeek intel item is identified by ``(indicator, type, meta.source)``: it is present while at least
one row carries that ``(key, source)`` (two attributes of one event may map to the same key).
Every change is committed here first, with a sequence number in ``journal``; the daemon pushes it
to Zeek afterwards and records what Zeek acknowledged (``acked_seq``), so a restart re-asserts
exactly the changes Zeek may have missed (idempotent: the item's *current* state is re-sent).

The work of one change is O(rows of that attribute/event) plus indexed look-ups: independent of the
total intel size.
"""

import os
import sqlite3

SCHEMA_VERSION = "bridge-1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (uuid TEXT PRIMARY KEY, id TEXT, published INTEGER NOT NULL DEFAULT 0,
                                   selected INTEGER NOT NULL DEFAULT 1, ts INTEGER NOT NULL DEFAULT 0,
                                   pts INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (attr TEXT NOT NULL, k TEXT NOT NULL, ev TEXT NOT NULL, src TEXT NOT NULL,
                                  rest TEXT NOT NULL, PRIMARY KEY (attr, k)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_ksrc ON items (k, src);
CREATE INDEX IF NOT EXISTS items_ev ON items (ev);
CREATE INDEX IF NOT EXISTS events_id ON events (id);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, k TEXT NOT NULL, src TEXT NOT NULL);
"""


class StoreError(Exception):
    pass


def split_line(line):
    """Intel line -> (key "indicator\\ttype", source, rest "desc\\turl\\tdo_notice\\tif_in")."""
    ind, typ, src, rest = line.split("\t", 3)
    return f"{ind}\t{typ}", src, rest


class BridgeStore:
    def __init__(self, path):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise StoreError(f"the directory of the bridge store {path!r} does not exist")
        new = not os.path.exists(path)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            if new:
                os.chmod(path, 0o600)
            self.conn.executescript(_SCHEMA)
            version = self.get("schema")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the bridge store {path!r} is unreadable: {exc}") from None
        if version is None:
            self.set("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"the bridge store {path!r} has schema {version!r}, expected {SCHEMA_VERSION!r}")

    def close(self):
        self.conn.close()

    # -- meta -------------------------------------------------------------------------------
    def get(self, key, default=None):
        row = self.conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key, value):
        self.conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, str(value)))

    def get_int(self, key, default=0):
        try:
            return int(self.get(key, default))
        except (TypeError, ValueError):
            return default

    # -- transactions -----------------------------------------------------------------------
    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        self._touched = set()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._journal()
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
            self._touched = set()
        return False

    def _journal(self):
        seq = self.get_int("seq")
        rows = []
        for k, src in sorted(self._touched):
            seq += 1
            rows.append((seq, k, src))
        self.conn.executemany("INSERT INTO journal (seq, k, src) VALUES (?, ?, ?)", rows)
        self.set("seq", seq)
        self.last_batch = rows

    # -- events -----------------------------------------------------------------------------
    def event(self, uuid):
        row = self.conn.execute(
            "SELECT uuid, id, published, selected, ts, pts FROM events WHERE uuid = ?", (uuid,)
        ).fetchone()
        return dict(zip(("uuid", "id", "published", "selected", "ts", "pts"), row, strict=True)) if row else None

    def event_uuid_by_id(self, event_id):
        row = self.conn.execute("SELECT uuid FROM events WHERE id = ?", (str(event_id),)).fetchone()
        return row[0] if row else None

    def note_event(self, uuid, event_id=None, published=None, selected=None, ts=None, pts=None):
        cur = self.event(uuid) or {"id": None, "published": 0, "selected": 1, "ts": 0, "pts": 0}
        self.conn.execute(
            "INSERT OR REPLACE INTO events (uuid, id, published, selected, ts, pts) VALUES (?, ?, ?, ?, ?, ?)",
            (
                uuid,
                str(event_id) if event_id is not None else cur["id"],
                int(published) if published is not None else cur["published"],
                int(selected) if selected is not None else cur["selected"],
                int(ts) if ts is not None else cur["ts"],
                int(pts) if pts is not None else cur["pts"],
            ),
        )

    def known_events(self):
        """``{event uuid: ts}`` of the events the store holds (for an incremental API resync)."""
        return dict(self.conn.execute("SELECT uuid, ts FROM events"))

    def forget_event(self, uuid):
        self.drop_event(uuid)
        self.conn.execute("DELETE FROM events WHERE uuid = ?", (uuid,))

    # -- rows -------------------------------------------------------------------------------
    def _touch_rows(self, rows):
        for k, src in rows:
            self._touched.add((k, src))

    def event_rows(self, ev):
        """``{(attr, key): (src, rest)}`` of one event."""
        return {
            (a, k): (s, r)
            for a, k, s, r in self.conn.execute("SELECT attr, k, src, rest FROM items WHERE ev = ?", (ev,))
        }

    def set_event_rows(self, ev, rows, removals_only=False):
        """Make the event's rows exactly ``rows`` (``{(attr, key): (src, rest)}``); with
        ``removals_only`` rows are only taken away (withdrawals apply at once, additions wait)."""
        old = self.event_rows(ev)
        for (attr, k), (src, rest) in old.items():
            new = rows.get((attr, k))
            if new is None:
                self.conn.execute("DELETE FROM items WHERE attr = ? AND k = ?", (attr, k))
                self._touched.add((k, src))
            elif new != (src, rest) and not removals_only:
                self.conn.execute(
                    "UPDATE items SET src = ?, rest = ?, ev = ? WHERE attr = ? AND k = ?", (new[0], new[1], ev, attr, k)
                )
                self._touched.update({(k, src), (k, new[0])})
        if removals_only:
            return
        add = [(attr, k, ev, src, rest) for (attr, k), (src, rest) in rows.items() if (attr, k) not in old]
        self.conn.executemany("INSERT OR REPLACE INTO items (attr, k, ev, src, rest) VALUES (?, ?, ?, ?, ?)", add)
        self._touch_rows((k, src) for _, k, _, src, _ in add)

    def set_attribute_rows(self, ev, attr, rows, removals_only=False):
        """Make one attribute's rows exactly ``rows`` (``{key: (src, rest)}``)."""
        old = {k: (s, r) for k, s, r in self.conn.execute("SELECT k, src, rest FROM items WHERE attr = ?", (attr,))}
        for k, (src, _) in old.items():
            if k not in rows:
                self.conn.execute("DELETE FROM items WHERE attr = ? AND k = ?", (attr, k))
                self._touched.add((k, src))
        if removals_only:
            return
        for k, (src, rest) in rows.items():
            if old.get(k) != (src, rest):
                self.conn.execute(
                    "INSERT OR REPLACE INTO items (attr, k, ev, src, rest) VALUES (?, ?, ?, ?, ?)",
                    (attr, k, ev, src, rest),
                )
                self._touched.add((k, src))
                if k in old:
                    self._touched.add((k, old[k][0]))

    def drop_attribute(self, attr):
        rows = list(self.conn.execute("SELECT k, src FROM items WHERE attr = ?", (attr,)))
        self.conn.execute("DELETE FROM items WHERE attr = ?", (attr,))
        self._touch_rows(rows)
        return len(rows)

    def drop_event(self, ev):
        rows = list(self.conn.execute("SELECT k, src FROM items WHERE ev = ?", (ev,)))
        self.conn.execute("DELETE FROM items WHERE ev = ?", (ev,))
        self._touch_rows(rows)
        return len(rows)

    def touch(self, k, src):
        """Re-assert one item (e.g. after a suppression is lifted)."""
        self._touched.add((k, src))

    # -- what Zeek must hold ------------------------------------------------------------------
    def line(self, k, src):
        """The intel line of item ``(k, src)`` (deterministic: the smallest meta), or ``None`` if absent."""
        row = self.conn.execute("SELECT MIN(rest) FROM items WHERE k = ? AND src = ?", (k, src)).fetchone()
        return f"{k}\t{src}\t{row[0]}" if row and row[0] is not None else None

    def lines(self):
        """Every live intel line, sorted (the intel file's body)."""
        return [
            f"{k}\t{s}\t{r}"
            for k, s, r in self.conn.execute("SELECT k, src, MIN(rest) FROM items GROUP BY k, src ORDER BY k, src")
        ]

    def items_of_key(self, k):
        return [(k, src) for (src,) in self.conn.execute("SELECT DISTINCT src FROM items WHERE k = ?", (k,))]

    def count(self):
        return self.conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM items GROUP BY k, src)").fetchone()[0]

    def attribute_uuids(self, indicator, itype, source=None):
        k = f"{indicator}\t{itype}"
        if source is None:
            rows = self.conn.execute("SELECT DISTINCT attr FROM items WHERE k = ? ORDER BY attr", (k,))
        else:
            rows = self.conn.execute(
                "SELECT DISTINCT attr FROM items WHERE k = ? AND src = ? ORDER BY attr", (k, source)
            )
        return [r[0] for r in rows]

    # -- journal ------------------------------------------------------------------------------
    def journal_since(self, seq):
        """Items changed after ``seq`` (deduplicated, in order of their last change)."""
        last = {}
        for s, k, src in self.conn.execute("SELECT seq, k, src FROM journal WHERE seq > ? ORDER BY seq", (seq,)):
            last[(k, src)] = s
        return sorted(last, key=last.get)

    def trim_journal(self, upto):
        self.conn.execute("DELETE FROM journal WHERE seq <= ?", (upto,))

    def bulk_load(self, rows, events):
        """Fill an empty store fast (benchmarks, first snapshot): ``rows`` of (attr, key, ev, src, rest)."""
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT OR REPLACE INTO items (attr, k, ev, src, rest) VALUES (?, ?, ?, ?, ?)", rows)
        self.conn.executemany(
            "INSERT OR REPLACE INTO events (uuid, id, published, selected) VALUES (?, ?, 1, 1)", events
        )
        self.conn.execute("COMMIT")
