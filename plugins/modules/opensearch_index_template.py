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
  returned: when O(state=present)
  type: dict
"""

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (  # noqa: E402
    NotFoundError,
    normalize_index_template,
)
from ansible_collections.socforge.core.plugins.module_utils.opensearch_module import (  # noqa: E402
    ensure_named_object,
    named_object_module,
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
    module = named_object_module("template")
    name = module.params["name"]
    body = module.params["template"]
    if module.params["state"] == "present" and not body.get("index_patterns"):
        module.fail_json(msg=f"template: index template {name!r} needs index_patterns")
    ensure_named_object(
        module,
        label="index template",
        result_key="template",
        desired=normalize_index_template(body) if body else None,
        differs=lambda current, desired: current != desired,
        get=lambda client: (get_current(client, name), None),
        put=lambda client, _token: client.indices.put_index_template(name=name, body=body),
        delete=lambda client: client.indices.delete_index_template(name=name),
    )


if __name__ == "__main__":
    main()
