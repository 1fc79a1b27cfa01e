"""Sync orchestration: source -> mapped events -> intel file + removals file + state.

Removal design (see docs/intel.md): Zeek's Input framework in REREAD mode only *adds* intel. Every
sync that changes the intel file also replaces ``<dest>.removals`` with exactly the
``(indicator, type, meta.source)`` triples that left the file in that sync; the ``socforge-intel``
Zeek package reads it as an event stream and calls ``Intel::remove`` for each. The invariant
"no removals line is also an intel line" holds after every sync, so re-reading an old removals
file (e.g. on Zeek restart) never removes live intel.
"""

import bisect
import hashlib
import json
import os
import random
import time
from collections import Counter
from dataclasses import asdict
from itertools import chain, repeat
from operator import add

from ansible_collections.socforge.core.plugins.module_utils.intel.events import MapStats, map_event
from ansible_collections.socforge.core.plugins.module_utils.intel.state import State
from ansible_collections.socforge.core.plugins.module_utils.intel.suppress import (
    SuppressionError,
    default_path,
    suppressed_keys,
)
from ansible_collections.socforge.core.plugins.module_utils.intel.writer import (
    INTEL_HEADER,
    INTEL_HEADER_B,
    atomic_write,
    file_stamp,
    read_lines_bytes,
    removal_line,
    render_chunks_bytes,
    winners_to_lines,
    write_removals,
)

DIFF_SAMPLE = 25
_BUCKET = 20000  # keys per range of the key space a full sync sorts at once (about)
_SAMPLE = 4096  # keys sampled to cut the key space into ranges
DEFAULT_RECONCILE_INTERVAL = 3600
# what happens to an event the state holds and MISP no longer lists as published (see docs/intel.md)
DROPPED = ("deleted", "retracted")


class SyncError(Exception):
    pass


def _source_pair(line):
    ind, typ, src, _ = line.split("\t", 3)
    return f"{ind}\t{typ}", src


def removal_pairs(removed_lines, added_lines):
    """(key, source) pairs that are really gone: a line whose source is unchanged is a meta update."""
    if not removed_lines:
        return []
    added = {_source_pair(ln) for ln in added_lines}
    return [ln for ln in removed_lines if _source_pair(ln) not in added]


def _options_fingerprint(flt, opts):
    raw = json.dumps({"filter": flt.fingerprint(), "meta": asdict(opts)}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _diff(added, removed, n_added, n_removed):
    lines = [f"-{ln}" for ln in sorted(removed)[:DIFF_SAMPLE]] + [f"+{ln}" for ln in sorted(added)[:DIFF_SAMPLE]]
    more = max(0, n_added - DIFF_SAMPLE) + max(0, n_removed - DIFF_SAMPLE)
    text = "\n".join(lines) + ("\n" if lines else "")
    if more:
        text += f"... and {more} more changed lines\n"
    return {"prepared": f"intel: +{n_added} -{n_removed} lines\n" + text}


def _result(
    stats, full, lines, added, removed, gone, changed, events, sync_point, n_added=None, n_removed=None, reconciled=None
):
    n_added = len(added) if n_added is None else n_added
    n_removed = len(removed) if n_removed is None else n_removed
    return {
        "changed": changed,
        "full_sync": full,
        "indicators": lines,
        "added": n_added,
        "removed": n_removed,
        "removals": len(gone),
        "events": events,
        "attributes": stats.attributes,
        "rejected": dict(sorted(stats.rejected.items())),
        "skipped_types": dict(sorted(stats.skipped_types.items())),
        "sync_point": sync_point,
        "reconciled": dict(sorted((reconciled or {}).items())),
        "diff": _diff(added, removed, n_added, n_removed),
    }


def sync(
    source,
    flt,
    opts,
    dest,
    state_path=None,
    removals_path=None,
    full=False,
    check_mode=False,
    mode=0o644,
    now=None,
    reconcile_interval=DEFAULT_RECONCILE_INTERVAL,
    suppress_path=None,
):
    """Run one sync. Raises ``SourceError``/``SyncError`` before writing anything on upstream failure.

    ``reconcile_interval``: seconds between two reconciliations of an incremental MISP sync (the
    state's event UUIDs against MISP's published events, metadata only), which notice hard-deleted
    and retracted events; 0 = every run.

    ``suppress_path`` (default ``<dest>.suppressed``): the noisy-intel suppression list; its keys stay
    out of the intel file (they leave it as removals) until lifted, then come back."""
    now = int(now if now is not None else time.time())
    state_path = state_path or dest + ".state"
    removals_path = removals_path or dest + ".removals"
    try:
        suppressed = suppressed_keys(suppress_path or default_path(dest))
    except SuppressionError as exc:
        raise SyncError(str(exc)) from None
    if not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
        raise SyncError(f"the directory of dest {dest!r} does not exist")
    fingerprint = _options_fingerprint(flt, opts)
    cutoff = now - flt.published_within_days * 86400 if flt.published_within_days is not None else None
    st = None if full else State.open(state_path)
    try:
        if st is not None and (st.get("source") != source.id or st.get("options") != fingerprint):
            st.close()
            st = None
        if st is None:
            return _full(
                source,
                flt,
                opts,
                dest,
                state_path,
                removals_path,
                check_mode,
                mode,
                fingerprint,
                cutoff,
                now,
                suppressed,
            )
        return _incremental(
            st, source, flt, opts, dest, removals_path, check_mode, mode, cutoff, now, reconcile_interval, suppressed
        )
    finally:
        if st is not None:
            st.close()


def _read_raw(dest):
    """The intel file's bytes and stat stamp, or ``(None, None)`` when absent or not ours."""
    stamp = file_stamp(dest)
    try:
        with open(dest, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None, None
    if not raw.startswith(INTEL_HEADER_B) or not raw.endswith(b"\n"):
        return None, stamp
    return raw, stamp


def _bisect_raw(raw, prefix):
    """Offset of the first data line >= ``prefix`` in the sorted file ``raw`` (or ``len(raw)``)."""
    lo, hi = len(INTEL_HEADER_B), len(raw)
    while lo < hi:
        mid = (lo + hi) // 2
        start = raw.rfind(b"\n", lo, mid) + 1 or lo
        start = max(start, lo)
        end = raw.find(b"\n", start)
        if raw[start:end] < prefix:
            lo = end + 1
        else:
            hi = start
    return lo


def _apply_edits(raw, edits):
    """Chunks of ``raw`` with ``(start, end, replacement)`` edits applied (no overlapping ranges;
    insertions at the same offset keep line order)."""
    view = memoryview(raw)
    pos = 0
    for start, end, replacement in sorted(edits):
        if start > pos:
            yield view[pos:start]
        if replacement:
            yield replacement
        pos = max(pos, end)
    if pos < len(raw):
        yield view[pos:]


def _patch(lines, removed_at, added):
    """Sorted ``lines`` without the lines at ``removed_at``, plus ``added``, by slicing (C speed):
    O(n) copies and O(k log n) searches instead of re-sorting or hashing the whole file."""
    kept = []
    prev = 0
    for i in sorted(removed_at):
        kept.extend(lines[prev:i])
        prev = i + 1
    kept.extend(lines[prev:])
    if not added:
        return kept
    out = []
    prev = 0
    for line in sorted(added):
        j = bisect.bisect_left(kept, line, prev)
        out.extend(kept[prev:j])
        out.append(line)
        prev = j
    out.extend(kept[prev:])
    return out


def _in_window(rec, flt, cutoff):
    return cutoff is None or rec.keep or rec.publish_timestamp >= cutoff


class _Diff:
    """Streaming comparison of the new sorted lines with the existing file (also sorted), done while
    the new file is written: memory stays O(changes), not O(file)."""

    def __init__(self):
        self.added = 0
        self.removed = 0
        self.added_sample = []
        self.removed_sample = []
        self.gone = []

    def add(self, line):
        self.added += 1
        if len(self.added_sample) < DIFF_SAMPLE:
            self.added_sample.append(line)

    def remove(self, line, gone=True):
        self.removed += 1
        if len(self.removed_sample) < DIFF_SAMPLE:
            self.removed_sample.append(line)
        if gone:
            self.gone.append(line)


def _old_lines(dest):
    """Yield the data lines of the existing file; first ``None`` if it is not ours, else ``True``."""
    try:
        fh = open(dest, "rb")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        yield None
        return
    try:
        if fh.readline() != INTEL_HEADER_B:
            yield None
            return
        yield True
        for raw in fh:
            yield raw.rstrip(b"\n").decode("utf-8", "replace")
    finally:
        fh.close()


def _key(line):
    parts = line.split("\t", 3)
    if len(parts) < 4:
        return None
    return f"{parts[0]}\t{parts[1]}", parts[2]


def _merge(lines, dest, diff):
    """Yield the new file's chunks while walking the existing (sorted) file alongside, recording the
    differences in ``diff`` and the number of lines in ``diff.lines``. ``lines``: a :class:`_Lines`.
    Sets ``diff.ours`` (the old file was written by us, in order)."""
    old = _old_lines(dest)
    diff.ours = next(old) is not None

    def advance():
        line = next(old, None)
        if line is None:
            return None, None
        key = _key(line)
        if key is None or (diff.last_old is not None and line < diff.last_old):
            diff.ours = False  # hand-edited or foreign content: stop comparing, rewrite it all
            return None, None
        diff.last_old = line
        return line, key

    diff.last_old = None
    diff.lines = 0
    old_line, old_key = advance() if diff.ours else (None, None)
    yield INTEL_HEADER
    if old_key is None:  # nothing to compare with (no old file, an empty or a foreign one): all added
        for chunk in lines.chunks():
            yield "".join(chunk)
            if len(diff.added_sample) < DIFF_SAMPLE:
                diff.added_sample += [ln[:-1] for ln in chunk[: DIFF_SAMPLE - len(diff.added_sample)]]
            diff.lines += len(chunk)
        diff.added = diff.lines
        return
    for chunk in lines.chunks():
        diff.lines += len(chunk)
        yield "".join(chunk)
        for line in chunk:
            line = line[:-1]
            k, source = _key(line)
            while old_key is not None and old_key[0] < k:
                diff.remove(old_line)
                old_line, old_key = advance()
            if old_key is not None and old_key[0] == k:
                if old_line != line:
                    diff.remove(old_line, gone=old_key[1] != source)
                    diff.add(line)
                old_line, old_key = advance()
            else:
                diff.add(line)
    while old_key is not None:
        diff.remove(old_line)
        old_line, old_key = advance()


class _Lines:
    """The intel file's lines of a full sync, in order, built range by range of the key space: no dict
    of every key and no global sort of 1.3 M keys (each a cache miss on a loaded machine).

    The key space is cut into ranges of about ``_BUCKET`` keys (bounds from a sample of the keys);
    each event's sorted key list is cut at the bounds by bisection, so a range gathers slices of the
    events that hold keys in it. A range's lines (key + ``"\\t" + suffix + "\\n"``) are made and
    sorted together; as no key is a prefix of another (a key ends in ``"\\t" + Intel type`` and
    values hold no tab), sorted lines are in key order, and the lines of a key several events hold
    side by side, the smallest suffix (the winner) first. A set of the range's keys tells whether it
    has such keys at all; only then are they looked up and their other lines dropped.

    ``chunks()`` yields each range's lines, each key once, suppressed keys left out; ``multi`` then
    holds ``{key: row ids}`` of every holder of the keys several events hold and of the suppressed
    keys (row id: 1 + the record's index), as the state stores them."""

    def __init__(self, records, suppressed):
        self.records = [(i + 1, r) for i, r in sorted(enumerate(records), key=lambda ir: ir[1].suffix) if r.keys]
        self.suppressed = suppressed
        self.multi = {}
        # the bounds: every _BUCKET-th key of a sorted random sample (fixed seed: the same bounds for
        # the same keys; they only decide the work per range, never the lines)
        every = list(chain.from_iterable(r.keys for _, r in self.records))
        n_sample = min(len(every), _SAMPLE)
        picks = random.Random(len(every)).sample(range(len(every)), n_sample)  # noqa: S311 - load balancing, not security
        sample = sorted(map(every.__getitem__, picks))
        del every
        step = max(1, _BUCKET * n_sample // max(1, sum(len(r.keys) for _, r in self.records)))
        self.bounds = sorted(set(sample[step::step]))

    def _slices(self):
        """Per range: ``[(keys slice, tail, row id)]`` of the events holding keys in it, smallest
        suffix first."""
        bounds = self.bounds
        ranges = [[] for _ in range(len(bounds) + 1)]
        for row, rec in self.records:
            keys = rec.keys
            tail = "\t" + rec.suffix + "\n"
            first = bisect.bisect_right(bounds, keys[0])
            last = bisect.bisect_right(bounds, keys[-1])
            start = 0
            for b in range(first, last):
                cut = bisect.bisect_left(keys, bounds[b], start)
                if cut > start:
                    ranges[b].append((keys[start:cut], tail, row))
                start = cut
            ranges[last].append((keys[start:] if start else keys, tail, row))
        return ranges

    def chunks(self):
        suppressed = sorted(self.suppressed)
        bounds = self.bounds
        for b, parts in enumerate(self._slices()):
            if not parts:
                continue
            lines = []
            seen = set()
            n_keys = 0
            for keys, tail, _ in parts:
                lines.extend(map(add, keys, repeat(tail)))
                seen.update(keys)
                n_keys += len(keys)
            lines.sort()
            lo = bisect.bisect_left(suppressed, bounds[b - 1]) if b else 0
            hi = bisect.bisect_left(suppressed, bounds[b]) if b < len(bounds) else len(suppressed)
            repeated = len(seen) != n_keys
            del seen
            if repeated or hi > lo:
                lines = self._drop(lines, parts, repeated, suppressed[lo:hi])
            if lines:
                yield lines

    def _drop(self, lines, parts, repeated, suppressed):
        """``lines`` without the second and later lines of repeated keys and without suppressed keys,
        their holders recorded in ``multi``."""
        row_of_tail = {tail: row for _, tail, row in parts}
        multi = self.multi
        drop = []
        if repeated:
            counts = Counter(chain.from_iterable(keys for keys, _, _ in parts))
            for k, n in counts.items():
                if n > 1:
                    lo = bisect.bisect_left(lines, k + "\t")
                    multi[k] = {row_of_tail[ln[len(k) :]] for ln in lines[lo : lo + n]}
                    drop.append((lo + 1, lo + n))
        for k in suppressed:  # out of the file: the state must name every holder itself
            lo = bisect.bisect_left(lines, k + "\t")
            hi = lo
            while hi < len(lines) and lines[hi].startswith(k + "\t"):
                hi += 1
            if hi > lo:
                multi.setdefault(k, {row_of_tail[ln[len(k) :]] for ln in lines[lo:hi]})
                drop = [d for d in drop if d[0] != lo + 1]
                drop.append((lo, hi))
        return _without(lines, drop)


def _without(items, ranges):
    """``items`` without the ``(start, end)`` ranges (not overlapping), by slicing."""
    out = []
    prev = 0
    for start, end in sorted(ranges):
        out.extend(items[prev:start])
        prev = end
    out.extend(items[prev:])
    return out


def _classify(source, flt, missing, reconciled):
    """What became of events the state holds and MISP no longer lists: ``{uuid: class}``."""
    if not missing or not hasattr(source, "classify_missing"):
        return {}
    classes = source.classify_missing(missing)
    if not flt.published_only:  # unpublished events are wanted: only a hard delete removes them
        classes = {u: ("deleted" if c == "deleted" else "published") for u, c in classes.items()}
    for cls in classes.values():
        reconciled[cls] = reconciled.get(cls, 0) + 1
    return classes


def _carried_over(source, flt, state_path, fingerprint, fetched, reconciled):
    """Records of the previous state for events being edited (unpublished by an edit, not yet
    republished): a full sync keeps their last synced indicators, as an incremental sync does."""
    if not hasattr(source, "classify_missing"):
        return []
    old = State.open(state_path)
    if old is None:
        return []
    try:
        if old.get("source") != source.id or old.get("options") != fingerprint:
            return []
        missing = set(old.known()) - fetched
        classes = _classify(source, flt, missing, reconciled)
        return [old.record(u) for u, c in sorted(classes.items()) if c == "editing"]
    finally:
        old.close()


def _compact(rec):
    """Keep a full sync's records small: the attribute UUIDs as the one text the state stores
    (aligned with the sorted keys) instead of a dict of a string per key (1.3 M attributes: ~150 MB)."""
    attrs = rec.attrs
    rec.attr_blob = "\n".join(map(attrs.__getitem__, rec.keys)) if attrs else ""
    rec.attrs = {}


def _full(source, flt, opts, dest, state_path, removals_path, check_mode, mode, fingerprint, cutoff, now, suppressed):
    stats = MapStats()
    records = []
    fetched = set()
    for event in source.fetch({}, None):
        rec = map_event(event, flt, opts, stats)
        if rec is not None:
            fetched.add(rec.uuid)
        if rec is None or not rec.selected or not _in_window(rec, flt, cutoff):
            continue
        _compact(rec)
        records.append(rec)
    reconciled = {}
    for rec in _carried_over(source, flt, state_path, fingerprint, fetched, reconciled):
        if _in_window(rec, flt, cutoff):
            records.append(rec)
    lines = _Lines(records, suppressed)
    diff = _Diff()
    if check_mode:
        for _ in _merge(lines, dest, diff):
            pass
        changed = bool(diff.added or diff.removed) or not diff.ours
    else:
        atomic_write(
            dest,
            _merge(lines, dest, diff),
            mode=mode,
            only_if_changed=False,
            unchanged=lambda: not (diff.added or diff.removed) and diff.ours,
        )
        changed = bool(diff.added or diff.removed) or not diff.ours
        if changed or not os.path.exists(removals_path):
            write_removals(removals_path, diff.gone, mode=mode)
        meta = {
            "source": source.id,
            "options": fingerprint,
            "sync_point": str(source.sync_point or 0),
            "last_full": str(now),
            "last_reconcile": str(now),
            "intel_stamp": file_stamp(dest),
            "suppressed": json.dumps(sorted(suppressed)),
            "dest": os.path.abspath(dest),
        }
        multi = lines.multi
        del lines
        State.build(state_path, records, meta, ((k, i) for k, ids in multi.items() for i in ids)).close()
    return _result(
        stats,
        True,
        diff.lines,
        diff.added_sample,
        diff.removed_sample,
        diff.gone,
        changed,
        len(records),
        source.sync_point,
        n_added=diff.added,
        n_removed=diff.removed,
        reconciled=reconciled,
    )


def _incremental(
    st, source, flt, opts, dest, removals_path, check_mode, mode, cutoff, now, reconcile_interval, suppressed
):
    stats = MapStats()
    since = int(st.get("sync_point", "0") or 0)
    known = st.known()
    changed_recs = []
    for event in source.fetch(known, since):
        rec = map_event(event, flt, opts, stats)
        if rec is not None:
            changed_recs.append(rec)
    reconciled = {}
    vanished = set()
    last = int(st.get("last_reconcile", "0") or 0)
    if hasattr(source, "published_uuids") and now - last >= reconcile_interval:
        # timestamp filters cannot report a hard delete or an explicit unpublish (MISP's unpublish
        # changes neither timestamp): compare the state's UUIDs with MISP's published events
        missing = set(known) - source.published_uuids() - {r.uuid for r in changed_recs}
        classes = _classify(source, flt, missing, reconciled)
        vanished = {u for u, c in classes.items() if c in DROPPED}
    drop = set(source.deleted) | {r.uuid for r in changed_recs} | vanished
    if cutoff is not None:
        drop.update(st.aged_out(cutoff))
    st.begin()
    try:
        suffix_of = st.suffixes()  # row id -> suffix, before the changes
        id_of_suffix = {v: k for k, v in suffix_of.items()}
        affected = set()
        dropped = set()
        for uuid in drop:
            ev, keys = st.drop_event(uuid)
            if ev is not None:
                dropped.add(ev)
                affected.update(keys)
        kept = 0
        added = {}  # key -> row ids of the new/changed events holding it
        for rec in changed_recs:
            if rec.selected and _in_window(rec, flt, cutoff):
                ev = st.add_event(rec)
                suffix_of[ev] = rec.suffix
                for k in rec.keys:
                    added.setdefault(k, set()).add(ev)
                affected.update(rec.keys)
                kept += 1
        # keys suppressed or lifted since the last sync are re-decided like changed keys
        before = set(json.loads(st.get("suppressed", "[]") or "[]"))
        affected.update(before ^ suppressed)
        raw, stamp = _read_raw(dest)
        ok = raw is not None and stamp == st.get("intel_stamp")
        if not ok:
            # the intel file is missing or was changed behind our back: re-render it from state
            _, lines, _ = read_lines_bytes(dest)
            best, multi = st.all_holders()
            row_id = {v: k for k, v in suffix_of.items() if k not in dropped}
            for k in suppressed:
                suffix = best.pop(k, None)
                if suffix is not None:
                    multi.setdefault(k, {row_id[suffix]})
            st.replace_multi((k, i) for k, ids in multi.items() for i in ids)
            new_lines = [ln.encode() for ln in winners_to_lines(best)]
            old = set(lines)
            new = set(new_lines)
            added_b = [ln for ln in new_lines if ln not in old]
            removed_b = [ln for ln in lines if ln not in new] if raw is not None else []
            chunks = render_chunks_bytes(new_lines)
            n_lines = len(new_lines)
        else:
            # patch the sorted file in place of rebuilding it: binary search on the raw bytes, then
            # write the untouched stretches as zero-copy slices around the changed lines
            multi = st.multi_holders(affected)  # the dropped events' rows are gone already
            new_multi = []
            added_b, removed_b, edits = [], [], []
            for key in affected:
                prefix = (key + "\t").encode()
                pos = _bisect_raw(raw, prefix)
                end = raw.find(b"\n", pos) if pos < len(raw) and raw.startswith(prefix, pos) else -1
                old_line = raw[pos:end] if end >= 0 else None
                new_ids = added.get(key, set())
                holders = multi.get(key)
                if holders is not None:  # every holder is listed: add the new ones
                    holders = holders | new_ids
                    new_multi.extend((key, e) for e in new_ids)
                else:  # at most one holder so far: the event named by the key's line in the file
                    holders = set(new_ids)
                    if old_line is not None:
                        ev = id_of_suffix.get(old_line[len(prefix) :].decode("utf-8", "replace"))
                        if ev is not None and ev not in dropped:
                            holders.add(ev)
                    if len(holders) > 1 or (holders and key in suppressed):
                        new_multi.extend((key, e) for e in holders)
                suffix = min(suffix_of[e] for e in holders) if holders and key not in suppressed else None
                new_line = prefix + suffix.encode() if suffix is not None else None
                if old_line != new_line:
                    if old_line is not None:
                        removed_b.append(old_line)
                    if new_line is not None:
                        added_b.append(new_line)
                    replacement = new_line + b"\n" if new_line is not None else b""
                    edits.append((pos, end + 1 if end >= 0 else pos, replacement))
            st.add_multi(new_multi)
            chunks = _apply_edits(raw, edits)
            n_lines = raw.count(b"\n") - 1 - len(removed_b) + len(added_b)
        added = [ln.decode() for ln in added_b]
        removed = [ln.decode() for ln in removed_b]
        gone = removal_pairs(removed, added)
        # a file merely touched (or re-stamped) with the same content is not a change
        changed = bool(added or removed) or raw is None
        new_sync_point = source.sync_point if source.sync_point is not None else since
        if check_mode:
            st.rollback()
        else:
            if changed:
                atomic_write(dest, chunks, mode=mode, only_if_changed=False)
                write_removals(removals_path, gone, mode=mode)
            st.set("sync_point", new_sync_point)
            st.set("intel_stamp", file_stamp(dest))
            st.set("last_incremental", now)
            st.set("suppressed", json.dumps(sorted(suppressed)))
            if reconciled or (hasattr(source, "published_uuids") and now - last >= reconcile_interval):
                st.set("last_reconcile", now)
            st.commit()
    except BaseException:
        if st.conn.in_transaction:
            st.rollback()
        raise
    return _result(stats, False, n_lines, added, removed, gone, changed, kept, new_sync_point, reconciled=reconciled)


def refresh(dest, state_path):
    """Touch an unchanged intel file so Zeek re-reads it (re-inserting live items before
    ``Intel::item_expiration``), and record the new stamp so the next sync trusts the file."""
    os.utime(dest)
    st = State.open(state_path)
    if st is not None:
        try:
            st.set("intel_stamp", file_stamp(dest))
        finally:
            st.close()


def removal_lines_for(lines):
    """Removals-file lines for the given intel lines (exported for tests and the CLI)."""
    return [removal_line(ln) for ln in lines]
