"""community.general-style helpers to drive a module's ``main()`` and capture its exit/fail JSON."""

from __future__ import annotations

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class AnsibleExitJson(SystemExit):  # noqa: N818 -- community.general's name; exit_json raises SystemExit
    def __init__(self, result):
        super().__init__(0)
        self.result = result


class AnsibleFailJson(SystemExit):  # noqa: N818 -- community.general's name; fail_json raises SystemExit
    def __init__(self, result):
        super().__init__(1)
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs.update(failed=True, msg=msg)
    raise AnsibleFailJson(kwargs)


# Keys Ansible itself defines for every module result: not listed in a module's RETURN.
COMMON_RETURN_KEYS = frozenset({"changed", "diff", "msg", "warnings", "deprecations", "invocation"})


def check_documented_returns(module, result):
    """A successful result holds exactly what the module's RETURN documents: no undocumented key, and
    every key documented as returned ``always`` or on ``success`` present."""
    documented = yaml.safe_load(module.RETURN) or {}
    name = module.__name__.rsplit(".", 1)[-1]
    undocumented = sorted(set(result) - COMMON_RETURN_KEYS - set(documented))
    assert not undocumented, f"{name} returns {undocumented}, which its RETURN does not document"
    promised = {key for key, entry in documented.items() if entry.get("returned") in ("always", "success")}
    missing = sorted(promised - set(result))
    assert not missing, f"{name}'s RETURN promises {missing} on success, the result lacks them"


def run_module(monkeypatch, module, args, check_mode=False, diff=False):
    """Run ``module.main()``; return the exit JSON (checked against the module's RETURN, see
    :func:`check_documented_returns`). A fail_json raises :class:`AnsibleFailJson`."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    full = dict(args)
    if check_mode:
        full["_ansible_check_mode"] = True
    if diff:
        full["_ansible_diff"] = True
    with patch_module_args(full):
        try:
            module.main()
        except AnsibleExitJson as done:
            check_documented_returns(module, done.result)
            return done.result
    pytest.fail("module returned without calling exit_json or fail_json")


def fail_module(monkeypatch, module, args, **kwargs):
    """Run ``module.main()`` expecting fail_json; return the fail JSON."""
    with pytest.raises(AnsibleFailJson) as failed:
        run_module(monkeypatch, module, args, **kwargs)
    return failed.value.result
