#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Compute and validate the MISP sync links of a site (hub-and-spoke or mesh)."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp_topology import (
    DEFAULT_PARTNER_PUSH_TAGS_NOT,
    DEFAULT_PUSH_TAGS_NOT,
    TopologyError,
    plan,
)

DOCUMENTATION = r"""
module: misp_sync_topology
short_description: Compute and validate the MISP sync links of a site (hub-and-spoke or mesh)
version_added: "0.1.0"
description:
  - From the site's MISP instances (one hub, n spokes, optional external partners) computes the sync
    links, one MISP server entry each, ready for M(socforge.core.misp_server) on the instance C(on).
  - Hub-and-spoke (the STFC design) gives n links, each spoke pushing its events and sightings to the hub
    and pulling the others' back; a mesh gives (n+1)n/2. External partners link to the hub only,
    with stricter push rules (no C(tlp:red), C(tlp:amber), C(tlp:amber+strict)).
  - Validates the links and fails listing every problem, no spoke-to-spoke link in hub-and-spoke mode,
    every spoke and partner reachable from the hub, no duplicate link between two instances, a CA
    pinned for every peer marked C(self_signed), distribution filters in MISP's syntax (C("2|3")) and
    consistent with MISP's rules (C(0) never leaves an instance, C(1) is never pushed over a
    non-internal link).
  - Returns what an event published on the first spoke reaches at each distribution level, simulating
    MISP's per-hop downgrade (a pushed 2 arrives as 1, a pulled 1 as 0, unless the link is internal).
  - Reads nothing and changes nothing.
author:
  - SOCForge team
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  hub:
    description: The hub, C({name, url, org, org_uuid, ca_file, self_signed}).
    type: dict
    required: true
  spokes:
    description: The spokes, same keys as O(hub).
    type: list
    elements: dict
    default: []
  partners:
    description: External partner instances (linked to the hub only).
    type: list
    elements: dict
    default: []
  mode:
    description: Layout.
    type: str
    choices: [hub_and_spoke, mesh]
    default: hub_and_spoke
  internal:
    description:
      - Mark the site's links internal (every site instance has the same host organisation,
        C(MISP.host_org_id)), so MISP keeps the distribution as it is across hops.
    type: bool
    default: false
  push_tags_not:
    description: Tags never pushed between site instances.
    type: list
    elements: str
    default: ["tlp:red"]
  partner_push_tags_not:
    description: Tags never pushed to external partners.
    type: list
    elements: str
    default: ["tlp:red", "tlp:amber", "tlp:amber+strict"]
requirements: []
"""

EXAMPLES = r"""
- name: Sync links of the site
  socforge.core.misp_sync_topology:
    hub: {name: misp-hub01, url: "https://misp-hub01.example.org", org: STFC-Hub, ca_file: /srv/pki/ca.crt}
    spokes:
      - {name: misp-spoke01, url: "https://misp-spoke01.example.org", org: STFC-Spoke-1, ca_file: /srv/pki/ca.crt}
  register: misp_sync
"""

RETURN = r"""
links:
  description: One entry per MISP server entry, with C(on) and C(on_url) (the instance that holds it) and the M(socforge.core.misp_server) options.
  returned: always
  type: list
  elements: dict
counts:
  description: Link counts of both layouts at this size.
  returned: always
  type: dict
  sample: {"hub_and_spoke": 2, "mesh": 3}
reach:
  description: For distribution 1, 2, 3, the distribution an event published on the first spoke arrives with on each instance it reaches.
  returned: always
  type: dict
  sample: {"2": {"misp-spoke01": 2, "misp-hub01": 1, "misp-spoke02": 0}}
errors:
  description: Validation errors (the module fails when there is one).
  returned: always
  type: list
  elements: str
"""


def main():
    module = AnsibleModule(
        argument_spec={
            "hub": {"type": "dict", "required": True},
            "spokes": {"type": "list", "elements": "dict", "default": []},
            "partners": {"type": "list", "elements": "dict", "default": []},
            "mode": {"type": "str", "choices": ["hub_and_spoke", "mesh"], "default": "hub_and_spoke"},
            "internal": {"type": "bool", "default": False},
            "push_tags_not": {"type": "list", "elements": "str", "default": list(DEFAULT_PUSH_TAGS_NOT)},
            "partner_push_tags_not": {
                "type": "list",
                "elements": "str",
                "default": list(DEFAULT_PARTNER_PUSH_TAGS_NOT),
            },
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = plan(
            p["hub"],
            p["spokes"],
            p["partners"],
            mode=p["mode"],
            internal=p["internal"],
            push_tags_not=p["push_tags_not"],
            partner_push_tags_not=p["partner_push_tags_not"],
        )
    except TopologyError as exc:
        module.fail_json(msg=str(exc), links=[], counts={}, reach={}, errors=[str(exc)])
    reach = {str(level): reached for level, reached in result["reach"].items()}
    if result["errors"]:
        module.fail_json(
            msg="MISP sync topology is invalid: " + "; ".join(result["errors"]),
            links=result["links"],
            counts=result["counts"],
            reach=reach,
            errors=result["errors"],
        )
    module.exit_json(changed=False, links=result["links"], counts=result["counts"], reach=reach, errors=[])


if __name__ == "__main__":
    main()
