"""Check the double's traffic against MISP's published OpenAPI spec (../shared/data/misp-openapi/openapi.yaml).

Every exchange on an endpoint the spec describes is validated with openapi-core: the request (as the
client sent it) and the response (as the double sent it).  Each schema error becomes a
:class:`Finding`.  A finding is *tolerated* only when it is on the explicit list below: places where
MISP's own spec disagrees with what PyMISP sends and MISP accepts.  Anything else is a *violation*, and
a strict double (``MispDouble(openapi="strict")``) makes the test fail.

Endpoints the project uses that the spec lacks are served all the same and listed in
``UNSPECIFIED``; their traffic is recorded as unchecked, never silently passed as valid.

The spec file itself fails openapi-spec-validator (the ``returnFormat`` enums list ``text`` twice), so it
is loaded without the spec self-check; a duplicate enum value changes nothing for validating messages.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import SHARED_DATA

SPEC_PATH = SHARED_DATA / "misp-openapi" / "openapi.yaml"
SPEC_HOST = "https://misp.local"  # the spec's servers[0]; paths are matched below it

# Endpoints SOCForge uses (through pymisp) that MISP's OpenAPI spec does not describe.
UNSPECIFIED = {
    ("GET", "/users/view/me"): "pymisp's connect check; the spec only has /admin/users/view/{userId}",
    ("HEAD", "/events/view/{eventId}"): "pymisp event_exists(); HEAD is not in the spec",
    ("HEAD", "/attributes/view/{attributeId}"): "pymisp attribute_exists(); HEAD is not in the spec",
    ("POST", "/attributes/delete/{attributeId}"): "pymisp delete_attribute() POSTs; the spec has DELETE only",
    ("POST", "/sightings/restSearch"): "pymisp search_sightings(); sightings search is not in the spec",
    ("POST", "/sightings/listSightings"): "pymisp sightings(); the spec only has GET /sightings/index/{eventId}",
    ("POST", "/shadowAttributes/add/{eventId}"): "attribute proposals are not in the spec",
    ("GET", "/shadowAttributes/index"): "attribute proposals are not in the spec",
    ("GET", "/shadowAttributes/view/{proposalId}"): "attribute proposals are not in the spec",
    ("POST", "/shadowAttributes/edit/{attributeId}"): "attribute proposals are not in the spec",
    ("POST", "/shadowAttributes/delete/{attributeId}"): "attribute proposals are not in the spec",
    ("POST", "/shadowAttributes/{accept|discard}/{proposalId}"): "attribute proposals are not in the spec",
}

# Spec-vs-reality divergences that are tolerated, with the reason.  Keyed by
# (direction, operationId or "*", field path with list indexes as "*", JSON Schema keyword).
TOLERATED: dict[tuple[str, str, str, str], str] = {}
_BOOL_FLAGS = (
    "withAttachments",
    "metadata",
    "enforceWarninglist",
    "includeEventUuid",
    "includeEventTags",
    "sgReferenceOnly",
    "includeContext",
    "headerless",
    "includeSightings",
    "includeDecayScore",
    "includeCorrelations",
    "excludeDecayed",
    "published",
    "to_ids",
    "deleted",
    "minimal",
)
for _op in ("restSearchAttributes", "restSearchEvents", "searchEvents"):
    for _flag in _BOOL_FLAGS:
        TOLERATED[("request", _op, _flag, "type")] = (
            "pymisp sends MISP booleans as 0/1 (PyMISP._make_misp_bool); MISP (PHP) accepts them; the spec says boolean"
        )
    for _field in ("eventid", "org", "timestamp", "publish_timestamp", "last", "from", "to"):
        TOLERATED[("request", _op, _field, "type")] = (
            "pymisp passes ids, dates and times through as the caller gave them (int/float/str, or a "
            "[from, to] pair); MISP casts them; the spec types them more narrowly"
        )
        TOLERATED[("request", _op, _field, "oneOf")] = TOLERATED[("request", _op, _field, "type")]
        TOLERATED[("request", _op, _field, "pattern")] = TOLERATED[("request", _op, _field, "type")]
        TOLERATED[("request", _op, _field, "format")] = TOLERATED[("request", _op, _field, "type")]
    for _field in ("tags", "type", "value", "category", "event_tags", "eventid", "org"):
        TOLERATED[("request", _op, _field, "type")] = TOLERATED.get(
            ("request", _op, _field, "type"),
            "MISP accepts a list or an OR/AND/NOT dict (PyMISP.build_complex_query) for value filters; "
            "the spec allows one shape only",
        )
        TOLERATED[("request", _op, _field, "enum")] = (
            "a list or a negated '!value' / LIKE '%' pattern is accepted by MISP; the spec lists plain values"
        )
    TOLERATED[("request", _op, "deleted", "type")] = (
        "the spec's own description of 'deleted' allows 1 and [0, 1], while its type says boolean"
    )
    TOLERATED[("request", _op, "returnFormat", "enum")] = "kept: only 'json' is served anyway"


@dataclass(frozen=True)
class Finding:
    direction: str  # "request" | "response"
    method: str
    path: str  # the concrete path requested
    operation: str  # operationId from the spec
    field: str  # JSON path of the offending value ("" for the whole message)
    keyword: str  # the JSON Schema keyword that failed (type, enum, required ...)
    message: str
    tolerated: str | None  # reason when on the TOLERATED list, else None (a violation)


@functools.lru_cache(maxsize=1)
def _openapi():
    from openapi_core import Config, OpenAPI

    return OpenAPI.from_file_path(str(SPEC_PATH), config=Config(spec_validator_cls=None))


@functools.lru_cache(maxsize=1)
def _operation_ids() -> dict[tuple[str, str], str]:
    import yaml

    with Path(SPEC_PATH).open() as handle:
        spec = yaml.safe_load(handle)
    return {
        (method.upper(), path): op.get("operationId", "")
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict)
    }


class SpecChecker:
    """Validates exchanges; thread-safe; collects findings and the unspecified endpoints used."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.checked: list[tuple[str, str]] = []  # (method, spec path) validated
        self.unchecked: list[tuple[str, str]] = []  # (method, route template) the spec lacks
        self._lock = threading.Lock()
        _openapi()  # load now, not inside the first request

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.tolerated is None]

    @property
    def tolerated(self) -> list[Finding]:
        return [f for f in self.findings if f.tolerated is not None]

    def check(
        self,
        *,
        method: str,
        path: str,
        spec_path: str | None,
        route_template: str,
        path_params: dict[str, str],
        request_headers: dict[str, str],
        request_body: bytes,
        status: int,
        response_headers: dict[str, str],
        response_body: bytes,
    ) -> list[Finding]:
        if spec_path is None:
            found = []
            if (method, route_template) not in UNSPECIFIED:
                found.append(
                    Finding(
                        "request",
                        method,
                        path,
                        "",
                        "",
                        "undocumented",
                        f"{method} {route_template} is served, but neither in the spec nor in UNSPECIFIED",
                        None,
                    )
                )
            with self._lock:
                self.unchecked.append((method, route_template))
                self.findings.extend(found)
            return found
        from openapi_core.testing import MockRequest, MockResponse

        operation = _operation_ids().get((method, spec_path), "")
        concrete = _fill(spec_path, path_params)
        request = MockRequest(
            SPEC_HOST,
            method.lower(),
            concrete,
            path_pattern=spec_path,
            view_args=_spec_params(spec_path, path_params),
            headers={k: v for k, v in request_headers.items() if k.lower() == "authorization"}
            or {"Authorization": "x"},
            data=request_body or None,
            content_type=request_headers.get("content-type", "application/json"),
        )
        response = MockResponse(
            response_body,
            status_code=status,
            headers=response_headers,
            content_type=response_headers.get("Content-Type", "application/json"),
        )
        found: list[Finding] = []
        api = _openapi()
        for direction in ("request", "response"):
            try:
                if direction == "request":
                    api.validate_request(request)
                else:
                    api.validate_response(request, response)
            except Exception as exc:  # openapi-core raises a family of errors; all are findings
                found.extend(_findings(exc, direction, method, path, operation))
        with self._lock:
            self.checked.append((method, spec_path))
            self.findings.extend(found)
        return found

    def report(self) -> str:
        lines = [f"{len(self.checked)} exchanges checked against {SPEC_PATH.name}"]
        for f in self.violations:
            lines.append(f"VIOLATION {f.direction} {f.method} {f.path} [{f.operation}] {f.field}: {f.message}")
        seen = set()
        for f in self.tolerated:
            key = (f.direction, f.operation, f.field, f.keyword)
            if key not in seen:
                seen.add(key)
                lines.append(f"tolerated {f.direction} [{f.operation}] {f.field} ({f.keyword}): {f.tolerated}")
        for method, template in sorted(set(self.unchecked)):
            lines.append(f"not in spec: {method} {template}")
        return "\n".join(lines)


def _fill(template: str, params: dict[str, str]) -> str:
    values = list(params.values())
    return re.sub(r"\{[^}]+\}", lambda _m: values.pop(0) if values else "1", template)


def _spec_params(template: str, params: dict[str, str]) -> dict[str, str]:
    names = re.findall(r"\{([^}]+)\}", template)
    return dict(zip(names, params.values(), strict=False))


def _field(error: Any) -> str:
    return ".".join("*" if isinstance(p, int) else str(p) for p in getattr(error, "absolute_path", error.path))


def _findings(exc: Exception, direction: str, method: str, path: str, operation: str) -> list[Finding]:
    errors = []
    cause: Any = exc
    while cause is not None and not getattr(cause, "schema_errors", None):
        cause = cause.__cause__
    if cause is not None:
        errors = list(cause.schema_errors)
    if not errors:
        return [Finding(direction, method, path, operation, "", type(exc).__name__, str(exc), None)]
    out = []
    for error in _leaves(errors):
        field = _field(error)
        keyword = str(error.validator)
        reason = TOLERATED.get((direction, operation, field, keyword)) or TOLERATED.get(
            (direction, "*", field, keyword)
        )
        out.append(Finding(direction, method, path, operation, field, keyword, error.message[:300], reason))
    return out


def _leaves(errors: list[Any]) -> list[Any]:
    """The concrete errors under allOf/oneOf/anyOf: every branch of an allOf, and for oneOf/anyOf the
    branch that came closest (fewest errors), so findings name the offending field, not its parent."""
    out = []
    for error in errors:
        if error.validator in ("allOf", "oneOf", "anyOf") and error.context:
            if error.validator == "allOf":
                out.extend(_leaves(list(error.context)))
                continue
            branches: dict[Any, list[Any]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            closest = min(branches.values(), key=len)
            if len(branches) > 1 and all(len(b) == 1 and not b[0].relative_path for b in branches.values()):
                out.append(error)  # e.g. a value matching none of oneOf's plain types: report the oneOf
            else:
                out.extend(_leaves(closest))
        else:
            out.append(error)
    return out
