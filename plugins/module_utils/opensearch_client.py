"""OpenSearch connection and comparison helpers for the socforge.core opensearch_* modules.

Plain Python on opensearch-py (no Ansible imports): the connection argument spec shared by every
module (documented in the ``socforge.core.opensearch`` doc fragment), the client factory, and the
normalisation used to compare a desired object with what the cluster holds, so that modules only
PUT when something really differs (idempotence, check mode, diff).
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlparse

try:
    from opensearchpy import OpenSearch
    from opensearchpy.exceptions import NotFoundError, TransportError

    HAS_OPENSEARCHPY = True
    OPENSEARCHPY_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module with missing_required_lib
    OpenSearch = None
    NotFoundError = TransportError = Exception
    HAS_OPENSEARCHPY = False
    OPENSEARCHPY_IMPORT_ERROR = exc

CONNECTION_OPTIONS = (
    "hosts",
    "username",
    "password",
    "ca_path",
    "client_cert",
    "client_key",
    "validate_certs",
    "request_timeout",
)


def connection_argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options every opensearch_* module accepts (see doc fragment)."""
    return {
        "hosts": {"type": "list", "elements": "str", "default": ["https://127.0.0.1:9200"]},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "ca_path": {"type": "path"},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path", "no_log": False},
        "validate_certs": {"type": "bool", "default": True},
        "request_timeout": {"type": "int", "default": 30},
    }


class OpenSearchConfigError(ValueError):
    """A connection parameter is unusable; the message names it."""


def client_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """opensearch-py keyword arguments from the module's connection parameters."""
    hosts = params.get("hosts") or []
    if not hosts:
        raise OpenSearchConfigError("hosts: at least one URL is required")
    schemes = set()
    for host in hosts:
        parsed = urlparse(host)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise OpenSearchConfigError(f"hosts: {host!r} is not an http(s)://host[:port] URL")
        schemes.add(parsed.scheme)
    if len(schemes) > 1:
        raise OpenSearchConfigError("hosts: mixing http and https URLs is not supported")
    if bool(params.get("username")) != bool(params.get("password")):
        raise OpenSearchConfigError("username and password must be given together")
    if bool(params.get("client_cert")) != bool(params.get("client_key")):
        raise OpenSearchConfigError("client_cert and client_key must be given together")
    kwargs: dict[str, Any] = {
        "hosts": list(hosts),
        "timeout": params.get("request_timeout") or 30,
        "http_compress": True,
    }
    if params.get("username"):
        kwargs["http_auth"] = (params["username"], params["password"])
    if "https" in schemes:
        kwargs.update(
            use_ssl=True,
            verify_certs=bool(params.get("validate_certs", True)),
            ssl_show_warn=bool(params.get("validate_certs", True)),
        )
        if params.get("ca_path"):
            kwargs["ca_certs"] = params["ca_path"]
        if params.get("client_cert"):
            kwargs["client_cert"] = params["client_cert"]
            kwargs["client_key"] = params["client_key"]
    elif params.get("username"):
        raise OpenSearchConfigError("password: refusing to send credentials over plain http; use https:// hosts")
    return kwargs


def build_client(params: dict[str, Any]):
    """An OpenSearch client for the module's connection parameters."""
    if not HAS_OPENSEARCHPY:
        raise OpenSearchConfigError(f"opensearch-py is required: {OPENSEARCHPY_IMPORT_ERROR}")
    return OpenSearch(**client_kwargs(params))


def error_message(exc: Exception) -> str:
    """A one-line description of an opensearch-py error (status, type and reason when known)."""
    if isinstance(exc, TransportError) and hasattr(exc, "status_code"):
        info = getattr(exc, "info", None)
        reason = None
        if isinstance(info, dict):
            err = info.get("error")
            if isinstance(err, dict):
                reasons = []
                while isinstance(err, dict) and len(reasons) < 5:  # follow caused_by to the real cause
                    reasons.append(f"{err.get('type')}: {err.get('reason')}")
                    err = err.get("caused_by")
                reason = " <- ".join(reasons)
            elif err:
                reason = str(err)
            elif info.get("message"):
                reason = str(info["message"])
        return f"HTTP {exc.status_code}: {reason or exc.error}"
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# Comparison


def flatten_dotted(settings: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """Flatten settings the way OpenSearch returns them with ``flat_settings``: dotted keys,
    scalar values as strings, lists of scalars as lists of strings, ``None`` kept (unset).

    ``{"cluster": {"routing.allocation.enable": "primaries"}}`` ->
    ``{"cluster.routing.allocation.enable": "primaries"}``
    """
    flat: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_dotted(value, f"{full}."))
        else:
            flat[full] = _setting_value(value)
    return flat


def flatten_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Flatten index settings the way OpenSearch stores them: as :func:`flatten_dotted`, with
    every key under ``index.``.

    ``{"number_of_shards": 1, "index": {"refresh_interval": "5s"}}`` ->
    ``{"index.number_of_shards": "1", "index.refresh_interval": "5s"}``
    """
    flat = flatten_dotted(settings)
    return {(k if k.startswith("index.") else f"index.{k}"): v for k, v in flat.items()}


def _setting_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_setting_value(v) for v in value]
    if value is None:
        return None
    return str(value)


def is_subset(desired: Any, current: Any) -> bool:
    """True when every key/value of ``desired`` is present and equal in ``current``.

    Dicts: recursive subset (the server may add defaults such as an ISM action's ``retry``).
    Lists: same length, element-wise subset (order matters, as it does for ISM states and actions).
    Scalars: equal, with numbers and their string forms treated alike (OpenSearch echoes ``"1"``).
    """
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(k in current and is_subset(v, current[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return False
        return all(is_subset(d, c) for d, c in zip(desired, current, strict=True))
    if isinstance(desired, bool) or isinstance(current, bool):
        return _setting_value(desired) == _setting_value(current)
    if isinstance(desired, (int, float)) and isinstance(current, str):
        return str(desired) == current
    if isinstance(desired, str) and isinstance(current, (int, float)):
        return desired == str(current)
    return desired == current


def normalize_index_template(body: dict[str, Any]) -> dict[str, Any]:
    """A composable index template in the comparable form the cluster returns it in."""
    body = copy.deepcopy(body or {})
    template = body.get("template") or {}
    norm: dict[str, Any] = {
        "index_patterns": sorted(_as_list(body.get("index_patterns"))),
        "priority": int(body.get("priority") or 0),
        "composed_of": list(body.get("composed_of") or []),
        "template": {
            "settings": flatten_settings(template.get("settings")),
            "mappings": template.get("mappings") or {},
            "aliases": template.get("aliases") or {},
        },
    }
    for key in ("version", "_meta", "data_stream"):
        if body.get(key) not in (None, {}):
            norm[key] = body[key]
    return norm


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


ISM_SERVER_FIELDS = ("policy_id", "last_updated_time", "schema_version", "user")


def strip_ism_server_fields(policy: dict[str, Any]) -> dict[str, Any]:
    """An ISM policy without the fields the server adds (ids, times, schema, owner)."""
    policy = copy.deepcopy(policy or {})
    for key in ISM_SERVER_FIELDS:
        policy.pop(key, None)
    for template in policy.get("ism_template") or []:
        template.pop("last_updated_time", None)
    if policy.get("error_notification") is None:
        policy.pop("error_notification", None)
    return policy


def validate_ism_policy(policy: dict[str, Any]) -> list[str]:
    """Structural problems in an ISM policy body (empty list when it looks sound)."""
    problems = []
    states = policy.get("states")
    if not isinstance(states, list) or not states:
        return ["policy.states: a non-empty list of states is required"]
    names = [s.get("name") for s in states if isinstance(s, dict)]
    if len(names) != len(states) or not all(names):
        problems.append("policy.states: every state needs a name")
    if len(set(names)) != len(names):
        problems.append("policy.states: state names must be unique")
    default = policy.get("default_state")
    if default not in names:
        problems.append(f"policy.default_state: {default!r} is not one of the states {names}")
    for state in states:
        for transition in state.get("transitions") or []:
            target = transition.get("state_name")
            if target not in names:
                problems.append(f"policy.states[{state.get('name')}].transitions: unknown state {target!r}")
    return problems
