#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Manage a MISP feed on pymisp; check mode and diff."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import (
    misp_admin_from_params,
    misp_argument_spec,
    run_ensure,
)
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import ensure_feed

DOCUMENTATION = r"""
module: misp_feed
short_description: Create, update or delete a MISP feed
version_added: "0.1.0"
description:
  - Manages one feed (C(feeds/add|edit|delete)), found by URL, else by name. Only the options given are
    compared and changed; MISP's defaults apply to the others on creation.
  - An air-gapped site points O(url) at a local directory with O(input_source=local).
author:
  - SOCForge team
extends_documentation_fragment:
  - socforge.core.misp
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  name:
    description: Feed name.
    type: str
    required: true
  url:
    description: Feed URL, or a directory on the MISP host with O(input_source=local).
    type: str
    required: true
  provider:
    description: Who publishes the feed.
    type: str
  source_format:
    description: Feed format.
    type: str
    choices: [misp, freetext, csv]
  input_source:
    description: C(network) (http/https) or C(local) (a directory on the MISP host).
    type: str
    choices: [network, local]
  enabled:
    description: Whether MISP fetches the feed.
    type: bool
  caching_enabled:
    description: Whether MISP caches the feed for correlation.
    type: bool
  distribution:
    description: Distribution of events created from the feed (0 your organisation only ... 3 all, 4 sharing group, 5 inherit).
    type: int
    choices: [0, 1, 2, 3, 4, 5]
  fixed_event:
    description: Freetext/CSV feeds only; add everything to one event.
    type: bool
  delta_merge:
    description: Remove attributes that left the feed from the fixed event.
    type: bool
  publish:
    description: Publish events created from the feed.
    type: bool
  override_ids:
    description: Clear the IDS flag of attributes from the feed.
    type: bool
  lookup_visible:
    description: Show the feed's correlations to all users.
    type: bool
  state:
    description: Whether the feed should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pymisp
"""

EXAMPLES = r"""
- name: A MISP-format feed kept on the hub's disk (air-gapped site)
  socforge.core.misp_feed:
    misp_url: https://misp-hub.example.org
    misp_key: "{{ vault_misp_hub_key }}"
    name: Infoblox threat intel
    provider: Infoblox
    url: /srv/feeds/infoblox
    input_source: local
    source_format: misp
    enabled: true
    distribution: 1
"""

RETURN = r"""
feed:
  description: The feed as MISP stores it (null when absent).
  returned: always
  type: dict
  sample: {"id": "3", "name": "Infoblox threat intel", "enabled": true, "source_format": "misp"}
"""

FIELDS = (
    "name",
    "url",
    "provider",
    "source_format",
    "input_source",
    "enabled",
    "caching_enabled",
    "distribution",
    "fixed_event",
    "delta_merge",
    "publish",
    "override_ids",
    "lookup_visible",
)


def main():
    spec = misp_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        url={"type": "str", "required": True},
        provider={"type": "str"},
        source_format={"type": "str", "choices": ["misp", "freetext", "csv"]},
        input_source={"type": "str", "choices": ["network", "local"]},
        enabled={"type": "bool"},
        caching_enabled={"type": "bool"},
        distribution={"type": "int", "choices": [0, 1, 2, 3, 4, 5]},
        fixed_event={"type": "bool"},
        delta_merge={"type": "bool"},
        publish={"type": "bool"},
        override_ids={"type": "bool"},
        lookup_visible={"type": "bool"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    wanted = {k: p[k] for k in FIELDS}
    run_ensure(
        module,
        lambda: ensure_feed(misp_admin_from_params(p), wanted, state=p["state"], check_mode=module.check_mode),
        result_key="feed",
    )


if __name__ == "__main__":
    main()
