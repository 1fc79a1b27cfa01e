"""Turn one MISP event (JSON as served by ``/events/restSearch`` or a MISP feed) into intel records."""

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from operator import add

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


def _map_loop(attributes, flt, event_tags, max_length, rejected, skipped):
    """Map attribute by attribute. Returns ``({key: comma-joined attribute UUIDs}, attributes counted)``."""
    attrs = {}  # key -> attribute UUIDs ("," joined): sightings map a Zeek match back to them
    seen_key = attrs.get
    to_ids_only = flt.to_ids_only
    attr_filters = bool(flt.types or flt.tags_include or flt.tags_exclude)
    fast = _FAST
    not_dicts = 0
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
            skipped[str(mtype)] += 1
            continue
        found, reasons = map_attribute(mtype, attr.get("value"), max_length)
        for reason in reasons:
            rejected[reason] += 1
        for value, ztype in found:
            k = escape_indicator(value) + "\t" + ztype
            prev = seen_key(k)
            u = attr.get("uuid") or ""
            attrs[k] = u if prev is None else prev + "," + u
    return attrs, len(attributes) - not_dicts


# Batch validation of one event's values of one fast type: instead of one regex call (and one match
# object) per value, the values are joined by newlines and one ``match`` of "as many canonical
# lines as possible" runs over them; it stops at the first value that is not canonical as it is
# (padded, upper case, IDN, too long...), which is mapped one by one as before, and the scan goes
# on after it. Each line pattern accepts exactly what the type's ``_FAST`` pattern accepts (tested).
#
# A domain name: labels of [a-z0-9_-] that neither start nor end with "-", each followed by a dot,
# then a last label of [a-z0-9-] (``normalize._ASCII_DOMAIN_RE``), with possessive quantifiers (a
# linear scan); values of at most 63 characters cannot break its length limits (63 per label, 253
# in all), longer ones are checked by a lookahead.
_LABEL_DOT = r"[a-z0-9_]++(?:-++[a-z0-9_]++)*+\."
_NAME = rf"(?:{_LABEL_DOT})++[a-z0-9-]++"
_SHORT_NAME = 63
_DOMAIN_LINES = re.compile(rf"(?:{_NAME}\n)*+").match
_DOMAIN_LINES_LONG = re.compile(rf"(?:(?=[^\n]{{1,{_SHORT_NAME}}}\n){_NAME}\n)*+").match


def _domain_lines(vals, max_length):
    """The line matcher for these domain values (``None``: check them one by one)."""
    if max_length < _SHORT_NAME:
        return None
    return _DOMAIN_LINES if max(map(len, vals)) <= _SHORT_NAME else _DOMAIN_LINES_LONG


def _hash_lines(length):
    lines = re.compile(rf"(?:[0-9a-f]{{{length}}}\n)*+").match

    def matcher(vals, max_length):
        """The line matcher of ``length`` lower-case hex digits (``None`` if too long for the options)."""
        return lines if length <= max_length else None

    return matcher


# An IPv4 address as inet_pton reads it and netaddr prints it: four decimal octets 0-255 without
# leading zeros (the normaliser's result for such a value is the value itself).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV4_LINES = re.compile(rf"(?:{_IPV4}\n)*+").match
_IPV4_MAX = 15


def _ipv4_lines(vals, max_length):
    """The line matcher for IPv4 values (``None``: check them one by one)."""
    return _IPV4_LINES if max_length >= _IPV4_MAX else None


# Fast path for the bulk of real intel (domains, plain hashes, IPv4 addresses): a value that already is in
# canonical form is accepted as it is; anything else takes the full normalisation path.
# (the pattern's fullmatch, "\t" + Zeek type, line matcher): the key is the value + the second.
_FAST = {
    "domain": (n._ASCII_DOMAIN_RE.fullmatch, "\t" + n.DOMAIN, _domain_lines),
    "hostname": (n._ASCII_DOMAIN_RE.fullmatch, "\t" + n.DOMAIN, _domain_lines),
    "md5": (re.compile(r"[0-9a-f]{32}").fullmatch, "\t" + n.FILE_HASH, _hash_lines(32)),
    "sha1": (re.compile(r"[0-9a-f]{40}").fullmatch, "\t" + n.FILE_HASH, _hash_lines(40)),
    "sha256": (re.compile(r"[0-9a-f]{64}").fullmatch, "\t" + n.FILE_HASH, _hash_lines(64)),
    "sha512": (re.compile(r"[0-9a-f]{128}").fullmatch, "\t" + n.FILE_HASH, _hash_lines(128)),
    "ip-dst": (re.compile(_IPV4).fullmatch, "\t" + n.ADDR, _ipv4_lines),
    "ip-src": (re.compile(_IPV4).fullmatch, "\t" + n.ADDR, _ipv4_lines),
}


def _truthy(value):
    return value is True or (value is not False and value is not None and _flag(value))


def _map_one(mtype, value, uuid, max_length, rejected, skipped, out_keys, out_uuids):
    """The loop's handling of one attribute (fast pattern first, then the full mapping), appending
    its keys and UUID to ``out_keys`` / ``out_uuids``."""
    quick = _FAST.get(mtype)
    if quick is not None and type(value) is str:
        ok = quick[0](value)
        if ok is None:
            value = value.strip()
            if value.isascii():
                value = value.lower()
                ok = quick[0](value)
        if ok is not None and len(value) <= max_length:
            out_keys.append(value + quick[1])
            out_uuids.append(uuid)
            return
    if mtype not in MAPPING:
        skipped[str(mtype)] += 1
        return
    found, reasons = map_attribute(mtype, value, max_length)
    for reason in reasons:
        rejected[reason] += 1
    for val, ztype in found:
        out_keys.append(escape_indicator(val) + "\t" + ztype)
        out_uuids.append(uuid)


def _batches(quick, vals, us, max_length, keys, uuids):
    """Append the keys and UUIDs of the values canonical as they are to ``keys`` / ``uuids`` (a few
    C-level scans per batch); yield the ``(value, uuid)`` pairs left to check one by one."""
    try:
        joined = "\n".join(vals) + "\n"
    except TypeError:  # a value that is not a string
        yield from zip(vals, us, strict=True)
        return
    lines = quick[2](vals, max_length)
    n_vals = len(vals)
    if lines is None or joined.count("\n") != n_vals:  # a value holding a newline
        yield from zip(vals, us, strict=True)
        return
    tail = quick[1]
    i = pos = 0
    while True:
        end = lines(joined, pos).end()
        j = i + joined.count("\n", pos, end)
        if j > i:
            keys.extend(map(add, vals[i:j] if j - i < n_vals else vals, repeat(tail)))
            uuids.extend(us[i:j] if j - i < n_vals else us)
        if j >= n_vals:
            return
        yield vals[j], us[j]
        pos = end + len(vals[j]) + 1
        i = j + 1


def _map_batched(attributes, flt, max_length, stats):
    """One Python step per attribute that only sorts it: values of the fast types are collected per
    type (value and UUID side by side in one list) and validated per batch (``_FAST``'s third
    item), keys made with C-level ``map``; other types are mapped on the spot. Returns ``attrs`` as
    :func:`_map_loop` would, or ``None`` when that is not certain - a key from several attributes
    (the loop keeps their UUIDs' order), an attribute that is not a dict or lacks ``to_ids``,
    ``type``, ``value`` or ``uuid``: the loop then maps the event. Counts into ``stats`` only when it
    returns ``attrs``."""
    lists = {t: [] for t in _FAST}
    get_bucket = {t: lst.append for t, lst in lists.items()}.get
    to_ids_only = flt.to_ids_only
    rejected, skipped = Counter(), Counter()
    other_keys, other_uuids = [], []
    try:
        for attr in attributes:
            flag = attr["to_ids"]
            if flag is not True and to_ids_only and not _truthy(flag):
                continue
            if "deleted" in attr:
                flag = attr["deleted"]
                if flag is not False and flag is not None and _truthy(flag):
                    continue
            mtype = attr["type"]
            bucket = get_bucket(mtype)
            if bucket is not None:
                bucket(attr["value"])
                bucket(attr["uuid"] or "")
                continue
            if mtype not in MAPPING:
                skipped[str(mtype)] += 1
                continue
            found, reasons = map_attribute(mtype, attr["value"], max_length)
            for reason in reasons:
                rejected[reason] += 1
            for value, ztype in found:
                other_keys.append(escape_indicator(value) + "\t" + ztype)
                other_uuids.append(attr["uuid"] or "")
    except (KeyError, TypeError):
        return None
    keys, uuids = [], []
    for mtype, pairs in lists.items():
        if pairs:
            quick = _FAST[mtype]
            for value, uuid in _batches(quick, pairs[0::2], pairs[1::2], max_length, keys, uuids):
                _map_one(mtype, value, uuid, max_length, rejected, skipped, keys, uuids)
    keys.extend(other_keys)
    uuids.extend(other_uuids)
    attrs = dict(zip(keys, uuids, strict=True))
    if len(attrs) != len(keys):
        return None
    stats.attributes += len(attributes)
    if rejected:
        stats.rejected.update(rejected)
    if skipped:
        stats.skipped_types.update(skipped)
    return attrs


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
    max_length = opts.max_length
    # no generator for the common event without objects: its attribute list is walked directly
    attributes = _iter_attributes(event) if event.get("Object") else (event.get("Attribute") or ())
    if type(attributes) is not list:
        attributes = list(attributes)
    attrs = None
    if not (flt.types or flt.tags_include or flt.tags_exclude):
        attrs = _map_batched(attributes, flt, max_length, stats)
    if attrs is None:
        attrs, counted = _map_loop(attributes, flt, event_tags, max_length, stats.rejected, stats.skipped_types)
        stats.attributes += counted
    rec.keys = sorted(attrs)
    rec.attrs = attrs
    return rec
