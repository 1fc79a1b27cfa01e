#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Manage a MISP sync link (a remote server) on pymisp; check mode and diff."""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import misp_admin_from_params, misp_argument_spec
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import (
    MispAdminError,
    ensure_server,
    read_ca,
    rules_json,
)

DOCUMENTATION = r"""
module: misp_server
short_description: Create, update or delete a MISP sync link (remote server)
version_added: "0.1.0"
description:
  - Manages one sync server on the MISP it talks to (C(servers/add|edit|delete)), found by URL,
    remote organisation, auth key, push/pull/sightings/caching, push and pull rules by tag and
    organisation, and the peer's CA certificate pinned for that link.
  - "The auth key is the key of a sync user on the remote MISP. MISP never shows it back
    (C(servers/index) leaves it out), so it is sent when the link is created and, with
    O(update_credentials=always), on every run (which then always reports a change)."
  - "CA pinning. O(ca_file) is checked to be a PEM certificate, then sent as the server's certificate
    (MISP stores it as C(<id>.pem) and verifies the peer with it). MISP 2.5.1 silently drops a
    certificate it cannot parse and keeps the server; the module checks C(cert_file) afterwards and
    deletes a link it has just created without its pin, so nothing is left half-applied."
  - Rules follow MISP's syntax (tags and orgs, each with C(OR) and C(NOT) lists); pull rules may add
    restSearch filters in C(url_params). Push rules are given by tag and organisation name and stored
    by their ids on this instance, which is how MISP matches them (a push rule naming a tag never
    blocks anything); a tag the instance does not have yet is created. MISP never pushes events of distribution C(Your organisation
    only) and pushes C(This community only) events only to servers marked O(internal).
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
  url:
    description: Base URL of the remote MISP (the link's identity on this instance).
    type: str
    required: true
  name:
    description: Display name of the link. Defaults to O(url).
    type: str
  remote_org:
    description: The remote instance's host organisation (name, UUID or id on this instance). Required to create.
    type: str
  authkey:
    description: API key of the sync user on the remote MISP (40 letters and digits). Required to create.
    type: str
  update_credentials:
    description: C(on_create) sends O(authkey) only when creating the link; C(always) on every run.
    type: str
    choices: [on_create, always]
    default: on_create
  ca_file:
    description: The peer's CA certificate (PEM) to pin for this link (self-signed or site CA peers).
    type: path
  push:
    description: Push events to the remote.
    type: bool
  pull:
    description: Pull events from the remote.
    type: bool
  push_sightings:
    description: Push sightings (so they travel up to the hub).
    type: bool
  caching_enabled:
    description: Cache the remote's attributes for correlation.
    type: bool
  self_signed:
    description: Accept a self-signed certificate without verification (prefer O(ca_file)).
    type: bool
  internal:
    description: The remote belongs to the same community (needs C(MISP.host_org_id); lets C(This community only) events through).
    type: bool
  unpublish_event:
    description: Pulled events arrive unpublished.
    type: bool
  publish_without_email:
    description: Publish pulled events without e-mail notification.
    type: bool
  remove_missing_tags:
    description: On pull, remove local tags the remote no longer has.
    type: bool
  skip_proxy:
    description: Do not use the configured proxy for this link.
    type: bool
  push_rules:
    description: Push filter rules. Omitted keys are empty lists.
    type: dict
    suboptions:
      tags_or:
        description: Push only events with one of these tags.
        type: list
        elements: str
        default: []
      tags_not:
        description: Never push events with one of these tags (for example C(tlp:red)).
        type: list
        elements: str
        default: []
      orgs_or:
        description: Push only events created by these organisations (names or UUIDs).
        type: list
        elements: str
        default: []
      orgs_not:
        description: Never push events created by these organisations.
        type: list
        elements: str
        default: []
  pull_rules:
    description: Pull filter rules.
    type: dict
    suboptions:
      tags_or:
        description: Pull only events with one of these tags.
        type: list
        elements: str
        default: []
      tags_not:
        description: Do not pull events with one of these tags.
        type: list
        elements: str
        default: []
      orgs_or:
        description: Pull only events created by these organisations.
        type: list
        elements: str
        default: []
      orgs_not:
        description: Do not pull events created by these organisations.
        type: list
        elements: str
        default: []
      url_params:
        description: Extra restSearch filters for pulls, as a JSON object string.
        type: str
        default: ""
  state:
    description: Whether the link should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pymisp
  - cryptography (to check O(ca_file))
"""

EXAMPLES = r"""
- name: Spoke 1 pushes to the hub, never tlp:red, the hub's CA pinned
  socforge.core.misp_server:
    misp_url: https://misp-spoke1.example.org
    misp_key: "{{ vault_misp_spoke1_key }}"
    url: https://misp-hub.example.org
    name: hub
    remote_org: STFC-Hub
    authkey: "{{ vault_hub_sync_key_for_spoke1 }}"
    ca_file: /etc/ssl/certs/site-ca.pem
    push: true
    pull: true
    push_sightings: true
    push_rules:
      tags_not: ["tlp:red"]
"""

RETURN = r"""
server:
  description: The link as MISP stores it (no auth key; null when absent).
  returned: always
  type: dict
  sample: {"id": "1", "name": "hub", "url": "https://misp-hub.example.org", "push": true, "pull": true, "cert_file": "1.pem"}
"""

FIELDS = (
    "name",
    "push",
    "pull",
    "push_sightings",
    "caching_enabled",
    "self_signed",
    "internal",
    "unpublish_event",
    "publish_without_email",
    "remove_missing_tags",
    "skip_proxy",
)
_RULE = {
    "tags_or": {"type": "list", "elements": "str", "default": []},
    "tags_not": {"type": "list", "elements": "str", "default": []},
    "orgs_or": {"type": "list", "elements": "str", "default": []},
    "orgs_not": {"type": "list", "elements": "str", "default": []},
}


def _ensure(p, check_mode):
    admin = misp_admin_from_params(p)
    wanted = {k: p[k] for k in FIELDS}
    wanted.update(url=p["url"], remote_org=p["remote_org"])
    for kind in ("push", "pull"):
        rules = p[f"{kind}_rules"]
        if rules is not None:
            wanted[f"{kind}_rules"] = rules_json(kind, **rules)
    ca_pem = read_ca(p["ca_file"]) if p["ca_file"] and p["state"] == "present" else None
    return ensure_server(
        admin,
        wanted,
        state=p["state"],
        check_mode=check_mode,
        authkey=p["authkey"] or None,
        update_authkey=p["update_credentials"],
        ca_pem=ca_pem,
    )


def main():
    spec = misp_argument_spec()
    spec.update(
        url={"type": "str", "required": True},
        name={"type": "str"},
        remote_org={"type": "str"},
        authkey={"type": "str", "no_log": True},
        update_credentials={"type": "str", "choices": ["on_create", "always"], "default": "on_create"},
        ca_file={"type": "path"},
        push={"type": "bool"},
        pull={"type": "bool"},
        push_sightings={"type": "bool"},
        caching_enabled={"type": "bool"},
        self_signed={"type": "bool"},
        internal={"type": "bool"},
        unpublish_event={"type": "bool"},
        publish_without_email={"type": "bool"},
        remove_missing_tags={"type": "bool"},
        skip_proxy={"type": "bool"},
        push_rules={"type": "dict", "options": dict(_RULE)},
        pull_rules={"type": "dict", "options": dict(_RULE, url_params={"type": "str", "default": ""})},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        result = _ensure(module.params, module.check_mode)
    except MispAdminError as exc:
        module.fail_json(msg=str(exc))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
