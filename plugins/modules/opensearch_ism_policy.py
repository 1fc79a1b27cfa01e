#!/usr/bin/python
"""Manage an OpenSearch Index State Management (ISM) policy (idempotent, check mode, diff)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: opensearch_ism_policy
short_description: Manage an OpenSearch ISM (index lifecycle) policy
version_added: 0.1.0
description:
  - Creates, updates or deletes an Index State Management policy (C(_plugins/_ism/policies)) with
    opensearch-py. Needs the index-management plugin on the cluster.
  - Compares first - the wanted policy must be contained in the stored one, ignoring what the server
    adds (policy id, times, schema version, default C(retry) of actions) - and only writes when it
    differs. Updates use the stored C(seq_no)/C(primary_term), so a concurrent change is refused
    rather than overwritten. Supports check mode and diff.
  - Validates the policy before sending it - unique state names, C(default_state) and every
    transition target naming an existing state.
  - Updating a policy does not change indices already managed by an older version of it (as in
    OpenSearch); new indices matching C(ism_template) get the new version.
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.opensearch
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - A key removed from O(policy) that the stored policy still has is not detected as a change
    (comparison is "wanted is contained in stored"); change another field, or delete and re-create.
options:
  name:
    description: Policy id.
    type: str
    required: true
  state:
    description: Whether the policy should exist.
    type: str
    choices: [present, absent]
    default: present
  policy:
    description:
      - The policy - C(description), C(default_state), C(states), C(ism_template) - that is, the
        value of the API's C(policy) key. Required when O(state=present).
    type: dict
"""

EXAMPLES = r"""
- name: Keep Zeek conn logs 30 days
  socforge.core.opensearch_ism_policy:
    hosts: ["https://os1.example.org:9200"]
    ca_path: /etc/socforge/pki/ca.crt
    username: admin
    password: "{{ vault_opensearch_admin_password }}"
    name: zeek-conn-retention
    policy:
      description: zeek conn logs - hot, deleted after 30 days
      default_state: hot
      states:
        - name: hot
          actions: []
          transitions: [{state_name: delete, conditions: {min_index_age: 30d}}]
        - name: delete
          actions: [{delete: {}}]
          transitions: []
      ism_template: [{index_patterns: ["zeek-conn-*"], priority: 100}]
"""

RETURN = r"""
policy:
  description: The policy as stored after the run (server-added fields removed), absent when deleted.
  returned: when O(state=present)
  type: dict
"""

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (  # noqa: E402
    NotFoundError,
    is_subset,
    strip_ism_server_fields,
    validate_ism_policy,
)
from ansible_collections.socforge.core.plugins.module_utils.opensearch_module import (  # noqa: E402
    ensure_named_object,
    named_object_module,
)


def get_current(client, name):
    try:
        found = client.plugins.index_management.get_policy(policy=name)
    except NotFoundError:
        return None, None
    return strip_ism_server_fields(found.get("policy") or {}), found


def put_policy(client, name, policy, raw):
    """Update with the stored sequence number, so a concurrent change is refused, not overwritten."""
    params = None
    if raw is not None:
        params = {"if_seq_no": raw["_seq_no"], "if_primary_term": raw["_primary_term"]}
    client.plugins.index_management.put_policy(policy=name, body={"policy": policy}, params=params)


def main():
    module = named_object_module("policy")
    name = module.params["name"]
    policy = module.params["policy"]
    if module.params["state"] == "present":
        problems = validate_ism_policy(policy)
        if problems:
            module.fail_json(msg=f"ISM policy {name!r} is invalid: " + "; ".join(problems), problems=problems)
    ensure_named_object(
        module,
        label="ISM policy",
        result_key="policy",
        desired=policy,
        differs=lambda current, desired: current is None or not is_subset(desired, current),
        get=lambda client: get_current(client, name),
        put=lambda client, raw: put_policy(client, name, policy, raw),
        delete=lambda client: client.plugins.index_management.delete_policy(policy=name),
    )


if __name__ == "__main__":
    main()
