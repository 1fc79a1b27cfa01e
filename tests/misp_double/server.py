"""The MISP test double: a small threaded HTTP(S) server speaking the parts of MISP's REST API SOCForge uses.

It is a *test double*, not MISP: see docs/misp-test-double.md for what it models and what it does not.
Start it with ``MispDouble().start()`` (or as a context manager); it binds 127.0.0.1 on a free port.

This module is the server: its lifecycle, the request log, injected faults (faults.py) and the dispatch
of each request (authentication, faults, routing, errors).  What it serves is an event store (store.py)
through the MISP endpoints (api.py; the admin endpoints are admin.py).
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import tls as tlsmod
from .admin import AdminError, AdminStore
from .api import MISP_VERSION, MispApi, Route
from .data import DATASETS, LOCAL_ORG, Dataset, fresh_dataset
from .errors import HttpError
from .faults import Fault, Faults, path_re
from .search import BadFilter
from .store import EventStore

__all__ = ["MISP_VERSION", "Fault", "HttpError", "MispDouble", "RequestRecord"]

AUTH_FAILED = (
    "Authentication failed. Please make sure you pass the API key of an API enabled user along in the "
    "Authorization header."
)


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


class MispDouble(EventStore):
    """A MISP instance in miniature, loaded with real MISP events.

    Attributes for tests: ``url``, ``key``, ``requests`` (list of :class:`RequestRecord`), ``ca_path``
    (HTTPS only), ``data`` (the live :class:`Dataset`).  A double is the :class:`EventStore` it serves: the
    data controls (add_event, publish_event, ...) are the store's (store.py), faults and the request log
    are here; all are listed in docs/misp-test-double.md.
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
        super().__init__(data if data is not None else fresh_dataset(tuple(datasets)), now)
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of bugs in the double itself (answered 500)
        self._faults = Faults(self._lock)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
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
        self.api = MispApi(self, self.admin)

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

    # ------------------------------------------------------------------ faults
    def fail(self, status: int = 500, *, count: int | None = None, path: str | None = None) -> Fault:
        """Answer matching requests with ``status`` and a MISP-style JSON error (count None: until cleared)."""
        return self._faults.add(Fault("status", status=status, remaining=count, path=path_re(path)))

    def hang(self, seconds: float | None = None, *, count: int | None = None, path: str | None = None) -> Fault:
        """Delay matching requests by ``seconds`` before answering normally (None: never answer)."""
        return self._faults.add(Fault("hang", delay=seconds, remaining=count, path=path_re(path)))

    def garbage(self, *, count: int | None = None, path: str | None = None) -> Fault:
        """Answer 200 with an HTML page instead of JSON (what a captive proxy or broken MISP sends)."""
        return self._faults.add(Fault("garbage", status=200, remaining=count, path=path_re(path)))

    def truncate(self, *, count: int | None = None, path: str | None = None) -> Fault:
        """Answer 200 with the first half of the real JSON body and then close the connection."""
        return self._faults.add(Fault("truncate", status=200, remaining=count, path=path_re(path)))

    def clear_faults(self) -> None:
        self._faults.clear()

    # ------------------------------------------------------------------ request log
    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RequestRecord]:
        """Logged requests whose path matches ``path_regex`` (re.search), optionally only one method."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if pattern.search(r.path) and (method is None or r.method == method)]

    # ------------------------------------------------------------------ routes
    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route answering ``method path`` and its path parameters, or None (404)."""
        return self.api.route(method, path)

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
        fault = self._faults.take(path)
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
        found = self.api.route(method, path)
        if found is None:
            allowed = self.api.allowed_methods(path)
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
                self.api.caller = caller["id"]
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


def _error(status: int, message: str, url: str) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"name": message if status == 403 else f"{phrase}: {message}", "message": message, "url": url}
