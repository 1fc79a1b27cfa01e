"""The full sync's fast paths (issue 14 bench (d)) give exactly what the plain paths give.

- ``events._map_batched`` (values of the fast types collected per type, validated by one scan of
  the values joined by newlines) against ``events._map_loop`` (attribute by attribute, the pattern
  of ``_FAST`` per value): the same keys, attribute UUIDs and counts, or ``None`` (the caller then
  uses the loop) - on values built to hit every edge of the patterns.
- each line matcher against its per-value pattern, exhaustively on short strings.
- ``sync._Lines`` (lines sorted range by range of the key space instead of a dict of every key)
  against the winner table it replaced: the same lines, and the same holders of keys several events
  hold or that are suppressed.
"""

import itertools
import random
from collections import Counter

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import events as ev
from ansible_collections.socforge.core.plugins.module_utils.intel import sync
from ansible_collections.socforge.core.plugins.module_utils.intel.events import EventRecord, MapStats
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter

EDGE_VALUES = [
    "a.example",
    "A.Example",
    " a.example ",
    "a.example.",
    "a..example",
    ".a.example",
    "-a.example",
    "a-.example",
    "a.-example",
    "a.example-",
    "a_b.example",
    "a.ex_ample",
    "_dmarc.example",
    "localhost",
    "x" * 63 + ".example",
    "x" * 64 + ".example",
    ".".join(["y" * 63] * 4),
    ".".join(["y" * 63] * 4) + "z",
    "bücher.example",
    "\u212aelvin.example",
    "a.example\nb.example",
    "",
    "d41d8cd98f00b204e9800998ecf8427e",
    "D41D8CD98F00B204E9800998ECF8427E",
    "d41d8cd98f00b204e9800998ecf8427",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "1.2.3.4",
    "01.2.3.4",
    "255.255.255.255",
    "256.1.1.1",
    " 10.0.0.1",
    "10.0.0.0/8",
    "2001:db8::1",
    "1.2.3",
    None,
    7,
]
TYPES = ["domain", "hostname", "md5", "sha1", "sha256", "sha512", "ip-dst", "ip-src", "url", "domain|ip", "text"]


def random_attribute(rng, i):
    attr = {
        "uuid": f"u{i}",
        "type": rng.choice(TYPES),
        "value": rng.choice(EDGE_VALUES) if rng.random() < 0.6 else f"h{rng.randrange(50)}.example",
        "to_ids": True,
        "deleted": False,
    }
    roll = rng.random()
    if roll < 0.05:
        attr["to_ids"] = rng.choice([False, None, 1, 0, "1", "0"])
    elif roll < 0.1:
        attr["deleted"] = rng.choice([True, None, 1, "1", "0"])
    elif roll < 0.13:
        del attr[rng.choice(["to_ids", "deleted", "uuid", "type", "value"])]
    elif roll < 0.15:
        attr["uuid"] = rng.choice([None, ""])
    if rng.random() < 0.02:
        return rng.choice([None, "x", [attr]])
    return attr


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("max_length", [2048, 40, 14])
def test_batched_mapping_equals_the_loop(seed, max_length):
    rng = random.Random(seed)
    flt = IntelFilter(to_ids_only=seed % 2 == 0)
    batched_used = 0
    for _ in range(150):
        attributes = [random_attribute(rng, i) for i in range(rng.randrange(1, 40))]
        stats = MapStats()
        got = ev._map_batched(attributes, flt, max_length, stats)
        rejected, skipped = Counter(), Counter()
        want, counted = ev._map_loop(attributes, flt, frozenset(), max_length, rejected, skipped)
        if got is None:
            assert stats == MapStats()  # nothing counted: the loop maps the event
            continue
        batched_used += 1
        assert got == want
        assert (stats.attributes, stats.rejected, stats.skipped_types) == (counted, rejected, skipped)
    assert batched_used > 20


def test_batched_mapping_gives_up_on_a_key_several_attributes_yield():
    attributes = [
        {"uuid": "a", "type": "domain", "value": "x.example", "to_ids": True},
        {"uuid": "b", "type": "hostname", "value": "X.example", "to_ids": True},
    ]
    assert ev._map_batched(attributes, IntelFilter(), 2048, MapStats()) is None
    attrs, _ = ev._map_loop(attributes, IntelFilter(), frozenset(), 2048, Counter(), Counter())
    assert attrs == {"x.example\tIntel::DOMAIN": "a,b"}  # the loop keeps the attributes' order


@pytest.mark.parametrize(
    ("mtype", "alphabet", "length"),
    [("domain", "a-_.A\n", 6), ("md5", "0af\nA", 5), ("ip-dst", "0.25", 7)],
)
def test_line_matcher_accepts_what_the_pattern_accepts(mtype, alphabet, length):
    """Every batch of 1-3 short strings: the matcher takes exactly the values the per-value pattern
    takes, stopping at the first one it does not (a value holding a newline makes it refuse all)."""
    fullmatch, tail, matcher = ev._FAST[mtype]
    singles = ["".join(t) for n in range(length + 1) for t in itertools.product(alphabet, repeat=n)]
    rng = random.Random(1)
    batches = [[s] for s in singles] + [rng.sample(singles, rng.randrange(2, 4)) for _ in range(5000)]
    batches += [["0" * 32, "a" * 32, "A" * 32, "0" * 31, "f" * 32 + "\n" + "0" * 32], ["1.2.3.4\n5.6.7.8", "1.2.3.4"]]
    for vals in batches:
        keys, uuids = [], []
        left = list(ev._batches(ev._FAST[mtype], vals, vals, 2048, keys, uuids))
        taken = [k[: -len(tail)] for k in keys]
        assert sorted(taken + [v for v, _ in left]) == sorted(vals)
        for v in taken:
            assert fullmatch(v) is not None and "\n" not in v, (vals, v)
        if all(fullmatch(v) is not None and "\n" not in v for v in vals) and (
            mtype != "domain" or max(map(len, vals)) <= ev._SHORT_NAME
        ):
            assert not left, vals


def old_winner_table(records, suppressed):
    """The dict-based winner table sync._full used before _Lines (kept here as the reference)."""
    best, multi = {}, {}
    row_id = {rec.suffix: i for i, rec in enumerate(records, 1)}
    for rec in sorted(records, key=lambda r: r.suffix, reverse=True):
        common = best.keys() & rec.keys
        if common:
            me = row_id[rec.suffix]
            for k in common:
                multi.setdefault(k, {row_id[best[k]]}).add(me)
        best.update(dict.fromkeys(rec.keys, rec.suffix))
    for k in suppressed:
        suffix = best.pop(k, None)
        if suffix is not None:
            multi.setdefault(k, {row_id[suffix]})
    return [f"{k}\t{best[k]}" for k in sorted(best)], multi


@pytest.mark.parametrize("seed", range(16))
def test_sorted_lines_equal_the_winner_table(seed, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(sync, "_BUCKET", rng.choice([1, 2, 7, 20000]))  # many ranges of the key space, or one
    pool = rng.choice([3, 30, 3000])
    records = []
    for e in range(rng.randrange(0, 30)):
        keys = sorted({f"v{rng.randrange(pool)}\tIntel::DOMAIN" for _ in range(rng.randrange(0, 25))})
        records.append(EventRecord(f"e{e}", 0, 0, False, True, f"src ({rng.random():.6f})\t-\t-\tT\t-", keys))
    suppressed = {f"v{rng.randrange(pool)}\tIntel::DOMAIN" for _ in range(rng.randrange(0, 4))}
    want_lines, want_multi = old_winner_table(records, suppressed)
    lines = sync._Lines(records, suppressed)
    got = [line[:-1] for chunk in lines.chunks() for line in chunk]
    assert got == want_lines
    assert lines.multi == want_multi
