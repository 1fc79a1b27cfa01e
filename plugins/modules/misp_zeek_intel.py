#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)

import os
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.intel.events import MetaOptions
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.sources import (
    FeedSource,
    MispRestSource,
    SourceError,
)
from ansible_collections.socforge.core.plugins.module_utils.intel.state import sqlite3
from ansible_collections.socforge.core.plugins.module_utils.intel.sync import SyncError, sync
from ansible_collections.socforge.core.plugins.module_utils.intel.writer import IntelWriteError
from ansible_collections.socforge.core.plugins.module_utils.misp import misp_argument_spec

DOCUMENTATION = r"""
module: misp_zeek_intel
short_description: Export MISP attributes to a Zeek Intel framework file, incrementally, with removals
version_added: "0.1.0"
description:
  - Pulls events from a MISP instance (REST API through pymisp) or from a MISP-format feed
    (C(manifest.json) plus C(<event uuid>.json)), maps attributes to Zeek C(Intel::Type) the way
    MISP's own Zeek export does (plus C(ssh-fingerprint) to C(PUBKEY_HASH) and C(target-user)
    to C(USER_NAME)), and writes one deterministic intel file atomically.
  - Values are trimmed, re-fanged (C(hxxp://), C(hxxps://), C([.]), C([:])), domains are
    lower-cased and IDNA encoded, IP addresses canonicalised. Values Zeek would misread (control
    characters, invalid IPs/CIDRs, empty, reserved, over-long) are rejected and counted by reason.
  - Keeps a state database (SQLite) so later runs only fetch what changed since the last sync
    point; deleted attributes, cleared C(to_ids), events that left the filter or aged out are
    removed from the file and written to the removals file, which the C(socforge-intel) Zeek
    package (role C(socforge.core.zeek_intel)) feeds to C(Intel::remove).
  - On any upstream failure (MISP unreachable, HTTP 4xx/5xx, TLS error, bad feed file) the module
    fails with a message naming the cause and leaves the existing intel file untouched.
author:
  - SOCForge team
extends_documentation_fragment:
  - socforge.core.misp
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  feed_path:
    description:
      - Directory (or http(s) URL) of a MISP-format feed. Mutually exclusive with O(misp_url).
      - Event files are looked up as C(<uuid>.json) beside C(manifest.json), then in C(events/).
    type: str
  dest:
    description:
      - The Zeek intel file to write. Its directory must exist.
    type: path
    required: true
  state_path:
    description:
      - SQLite state of the incremental sync. Defaults to O(dest) plus C(.state).
    type: path
  removals_path:
    description:
      - File of C(indicator, indicator_type, source) triples removed by the last sync that
        changed the intel file. Defaults to O(dest) plus C(.removals).
    type: path
  mode:
    description:
      - Mode of a newly created intel/removals file; an existing file keeps its mode and owner.
    type: raw
    default: "0644"
  full_sync:
    description:
      - Ignore the state and re-read everything (needed now and then on MISP, where a
        hard-deleted event is only noticed by a full sync).
    type: bool
    default: false
  to_ids_only:
    description: Export only attributes with the IDS flag set.
    type: bool
    default: true
  published_only:
    description: Export only published events.
    type: bool
    default: true
  tags_include:
    description:
      - Export only attributes whose event or attribute tags include one of these.
    type: list
    elements: str
    default: []
  tags_exclude:
    description:
      - Drop events and attributes carrying one of these tags (e.g. C(false-positive)).
    type: list
    elements: str
    default: []
  types:
    description: Export only these MISP attribute types (default all mapped types).
    type: list
    elements: str
    default: []
  orgs:
    description: Export only events whose creator organisation (name or UUID) is listed.
    type: list
    elements: str
    default: []
  published_within_days:
    description:
      - Export only events (re)published within that many days; older events age out and are
        removed. Events tagged with one of O(keep_tags) never age out.
    type: int
  keep_tags:
    description: Event tags exempting an event from O(published_within_days).
    type: list
    elements: str
    default: []
  enforce_warninglist:
    description:
      - Ask MISP to drop values that hit an enabled warninglist (C(enforceWarninglist)). MISP only.
    type: bool
    default: false
  page_limit:
    description: Events per restSearch page. MISP only.
    type: int
    default: 100
  do_notice:
    description: Value of C(meta.do_notice) (C(frameworks/intel/do_notice) raises a notice on a hit).
    type: bool
    default: true
  source_name:
    description:
      - Instance name written into C(meta.source) as C(<source_name> (<event uuid>) - <creator org>).
      - Defaults to the MISP host name, or C(MISP feed) for a feed.
    type: str
  event_url_base:
    description:
      - Base URL for C(meta.url) (C(<base>/events/view/<uuid>)). Defaults to O(misp_url); C(-) for a feed.
    type: str
  max_length:
    description: Longest indicator accepted, in characters.
    type: int
    default: 2048
  reconcile_interval:
    description:
      - Seconds between two reconciliations on incremental MISP syncs. A reconciliation compares the
        state's events with MISP's published events (one metadata-only listing) and asks about the
        missing ones, so that a hard-deleted event or an explicit unpublish (a retraction), which
        MISP's timestamp filters cannot report, is removed without waiting for a full sync.
        C(0) reconciles on every run.
    type: int
    default: 3600
notes:
  - Filters are applied by the module after the fetch, never by MISP, so that an event leaving the
    filter is seen and its indicators removed.
  - "Unpublished events (with O(published_only)): an event unpublished by an edit (its C(timestamp)
    newer than its C(publish_timestamp)) keeps the indicators of its last synced version until it is
    republished; an event unpublished on purpose (MISP's unpublish leaves both timestamps alone) is a
    retraction and its indicators are removed. Full and incremental syncs behave the same."
  - Zeek's input framework re-reads the file when it changes; unchanged content is never rewritten
    (the file's mtime is kept), so a run that reports C(changed=false) costs Zeek nothing.
requirements:
  - pymisp (MISP source only)
  - netaddr
"""

EXAMPLES = r"""
- name: Export the site MISP to Zeek intel (runs on the Zeek manager)
  socforge.core.misp_zeek_intel:
    misp_url: https://misp.example.org
    misp_key: "{{ vault_misp_key }}"
    ca_path: /etc/ssl/certs/site-ca.pem
    dest: /opt/zeek/share/zeek/site/socforge-intel/data/misp.intel
    published_within_days: 30
    keep_tags: ["socforge:keep"]
    tags_exclude: ["false-positive"]

- name: Export a MISP-format feed directory
  socforge.core.misp_zeek_intel:
    feed_path: /srv/feeds/infoblox
    dest: /var/lib/socforge-intel/infoblox.intel
    do_notice: false
"""

RETURN = r"""
indicators:
  description: Lines (indicator + type) in the intel file after the run.
  returned: always
  type: int
  sample: 16719
added:
  description: Lines added (new indicators or changed meta).
  returned: always
  type: int
removed:
  description: Lines that left the file.
  returned: always
  type: int
removals:
  description: Entries written to the removals file for Zeek's C(Intel::remove).
  returned: always
  type: int
rejected:
  description: Rejected values by reason, among the events processed in this run (all on a full sync, the changed ones on an incremental one).
  returned: always
  type: dict
  sample: {"invalid_ip": 2, "control_character": 1}
skipped_types:
  description: Attributes of MISP types that have no Zeek mapping, by type (events processed in this run).
  returned: always
  type: dict
events:
  description: Events taken into account (full sync) or changed events kept (incremental).
  returned: always
  type: int
attributes:
  description: Attributes examined.
  returned: always
  type: int
full_sync:
  description: Whether this run was a full sync (no/invalid state, changed options, or asked).
  returned: always
  type: bool
sync_point:
  description: The MISP time (newest C(timestamp) or C(publish_timestamp) seen) the next incremental sync starts from.
  returned: always
  type: int
reconciled:
  description: Events the state held that MISP no longer lists as published, by what became of them (C(deleted), C(retracted), C(editing)).
  returned: always
  type: dict
  sample: {"deleted": 1, "editing": 2}
dest:
  description: Absolute path of the intel file.
  returned: always
  type: str
"""


def _mode(module):
    raw = module.params["mode"]
    try:
        return int(str(raw), 8) if not isinstance(raw, int) else raw
    except ValueError:
        module.fail_json(msg=f"mode {raw!r} is not an octal file mode")
        return None


def main():
    argument_spec = misp_argument_spec()
    argument_spec.update(
        feed_path={"type": "str"},
        dest={"type": "path", "required": True},
        state_path={"type": "path"},
        removals_path={"type": "path"},
        mode={"type": "raw", "default": "0644"},
        full_sync={"type": "bool", "default": False},
        to_ids_only={"type": "bool", "default": True},
        published_only={"type": "bool", "default": True},
        tags_include={"type": "list", "elements": "str", "default": []},
        tags_exclude={"type": "list", "elements": "str", "default": []},
        types={"type": "list", "elements": "str", "default": []},
        orgs={"type": "list", "elements": "str", "default": []},
        published_within_days={"type": "int"},
        keep_tags={"type": "list", "elements": "str", "default": []},
        enforce_warninglist={"type": "bool", "default": False},
        page_limit={"type": "int", "default": 100},
        do_notice={"type": "bool", "default": True},
        source_name={"type": "str"},
        event_url_base={"type": "str"},
        max_length={"type": "int", "default": 2048},
        reconcile_interval={"type": "int", "default": 3600},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("misp_url", "feed_path")],
        required_one_of=[("misp_url", "feed_path")],
        required_by={"misp_url": ("misp_key",)},
        supports_check_mode=True,
    )
    p = module.params
    for name in ("timeout", "retries", "page_limit", "max_length"):
        if p[name] is not None and p[name] < (1 if name != "retries" else 0):
            module.fail_json(msg=f"{name} must be positive, got {p[name]}")
    if p["published_within_days"] is not None and p["published_within_days"] < 0:
        module.fail_json(msg=f"published_within_days must be >= 0, got {p['published_within_days']}")
    mode = _mode(module)
    try:
        transport = {
            "validate_certs": p["validate_certs"],
            "ca_path": p["ca_path"],
            "timeout": p["timeout"],
            "retries": p["retries"],
            "backoff": p["retry_backoff"],
        }
        if p["misp_url"]:
            source = MispRestSource(
                p["misp_url"],
                p["misp_key"],
                page_limit=p["page_limit"],
                published_only=p["published_only"],
                enforce_warninglist=p["enforce_warninglist"],
                **transport,
            )
            default_name = urlsplit(p["misp_url"]).hostname or "MISP"
            default_base = p["misp_url"]
        else:
            source = FeedSource(p["feed_path"], **transport)
            default_name, default_base = "MISP feed", ""
        flt = IntelFilter.build(
            to_ids_only=p["to_ids_only"],
            published_only=p["published_only"],
            tags_include=p["tags_include"],
            tags_exclude=p["tags_exclude"],
            types=p["types"],
            orgs=p["orgs"],
            published_within_days=p["published_within_days"],
            keep_tags=p["keep_tags"],
        )
        opts = MetaOptions(
            instance=p["source_name"] or default_name,
            event_url_base=p["event_url_base"] if p["event_url_base"] is not None else default_base,
            do_notice=p["do_notice"],
            max_length=p["max_length"],
        )
        result = sync(
            source,
            flt,
            opts,
            p["dest"],
            state_path=p["state_path"],
            removals_path=p["removals_path"],
            full=p["full_sync"],
            check_mode=module.check_mode,
            mode=mode,
            reconcile_interval=max(0, p["reconcile_interval"]),
        )
    except SourceError as exc:
        module.fail_json(msg=f"{exc}; the intel file {p['dest']} was left untouched")
    except (SyncError, IntelWriteError) as exc:
        module.fail_json(msg=str(exc))
    except (OSError, sqlite3.Error) as exc:
        module.fail_json(msg=f"cannot update {p['dest']} or its state: {exc}")
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    result["dest"] = os.path.abspath(p["dest"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
