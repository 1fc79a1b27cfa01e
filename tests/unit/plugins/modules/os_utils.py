"""Helpers to drive an opensearch_* module's main() and capture its exit/fail JSON."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(SystemExit):  # noqa: N818 -- exit_json really raises SystemExit
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleFail(SystemExit):  # noqa: N818 -- fail_json really raises SystemExit
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def run_module(monkeypatch, module, args: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """Run ``module.main()`` with ``args``; return the exit JSON, or raise ModuleFail with the fail JSON."""

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise ModuleExit(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["failed"] = True
        kwargs["msg"] = msg
        raise ModuleFail(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    full = dict(args)
    if check_mode:
        full["_ansible_check_mode"] = True
    if diff:
        full["_ansible_diff"] = True
    with patch_module_args(full):
        try:
            module.main()
        except ModuleExit as done:
            return done.result
    pytest.fail("module returned without exit_json/fail_json")


def run_module_fail(monkeypatch, module, args: dict, **kwargs) -> dict:
    with pytest.raises(ModuleFail) as failed:
        run_module(monkeypatch, module, args, **kwargs)
    return failed.value.result
