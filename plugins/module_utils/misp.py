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
