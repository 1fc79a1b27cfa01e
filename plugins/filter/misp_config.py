"""Filter comparing MISP's config.php with the wanted settings (module_utils/misp_config.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import misp_config

DOCUMENTATION = r"""
name: misp_setting_changes
short_description: MISP settings that differ from config.php
description:
  - Compares MISP's C($config) (config.php read as JSON) with the wanted settings, a mapping of MISP's
    dotted setting names (C(MISP.baseurl), C(Plugin.ZeroMQ_enable)) to values, and returns the ones to
    change with C(cake Admin setSetting), in the order given.
  - Values compare as the strings setSetting is given - booleans C(true)/C(false), numbers in decimal.
  - Secret settings (passwords, keys, the salt) are flagged C(secret) and their old value is not returned.
positional: wanted, force
options:
  _input:
    description: config.php's C($config) as a dict (empty or missing when there is none yet).
    type: dict
    required: true
  wanted:
    description: Setting name to value.
    type: dict
    required: true
  force:
    description: Settings to apply even when MISP's own check refuses them (C(cake Admin setSetting --force)).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Settings to change
  ansible.builtin.set_fact:
    changes: "{{ current_config | socforge.core.misp_setting_changes({'MISP.baseurl': 'https://misp.example.org'}) }}"
"""

RETURN = r"""
_value:
  description: >-
    One item per setting to change - C(name), C(value) (string or null), C(json), C(before), C(secret),
    C(show) (a line safe to print) and C(request) (C(name), C(value), C(force)).
  type: list
  elements: dict
"""


def misp_setting_changes(current, wanted, force=None):
    try:
        return misp_config.changes(current, wanted, force or ())
    except misp_config.MispConfigError as exc:
        raise AnsibleFilterError(f"misp_setting_changes: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"misp_setting_changes": misp_setting_changes}
