#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Set MISP server settings on pymisp, all or nothing; check mode and diff."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import (
    misp_admin_from_params,
    misp_argument_spec,
    run_ensure,
)
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import ensure_settings

DOCUMENTATION = r"""
module: misp_setting
short_description: Set MISP server settings (all or nothing)
version_added: "0.1.0"
description:
  - Reads every named setting (C(servers/getSetting)), checks each new value against the setting's
    type and options, writes only those that differ (C(servers/serverSettingsEdit)) and reads each back.
  - MISP 2.5.1 stores most values without checking them (C(MISP.live=maybe) becomes true,
    C(MISP.default_event_distribution=5) is saved), so the module checks booleans, numbers and option
    lists itself and refuses a bad value before anything is written.
  - All or nothing. When MISP refuses one setting (unknown, CLI-only, redacted, or a failed test such as
    an unknown correlation engine), the settings already written in this run are put back to their
    previous values and the module fails naming the setting.
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
  settings:
    description:
      - Setting name to value, for example C(MISP.host_org_id), C(MISP.default_event_distribution),
        C(Plugin.ZeroMQ_enable). Only these settings are managed.
    type: dict
    required: true
  force:
    description: Pass MISP's C(force) flag (save even when MISP's own test of the value fails).
    type: bool
    default: false
requirements:
  - pymisp
"""

EXAMPLES = r"""
- name: Hub settings
  socforge.core.misp_setting:
    misp_url: https://misp-hub.example.org
    misp_key: "{{ vault_misp_hub_key }}"
    settings:
      MISP.default_event_distribution: 1
      MISP.welcome_text_top: SOCForge hub
"""

RETURN = r"""
settings:
  description: The managed settings with the values now wanted (as typed for MISP).
  returned: always
  type: dict
  sample: {"MISP.default_event_distribution": "1"}
"""


def main():
    spec = misp_argument_spec()
    spec.update(settings={"type": "dict", "required": True}, force={"type": "bool", "default": False})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    run_ensure(
        module,
        lambda: ensure_settings(
            misp_admin_from_params(p), p["settings"], check_mode=module.check_mode, force=p["force"]
        ),
        result_key="settings",
    )


if __name__ == "__main__":
    main()
