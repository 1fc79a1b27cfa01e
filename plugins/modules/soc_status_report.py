#!/usr/bin/python
"""Judge and render the SOC status view (playbooks/status.yml) as a table, an HTML page and JSON."""

from __future__ import annotations

DOCUMENTATION = r"""
module: soc_status_report
short_description: Render the whole SOC's status checks as a text table, a self-contained HTML page and JSON
version_added: 0.1.0
description:
  - Takes the checks that C(playbooks/status.yml) collected from every tier (Zeek nodes, capture loss,
    intel, aggregator ports, Kafka, OpenSearch, MISP), orders them, and writes an HTML page (inline CSS,
    no scripts, no external assets) and a JSON document.
  - Fails, naming every failed check (component, host, what), when O(fail_on_problem) is true and a
    check failed. The files are written first, so the operator can open the page that failed.
  - The logic lives in C(plugins/module_utils/soc_status.py).
author: SOCForge team
attributes:
  check_mode:
    support: full
    details: In check mode the files are not written; the table and verdict are still returned.
  diff_mode:
    support: none
options:
  checks:
    description:
      - The checks, each a mapping with C(component), C(host), C(check), C(status) (C(ok), C(warn) or
        C(fail)) and C(detail).
    type: list
    elements: dict
    required: true
  title:
    description: Title of the page.
    type: str
    default: SOC status
  generated:
    description: When the checks were taken (shown on the page; an ISO 8601 time).
    type: str
    required: true
  html_path:
    description: Where to write the HTML page (atomically). Not written when unset.
    type: path
  json_path:
    description: Where to write the JSON document (atomically). Not written when unset.
    type: path
  fail_on_problem:
    description: Fail when any check has status C(fail).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Write the SOC status page
  socforge.core.soc_status_report:
    checks: "{{ soc_status_checks }}"
    generated: "{{ now(utc=true).isoformat() }}"
    html_path: /var/www/soc-status/index.html
    json_path: /var/www/soc-status/status.json
"""

RETURN = r"""
overall:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: fail
table:
  description: The checks as a plain-text table.
  returned: always
  type: str
problems:
  description: One line per failed check, naming the component, host and what is wrong.
  returned: always
  type: list
  elements: str
  sample: ["zeek lab-zeek-mgr: node worker-lab-zeek-w1-cap0-1: worker on 10.89.30.13: stopped"]
counts:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {ok: 21, warn: 1, fail: 1}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils import soc_status
from ansible_collections.socforge.core.plugins.module_utils.atomic_file import write_atomic


def _unchanged(path, text):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read() == text
    except OSError:
        return False


def main():
    module = AnsibleModule(
        argument_spec={
            "checks": {"type": "list", "elements": "dict", "required": True},
            "title": {"type": "str", "default": "SOC status"},
            "generated": {"type": "str", "required": True},
            "html_path": {"type": "path"},
            "json_path": {"type": "path"},
            "fail_on_problem": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        checks = soc_status.normalise(p["checks"])
    except soc_status.StatusInputError as exc:
        module.fail_json(msg=f"soc_status_report: {exc}")
    outputs = []
    if p["html_path"]:
        outputs.append((p["html_path"], soc_status.render_html(checks, p["title"], p["generated"])))
    if p["json_path"]:
        outputs.append((p["json_path"], soc_status.render_json(checks, p["title"], p["generated"]) + "\n"))
    changed = False
    for path, text in outputs:
        if _unchanged(path, text):
            continue
        changed = True
        if not module.check_mode:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                write_atomic(path, text, mode=0o644)
            except OSError as exc:
                module.fail_json(msg=f"soc_status_report: cannot write {path}: {exc.strerror}")
    result = {
        "changed": changed,
        "overall": soc_status.overall(checks),
        "table": soc_status.render_text(checks),
        "problems": soc_status.problems(checks),
        "counts": {s: sum(1 for c in checks if c["status"] == s) for s in soc_status.STATUSES},
    }
    if p["fail_on_problem"] and result["problems"]:
        module.fail_json(msg="SOC status: " + "; ".join(result["problems"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
