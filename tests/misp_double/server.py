"""The MISP test double: a small threaded HTTP(S) server speaking the parts of MISP's REST API SOCForge uses.

It is a *test double*, not MISP: see docs/misp-test-double.md for what it models and what it does not.
Start it with ``MispDouble().start()`` (or as a context manager); it binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import socket
import threading
import time
import traceback
import uuid as uuidlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import tls as tlsmod
from .admin import AdminError, AdminStore
from .data import DATASETS, LOCAL_ORG, Builder, Dataset, describe_types, fresh_dataset, iter_attributes, make_tag
from .search import (
    BadFilter,
    Query,
    Warninglists,
    in_range,
    is_true,
    search_attributes,
    search_events,
    time_range,
)

MISP_VERSION = "2.5.2"  # the MISP release the double claims to be (pymisp 2.5.x talks to MISP 2.5)
RECOMMENDED_PYMISP = "2.5.2"
AUTH_FAILED = (
    "Authentication failed. Please make sure you pass the API key of an API enabled user along in the "
    "Authorization header."
)
# Attribute keys never sent to clients (internal bookkeeping).
_INTERNAL = ("_keep_id", "_sightings", "_proposals", "_order")
_EVENT_STUB_KEYS = ("org_id", "distribution", "id", "info", "orgc_id", "uuid", "publish_timestamp")
_EVENT_META_KEYS = (
    "id",
    "org_id",
    "date",
    "info",
    "uuid",
    "published",
    "analysis",
    "attribute_count",
    "orgc_id",
    "timestamp",
    "distribution",
    "sharing_group_id",
    "proposal_email_lock",
    "locked",
    "threat_level_id",
    "publish_timestamp",
    "disable_correlation",
    "extends_uuid",
)


class HttpError(Exception):
    def __init__(self, status: int, name: str, message: str | None = None) -> None:
        super().__init__(name)
        self.status = status
        self.name = name
        self.message = message or name


@dataclass
class RequestRecord:
    """One request the double answered (or refused); appended to ``MispDouble.requests``."""

    method: str
    path: str  # without query string
    query: dict[str, str]
    body: Any  # parsed JSON, raw text when not JSON, None when empty
    headers: dict[str, str]  # Authorization / X-MISP-AUTH replaced by "<redacted>"
    authorized: bool
    status: int = 0
    fault: str | None = None  # the injected fault that answered it, if any
    started: float = 0.0
    duration: float = 0.0
    response: Any = None  # the JSON body sent (None for faults that send no JSON)
    route: str | None = None  # the route template that answered, e.g. /events/view/{eventId}
    spec_path: str | None = None  # the OpenAPI path it was checked against (None: not in the spec)
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return self.body


@dataclass
class Fault:
    kind: str  # "status" | "hang" | "garbage" | "truncate" | "reset"
    status: int = 500
    delay: float | None = None  # hang: seconds before answering normally; None: until the double stops
    remaining: int | None = None  # None: every matching request
    path: re.Pattern[str] | None = None
    hits: int = 0


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    spec_path: str | None  # OpenAPI path template this route answers, None when the spec lacks it
    template: str = ""  # human-readable route, e.g. /shadowAttributes/add/{eventId}

    def __post_init__(self) -> None:
        self.template = self.template or self.spec_path or self.pattern.pattern


class MispDouble:
    """A MISP instance in miniature, loaded with real MISP events.

    Attributes for tests: ``url``, ``key``, ``requests`` (list of :class:`RequestRecord`), ``ca_path``
    (HTTPS only), ``data`` (the live :class:`Dataset`).  Control methods are documented one by one below
    and listed in docs/misp-test-double.md.
    """

    def __init__(
        self,
        *,
        key: str | None = None,
        datasets: Iterable[str] = DATASETS,
        tls: bool = False,
        tls_mode: str = "valid",
        tls_names: Iterable[str] = (),
        port: int = 0,
        host: str = "127.0.0.1",
        now: float | None = None,
        data: Dataset | None = None,
        openapi: str | None = None,
        log_limit: int | None = None,
        keep_responses: bool = True,
    ) -> None:
        """``openapi``: None (no checking), "record" (check every exchange against MISP's OpenAPI spec,
        findings in ``.openapi``) or "strict" (the same; the fixtures then fail the test on a violation).
        ``log_limit`` keeps only the newest N request records and ``keep_responses=False`` drops the
        response bodies from them (for long runs by hand; tests keep everything)."""
        self.key = key or secrets.token_hex(20)  # 40 characters, like a MISP auth key
        self.data = data if data is not None else fresh_dataset(tuple(datasets))
        self.warninglists = Warninglists()
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of bugs in the double itself (answered 500)
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._clock: float | None = now
        self._host = host
        self._port = port
        self._tls = tlsmod.material(tls_mode, tuple(tls_names)) if tls else None
        self._log_limit = log_limit
        self._keep_responses = keep_responses
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if openapi not in (None, "record", "strict"):
            raise ValueError(f"openapi must be None, 'record' or 'strict', got {openapi!r}")
        self.openapi_mode = openapi
        self.openapi = None
        if openapi is not None:
            from .openapi import SpecChecker

            self.openapi = SpecChecker()
        self.admin = AdminStore(LOCAL_ORG, self.key, lambda: self.now, self.data)
        self._caller = "1"
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("MISP double is not running: call start() first")
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def ca_path(self) -> str:
        if self._tls is None:
            raise RuntimeError("MISP double runs plain HTTP: create it with tls=True for a CA")
        return str(self._tls.ca_path)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MispDouble:
        """Listen (again) on 127.0.0.1; after stop() the same port is reused so clients can reconnect."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer((self._host, self._port), _make_handler(self))
        server.daemon_threads = True
        if self._tls is not None:
            context = self._tls.server_context()
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="misp-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: clients then get 'connection refused'.  Hung requests are released."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        # keep-alive connections would otherwise go on being served by their handler threads
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MispDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ clock
    @property
    def now(self) -> int:
        """The double's clock (epoch seconds): real time unless set_time() froze it."""
        return int(self._clock if self._clock is not None else time.time())

    def set_time(self, epoch: float | None) -> None:
        """Freeze the clock used for edit timestamps and relative filters ('30d'); None: real time."""
        self._clock = epoch

    def advance(self, seconds: float) -> int:
        """Move the (frozen) clock forward; freezes it at real time first if needed.  Returns the new now."""
        self._clock = (self._clock if self._clock is not None else time.time()) + seconds
        return self.now

    # ------------------------------------------------------------------ faults
    def fail(self, status: int = 500, *, count: int | None = None, path: str | None = None) -> Fault:
        """Answer matching requests with ``status`` and a MISP-style JSON error (count None: until cleared)."""
        return self._add_fault(Fault("status", status=status, remaining=count, path=_path_re(path)))

    def hang(self, seconds: float | None = None, *, count: int | None = None, path: str | None = None) -> Fault:
        """Delay matching requests by ``seconds`` before answering normally (None: never answer)."""
        return self._add_fault(Fault("hang", delay=seconds, remaining=count, path=_path_re(path)))

    def garbage(self, *, count: int | None = None, path: str | None = None) -> Fault:
        """Answer 200 with an HTML page instead of JSON (what a captive proxy or broken MISP sends)."""
        return self._add_fault(Fault("garbage", status=200, remaining=count, path=_path_re(path)))

    def truncate(self, *, count: int | None = None, path: str | None = None) -> Fault:
        """Answer 200 with the first half of the real JSON body and then close the connection."""
        return self._add_fault(Fault("truncate", status=200, remaining=count, path=_path_re(path)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is not None and not fault.path.search(path):
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                fault.hits += 1
                return fault
        return None

    # ------------------------------------------------------------------ request log
    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RequestRecord]:
        """Logged requests whose path matches ``path_regex`` (re.search), optionally only one method."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if pattern.search(r.path) and (method is None or r.method == method)]

    # ------------------------------------------------------------------ data inspection
    def event(self, ref: int | str) -> dict[str, Any]:
        """The stored event by id or uuid (the live dict: changing it changes what the double serves)."""
        with self._lock:
            event = self._find_event(str(ref))
            if event is None:
                raise KeyError(f"MISP double: no event {ref!r}")
            return event

    def attribute(self, ref: int | str) -> dict[str, Any]:
        """The stored attribute by id or uuid (live dict)."""
        with self._lock:
            found = self._find_attribute(str(ref))
            if found is None:
                raise KeyError(f"MISP double: no attribute {ref!r}")
            return found[0]

    def attributes(self, *, event: int | str | None = None, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All stored attributes (object attributes included), optionally of one event."""
        with self._lock:
            events = [self.event(event)] if event is not None else list(self.data.events.values())
            return [a for e in events for a, _ in iter_attributes(e) if include_deleted or not a["deleted"]]

    @property
    def sightings(self) -> list[dict[str, Any]]:
        return self.data.sightings

    @property
    def proposals(self) -> list[dict[str, Any]]:
        return self.data.proposals

    # ------------------------------------------------------------------ data controls (MISP edit semantics)
    def add_event(self, event: dict[str, Any], *, published: bool | None = None) -> dict[str, Any]:
        """Store a new event (MISP JSON, ``{"Event": ...}`` or bare).  Ids are assigned as MISP does;
        timestamps missing from the JSON are set to now.  Returns the stored event."""
        raw = event.get("Event", event)
        with self._lock:
            if raw.get("uuid") and self._find_event(raw["uuid"]) is not None:
                raise ValueError(f"MISP double: event {raw['uuid']} exists; use replace_event()")
            stored = self._store_event(raw)
            if published is not None:
                stored["published"] = published
                if published and stored["publish_timestamp"] == "0":
                    stored["publish_timestamp"] = str(self.now)
            return stored

    def replace_event(self, event: dict[str, Any], *, bump: bool = True) -> dict[str, Any]:
        """Replace the event with the same uuid by ``event`` (keeping its id and its attributes' ids), as a
        sync would.  With ``bump`` the event and every attribute whose content changed get timestamp=now.
        Attributes missing from ``event`` are gone (a hard delete); use soft_delete_attribute() for
        MISP's soft delete.  Bad input raises ValueError and leaves the stored event untouched."""
        raw = event.get("Event", event)
        with self._lock:
            old = self._find_event(str(raw.get("uuid")))
            if old is None:
                raise KeyError(f"MISP double: no event with uuid {raw.get('uuid')!r} to replace")
            old_attrs = {a["uuid"]: a for a, _ in iter_attributes(old)}
            _check_event(raw)  # before anything is removed: bad input leaves the stored event as it was
            del self.data.events[int(old["id"])]
            try:
                stored = self._store_event(raw, event_id=old["id"], attr_ids={u: a["id"] for u, a in old_attrs.items()})
            except Exception:
                self.data.events[int(old["id"])] = old
                raise
            if bump:
                stamp = str(self.now)
                stored["timestamp"] = stamp
                for attr, _ in iter_attributes(stored):
                    before = old_attrs.get(attr["uuid"])
                    if before is None or _content(before) != _content(attr):
                        attr["timestamp"] = stamp
            return stored

    def delete_event(self, ref: int | str) -> None:
        """Hard-delete an event, as MISP's events/delete does (it then vanishes from every search)."""
        with self._lock:
            event = self.event(ref)
            del self.data.events[int(event["id"])]

    def add_attribute(
        self,
        event: int | str,
        type: str,
        value: str,
        *,
        to_ids: bool = True,
        category: str | None = None,
        tags: Iterable[str] = (),
        comment: str = "",
        object_id: int | str | None = None,
    ) -> dict[str, Any]:
        """Add an attribute as MISP's attributes/add does: timestamps now, event unpublished."""
        with self._lock:
            stored_event = self.event(event)
            builder = self._builder()
            attr = builder.attribute(
                {
                    "type": type,
                    "value": value,
                    "to_ids": to_ids,
                    "category": category or _default_category(type),
                    "comment": comment,
                    "timestamp": self.now,
                    "Tag": [{"name": t} for t in tags],
                },
                keep_ids=False,
            )
            for key in _INTERNAL:
                attr.pop(key, None)
            attr["id"] = self.data.next_id("attribute")
            attr["event_id"] = stored_event["id"]
            if object_id is None:
                stored_event["Attribute"].append(attr)
            else:
                obj = next((o for o in stored_event["Object"] if o["id"] == str(object_id)), None)
                if obj is None:
                    raise KeyError(f"MISP double: event {event} has no object {object_id}")
                attr["object_id"] = obj["id"]
                obj["Attribute"].append(attr)
            self._touch(stored_event)
            return attr

    def edit_attribute(self, ref: int | str, **fields: Any) -> dict[str, Any]:
        """Change attribute fields (``to_ids=False``, ``value=...``, ``type=...``) as an edit in MISP:
        attribute and event timestamp become now and the event is unpublished."""
        with self._lock:
            attr, _, event = self._attribute_or_404(str(ref))
            unknown = set(fields) - {"to_ids", "value", "type", "category", "comment", "distribution", "deleted"}
            if unknown:
                raise ValueError(f"MISP double: edit_attribute cannot set {sorted(unknown)}")
            attr.update(fields)
            attr["timestamp"] = str(self.now)
            self._touch(event)
            return attr

    def set_to_ids(self, ref: int | str, to_ids: bool) -> dict[str, Any]:
        """Set or clear the IDS flag of an attribute (an edit: timestamps bumped, event unpublished)."""
        return self.edit_attribute(ref, to_ids=bool(to_ids))

    def soft_delete_attribute(self, ref: int | str) -> dict[str, Any]:
        """Soft-delete as MISP does: deleted=true, timestamps now, event unpublished; it then only shows up
        in restSearch with ``deleted: 1`` or ``deleted: [0, 1]``."""
        return self.edit_attribute(ref, deleted=True)

    def set_tags(self, ref: int | str, tags: Iterable[str], *, on: str = "auto") -> list[dict[str, Any]]:
        """Replace the tags of an event or attribute (``on``: "event", "attribute" or "auto": try the
        event first).  Bumps timestamps like a MISP edit."""
        with self._lock:
            target, event = self._tag_target(str(ref), on)
            target["Tag"] = [make_tag({"name": t}) for t in tags]
            if target is not event:
                target["timestamp"] = str(self.now)
            self._touch(event)
            return target["Tag"]

    def add_tag(self, ref: int | str, tag: str, *, on: str = "auto") -> None:
        with self._lock:
            target, _ = self._tag_target(str(ref), on)
            names = [t["name"] for t in target["Tag"]]
            if tag not in names:
                self.set_tags(ref, [*names, tag], on=on)

    def remove_tag(self, ref: int | str, tag: str, *, on: str = "auto") -> None:
        with self._lock:
            target, _ = self._tag_target(str(ref), on)
            self.set_tags(ref, [t["name"] for t in target["Tag"] if t["name"] != tag], on=on)

    def publish_event(self, ref: int | str) -> dict[str, Any]:
        """Publish: published=true, publish_timestamp=now (the 'last'/'publish_timestamp' filters see it)."""
        with self._lock:
            event = self.event(ref)
            event["published"] = True
            event["publish_timestamp"] = str(self.now)
            return event

    def unpublish_event(self, ref: int | str) -> dict[str, Any]:
        with self._lock:
            event = self.event(ref)
            event["published"] = False
            return event

    def add_warninglist(self, name: str, values: Iterable[str], list_type: str = "string") -> None:
        """Enable a warninglist: values on it are dropped by restSearch when enforceWarninglist is set.
        ``list_type``: string (exact), hostname (the value or a parent domain) or cidr."""
        with self._lock:
            self.warninglists.add(name, values, list_type)

    def add_server(self, name: str, url: str, *, pull: bool = True, push: bool = False) -> dict[str, Any]:
        """Add a sync server to /servers/index (the double never contacts it)."""
        with self._lock:
            server = {
                "id": str(len(self.data.servers) + 1),
                "name": name,
                "url": url,
                "push": push,
                "pull": pull,
                "push_sightings": False,
                "caching_enabled": False,
                "remote_org_id": LOCAL_ORG["id"],
                "self_signed": False,
                "internal": False,
                "skip_proxy": False,
                "priority": str(len(self.data.servers) + 1),
            }
            self.data.servers.append(server)
            return server

    # ------------------------------------------------------------------ internals: data
    def _builder(self) -> Builder:
        builder = Builder()
        builder.ds = self.data  # reuse org registry and id counters
        builder.org_ids = {int(o["id"]) for o in self.data.orgs.values()}
        for kind in builder.used:
            builder.used[kind] = set()
        builder.used["sighting"] = {int(s["id"]) for s in self.data.sightings}
        return builder

    def _store_event(
        self, raw: dict[str, Any], event_id: str | None = None, attr_ids: dict[str, str] | None = None
    ) -> dict[str, Any]:
        _check_event(raw)
        raw = copy.deepcopy(raw)
        stamp = str(self.now)
        raw.setdefault("timestamp", stamp)
        for attr in [
            *(raw.get("Attribute") or []),
            *(a for o in raw.get("Object") or [] for a in o.get("Attribute") or []),
        ]:
            attr.setdefault("timestamp", raw["timestamp"])
            attr.pop("id", None)
            attr.pop("event_id", None)
        raw.pop("id", None)
        builder = self._builder()
        event = builder.add_event(raw, keep_ids=False)
        event["_keep_id"] = event_id
        for attr, _ in iter_attributes(event):
            attr["_keep_id"] = (attr_ids or {}).get(attr["uuid"])
        for obj in event["Object"]:
            obj["_keep_id"] = None
        builder.finish([event])
        return event

    def _touch(self, event: dict[str, Any]) -> None:
        event["timestamp"] = str(self.now)
        event["published"] = False
        event["attribute_count"] = str(sum(1 for a, _ in iter_attributes(event) if not a["deleted"]))

    def _find_event(self, ref: str) -> dict[str, Any] | None:
        if ref.isdigit():
            return self.data.events.get(int(ref))
        return next((e for e in self.data.events.values() if e["uuid"] == ref), None)

    def _find_attribute(self, ref: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]] | None:
        key = "id" if ref.isdigit() else "uuid"
        for event in self.data.events.values():
            for attr, obj in iter_attributes(event):
                if attr[key] == ref:
                    return attr, obj, event
        return None

    def _attribute_or_404(self, ref: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        found = self._find_attribute(ref)
        if found is None:
            raise HttpError(404, "Invalid attribute", f"Invalid attribute {ref}")
        return found

    def _tag_target(self, ref: str, on: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if on not in ("auto", "event", "attribute"):
            raise ValueError(f"on must be auto, event or attribute, got {on!r}")
        if on in ("auto", "event"):
            event = self._find_event(ref)
            if event is not None:
                return event, event
            if on == "event":
                raise KeyError(f"MISP double: no event {ref!r}")
        found = self._find_attribute(ref)
        if found is None:
            raise KeyError(f"MISP double: no attribute {ref!r}")
        return found[0], found[2]

    # ------------------------------------------------------------------ internals: rendering
    def _tags(self, tags: list[dict[str, Any]], inherited: bool = False) -> list[dict[str, Any]]:
        out = []
        for tag in tags:
            rendered = {
                "id": self.data.tag_id(tag["name"]),
                "name": tag["name"],
                "colour": tag["colour"],
                "exportable": tag["exportable"],
                "user_id": "0",
                "hide_tag": tag["hide_tag"],
                "numerical_value": None,
                "is_galaxy": tag["name"].startswith("misp-galaxy:"),
                "is_custom_galaxy": False,
                "local_only": False,
                "local": 1 if tag["local"] else 0,
            }
            if inherited:
                rendered["inherited"] = 1
            out.append(rendered)
        return out

    def _attribute_json(
        self,
        attr: dict[str, Any],
        event: dict[str, Any],
        *,
        with_event: bool = False,
        query: Query | None = None,
        obj: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = {k: v for k, v in attr.items() if k not in _INTERNAL and k != "Tag"}
        if with_event:
            out["Event"] = {k: event[k] for k in _EVENT_STUB_KEYS}
            if obj is not None:
                out["Object"] = {k: obj[k] for k in ("id", "distribution", "sharing_group_id")}
        tags = self._tags(attr["Tag"])
        if query is not None and query.include_event_tags:
            own = {t["name"] for t in attr["Tag"]}
            tags += self._tags([t for t in event["Tag"] if t["name"] not in own], inherited=True)
        if tags:
            out["Tag"] = tags
        if query is not None and query.include_event_uuid:
            out["event_uuid"] = event["uuid"]
        if query is not None and query.include_sightings:
            out["Sighting"] = [s for s in self.data.sightings if s["attribute_id"] == attr["id"]]
        if not with_event:
            out["ShadowAttribute"] = [_proposal_json(p) for p in self.data.proposals if p["old_id"] == attr["id"]]
        return out

    def _event_json(self, event: dict[str, Any], query: Query | None = None) -> dict[str, Any]:
        out = {k: v for k, v in event.items() if k not in _INTERNAL and k not in ("Attribute", "Object", "Tag")}
        out["Tag"] = self._tags(event["Tag"])
        if query is not None and query.metadata:
            return out

        def keep(attr: dict[str, Any]) -> bool:
            """Which attributes a returned event carries: MISP applies deleted, to_ids and the
            warninglists to the event's attributes; the other filters only select events."""
            if query is None:
                return not attr["deleted"]
            if attr["deleted"] not in query.deleted:
                return False
            if query.to_ids is not None and attr["to_ids"] not in query.to_ids:
                return False
            return not (query.enforce_warninglist and self.warninglists.hits(attr["type"], attr["value"]))

        out["Attribute"] = [self._attribute_json(a, event, query=query) for a in event["Attribute"] if keep(a)]
        out["Object"] = []
        for obj in event["Object"]:
            rendered = {k: v for k, v in obj.items() if k not in _INTERNAL and k != "Attribute"}
            rendered["Attribute"] = [self._attribute_json(a, event, query=query) for a in obj["Attribute"] if keep(a)]
            out["Object"].append(rendered)
        out["ShadowAttribute"] = [
            _proposal_json(p) for p in self.data.proposals if p["event_id"] == event["id"] and p["old_id"] == "0"
        ]
        return out

    def _event_meta_json(self, event: dict[str, Any]) -> dict[str, Any]:
        out = {k: event[k] for k in _EVENT_META_KEYS}
        out["Org"] = dict(event["Org"])
        out["Orgc"] = dict(event["Orgc"])
        out["EventTag"] = [
            {"id": str(i), "event_id": event["id"], "tag_id": t["id"], "local": bool(t["local"]), "Tag": t}
            for i, t in enumerate(self._tags(event["Tag"]), start=1)
        ]
        return out

    # ------------------------------------------------------------------ routes
    def _build_routes(self) -> list[_Route]:
        r = _Route
        ident = r"(?P<ref>[0-9]+|[0-9a-fA-F-]{36})"
        shadow = r"/(?:shadowAttributes|shadow_attributes)"
        routes = [
            r("GET", re.compile(r"/servers/getVersion"), self._h_version, "/servers/getVersion"),
            r("GET", re.compile(r"/servers/getPyMISPVersion"), self._h_pymisp_version, "/servers/getPyMISPVersion"),
            r("GET", re.compile(r"/users/view/(?P<ref>me|1)"), self._h_me, None, "/users/view/me"),
            r("GET", re.compile(r"/attributes/describeTypes"), self._h_describe_types, "/attributes/describeTypes"),
            r("POST", re.compile(r"/attributes/restSearch"), self._h_attr_search, "/attributes/restSearch"),
            r("POST", re.compile(r"/events/restSearch"), self._h_event_search, "/events/restSearch"),
            r("GET", re.compile(r"/events/view/" + ident), self._h_event_view, "/events/view/{eventId}"),
            r("HEAD", re.compile(r"/events/view/" + ident), self._h_event_view, None, "/events/view/{eventId}"),
            r("GET", re.compile(r"/events(?:/index)?"), self._h_event_index, "/events"),
            r("POST", re.compile(r"/events/index"), self._h_event_index, "/events/index"),
            r("POST", re.compile(r"/events/publish/" + ident), self._h_publish, "/events/publish/{eventId}"),
            r("GET", re.compile(r"/attributes/view/" + ident), self._h_attr_view, "/attributes/view/{attributeId}"),
            r(
                "HEAD",
                re.compile(r"/attributes/view/" + ident),
                self._h_attr_view,
                None,
                "/attributes/view/{attributeId}",
            ),
            r(
                "POST",
                re.compile(r"/attributes/delete/" + ident),
                self._h_attr_delete,
                None,
                "/attributes/delete/{attributeId}",
            ),
            r("POST", re.compile(r"/sightings/add"), self._h_sighting_add, "/sightings/add"),
            r("POST", re.compile(r"/sightings/add/" + ident), self._h_sighting_add, "/sightings/add/{attributeId}"),
            r(
                "POST",
                re.compile(r"/sightings/restSearch(?:/(?P<context>attribute|event))?"),
                self._h_sighting_search,
                None,
                "/sightings/restSearch",
            ),
            r("GET", re.compile(r"/sightings/index/" + ident), self._h_sighting_index, "/sightings/index/{eventId}"),
            r(
                "POST",
                re.compile(r"/sightings/(?:listSightings|index)"),
                self._h_sighting_list,
                None,
                "/sightings/listSightings",
            ),
            r(
                "POST",
                re.compile(shadow + r"/add/" + ident),
                self._h_proposal_add,
                None,
                "/shadowAttributes/add/{eventId}",
            ),
            r(
                "GET",
                re.compile(shadow + r"/index(?:/" + ident + ")?"),
                self._h_proposal_index,
                None,
                "/shadowAttributes/index",
            ),
            r(
                "GET",
                re.compile(shadow + r"/view/(?P<ref>[0-9]+)"),
                self._h_proposal_view,
                None,
                "/shadowAttributes/view/{proposalId}",
            ),
            r(
                "POST",
                re.compile(shadow + r"/edit/" + ident),
                self._h_proposal_edit,
                None,
                "/shadowAttributes/edit/{attributeId}",
            ),
            r(
                "POST",
                re.compile(shadow + r"/delete/" + ident),
                self._h_proposal_delete,
                None,
                "/shadowAttributes/delete/{attributeId}",
            ),
            r(
                "POST",
                re.compile(shadow + r"/(?P<action>accept|discard)/(?P<ref>[0-9]+)"),
                self._h_proposal_decide,
                None,
                "/shadowAttributes/{accept|discard}/{proposalId}",
            ),
            r("GET", re.compile(r"/servers(?:/index)?"), self.admin.h_servers, "/servers"),
            r("GET", re.compile(r"/feeds(?:/index)?"), self.admin.h_feeds, "/feeds"),
            r("GET", re.compile(r"/tags(?:/index)?"), self._h_tags, "/tags"),
        ]
        a = self.admin
        num = r"(?P<ref>[0-9]+)"
        sg = r"/(?:sharing_groups|sharingGroups)"
        routes += [
            r("GET", re.compile(r"/users/view/(?P<ref>[0-9]+)"), a.h_user_view, None, "/users/view/{userId}"),
            r("GET", re.compile(r"/organisations(?:/index)?"), a.h_org_index, None, "/organisations/index"),
            r("GET", re.compile(r"/organisations/view/" + ident), a.h_org_view, None, "/organisations/view/{orgId}"),
            r("POST", re.compile(r"/admin/organisations/add"), a.h_org_add, None, "/admin/organisations/add"),
            r(
                "POST",
                re.compile(r"/admin/organisations/edit/" + ident),
                a.h_org_edit,
                None,
                "/admin/organisations/edit/{orgId}",
            ),
            r(
                "POST",
                re.compile(r"/admin/organisations/delete/" + ident),
                a.h_org_delete,
                None,
                "/admin/organisations/delete/{orgId}",
            ),
            r("GET", re.compile(r"/roles(?:/index)?"), a.h_roles, None, "/roles/index"),
            r("GET", re.compile(r"/admin/users(?:/index)?"), a.h_users, None, "/admin/users/index"),
            r("POST", re.compile(r"/admin/users/add"), a.h_user_add, None, "/admin/users/add"),
            r("POST", re.compile(r"/admin/users/edit/" + num), a.h_user_edit, None, "/admin/users/edit/{userId}"),
            r("POST", re.compile(r"/admin/users/delete/" + num), a.h_user_delete, None, "/admin/users/delete/{userId}"),
            r("POST", re.compile(r"/auth_keys/add/" + num), a.h_authkey_add, None, "/auth_keys/add/{userId}"),
            r("POST", re.compile(r"/servers/add"), a.h_server_add, None, "/servers/add"),
            r("POST", re.compile(r"/servers/edit/" + num), a.h_server_edit, None, "/servers/edit/{serverId}"),
            r("POST", re.compile(r"/servers/delete/" + num), a.h_server_delete, None, "/servers/delete/{serverId}"),
            r("GET", re.compile(r"/feeds/view/" + num), a.h_feed_view, None, "/feeds/view/{feedId}"),
            r("POST", re.compile(r"/feeds/add"), a.h_feed_add, None, "/feeds/add"),
            r("POST", re.compile(r"/feeds/edit/" + num), a.h_feed_edit, None, "/feeds/edit/{feedId}"),
            r("POST", re.compile(r"/feeds/delete/" + num), a.h_feed_delete, None, "/feeds/delete/{feedId}"),
            r(
                "GET",
                re.compile(r"/servers/getSetting/(?P<name>[A-Za-z0-9_.]+)"),
                a.h_setting_get,
                None,
                "/servers/getSetting/{setting}",
            ),
            r(
                "POST",
                re.compile(r"/servers/serverSettingsEdit/(?P<name>[A-Za-z0-9_.]+)"),
                a.h_setting_edit,
                None,
                "/servers/serverSettingsEdit/{setting}",
            ),
            r("POST", re.compile(r"/tags/add"), a.h_tag_add, None, "/tags/add"),
            r("POST", re.compile(r"/tags/edit/" + num), a.h_tag_edit, None, "/tags/edit/{tagId}"),
            r("POST", re.compile(r"/tags/delete/" + num), a.h_tag_delete, None, "/tags/delete/{tagId}"),
            r("POST", re.compile(r"/tags/search"), a.h_tag_search, None, "/tags/search"),
            r("GET", re.compile(sg + r"(?:/index)?"), a.h_sg_index, None, "/sharing_groups/index"),
            r("GET", re.compile(sg + r"/view/" + ident), a.h_sg_view, None, "/sharing_groups/view/{sgId}"),
            r("POST", re.compile(sg + r"/add"), a.h_sg_add, None, "/sharing_groups/add"),
            r("POST", re.compile(sg + r"/edit/" + ident), a.h_sg_edit, None, "/sharing_groups/edit/{sgId}"),
            r("POST", re.compile(sg + r"/delete/" + ident), a.h_sg_delete, None, "/sharing_groups/delete/{sgId}"),
            r(
                "POST",
                re.compile(sg + r"/(?P<action>addOrg|removeOrg|addServer|removeServer)"),
                a.h_sg_member,
                None,
                "/sharing_groups/{member action}",
            ),
        ]
        return routes

    def route(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        """The route answering ``method path`` and its path parameters, or None (404)."""
        path = _normalise_path(path)
        for route in self._routes:
            if route.method != method:
                continue
            match = route.pattern.fullmatch(path)
            if match:
                return route, {k: v for k, v in match.groupdict().items() if v is not None}
        return None

    # Handlers return (status, json_body, extra_headers).
    def _h_version(self, **_: Any) -> Any:
        return {
            "version": MISP_VERSION,
            "pymisp_recommended_version": RECOMMENDED_PYMISP,
            "perm_sync": True,
            "perm_sighting": True,
            "perm_galaxy_editor": False,
            "request_encoding": [],
            "filter_sightings": True,
        }

    def _h_pymisp_version(self, **_: Any) -> Any:
        return {"version": RECOMMENDED_PYMISP}

    def _h_me(self, **_: Any) -> Any:
        if self._caller != "1":  # a user made through the admin endpoints, with its own key
            user = self.admin.users[self._caller]
            role = next(r["Role"] for r in self.admin.h_roles() if r["Role"]["id"] == user["role_id"])
            org = self.admin.orgs.get(user["org_id"], dict(LOCAL_ORG))
            return {"User": self.admin._user_full(user), "Role": role, "UserSetting": [], "Organisation": dict(org)}
        return {
            "User": {
                "id": "1",
                "org_id": LOCAL_ORG["id"],
                "email": "admin@socforge.test",
                "autoalert": False,
                "invited_by": "0",
                "gpgkey": None,
                "certif_public": "",
                "nids_sid": "4000000",
                "termsaccepted": True,
                "newsread": "0",
                "role_id": "1",
                "change_pw": False,
                "contactalert": False,
                "disabled": False,
                "expiration": None,
                "current_login": "0",
                "last_login": "0",
                "force_logout": False,
                "date_created": "0",
                "date_modified": "0",
                "last_api_access": str(self.now),
            },
            "Role": {
                "id": "1",
                "name": "admin",
                "perm_add": True,
                "perm_modify": True,
                "perm_modify_org": True,
                "perm_publish": True,
                "perm_sync": True,
                "perm_admin": True,
                "perm_audit": True,
                "perm_auth": True,
                "perm_site_admin": True,
                "perm_regexp_access": True,
                "perm_tagger": True,
                "perm_template": True,
                "perm_sharing_group": True,
                "perm_tag_editor": True,
                "perm_sighting": True,
                "perm_object_template": True,
                "default_role": False,
                "memory_limit": "",
                "max_execution_time": "",
                "restricted_to_site_admin": False,
                "perm_publish_zmq": True,
                "perm_publish_kafka": True,
                "perm_decaying": True,
                "enforce_rate_limit": False,
                "rate_limit_count": "0",
                "perm_galaxy_editor": True,
                "perm_warninglist": True,
                "perm_view_feed_correlations": True,
                "permission": "3",
                "permission_description": "publish",
            },
            "UserSetting": [],
            "Organisation": dict(LOCAL_ORG),
        }

    def _h_describe_types(self, **_: Any) -> Any:
        return {"result": describe_types()}

    def _h_attr_search(self, body: Any, **_: Any) -> Any:
        query = Query(body if body is not None else {}, self.now, "attributes")
        found = search_attributes(self.data, query, self.warninglists)
        page = query.paginate(found)
        attrs = [self._attribute_json(a, e, with_event=True, query=query, obj=o) for a, o, e in page]
        # MISP's restSearch counts the elements it exported (this page), not all matches
        return 200, {"response": {"Attribute": attrs}}, _result_headers(len(page))

    def _h_event_search(self, body: Any, **_: Any) -> Any:
        query = Query(body if body is not None else {}, self.now, "events")
        found = search_events(self.data, query, self.warninglists)
        page = query.paginate(found)
        return 200, {"response": [{"Event": self._event_json(e, query)} for e in page]}, _result_headers(len(page))

    def _h_event_view(self, ref: str, **_: Any) -> Any:
        event = self._find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        return {"Event": self._event_json(event)}

    def _h_event_index(self, body: Any = None, **_: Any) -> Any:
        params = dict(body) if isinstance(body, dict) else {}
        # events/index names some filters differently from restSearch
        for old, new in (("datefrom", "from"), ("dateuntil", "to"), ("attribute", "value")):
            if old in params:
                params[new] = params.pop(old)
        minimal = is_true(params.pop("minimal", 0))
        sort, direction = params.pop("sort", None), params.pop("direction", "asc")
        params.pop("desc", None)  # pymisp's own argument, already turned into "direction"
        query = Query({k: v for k, v in params.items() if v is not None}, self.now, "events")
        found = search_events(self.data, query, self.warninglists)
        if sort:
            if sort not in _EVENT_META_KEYS:
                raise BadFilter(f"sort: unknown field {sort!r}")
            found.sort(key=lambda e: _sort_key(e[sort]), reverse=direction == "desc")
        page = query.paginate(found)
        if minimal:
            rows = [
                {k: e[k] for k in ("id", "timestamp", "sighting_timestamp", "published", "uuid") if k in e}
                for e in page
            ]
        else:
            rows = [self._event_meta_json(e) for e in page]
        return 200, rows, {"X-Result-Count": str(len(found))}  # events/index: MISP's absolute total

    def _h_publish(self, ref: str, **_: Any) -> Any:
        event = self._find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        self.publish_event(event["id"])
        return {"name": "Publish", "message": "Job queued", "url": f"/events/publish/{event['id']}", "id": event["id"]}

    def _h_attr_view(self, ref: str, **_: Any) -> Any:
        attr, _obj, event = self._attribute_or_404(ref)
        if attr["deleted"]:
            raise HttpError(404, "Invalid attribute", f"Invalid attribute {ref}")
        return {"Attribute": self._attribute_json(attr, event)}

    def _h_attr_delete(self, ref: str, body: Any = None, **_: Any) -> Any:
        attr, obj, event = self._attribute_or_404(ref)
        if isinstance(body, dict) and is_true(body.get("hard", 0)):
            container = obj["Attribute"] if obj is not None else event["Attribute"]
            container.remove(attr)
            self._touch(event)
        else:
            if attr["deleted"]:
                raise HttpError(404, "Invalid attribute", f"Attribute {ref} already deleted")
            self.soft_delete_attribute(attr["id"])
        return {
            "saved": True,
            "success": True,
            "name": "Attribute deleted.",
            "message": "Attribute deleted.",
            "url": f"/attributes/delete/{ref}",
        }

    def _h_sighting_add(self, body: Any, ref: str | None = None, **_: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        body = body.get("Sighting", body)
        stype = str(body.get("type", "0"))
        if stype not in ("0", "1", "2"):
            raise BadFilter(
                f"type: sighting type must be 0 (sighting), 1 (false positive) or 2 (expiration), got {stype!r}"
            )
        when = body.get("timestamp") or body.get("date_sighting") or self.now
        targets: list[tuple[dict[str, Any], dict[str, Any]]] = []
        ident = ref or body.get("id") or body.get("uuid")
        if ident:
            attr, _obj, event = self._attribute_or_404(str(ident))
            targets.append((attr, event))
        else:
            values = body.get("values") or ([body["value"]] if body.get("value") else [])
            if not values:
                raise BadFilter("value: a sighting needs an attribute id/uuid, a value or values")
            wanted = {str(v).strip() for v in values}
            for event in self.data.events.values():
                for attr, _obj in iter_attributes(event):
                    if not attr["deleted"] and str(attr["value"]) in wanted:
                        targets.append((attr, event))
            if not targets:
                raise HttpError(404, "No valid attributes found that match the criteria.")
        created = []
        for attr, event in targets:
            sighting = {
                "id": self.data.next_id("sighting"),
                "attribute_id": attr["id"],
                "event_id": event["id"],
                "org_id": LOCAL_ORG["id"],
                "date_sighting": str(int(float(when))),
                "uuid": str(uuidlib.uuid4()),
                "source": str(body.get("source") or ""),
                "type": stype,
                "attribute_uuid": attr["uuid"],
                "Organisation": dict(LOCAL_ORG),
            }
            self.data.sightings.append(sighting)
            event["sighting_timestamp"] = sighting["date_sighting"]
            created.append(sighting)
        if len(created) == 1:
            return {"Sighting": dict(created[0])}
        return {
            "saved": True,
            "success": True,
            "name": f"{len(created)} sightings successfully added.",
            "message": f"{len(created)} sightings successfully added.",
            "url": "/sightings/add",
        }

    def _h_sighting_search(self, body: Any, context: str | None = None, **_: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        rows = list(self.data.sightings)
        ident = body.get("id")
        if context and ident is None:
            raise BadFilter(f"id: sightings/restSearch/{context} needs an id")
        if context == "attribute":
            attr, _o, _e = self._attribute_or_404(str(ident))
            rows = [s for s in rows if s["attribute_id"] == attr["id"]]
        elif context == "event":
            event = self._find_event(str(ident))
            if event is None:
                raise HttpError(404, "Invalid event", "Invalid event")
            rows = [s for s in rows if s["event_id"] == event["id"]]
        if body.get("type") not in (None, ""):
            rows = [s for s in rows if s["type"] == str(body["type"])]
        if body.get("org_id") not in (None, ""):
            rows = [s for s in rows if s["org_id"] == str(body["org_id"])]
        if body.get("source") not in (None, ""):
            rows = [s for s in rows if s["source"] == body["source"]]
        bounds = time_range("last", body.get("last"), self.now)
        low = time_range("from", body.get("from"), self.now)
        high = time_range("to", body.get("to"), self.now)
        rows = [
            s
            for s in rows
            if in_range(s["date_sighting"], bounds)
            and (low is None or float(s["date_sighting"]) >= low[0])
            and (high is None or float(s["date_sighting"]) <= high[0])
        ]
        out = []
        for s in rows:
            entry = dict(s)
            if is_true(body.get("includeAttribute", 0)) or is_true(body.get("includeEvent", 0)):
                found = self._find_attribute(s["attribute_id"])
                if found is not None and is_true(body.get("includeAttribute", 0)):
                    entry["Attribute"] = self._attribute_json(found[0], found[2])
                if found is not None and is_true(body.get("includeEvent", 0)):
                    entry["Event"] = {k: found[2][k] for k in _EVENT_META_KEYS}
            out.append({"Sighting": entry})
        return out

    def _h_sighting_list(self, body: Any, **_: Any) -> Any:
        """pymisp sightings(): POST {context: attribute|event, id, org_id} (no context: all sightings)."""
        body = body if isinstance(body, dict) else {}
        context = body.get("context")
        if context not in (None, "", "attribute", "event"):
            raise BadFilter(f"context: must be attribute or event, got {context!r}")
        payload = {k: body[k] for k in ("id", "org_id") if body.get(k) not in (None, "")}
        rows = self._h_sighting_search(payload, context=context or None)
        return rows

    def _h_sighting_index(self, ref: str, **_: Any) -> Any:
        event = self._find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        return [dict(s) for s in self.data.sightings if s["event_id"] == event["id"]]

    def _h_proposal_add(self, ref: str, body: Any, **_: Any) -> Any:
        event = self._find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        body = body if isinstance(body, dict) else {}
        body = body.get("ShadowAttribute", body.get("Attribute", body))
        for required in ("type", "value"):
            if not body.get(required):
                raise BadFilter(f"{required}: a proposal needs an attribute {required}")
        proposal = self._new_proposal(event, body)
        return {"ShadowAttribute": _proposal_json(proposal)}

    def _new_proposal(self, event: dict[str, Any], fields: dict[str, Any], old_id: str = "0") -> dict[str, Any]:
        proposal = {
            "id": self.data.next_id("proposal"),
            "old_id": old_id,
            "event_id": event["id"],
            "type": fields["type"],
            "category": fields.get("category") or _default_category(fields["type"]),
            "value": str(fields["value"]),
            "to_ids": bool(fields.get("to_ids", True)),
            "uuid": str(fields.get("uuid") or uuidlib.uuid4()),
            "comment": str(fields.get("comment") or ""),
            "org_id": LOCAL_ORG["id"],
            "event_uuid": event["uuid"],
            "deleted": False,
            "proposal_to_delete": bool(fields.get("proposal_to_delete", False)),
            "disable_correlation": bool(fields.get("disable_correlation", False)),
            "timestamp": str(self.now),
            "first_seen": fields.get("first_seen"),
            "last_seen": fields.get("last_seen"),
            "Org": dict(LOCAL_ORG),
        }
        self.data.proposals.append(proposal)
        return proposal

    def _h_proposal_edit(self, ref: str, body: Any, **_: Any) -> Any:
        """Propose a change to an existing attribute (e.g. to_ids off for noisy intel)."""
        attr, _obj, event = self._attribute_or_404(ref)
        body = body if isinstance(body, dict) else {}
        body = body.get("ShadowAttribute", body.get("Attribute", body))
        unknown = set(body) - {
            "type",
            "category",
            "value",
            "to_ids",
            "comment",
            "first_seen",
            "last_seen",
            "uuid",
            "id",
            "event_id",
            "disable_correlation",
            "timestamp",
            "distribution",
            "object_id",
            "object_relation",
            "sharing_group_id",
            "deleted",
        }
        if unknown:
            raise BadFilter(f"{sorted(unknown)[0]}: not a field an attribute proposal can change")
        fields = {k: attr[k] for k in ("type", "category", "value", "to_ids", "comment", "first_seen", "last_seen")}
        fields.update({k: body[k] for k in ("type", "category", "value", "to_ids", "comment") if k in body})
        fields["uuid"] = attr["uuid"]
        return {"ShadowAttribute": _proposal_json(self._new_proposal(event, fields, old_id=attr["id"]))}

    def _h_proposal_delete(self, ref: str, **_: Any) -> Any:
        """Propose the deletion of an existing attribute."""
        attr, _obj, event = self._attribute_or_404(ref)
        fields = {k: attr[k] for k in ("type", "category", "value", "to_ids", "comment", "uuid")}
        fields["proposal_to_delete"] = True
        self._new_proposal(event, fields, old_id=attr["id"])
        message = "The proposal to delete the attribute has been saved."
        return {
            "saved": True,
            "success": True,
            "name": message,
            "message": message,
            "url": f"/shadowAttributes/delete/{ref}",
        }

    def _h_proposal_decide(self, ref: str, action: str, **_: Any) -> Any:
        """accept: apply the proposal as a MISP edit would (timestamps now, event unpublished); discard: drop it."""
        proposal = next((p for p in self.data.proposals if p["id"] == ref and not p["deleted"]), None)
        if proposal is None:
            raise HttpError(404, "Invalid proposal", "Invalid proposal")
        if action == "accept":
            event = self._find_event(proposal["event_id"])
            if event is None:
                raise HttpError(404, "Invalid event", "Invalid event")
            if proposal["old_id"] == "0":
                self.add_attribute(
                    event["id"],
                    proposal["type"],
                    proposal["value"],
                    to_ids=proposal["to_ids"],
                    category=proposal["category"],
                    comment=proposal["comment"],
                )
            elif proposal["proposal_to_delete"]:
                self.soft_delete_attribute(proposal["old_id"])
            else:
                self.edit_attribute(
                    proposal["old_id"],
                    **{k: proposal[k] for k in ("type", "category", "value", "to_ids", "comment")},
                )
        self.data.proposals.remove(proposal)
        message = "Proposal accepted." if action == "accept" else "Proposal discarded."
        return {
            "saved": True,
            "success": True,
            "name": message,
            "message": message,
            "url": f"/shadowAttributes/{action}/{ref}",
        }

    def _h_proposal_index(self, ref: str | None = None, **_: Any) -> Any:
        rows = [p for p in self.data.proposals if not p["deleted"]]
        if ref is not None:
            event = self._find_event(ref)
            if event is None:
                raise HttpError(404, "Invalid event", "Invalid event")
            rows = [p for p in rows if p["event_id"] == event["id"]]
        return [{"ShadowAttribute": _proposal_json(p)} for p in rows]

    def _h_proposal_view(self, ref: str, **_: Any) -> Any:
        for proposal in self.data.proposals:
            if proposal["id"] == ref:
                return {"ShadowAttribute": _proposal_json(proposal)}
        raise HttpError(404, "Invalid proposal", "Invalid proposal")

    def _h_servers(self, **_: Any) -> Any:
        return [
            {
                "Server": dict(s),
                "Organisation": dict(LOCAL_ORG),
                "RemoteOrg": dict(LOCAL_ORG),
                "User": [],
            }
            for s in self.data.servers
        ]

    def _h_feeds(self, **_: Any) -> Any:
        return [{"Feed": dict(f)} for f in self.data.feeds]

    def _h_tags(self, **_: Any) -> Any:
        counts: dict[str, list[int]] = {}
        for event in self.data.events.values():
            for tag in event["Tag"]:
                counts.setdefault(tag["name"], [0, 0])[0] += 1
            for attr, _ in iter_attributes(event):
                for tag in attr["Tag"]:
                    counts.setdefault(tag["name"], [0, 0])[1] += 1
        tags = []
        for name in sorted(counts, key=lambda n: int(self.data.tag_id(n))):
            rendered = self._tags([make_tag({"name": name})])[0]
            rendered.pop("local")
            rendered["count"] = counts[name][0]
            rendered["attribute_count"] = counts[name][1]
            rendered["favourite"] = False
            tags.append(rendered)
        return {"Tag": tags}

    # ------------------------------------------------------------------ dispatch (called by the handler)
    def _dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, Any, dict[str, str], RequestRecord, Fault | None]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        key = headers.get("authorization") or headers.get("x-misp-auth") or ""
        caller = self.admin.user_for_key(key.strip())
        authorized = caller is not None
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = raw_body.decode("utf-8", "replace")
        record = RequestRecord(
            method=method,
            path=path,
            query=dict(parse_qsl(parts.query)),
            body=body,
            headers={k: ("<redacted>" if k in ("authorization", "x-misp-auth") else v) for k, v in headers.items()},
            authorized=authorized,
            started=time.time(),
        )
        with self._lock:
            self.requests.append(record)
            if self._log_limit is not None and len(self.requests) > self._log_limit:
                del self.requests[: len(self.requests) - self._log_limit]
        fault = self._take_fault(path)
        if fault is not None and fault.kind == "status":
            record.fault = "status"
            return fault.status, _error(fault.status, f"Injected failure {fault.status}", path), {}, record, fault
        if fault is not None and fault.kind == "hang":
            record.fault = "hang"
            self._stopping.wait(fault.delay)  # None: until the double stops
            if self._stopping.is_set():
                return 0, None, {}, record, fault
        if not authorized:
            return 403, _error(403, AUTH_FAILED, path), {}, record, fault
        found = self.route(method, path)
        if found is None:
            allowed = [r.method for r in self._routes if r.pattern.fullmatch(_normalise_path(path))]
            if allowed:
                return (
                    405,
                    _error(405, f"Method {method} not allowed here; use {', '.join(sorted(set(allowed)))}", path),
                    {},
                    record,
                    fault,
                )
            return (
                404,
                _error(404, f"the MISP double does not serve {method} {path}", path),
                {},
                record,
                fault,
            )
        route, params = found
        record.route, record.spec_path, record.path_params = route.template, route.spec_path, params
        if isinstance(body, str):
            return 400, _error(400, "request body is not valid JSON", path), {}, record, fault
        try:
            with self._lock:
                self._caller = caller["id"]
                result = route.handler(body=body, **params)
        except BadFilter as exc:
            return 400, _error(400, str(exc), path), {}, record, fault
        except HttpError as exc:
            return exc.status, {"name": exc.name, "message": exc.message, "url": path}, {}, record, fault
        except AdminError as exc:
            return exc.status, exc.body, {}, record, fault
        except Exception as exc:  # a bug in the double: answer 500 and keep it for the fixture to report
            with self._lock:
                self.errors.append(f"{method} {path}: {traceback.format_exc()}")
            record.fault = "internal"
            return 500, _error(500, f"MISP double internal error: {exc!r}", path), {}, record, fault
        status, payload, extra = result if isinstance(result, tuple) else (200, result, {})
        return status, payload, extra, record, fault


def _make_handler(double: MispDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "MISP-test-double"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            with double._lock:
                double._connections.add(self.connection)

        def finish(self) -> None:
            with double._lock:
                double._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass  # the double closed the connection in stop()

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the request log is in MispDouble.requests

        def date_time_string(self, timestamp: float | None = None) -> str:
            # the Date header follows the double's clock, as MISP's follows its host's (set_time/advance)
            return super().date_time_string(double.now if timestamp is None else timestamp)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload, extra, record, fault = double._dispatch(self.command, self.path, headers, raw_body)
            if status == 0:  # hung until the double stopped: drop the connection
                self.close_connection = True
                return
            record.status = status
            record.response = payload if double._keep_responses else None
            if fault is not None and fault.kind == "garbage":
                record.fault = "garbage"
                data = b"<html><head><title>502 Bad Gateway</title></head><body>proxy error</body></html>"
                self._send(200, data, "text/html; charset=UTF-8", {})
            elif fault is not None and fault.kind == "truncate":
                record.fault = "truncate"
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                data = json.dumps(payload).encode()
                sent = {"Content-Type": "application/json", "Content-Length": str(len(data)), **extra}
                if double.openapi is not None and record.route is not None and record.authorized and not fault:
                    # checked before the answer goes out, so a test that got its answer sees the findings
                    double.openapi.check(
                        method=self.command,
                        path=record.path,
                        spec_path=record.spec_path,
                        route_template=record.route,
                        path_params=record.path_params,
                        request_headers=headers,
                        request_body=raw_body,
                        status=status,
                        response_headers=sent,
                        response_body=data,
                    )
                self._send(status, data, "application/json", extra)
            record.duration = time.time() - record.started

        def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str]) -> dict[str, str]:
            sent = {"Content-Type": content_type, "Content-Length": str(len(data)), **extra}
            self.send_response(status)
            for name, value in sent.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return sent

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

    return Handler


def _check_event(raw: Any) -> None:
    """Refuse event JSON the double could not serve, naming the offending part."""
    if not isinstance(raw, dict) or not isinstance(raw.get("info"), str):
        raise ValueError("MISP double: an event needs a JSON object with an 'info' string")
    attrs = list(enumerate(raw.get("Attribute") or []))
    for o_index, obj in enumerate(raw.get("Object") or []):
        if not isinstance(obj, dict):
            raise ValueError(f"MISP double: event {raw['info']!r}: Object[{o_index}] is not an object")
        attrs += [(f"Object[{o_index}].Attribute[{i}]", a) for i, a in enumerate(obj.get("Attribute") or [])]
    for where, attr in attrs:
        label = where if isinstance(where, str) else f"Attribute[{where}]"
        if not isinstance(attr, dict):
            raise ValueError(f"MISP double: event {raw['info']!r}: {label} is not an object")
        for key in ("type", "value"):
            if not isinstance(attr.get(key), str) or not attr[key]:
                raise ValueError(f"MISP double: event {raw['info']!r}: {label} needs a non-empty '{key}' string")


def _normalise_path(path: str) -> str:
    path = "/" + path.strip("/")
    if path.endswith(".json"):
        path = path[: -len(".json")]
    # CakePHP named parameters (/key:value) and a trailing output format (/json) are not routing
    segments = [s for s in path.split("/") if s and ":" not in s]
    return "/" + "/".join(segments)


def _path_re(path: str | None) -> re.Pattern[str] | None:
    return re.compile(path) if path else None


def _error(status: int, message: str, url: str) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"name": message if status == 403 else f"{phrase}: {message}", "message": message, "url": url}


def _result_headers(count: int) -> dict[str, str]:
    return {"X-Result-Count": str(count), "X-Response-Format": "json"}


def _proposal_json(proposal: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in proposal.items() if k not in _INTERNAL}


def _content(attr: dict[str, Any]) -> tuple:
    return (
        attr["type"],
        attr["value"],
        attr["category"],
        attr["to_ids"],
        attr["deleted"],
        attr["comment"],
        tuple(sorted(t["name"] for t in attr["Tag"])),
    )


def _sort_key(value: Any) -> tuple:
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _default_category(attr_type: str) -> str:
    sane = describe_types().get("sane_defaults", {}).get(attr_type)
    return sane["default_category"] if sane else "Other"
