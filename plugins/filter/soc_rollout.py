"""Filters exposing the staged-rollout model (plugins/module_utils/soc_rollout.py): which hosts and
links a rollout stage (``-e soc_stage=N``) touches, and the data-protection policy in force at it.

Each filter is documented in plugins/filter/<filter name>.yml (ansible-doc -t filter socforge.core.<name>).
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.module_utils import soc_rollout


def _plain(value):
    """Lazy Ansible containers -> plain Python."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _wrap(func):
    @functools.wraps(func)
    def inner(*args, **kwargs):
        try:
            return func(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        except soc_rollout.RolloutError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return inner


def soc_host_in_stage(hardware, links, stage, declared=None, host="host"):
    return soc_rollout.host_in_stage(hardware, links, stage, declared, host)


def soc_links_in_stage(links, stage):
    return soc_rollout.links_in_stage(links, stage)


def soc_stage_policy(policies, stage):
    return soc_rollout.stage_policy(policies, stage)


class FilterModule:
    def filters(self):
        return {
            "soc_host_in_stage": _wrap(soc_host_in_stage),
            "soc_links_in_stage": _wrap(soc_links_in_stage),
            "soc_stage_policy": _wrap(soc_stage_policy),
        }
