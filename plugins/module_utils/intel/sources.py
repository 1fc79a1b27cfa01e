"""Where MISP events come from: a MISP instance (REST, through pymisp) or a MISP-format feed.

Both yield plain MISP event dicts (``{"Event": {...}}``) so the mapper never depends on pymisp's
object model (building ``MISPEvent`` objects is the slow path the benchmark compares against).

Incremental contract: ``fetch(known, since)`` yields the events that changed since the last sync
and sets ``deleted`` (event UUIDs known to be gone; only a feed's manifest can tell) and
``sync_point`` (what to pass as ``since`` next time). ``known`` maps event UUID -> the event
timestamp the state holds; ``since`` is ``None`` for a full sync.
"""

import email.utils
import json
import os
import socket
import ssl
import time
import urllib.parse

DEFAULT_TIMEOUT = 60
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 2.0
DEFAULT_PAGE_LIMIT = 100
DEFAULT_WINDOW = 30 * 86400
OVERLAP = 120  # seconds re-asked on every incremental poll; re-reading an event is harmless


class SourceError(Exception):
    """Upstream failure; the message names the source and the cause. Nothing is written."""


def _describe_exception(exc, where):
    """Turn requests/ssl/socket exceptions into one clear sentence."""
    text = str(exc)
    chain = []
    e = exc
    while e is not None and len(chain) < 6:
        chain.append(e)
        e = e.__cause__ or e.__context__
    if any(isinstance(x, ssl.SSLError) for x in chain) or "SSL" in type(exc).__name__ or "CERTIFICATE" in text:
        return f"TLS error talking to {where}: {text}"
    if any(isinstance(x, (socket.timeout, TimeoutError)) for x in chain) or "Timeout" in type(exc).__name__:
        return f"timed out talking to {where}: {text}"
    if any(isinstance(x, ConnectionError) for x in chain) or "Connection" in type(exc).__name__:
        return f"cannot connect to {where}: {text}"
    return f"error talking to {where}: {type(exc).__name__}: {text}"


def _retrying(func, where, retries, backoff, sleep=time.sleep):
    """Call ``func`` with exponential backoff on transient errors (connection, timeout, HTTP 5xx)."""
    attempt = 0
    while True:
        try:
            return func()
        except _Permanent as exc:
            raise SourceError(str(exc)) from None
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - any transport error is retried, then reported
            message = _describe_exception(exc, where)
            if message.startswith("TLS error") or attempt >= retries:
                raise SourceError(message) from exc
        attempt += 1
        sleep(backoff * (2 ** (attempt - 1)))


class _Permanent(Exception):
    """HTTP 4xx and malformed answers: retrying will not help."""


def _auth_refused(text):
    return any(f"({code}," in text or f"[{code}," in text for code in (401, 403)) or "Authentication failed" in text


def connect_pymisp(
    url, key, verify, timeout, retries=DEFAULT_RETRIES, backoff=DEFAULT_BACKOFF, sleep=time.sleep, tool=""
):
    """A connected ``pymisp.PyMISP`` (its constructor already talks to MISP: version, ``users/view/me``).

    PyMISP's constructor wraps every failure in ``PyMISPError``: a transport error keeps its cause
    (connection refused, timeout, TLS: retried as transient, TLS at once), HTTP 5xx is a
    ``MISPServerError`` (transient), and a refused API key (HTTP 401/403 on ``users/view/me``) is a
    plain ``PyMISPError`` with no cause. That one is permanent: a wrong key is reported at once,
    never retried (it used to cost ``retries`` backoff sleeps: 16 s with the defaults).
    """
    where = f"MISP at {url}"

    def connect():
        import pymisp  # imported lazily: feed-only hosts do not need it

        try:
            return pymisp.PyMISP(url, key, ssl=verify, timeout=timeout, tool=tool)
        except pymisp.MISPServerError as exc:
            raise ConnectionError(f"HTTP 5xx from {where} while connecting: {str(exc)[:200]}") from exc
        except pymisp.PyMISPError as exc:
            cause = exc.__cause__ or exc.__context__
            if cause is not None:
                raise cause from exc
            text = str(exc)
            if _auth_refused(text):
                raise _Permanent(
                    f"{where} refused the API key (HTTP 403, authentication failed): check misp_key "
                    "(a wrong key is not retried)"
                ) from None
            raise _Permanent(f"{where} refused the connection: {text[:300]}") from None

    return _retrying(connect, where, retries, backoff, sleep)


def _flag(value):
    return value is True or str(value).lower() in ("1", "true")


def _event_pts(event):
    ev = event.get("Event", event)
    try:
        return int(ev.get("publish_timestamp") or 0)
    except (TypeError, ValueError):
        return 0


def _event_ts(event):
    ev = event.get("Event", event)
    try:
        return int(ev.get("timestamp") or 0)
    except (TypeError, ValueError):
        return 0


class MispRestSource:
    """MISP REST API via pymisp ``search(controller="events")``.

    Full syncs walk the ``timestamp`` axis in adaptive windows, paging inside each window, so no
    request asks for a deep ``page`` (deep pages get slow on big instances, PyMISP issue 1309).
    Incremental syncs ask for events whose ``timestamp`` *or* ``publish_timestamp`` moved since
    the last sync point (an event can be published later than its last edit).
    """

    kind = "misp"
    can_detect_deletions = False

    def __init__(
        self,
        url,
        key,
        validate_certs=True,
        ca_path=None,
        timeout=DEFAULT_TIMEOUT,
        retries=DEFAULT_RETRIES,
        backoff=DEFAULT_BACKOFF,
        page_limit=DEFAULT_PAGE_LIMIT,
        window=DEFAULT_WINDOW,
        published_only=True,
        enforce_warninglist=False,
        now=None,
        sleep=time.sleep,
        client=None,
    ):
        if not url or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise SourceError(f"misp_url {url!r} is not an http(s) URL")
        if not key:
            raise SourceError("misp_key is empty")
        self.url = url.rstrip("/")
        self.key = key
        self.verify = (ca_path or True) if validate_certs else False
        if ca_path and not os.path.isfile(ca_path):
            raise SourceError(f"ca_path {ca_path!r} does not exist")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.page_limit = page_limit
        self.window = window
        self.published_only = published_only
        self.enforce_warninglist = enforce_warninglist
        self.now = now or (lambda: int(time.time()))
        self.sleep = sleep
        self._client = client
        self.deleted = set()
        self.sync_point = None
        self.requests = 0
        self.id = f"misp:{self.url}"
        self._server_time = None

    def _misp(self):
        if self._client is None:
            self._client = connect_pymisp(
                self.url,
                self.key,
                self.verify,
                self.timeout,
                self.retries,
                self.backoff,
                self.sleep,
                tool="socforge-intel",
            )
            # MISP's own clock, from the Date header of its answers (Apache and MISP's PHP share the
            # host's clock): the sync point can then move to "when this run started asking" even when
            # no event changed, so quiet runs re-read nothing
            session = getattr(self._client, "_PyMISP__session", None)
            if session is not None:
                session.hooks.setdefault("response", []).append(self._note_server_time)
        return self._client

    def _note_server_time(self, response, *args, **kwargs):
        if self._server_time is None and response.status_code == 200 and "restSearch" in response.url:
            try:
                self._server_time = int(email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp())
            except (KeyError, TypeError, ValueError):
                pass
        return response

    def _search(self, published=True, **query):
        misp = self._misp()

        def call():
            self.requests += 1
            answer = misp.search(
                controller="events",
                return_format="json",
                published=True if self.published_only and published else None,
                enforce_warninglist=True if self.enforce_warninglist else None,
                pythonify=False,
                **query,
            )
            if isinstance(answer, dict) and "errors" in answer:
                status = answer["errors"][0] if isinstance(answer["errors"], (list, tuple)) else "?"
                raise _Permanent(f"MISP at {self.url} refused the search (HTTP {status}): {answer['errors']}")
            if isinstance(answer, dict) and "response" in answer:
                answer = answer["response"]
            if not isinstance(answer, list):
                raise _Permanent(f"MISP at {self.url} answered something that is not a list of events")
            return answer

        return _retrying(call, f"MISP at {self.url}", self.retries, self.backoff, self.sleep)

    def _paged(self, **query):
        page = 1
        while True:
            batch = self._search(limit=self.page_limit, page=page, **query)
            yield from batch
            if len(batch) < self.page_limit:
                return
            page += 1

    def _windows(self, field, start, end):
        """Walk [start, end] in windows that each fit in one page: an empty window grows the next
        one, a full page halves the window and asks again. Only a single second holding more than a
        page of events is paged (unavoidable), so no request goes deep into ``page``."""
        size = self.window
        lo = start
        limit = self.page_limit
        while lo <= end:
            hi = min(end, lo + size - 1)
            batch = self._search(limit=limit, page=1, **{field: [lo, hi]})
            if len(batch) >= limit and hi > lo:
                size = max(1, (hi - lo + 1) // 2)  # too crowded for one page: retry a smaller window
                continue
            yield from batch
            if len(batch) >= limit:  # one second with more than a page of events
                page = 2
                while True:
                    more = self._search(limit=limit, page=page, **{field: [lo, hi]})
                    yield from more
                    if len(more) < limit:
                        break
                    page += 1
            lo = hi + 1
            if not batch:
                size = min(size * 4, 20 * 365 * 86400)
            elif len(batch) < limit // 2:
                size *= 2

    def fetch(self, known, since):
        self.deleted = set()
        self._server_time = None
        now = self.now()
        newest = 0
        seen = set()
        if since is None:
            streams = [self._windows("timestamp", 0, now + 86400)]
        else:
            lo = max(0, since - OVERLAP)
            streams = [self._paged(timestamp=lo), self._paged(publish_timestamp=lo)]
        for stream in streams:
            for event in stream:
                ev = event.get("Event", event)
                uuid = ev.get("uuid")
                if uuid in seen:
                    continue
                seen.add(uuid)
                # the sync point follows both clocks: an event published after its last edit has
                # publish_timestamp > timestamp and would otherwise be re-read on every run
                newest = max(newest, _event_ts(event), _event_pts(event))
                yield event
        # MISP's time at the first answer of this run: anything that changes later gets a timestamp
        # (or publish_timestamp) at or after it, and the next run asks from it minus OVERLAP
        self.sync_point = max(newest, since or 0, self._server_time or 0, 0) or now

    def published_uuids(self):
        """UUIDs of every published event (metadata only: no attributes), for reconciliation."""
        found = set()
        page = 1
        limit = max(self.page_limit, 1000)
        while True:
            batch = self._search(limit=limit, page=page, metadata=True)
            found.update(e.get("Event", e).get("uuid") for e in batch)
            if len(batch) < limit:
                return found
            page += 1

    def classify_missing(self, uuids):
        """``{uuid: 'deleted' | 'retracted' | 'editing' | 'published'}`` for events the state holds but
        the published list lacks. MISP 2.5.1 (checked on a real instance): an edit unpublishes the event
        and bumps ``timestamp`` past ``publish_timestamp``; an explicit unpublish changes neither, so
        ``timestamp <= publish_timestamp`` while unpublished is a retraction; an event not found at all
        was hard-deleted."""
        out = dict.fromkeys(uuids, "deleted")
        todo = sorted(uuids)
        for i in range(0, len(todo), 100):
            chunk = todo[i : i + 100]
            for event in self._search(published=False, uuid=chunk, metadata=True, limit=len(chunk) + 1, page=1):
                ev = event.get("Event", event)
                if ev.get("uuid") not in out:
                    continue
                if _flag(ev.get("published")):
                    out[ev["uuid"]] = "published"
                elif _event_ts(event) > _event_pts(event) > 0:
                    out[ev["uuid"]] = "editing"
                else:
                    out[ev["uuid"]] = "retracted"
        return out


class FeedSource:
    """A MISP-format feed: ``manifest.json`` + ``<event uuid>.json``, in a directory or at a URL.

    The manifest lists every event with its timestamp, so a sync fetches only events whose
    timestamp differs from the state's, and events that left the manifest are reported deleted.
    """

    kind = "feed"
    can_detect_deletions = True

    def __init__(
        self,
        location,
        validate_certs=True,
        ca_path=None,
        timeout=DEFAULT_TIMEOUT,
        retries=DEFAULT_RETRIES,
        backoff=DEFAULT_BACKOFF,
        sleep=time.sleep,
    ):
        self.location = location
        self.is_url = urllib.parse.urlsplit(location).scheme in ("http", "https")
        if not self.is_url and not os.path.isdir(location):
            raise SourceError(f"feed_path {location!r} is not a directory")
        self.verify = (ca_path or True) if validate_certs else False
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.deleted = set()
        self.sync_point = None
        self.requests = 0
        self.id = f"feed:{location.rstrip('/')}"
        self._session = None

    def _get(self, name, fallback=None):
        """Read one feed file. ``fallback``: a second name tried when the first is absent (feeds such
        as Infoblox's keep the events in ``events/`` beside ``manifest.json``)."""
        if not self.is_url:
            path = os.path.join(self.location, name)
            if fallback and not os.path.exists(path):
                path = os.path.join(self.location, fallback)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise SourceError(f"cannot read feed file {path}: {exc.strerror}") from None
        else:
            import requests

            if self._session is None:
                self._session = requests.Session()
            url = self.location.rstrip("/") + "/" + name

            def call():
                self.requests += 1
                resp = self._session.get(url, timeout=self.timeout, verify=self.verify)
                if resp.status_code == 404 and fallback:
                    resp = self._session.get(
                        self.location.rstrip("/") + "/" + fallback, timeout=self.timeout, verify=self.verify
                    )
                if resp.status_code >= 500:
                    raise ConnectionError(f"HTTP {resp.status_code} from {url}")
                if resp.status_code != 200:
                    raise _Permanent(f"feed {url} answered HTTP {resp.status_code}")
                return resp.content

            data = _retrying(call, f"feed {url}", self.retries, self.backoff, self.sleep)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise SourceError(f"feed file {name} in {self.location} is not valid JSON: {exc}") from None

    def manifest(self):
        manifest = self._get("manifest.json")
        if not isinstance(manifest, dict):
            raise SourceError(f"manifest.json in {self.location} is not a JSON object")
        return manifest

    def fetch(self, known, since):
        manifest = self.manifest()
        self.deleted = set(known) - set(manifest)
        newest = 0
        for uuid in sorted(manifest):
            meta = manifest[uuid] if isinstance(manifest[uuid], dict) else {}
            try:
                ts = int(meta.get("timestamp") or 0)
            except (TypeError, ValueError):
                ts = 0
            newest = max(newest, ts)
            if since is not None and uuid in known and known[uuid] == ts and ts:
                continue
            if "/" in uuid or uuid.startswith("."):
                raise SourceError(f"manifest.json in {self.location} lists an unsafe event name {uuid!r}")
            event = self._get(uuid + ".json", fallback=f"events/{uuid}.json")
            if not isinstance(event, dict):
                raise SourceError(f"feed event {uuid}.json in {self.location} is not a JSON object")
            ev = event.get("Event", event)
            if isinstance(ev, dict) and not ev.get("uuid"):
                ev["uuid"] = uuid
            if isinstance(ev, dict) and ts:
                ev["timestamp"] = ts  # the manifest's timestamp is the version the next sync compares
            yield event
        self.sync_point = newest
