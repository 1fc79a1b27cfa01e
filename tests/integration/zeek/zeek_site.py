"""Helpers of the real-Zeek tier: the roles' real templates rendered into a site directory, a merged
trace of the shared pcaps, Zeek runs and their logs.

The templates are rendered the way ``tests/unit/zeek_layout/test_zeek_templates.py`` does (Jinja2
with Ansible's own filters and tests, the role defaults, then the overrides), so a template change
reaches these tests without a copy in between.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import struct
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from ansible.plugins.filter.core import FilterModule as CoreFilters
from ansible.plugins.test.core import TestModule as CoreTests
from ansible_collections.socforge.core.plugins.filter.quoting import FilterModule as QuotingFilters
from ansible_collections.socforge.core.plugins.module_utils.intel import sync
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.sources import FeedSource

from tests.role_defaults import role_defaults
from tests.zeek_runtime import PCAPS, REPO, ZeekBuild

ROLES = REPO / "roles"
INTEL_PACKAGE = ROLES / "zeek_intel" / "files" / "socforge-intel"


def _env(role: str) -> jinja2.Environment:
    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROLES / role / "templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    e.filters.update(CoreFilters().filters())
    e.filters.update({f"socforge.core.{name}": f for name, f in QuotingFilters().filters().items()})
    e.tests.update(CoreTests().tests())
    return e


def render(role: str, template: str, **overrides) -> str:
    """``roles/<role>/templates/<template>`` with the role defaults (templated ones left out) + overrides."""
    ctx = {k: v for k, v in role_defaults(role).items() if not (isinstance(v, str) and "{{" in v)}
    ctx["ansible_managed"] = "Managed by SOCForge (real-Zeek test)"
    ctx.update(overrides)
    return _env(role).get_template(template).render(**ctx)


def zeek_role_vars(build: ZeekBuild, **overrides) -> dict:
    """roles/zeek variables for ``build``: its version line and cluster backend, as the role derives them."""
    line = build.minor_line
    v = {
        "zeek_version": line,
        "zeek_cluster_backend": "zeromq" if tuple(map(int, line.split("."))) >= (8, 1) else "broker",
        "__zeek_cluster": "zeek",
        "zeek_etc_dir": str(build.prefix / "etc"),
        "zeek_mail_from": "zeek@example.org",
    }
    v.update(overrides)
    return v


@dataclass
class Site:
    """A Zeek site directory with local.zeek, socforge-alert and socforge-intel as the roles render them."""

    root: Path
    local: Path
    intel_dir: Path
    intel_files: list = field(default_factory=list)
    local_text: str = ""


def write_site(
    root: Path,
    build: ZeekBuild,
    *,
    intel_sources=("misp",),
    intel_log_removals=False,
    intel_seen_all_protocols=False,
    **zeek_vars,
) -> Site:
    """Render local.zeek + the site packages into ``root/site`` for ``build``. The intel package reads
    ``root/intel/<source>.intel`` (+ ``.removals``)."""
    site = root / "site"
    intel_dir = root / "intel"
    (site / "socforge-alert").mkdir(parents=True, exist_ok=True)
    (site / "socforge-intel").mkdir(parents=True, exist_ok=True)
    intel_dir.mkdir(parents=True, exist_ok=True)
    v = zeek_role_vars(build, **zeek_vars)
    local = site / "local.zeek"
    local.write_text(render("zeek", "opt/zeek/share/zeek/site/local.zeek.j2", **v))
    # The Kafka producer's login script, where the role writes it (local.zeek loads it with sasl_*).
    if v.get("zeek_kafka_enabled") and str(v.get("zeek_kafka_security_protocol", "")).lower().startswith("sasl"):
        login = render("zeek", "opt/zeek/share/zeek/site/socforge-kafka-login.zeek.j2", **v)
        (site / "socforge-kafka-login.zeek").write_text(login)
    for name in ("__load__.zeek", "main.zeek"):
        (site / "socforge-alert" / name).write_text(
            render("zeek", f"opt/zeek/share/zeek/site/socforge-alert/{name}.j2", **v)
        )
    for path in INTEL_PACKAGE.glob("*.zeek"):
        (site / "socforge-intel" / path.name).write_text(path.read_text())
    (site / "socforge-intel" / "config.zeek").write_text(
        render(
            "zeek_intel",
            "opt/zeek/share/zeek/site/socforge-intel/config.zeek.j2",
            zeek_intel_dir=str(intel_dir),
            zeek_intel_sources=[{"name": s} for s in intel_sources],
            zeek_intel_log_removals=intel_log_removals,
            zeek_intel_seen_all_protocols=intel_seen_all_protocols,
        )
    )
    return Site(site, local, intel_dir, [intel_dir / f"{s}.intel" for s in intel_sources], local.read_text())


# --- intel written by the intel library ------------------------------------------------------------


def misp_event(info, attributes, ts, org="CERT-Test"):
    """A published MISP event (feed JSON) with to_ids attributes ``[(type, value), ...]``."""
    eid = str(uuid.uuid5(uuid.NAMESPACE_URL, info))
    return {
        "Event": {
            "uuid": eid,
            "info": info,
            "published": True,
            "timestamp": str(ts),
            "publish_timestamp": str(ts),
            "Orgc": {"name": org},
            "Attribute": [
                {"uuid": str(uuid.uuid4()), "type": t, "value": v, "to_ids": True, "category": "Network activity"}
                for t, v in attributes
            ],
        }
    }


def write_feed(directory: Path, events):
    """A MISP-format feed directory (manifest.json + <uuid>.json), replacing what was there."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    manifest = {}
    for event in events:
        e = event["Event"]
        (directory / f"{e['uuid']}.json").write_text(json.dumps(event))
        manifest[e["uuid"]] = {"timestamp": int(e["timestamp"]), "info": e.get("info", "")}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def sync_feed(feed: Path, dest: Path, instance: str, flt=None):
    """One run of the library's sync from a feed directory into ``dest`` (+ .removals, .state)."""
    return sync.sync(
        FeedSource(str(feed)),
        flt or IntelFilter(),
        MetaOptions(instance=instance, event_url_base="https://misp.example.org"),
        str(dest),
    )


# --- pcaps ----------------------------------------------------------------------------------------


def merged_pcap(dest: Path, names=None) -> Path:
    """The shared pcaps (all, or ``names``) concatenated in time order into one classic pcap
    (zeek takes a single -r). All are little-endian, microsecond, Ethernet."""
    paths = sorted(PCAPS.glob("*.pcap")) if names is None else [PCAPS / n for n in names]
    traces = []
    header = None
    for p in paths:
        raw = p.read_bytes()
        magic, _, _, _, _, snaplen, linktype = struct.unpack("<IHHiIII", raw[:24])
        if magic != 0xA1B2C3D4 or linktype != 1:
            raise ValueError(f"{p}: not a little-endian microsecond Ethernet pcap")
        header = header or raw[:24]
        first_ts = struct.unpack("<II", raw[24:32])
        traces.append((first_ts, raw[24:]))
    dest.write_bytes(header + b"".join(body for _, body in sorted(traces)))
    return dest


# --- runs and logs --------------------------------------------------------------------------------


def read_log(directory: Path, name: str) -> list[dict]:
    """Records of ``name``.log in ``directory`` (JSON lines or Zeek TSV); [] when the log is absent."""
    path = directory / f"{name}.log"
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    if lines and lines[0].startswith("#separator"):
        fields = next(ln.split("\t")[1:] for ln in lines if ln.startswith("#fields"))
        return [dict(zip(fields, ln.split("\t"), strict=False)) for ln in lines if ln and not ln.startswith("#")]
    return [json.loads(ln) for ln in lines if ln.strip()]


def reporter_messages(directory: Path) -> list[str]:
    """Every reporter.log record (level + message + location), except the harness's own two INFO
    notes (Zeek reports suspend_processing()/continue_processing() there)."""
    return [
        f"{r.get('level')}: {r.get('message')} ({r.get('location', '')})"
        for r in read_log(directory, "reporter")
        if not (r.get("level") == "Reporter::INFO" and r.get("message") in _HOLD_NOTES)
    ]


def zeek_env(build: ZeekBuild, site: Site, **extra) -> dict:
    # ZEEK_DNS_FAKE: detect-MHR and friends resolve nothing off this machine (tests use loopback only).
    return build.env(site.root, ZEEK_DNS_FAKE="1", **extra)


HOLD = Path(__file__).resolve().parent / "hold.zeek"


def _zeek_string(value) -> str:
    return json.dumps(str(value))  # a Zeek string literal for paths (no control characters in them)


def site_command(
    build: ZeekBuild,
    site: Site,
    pcap: Path,
    rundir: Path,
    *,
    hold: bool = True,
    swap: dict | None = None,
    dump_items: bool = False,
    extra: str = "",
) -> list[str]:
    """``zeek -r pcap site/local.zeek`` + the test harness (hold.zeek: packets wait until
    socforge-intel's files are loaded, and a ``swap`` generation re-read) + ``extra`` Zeek code,
    loaded last. Writes the harness files into ``rundir``; returns the command line."""
    rundir.mkdir(parents=True, exist_ok=True)
    scripts = [str(site.local)]
    if hold:
        streams = 2 * len(site.intel_files)  # each intel file and its .removals
        swap_items = ", ".join(f"[{_zeek_string(k)}] = {_zeek_string(v)}" for k, v in (swap or {}).items())
        cfg = rundir / "test-config.zeek"
        cfg.write_text(
            f"@load {HOLD}\n"
            f"redef SOCForgeTest::hold_streams = {streams};\n"
            f"redef SOCForgeTest::dump_items = {'T' if dump_items else 'F'};\n"
            + (f"redef SOCForgeTest::swap = {{ {swap_items} }};\n" if swap_items else "")
        )
        scripts.append(str(cfg))
    if extra:
        (rundir / "test-extra.zeek").write_text(extra)
        scripts.append(str(rundir / "test-extra.zeek"))
    return [str(build.zeek), "-r", str(pcap), *scripts]


def run_site(build: ZeekBuild, site: Site, pcap: Path, rundir: Path, *, timeout: float = 120, **kwargs):
    """Run :func:`site_command` in ``rundir``; returns the CompletedProcess."""
    return subprocess.run(
        site_command(build, site, pcap, rundir, **kwargs),
        cwd=rundir,
        env=zeek_env(build, site),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# Zeek's own notes on stderr when suspend_processing()/continue_processing() are called.
_HOLD_NOTES = {"processing suspended", "processing continued"}


def unexpected_stderr(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and ln.strip() not in _HOLD_NOTES]


# --- zeekctl ----------------------------------------------------------------------------------------

ZEEKCTL_ISOLATED = Path(__file__).resolve().parent / "zeekctl_isolated.py"


def node_sections(node_cfg: str) -> dict[str, dict]:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(node_cfg)
    return {name: dict(cp[name]) for name in cp.sections()}


def zeekctl(build: ZeekBuild, root: Path, node_cfg: str, site: Site, *args: str, timeout: float = 300):
    """zeekctl ``args`` for ``node_cfg`` (every host= mapped to 127.0.0.1: zeekctl runs only on the
    manager's machine) with the role's zeekctl.cfg, its directories under ``root`` and the rendered
    ``site`` as SitePolicyPath. Returns the CompletedProcess."""
    etc = root / "etc"
    for d in (etc, root / "logs", root / "spool"):
        d.mkdir(parents=True, exist_ok=True)
    (etc / "node.cfg").write_text(re.sub(r"^host=.*$", "host=127.0.0.1", node_cfg, flags=re.M))
    (etc / "networks.cfg").write_text("10.0.0.0/8\tPrivate\n")
    cfg = etc / "zeekctl.cfg"
    cfg.write_text(
        render(
            "zeek",
            "opt/zeek/etc/zeekctl.cfg.j2",
            **zeek_role_vars(
                build,
                zeek_log_dir=str(root / "logs"),
                zeek_spool_dir=str(root / "spool"),
                zeek_etc_dir=str(etc),
                zeek_zeekctl_options={"SitePolicyPath": str(site.root)},
            ),
        )
    )
    if build.zeekctl is None:
        raise RuntimeError(f"zeekctl of {build} cannot run")
    return subprocess.run(
        ["/usr/bin/python3", str(ZEEKCTL_ISOLATED), str(build.prefix), *args],
        cwd=root,
        env=dict(build.env(), SOCFORGE_ZEEKCTL_CFG=str(cfg), ZEEK_DNS_FAKE="1"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
