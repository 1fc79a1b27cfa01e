#!/usr/bin/python
"""Manage an OpenSearch ingest pipeline (idempotent, check mode, diff)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: opensearch_ingest_pipeline
short_description: Manage an OpenSearch ingest pipeline
version_added: 0.1.0
description:
  - Creates, updates or deletes an ingest pipeline (C(_ingest/pipeline)) with opensearch-py.
  - Compares the wanted pipeline with the stored one and only writes when they differ. Supports
    check mode and diff. The cluster validates the processors when the pipeline is put; an invalid
    pipeline fails naming the processor error, and the stored pipeline is left as it was.
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
    description: Pipeline id.
    type: str
    required: true
  state:
    description: Whether the pipeline should exist.
    type: str
    choices: [present, absent]
    default: present
  pipeline:
    description: The pipeline body - C(description), C(processors), C(on_failure). Required when O(state=present).
    type: dict
"""

EXAMPLES = r"""
- name: Zeek ts (epoch seconds) to @timestamp
  socforge.core.opensearch_ingest_pipeline:
    hosts: ["https://os1.example.org:9200"]
    ca_path: /etc/socforge/pki/ca.crt
    username: admin
    password: "{{ vault_opensearch_admin_password }}"
    name: zeek
    pipeline:
      description: Zeek log normalisation
      processors:
        - date: {field: ts, formats: [UNIX, ISO8601], target_field: "@timestamp"}
"""

RETURN = r"""
pipeline:
  description: The pipeline as stored after the run, absent when deleted.
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
)


def get_current(client, name):
    try:
        found = client.ingest.get_pipeline(id=name)
    except NotFoundError:
        return None
    return found.get(name)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        pipeline={"type": "dict"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["pipeline"])],
        supports_check_mode=True,
    )
    if not HAS_OPENSEARCHPY:
        module.fail_json(msg=missing_required_lib("opensearch-py"), exception=str(OPENSEARCHPY_IMPORT_ERROR))
    name = module.params["name"]
    state = module.params["state"]
    pipeline = module.params["pipeline"]
    if state == "present" and not isinstance(pipeline.get("processors"), list):
        module.fail_json(msg=f"pipeline: ingest pipeline {name!r} needs a processors list")

    try:
        client = build_client(module.params)
        current = get_current(client, name)
        if state == "absent":
            changed = current is not None
            if changed and not module.check_mode:
                client.ingest.delete_pipeline(id=name)
            module.exit_json(changed=changed, diff={"before": current or {}, "after": {}})

        changed = current != pipeline
        after = pipeline
        if changed and not module.check_mode:
            client.ingest.put_pipeline(id=name, body=pipeline)
            after = get_current(client, name)
        module.exit_json(changed=changed, pipeline=after, diff={"before": current or {}, "after": pipeline})
    except OpenSearchConfigError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 -- any client/server error becomes a named module failure
        module.fail_json(msg=f"ingest pipeline {name!r}: {error_message(exc)}")


if __name__ == "__main__":
    main()
