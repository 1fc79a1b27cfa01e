#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Manage a MISP organisation (local or external) on pymisp; check mode and diff."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import (
    misp_admin_from_params,
    misp_argument_spec,
    run_ensure,
)
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import ensure_organisation

DOCUMENTATION = r"""
module: misp_organisation
short_description: Create, update or delete a MISP organisation
version_added: "0.1.0"
description:
  - Manages one organisation on a MISP instance through pymisp (C(admin/organisations/add|edit|delete)).
  - The organisation is found by O(uuid) when given, else by name (case-insensitive, as MISP
    refuses two organisations with the same name). Only the options given are compared and changed.
  - Sync peers are organisations too, usually external (O(local=false)) and with the UUID the peer
    uses itself, so that events keep their creator organisation across instances.
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
    description: Organisation name.
    type: str
    required: true
  uuid:
    description: Organisation UUID (set on creation; must match an existing organisation of that name).
    type: str
  description:
    description: Free-text description.
    type: str
  type:
    description: Organisation type (free text, e.g. C(CSIRT)).
    type: str
  nationality:
    description: Nationality (country name or code).
    type: str
  sector:
    description: Sector (e.g. C(Research)).
    type: str
  contacts:
    description: Contact information.
    type: str
  local:
    description: Whether the organisation has users on this instance (C(false) for a sync peer's organisation).
    type: bool
  restricted_to_domain:
    description: E-mail domains users of this organisation must have.
    type: list
    elements: str
  state:
    description: Whether the organisation should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pymisp
"""

EXAMPLES = r"""
- name: The hub's record of spoke 1's organisation
  socforge.core.misp_organisation:
    misp_url: https://misp-hub.example.org
    misp_key: "{{ vault_misp_hub_key }}"
    ca_path: /etc/ssl/certs/site-ca.pem
    name: STFC-Spoke-1
    uuid: 5f6e1c2a-0d0b-4c7e-9a51-1c2d3e4f5a6b
    local: false
    sector: Research
"""

RETURN = r"""
organisation:
  description: The organisation as MISP stores it (null when absent; in check mode the planned values).
  returned: always
  type: dict
  sample: {"id": "2", "name": "STFC-Spoke-1", "uuid": "5f6e1c2a-0d0b-4c7e-9a51-1c2d3e4f5a6b", "local": false}
"""

FIELDS = ("name", "uuid", "description", "type", "nationality", "sector", "contacts", "local", "restricted_to_domain")


def main():
    spec = misp_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        uuid={"type": "str"},
        description={"type": "str"},
        type={"type": "str"},
        nationality={"type": "str"},
        sector={"type": "str"},
        contacts={"type": "str"},
        local={"type": "bool"},
        restricted_to_domain={"type": "list", "elements": "str"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    run_ensure(
        module,
        lambda: ensure_organisation(
            misp_admin_from_params(p), {k: p[k] for k in FIELDS}, state=p["state"], check_mode=module.check_mode
        ),
        result_key="organisation",
    )


if __name__ == "__main__":
    main()
