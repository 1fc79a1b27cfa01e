"""The flow every socforge.core opensearch_* module shares: one named object (template, policy,
pipeline) made present or absent, read first and written only when it differs.

Ansible glue on top of ``opensearch_client`` (which stays plain Python): the argument spec and module
set-up (``connection_module`` for every opensearch_* module), and ``ensure_named_object``, which each
named-object module calls with its own get/put/delete.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.socforge.core.plugins.module_utils.opensearch_client import (
    HAS_OPENSEARCHPY,
    OPENSEARCHPY_IMPORT_ERROR,
    OpenSearchConfigError,
    build_client,
    connection_argument_spec,
    error_message,
)


def connection_module(options: dict, **kwargs) -> AnsibleModule:
    """An AnsibleModule (check mode supported) with the connection options plus ``options``;
    fails at once when opensearch-py is missing."""
    argument_spec = connection_argument_spec()
    argument_spec.update(options)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    if not HAS_OPENSEARCHPY:
        module.fail_json(msg=missing_required_lib("opensearch-py"), exception=str(OPENSEARCHPY_IMPORT_ERROR))
    return module


def named_object_module(body_option: str) -> AnsibleModule:
    """An AnsibleModule with the connection options plus ``name``, ``state`` and ``body_option``."""
    return connection_module(
        {
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            body_option: {"type": "dict"},
        },
        required_if=[("state", "present", [body_option])],
    )


def ensure_named_object(module, *, label, result_key, desired, differs, get, put, delete):
    """Make the object present (``desired``) or absent, and exit.

    ``get(client) -> (current, token)`` returns the stored object in comparable form (None when
    missing) and whatever ``put(client, token)`` needs for a safe update; ``delete(client)`` removes
    it; ``differs(current, desired)`` decides whether a write is needed. Any client or server error
    fails the module naming ``label`` and the object.
    """
    name = module.params["name"]
    try:
        client = build_client(module.params)
        current, token = get(client)
        if module.params["state"] == "absent":
            changed = current is not None
            if changed and not module.check_mode:
                delete(client)
            module.exit_json(changed=changed, diff={"before": current or {}, "after": {}})

        changed = differs(current, desired)
        after = desired
        if changed and not module.check_mode:
            put(client, token)
            after, _ = get(client)
        module.exit_json(changed=changed, diff={"before": current or {}, "after": desired}, **{result_key: after})
    except OpenSearchConfigError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 -- any client/server error becomes a named module failure
        module.fail_json(msg=f"{label} {name!r}: {error_message(exc)}")
