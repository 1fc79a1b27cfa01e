"""Turn one MISP event (JSON as served by ``/events/restSearch`` or a MISP feed) into intel records."""

import re
from collections import Counter
from dataclasses import dataclass, field

from ansible_collections.socforge.core.plugins.module_utils.intel import normalize as n
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import _flag, _int, _tag_names
from ansible_collections.socforge.core.plugins.module_utils.intel.mapping import MAPPING, map_attribute

_META_BAD_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\\s]+")
META_MAX = 512


def meta_text(value, limit=META_MAX):
    """A free-text meta field made safe for one TSV field: whitespace and control runs become one
    space, backslashes are escaped the way Zeek's reader unescapes them, ``-`` when empty."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    value = _META_BAD_RE.sub(" ", value).strip()[:limit].strip()
    value = value.encode("utf-8", "replace").decode("utf-8")
    if "\\" in value:
        value = value.replace("\\", "\\x5c")
    if not value or value in n.RESERVED_VALUES:
        return "-"
    if value[0] == "#":
        value = "\\x23" + value[1:]
    return value


def escape_indicator(value):
    """Zeek's ASCII reader unescapes ``\\xHH``; escape backslashes so the value round-trips."""
    return value.replace("\\", "\\x5c") if "\\" in value else value


@dataclass
class EventRecord:
    """What the state keeps per event: the meta suffix shared by its lines and its indicator keys."""

    uuid: str
    timestamp: int
    publish_timestamp: int
    keep: bool
    selected: bool
    suffix: str = ""
    keys: list = field(default_factory=list)
    # key -> comma-joined UUIDs of the MISP attributes that produce it (aligned with ``keys``)
    attrs: dict = field(default_factory=dict)
    # the same as one text, "\n"-joined in ``keys`` order (set by a full sync to save memory)
    attr_blob: str = None


@dataclass
class MapStats:
    attributes: int = 0
    rejected: Counter = field(default_factory=Counter)
    skipped_types: Counter = field(default_factory=Counter)

    def merge(self, other):
        self.attributes += other.attributes
        self.rejected.update(other.rejected)
        self.skipped_types.update(other.skipped_types)


@dataclass(frozen=True)
class MetaOptions:
    instance: str = "MISP"
    event_url_base: str = ""  # e.g. https://misp.example.org ; "" -> meta.url "-"
    do_notice: bool = True
    if_in: str = "-"
    max_length: int = n.DEFAULT_MAX_LENGTH


def unwrap(event):
    return event.get("Event", event) if isinstance(event, dict) else {}


def event_suffix(event, opts):
    orgc = (event.get("Orgc") or {}).get("name") or "-"
    uuid = event.get("uuid", "")
    source = meta_text(f"{opts.instance} ({uuid}) - {orgc}")
    desc = meta_text(event.get("info", ""))
    url = meta_text(f"{opts.event_url_base.rstrip('/')}/events/view/{uuid}") if opts.event_url_base else "-"
    return f"{source}\t{desc}\t{url}\t{'T' if opts.do_notice else 'F'}\t{opts.if_in}"


def _iter_attributes(event):
    yield from event.get("Attribute") or ()
    for obj in event.get("Object") or ():
        if isinstance(obj, dict) and obj.get("deleted") not in (True, 1, "1"):
            yield from obj.get("Attribute") or ()


# Fast path for the bulk of real intel (domains and plain hashes): a value that already is in
# canonical form is accepted by one regex; anything else takes the full normalisation path.
# (the pattern's fullmatch, "\t" + Zeek type): the key is the value + the second.
_FAST = {
    "domain": (n._ASCII_DOMAIN_RE.fullmatch, "\t" + n.DOMAIN),
    "hostname": (n._ASCII_DOMAIN_RE.fullmatch, "\t" + n.DOMAIN),
    "md5": (re.compile(r"[0-9a-f]{32}").fullmatch, "\t" + n.FILE_HASH),
    "sha1": (re.compile(r"[0-9a-f]{40}").fullmatch, "\t" + n.FILE_HASH),
    "sha256": (re.compile(r"[0-9a-f]{64}").fullmatch, "\t" + n.FILE_HASH),
    "sha512": (re.compile(r"[0-9a-f]{128}").fullmatch, "\t" + n.FILE_HASH),
}


def _truthy(value):
    return value is True or (value is not False and value is not None and _flag(value))


def map_event(event, flt, opts, stats):
    """Map one event. Returns an :class:`EventRecord`; its ``keys`` are ``indicator\\ttype`` strings."""
    event = unwrap(event)
    uuid = event.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        stats.rejected["event_without_uuid"] += 1
        return None
    event_tags = _tag_names(event.get("Tag"))
    rec = EventRecord(
        uuid=uuid,
        timestamp=_int(event.get("timestamp")),
        publish_timestamp=_int(event.get("publish_timestamp"), _int(event.get("timestamp"))),
        keep=flt.keep(event_tags),
        selected=flt.event_selected(event, event_tags),
    )
    if not rec.selected:
        return rec
    rec.suffix = event_suffix(event, opts)
    attrs = {}  # key -> attribute UUIDs ("," joined): sightings map a Zeek match back to them
    seen_key = attrs.get
    rejected = stats.rejected
    max_length = opts.max_length
    to_ids_only = flt.to_ids_only
    attr_filters = bool(flt.types or flt.tags_include or flt.tags_exclude)
    fast = _FAST
    not_dicts = 0
    # no generator for the common event without objects: its attribute list is walked directly
    attributes = _iter_attributes(event) if event.get("Object") else (event.get("Attribute") or ())
    if type(attributes) is not list:
        attributes = list(attributes)
    for attr in attributes:
        if type(attr) is not dict and not isinstance(attr, dict):
            not_dicts += 1
            continue
        # the common values (True / False / absent) decided inline: no call per attribute
        flag = attr.get("to_ids")
        if to_ids_only and flag is not True and not _truthy(flag):
            continue
        flag = attr.get("deleted")
        if flag is not None and flag is not False and _truthy(flag):
            continue
        if attr_filters and not flt.attribute_selected(attr, event_tags):
            continue
        mtype = attr.get("type")
        quick = fast.get(mtype)
        if quick is not None:
            value = attr.get("value")
            if type(value) is str:
                # the patterns accept only stripped lower-case ASCII: a value they match as it is
                # (nearly all real ones) needs no strip/lower; anything else is canonicalised first
                ok = quick[0](value)
                if ok is None:
                    value = value.strip()
                    if value.isascii():
                        value = value.lower()
                        ok = quick[0](value)
                if ok is not None and len(value) <= max_length:
                    k = value + quick[1]
                    if k in attrs:
                        attrs[k] += "," + (attr.get("uuid") or "")
                    else:
                        attrs[k] = attr.get("uuid") or ""
                    continue
        if mtype not in MAPPING:
            stats.skipped_types[str(mtype)] += 1
            continue
        found, reasons = map_attribute(mtype, attr.get("value"), max_length)
        for reason in reasons:
            rejected[reason] += 1
        for value, ztype in found:
            k = escape_indicator(value) + "\t" + ztype
            prev = seen_key(k)
            u = attr.get("uuid") or ""
            attrs[k] = u if prev is None else prev + "," + u
    stats.attributes += len(attributes) - not_dicts
    rec.keys = sorted(attrs)
    rec.attrs = attrs
    return rec
