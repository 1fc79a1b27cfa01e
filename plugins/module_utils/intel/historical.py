"""Historical matching: new intel checked against the Zeek logs already stored in OpenSearch.

When the bridge inserts indicators Zeek did not have, :meth:`HistoricalMatcher.match` searches the
``<prefix>-<log>-*`` indices (the opensearch role's index templates) over a bounded look-back for
records that carry them, and returns one sighting per attribute and occurrence with the record's
own timestamp (at most ``per_indicator`` occurrences each, the newest), plus a summary line.

Which fields an indicator type is looked for in is derived from the opensearch role's Zeek field
table (``roles/opensearch/vars/zeek_fields.yml``, generated from the real Zeek), not listed by hand:

- ``Intel::ADDR`` / ``Intel::SUBNET``: every field whose Zeek type is ``addr`` (or a set/vector of
  it) in every log; a subnet is a CIDR ``terms`` query on those ``ip`` fields;
- the string types by the *role* of a field, matched on its name and type in the table, so a
  Zeek upgrade that adds or drops such a field changes the search with the table: DOMAIN -> DNS
  queries, HTTP hosts, TLS server names, certificate SAN DNS names; URL -> a log's ``host`` plus
  ``uri`` (Zeek's ``Intel::URL`` is host + URI, no scheme); FILE_HASH -> ``md5``/``sha1``/
  ``sha256``; FILE_NAME -> file names; EMAIL -> SMTP envelope and header addresses; SOFTWARE ->
  user agents; CERT_HASH -> certificate fingerprints; PUBKEY_HASH -> SSH host keys; USER_NAME ->
  user names.
"""

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_MAX_HITS = 1000
DEFAULT_PER_INDICATOR = 10
_BATCH = 200

# (intel type, Zeek base type, field-name regex): the role a field plays, matched on the table
_ROLES = (
    ("Intel::DOMAIN", "string", r"(^|\.)(query|host|server_name|san\.dns)$"),
    ("Intel::FILE_HASH", "string", r"(^|\.)(md5|sha1|sha256|sha512)$"),
    ("Intel::FILE_NAME", "string", r"(^|\.)(filename|orig_filenames|resp_filenames)$"),
    ("Intel::EMAIL", "string", r"^(mailfrom|rcptto|from|to|cc|reply_to)$"),
    ("Intel::SOFTWARE", "string", r"(^|\.)user_agent$"),
    ("Intel::CERT_HASH", "string", r"(^|\.)fingerprint$"),
    ("Intel::PUBKEY_HASH", "string", r"(^|\.)host_key$"),
    ("Intel::USER_NAME", "string", r"(^|\.)(user|username|client_user)$"),
)
_CONTAINER = re.compile(r"^(?:set|vector)\[(\w+)\]$")


class HistoricalError(Exception):
    pass


def _base(zeek_type):
    m = _CONTAINER.match(zeek_type)
    return m.group(1) if m else zeek_type


def load_table(path):
    """The Zeek field table from the opensearch role's vars file (YAML) or a JSON copy of it."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if str(path).endswith(".json"):
            data = json.loads(text)
        else:
            import yaml  # only for the role's vars file itself; the bridge host gets a JSON copy

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - unreadable, bad JSON or YAML: one clear error naming the file
        raise HistoricalError(f"Zeek field table {path}: {exc}") from None
    table = data.get("__opensearch_zeek_fields", data) if isinstance(data, dict) else None
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise HistoricalError(f"Zeek field table {path}: not a mapping of log -> {{field: type}}")
    return table


def fields_by_type(table):
    """``{intel type: {log: [fields]}}`` derived from the field table (see the module doc)."""
    out = {}
    for log, fields in table.items():
        for name, ztype in fields.items():
            base = _base(str(ztype))
            if base == "addr":
                for itype in ("Intel::ADDR", "Intel::SUBNET"):
                    out.setdefault(itype, {}).setdefault(log, []).append(name)
                continue
            for itype, want, pattern in _ROLES:
                if base == want and re.search(pattern, name):
                    out.setdefault(itype, {}).setdefault(log, []).append(name)
        if fields.get("host") == "string" and fields.get("uri") == "string":
            out.setdefault("Intel::URL", {})[log] = ["host", "uri"]
    return out


def _get(doc, name):
    """A field of a stored record, whether the shipper kept Zeek's dotted key or nested objects."""
    if name in doc:
        return doc[name]
    cur = doc
    for part in name.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _values(value):
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _ts(value):
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass
class HistoricalResult:
    indicators: int = 0
    found: int = 0  # indicators seen at least once
    records: int = 0  # stored records carrying them (counted up to max_hits per indicator)
    by_log: dict = field(default_factory=dict)  # sightings per log
    sightings: list = field(default_factory=list)  # [{"uuid", "timestamp", "indicator", "type", "log"}]
    lookback_days: float = 0
    truncated: bool = False  # an indicator had max_hits records or more
    error: str = ""

    @property
    def summary(self):
        logs = ", ".join(f"{k} {v}" for k, v in sorted(self.by_log.items(), key=lambda kv: (-kv[1], kv[0])))
        text = (
            f"historical: {self.found} of {self.indicators} new indicators seen in {self.records}"
            f"{'+' if self.truncated else ''} stored records, look-back {self.lookback_days:g} d; "
            f"{len(self.sightings)} sightings from the newest{f' ({logs})' if logs else ''}"
        )
        if self.error:
            text += f"; error: {self.error}"
        return text


class HistoricalMatcher:
    def __init__(
        self,
        client,
        table,
        prefix="zeek",
        lookback_days=DEFAULT_LOOKBACK_DAYS,
        max_hits=DEFAULT_MAX_HITS,
        per_indicator=DEFAULT_PER_INDICATOR,
        timeout=30,
    ):
        """``client``: an opensearch-py ``OpenSearch``; ``table``: the Zeek field table (log ->
        {field: type}), e.g. :func:`load_table` of the opensearch role's vars file."""
        self.client = client
        self.fields = fields_by_type(table)
        self.prefix = prefix
        self.lookback_days = lookback_days
        self.max_hits = max_hits
        self.per_indicator = per_indicator
        self.timeout = timeout

    def _clauses(self, by_type):
        should = []
        for itype, values in by_type.items():
            logs = self.fields.get(itype, {})
            if itype == "Intel::URL":  # host + URI: both fields of the same record
                for url in sorted(values):
                    host, slash, rest = url.partition("/")
                    should.append({"bool": {"filter": [{"term": {"host": host}}, {"term": {"uri": slash + rest}}]}})
                continue
            names = sorted({f for fs in logs.values() for f in fs})
            for name in names:
                if itype in ("Intel::DOMAIN", "Intel::EMAIL"):
                    should.extend({"term": {name: {"value": v, "case_insensitive": True}}} for v in values)
                else:
                    should.append({"terms": {name: sorted(values)}})
        return should

    def _matches(self, doc, log, by_type):
        """(indicator, type) pairs of ``by_type`` the stored record carries."""
        found = set()
        for itype, values in by_type.items():
            fields = self.fields.get(itype, {}).get(log)
            if not fields:
                continue
            if itype == "Intel::URL":
                host, uri = _values(_get(doc, "host")), _values(_get(doc, "uri"))
                for h in host:
                    for u in uri:
                        if (h + u) in values:
                            found.add((h + u, itype))
                continue
            for name in fields:
                for v in _values(_get(doc, name)):
                    if itype == "Intel::SUBNET":
                        found.update((s, itype) for s in values if _in_subnet(v, s))
                    elif itype in ("Intel::DOMAIN", "Intel::EMAIL"):
                        low = v.lower()
                        found.update((x, itype) for x in values if x.lower() == low)
                    elif v in values:
                        found.add((v, itype))
        return found

    def _log_of(self, index):
        rest = index[len(self.prefix) + 1 :] if index.startswith(self.prefix + "-") else index
        for log in sorted(self.fields_logs(), key=len, reverse=True):
            if rest == log or rest.startswith(log + "-"):
                return log
        return rest.rsplit("-", 1)[0]

    def fields_logs(self):
        return {log for logs in self.fields.values() for log in logs}

    def match(self, items, now=None):
        """``items``: ``[(indicator, intel type, [attribute uuid, ...])]`` (new intel). Never raises on
        an OpenSearch failure: the result carries the error (the bridge logs it and goes on)."""
        now = time.time() if now is None else now
        res = HistoricalResult(indicators=len(items), lookback_days=self.lookback_days)
        uuids = {}
        by_type = {}
        for indicator, itype, attrs in items:
            if itype not in self.fields:
                continue
            by_type.setdefault(itype, set()).add(indicator)
            uuids.setdefault((indicator, itype), set()).update(attrs)
        if not by_type:
            return res
        since = now - self.lookback_days * 86400
        window = {"range": {"ts": {"gte": int(since), "lte": int(now) + 1, "format": "epoch_second"}}}
        flat = [(t, v) for t, vs in sorted(by_type.items()) for v in sorted(vs)]
        # one query per indicator (msearch, _BATCH a request): each gets its own newest occurrences,
        # so a busy indicator cannot crowd out the others
        for i in range(0, len(flat), _BATCH):
            part = flat[i : i + _BATCH]
            body = []
            for itype, value in part:
                body.append({"index": f"{self.prefix}-*", "ignore_unavailable": True})
                body.append(
                    {
                        "size": self.per_indicator,
                        "track_total_hits": self.max_hits,
                        "sort": [{"ts": {"order": "desc", "unmapped_type": "date"}}],
                        "query": {
                            "bool": {
                                "filter": [window],
                                "should": self._clauses({itype: {value}}),
                                "minimum_should_match": 1,
                            }
                        },
                    }
                )
            try:
                answer = self.client.msearch(body=body, request_timeout=self.timeout)
            except Exception as exc:  # noqa: BLE001 - OpenSearch down or refusing: reported, not fatal
                res.error = f"{type(exc).__name__}: {str(exc)[:300]}"
                return res
            for (itype, value), one in zip(part, answer.get("responses", []), strict=False):
                if "error" in one:
                    res.error = f"search for {value} ({itype}): {str(one['error'])[:300]}"
                    continue
                total = one.get("hits", {}).get("total", {})
                total = total.get("value", 0) if isinstance(total, dict) else int(total or 0)
                hits = one.get("hits", {}).get("hits", [])
                if not hits:
                    continue
                res.found += 1
                res.records += total
                res.truncated = res.truncated or total >= self.max_hits
                for hit in hits:
                    doc = hit.get("_source") or {}
                    log = self._log_of(hit.get("_index", ""))
                    if (value, itype) not in self._matches(doc, log, {itype: {value}}):
                        continue  # e.g. a case-insensitive hit on a field this type does not use here
                    try:
                        ts = int(_ts(_get(doc, "ts")))
                    except (TypeError, ValueError):
                        continue
                    res.by_log[log] = res.by_log.get(log, 0) + 1
                    for u in sorted(uuids.get((value, itype), ())):
                        res.sightings.append(
                            {"uuid": u, "timestamp": ts, "indicator": value, "type": itype, "log": log}
                        )
        return res


def _in_subnet(addr, subnet):
    import ipaddress

    try:
        return ipaddress.ip_address(addr) in ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return False
