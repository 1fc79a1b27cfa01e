#!/usr/bin/python
# Copyright: SOCForge team
# Apache License 2.0 (see galaxy.yml)
"""Manage a MISP user and its API key on pymisp; check mode and diff."""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.misp import misp_admin_from_params, misp_argument_spec
from ansible_collections.socforge.core.plugins.module_utils.misp_admin import MispAdminError, ensure_user

DOCUMENTATION = r"""
module: misp_user
short_description: Create, update or delete a MISP user; keep its API key in a root-only file
version_added: "0.1.0"
description:
  - Manages one user by e-mail (C(admin/users/add|edit|delete)): organisation, role, flags.
  - "API key handling: MISP shows a key only once (advanced authkeys store it hashed). When the user is
    created, the key MISP returns is written to O(api_key_file) (mode 0600, written atomically on the
    managed host running the module). On later runs the key in that file is tried against MISP
    (C(users/view/me)); if the file is missing, the key no longer works, or O(rotate_credentials) is set,
    a new key is made (C(auth_keys/add)) and written. The key is never returned or logged."
  - Sync users (role C(Sync user)) are what a peer's O(socforge.core.misp_server#module:authkey) logs in as.
  - The directory of O(api_key_file) is checked before MISP is touched, so a run cannot create a user
    whose key it cannot keep.
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
  email:
    description: The user's e-mail address (the login; matched case-insensitively).
    type: str
    required: true
  organisation:
    description: Organisation name, UUID or id. MISP defaults to the admin's organisation on creation.
    type: str
  role:
    description: Role name (C(admin), C(Org Admin), C(User), C(Publisher), C(Sync user), C(Read Only)) or id.
    type: str
  disabled:
    description: Whether the account is disabled.
    type: bool
  change_pw:
    description: Force a password change at the next web login.
    type: bool
  termsaccepted:
    description: Terms accepted (set for API-only and sync users).
    type: bool
  autoalert:
    description: E-mail alerts on published events.
    type: bool
  contactalert:
    description: E-mail on contact requests.
    type: bool
  api_key_file:
    description:
      - File holding the user's API key (created 0600). Without it, no key is kept or checked.
    type: path
  rotate_credentials:
    description: Make a new API key now (and write it to O(api_key_file)).
    type: bool
    default: false
  state:
    description: Whether the user should exist.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - pymisp
"""

EXAMPLES = r"""
- name: Sync user on the hub for spoke 1 (the spoke's misp_server logs in with this key)
  socforge.core.misp_user:
    misp_url: https://misp-hub.example.org
    misp_key: "{{ vault_misp_hub_key }}"
    email: sync-spoke1@hub.example.org
    organisation: STFC-Spoke-1
    role: Sync user
    change_pw: false
    termsaccepted: true
    api_key_file: /root/.socforge/misp-hub-sync-spoke1.key
"""

RETURN = r"""
user:
  description: The user as MISP stores it (no password, no key; null when absent).
  returned: always
  type: dict
  sample: {"id": "5", "email": "sync-spoke1@hub.example.org", "org_id": "3", "role_id": "5", "disabled": false}
api_key_changed:
  description: Whether a new API key was made (and written to O(api_key_file)).
  returned: always
  type: bool
"""

FIELDS = ("email", "organisation", "role", "disabled", "change_pw", "termsaccepted", "autoalert", "contactalert")


def _read_key(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip() or None


def _write_key(path, key):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".misp-key.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    spec = misp_argument_spec()
    spec.update(
        email={"type": "str", "required": True},
        organisation={"type": "str"},
        role={"type": "str"},
        disabled={"type": "bool"},
        change_pw={"type": "bool"},
        termsaccepted={"type": "bool"},
        autoalert={"type": "bool"},
        contactalert={"type": "bool"},
        api_key_file={"type": "path"},
        rotate_credentials={"type": "bool", "default": False},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    key_file = p["api_key_file"]
    if key_file and p["state"] == "present" and not module.check_mode:
        directory = os.path.dirname(os.path.abspath(key_file))
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            module.fail_json(msg=f"api_key_file {key_file}: directory {directory} does not exist or is not writable")
    try:
        result = ensure_user(
            misp_admin_from_params(p),
            {k: p[k] for k in FIELDS},
            state=p["state"],
            check_mode=module.check_mode,
            api_key=_read_key(key_file) if key_file else None,
            rotate_api_key=p["rotate_credentials"],
            check_key=bool(key_file),
        )
    except MispAdminError as exc:
        module.fail_json(msg=str(exc))
    key = result.pop("api_key", None)
    if key and key_file:
        try:
            _write_key(key_file, key)
        except OSError as exc:
            module.fail_json(msg=f"MISP made a new API key for {p['email']} but writing {key_file} failed: {exc}")
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
