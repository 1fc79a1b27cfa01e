"""Intel on the real Zeek (the shared 7.2.2 / 8.1.2 builds), through the socforge-intel package and
the role's rendered local.zeek, with intel files written by the intel library's writer:

1. load:    seconds from zeek_init to the intel file's Input::end_of_data, the process's CPU time and
            RSS at that moment (and its peak RSS), for N items (default 100 000 and 1 000 000),
            against an empty file (baseline);
2. removal: with N items loaded, the library's next generation is written (the intel file minus
            1 000 items, and a .removals file listing them); seconds from the write to the first
            and to the last Intel::remove applied, to the probe item gone (Intel::find), and to the
            end of the whole intel file's re-read (REREAD re-reads all N lines);
3. live:    (root, tcpreplay) Zeek captures with AF_PACKET on one end of a veth pair in a network
            namespace of its own while tcpreplay loops wikipedia.pcap onto the other end; an intel
            file write adds a domain the trace queries in DNS; seconds from the write to Zeek's
            Intel::match. Three trials, one new indicator each.

    python benchmarks/bench_zeek_intel.py [--builds 8,7] [--sizes 100000,1000000] [--skip-live]

Prints numbers; nothing is asserted. Everything lives in a temporary directory; the namespace and the
processes it starts are removed at the end.
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _path  # noqa: E402,F401 -- puts .collections on sys.path

REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "integration" / "zeek"))
from ansible_collections.socforge.core.plugins.module_utils.intel.writer import (  # noqa: E402
    atomic_write,
    render_chunks,
    write_removals,
)
from zeek_site import write_site, zeek_env  # noqa: E402 -- the roles' real templates

from tests.zeek_runtime import PCAPS, ZeekNotFound, find_zeek  # noqa: E402

SUFFIX = "bench (0b1e5c8e-1d2c-4c3b-9a55-5e1f00000000) - CERT-Bench\tBench event\t-\tT\t-"
REMOVED = 1000


def intel_lines(n, seed=1):
    """n unique, sorted intel lines with a real feed's type mix: 80 % domains, 10 % IPv4 addresses,
    5 % md5 hashes, 5 % URLs."""
    rnd = random.Random(seed)
    out = set()
    i = 0
    while len(out) < n:
        i += 1
        kind = rnd.random()
        if kind < 0.80:
            out.add(f"h{i:07d}-{rnd.getrandbits(32):08x}.example-{i % 97}.org\tIntel::DOMAIN")
        elif kind < 0.90:
            out.add(f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\tIntel::ADDR")
        elif kind < 0.95:
            out.add(f"{rnd.getrandbits(128):032x}\tIntel::FILE_HASH")
        else:
            out.add(f"bad-{i}.example.net/p/{rnd.getrandbits(40):010x}.php\tIntel::URL")
    return sorted(f"{key}\t{SUFFIX}" for key in out)


def write_intel(path, lines):
    atomic_write(str(path), render_chunks(lines), only_if_changed=False)


LOAD_SCRIPT = """
@load base/frameworks/input
@load base/frameworks/intel
redef exit_only_after_terminate = T;
module SOCForgeBench;
export { const ready_file = "" &redef; const probe = "" &redef; const removals = 0 &redef; }
global t0: time;
global intel_eod = 0;
global first_removal = 0.0;
global gone_reported = F;
function now(): string { return fmt("%.6f", time_to_double(current_time())); }
event zeek_init() &priority=100 { t0 = current_time(); print fmt("start %s", now()); }
event Input::end_of_data(name: string, source: string)
	{
	if ( ! starts_with(name, "socforge-intel-") || starts_with(name, "socforge-intel-removals-") )
		return;
	++intel_eod;
	print fmt("intel_eod %d %s load_s=%.3f", intel_eod, now(), interval_to_double(current_time() - t0));
	if ( intel_eod == 1 )
		system(fmt("touch %s", safe_shell_quote(ready_file)));
	}
event SOCForgeIntel::removal_entry(desc: Input::EventDescription, tpe: Input::Event, item: SOCForgeIntel::RemovalItem) &priority=-10
	{
	if ( SOCForgeIntel::removals_applied == 1 )
		print fmt("first_removal %s", now());
	if ( ! gone_reported && item$indicator == probe )
		{
		# socforge-intel's handler (priority 0) has called Intel::remove; a sighting now must not match.
		gone_reported = T;
		print fmt("probe_gone %s", now());
		Intel::seen([$indicator=probe, $indicator_type=Intel::DOMAIN, $where=Intel::IN_ANYWHERE]);
		}
	if ( SOCForgeIntel::removals_applied == removals )
		{
		print fmt("last_removal %s", now());
		}
	}
event Intel::match(s: Intel::Seen, items: set[Intel::Item])
	{
	if ( s$indicator == probe )
		print fmt("probe_still_matches %s", now());
	}
event Input::end_of_data(name: string, source: string) &priority=-10
	{
	if ( intel_eod >= 2 && SOCForgeIntel::removals_applied >= removals )
		terminate();
	}
event SOCForgeIntel::removal_entry(desc: Input::EventDescription, tpe: Input::Event, item: SOCForgeIntel::RemovalItem) &priority=-20
	{
	if ( intel_eod >= 2 && SOCForgeIntel::removals_applied >= removals )
		terminate();
	}
"""


def parse(stdout):
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if not parts or line.endswith("received termination signal"):
            continue
        if parts[0] == "intel_eod":
            out[f"intel_eod_{parts[1]}"] = float(parts[2])
            out.setdefault("load_s", float(parts[3].split("=")[1]))
        elif len(parts) == 2 and parts[0] in (
            "start",
            "first_removal",
            "probe_gone",
            "last_removal",
            "probe_still_matches",
        ):
            out[parts[0]] = float(parts[1])
        else:
            raise RuntimeError(f"unexpected zeek output: {stdout[-2000:]}")
    return out


def run_load(build, root, n, removals):
    """One Zeek process: load n items; with ``removals``, then apply the next generation."""
    site = write_site(root, build, intel_sources=("bench",))
    intel = site.intel_files[0]
    lines = intel_lines(n)
    write_intel(intel, lines)
    write_removals(f"{intel}.removals", [])
    size_mb = intel.stat().st_size / 1e6
    ready = root / "ready"
    middle = next((i for i in range(len(lines) // 2, len(lines)) if "\tIntel::DOMAIN\t" in lines[i]), 0)
    probe = lines[middle].split("\t")[0] if lines else ""
    script = root / "bench.zeek"
    script.write_text(LOAD_SCRIPT)
    cmd = [
        str(build.zeek),
        str(site.local),
        str(script),
        f"SOCForgeBench::ready_file={ready}",
        f"SOCForgeBench::probe={probe}",
        f"SOCForgeBench::removals={removals if n else 0}",
    ]
    rundir = root / "run"
    rundir.mkdir()
    with open(rundir / "stdout", "w") as out:
        proc = subprocess.Popen(cmd, cwd=rundir, env=zeek_env(build, site), stdout=out, stderr=subprocess.STDOUT)
    written = None
    deadline = time.monotonic() + 1800
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"zeek ended before loading: {(rundir / 'stdout').read_text()[-2000:]}")
        time.sleep(0.05)
    status_text = Path(f"/proc/{proc.pid}/status").read_text()
    rss_loaded = int(next(ln.split()[1] for ln in status_text.splitlines() if ln.startswith("VmRSS:"))) / 1024
    stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_loaded = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    if not (removals and n):
        proc.send_signal(signal.SIGTERM)
    else:
        rnd = random.Random(7)
        gone = set(rnd.sample(range(len(lines)), removals - 1)) | {middle}
        keep = [ln for i, ln in enumerate(lines) if i not in gone]
        write_intel(intel, keep)
        write_removals(f"{intel}.removals", [lines[i] for i in gone])
        written = time.time()
    _, status, usage = os.wait4(proc.pid, 0)
    text = (rundir / "stdout").read_text()
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"zeek exited {status}: {text[-2000:]}")
    got = parse(text)
    if "probe_still_matches" in got:
        raise RuntimeError(f"the probe {probe} still matched after its removal")
    got["rss_mb"] = rss_loaded
    got["cpu_s"] = cpu_loaded
    got["peak_rss_mb"] = usage.ru_maxrss / 1024
    got["size_mb"] = size_mb
    if written:
        for key in ("first_removal", "probe_gone", "last_removal", "intel_eod_2"):
            got[f"{key}_after_write_s"] = got[key] - written if key in got else float("nan")
    return got


# --- live: AF_PACKET on a veth pair, tcpreplay looping a pcap ----------------------------------------

LIVE_SCRIPT = """
@load base/frameworks/intel
module SOCForgeBench;
export { const mark_dir = "" &redef; }
global capturing = F;
global seen: set[string];
event dns_request(c: connection, msg: dns_msg, query: string, qtype: count, qclass: count)
	{
	if ( capturing )
		return;
	capturing = T;
	system(fmt("touch %s/capturing", safe_shell_quote(mark_dir)));
	}
event Intel::match(s: Intel::Seen, items: set[Intel::Item])
	{
	if ( s$indicator in seen )
		return;
	add seen[s$indicator];
	system(fmt("echo %.6f > %s", time_to_double(current_time()), safe_shell_quote(cat(mark_dir, "/hit-", s$indicator))));
	}
"""

LIVE_INDICATORS = ["upload.wikimedia.org", "meta.wikimedia.org", "upload.wikimedia.org.ncsa.uiuc.edu"]


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def run_live(build, root, pps=1000):
    ns = f"socforge-bench-{os.getpid()}"
    procs = []
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "add", "zcap0", "type", "veth", "peer", "name", "zrep0")
        for dev in ("lo", "zcap0", "zrep0"):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        site = write_site(root, build, intel_sources=("live",))
        intel = site.intel_files[0]
        write_intel(intel, [])
        write_removals(f"{intel}.removals", [])
        marks = root / "marks"
        marks.mkdir()
        script = root / "live.zeek"
        script.write_text(LIVE_SCRIPT)
        rundir = root / "run"
        rundir.mkdir()
        zeek = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                str(build.zeek),
                "-i",
                "af_packet::zcap0",
                str(site.local),
                str(script),
                f"SOCForgeBench::mark_dir={marks}",
            ],  # fmt: skip
            cwd=rundir,
            env=zeek_env(build, site),
            stdout=subprocess.DEVNULL,
            stderr=open(rundir / "stderr", "w"),  # noqa: SIM115 -- the child's stderr
            start_new_session=True,
        )
        procs.append(zeek)
        time.sleep(2)  # AF_PACKET socket up before the first packet
        replay = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "tcpreplay",
                "-q",
                "-i",
                "zrep0",
                "--loop=0",
                f"--pps={pps}",
                str(PCAPS / "wikipedia.pcap"),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(replay)
        deadline = time.monotonic() + 60
        while not (marks / "capturing").exists():
            if zeek.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"zeek is not capturing: {(rundir / 'stderr').read_text()[-2000:]}")
            time.sleep(0.1)
        results = []
        for i, indicator in enumerate(LIVE_INDICATORS):
            time.sleep(1.5)  # not in step with the reader's 1 s check
            lines = sorted(f"{d}\tIntel::DOMAIN\t{SUFFIX}" for d in LIVE_INDICATORS[: i + 1])
            write_intel(intel, lines)
            written = time.time()
            hit = marks / f"hit-{indicator}"
            while not hit.exists() or not hit.read_text().strip():
                if time.monotonic() > deadline + 60 * (i + 1):
                    raise RuntimeError(f"no hit for {indicator}")
                time.sleep(0.05)
            results.append(float(hit.read_text()) - written)
        return results
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builds", default="8,7", help="Zeek lines, comma-separated (default 8,7)")
    ap.add_argument("--sizes", default="100000,1000000", help="intel items per run")
    ap.add_argument("--skip-live", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for line in args.builds.split(","):
        try:
            build = find_zeek(line)
        except ZeekNotFound as exc:
            print(f"Zeek {line}.x: not measured: {exc}")
            continue
        print(f"\n== {build}")
        print(f"{'items':>9} {'file MB':>8} {'load s':>7} {'CPU s':>6} {'RSS MB':>7} {'peak RSS':>9} | removal of {REMOVED} (s after the write):"
              f" {'first':>6} {'probe gone':>10} {'last':>6} {'re-read done':>12}")  # fmt: skip
        for n in [0, *map(int, args.sizes.split(","))]:
            root = Path(tempfile.mkdtemp(prefix="socforge-bench-zeek-"))
            try:
                r = run_load(build, root, n, REMOVED if n else 0)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            rem = (
                f"{r['first_removal_after_write_s']:6.2f} {r['probe_gone_after_write_s']:10.2f} "
                f"{r['last_removal_after_write_s']:6.2f} {r['intel_eod_2_after_write_s']:12.2f}"
                if n
                else "(baseline: empty intel file)"
            )
            print(
                f"{n:>9} {r['size_mb']:8.1f} {r['load_s']:7.2f} {r['cpu_s']:6.2f} {r['rss_mb']:7.0f} {r['peak_rss_mb']:9.0f} | {rem}",
                flush=True,
            )
        if args.skip_live:
            continue
        if os.geteuid() != 0 or not shutil.which("tcpreplay"):
            print("live: not measured (needs root for the network namespace, and tcpreplay)")
            continue
        root = Path(tempfile.mkdtemp(prefix="socforge-bench-zeek-live-"))
        try:
            lat = run_live(build, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(
            "live (AF_PACKET, tcpreplay wikipedia.pcap looped at 1000 pps): intel file write -> first "
            f"Intel::match: {', '.join(f'{x:.2f}' for x in lat)} s (mean {sum(lat) / len(lat):.2f} s)"
        )


if __name__ == "__main__":
    main()
