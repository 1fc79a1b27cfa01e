"""Sightings follower throughput (issue 14 bench (c)): Zeek intel.log lines processed per second.

Builds the intel library's state from generated MISP events (the export benchmark's generator: the
type mix of the real data in ../shared/data), writes a Zeek intel.log (TSV exactly as Zeek's ASCII
writer lays it out, and the same matches as JSON lines) whose matches hit indicators of that intel
with a skewed (Zipf-like) popularity and 5 % indicators not from MISP, then times
``Feedback.poll()`` over the whole file: read + parse, map each match to its attribute UUIDs (the
state), per-attribute batching, noisy-rate accounting and the spool transaction with the new
position. Delivery to MISP is not part of it (``misp=None``: sightings stay queued). Each run starts
from a fresh spool, pinned to one core. Target: >= 50 000 lines/s.

    python benchmarks/bench_intel_sightings.py [--lines 1000000] [--attributes 200000]
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _path  # noqa: E402,F401 -- puts .collections on sys.path
from bench_intel_export import PagesSource  # noqa: E402
from intel.generate import generate_pages  # noqa: E402

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tintel\n"
    "#open\t2026-11-30-14-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tseen.indicator\tseen.indicator_type\t"
    "seen.where\tseen.node\tmatched\tsources\tfuid\tfile_mime_type\tfile_desc\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tenum\tenum\tstring\tset[enum]\tset[string]\t"
    "string\tstring\tstring\n"
)
WHERE = {
    "Intel::DOMAIN": "DNS::IN_REQUEST",
    "Intel::ADDR": "Conn::IN_RESP",
    "Intel::URL": "HTTP::IN_URL",
    "Intel::FILE_HASH": "Files::IN_HASH",
}


def build_intel(tmp, attributes):
    from ansible_collections.socforge.core.plugins.module_utils.intel import sync
    from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
    from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter

    pages = Path(tmp) / "pages"
    generate_pages(pages, attributes, _path.SHARED_DATA)
    dest = str(Path(tmp) / "misp.intel")
    sync.sync(PagesSource(sorted(pages.glob("page-*.json"))), IntelFilter(), MetaOptions(instance="bench"), dest)
    keys = []
    with open(dest) as fh:
        next(fh)
        for line in fh:
            ind, typ, src, _ = line.split("\t", 3)
            keys.append((ind, typ, src))
    return dest, keys


def write_logs(tmp, keys, lines, rng):
    """The same matches as intel.log TSV and as JSON lines; returns their paths."""
    hot = rng.sample(keys, min(len(keys), 20_000))
    weights = [1 / (i + 1) ** 0.8 for i in range(len(hot))]
    picks = rng.choices(hot, weights, k=lines)
    t0 = 1_800_000_000.0
    tsv, js = Path(tmp) / "tsv" / "intel.log", Path(tmp) / "json" / "intel.log"
    tsv.parent.mkdir()
    js.parent.mkdir()
    with open(tsv, "w") as ft, open(js, "w") as fj:
        ft.write(HEADER)
        buf_t, buf_j = [], []
        for i, (ind, typ, src) in enumerate(picks):
            if i % 20 == 0:  # 5 % not from MISP (another feed's indicator)
                ind, typ, src = f"other{i}.example", "Intel::DOMAIN", "other-feed"
            ts = t0 + i / 2000
            uid = f"C{i:017x}"
            orig, resp = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", "192.0.2.53"
            where = WHERE.get(typ, "Conn::IN_RESP")
            buf_t.append(f"{ts:.6f}\t{uid}\t{orig}\t{40000 + i % 20000}\t{resp}\t53\t{ind}\t{typ}\t{where}\t"
                         f"worker-{i % 4 + 1}\t{typ}\t{src}\t-\t-\t-\n")  # fmt: skip
            buf_j.append(json.dumps({
                "ts": ts, "uid": uid, "id.orig_h": orig, "id.orig_p": 40000 + i % 20000, "id.resp_h": resp,
                "id.resp_p": 53, "seen.indicator": ind, "seen.indicator_type": typ, "seen.where": where,
                "seen.node": f"worker-{i % 4 + 1}", "matched": [typ], "sources": [src]}) + "\n")  # fmt: skip
            if len(buf_t) >= 50_000:
                ft.write("".join(buf_t))
                fj.write("".join(buf_j))
                buf_t, buf_j = [], []
        ft.write("".join(buf_t))
        fj.write("".join(buf_j))
    return tsv, js


def run(log, dest, spool, noisy_threshold):
    from ansible_collections.socforge.core.plugins.module_utils.intel.feedback import Feedback, FeedbackConfig
    from ansible_collections.socforge.core.plugins.module_utils.intel.intellog import IntelLogFollower

    t0, c0 = time.perf_counter(), time.process_time()
    matches, _ = IntelLogFollower(str(log)).poll(None)
    parse = (time.perf_counter() - t0, time.process_time() - c0)
    del matches
    cfg = FeedbackConfig(
        intel_log=str(log),
        spool_dir=spool,
        state_path=dest + ".state",
        suppress_path=spool + "/suppressed",
        source="bench",
        noisy_threshold=noisy_threshold,
    )
    fb = Feedback(cfg, misp=None)
    t0, c0 = time.perf_counter(), time.process_time()
    res = fb.poll(now=1_800_010_000)
    full = (time.perf_counter() - t0, time.process_time() - c0)
    fb.close()
    return parse, full, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--attributes", type=int, default=200_000)
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rng = random.Random(14)
    with tempfile.TemporaryDirectory(prefix="bench-sightings-") as tmp:
        dest, keys = build_intel(tmp, args.attributes)
        tsv, js = write_logs(tmp, keys, args.lines, rng)
        print(f"intel: {len(keys):,} indicators from {args.attributes:,} generated attributes; intel.log: "
              f"{args.lines:,} matches, TSV {tsv.stat().st_size / 1e6:.0f} MB, JSON {js.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        for name, log in (("TSV", tsv), ("JSON", js)):
            # threshold high enough that the skewed head is not taken out: every line is sighted
            parse, full, res = run(log, dest, f"{tmp}/spool-{name}", noisy_threshold=1e9)
            rate, cpu_rate = res.lines / full[0], res.lines / full[1]
            print(f"{name:4}: parse only {res.lines / parse[0]:>9,.0f} lines/s; Feedback.poll {full[0]:.2f} s wall "
                  f"({full[1]:.2f} s CPU) = {rate:,.0f} lines/s wall, {cpu_rate:,.0f} lines/s CPU; "
                  f"{res.matched:,} mapped, {res.unmapped:,} not from MISP, {res.queued:,} sightings queued")  # fmt: skip
            print(f"      {'PASS' if rate >= 50_000 else 'MISS'}  >= 50 000 lines/s (wall, one core)")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
