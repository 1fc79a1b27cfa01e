"""Filters building OpenSearch index templates and ISM policies for Zeek logs (module_utils/zeek_index.py).

Each filter is documented in plugins/filter/<filter name>.yml (ansible-doc -t filter socforge.core.<name>).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import zeek_index

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
