#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Manage a MISP tag on pymisp; check mode and diff."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import (
    misp_admin_from_params,
    misp_argument_spec,
    run_ensure,
)
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import ensure_tag

DOCUMENTATION = r"""
module: misp_tag
short_description: Create, update or delete a MISP tag
version_added: "0.1.0"
description:
  - Manages one tag (C(tags/add|edit|delete)), found by its exact name (C(tags/search) with
    C(strict_tagname)). Used for the tags sync rules and the intel filters rely on, such as
    C(tlp:red) or C(socforge:keep).
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
  name:
    description: Tag name, for example C(tlp:amber) or C(socforge:keep).
    type: str
    required: true
  colour:
    description: Colour as C(#RRGGBB) (checked here; MISP refuses anything else).
    type: str
  exportable:
    description: Whether the tag travels with events on sync and exports.
    type: bool
  hide_tag:
    description: Hide the tag from the tag pickers.
    type: bool
  local_only:
    description: The tag can only be attached locally (never synced).
    type: bool
  state:
    description: Whether the tag should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pymisp
"""

EXAMPLES = r"""
- name: A tag that exempts events from intel ageing
  socforge.core.misp_tag:
    misp_url: https://misp-hub.example.org
    misp_key: "{{ vault_misp_hub_key }}"
    name: "socforge:keep"
    colour: "#0088cc"
    exportable: true
"""

RETURN = r"""
tag:
  description: The tag as MISP stores it (null when absent).
  returned: always
  type: dict
  sample: {"id": "12", "name": "socforge:keep", "colour": "#0088cc", "exportable": true}
"""


def main():
    spec = misp_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        colour={"type": "str"},
        exportable={"type": "bool"},
        hide_tag={"type": "bool"},
        local_only={"type": "bool"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    wanted = {k: p[k] for k in ("name", "colour", "exportable", "hide_tag", "local_only")}
    run_ensure(
        module,
        lambda: ensure_tag(misp_admin_from_params(p), wanted, state=p["state"], check_mode=module.check_mode),
        result_key="tag",
    )


if __name__ == "__main__":
    main()
