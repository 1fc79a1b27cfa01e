"""Generate MISP restSearch-like JSON pages with a realistic attribute type mix.

The mix is measured from the real data in ../shared/data (the Infoblox MISP feed and the PyMISP /
MISP test events, object attributes included), so it is dominated by domains as real feeds are.
Defanging and stray whitespace are reproduced at the rates measured in the Infoblox feed.
"""

import hashlib
import json
import random
import uuid
from collections import Counter
from pathlib import Path


def real_type_mix(shared):
    """(type counts, url defang rate, whitespace rate) over every real attribute."""
    counts = Counter()
    urls = defanged = padded = total = 0
    files = list((shared / "misp-feed-infoblox" / "events").glob("*.json"))
    files += list((shared / "misp-events").rglob("*.json"))
    for path in files:
        data = json.loads(path.read_text())
        ev = data.get("Event", data) if isinstance(data, dict) else {}
        if not isinstance(ev, dict):
            continue
        attrs = list(ev.get("Attribute") or [])
        for obj in ev.get("Object") or []:
            attrs += obj.get("Attribute") or []
        for a in attrs:
            if not isinstance(a, dict) or "type" not in a or not isinstance(a.get("value"), str):
                continue
            counts[a["type"]] += 1
            total += 1
            v = a["value"]
            padded += v != v.strip()
            if a["type"] == "url":
                urls += 1
                defanged += v.strip().lower().startswith("hxxp")
    return counts, defanged / max(urls, 1), padded / max(total, 1)


_TLDS = ("com", "net", "org", "ru", "cn", "info", "xyz", "top", "io", "de")


class ValueFactory:
    def __init__(self, rng, defang_rate, pad_rate):
        self.rng = rng
        self.defang_rate = defang_rate
        self.pad_rate = pad_rate
        self.n = 0

    def _domain(self):
        self.n += 1
        first = self.rng.choice("abcdefghijklmnopqrstuvwxyz")
        return f"{first}{self.n:x}{self.rng.randrange(1 << 20):05x}.{self.rng.choice(_TLDS)}"

    def _ip(self):
        if self.rng.random() < 0.05:
            return f"2001:db8:{self.rng.randrange(65536):x}::{self.rng.randrange(65536):x}"
        return ".".join(str(self.rng.randrange(1, 255)) for _ in range(4))

    def _hash(self, algo):
        self.n += 1
        return hashlib.new(algo, str(self.n).encode()).hexdigest()

    def value(self, t):
        if t in ("domain", "hostname"):
            v = self._domain()
        elif t in ("ip-dst", "ip-src"):
            v = self._ip()
        elif t in ("ip-dst|port", "ip-src|port"):
            v = f"{self._ip()}|{self.rng.randrange(1, 65536)}"
        elif t == "domain|ip":
            v = f"{self._domain()}|{self._ip()}"
        elif t == "url":
            scheme = "hxxps://" if self.rng.random() < self.defang_rate else "https://"
            v = f"{scheme}{self._domain()}/{self.rng.randrange(1 << 30):x}/load.php"
        elif t.startswith("email"):
            v = f"user{self.rng.randrange(1 << 24):x}@{self._domain()}"
        elif t in ("md5", "sha1", "sha256", "sha512", "sha224", "sha384"):
            v = self._hash(t)
        elif t in ("imphash",):
            v = self._hash("md5")
        elif t.startswith("filename|"):
            algo = t.split("|")[1]
            v = f"file{self.n}.exe|{self._hash(algo if algo in hashlib.algorithms_available else 'sha256')}"
        elif t == "malware-sample":
            v = f"sample{self.n}.bin|{self._hash('md5')}"
        elif t in ("filename", "email-attachment", "pdb"):
            self.n += 1
            v = f"invoice_{self.n}.pdf.exe"
        elif t == "user-agent":
            v = f"Mozilla/5.0 (bot {self.rng.randrange(1 << 16)})"
        elif t == "x509-fingerprint-sha1":
            v = self._hash("sha1")
        else:
            self.n += 1
            v = f"{t} value {self.n}"
        if self.rng.random() < self.pad_rate:
            v = f" {v} "
        return v


def generate_pages(out_dir, total, shared, per_event=1000, events_per_page=20, seed=1309):
    """Write ``page-NNNNN.json`` files (lists of ``{"Event": ...}``, as events/restSearch answers).
    Returns (number of events, the type mix used)."""
    rng = random.Random(seed)
    counts, defang_rate, pad_rate = real_type_mix(shared)
    types = sorted(counts)
    weights = [counts[t] for t in types]
    factory = ValueFactory(rng, defang_rate, pad_rate)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_events = (total + per_event - 1) // per_event
    base_ts = 1_700_000_000
    page, page_no, made = [], 0, 0
    for e in range(n_events):
        size = min(per_event, total - made)
        made += size
        ts = base_ts + e * 60
        attrs = []
        for t in rng.choices(types, weights, k=size):
            attrs.append(
                {
                    "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "type": t,
                    "category": "Network activity",
                    "value": factory.value(t),
                    "to_ids": True,
                    "timestamp": str(ts),
                    "comment": "",
                    "deleted": False,
                }
            )
        page.append(
            {
                "Event": {
                    "id": str(e + 1),
                    "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "info": f"Generated event {e + 1} (type mix of ../shared/data)",
                    "published": True,
                    "timestamp": str(ts),
                    "publish_timestamp": str(ts),
                    "Orgc": {"name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
                    "Tag": [{"name": "tlp:white"}],
                    "Attribute": attrs,
                    "Object": [],
                }
            }
        )
        if len(page) == events_per_page or e == n_events - 1:
            (out_dir / f"page-{page_no:05d}.json").write_text(json.dumps(page))
            page, page_no = [], page_no + 1
    return n_events, {t: counts[t] for t in types}
