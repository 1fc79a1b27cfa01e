"""The SOC status view (playbooks/status.yml): parse what each tier reports, judge it, and render one
table as text, a self-contained HTML page and JSON. Plain Python, no Ansible imports.

A check is a mapping: {component, host, check, status, detail}, status one of ok / warn / fail.
"""

from __future__ import annotations

import datetime
import html
import json
import re

STATUSES = ("ok", "warn", "fail")
_RANK = {s: i for i, s in enumerate(STATUSES)}


class StatusInputError(ValueError):
    """A check that is not a mapping with the required keys (the message names it)."""


def normalise(checks) -> list[dict]:
    """Validate and order the checks: component, host, check."""
    out = []
    for idx, c in enumerate(checks or []):
        if not isinstance(c, dict):
            raise StatusInputError(f"checks[{idx}]: must be a mapping, got {type(c).__name__}")
        missing = [k for k in ("component", "host", "check", "status") if not c.get(k)]
        if missing:
            raise StatusInputError(f"checks[{idx}] ({c.get('component')}/{c.get('check')}): missing {missing}")
        if c["status"] not in STATUSES:
            raise StatusInputError(
                f"checks[{idx}] ({c['component']}/{c['check']}): status {c['status']!r} is not one of {STATUSES}"
            )
        out.append(
            {
                "component": str(c["component"]),
                "host": str(c["host"]),
                "check": str(c["check"]),
                "status": c["status"],
                "detail": str(c.get("detail", "")),
            }
        )
    return sorted(out, key=lambda c: (c["component"], c["host"], c["check"]))


def overall(checks) -> str:
    return max((c["status"] for c in checks), key=_RANK.__getitem__, default="ok")


def problems(checks) -> list[str]:
    """One line per failed check, naming component, host and what is wrong."""
    return [f"{c['component']} {c['host']}: {c['check']}: {c['detail']}" for c in checks if c["status"] == "fail"]


def render_text(checks) -> str:
    rows = [("status", "component", "host", "check", "detail")] + [
        (c["status"].upper(), c["component"], c["host"], c["check"], c["detail"]) for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.2em} table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0} .ok{background:#e3f6e3} .warn{background:#fff4d6} .fail{background:#fde0e0}
.badge{font-weight:bold;padding:.1em .5em;border-radius:.3em}
#overall{font-weight:bold} #overall.ok{color:#145214} #overall.warn{color:#7a5400} #overall.fail{color:#8b0000}
#problems li{color:#8b0000}
"""


def components(checks) -> list[dict]:
    """Per component: its worst status and the number of checks per status."""
    out = {}
    for c in checks:
        entry = out.setdefault(c["component"], {"component": c["component"], **{s: 0 for s in STATUSES}})
        entry[c["status"]] += 1
    for entry in out.values():
        entry["status"] = next(s for s in reversed(STATUSES) if entry[s]) if any(entry[s] for s in STATUSES) else "ok"
    return [out[k] for k in sorted(out)]


def render_html(checks, title: str, generated: str) -> str:
    """A single self-contained page (inline CSS, no scripts, no external assets): the verdict, what is
    wrong, a summary per component and every check."""
    state = overall(checks)
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in STATUSES}
    esc = html.escape
    rows = "\n".join(
        f'<tr class="{c["status"]}" data-component="{esc(c["component"])}" data-host="{esc(c["host"])}">'
        f'<td><span class="badge">{c["status"].upper()}</span></td><td>{esc(c["component"])}</td>'
        f"<td>{esc(c['host'])}</td><td>{esc(c['check'])}</td><td>{esc(c['detail'])}</td></tr>"
        for c in checks
    )
    summary = "\n".join(
        f'<tr class="{e["status"]}" data-component="{esc(e["component"])}"><td>{esc(e["component"])}</td>'
        f'<td><span class="badge">{e["status"].upper()}</span></td><td>{e["ok"]}</td><td>{e["warn"]}</td>'
        f"<td>{e['fail']}</td></tr>"
        for e in components(checks)
    )
    wrong = problems(checks)
    problem_list = (
        '<h2>What is wrong</h2>\n<ul id="problems">' + "".join(f"<li>{esc(p)}</li>" for p in wrong) + "</ul>\n"
        if wrong
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style></head>\n'
        f"<body><h1>{esc(title)}</h1>\n"
        f'<p>Overall: <span id="overall" class="{state}">{state.upper()}</span> - '
        f'<span id="counts">{counts["ok"]} ok, {counts["warn"]} warnings, {counts["fail"]} failed</span>; '
        f'generated <time id="generated">{esc(generated)}</time></p>\n'
        f"{problem_list}"
        '<h2>Components</h2>\n<table id="summary"><thead><tr><th>component</th><th>status</th><th>ok</th>'
        f"<th>warn</th><th>fail</th></tr></thead>\n<tbody>\n{summary}\n</tbody></table>\n"
        '<h2>Checks</h2>\n<table id="checks"><thead><tr><th>status</th><th>component</th><th>host</th><th>check</th>'
        f"<th>detail</th></tr></thead>\n<tbody>\n{rows}\n</tbody></table></body></html>\n"
    )


def render_json(checks, title: str, generated: str) -> str:
    return json.dumps(
        {
            "title": title,
            "generated": generated,
            "overall": overall(checks),
            "counts": {s: sum(1 for c in checks if c["status"] == s) for s in STATUSES},
            "components": components(checks),
            "problems": problems(checks),
            "checks": checks,
        },
        indent=2,
        sort_keys=True,
    )


# --- what the tiers report ------------------------------------------------------------------------

_ZEEKCTL_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<type>manager|logger|proxy|worker)\s+(?P<host>\S+)\s+(?P<status>\S+)")


def node_cfg_sections(text: str) -> list[str]:
    """The node names ([sections]) of a zeekctl node.cfg."""
    return re.findall(r"^\[([^\]]+)\]", text or "", flags=re.M)


def zeekctl_status_checks(text: str, host: str, expected=None) -> list[dict]:
    """One check per node of `zeekctl status` output: ok when running, fail otherwise; a fail when
    the output lists no node at all (zeekctl not configured), and one per node.cfg entry in
    `expected` that the output does not list (a worker entry with lb_procs N is listed as
    <name>-1 .. <name>-N; zeekctl leaves out nodes on hosts it cannot reach)."""
    checks = []
    listed = []
    for line in (text or "").splitlines():
        m = _ZEEKCTL_ROW.match(line.strip())
        if not m:
            continue
        running = m["status"] == "running"
        listed.append(m["name"])
        checks.append(
            {
                "component": "zeek",
                "host": host,
                "check": f"node {m['name']}",
                "status": "ok" if running else "fail",
                "detail": f"{m['type']} on {m['host']}: {m['status']}",
            }
        )
    for node in expected or []:
        if not any(name == node or name.startswith(node + "-") for name in listed):
            checks.append(
                {
                    "component": "zeek",
                    "host": host,
                    "check": f"node {node}",
                    "status": "fail",
                    "detail": "in node.cfg but not listed by zeekctl status (host unreachable over SSH?)",
                }
            )
    if not checks:
        checks.append(
            {"component": "zeek", "host": host, "check": "zeekctl status", "status": "fail", "detail": "no node listed"}
        )
    return checks


def capture_loss_checks(lines, host: str, warn_pct: float = 0.1, fail_pct: float = 1.0) -> list[dict]:
    """From capture_loss.log JSON lines: the latest measurement per worker against the thresholds."""
    latest: dict[str, dict] = {}
    for line in lines or []:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "peer" in rec and "percent_lost" in rec:
            if rec["peer"] not in latest or float(rec.get("ts", 0)) >= float(latest[rec["peer"]].get("ts", 0)):
                latest[rec["peer"]] = rec
    checks = []
    for peer, rec in sorted(latest.items()):
        lost = float(rec["percent_lost"])
        status = "fail" if lost >= fail_pct else "warn" if lost >= warn_pct else "ok"
        checks.append(
            {
                "component": "zeek",
                "host": host,
                "check": f"capture loss {peer}",
                "status": status,
                "detail": f"{lost:.3f} % lost ({rec.get('gaps', '?')} gaps in {rec.get('acks', '?')} ACKs)",
            }
        )
    return checks


def kafka_lag_checks(text: str, host: str, warn_lag: int = 10_000, fail_lag: int = 1_000_000) -> list[dict]:
    """From `kafka-consumer-groups --describe --all-groups` output: total lag per group."""
    lag: dict[str, int] = {}
    header = None
    for line in (text or "").splitlines():
        cols = line.split()
        if not cols:
            continue
        if cols[0] == "GROUP":
            header = cols
            continue
        if header and len(cols) >= len(header) - 3 and "LAG" in header:
            row = dict(zip(header, cols, strict=False))
            value = row.get("LAG", "-")
            lag.setdefault(row["GROUP"], 0)
            if value.isdigit():
                lag[row["GROUP"]] += int(value)
    return [
        {
            "component": "kafka",
            "host": host,
            "check": f"consumer lag {group}",
            "status": "fail" if total >= fail_lag else "warn" if total >= warn_lag else "ok",
            "detail": f"{total} messages behind",
        }
        for group, total in sorted(lag.items())
    ]


def kafka_health_checks(result, host: str, expected_brokers: int) -> list[dict]:
    """From the kafka_cluster_health module's result (also when it failed): brokers live against the
    brokers the inventory has, under-replicated and offline partitions, each its own check."""
    result = result if isinstance(result, dict) else {}
    if "brokers" not in result:
        return [
            {
                "component": "kafka",
                "host": host,
                "check": "brokers",
                "status": "fail",
                "detail": str(result.get("msg") or "no answer from the cluster")[:300],
            }
        ]
    brokers = list(result.get("brokers") or [])
    parts = int(result.get("partitions") or 0)

    def head(names):
        names = list(names or [])
        return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")

    under, offline = result.get("under_replicated") or [], result.get("offline") or []
    return [
        {
            "component": "kafka",
            "host": host,
            "check": "brokers",
            "status": "ok" if len(brokers) >= int(expected_brokers) else "fail",
            "detail": f"{len(brokers)} of {int(expected_brokers)} brokers live (ids {', '.join(map(str, brokers)) or '-'})",
        },
        {
            "component": "kafka",
            "host": host,
            "check": "under-replicated partitions",
            "status": "fail" if under else "ok",
            "detail": f"{len(under)} of {parts} partitions" + (f": {head(under)}" if under else ""),
        },
        {
            "component": "kafka",
            "host": host,
            "check": "offline partitions",
            "status": "fail" if offline else "ok",
            "detail": f"{len(offline)} of {parts} partitions" + (f": {head(offline)}" if offline else ""),
        },
    ]


# --- MISP: background workers and the sync links ---------------------------------------------------

MISP_QUEUES = ("default", "prio", "email", "cache", "update")


def misp_worker_checks(workers, host: str) -> list[dict]:
    """From MISP's GET /servers/getWorkers (Server::workerDiagnostics): one check per queue - ok when
    at least one of its workers is alive as the right user; plus supervisord reachable (SimpleBackgroundJobs)."""
    if not isinstance(workers, dict):
        detail = "; ".join(str(w) for w in workers) if isinstance(workers, list) else str(workers)
        return [
            {"component": "misp", "host": host, "check": "workers", "status": "fail", "detail": detail or "no answer"}
        ]
    checks = []
    for queue in MISP_QUEUES:
        q = workers.get(queue)
        if not isinstance(q, dict):
            continue
        alive = [w for w in q.get("workers") or [] if w.get("ok")]
        total = len(q.get("workers") or [])
        checks.append(
            {
                "component": "misp",
                "host": host,
                "check": f"workers {queue}",
                "status": "ok" if q.get("ok") and alive else "fail",
                "detail": f"{len(alive)} of {total} workers alive, {q.get('jobCount', '?')} jobs queued",
            }
        )
    if workers.get("supervisord_status") is False:
        checks.append(
            {
                "component": "misp",
                "host": host,
                "check": "supervisord",
                "status": "fail",
                "detail": "MISP cannot reach supervisord (SimpleBackgroundJobs)",
            }
        )
    if not checks:
        checks.append(
            {"component": "misp", "host": host, "check": "workers", "status": "fail", "detail": "no queue listed"}
        )
    return checks


def _misp_time(text) -> float | None:
    """MISP's log `created` ("2026-11-30 10:02:11", UTC on SOCForge hosts) as a Unix time."""
    try:
        return datetime.datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None


def misp_sync_checks(
    servers, logs, host: str, now: float, max_age_seconds: int = 86400, holds_links: bool = True
) -> list[dict]:
    """One check per sync link of this instance (GET /servers/index, those with pull or push on):
    ok when a pull or push with it is logged within `max_age_seconds` and no error after it (none
    logged yet: a warning, unless an error is); from
    MISP's audit log (POST /admin/logs/index, model Server, actions pull/push/error).

    `holds_links` False: the hub of a hub-and-spoke site, whose spokes hold the links to it (they are
    checked on each spoke) - no link of its own is then as it should be; links it does hold (external
    partners) are checked as any other."""
    entries = {}
    for item in logs or []:
        log = item.get("Log", item) if isinstance(item, dict) else {}
        if log.get("model") != "Server" or log.get("action") not in ("pull", "push", "error"):
            continue
        when = _misp_time(log.get("created"))
        if when is None:
            continue
        entries.setdefault(str(log.get("model_id")), []).append((when, log["action"], str(log.get("title", ""))))
    checks = []
    for item in servers or []:
        srv = item.get("Server", item) if isinstance(item, dict) else {}
        if not (srv.get("pull") or srv.get("push")):
            continue
        name = srv.get("name") or srv.get("url") or f"server {srv.get('id')}"
        mine = sorted(entries.get(str(srv.get("id")), []))
        done = [e for e in mine if e[1] != "error"]
        errors = [e for e in mine if e[1] == "error"]
        direction = "/".join(d for d in ("pull", "push") if srv.get(d))
        if not done:
            # a new link not synced yet is a warning; one that only ever failed is a failure
            status = "fail" if errors else "warn"
            detail = f"{direction} with {srv.get('url')}: no sync logged" + (
                f"; last error: {errors[-1][2]}" if errors else ""
            )
        else:
            age = int(now - done[-1][0])
            failed_since = [e for e in errors if e[0] > done[-1][0]]
            status = "fail" if age > max_age_seconds or failed_since else "ok"
            detail = f"last {done[-1][1]} {age} s ago ({direction} with {srv.get('url')})"
            if failed_since:
                detail += f"; failed since: {failed_since[-1][2]}"
            elif age > max_age_seconds:
                detail += f"; older than {max_age_seconds} s"
        checks.append({"component": "misp", "host": host, "check": f"sync {name}", "status": status, "detail": detail})
    if not checks:
        checks.append(
            {
                "component": "misp",
                "host": host,
                "check": "sync links",
                "status": "warn" if holds_links else "ok",
                "detail": "no sync link with pull or push configured"
                if holds_links
                else "hub: its spokes hold the sync links to it (checked on each spoke)",
            }
        )
    return checks


# --- tap aggregator (Linux backend): port counters ------------------------------------------------


def aggregator_port_map(config: dict) -> dict:
    """{port: what it carries} from an aggregator's port map (tap_aggregation.aggregator_config, the
    socforge.core.soc_tap_aggregation filter): "tap <link>" and "tool <host>/<nic>"."""
    out = {str(p["port"]): f"tap {p.get('link')}" for p in config.get("tap_ports") or []}
    for group in config.get("tool_groups") or []:
        for p in group.get("tool_ports") or []:
            out[str(p["port"])] = f"tool {p.get('host')}/{p.get('nic')}"
    return out


def aggregator_port_checks(links, host: str, ports=None) -> list[dict]:
    """From `ip -json -statistics link show` on a Linux aggregator: one check per port. With `ports`
    ({ifname: what it carries, e.g. "tap lhcopn" or "tool zeek-w01/ens1f0"}, or the aggregator's port
    map from socforge.core.soc_tap_aggregation) only those, and a listed
    port that is missing or not up fails; without it every interface but lo, a down one a warning.
    Dropped packets or errors on a port are a warning (the counters run since boot)."""
    by_name = {str(link.get("ifname")): link for link in links or [] if isinstance(link, dict)}
    if isinstance(ports, dict) and ("tap_ports" in ports or "tool_groups" in ports):
        ports = aggregator_port_map(ports)
    wanted = dict(ports) if ports else {name: "" for name in sorted(by_name) if name != "lo"}
    checks = []
    for name, role in sorted(wanted.items()):
        link = by_name.get(name)
        check = f"port {name}" + (f" ({role})" if role else "")
        if link is None:
            checks.append(
                {
                    "component": "aggregator",
                    "host": host,
                    "check": check,
                    "status": "fail",
                    "detail": "no such interface",
                }
            )
            continue
        stats = link.get("stats64") or link.get("stats") or {}
        rx, tx = stats.get("rx") or {}, stats.get("tx") or {}
        state = str(link.get("operstate", "?"))
        up = state in ("UP", "UNKNOWN")
        dropped = int(rx.get("dropped", 0)) + int(tx.get("dropped", 0))
        errors = int(rx.get("errors", 0)) + int(tx.get("errors", 0))
        status = "ok" if up and not dropped and not errors else "warn"
        if not up and ports:
            status = "fail"
        checks.append(
            {
                "component": "aggregator",
                "host": host,
                "check": check,
                "status": status,
                "detail": (
                    f"{state}; received {rx.get('packets', 0)} packets ({rx.get('bytes', 0)} bytes), "
                    f"sent {tx.get('packets', 0)} packets ({tx.get('bytes', 0)} bytes); "
                    f"dropped {rx.get('dropped', 0)}/{tx.get('dropped', 0)}, errors {rx.get('errors', 0)}/{tx.get('errors', 0)} (rx/tx)"
                ),
            }
        )
    return checks


# --- OpenSearch: cluster health and the newest record of every Zeek log ---------------------------


def opensearch_checks(
    health, newest, host: str, now: float, stale_seconds: int = 900, quiet_logs: tuple = ()
) -> list[dict]:
    """`health`: the registered uri result of GET _cluster/health; `newest`: the registered loop of
    POST <prefix>-<log>-*/_search with a max(@timestamp) aggregation, one result per log (item.key
    the log). Health green ok, yellow warn, anything else fail; per log, its newest record's age
    (stale beyond `stale_seconds`: warn; none stored: warn - both ok for `quiet_logs`, those the
    site's traffic need not produce continuously, e.g. x509 and software, which Zeek logs once per
    certificate or host); and a fail when no log is fresh (quiet ones do not count as fresh)."""
    health = health if isinstance(health, dict) else {}
    body = health.get("json") if isinstance(health.get("json"), dict) else None
    state = str(body.get("status")) if body and body.get("status") else "unreachable"
    detail = (
        f"{state}, {body.get('number_of_nodes')} nodes, {body.get('unassigned_shards')} unassigned shards"
        if body
        else f"{state}: {str(health.get('msg') or '')[:200]}"
    )
    checks = [
        {
            "component": "opensearch",
            "host": host,
            "check": "cluster health",
            "status": {"green": "ok", "yellow": "warn"}.get(state, "fail"),
            "detail": detail,
        }
    ]
    fresh = 0
    results = [r for r in newest or [] if isinstance(r, dict)]
    for r in results:
        item = r.get("item") or {}
        log = str(item.get("key") if isinstance(item, dict) else item)
        answer = r.get("json") if isinstance(r.get("json"), dict) else {}
        value = ((answer.get("aggregations") or {}).get("newest") or {}).get("value")
        if value is None:
            quiet = bool(answer) and log in quiet_logs
            why = f"no {log} records stored" if answer else f"no answer: {str(r.get('msg') or '')[:150]}"
            checks.append(
                {
                    "component": "opensearch",
                    "host": host,
                    "check": f"newest {log}",
                    "status": "ok" if quiet else "warn",
                    "detail": why + (" (a quiet log: none expected)" if quiet else ""),
                }
            )
            continue
        age = int(now - float(value) / 1000)
        ok = age < int(stale_seconds)
        fresh += ok
        quiet = not ok and log in quiet_logs
        checks.append(
            {
                "component": "opensearch",
                "host": host,
                "check": f"newest {log}",
                "status": "ok" if ok or quiet else "warn",
                "detail": f"newest record {age} s old" + (" (a quiet log: not continuous)" if quiet else ""),
            }
        )
    checks.append(
        {
            "component": "opensearch",
            "host": host,
            "check": "Zeek records arriving",
            "status": "ok" if fresh else "fail",
            "detail": f"{fresh} of {len(results)} Zeek logs have a record younger than {int(stale_seconds)} s",
        }
    )
    return checks
