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
  returned: when O(state=present)
  type: dict
"""

from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import NotFoundError  # noqa: E402
from ansible_collections.socforge.core.plugins.module_utils.opensearch_module import (  # noqa: E402
    ensure_named_object,
    named_object_module,
)


def get_current(client, name):
    try:
        found = client.ingest.get_pipeline(id=name)
    except NotFoundError:
        return None
    return found.get(name)


def main():
    module = named_object_module("pipeline")
    name = module.params["name"]
    pipeline = module.params["pipeline"]
    if module.params["state"] == "present" and not isinstance(pipeline.get("processors"), list):
        module.fail_json(msg=f"pipeline: ingest pipeline {name!r} needs a processors list")
    ensure_named_object(
        module,
        label="ingest pipeline",
        result_key="pipeline",
        desired=pipeline,
        differs=lambda current, desired: current != desired,
        get=lambda client: (get_current(client, name), None),
        put=lambda client, _token: client.ingest.put_pipeline(id=name, body=pipeline),
        delete=lambda client: client.ingest.delete_pipeline(id=name),
    )


if __name__ == "__main__":
    main()
