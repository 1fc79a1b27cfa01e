#!/usr/bin/python
"""Set or reset OpenSearch cluster settings (persistent, transient); idempotent, check mode, diff."""

from __future__ import annotations

DOCUMENTATION = r"""
module: opensearch_cluster_settings
short_description: Set or reset OpenSearch dynamic cluster settings
version_added: 0.1.0
description:
  - Puts dynamic cluster settings (C(_cluster/settings)) with opensearch-py, persistent or
    transient. Only the settings given are managed; others are left alone.
  - Reads the current settings first (flat form) and only writes the ones that differ, so repeated
    runs report no change. Supports check mode and diff.
  - A setting given as C(null) is reset to its default (removed from that scope).
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.opensearch
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  persistent:
    description: Persistent settings, flat dotted keys or nested dicts; C(null) resets a key.
    type: dict
    default: {}
  transient:
    description: Transient settings (lost on a full cluster restart), same form.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Hold replica allocation before a node restarts
  socforge.core.opensearch_cluster_settings:
    hosts: ["https://10.0.0.11:9200", "https://10.0.0.12:9200"]
    ca_path: /srv/pki/ca.crt
    client_cert: /srv/pki/admin.crt
    client_key: /srv/pki/admin.key
    persistent:
      cluster.routing.allocation.enable: primaries

- name: Back to the default (all) once the node has rejoined
  socforge.core.opensearch_cluster_settings:
    hosts: ["https://10.0.0.11:9200", "https://10.0.0.12:9200"]
    ca_path: /srv/pki/ca.crt
    client_cert: /srv/pki/admin.crt
    client_key: /srv/pki/admin.key
    persistent:
      cluster.routing.allocation.enable: null
"""

RETURN = r"""
changes:
  description: Scope -> the settings written (flat, as strings; C(null) for a reset). Empty when nothing differed.
  returned: success
  type: dict
  sample: {persistent: {cluster.routing.allocation.enable: primaries}}
settings:
  description: Scope -> the managed settings as they are after the run (C(null) = not set).
  returned: success
  type: dict
"""

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (  # noqa: E402
    OpenSearchConfigError,
    build_client,
    error_message,
    flatten_dotted,
)
from ansible_collections.socforge.core.plugins.module_utils.opensearch_cluster import settings_changes  # noqa: E402
from ansible_collections.socforge.core.plugins.module_utils.opensearch_module import connection_module  # noqa: E402

SCOPES = ("persistent", "transient")


def managed_view(current, wanted):
    """Scope -> {key: current value or None} for the keys the task manages."""
    view = {}
    for scope in SCOPES:
        flat = flatten_dotted(current.get(scope))
        view[scope] = {key: flat.get(key) for key in flatten_dotted(wanted[scope])}
    return view


def main():
    module = connection_module(
        {
            "persistent": {"type": "dict", "default": {}},
            "transient": {"type": "dict", "default": {}},
        }
    )
    wanted = {scope: module.params[scope] for scope in SCOPES}
    try:
        client = build_client(module.params)
        current = client.cluster.get_settings(flat_settings=True)
        changes = {scope: settings_changes(current.get(scope) or {}, wanted[scope]) for scope in SCOPES}
        changes = {scope: body for scope, body in changes.items() if body}
        before = managed_view(current, wanted)
        after = before
        if changes and not module.check_mode:
            client.cluster.put_settings(body=changes, flat_settings=True)
            after = managed_view(client.cluster.get_settings(flat_settings=True), wanted)
        elif changes:
            after = {scope: {**before[scope], **changes.get(scope, {})} for scope in SCOPES}
    except OpenSearchConfigError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 -- any client/server error becomes a named module failure
        module.fail_json(msg=f"cluster settings: {error_message(exc)}")
    module.exit_json(changed=bool(changes), changes=changes, settings=after, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
