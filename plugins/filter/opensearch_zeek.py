"""Filters building OpenSearch index templates and ISM policies for Zeek logs (module_utils/zeek_index.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import zeek_index

DOCUMENTATION = r"""
name: zeek_index_template
short_description: OpenSearch index template for one Zeek log
description:
  - Turns a Zeek log's mapping of field name to Zeek type into a composable index template for
    C(<prefix>-<log>-*) - addresses as C(ip), ports as C(integer), C(ts) as C(date), dotted names
    (C(id.orig_h)) as nested properties.
  - The companion filter C(zeek_ism_policy) returns the retention policy (hot, deleted after N days).
positional: fields, settings
options:
  _input:
    description: The Zeek log name, for example C(conn).
    type: str
    required: true
  fields:
    description: Field name to Zeek type, for example C(id.orig_h) to C(addr).
    type: dict
    required: true
  settings:
    description: Optional C(prefix), C(shards), C(replicas), C(priority), C(refresh_interval), C(pipeline).
    type: dict
"""

EXAMPLES = r"""
- name: Template body for conn
  ansible.builtin.debug:
    msg: "{{ 'conn' | socforge.core.zeek_index_template({'ts': 'time', 'id.orig_h': 'addr'}, {'replicas': 0}) }}"
- name: ISM body, 30 days
  ansible.builtin.debug:
    msg: "{{ 'conn' | socforge.core.zeek_ism_policy(30, 'zeek') }}"
"""

RETURN = r"""
_value:
  description: The template body (for C(socforge.core.opensearch_index_template)).
  type: dict
"""

_TEMPLATE_SETTINGS = {"prefix", "shards", "replicas", "priority", "refresh_interval", "pipeline", "ignore_malformed"}


def zeek_index_template(log, fields, settings=None):
    settings = dict(settings or {})
    unknown = set(settings) - _TEMPLATE_SETTINGS
    if unknown:
        raise AnsibleFilterError(f"zeek_index_template: unknown settings {sorted(unknown)}")
    try:
        return zeek_index.zeek_index_template(log, fields, **settings)
    except zeek_index.ZeekMappingError as exc:
        raise AnsibleFilterError(f"zeek_index_template: {exc}") from exc


def zeek_ism_policy(log, retention_days, prefix="zeek"):
    try:
        return zeek_index.zeek_ism_policy(log, retention_days, prefix=prefix)
    except zeek_index.ZeekMappingError as exc:
        raise AnsibleFilterError(f"zeek_ism_policy: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"zeek_index_template": zeek_index_template, "zeek_ism_policy": zeek_ism_policy}
