#!/usr/bin/python
"""Set dynamic settings on existing OpenSearch indices (idempotent, check mode, diff)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: opensearch_index_settings
short_description: Set dynamic settings on existing OpenSearch indices
version_added: 0.1.0
description:
  - Puts dynamic index settings (C(_settings) API) with opensearch-py on every open index that
    matches O(index) - a name, a comma-separated list or a wildcard pattern.
  - An index template only applies to indices created after it; this module brings the indices that
    already exist in line (e.g. an audit-log index the security plugin created before its template).
  - Reads the current settings first (flat form) and only writes to the indices where a setting
    differs, so repeated runs report no change. A pattern that matches no index is not an error.
    Supports check mode and diff.
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.opensearch
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  index:
    description: Index name, comma-separated names or wildcard pattern (open indices only).
    type: str
    required: true
  settings:
    description:
      - Dynamic index settings, flat dotted keys or nested dicts, with or without the C(index.)
        prefix (C(number_of_replicas) and C(index.number_of_replicas) are the same setting).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: No replicas for the audit-log indices of a single-node cluster
  socforge.core.opensearch_index_settings:
    hosts: ["https://10.0.0.11:9200"]
    ca_path: /srv/pki/ca.crt
    client_cert: /srv/pki/admin.crt
    client_key: /srv/pki/admin.key
    index: "security-auditlog-*"
    settings:
      number_of_replicas: 0
"""

RETURN = r"""
changes:
  description: Index -> the settings written to it (flat, as strings). Empty when nothing differed.
  returned: success
  type: dict
  sample: {security-auditlog-2026.11.30: {index.number_of_replicas: "0"}}
indices:
  description: The indices the pattern matched.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (  # noqa: E402
    OpenSearchConfigError,
    build_client,
    error_message,
    flatten_settings,
)
from ansible_collections.socforge.core.plugins.module_utils.opensearch_cluster import settings_changes  # noqa: E402
from ansible_collections.socforge.core.plugins.module_utils.opensearch_module import connection_module  # noqa: E402


def main():
    module = connection_module(
        {
            "index": {"type": "str", "required": True},
            "settings": {"type": "dict", "required": True},
        }
    )
    pattern = module.params["index"]
    wanted = flatten_settings(module.params["settings"])
    if not wanted:
        module.fail_json(msg=f"settings: no setting given for index {pattern!r}")
    try:
        client = build_client(module.params)
        current = client.indices.get_settings(
            index=pattern, flat_settings=True, allow_no_indices=True, expand_wildcards="open", ignore_unavailable=True
        )
        changes = {}
        before, after = {}, {}
        for name in sorted(current):
            stored = current[name].get("settings", {})
            before[name] = {key: stored.get(key) for key in wanted}
            differ = settings_changes(stored, wanted)
            after[name] = {**before[name], **differ}
            if differ:
                changes[name] = differ
        if changes and not module.check_mode:
            for name, body in changes.items():
                client.indices.put_settings(index=name, body=body, flat_settings=True)
    except OpenSearchConfigError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 -- any client/server error becomes a named module failure
        module.fail_json(msg=f"index settings {pattern!r}: {error_message(exc)}")
    module.exit_json(
        changed=bool(changes), changes=changes, indices=sorted(current), diff={"before": before, "after": after}
    )


if __name__ == "__main__":
    main()
