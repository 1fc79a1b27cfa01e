"""Zeek -> MISP feedback for the intel bridge: sightings, noisy intel, queued delivery.

:class:`Feedback` is what the bridge daemon calls about once a second (:meth:`Feedback.poll`):

1. read the ``intel.log`` lines written since the persisted position (:mod:`.intellog`);
2. map each match (indicator + type) to the MISP attribute UUIDs it came from (the intel library's
   state, :meth:`State.attribute_uuids`);
3. count matches per indicator over ``noisy_window`` seconds of log time: past ``noisy_threshold``
   matches/s the indicator is *noisy*: added to the suppression list (the sync keeps it out of the
   intel file; :meth:`allowed` tells the live path), returned in ``removals`` for the daemon to
   ``Intel::remove``, and ONE proposal per attribute is made in MISP to clear its IDS flag (the rate
   in the comment). When every proposal is decided, accepted ones keep the indicator out, a
   discarded one brings it back (``readmit``) and exempts it from noisy detection from then on;
4. queue sightings: at most one per attribute per ``interval`` seconds (the newest match time, the
   configured ``source``); the queue is on disk and delivered with pymisp's ``add_sighting``
   (``POST /sightings/add/{attribute uuid}``); MISP down (5xx, timeout, refused) -> kept, retried
   with backoff; an attribute MISP no longer has (404) -> dropped and counted.

Everything lives in one SQLite file in ``spool_dir`` (position, pending matches, last request per
attribute, outbox, noisy indicators, proposals), updated in one transaction per poll together with
the new intel.log position, so a restart neither loses nor re-counts a line. Delivery deletes each
outbox row right after MISP accepted it; it is at least once: an answer lost after MISP stored the
sighting (timeout, mangled response, crash before the delete) repeats that one sighting.
"""

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field

from ansible_collections.socforge.core.plugins.module_utils.intel.intellog import IntelLogFollower
from ansible_collections.socforge.core.plugins.module_utils.intel.state import State
from ansible_collections.socforge.core.plugins.module_utils.intel.suppress import Suppressions

SIGHTING = "0"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (uuid TEXT PRIMARY KEY, n INTEGER NOT NULL, first REAL NOT NULL,
                                    last REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sent (uuid TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, ts INTEGER NOT NULL,
                                   origin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS noisy (k TEXT PRIMARY KEY, rate REAL NOT NULL, since REAL NOT NULL,
                                  state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS proposals (uuid TEXT NOT NULL, k TEXT NOT NULL, state TEXT NOT NULL,
                                      proposal TEXT, PRIMARY KEY (uuid, k)) WITHOUT ROWID;
"""
_LOWER_TYPES = ("Intel::DOMAIN", "Intel::EMAIL")
_CACHE_MAX = 200_000


class FeedbackError(Exception):
    pass


@dataclass
class FeedbackConfig:
    intel_log: str
    spool_dir: str
    state_path: str  # the intel library's state ("" when only a lookup callable is used)
    suppress_path: str
    source: str
    archive_dir: str = None
    interval: float = 60.0  # s: at most one sighting request per attribute per interval
    noisy_threshold: float = 100.0  # matches/s
    noisy_window: float = 10.0  # s of log time over which the rate is counted
    decision_interval: float = 300.0  # s between checks of open proposals
    deliver_batch: int = 500  # sighting requests per poll at most
    retry_min: float = 5.0
    retry_max: float = 300.0
    proposal_comment: str = (
        "SOCForge: noisy intel, {rate:.0f} matches/s seen by {source} (threshold {threshold:g}/s). "
        "Taken out of Zeek until this proposal to clear the IDS flag is accepted or discarded."
    )


@dataclass
class PollResult:
    lines: int = 0
    matched: int = 0
    unmapped: int = 0
    queued: int = 0
    delivered: int = 0
    dropped: int = 0
    outbox: int = 0
    misp_error: str = ""
    removals: list = field(default_factory=list)
    readmit: list = field(default_factory=list)
    proposals: int = 0

    @property
    def summary(self):
        text = (
            f"intel.log: {self.lines} matches ({self.unmapped} not from MISP); sightings: {self.queued} queued, "
            f"{self.delivered} delivered, {self.dropped} dropped, {self.outbox} waiting"
        )
        if self.removals:
            text += "; noisy, taken out: " + ", ".join(f"{i} ({t})" for i, t in self.removals)
        if self.readmit:
            text += "; proposal discarded, back in: " + ", ".join(f"{i} ({t})" for i, t in self.readmit)
        if self.misp_error:
            text += f"; MISP: {self.misp_error}"
        return text


def _key(indicator, itype):
    return f"{indicator}\t{itype}"


def _split_key(key):
    ind, _, typ = key.rpartition("\t")
    return ind, typ


class Feedback:
    def __init__(self, config, misp=None, clock=time.time, lookup=None):
        """``lookup(indicator, itype) -> [attribute uuid]``: where matches are mapped back to MISP when the
        intel is not (only) in the library's state (the bridge's live store); asked once per distinct
        indicator per poll. Without it, ``config.state_path`` (the library's :class:`State`) is used."""
        self.cfg = config
        self.misp = misp
        self.lookup = lookup
        self.clock = clock
        os.makedirs(config.spool_dir, mode=0o700, exist_ok=True)
        path = os.path.join(config.spool_dir, "feedback.sqlite")
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            os.chmod(path, 0o600)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise FeedbackError(f"feedback spool {path} is unusable: {exc}") from None
        self.follower = IntelLogFollower(config.intel_log, config.archive_dir)
        self.suppressions = Suppressions(config.suppress_path)
        self._state = None
        self._state_stamp = None
        self._uuids = {}
        self._windows = {}  # key -> [window start (log time), count]
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self._next_decision = 0.0
        self._exempt = {k for (k,) in self.db.execute("SELECT k FROM noisy WHERE state = 'kept'")}

    # -- intel state lookups ----------------------------------------------------------------------
    def _state_handle(self):
        try:
            st = os.stat(self.cfg.state_path)
            stamp = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._state_stamp:
            if self._state is not None:
                self._state.close()
            self._state = State.open(self.cfg.state_path) if stamp else None
            self._state_stamp = stamp
            self._uuids.clear()
        return self._state

    def _resolve(self, keys):
        """Fill the cache for ``keys`` (``indicator\\ttype``): one batched state query for all of them,
        the lookup callable once per key; DOMAIN/EMAIL retried lower-cased."""
        todo = [k for k in keys if k not in self._uuids]
        if not todo:
            return
        found = {}
        if self.lookup is not None:
            for key in todo:
                uuids = list(self.lookup(*_split_key(key)) or ())
                if uuids:
                    found[key] = uuids
        rest = [k for k in todo if k not in found]
        st = self._state_handle() if self.cfg.state_path else None
        if st is not None and rest:
            found.update(st.attribute_uuids_many(rest))
        lower = {}
        for key in todo:
            if key not in found:
                ind, typ = _split_key(key)
                if typ in _LOWER_TYPES and ind != ind.lower():
                    lower[key] = _key(ind.lower(), typ)
        if lower:
            self._resolve(sorted(set(lower.values())))
            for key, low in lower.items():
                found[key] = self._uuids.get(low, [])
        if len(self._uuids) + len(todo) > _CACHE_MAX:
            self._uuids.clear()
        for key in todo:
            self._uuids[key] = found.get(key, [])

    def attribute_uuids(self, indicator, itype):
        """The MISP attribute UUIDs behind an indicator Zeek matched ([] when not from MISP)."""
        key = _key(indicator, itype)
        if self.cfg.state_path:
            self._state_handle()  # a new state file clears the cache
        self._resolve([key])
        return self._uuids.get(key, [])

    def allowed(self, indicator, itype):
        """False while the indicator is suppressed as noisy (the live path must not insert it)."""
        return not self.suppressions.contains(indicator, itype)

    # -- the poll ---------------------------------------------------------------------------------
    def _kv(self, key, default=None):
        row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_kv(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, json.dumps(value)))

    def poll(self, now=None):
        now = self.clock() if now is None else now
        res = PollResult()
        matches, position = self.follower.poll(self._kv("position"), matched=False)
        res.lines = len(matches)
        if self.lookup is not None:
            self._uuids.clear()  # a live store changes between polls: look each indicator up again
        # aggregate per key first: the per-line work stays a dict update (>= 50 k lines/s)
        agg = {}
        for ts, indicator, itype, _matched in matches:
            key = indicator + "\t" + itype
            a = agg.get(key)
            if a is None:
                agg[key] = [1, ts, ts]
            else:
                a[0] += 1
                if ts < a[1]:
                    a[1] = ts
                elif ts > a[2]:
                    a[2] = ts
        pending = {}
        noisy = []
        if self.cfg.state_path:
            self._state_handle()  # once per poll: a new state file (full sync) clears the cache
        self._resolve(agg)
        cache = self._uuids
        for key, (n, first, last) in agg.items():
            uuids = cache.get(key) or []
            if not uuids:
                res.unmapped += n
                continue
            res.matched += n
            for u in uuids:
                p = pending.get(u)
                pending[u] = [n, first, last] if p is None else [p[0] + n, min(p[1], first), max(p[2], last)]
            rate = self._rate(key, n, first, last)
            if rate is not None:
                noisy.append((key, rate, uuids))
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if pending:
                self.db.executemany(
                    "INSERT INTO pending (uuid, n, first, last) VALUES (?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE "
                    "SET n = n + excluded.n, first = MIN(first, excluded.first), last = MAX(last, excluded.last)",
                    ((u, *v) for u, v in pending.items()),
                )
            for key, rate, uuids in noisy:
                if self._mark_noisy(key, rate, uuids, now):
                    res.removals.append(_split_key(key))
            res.queued = self._queue_due(now)
            if position is not None:
                self._set_kv("position", position)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if self.misp is not None:
            self._deliver(now, res)
            self._propose(res)
            if now >= self._next_decision:
                self._decide(now, res)
        res.outbox = self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        return res

    def _rate(self, key, n, first, last):
        """Add ``n`` matches (log times ``first``..``last``) to the key's window; the rate in matches/s
        when it passes the threshold (once per key: a suppressed key is not counted again)."""
        if key in self._exempt:
            return None
        window = self.cfg.noisy_window
        w = self._windows.get(key)
        if w is None or last - w[0] >= window:
            w = self._windows[key] = [first, 0]
        w[1] += n
        if w[1] > self.cfg.noisy_threshold * window:
            rate = w[1] / max(last - w[0], 1.0)
            del self._windows[key]
            return rate
        if len(self._windows) > _CACHE_MAX:
            self._windows = {k: v for k, v in self._windows.items() if last - v[0] < window}
        return None

    def _mark_noisy(self, key, rate, uuids, now):
        if self.db.execute("SELECT 1 FROM noisy WHERE k = ?", (key,)).fetchone():
            return False
        self.db.execute(
            "INSERT INTO noisy (k, rate, since, state) VALUES (?, ?, ?, 'suppressed')", (key, round(rate, 1), now)
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO proposals (uuid, k, state) VALUES (?, ?, 'todo')", ((u, key) for u in uuids)
        )
        self.suppressions.add(key, rate=round(rate, 1), since=int(now), state="proposing", source=self.cfg.source)
        return True

    def _queue_due(self, now):
        """Move pending matches of attributes not sighted for ``interval`` seconds to the outbox."""
        cutoff = now - self.cfg.interval
        due = self.db.execute(
            "SELECT p.uuid, p.last FROM pending p LEFT JOIN sent s ON s.uuid = p.uuid WHERE s.at IS NULL OR s.at <= ?",
            (cutoff,),
        ).fetchall()
        if not due:
            return 0
        self.db.executemany(
            "INSERT INTO outbox (uuid, ts, origin) VALUES (?, ?, 'live')", ((u, int(last)) for u, last in due)
        )
        self.db.executemany("INSERT OR REPLACE INTO sent (uuid, at) VALUES (?, ?)", ((u, now) for u, _ in due))
        self.db.executemany("DELETE FROM pending WHERE uuid = ?", ((u,) for u, _ in due))
        self.db.execute("DELETE FROM sent WHERE at <= ? AND uuid NOT IN (SELECT uuid FROM pending)", (cutoff,))
        return len(due)

    def queue_sightings(self, sightings, origin="historical"):
        """Queue sightings made elsewhere (historical matches): ``[{"uuid", "timestamp"}]``."""
        rows = [(s["uuid"], int(s["timestamp"]), origin) for s in sightings]
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT INTO outbox (uuid, ts, origin) VALUES (?, ?, ?)", rows)
        self.db.execute("COMMIT")
        return len(rows)

    # -- MISP -------------------------------------------------------------------------------------
    def _misp_failed(self, now, res, exc):
        res.misp_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        self._retry_delay = min(self.cfg.retry_max, max(self.cfg.retry_min, self._retry_delay * 2))
        self._retry_at = now + self._retry_delay

    def _deliver(self, now, res):
        if now < self._retry_at:
            res.misp_error = f"waiting {self._retry_at - now:.0f} s before retrying"
            return
        rows = self.db.execute(
            "SELECT id, uuid, ts FROM outbox ORDER BY id LIMIT ?", (self.cfg.deliver_batch,)
        ).fetchall()
        for row_id, uuid, ts in rows:
            body = {"source": self.cfg.source, "timestamp": ts, "type": SIGHTING}
            try:
                answer = self.misp.add_sighting(body, attribute=uuid)
            except Exception as exc:  # noqa: BLE001 - MISP down, 5xx, timeout: keep the queue, back off
                self._misp_failed(now, res, exc)
                return
            errors = answer.get("errors") if isinstance(answer, dict) else "not a JSON object"
            if errors:
                status = errors[0] if isinstance(errors, (list, tuple)) else None
                if status == 404:  # the attribute is gone from MISP: nothing to sight
                    self.db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                    res.dropped += 1
                    continue
                self._misp_failed(now, res, FeedbackError(f"sighting of {uuid} refused: {errors}"))
                return
            self.db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            res.delivered += 1
        self._retry_delay = 0.0

    def _propose(self, res):
        todo = self.db.execute(
            "SELECT p.uuid, p.k, n.rate FROM proposals p JOIN noisy n ON n.k = p.k WHERE p.state = 'todo'"
        ).fetchall()
        for uuid, key, rate in todo:
            comment = self.cfg.proposal_comment.format(
                rate=rate, source=self.cfg.source, threshold=self.cfg.noisy_threshold
            )
            try:
                answer = self.misp.update_attribute_proposal(uuid, {"to_ids": False, "comment": comment})
            except Exception as exc:  # noqa: BLE001 - retried on the next poll
                res.misp_error = f"proposal for {uuid}: {type(exc).__name__}: {str(exc)[:200]}"
                return
            if isinstance(answer, dict) and answer.get("errors"):
                status = answer["errors"][0] if isinstance(answer["errors"], (list, tuple)) else None
                state, proposal = ("gone", None) if status == 404 else ("todo", None)
                if state == "todo":
                    res.misp_error = f"proposal for {uuid} refused: {answer['errors']}"
                    return
            else:
                shadow = answer.get("ShadowAttribute", answer) if isinstance(answer, dict) else {}
                state, proposal = "proposed", str(shadow.get("id") or "")
                res.proposals += 1
            self.db.execute(
                "UPDATE proposals SET state = ?, proposal = ? WHERE uuid = ? AND k = ?", (state, proposal, uuid, key)
            )
            self._settle(key, res)

    def _decide(self, now, res):
        """Look at open proposals: gone from MISP means decided; the attribute's IDS flag tells how."""
        self._next_decision = now + self.cfg.decision_interval
        rows = self.db.execute("SELECT uuid, k, proposal FROM proposals WHERE state = 'proposed'").fetchall()
        for uuid, key, proposal in rows:
            try:
                answer = self.misp.get_attribute_proposal(proposal)
                if isinstance(answer, dict) and not answer.get("errors"):
                    continue  # still open
                attr = self.misp.get_attribute(uuid)
            except Exception as exc:  # noqa: BLE001 - asked again at the next decision interval
                res.misp_error = f"checking proposal {proposal}: {type(exc).__name__}: {str(exc)[:200]}"
                return
            if isinstance(attr, dict) and attr.get("errors"):
                state = "accepted"  # the attribute itself is gone
            else:
                a = attr.get("Attribute", attr) if isinstance(attr, dict) else {}
                state = "discarded" if str(a.get("to_ids")).lower() in ("true", "1") else "accepted"
            self.db.execute("UPDATE proposals SET state = ? WHERE uuid = ? AND k = ?", (state, uuid, key))
            self._settle(key, res)

    def _settle(self, key, res):
        states = [s for (s,) in self.db.execute("SELECT state FROM proposals WHERE k = ?", (key,))]
        if any(s in ("todo", "proposed") for s in states):
            self.suppressions.update(key, state="proposed")
            return
        if "discarded" in states:  # a MISP user kept the IDS flag: back into Zeek, never flagged again
            self.suppressions.lift(key)
            self.db.execute("UPDATE noisy SET state = 'kept' WHERE k = ?", (key,))
            self._exempt.add(key)
            res.readmit.append(_split_key(key))
        else:
            self.suppressions.update(key, state="accepted")
            self.db.execute("UPDATE noisy SET state = 'accepted' WHERE k = ?", (key,))

    def close(self):
        if self._state is not None:
            self._state.close()
        self.db.close()
