"""Bench (b) of issue 14: time to detect in the lab. An indicator is published on the MISP hub; the
intel bridge on the Zeek manager pushes it into the running Zeek; the replayed traffic meets it; the
Intel::Notice reaches the lab's loopback pager. Seconds from the publish request to the page's
arrival (the pager stamps ``received`` with the host clock the containers share), target <= 5 s.
Then the bridge's sighting of the match on the hub (``--sightings-on``), and the removal: the attribute
deleted on the Zeek managers' MISP (``--removal-on``) -> removed in the running Zeek (the reporter.log
record of the bridge's Zeek package, the lab sets ``SOCForgeBridge::log_changes``), target <= 1 s.
``--hub lab-misp-spoke`` publishes on the spoke: the event reaches the hub over the sync link.

Run it against a converged lab (``make lab``; it needs the lab's traffic replay and the bridge):

    python benchmarks/bench_intel_lab_detect.py [--trials 5] [--inventory inventories/lab]
        [--hub lab-misp-hub] [--manager lab-zeek-mgr] [--timeout 60]

The indicators are what the lab's Zeek logged in the last 10 minutes where its Intel framework looks
(DNS queries, HTTP hosts, addresses of established TCP connections: the replayed pcaps), minus the lab
feed's and those used before (kept in .cache/bench-intel-lab-used.txt: a notice pages at most once per
suppression interval). Each trial's event is deleted afterwards.
Talks to the lab through ``ansible`` (the inventory's connection) and pymisp; prints numbers.
"""

import argparse
import base64
import datetime
import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _path  # noqa: E402,F401

REPO = HERE.parent
sys.path.insert(0, str(REPO))

PAGES = "/var/lib/socforge-lab-pager/pages.jsonl"
USED = REPO / ".cache" / "bench-intel-lab-used.txt"


class LabDown(Exception):
    pass


def ansible(inventory, host, module, args, become=False):
    cmd = ["ansible", "-i", inventory, host, "-m", module, "-a", args, "-o"]
    if become:
        cmd.append("-b")
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if "=>" in ln), "")
    if "SUCCESS" not in line and "CHANGED" not in line:
        raise LabDown(f"ansible {module} on {host} failed: {out.stdout[-1500:]} {out.stderr[-1500:]}")
    return json.loads(line.split("=>", 1)[1])


def live_indicators(inventory, manager, window=600.0):
    """Indicators the lab's Zeek logged in the last `window` seconds where its Intel framework looks
    (the manager's logger, JSON logs): DNS queries (DNS::IN_REQUEST), HTTP Host headers
    (HTTP::IN_HOST_HEADER) and the addresses of established TCP connections (Conn::IN_ORIG/IN_RESP),
    most frequent first, as (value, MISP type). A name in a pcap that the replay does not make Zeek log
    again (a request whose connection start the loop misses) can never match."""
    now, counts = time.time(), {}
    fields = {"dns.log": (("query", "domain"),), "http.log": (("host", "domain"),),
              "conn.log": (("id.resp_h", "ip-dst"), ("id.orig_h", "ip-src"))}  # fmt: skip
    for log, wanted in fields.items():
        try:
            res = ansible(inventory, manager, "ansible.builtin.slurp", f"src=/var/log/zeek/current/{log}", become=True)
        except LabDown:
            continue
        for ln in base64.b64decode(res.get("content", "")).decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(ln)
            except ValueError:
                continue
            if float(rec.get("ts", 0)) < now - window:
                continue
            if log == "conn.log" and (rec.get("proto") != "tcp" or "h" not in str(rec.get("history", "")).lower()):
                continue  # Intel::ADDR matches on established TCP only (intel/seen/conn-established)
            for field, misp_type in wanted:
                value = str(rec.get(field, "")).lower()
                if misp_type == "domain" and ("." not in value or value[:1].isdigit()):
                    continue
                if misp_type != "domain" and not _is_global(value):
                    continue  # a site lists outside addresses; the intel filters may drop private ones
                if value and value != "-":
                    counts[(value, misp_type)] = counts.get((value, misp_type), 0) + 1
    return [k for k, _ in sorted(counts.items(), key=lambda kv: -kv[1])]


def _is_global(address):
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def candidates(inventory, manager):
    """Live indicators (above) that are not in the lab's intel feed nor used before."""
    feed = REPO / "playbooks" / "files" / "lab-intel-feed"
    listed = " ".join(p.read_text().lower() for p in feed.rglob("*.json")) if feed.exists() else ""
    used = set(USED.read_text().split()) if USED.exists() else set()
    return [(v, t) for v, t in live_indicators(inventory, manager) if v not in used and f'"{v}"' not in listed]


def pages(inventory, manager):
    # slurp answers JSON after "=>" in ansible's one-line output (command's answer has no "=>")
    res = ansible(inventory, manager, "ansible.builtin.slurp", f"src={PAGES}", become=True)
    out = []
    for ln in base64.b64decode(res.get("content", "")).decode("utf-8", "replace").splitlines():
        try:
            out.append(json.loads(ln))
        except ValueError:
            continue
    return out


def misp_client(inventory, host):
    """pymisp on a lab MISP instance with its admin key (the controller's API URL of that host)."""
    import pymisp

    hv = ansible(inventory, host, "ansible.builtin.debug",
                 "msg={{ misp_api_url | default(misp_baseurl) }}|{{ misp_secrets_dir | default('/etc/socforge/misp') }}")["msg"]  # fmt: skip
    url, secrets = hv.split("|")
    res = ansible(inventory, host, "ansible.builtin.slurp", f"src={secrets}/admin_api_key", become=True)
    key = base64.b64decode(res["content"]).decode().strip()
    return pymisp.PyMISP(url, key, ssl=False, timeout=30)  # the lab's own CA; lab only


def sighting_delay(misp, value, source, t0, timeout):
    """Seconds from t0 until `misp` holds a sighting of `value` from `source` (the bridge's sightings
    source, the cluster name), or None."""
    deadline = t0 + timeout
    while time.time() < deadline:
        found = misp.search(controller="attributes", value=value, include_sightings=True, pythonify=False)
        for attr in (found or {}).get("Attribute", []):
            if any(str(x.get("source", "")) == source for x in attr.get("Sighting", [])):
                return time.time() - t0
        time.sleep(3.0)
    return None


def reporter_records(inventory, manager):
    """The current reporter.log of the lab's Zeek (the logger on the manager), JSON or TSV, as dicts."""
    res = ansible(inventory, manager, "ansible.builtin.slurp", "src=/var/log/zeek/current/reporter.log", become=True)
    fields, out = None, []
    for ln in base64.b64decode(res.get("content", "")).decode("utf-8", "replace").splitlines():
        if ln.startswith("{"):
            try:
                out.append(json.loads(ln))
            except ValueError:
                continue
        elif ln.startswith("#fields"):
            fields = ln.split("\t")[1:]
        elif fields and not ln.startswith("#"):
            out.append(dict(zip(fields, ln.split("\t"), strict=False)))
    return out


def _epoch(ts):
    if isinstance(ts, (int, float)) or str(ts).replace(".", "", 1).isdigit():
        return float(ts)
    return datetime.datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()


def removal_delay(inventory, manager, misp, value, timeout):
    """Delete `value`'s attribute on `misp` (the Zeek managers' MISP: its ZeroMQ feed drives the bridge)
    and return the seconds until the running Zeek removed it - the reporter.log record the bridge's Zeek
    package writes when it applies the removal (lab: SOCForgeBridge::log_changes = T), stamped by Zeek -
    or None. Only the attributes still live are deleted (a spoke's copy is deleted on the hub)."""
    found = misp.search(controller="attributes", value=value, pythonify=False)
    attrs = [a for a in (found or {}).get("Attribute", []) if not a.get("deleted")]
    if not attrs:
        return None
    prefix = f"socforge-intel-bridge: removed {value}"
    t0 = time.time()
    for attr in attrs:
        misp.delete_attribute(attr["uuid"])
    deadline = t0 + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        for rec in reporter_records(inventory, manager):
            msg = str(rec.get("message", "")).replace("\\x09", "\t")
            if msg.startswith(prefix) and msg[len(prefix) : len(prefix) + 1] in ("", "\t", " "):
                when = _epoch(rec.get("ts", 0))
                if when >= t0 - 1.0:
                    return when - t0
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inventory", default="inventories/lab")
    ap.add_argument("--hub", default="lab-misp-hub")
    ap.add_argument("--manager", default="lab-zeek-mgr")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument(
        "--sightings-on", default="lab-misp-hub", help="MISP instance to find the bridge's sighting on ('' = skip)"
    )
    ap.add_argument(
        "--removal-on",
        default="lab-misp-hub",
        help="MISP instance to delete the attribute on, then time its removal from Zeek ('' = skip)",
    )
    ap.add_argument("--removal-timeout", type=float, default=30.0)
    ap.add_argument("--sighting-source", default="socforge-lab-zeek")
    ap.add_argument("--sighting-timeout", type=float, default=150.0)
    args = ap.parse_args()
    import pymisp

    try:
        misp = misp_client(args.inventory, args.hub)
        sightings_misp = misp_client(args.inventory, args.sightings_on) if args.sightings_on else None
        removal_misp = misp_client(args.inventory, args.removal_on) if args.removal_on else None
    except (LabDown, OSError, subprocess.TimeoutExpired) as exc:
        # make bench runs every benchmark: without a running lab this one has nothing to measure
        print(f"time to detect: the lab is not reachable, nothing measured ({str(exc)[:200]})")
        return
    names = candidates(args.inventory, args.manager)
    if len(names) < args.trials:
        raise SystemExit(f"only {len(names)} unused indicators live in the lab's logs (remove {USED} to reuse them)")
    results = []
    USED.parent.mkdir(parents=True, exist_ok=True)
    for value, misp_type in names[: args.trials]:
        with USED.open("a") as fh:
            fh.write(value + "\n")
        ev = pymisp.MISPEvent()
        ev.info = f"SOCForge bench time-to-detect {value}"
        # connected communities: the Zeek managers' account on the hub is another organisation (an
        # org-only event is invisible to it, the bridge then rightly ignores it), and from a spoke the
        # event must travel over the sync link
        ev.distribution = 2
        ev.add_attribute(misp_type, value, to_ids=True, category="Network activity")
        ev = misp.add_event(ev, pythonify=True)
        t0 = time.time()
        misp.publish(ev)
        page = None
        deadline = t0 + args.timeout
        while time.time() < deadline and page is None:
            time.sleep(1.0)
            for p in pages(args.inventory, args.manager):
                payload = p.get("payload", {})
                if (
                    payload.get("note") == "Intel::Notice"
                    and value in json.dumps(payload)
                    and p.get("received", 0) >= t0
                ):
                    page = p
                    break
        took = (page["received"] - t0) if page else None
        seen = None
        if page and sightings_misp is not None:
            # the bridge reports the match as a sighting (batched, at most one per attribute per interval)
            seen = sighting_delay(sightings_misp, value, args.sighting_source, t0, args.sighting_timeout)
        gone = None
        if page and removal_misp is not None:
            gone = removal_delay(args.inventory, args.manager, removal_misp, value, args.removal_timeout)
        misp.delete_event(ev)
        results.append((value, took, seen, gone))
        print(
            f"  {value:<40} "
            + (f"paged {took:.2f} s after publish" if took is not None else f"no page within {args.timeout:.0f} s")
            + (
                ""
                if not page or sightings_misp is None
                else f"; sighting on {args.sightings_on} "
                + (f"{seen:.1f} s after publish" if seen is not None else f"not within {args.sighting_timeout:.0f} s")
            )
            + (
                ""
                if not page or removal_misp is None
                else "; removed from Zeek "
                + (
                    f"{gone:.2f} s after its deletion on {args.removal_on}"
                    if gone is not None
                    else f"not within {args.removal_timeout:.0f} s"
                )
            )
        )
        sys.stdout.flush()
    got = sorted(t for _, t, _, _ in results if t is not None)
    if got:
        print(f"time to detect (publish -> Intel::Notice page): {len(got)}/{len(results)} paged, "
              f"median {got[len(got) // 2]:.2f} s, max {got[-1]:.2f} s (target <= 5 s)")  # fmt: skip
    else:
        print("time to detect: no page arrived (is the lab's replay and the bridge running?)")
    seen_all = sorted(x for _, t, x, _ in results if t is not None and x is not None)
    if sightings_misp is not None and got:
        print(f"sighting on {args.sightings_on}: {len(seen_all)}/{len(got)} paged indicators"
              + (f", median {seen_all[len(seen_all) // 2]:.1f} s after publish" if seen_all else ""))  # fmt: skip
    gone_all = sorted(g for _, t, _, g in results if t is not None and g is not None)
    if removal_misp is not None and got:
        print(f"removal (deleted on {args.removal_on} -> removed in Zeek): {len(gone_all)}/{len(got)}"
              + (f", median {gone_all[len(gone_all) // 2]:.2f} s, max {gone_all[-1]:.2f} s (target <= 1 s)"
                 if gone_all else ""))  # fmt: skip


if __name__ == "__main__":
    main()
