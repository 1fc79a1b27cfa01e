"""Filters quoting secrets for the files roles write them into (plugins/module_utils/quoting.py).

Each filter is documented in plugins/filter/<filter name>.yml (ansible-doc -t filter socforge.core.<name>).
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import quoting


def _wrap(func):
    @functools.wraps(func)
    def inner(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except quoting.QuotingError as exc:
            raise AnsibleFilterError(f"{func.__name__}: {exc}") from exc

    return inner


class FilterModule:
    def filters(self):
        return {
            name: _wrap(getattr(quoting, name))
            for name in (
                "systemd_env_quote",
                "jaas_quote",
                "java_properties_escape",
                "curl_config_quote",
                "zeek_string_quote",
            )
        }
