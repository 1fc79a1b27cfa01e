"""The SOC status view (playbooks/status.yml): parse what each tier reports, judge it, and render one
table as text, a self-contained HTML page and JSON. Plain Python, no Ansible imports.

A check is a mapping: {component, host, check, status, detail}, status one of ok / warn / fail.
"""

from __future__ import annotations

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
h1{font-size:1.4em} table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0} .ok{background:#e3f6e3} .warn{background:#fff4d6} .fail{background:#fde0e0}
.badge{font-weight:bold;padding:.1em .5em;border-radius:.3em}
#overall.ok{color:#145214} #overall.warn{color:#7a5400} #overall.fail{color:#8b0000}
"""


def render_html(checks, title: str, generated: str) -> str:
    """A single self-contained page (inline CSS, no scripts, no external assets)."""
    state = overall(checks)
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in STATUSES}
    esc = html.escape
    rows = "\n".join(
        f'<tr class="{c["status"]}" data-component="{esc(c["component"])}" data-host="{esc(c["host"])}">'
        f'<td><span class="badge">{c["status"].upper()}</span></td><td>{esc(c["component"])}</td>'
        f"<td>{esc(c['host'])}</td><td>{esc(c['check'])}</td><td>{esc(c['detail'])}</td></tr>"
        for c in checks
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style></head>\n'
        f"<body><h1>{esc(title)}</h1>\n"
        f'<p>Overall: <span id="overall" class="{state}">{state.upper()}</span> - '
        f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed; generated {esc(generated)}</p>\n"
        '<table id="checks"><thead><tr><th>status</th><th>component</th><th>host</th><th>check</th><th>detail</th>'
        f"</tr></thead>\n<tbody>\n{rows}\n</tbody></table></body></html>\n"
    )


def render_json(checks, title: str, generated: str) -> str:
    return json.dumps(
        {
            "title": title,
            "generated": generated,
            "overall": overall(checks),
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
