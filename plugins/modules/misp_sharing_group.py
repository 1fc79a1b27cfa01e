#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Manage a MISP sharing group and its members on pymisp; check mode and diff."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import (
    misp_admin_from_params,
    misp_argument_spec,
    run_ensure,
)
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import ensure_sharing_group

DOCUMENTATION = r"""
module: misp_sharing_group
short_description: Create, update or delete a MISP sharing group and its member organisations and servers
version_added: "0.1.0"
description:
  - Manages one sharing group by name (C(sharing_groups/add|edit|delete)) and its members
    (C(addOrg), C(removeOrg), C(addServer), C(removeServer)). Members not listed are removed; leave
    O(organisations) or O(servers) unset to leave that list alone.
  - MISP 2.5.1 creates a group whose name is taken as C(<name>_<n>) instead of refusing; the module
    looks the group up by name first and deletes such a renamed copy and fails should it happen.
  - A group created in this run is deleted again when adding its members fails (nothing half-applied).
  - Sharing-group events only travel to a server listed in the group (or with C(all_orgs)); membership
    changes apply to later pushes, not to events already pushed (a known MISP sync pitfall).
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
    description: Sharing group name.
    type: str
    required: true
  releasability:
    description: Who the data may be released to (free text, required by MISP on creation).
    type: str
  description:
    description: Description.
    type: str
  active:
    description: Whether the group can be picked for new events.
    type: bool
  roaming:
    description: Roaming mode (no server list; the data goes wherever the member organisations are).
    type: bool
  organisations:
    description: Member organisations.
    type: list
    elements: dict
    suboptions:
      name:
        description: Organisation name, UUID or id.
        type: str
        required: true
      extend:
        description: The organisation may extend the group.
        type: bool
        default: false
  servers:
    description: Member servers; C(local) is this instance.
    type: list
    elements: dict
    suboptions:
      url:
        description: Sync server URL as configured on this instance, or C(local).
        type: str
        required: true
      all_orgs:
        description: Every organisation on that server is a member.
        type: bool
        default: false
  state:
    description: Whether the group should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pymisp
"""

EXAMPLES = r"""
- name: The site community on the hub
  socforge.core.misp_sharing_group:
    misp_url: https://misp-hub.example.org
    misp_key: "{{ vault_misp_hub_key }}"
    name: SOCForge sites
    releasability: SOCForge member sites
    organisations:
      - name: STFC-Hub
        extend: true
      - name: STFC-Spoke-1
    servers:
      - url: local
      - url: https://misp-spoke1.example.org
"""

RETURN = r"""
sharing_group:
  description: The sharing group as MISP stores it (null when absent).
  returned: always
  type: dict
  sample: {"id": "1", "name": "SOCForge sites", "releasability": "SOCForge member sites", "active": true}
"""


def main():
    spec = misp_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        releasability={"type": "str"},
        description={"type": "str"},
        active={"type": "bool"},
        roaming={"type": "bool"},
        organisations={
            "type": "list",
            "elements": "dict",
            "options": {"name": {"type": "str", "required": True}, "extend": {"type": "bool", "default": False}},
        },
        servers={
            "type": "list",
            "elements": "dict",
            "options": {"url": {"type": "str", "required": True}, "all_orgs": {"type": "bool", "default": False}},
        },
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    wanted = {k: p[k] for k in ("name", "releasability", "description", "active", "roaming")}
    run_ensure(
        module,
        lambda: ensure_sharing_group(
            misp_admin_from_params(p),
            wanted,
            organisations=p["organisations"],
            servers=p["servers"],
            state=p["state"],
            check_mode=module.check_mode,
        ),
        result_key="sharing_group",
    )


if __name__ == "__main__":
    main()
