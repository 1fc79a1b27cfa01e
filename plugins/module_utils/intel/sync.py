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
import time
from dataclasses import asdict

from ansible_collections.socforge.core.plugins.module_utils.intel.events import MapStats, map_event
from ansible_collections.socforge.core.plugins.module_utils.intel.state import State
from ansible_collections.socforge.core.plugins.module_utils.intel.writer import (
    atomic_write,
    file_stamp,
    read_lines,
    read_lines_bytes,
    removal_line,
    render_chunks,
    render_chunks_bytes,
    winners_to_lines,
    write_removals,
)

DIFF_SAMPLE = 25


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


def _diff(added, removed):
    lines = [f"-{ln}" for ln in sorted(removed)[:DIFF_SAMPLE]] + [f"+{ln}" for ln in sorted(added)[:DIFF_SAMPLE]]
    more = max(0, len(added) - DIFF_SAMPLE) + max(0, len(removed) - DIFF_SAMPLE)
    text = "\n".join(lines) + ("\n" if lines else "")
    if more:
        text += f"... and {more} more changed lines\n"
    return {"prepared": f"intel: +{len(added)} -{len(removed)} lines\n" + text}


def _result(stats, full, lines, added, removed, gone, changed, events, sync_point):
    return {
        "changed": changed,
        "full_sync": full,
        "indicators": lines,
        "added": len(added),
        "removed": len(removed),
        "removals": len(gone),
        "events": events,
        "attributes": stats.attributes,
        "rejected": dict(sorted(stats.rejected.items())),
        "skipped_types": dict(sorted(stats.skipped_types.items())),
        "sync_point": sync_point,
        "diff": _diff(added, removed),
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
):
    """Run one sync. Raises ``SourceError``/``SyncError`` before writing anything on upstream failure."""
    now = int(now if now is not None else time.time())
    state_path = state_path or dest + ".state"
    removals_path = removals_path or dest + ".removals"
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
            return _full(source, flt, opts, dest, state_path, removals_path, check_mode, mode, fingerprint, cutoff, now)
        return _incremental(st, source, flt, opts, dest, removals_path, check_mode, mode, cutoff, now)
    finally:
        if st is not None:
            st.close()


def _in_window(rec, flt, cutoff):
    return cutoff is None or rec.keep or rec.publish_timestamp >= cutoff


def _full(source, flt, opts, dest, state_path, removals_path, check_mode, mode, fingerprint, cutoff, now):
    stats = MapStats()
    best = {}
    records = []
    for event in source.fetch({}, None):
        rec = map_event(event, flt, opts, stats)
        if rec is None or not rec.selected or not _in_window(rec, flt, cutoff):
            continue
        records.append(rec)
        suffix = rec.suffix
        for k in rec.keys:
            cur = best.get(k)
            if cur is None or suffix < cur:
                best[k] = suffix
    lines = winners_to_lines(best)
    del best
    ok, old_lines, _ = read_lines(dest)
    if old_lines:
        old_set = set(old_lines)
        new_set = set(lines)
        added = [ln for ln in lines if ln not in old_set]
        removed = [ln for ln in old_lines if ln not in new_set]
        del old_set, new_set
    else:
        added, removed = lines, []
    gone = removal_pairs(removed, added)
    changed = bool(added or removed) or not ok
    if not check_mode:
        if changed:
            atomic_write(dest, render_chunks(lines), mode=mode, only_if_changed=False)
            write_removals(removals_path, gone, mode=mode)
        elif not os.path.exists(removals_path):
            write_removals(removals_path, [], mode=mode)
        meta = {
            "source": source.id,
            "options": fingerprint,
            "sync_point": str(source.sync_point or 0),
            "last_full": str(now),
            "intel_stamp": file_stamp(dest),
        }
        State.build(state_path, records, meta).close()
    return _result(stats, True, len(lines), added, removed, gone, changed, len(records), source.sync_point)


def _incremental(st, source, flt, opts, dest, removals_path, check_mode, mode, cutoff, now):
    stats = MapStats()
    since = int(st.get("sync_point", "0") or 0)
    known = st.known()
    changed_recs = []
    for event in source.fetch(known, since):
        rec = map_event(event, flt, opts, stats)
        if rec is not None:
            changed_recs.append(rec)
    drop = set(source.deleted) | {r.uuid for r in changed_recs}
    if cutoff is not None:
        drop.update(st.aged_out(cutoff))
    st.begin()
    try:
        affected = set()
        for uuid in drop:
            affected.update(st.drop_event(uuid))
        kept = 0
        for rec in changed_recs:
            if rec.selected and _in_window(rec, flt, cutoff):
                st.add_event(rec)
                affected.update(rec.keys)
                kept += 1
        ok, lines, stamp = read_lines_bytes(dest)
        if not ok or stamp != st.get("intel_stamp"):
            # the intel file is missing or was changed behind our back: re-render it from state
            new_lines = [ln.encode() for ln in winners_to_lines(st.all_winners())]
            old = set(lines)
            new = set(new_lines)
            added_b = [ln for ln in new_lines if ln not in old]
            removed_b = [ln for ln in lines if ln not in new]
            if not ok:
                removed_b = []  # not our file: nothing in it was ever loaded from us
        else:
            winners = st.winners(affected)
            added_b, removed_b = [], []
            for key in affected:
                prefix = (key + "\t").encode()
                i = bisect.bisect_left(lines, prefix)
                old_line = lines[i] if i < len(lines) and lines[i].startswith(prefix) else None
                suffix = winners.get(key)
                new_line = prefix + suffix.encode() if suffix is not None else None
                if old_line != new_line:
                    if old_line is not None:
                        removed_b.append(old_line)
                    if new_line is not None:
                        added_b.append(new_line)
            if removed_b:
                gone_set = set(removed_b)
                new_lines = [ln for ln in lines if ln not in gone_set]
            else:
                new_lines = list(lines) if added_b else lines
            if added_b:
                new_lines.extend(added_b)
                new_lines.sort()
        added = [ln.decode() for ln in added_b]
        removed = [ln.decode() for ln in removed_b]
        gone = removal_pairs(removed, added)
        changed = bool(added or removed) or not ok or stamp != st.get("intel_stamp")
        new_sync_point = source.sync_point if source.sync_point is not None else since
        if check_mode:
            st.rollback()
        else:
            if changed:
                atomic_write(dest, render_chunks_bytes(new_lines), mode=mode, only_if_changed=False)
                write_removals(removals_path, gone, mode=mode)
            st.set("sync_point", new_sync_point)
            st.set("intel_stamp", file_stamp(dest))
            st.set("last_incremental", now)
            st.commit()
    except BaseException:
        if st.conn.in_transaction:
            st.rollback()
        raise
    return _result(stats, False, len(new_lines), added, removed, gone, changed, kept, new_sync_point)


def removal_lines_for(lines):
    """Removals-file lines for the given intel lines (exported for tests and the CLI)."""
    return [removal_line(ln) for ln in lines]
