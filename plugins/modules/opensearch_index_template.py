#!/usr/bin/python
"""Manage an OpenSearch composable index template (idempotent, check mode, diff)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: opensearch_index_template
short_description: Manage an OpenSearch composable index template
version_added: 0.1.0
description:
  - Creates, updates or deletes a composable index template (C(_index_template) API) with
    opensearch-py.
  - Compares the wanted template with the one in the cluster first (settings flattened and
    stringified as OpenSearch stores them) and only writes when they differ, so repeated runs
    report no change. Supports check mode and diff.
  - A template only applies to indices created after it; existing indices keep their mapping.
author: SOCForge team
extends_documentation_fragment:
  - socforge.core.opensearch
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  name:
    description: Template name.
    type: str
    required: true
  state:
    description: Whether the template should exist.
    type: str
    choices: [present, absent]
    default: present
  template:
    description:
      - The template body as the API takes it - C(index_patterns) (required), C(template)
        (C(settings), C(mappings), C(aliases)), C(priority), C(composed_of), C(version), C(_meta),
        C(data_stream).
      - Required when O(state=present).
    type: dict
"""

EXAMPLES = r"""
- name: Template for Zeek conn logs
  socforge.core.opensearch_index_template:
    hosts: ["https://os1.example.org:9200"]
    ca_path: /etc/socforge/pki/ca.crt
    username: admin
    password: "{{ vault_opensearch_admin_password }}"
    name: zeek-conn
    template:
      index_patterns: ["zeek-conn-*"]
      priority: 200
      template:
        settings: {number_of_shards: 1, number_of_replicas: 1}
        mappings:
          properties:
            ts: {type: date}
            id:
              properties:
                orig_h: {type: ip}
                orig_p: {type: integer}
"""

RETURN = r"""
template:
  description: The template as stored in the cluster after the run (normalised), absent when deleted.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (  # noqa: E402
    HAS_OPENSEARCHPY,
    OPENSEARCHPY_IMPORT_ERROR,
    NotFoundError,
    OpenSearchConfigError,
    build_client,
    connection_argument_spec,
    error_message,
    normalize_index_template,
)


def get_current(client, name):
    try:
        found = client.indices.get_index_template(name=name)
    except NotFoundError:
        return None
    for item in found.get("index_templates", []):
        if item.get("name") == name:
            return normalize_index_template(item["index_template"])
    return None


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        template={"type": "dict"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["template"])],
        supports_check_mode=True,
    )
    if not HAS_OPENSEARCHPY:
        module.fail_json(msg=missing_required_lib("opensearch-py"), exception=str(OPENSEARCHPY_IMPORT_ERROR))
    name = module.params["name"]
    state = module.params["state"]
    body = module.params["template"]
    if state == "present" and not body.get("index_patterns"):
        module.fail_json(msg=f"template: index template {name!r} needs index_patterns")

    try:
        client = build_client(module.params)
        current = get_current(client, name)
        if state == "absent":
            changed = current is not None
            if changed and not module.check_mode:
                client.indices.delete_index_template(name=name)
            module.exit_json(changed=changed, diff={"before": current or {}, "after": {}})

        desired = normalize_index_template(body)
        changed = current != desired
        after = desired
        if changed and not module.check_mode:
            client.indices.put_index_template(name=name, body=body)
            after = get_current(client, name)
        module.exit_json(changed=changed, template=after, diff={"before": current or {}, "after": desired})
    except OpenSearchConfigError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 -- any client/server error becomes a named module failure
        module.fail_json(msg=f"index template {name!r}: {error_message(exc)}")


if __name__ == "__main__":
    main()
