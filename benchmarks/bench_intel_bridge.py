"""Bench (a) of issue 14: latency of the intel bridge, MISP ZeroMQ message -> Intel::insert applied in
the running Zeek, and attribute deleted -> Intel::remove applied, with N items already loaded.

Real pieces: the shared Zeek builds (7.2.2 over Broker, 8.1.2 over the WebSocket API), the bridge's
own code (plugins/module_utils/intel/bridge.py, in this process: its store, coalescing, batches and
acknowledgements), a pyzmq PUB socket sending MISP 2.5.1's message shapes (tests/integration/
intel_bridge/misp_messages.py: ``misp_json`` publications of one-attribute events, then
``misp_json_attribute`` hard deletes). N items are loaded first through the file path (the bridge's
store filled in bulk, its intel file read by Zeek at start), so Zeek and the store hold N items while
the changes are measured.

Latency = from just before the publisher's send to the bridge receiving Zeek's
``SOCForgeBridge::applied`` for the batch holding the item (Zeek sends it after calling
Intel::insert / Intel::remove on the manager). Changes are sent at a steady rate (default 100/s), each
measured on its own, plus one burst of all deletes at once (coalesced).

    python benchmarks/bench_intel_bridge.py [--builds 8,7] [--sizes 10000,1000000] [--changes 1000] [--rate 100]

Prints numbers; nothing is asserted.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _path  # noqa: E402,F401 -- puts .collections on sys.path

REPO = HERE.parent
sys.path.insert(0, str(REPO))
from ansible_collections.socforge.core.plugins.module_utils.intel.bridge import Bridge, BridgeConfig  # noqa: E402

from tests.integration.intel_bridge import misp_messages as mm  # noqa: E402
from tests.integration.intel_bridge.harness import PACKAGE, Publisher, free_port, zeromq_standalone_lines  # noqa: E402
from tests.zeek_runtime import find_zeek  # noqa: E402

SRC = "MISP ({uuid}) - SOCForge"


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def start_zeek(build, workdir, snapshot):
    port = free_port()
    lines = ["@load base/frameworks/intel", f"@load {PACKAGE}/main.zeek"]
    if build.major != "7":
        lines += zeromq_standalone_lines()
    lines += [
        f"redef SOCForgeBridge::listen_port = {port}/tcp;",
        f'redef SOCForgeBridge::snapshot_file = "{snapshot}";',
        "redef exit_only_after_terminate = T;",
    ]
    script = Path(workdir) / "bench.zeek"
    script.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [str(build.zeek), "-b", str(script)],
        cwd=workdir,
        env=build.env(),
        stdout=open(Path(workdir) / "zeek.out", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    if build.major == "7":
        cfg = {"transport": "broker", "zeek_host": "127.0.0.1", "zeek_port": port,
               "broker_python_path": str(build.prefix / "lib" / "zeek" / "python")}  # fmt: skip
    else:
        cfg = {"transport": "websocket", "zeek_url": f"ws://127.0.0.1:{port}/v1/messages/json"}
    return proc, cfg


def run(build, size, changes, rate, workdir):
    os.makedirs(workdir, exist_ok=True)
    intel = Path(workdir) / "misp-live.intel"
    pub = Publisher()
    # N items in the store and the intel file (the file path), as after a snapshot
    t0 = time.time()
    base_ev = "00000000-0000-4000-8000-00000000b000"
    rows = []
    events = []
    for i in range(size):
        ev = f"00000000-0000-4000-8000-{i // 100:012d}"
        if i % 100 == 0:
            events.append((ev, str(i // 100)))
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" if i < 1 << 24 else f"11.0.0.{i & 255}"
        rows.append((f"a-{i}", f"{ip}\tIntel::ADDR", ev, SRC.format(uuid=ev), "bench load\t-\tF\t-"))
    cfg = BridgeConfig(intel_file=str(intel), store_path=str(Path(workdir) / "bridge.db"), zmq_url=pub.url,
                       coalesce=0.002, file_interval=5.0, heartbeat_timeout=3600)  # fmt: skip
    b0 = Bridge(cfg, transport=_NoTransport())
    b0.store.bulk_load(rows, events)
    b0.write_file()
    b0.store.set("file_written", "1")
    b0.store.close()
    del rows
    prep = time.time() - t0
    zeek, zcfg = start_zeek(build, workdir, intel)
    for k, v in zcfg.items():
        setattr(cfg, {"zeek_url": "zeek_url", "zeek_host": "zeek_host", "zeek_port": "zeek_port",
                      "broker_python_path": "broker_python_path", "transport": "transport"}[k], v)  # fmt: skip
    b = Bridge(cfg)
    sent = {}
    applied = {}

    def on_applied(seq, items):
        now = time.time()
        for item in items:
            applied.setdefault(item[0].split("\t")[0], now)

    b.link.on_applied = on_applied
    t_load = time.time()
    b.start()
    # Zeek reads N items from the file at start; the bridge is ready once Zeek said it has
    while not b.zeek_ready:
        b.step(0.05)
        if zeek.poll() is not None:
            raise SystemExit(f"Zeek exited: {(Path(workdir) / 'zeek.out').read_text()[-2000:]}")
        if time.time() - t_load > 600:
            raise SystemExit("Zeek did not load the intel file within 600 s")
    load_s = time.time() - t_load
    load_rss = rss_mb(zeek.pid)
    time.sleep(0.5)  # the SUB subscription reaches the publisher

    stop = threading.Event()

    def loop():
        while not stop.is_set():
            b.step(0.01)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    half = changes // 2
    attrs = []
    for i in range(half):
        value = f"172.{16 + (i >> 16) % 16}.{(i >> 8) & 255}.{i & 255}"
        a = mm.new_attribute("ip-dst", value, event_id=str(900000 + i))
        ev = mm.new_event(event_id=str(900000 + i), attributes=[a], info="bench change")
        attrs.append(a)
        sent[value] = time.time()
        pub.send(mm.publish_event(ev))
        time.sleep(1.0 / rate)
    deadline = time.time() + 60
    while len(applied) < half and time.time() < deadline:
        time.sleep(0.05)
    ins = [applied[v] - sent[v] for v in sent if v in applied]
    applied.clear()
    sent.clear()
    for a in attrs[: half // 2]:
        sent[a["value"]] = time.time()
        pub.send(mm.attribute_deleted(a))
        time.sleep(1.0 / rate)
    deadline = time.time() + 60
    while len(applied) < len(sent) and time.time() < deadline:
        time.sleep(0.05)
    rem = [applied[v] - sent[v] for v in sent if v in applied]
    # one burst: the other half of the deletes at once (coalesced into few batches)
    applied.clear()
    sent.clear()
    t_burst = time.time()
    for a in attrs[half // 2 :]:
        sent[a["value"]] = time.time()
        pub.send(mm.attribute_deleted(a))
    deadline = time.time() + 60
    while len(applied) < len(sent) and time.time() < deadline:
        time.sleep(0.05)
    burst = [applied[v] - sent[v] for v in sent if v in applied]
    burst_all = max(applied.values(), default=t_burst) - t_burst
    stop.set()
    worker.join(10)
    rss = rss_mb(zeek.pid)
    b.close()
    zeek.terminate()
    zeek.wait(30)
    pub.close()
    return {
        "prep": prep,
        "load_s": load_s,
        "load_rss": load_rss,
        "rss": rss,
        "ins": ins,
        "rem": rem,
        "burst": burst,
        "burst_all": burst_all,
        "half": half,
        "base_ev": base_ev,
    }


class _NoTransport:
    kind = "none"

    def connect(self):
        pass

    def close(self):
        pass


def show(build, size, r, changes):
    def line(name, xs, want):
        n = len(xs)
        ms = [x * 1000 for x in xs]
        if not ms:
            return f"  {name:<34} none applied of {want}"
        return (
            f"  {name:<34} n={n:<4} of {want:<4} p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
            f"max {max(ms):7.1f} ms  mean {statistics.mean(ms):6.1f} ms"
        )

    transport = "Broker" if build.major == "7" else "WebSocket"
    print(f"Zeek {build.version} ({transport}), {size:,} items loaded "
          f"(store+file prepared in {r['prep']:.1f} s; Zeek read the file in {r['load_s']:.1f} s, RSS {r['load_rss']:.0f} MB)")  # fmt: skip
    print(line("publish -> Intel::insert applied", r["ins"], r["half"]))
    print(line("delete -> Intel::remove applied", r["rem"], r["half"] // 2))
    print(line("burst of deletes (each)", r["burst"], r["half"] - r["half"] // 2))
    both = r["ins"] + r["rem"]
    ms = [x * 1000 for x in both]
    if ms:
        print(f"  all {len(ms)} steady changes: p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms (target p99 <= 1000 ms); "
              f"burst of {r['half'] - r['half'] // 2} deletes all applied in {r['burst_all'] * 1000:.0f} ms; Zeek RSS after {r['rss']:.0f} MB")  # fmt: skip
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builds", default="8,7")
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--changes", type=int, default=1000, help="inserts + deletes measured (half each), plus a burst")
    ap.add_argument("--rate", type=float, default=100.0, help="steady changes per second")
    args = ap.parse_args()
    random.seed(14)
    for line in args.builds.split(","):
        build = find_zeek(line.strip())
        for size in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="bench-intel-bridge-") as tmp:
                r = run(build, size, args.changes, args.rate, tmp)
                show(build, size, r, args.changes)


if __name__ == "__main__":
    main()
