"""restSearch filtering as MISP does it, for the subset of filters the double models.

Value filters (``type``, ``value``, ``category``, ``org``, ``tags``, ``eventid``, ``uuid`` ...) accept
what MISP accepts: a scalar, a list (OR-ed), a ``!value`` negation, or a complex query
``{"OR": [...], "AND": [...], "NOT": [...]}`` as built by ``PyMISP.build_complex_query``.  ``%`` is
MISP's SQL ``LIKE`` wildcard in values and tag names.  Time filters accept epoch seconds, a
``[from, to]`` pair, or a relative age such as ``"30d"``, ``"12h"``, ``"15m"``, ``"90s"``, ``"2w"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import netaddr

from .data import Dataset, iter_attributes

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BadFilter(ValueError):
    """A filter value MISP would reject; the server answers 400 naming the filter."""


def is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def parse_time(name: str, value: Any, now: float) -> float:
    """Epoch seconds from an epoch number/string or a relative age like ``30d`` (= now - 30 days)."""
    if isinstance(value, bool):
        raise BadFilter(f"{name}: expected a timestamp or an age like 30d, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        match = _AGE.match(text)
        if match:
            return now - int(match.group(1)) * _AGE_SECONDS[match.group(2).lower()]
        try:
            return float(text)
        except ValueError:
            pass
    raise BadFilter(f"{name}: expected a timestamp or an age like 30d, got {value!r}")


def time_range(name: str, value: Any, now: float) -> tuple[float, float] | None:
    """``(low, high)`` inclusive bounds for a time filter, or None when the filter is absent."""
    if value in (None, "", 0, "0", False):
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise BadFilter(f"{name}: a range must be [from, to], got {value!r}")
        low = parse_time(name, value[0], now) if value[0] not in (None, "") else float("-inf")
        high = parse_time(name, value[1], now) if value[1] not in (None, "") else float("inf")
        return low, high
    return parse_time(name, value, now), float("inf")


def in_range(ts: Any, bounds: tuple[float, float] | None) -> bool:
    if bounds is None:
        return True
    return bounds[0] <= float(ts or 0) <= bounds[1]


def _like(pattern: str) -> Callable[[str], bool]:
    if "%" not in pattern:
        lowered = pattern.lower()
        return lambda text: text.lower() == lowered
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("%")), re.IGNORECASE | re.DOTALL)
    return lambda text: regex.fullmatch(text) is not None


class ValueFilter:
    """One MISP value filter: matches a set of candidate strings (e.g. all tag names of an attribute)."""

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        self.any_of: list[Callable[[str], bool]] = []
        self.all_of: list[Callable[[str], bool]] = []
        self.none_of: list[Callable[[str], bool]] = []
        if isinstance(spec, dict):
            unknown = set(spec) - {"OR", "AND", "NOT"}
            if unknown:
                raise BadFilter(f"{name}: complex query keys must be OR/AND/NOT, got {sorted(unknown)}")
            self._add(spec.get("OR"), self.any_of)
            self._add(spec.get("AND"), self.all_of)
            self._add(spec.get("NOT"), self.none_of, negated=True)
        else:
            self._add(spec, self.any_of)

    def _add(self, values: Any, target: list, negated: bool = False) -> None:
        if values is None:
            return
        if not isinstance(values, (list, tuple)):
            values = [values]
        for value in values:
            if isinstance(value, (dict, list)):
                raise BadFilter(f"{self.name}: nested value {value!r} not allowed")
            text = str(value).strip() if not isinstance(value, bool) else str(int(value))
            if not text:
                continue
            if text.startswith("!"):
                self.none_of.append(_like(text[1:]))
            elif negated:
                self.none_of.append(_like(text))
            else:
                target.append(_like(text))

    @property
    def empty(self) -> bool:
        return not (self.any_of or self.all_of or self.none_of)

    def match(self, candidates: Iterable[str]) -> bool:
        values = [c for c in candidates if c is not None]
        if any(m(v) for m in self.none_of for v in values):
            return False
        if self.any_of and not any(m(v) for m in self.any_of for v in values):
            return False
        return all(any(m(v) for v in values) for m in self.all_of)


def _value_filter(params: dict[str, Any], name: str) -> ValueFilter | None:
    if name not in params or params[name] in (None, "", []):
        return None
    flt = ValueFilter(name, params[name])
    return None if flt.empty else flt


class Warninglists:
    """Enabled warninglists, as MISP uses them for ``enforceWarninglist``: string, hostname and cidr lists."""

    def __init__(self) -> None:
        self.lists: dict[str, dict[str, Any]] = {}

    def add(self, name: str, values: Iterable[str], list_type: str = "string") -> None:
        if list_type not in ("string", "hostname", "cidr"):
            raise ValueError(f"warninglist {name}: type must be string, hostname or cidr, got {list_type!r}")
        values = [v.strip() for v in values if v and v.strip()]
        entry: dict[str, Any] = {"type": list_type, "values": values}
        if list_type == "cidr":
            entry["set"] = netaddr.IPSet(values)
        else:
            entry["lower"] = {v.lower().rstrip(".") for v in values}
        self.lists[name] = entry

    def hits(self, attr_type: str, value: str) -> list[str]:
        names = []
        parts = [p.strip() for p in str(value).split("|")] if "|" in attr_type else [str(value).strip()]
        for name, entry in self.lists.items():
            for part in parts:
                if _warninglist_match(entry, part):
                    names.append(name)
                    break
        return names


def _warninglist_match(entry: dict[str, Any], value: str) -> bool:
    if entry["type"] == "cidr":
        try:
            return netaddr.IPNetwork(value) in entry["set"]
        except (netaddr.AddrFormatError, ValueError, TypeError):
            return False
    lowered = value.lower().rstrip(".")
    if entry["type"] == "string":
        return lowered in entry["lower"]
    labels = lowered.split(".")  # hostname: the value or any parent domain is on the list
    return any(".".join(labels[i:]) in entry["lower"] for i in range(len(labels)))


# Filters the double applies (see Query).
MODELLED = {
    "returnFormat",
    "page",
    "limit",
    "type",
    "category",
    "value",
    "tags",
    "event_tags",
    "org",
    "eventid",
    "uuid",
    "object_name",
    "eventinfo",
    "to_ids",
    "published",
    "deleted",
    "enforceWarninglist",
    "includeEventUuid",
    "includeEventTags",
    "includeSightings",
    "metadata",
    "timestamp",
    "attribute_timestamp",
    "event_timestamp",
    "publish_timestamp",
    "last",
    "from",
    "to",
}
# Options accepted and ignored because ignoring them changes nothing the double serves: there are no
# attachments, correlations, decay scores, context galaxies or sharing groups to include.
IGNORED = {
    "withAttachments",
    "includeContext",
    "includeDecayScore",
    "includeCorrelations",
    "sgReferenceOnly",
    "headerless",
    "includeGalaxy",
    "includeWarninglistHits",
}


def _neutral(value: Any) -> bool:
    return value in (None, "", 0, "0", False, [], {})


class Query:
    """A parsed restSearch body; raises BadFilter naming the first filter MISP would reject, or one the
    double does not model (rather than silently ignoring it and answering as if it had applied it)."""

    def __init__(self, params: dict[str, Any], now: float, controller: str) -> None:
        if not isinstance(params, dict):
            raise BadFilter("request body: expected a JSON object of filters")
        for key in sorted(params):
            if key not in MODELLED and key not in IGNORED and not _neutral(params[key]):
                raise BadFilter(
                    f"{key}: this filter is not modelled by the MISP double (see docs/misp-test-double.md); "
                    "refusing it rather than answering as if it had been applied"
                )
        self.controller = controller
        fmt = params.get("returnFormat", "json")
        if fmt != "json":
            raise BadFilter(f"returnFormat: the MISP double serves only 'json', got {fmt!r}")
        self.page = _positive_int(params, "page")
        self.limit = _positive_int(params, "limit")
        self.type = _value_filter(params, "type")
        self.category = _value_filter(params, "category")
        self.value = _value_filter(params, "value")
        self.tags = _value_filter(params, "tags")
        self.event_tags = _value_filter(params, "event_tags")
        self.org = _value_filter(params, "org")
        self.eventid = _value_filter(params, "eventid")
        self.uuid = _value_filter(params, "uuid")
        self.object_name = _value_filter(params, "object_name")
        self.eventinfo = _value_filter(params, "eventinfo")
        self.to_ids = _flag_set(params, "to_ids")
        self.published = None if params.get("published") in (None, "", []) else is_true(params["published"])
        deleted = params.get("deleted")
        if deleted in (None, "", False, 0, "0"):
            self.deleted = {False}
        elif isinstance(deleted, (list, tuple)):
            self.deleted = {is_true(v) for v in deleted}
        else:
            self.deleted = {True}  # MISP: deleted=1 returns only soft-deleted attributes
        self.enforce_warninglist = is_true(params.get("enforceWarninglist", 0))
        self.include_event_uuid = is_true(params.get("includeEventUuid", 0))
        self.include_event_tags = is_true(params.get("includeEventTags", 0))
        self.include_sightings = is_true(params.get("includeSightings", 0))
        self.metadata = is_true(params.get("metadata", 0))
        # timestamp: the attribute's for /attributes, the event's for /events (as MISP does).
        self.timestamp = time_range("timestamp", params.get("timestamp"), now)
        self.attribute_timestamp = time_range("attribute_timestamp", params.get("attribute_timestamp"), now)
        self.event_timestamp = time_range("event_timestamp", params.get("event_timestamp"), now)
        last = params.get("last")
        self.publish_timestamp = time_range(
            "publish_timestamp" if last in (None, "") else "last",
            params.get("publish_timestamp") if last in (None, "") else last,
            now,
        )
        self.date_from = _date(params, "from")
        self.date_to = _date(params, "to")

    def event_matches(self, event: dict[str, Any]) -> bool:
        if self.published is not None and bool(event["published"]) != self.published:
            return False
        if self.eventid and not self.eventid.match([event["id"], event["uuid"]]):
            return False
        # MISP filters 'org' on the creator organisation (Event.orgc_id), by id, name or uuid
        if self.org and not self.org.match([event["Orgc"]["id"], event["Orgc"]["name"], event["Orgc"]["uuid"]]):
            return False
        if self.eventinfo and not self.eventinfo.match([event["info"]]):
            return False
        if self.event_tags and not self.event_tags.match(t["name"] for t in event["Tag"]):
            return False
        if not in_range(event["publish_timestamp"], self.publish_timestamp):
            return False
        if not in_range(event["timestamp"], self.event_timestamp):
            return False
        if self.controller == "events" and not in_range(event["timestamp"], self.timestamp):
            return False
        if self.date_from and event["date"] < self.date_from:
            return False
        return not (self.date_to and event["date"] > self.date_to)

    def attribute_matches(
        self,
        attr: dict[str, Any],
        obj: dict[str, Any] | None,
        event: dict[str, Any],
        warninglists: Warninglists,
    ) -> bool:
        if attr["deleted"] not in self.deleted:
            return False
        if obj is not None and obj.get("deleted") and False in self.deleted and True not in self.deleted:
            return False
        if self.to_ids is not None and attr["to_ids"] not in self.to_ids:
            return False
        if self.type and not self.type.match([attr["type"]]):
            return False
        if self.category and not self.category.match([attr["category"]]):
            return False
        if self.value and not self.value.match(_value_candidates(attr)):
            return False
        if self.uuid and not self.uuid.match([attr["uuid"], event["uuid"]]):
            return False
        if self.object_name and not self.object_name.match([obj["name"] if obj else ""]):
            return False
        if self.tags and not self.tags.match([t["name"] for t in attr["Tag"]] + [t["name"] for t in event["Tag"]]):
            return False
        if self.controller == "attributes" and not in_range(attr["timestamp"], self.timestamp):
            return False
        if not in_range(attr["timestamp"], self.attribute_timestamp):
            return False
        return not (self.enforce_warninglist and warninglists.hits(attr["type"], attr["value"]))

    @property
    def has_attribute_filters(self) -> bool:
        return any(
            (
                self.type,
                self.category,
                self.value,
                self.tags,
                self.object_name,
                self.to_ids is not None,
                self.attribute_timestamp,
                self.uuid,
            )
        )

    def paginate(self, items: list[Any]) -> list[Any]:
        if self.limit is None:
            return items
        page = self.page or 1
        return items[(page - 1) * self.limit : page * self.limit]


def _value_candidates(attr: dict[str, Any]) -> list[str]:
    value = str(attr["value"])
    if "|" in attr["type"] and "|" in value:
        return [value, *value.split("|", 1)]
    return [value]


def _positive_int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadFilter(f"{name}: expected a positive integer, got {value!r}") from None
    if number < 1 or isinstance(value, bool):
        raise BadFilter(f"{name}: expected a positive integer, got {value!r}")
    return number


def _flag_set(params: dict[str, Any], name: str) -> set[bool] | None:
    value = params.get(name)
    if value in (None, "", []):
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    result = set()
    for item in values:
        if str(item).lower() not in ("0", "1", "true", "false"):
            raise BadFilter(f"{name}: expected 0 or 1, got {item!r}")
        result.add(is_true(item))
    return result


def _date(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):  # pymisp turns dates into epoch seconds
            from datetime import UTC, datetime

            return datetime.fromtimestamp(float(text), tz=UTC).date().isoformat()
        return date.fromisoformat(text).isoformat()
    except (ValueError, OverflowError):
        raise BadFilter(f"{name}: expected a date YYYY-MM-DD or epoch seconds, got {value!r}") from None


def search_attributes(
    ds: Dataset, query: Query, warninglists: Warninglists
) -> list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]]:
    """Matching ``(attribute, object, event)`` triples, ordered by attribute id (stable across pages)."""
    found = []
    for event in ds.events.values():
        if not query.event_matches(event):
            continue
        for attr, obj in iter_attributes(event):
            if query.attribute_matches(attr, obj, event, warninglists):
                found.append((attr, obj, event))
    found.sort(key=lambda item: int(item[0]["id"]))
    return found


def search_events(ds: Dataset, query: Query, warninglists: Warninglists) -> list[dict[str, Any]]:
    """Matching events ordered by id.  With attribute-level filters an event matches when one of its
    attributes does; ``tags`` then matches the event's own tags or any attribute's.  ``enforceWarninglist``
    does not select events: it drops warninglisted attributes from the events returned (see _event_json)."""
    found = []
    for event_id in sorted(ds.events):
        event = ds.events[event_id]
        if not query.event_matches(event):
            continue
        if query.has_attribute_filters:
            if query.tags and query.tags.match(t["name"] for t in event["Tag"]) and not _other_attr_filters(query):
                found.append(event)
                continue
            if not any(query.attribute_matches(a, o, event, warninglists) for a, o in iter_attributes(event)):
                continue
        found.append(event)
    return found


def _other_attr_filters(query: Query) -> bool:
    return any(
        (
            query.type,
            query.category,
            query.value,
            query.object_name,
            query.to_ids is not None,
            query.attribute_timestamp,
            query.uuid,
        )
    )
