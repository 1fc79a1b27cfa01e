"""Shared MISP connection options (argument spec matching ``socforge.core.misp`` doc fragment).

Plain data, no Ansible imports, so the CLI and daemons can reuse the same option names/defaults.
"""

from ansible_collections.socforge.core.plugins.module_utils.intel.sources import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
)


def misp_argument_spec():
    """Options every module that talks to MISP accepts."""
    return {
        "misp_url": {"type": "str"},
        "misp_key": {"type": "str", "no_log": True},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        "retries": {"type": "int", "default": DEFAULT_RETRIES},
        "retry_backoff": {"type": "float", "default": DEFAULT_BACKOFF},
    }


def misp_admin_from_params(params):
    """A connected :class:`misp_admin.MispAdmin` from the shared options (raises ``MispAdminError``)."""
    from ansible_collections.socforge.core.plugins.module_utils.misp_admin import MispAdmin, MispAdminError

    if not params.get("misp_url") or not params.get("misp_key"):
        raise MispAdminError("misp_url and misp_key are required")
    for name in ("timeout", "retries"):
        if params[name] is not None and params[name] < (1 if name == "timeout" else 0):
            raise MispAdminError(f"{name} must be positive, got {params[name]}")
    return MispAdmin(
        params["misp_url"],
        params["misp_key"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        timeout=params["timeout"],
        retries=params["retries"],
        backoff=params["retry_backoff"],
    )


def run_ensure(module, func, result_key):
    """Run one ``misp_admin.ensure_*`` call for a module and exit with its result: ``changed``,
    ``result_key`` (the object the module documents in RETURN) and, with --diff, ``diff``. A
    ``MispAdminError`` fails the module with its message. ``result_key`` is passed as a keyword so the
    module-docs test finds what each module returns (tests/unit/plugins/modules)."""
    from ansible_collections.socforge.core.plugins.module_utils.misp_admin import MispAdminError

    try:
        result = func()
    except MispAdminError as exc:
        module.fail_json(msg=str(exc))
        return
    out = {"changed": result["changed"], result_key: result[result_key]}
    if module._diff:
        out["diff"] = result["diff"]
    module.exit_json(**out)
