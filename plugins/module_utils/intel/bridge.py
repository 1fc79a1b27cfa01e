"""The intel bridge: MISP's ZeroMQ feed -> live store -> running Zeek (+ the intel file).

Run by ``socforge-intel-bridge`` (roles/intel_bridge). One loop, one thread for the MISP and Zeek
sides, one background thread that rewrites the intel file from a consistent read of the store:

1. start: open the store; snapshot from MISP's API (full when the store is empty, else
   incremental since the stored sync point, plus a reconciliation of the published events); write
   the intel file; connect to Zeek (backoff) and re-assert every change Zeek has not acknowledged;
2. subscribe to MISP's ZeroMQ topics; coalesce the messages of ``coalesce`` seconds into one store
   transaction (committed before anything is pushed: a crash loses nothing), then push the items it
   touched as acknowledged batches (:class:`zeek_push.ZeekLink`);
3. every ``resync_interval`` seconds, on a ZeroMQ reconnect and after ``heartbeat_timeout`` seconds of
   silence (MISP's publisher sends ``misp_json_self`` every 10 s when idle): resync against the API
   (ZeroMQ has no replay);
4. on a Zeek restart (its start time in ``SOCForgeBridge::hello`` changed) wait until it has read
   the intel file, then re-assert what changed since the file versions it may have read.

Errors never remove intel: an API failure keeps the store as it is, an unreadable message is
logged and skipped, Zeek unreachable keeps the changes queued (and in the file).
"""

import logging
import queue
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from ansible_collections.socforge.core.plugins.module_utils.intel import zeek_push
from ansible_collections.socforge.core.plugins.module_utils.intel.bridge_store import BridgeStore
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter, _flag
from ansible_collections.socforge.core.plugins.module_utils.intel.writer import atomic_write, render_chunks
from ansible_collections.socforge.core.plugins.module_utils.intel.zmq_feed import (
    TOPICS,
    FeedError,
    attribute_rows,
    event_rows,
    parse,
)

LOG = logging.getLogger("socforge-intel-bridge")


@dataclass
class BridgeConfig:
    intel_file: str
    store_path: str
    zmq_url: str = "tcp://127.0.0.1:50000"
    zmq_username: str = ""
    zmq_password: str = ""
    transport: str = "websocket"  # websocket (Zeek >= 8.1) | broker (Zeek 7.x)
    zeek_url: str = "ws://127.0.0.1:27759/v1/messages/json"
    zeek_host: str = "127.0.0.1"
    zeek_port: int = 27760
    broker_python_path: str = "/opt/zeek/lib/zeek/python"
    topic: str = zeek_push.DEFAULT_TOPIC
    reply_topic: str = zeek_push.DEFAULT_REPLY_TOPIC
    filters: dict = field(default_factory=dict)
    instance: str = "MISP"
    event_url_base: str = ""
    do_notice: bool = True
    coalesce: float = 0.02
    batch_size: int = 500
    rate: float = 20000.0
    ack_timeout: float = 5.0
    file_interval: float = 5.0
    resync_interval: float = 300.0
    heartbeat_timeout: float = 35.0
    backoff_max: float = 30.0
    file_mode: int = 0o644
    bulk_threshold: int = 20000  # more items than this to re-assert: Zeek re-reads the intel file
    quiet_log_interval: float = 300.0  # s between log lines counting matches with nothing for MISP


class Bridge:
    def __init__(self, cfg, source=None, transport=None, zmq_context=None, clock=time.monotonic, feedback=None):
        self.cfg = cfg
        # sightings and noisy intel (intel.feedback.Feedback, issue 14 parts 2+3), or None
        self.feedback = feedback
        self.suppressed = set(feedback.suppressions.keys()) if feedback is not None else set()
        self.feedback_at = 0.0
        self.quiet_matches, self.quiet_logged_at = 0, clock()
        self.historical = None
        self.flt = IntelFilter.build(**cfg.filters)
        self.opts = MetaOptions(instance=cfg.instance, event_url_base=cfg.event_url_base, do_notice=cfg.do_notice)
        self.store = BridgeStore(cfg.store_path)
        self.source = source  # intel.sources.MispRestSource (or None: ZeroMQ only)
        self.transport = transport or zeek_push.make_transport(
            cfg.transport,
            url=cfg.zeek_url,
            host=cfg.zeek_host,
            port=cfg.zeek_port,
            python_path=cfg.broker_python_path,
            topic=cfg.topic,
            reply_topic=cfg.reply_topic,
        )
        self.link = zeek_push.ZeekLink(
            self.transport, batch_size=cfg.batch_size, rate=cfg.rate, ack_timeout=cfg.ack_timeout
        )
        self.clock = clock
        self.zmq_context = zmq_context
        self.sub = None
        self.monitor = None
        self.connected_zeek = False
        self.zeek_started = self.store.get("zeek_started")
        self.zeek_ready = False
        self.zeek_retry_at = 0.0
        self.zeek_backoff = 1.0
        self.api_retry_at = 0.0
        self.api_backoff = 1.0
        self.last_message = clock()
        self.last_resync = 0.0
        self.need_resync = False
        self.refetch = set()  # event ids/uuids to re-read from the API (object changes, deletes)
        self.stats = {"messages": 0, "applied": 0, "errors": 0, "resyncs": 0, "api_errors": 0, "zeek_connects": 0}
        self.file_lock = threading.Lock()
        self.file_dirty = threading.Event()
        self.file_seq = self.store.get_int("file_seq")
        self.file_seq_prev = self.store.get_int("file_seq_prev")
        self.stop_event = threading.Event()
        self.flusher = None
        # changes committed before a crash and never acknowledged by Zeek: re-asserted after the
        # first hello (see _on_hello), then acknowledged
        self.pending_seq = (
            self.store.get_int("seq") if self.store.get_int("seq") > self.store.get_int("acked_seq") else 0
        )
        self.reload_seq = None

    # -- applying changes ---------------------------------------------------------------------
    def attach_historical(self, matcher, batch=200):
        """New intel is searched in the logs already stored (intel.historical.HistoricalMatcher), in a
        worker thread: the live path never waits for OpenSearch. Its sightings go to the feedback
        queue (delivered like live ones)."""
        self.historical = matcher
        self.hist_in = queue.Queue(maxsize=100000)
        self.hist_out = queue.Queue()
        self.hist_dropped = 0
        self.hist_batch = batch
        self.hist_thread = threading.Thread(target=self._historical_worker, name="historical", daemon=True)
        self.hist_thread.start()

    def _historical_worker(self):
        while not self.stop_event.is_set():
            try:
                first = self.hist_in.get(timeout=0.5)
            except queue.Empty:
                continue
            items = [first]
            while len(items) < self.hist_batch:
                try:
                    items.append(self.hist_in.get_nowait())
                except queue.Empty:
                    break
            try:
                self.hist_out.put(self.historical.match(items))
            except Exception as exc:  # noqa: BLE001 - OpenSearch trouble never stops the bridge
                LOG.warning("historical matching failed for %d indicators: %s", len(items), exc)

    def _queue_historical(self, rows):
        if self.historical is None:
            return
        for _, k, src in rows:
            if k in self.suppressed or self.store.line(k, src) is None:
                continue
            ind, _, itype = k.partition("\t")
            try:
                self.hist_in.put_nowait((ind, itype, self.store.attribute_uuids(ind, itype, src)))
            except queue.Full:
                self.hist_dropped += 1

    def service_historical(self):
        if self.historical is None:
            return
        while True:
            try:
                res = self.hist_out.get_nowait()
            except queue.Empty:
                return
            if res.sightings and self.feedback is not None:
                self.feedback.queue_sightings(res.sightings)
            LOG.info("%s%s", res.summary, f" ({self.hist_dropped} dropped: queue full)" if self.hist_dropped else "")

    def attach_feedback(self, feedback):
        self.feedback = feedback
        self.suppressed = set(feedback.suppressions.keys())

    def line(self, k, src):
        """What Zeek must hold for item ``(k, src)``: its line, or None (absent, or suppressed as noisy)."""
        if k in self.suppressed:
            return None
        return self.store.line(k, src)

    def _want_touched(self, rows, now=None):
        """Queue the touched items' current state for Zeek."""
        for _, k, src in rows:
            self.link.want((k, src), self.line(k, src), at=now)

    def service_feedback(self):
        """Sightings of Zeek's matches go to MISP; noisy indicators leave Zeek until MISP decides."""
        if self.feedback is None or self.clock() - self.feedback_at < 1.0:
            return
        self.feedback_at = self.clock()
        try:
            out = self.feedback.poll()
        except Exception as exc:  # noqa: BLE001 - feedback trouble never stops the live path
            LOG.warning("sightings/noisy intel: %s", exc)
            return
        for ind, itype in out.removals:
            k = f"{ind}\t{itype}"
            self.suppressed.add(k)
            for item in self.store.items_of_key(k):
                self.link.want(item, None)
            LOG.warning("noisy intel %s %s taken out of Zeek (a proposal to clear its IDS flag is in MISP)", ind, itype)
        for ind, itype in out.readmit:
            k = f"{ind}\t{itype}"
            self.suppressed.discard(k)
            for item in self.store.items_of_key(k):
                self.link.want(item, self.line(*item))
            LOG.info("intel %s %s readmitted (its proposal was decided)", ind, itype)
        if out.removals or out.readmit:
            self.file_dirty.set()
        self.log_feedback(out)

    def log_feedback(self, out):
        """Sighting activity (queued, delivered, dropped, a MISP error, noisy intel) is logged at once;
        matches of intel that is not from MISP (a site's other feeds on live traffic: every poll) only
        as a count every ``quiet_log_interval`` seconds - not a journal line per second."""
        if out.queued or out.delivered or out.dropped or out.misp_error or out.removals or out.readmit:
            LOG.info("%s", out.summary)
            return
        self.quiet_matches += out.lines
        if self.quiet_matches and self.clock() - self.quiet_logged_at >= self.cfg.quiet_log_interval:
            LOG.info(
                "intel.log: %d matches in the last %.0f s, none to report to MISP; sightings: %d waiting",
                self.quiet_matches,
                self.clock() - self.quiet_logged_at,
                out.outbox,
            )
            self.quiet_matches, self.quiet_logged_at = 0, self.clock()

    def apply_event(self, event, removals_only=False):
        """A full event (publish, resync): the store's rows of this event become the event's rows."""
        rec, rows = event_rows(event, self.flt, self.opts)
        if rec is None:
            return
        ev = event.get("Event", event)
        published = _flag(ev.get("published"))
        self.store.note_event(
            rec.uuid,
            ev.get("id"),
            published=published,
            selected=rec.selected,
            ts=rec.timestamp,
            pts=rec.publish_timestamp,
        )
        if not rec.selected and self.flt.published_only and not published:
            # an event being edited (MISP unpublishes on every edit): keep its last published
            # indicators, but withdraw at once what it no longer has
            _, rows = event_rows({**ev, "published": True}, self.flt, self.opts)
            self.store.set_event_rows(rec.uuid, rows, removals_only=True)
            return
        self.store.set_event_rows(rec.uuid, rows, removals_only=removals_only)

    def apply_change(self, ch):
        if ch.kind == "publish":
            self.apply_event(ch.body)
        elif ch.kind == "attribute_delete":
            self.store.drop_attribute(ch.attr_uuid)
        elif ch.kind == "attribute":
            ev_uuid = ch.event_uuid or self.store.event_uuid_by_id(ch.event_id)
            known = self.store.event(ev_uuid) if ev_uuid else None
            rows = attribute_rows(ch, self.flt, self.opts)
            ev = ch.body.get("Event") or {}
            live = (not self.flt.published_only or _flag(ev.get("published"))) and (known is None or known["selected"])
            if known is None and self.flt.published_only:
                live = False  # event never seen published: its publication (misp_json) brings it
            self.store.set_attribute_rows(ev_uuid or "", ch.attr_uuid, rows, removals_only=not live)
        elif ch.kind == "event_delete":
            self.store.forget_event(ch.event_uuid)
            self.refetch.add(("uuid", ch.event_uuid))  # soft vs hard delete: the API decides
        elif ch.kind == "event_changed":
            ev = ch.body
            if ch.event_uuid and self.store.event(ch.event_uuid) is not None:
                self.store.note_event(ch.event_uuid, ev.get("id"), published=_flag(ev.get("published")))
        elif ch.kind == "object_changed":
            if ch.action in ("delete", "soft-delete") or _flag(ch.body.get("deleted")):
                # the message has no attributes: re-read the event, withdraw what left it
                self.refetch.add(("id", ch.event_id))

    def handle_messages(self, raws, received=None):
        """Apply a burst of raw ZeroMQ messages in one transaction, then queue the pushes."""
        changes = []
        for raw in raws:
            self.stats["messages"] += 1
            try:
                changes.append(parse(raw, received))
            except FeedError as exc:
                self.stats["errors"] += 1
                LOG.warning("skipped a ZeroMQ message: %s", exc)
        t0 = min((c.received for c in changes), default=time.time())
        with self.store:
            for ch in changes:
                try:
                    self.apply_change(ch)
                    if ch.kind not in ("heartbeat", "ignore"):
                        self.stats["applied"] += 1
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.stats["errors"] += 1
                    LOG.warning("skipped a %s message (%s): %s: %s", ch.topic, ch.action, type(exc).__name__, exc)
        self._after_commit(t0)
        return changes

    def _after_commit(self, t0=None):
        rows = getattr(self.store, "last_batch", [])
        self.store.last_batch = []
        if rows:
            self._want_touched(rows, now=t0)
            self._queue_historical(rows)
            self.file_dirty.set()
            self.pending_seq = rows[-1][0]

    # -- MISP API ------------------------------------------------------------------------------
    def resync(self, full=False):
        """Incremental (or full) resync against the API; failures keep the store (last good intel)."""
        if self.source is None:
            return False
        since = None if full else (self.store.get_int("sync_point", 0) or None)
        known = self.store.known_events()
        try:
            events = list(self.source.fetch(known, since))
            missing = set()
            if since is not None and hasattr(self.source, "published_uuids"):
                published = self.source.published_uuids()
                missing = set(known) - published - {e.get("Event", e).get("uuid") for e in events}
            classes = self.source.classify_missing(missing) if missing else {}
            refetched = self._refetch_events()
        except Exception as exc:  # noqa: BLE001 - SourceError and whatever pymisp raises: keep last good
            self.stats["api_errors"] += 1
            self.api_retry_at = self.clock() + self.api_backoff
            self.api_backoff = min(self.api_backoff * 2, self.cfg.backoff_max)
            LOG.warning("MISP API resync failed, keeping the last good intel: %s", exc)
            return False
        self.api_backoff = 1.0
        if self.feedback is not None and self.feedback.misp is None:
            self.feedback.misp = getattr(self.source, "_client", None)
        with self.store:
            if full:
                fetched = {e.get("Event", e).get("uuid") for e in events}
                for gone in set(known) - fetched:
                    self.store.forget_event(gone)
            for event in events:
                self.apply_event(event)
            for ev_uuid, cls in classes.items():
                if cls in ("deleted", "retracted"):
                    self.store.forget_event(ev_uuid)
            for event in refetched:
                self.apply_event(event)
            if self.source.sync_point:
                self.store.set("sync_point", self.source.sync_point)
        self._after_commit()
        self.stats["resyncs"] += 1
        self.last_resync = self.clock()
        self.need_resync = False
        LOG.info(
            "resync (%s): %d events changed, %d gone, %d re-read; %d items live",
            "full" if since is None else "incremental",
            len(events),
            sum(1 for c in classes.values() if c in ("deleted", "retracted")),
            len(refetched),
            self.store.count(),
        )
        return True

    def _refetch_events(self):
        """Events named by object changes / event deletes, read again (metadata and attributes)."""
        out = []
        todo, self.refetch = self.refetch, set()
        try:
            for how, ref in sorted(todo):
                if not ref:
                    continue
                query = {"uuid": ref} if how == "uuid" else {"eventid": ref}
                out.extend(self.source._search(published=False, limit=2, page=1, **query))
        except Exception:
            self.refetch |= todo
            raise
        return out

    def process_refetch(self):
        if not self.refetch or self.source is None or self.clock() < self.api_retry_at:
            return
        try:
            events = self._refetch_events()
        except Exception as exc:  # noqa: BLE001
            self.stats["api_errors"] += 1
            self.api_retry_at = self.clock() + self.api_backoff
            self.api_backoff = min(self.api_backoff * 2, self.cfg.backoff_max)
            LOG.warning("MISP API re-read failed, keeping the last good intel: %s", exc)
            return
        with self.store:
            for event in events:
                ev = event.get("Event", event)
                # withdrawals only: additions come with the event's publication
                self.apply_event(event, removals_only=not _flag(ev.get("published")))
        self._after_commit()

    # -- the intel file --------------------------------------------------------------------------
    def write_file(self):
        """Rewrite the intel file from a consistent read of the store (its own connection)."""
        import sqlite3

        conn = sqlite3.connect(self.cfg.store_path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            seq = int((conn.execute("SELECT v FROM meta WHERE k = 'seq'").fetchone() or ["0"])[0])
            suppressed = set(self.suppressed)
            lines = [
                f"{k}\t{s}\t{r}"
                for k, s, r in conn.execute("SELECT k, src, MIN(rest) FROM items GROUP BY k, src ORDER BY k, src")
                if k not in suppressed
            ]
            conn.execute("COMMIT")
        finally:
            conn.close()
        atomic_write(self.cfg.intel_file, render_chunks(lines), mode=self.cfg.file_mode)
        with self.file_lock:
            self.file_seq_prev, self.file_seq = self.file_seq, seq
        return len(lines)

    def _flusher(self):
        while not self.stop_event.is_set():
            if self.file_dirty.wait(0.5):
                self.stop_event.wait(self.cfg.file_interval)
                self.file_dirty.clear()
                try:
                    self.write_file()
                except Exception as exc:  # noqa: BLE001 - the old file stays (atomic write)
                    LOG.error("cannot rewrite the intel file %s: %s", self.cfg.intel_file, exc)
                    self.file_dirty.set()

    # -- Zeek --------------------------------------------------------------------------------------
    def connect_zeek(self):
        if self.connected_zeek or self.clock() < self.zeek_retry_at:
            return self.connected_zeek
        try:
            self.transport.connect()
        except zeek_push.PushError as exc:
            self.zeek_retry_at = self.clock() + self.zeek_backoff
            LOG.warning("Zeek not reachable (retry in %.0f s): %s", self.zeek_backoff, exc)
            self.zeek_backoff = min(self.zeek_backoff * 2, self.cfg.backoff_max)
            return False
        self.connected_zeek = True
        self.zeek_ready = False
        self.zeek_backoff = 1.0
        self.stats["zeek_connects"] += 1
        self.link.reset()
        self.link.hello = None
        self.link.ping(uuidlib.uuid4().hex)
        self.ping_at = self.clock()
        LOG.info("connected to Zeek (%s)", self.transport.kind)
        return True

    def _zeek_lost(self, exc):
        LOG.warning("lost Zeek: %s", exc)
        self.transport.close()
        self.connected_zeek = False
        self.zeek_ready = False
        self.link.reset()
        self.zeek_retry_at = self.clock() + self.zeek_backoff

    def _on_hello(self, hello):
        _, started, loaded, _, _ = (list(hello) + [None] * 5)[:5]
        if not loaded:
            return False  # still reading the intel file: ask again
        started = str(started)
        acked = self.store.get_int("acked_seq")
        if self.reload_seq is not None:
            since, self.reload_seq = self.reload_seq, None
            self.replay(since)
            return self.reload_seq is None
        if started != self.zeek_started:
            # a (re)started Zeek read the intel file at start: re-assert what changed since the
            # older of the two last file versions (a rewrite may have raced its read)
            with self.file_lock:
                since = min(self.file_seq_prev, acked)
            LOG.info("Zeek (re)started at %s: re-asserting changes since file version %d", started, since)
            self.zeek_started = started
            self.store.set("zeek_started", started)
        else:
            since = acked
        self.replay(since)
        return self.reload_seq is None

    def replay(self, since):
        """Re-assert the items changed after journal sequence ``since``. Many: removals through
        the link, inserts by Zeek re-reading the freshly written intel file (the file path)."""
        items = self.store.journal_since(since)
        if len(items) <= self.cfg.bulk_threshold or not self.connected_zeek:
            for item in items:
                self.link.want(item, self.line(*item))
            return
        for item in items:
            line = self.store.line(*item)
            if line is None or item[0] in self.suppressed:
                self.link.want(item, None)
        n = self.write_file()
        with self.file_lock:
            self.reload_seq = self.file_seq
        LOG.info("%d items to re-assert: Zeek re-reads the intel file (%d lines)", len(items), n)
        self.link.t.publish(zeek_push.RELOAD, [uuidlib.uuid4().hex])
        self.zeek_ready = False
        self.ping_at = self.clock() + 5.0

    def service_zeek(self, timeout=0.0):
        if not self.connect_zeek():
            return
        try:
            if not self.zeek_ready:
                self.link.poll(timeout)
                if self.link.hello is not None:
                    hello, self.link.hello = self.link.hello, None
                    self.zeek_ready = self._on_hello(hello)
                if not self.zeek_ready and self.clock() - self.ping_at > 1.0:
                    self.link.ping(uuidlib.uuid4().hex)
                    self.ping_at = self.clock()
                return
            self.link.pump()
            self.link.poll(timeout)
            if self.link.hello is not None:  # a Zeek restart seen by a still-open connection
                hello, self.link.hello = self.link.hello, None
                self._on_hello(hello)
            if self.link.idle() and self.pending_seq:
                self.store.set("acked_seq", self.store.get_int("seq"))
                self.pending_seq = 0
                with self.file_lock:
                    self.store.trim_journal(min(self.file_seq_prev, self.store.get_int("acked_seq")))
        except zeek_push.PushError as exc:
            self._zeek_lost(exc)

    # -- ZeroMQ ------------------------------------------------------------------------------------
    def subscribe(self):
        import zmq  # noqa: PLC0415

        if self.zmq_context is None:
            self.zmq_context = zmq.Context.instance()
        if self.sub is not None:
            self.sub.close(0)
        sub = self.zmq_context.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 1000000)
        sub.setsockopt(zmq.RECONNECT_IVL, 500)
        sub.setsockopt(zmq.RECONNECT_IVL_MAX, int(self.cfg.backoff_max * 1000))
        if self.cfg.zmq_username:
            sub.plain_username = self.cfg.zmq_username.encode()
            sub.plain_password = self.cfg.zmq_password.encode()
        for topic in TOPICS:
            sub.setsockopt(zmq.SUBSCRIBE, topic.encode() + b" ")
        self.monitor = sub.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        sub.connect(self.cfg.zmq_url)
        self.sub = sub
        self.last_message = self.clock()

    def _monitor_events(self):
        import zmq  # noqa: PLC0415
        from zmq.utils.monitor import recv_monitor_message  # noqa: PLC0415

        while self.monitor is not None and self.monitor.poll(0):
            ev = recv_monitor_message(self.monitor)
            if ev["event"] == zmq.EVENT_DISCONNECTED:
                LOG.warning("ZeroMQ: disconnected from %s", self.cfg.zmq_url)
                self.need_resync = True
            elif ev["event"] == zmq.EVENT_CONNECTED:
                LOG.info("ZeroMQ: connected to %s", self.cfg.zmq_url)
                self.last_message = self.clock()

    def receive(self, timeout):
        """Messages of one coalescing window (the first waits up to ``timeout`` seconds)."""
        import zmq  # noqa: PLC0415

        out = []
        if not self.sub.poll(int(timeout * 1000)):
            return out
        end = self.clock() + self.cfg.coalesce
        while len(out) < 50000:
            try:
                out.append(self.sub.recv(zmq.NOBLOCK))
            except zmq.Again:
                left = end - self.clock()
                if left <= 0 or not self.sub.poll(int(left * 1000) or 1):
                    break
        self.last_message = self.clock()
        return out

    # -- the loop ------------------------------------------------------------------------------------
    def start(self):
        if self.source is not None:
            empty = self.store.get("sync_point") is None
            self.resync(full=empty)
        if not self.store.get("file_written") or self.file_dirty.is_set():
            self.write_file()
            self.store.set("file_written", "1")
        with self.file_lock:
            self.store.set("file_seq", self.file_seq)
        self.flusher = threading.Thread(target=self._flusher, name="intel-file", daemon=True)
        self.flusher.start()
        self.subscribe()
        # changes committed before a crash and never acknowledged by Zeek: re-assert them

    def step(self, timeout=0.05):
        msgs = self.receive(timeout if self.link.idle() else 0.005)
        if msgs:
            self.handle_messages(msgs)
        self._monitor_events()
        self.service_zeek(0)
        self.service_feedback()
        self.service_historical()
        now = self.clock()
        if now - self.last_message > self.cfg.heartbeat_timeout:
            LOG.warning(
                "ZeroMQ: nothing from MISP for %.0f s (it beats every 10 s): resubscribing", now - self.last_message
            )
            self.subscribe()
            self.need_resync = True
        if self.source is not None and now >= self.api_retry_at:
            if self.need_resync or now - self.last_resync > self.cfg.resync_interval:
                self.resync()
            elif self.refetch:
                self.process_refetch()

    def run(self):
        self.start()
        while not self.stop_event.is_set():
            self.step()
        self.close()

    def close(self):
        self.stop_event.set()
        if self.flusher is not None:
            self.flusher.join(timeout=30)
        if self.file_dirty.is_set() or self.store.get_int("seq") != self.file_seq:
            try:
                self.write_file()
            except Exception as exc:  # noqa: BLE001
                LOG.error("cannot rewrite the intel file at exit: %s", exc)
        with self.file_lock:
            self.store.set("file_seq", self.file_seq)
            self.store.set("file_seq_prev", self.file_seq_prev)
        self.transport.close()
        if self.feedback is not None:
            self.feedback.close()
        if self.sub is not None:
            self.sub.close(0)
        if self.monitor is not None:
            self.monitor.close(0)
        self.store.close()
