"""The export a user would write with pymisp's object model: MISPEvent / MISPAttribute objects,
then map each attribute (MISP's BroExport table) and write lines. Used as the baseline."""

import re

from pymisp import MISPEvent

BRO = {
    "ip-dst": "ADDR", "ip-src": "ADDR", "ip-dst|port": "ADDR", "ip-src|port": "ADDR",
    "email-src": "EMAIL", "email-dst": "EMAIL", "target-email": "EMAIL", "email-attachment": "FILE_NAME",
    "filename": "FILE_NAME", "hostname": "DOMAIN", "domain": "DOMAIN", "domain|ip": "DOMAIN", "url": "URL",
    "user-agent": "SOFTWARE", "md5": "FILE_HASH", "sha1": "FILE_HASH", "sha256": "FILE_HASH",
    "malware-sample": "FILE_NAME", "x509-fingerprint-sha1": "CERT_HASH", "pdb": "FILE_NAME",
}  # fmt: skip
for _h in ("md5", "sha1", "sha256", "sha224", "sha384", "sha512", "ssdeep", "imphash", "tlsh"):
    BRO.setdefault(_h, "FILE_HASH")
    BRO["filename|" + _h] = "FILE_NAME"
_SCHEME = re.compile(r"^https?://")


def naive_export(pages, dest):
    """``pages``: iterable of lists of event dicts. Writes ``dest``; returns the line count."""
    lines = set()
    for page in pages:
        for item in page:
            event = MISPEvent()
            event.from_dict(**item)
            attributes = list(event.attributes)
            for obj in event.objects:
                attributes.extend(obj.attributes)
            source = f"MISP ({event.uuid}) - {event.Orgc.name if hasattr(event, 'Orgc') else '-'}"
            for attr in attributes:
                if not attr.to_ids or attr.type not in BRO:
                    continue
                value = attr.value.strip()
                ztype = BRO[attr.type]
                if "|" in attr.type:
                    first, _, second = value.partition("|")
                    if attr.type.startswith("filename|") or attr.type == "malware-sample":
                        lines.add(f"{second}\tIntel::FILE_HASH\t{source}\t{event.info}\t-\tT\t-")
                    elif attr.type == "domain|ip":
                        lines.add(f"{second}\tIntel::ADDR\t{source}\t{event.info}\t-\tT\t-")
                    value = first
                if attr.type == "url":
                    value = _SCHEME.sub("", value)
                if ztype == "ADDR" and "/" in value:
                    ztype = "SUBNET"
                lines.add(f"{value}\tIntel::{ztype}\t{source}\t{event.info}\t-\tT\t-")
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\tmeta.do_notice\tmeta.if_in\n")
        for line in sorted(lines):
            fh.write(line + "\n")
    return len(lines)
