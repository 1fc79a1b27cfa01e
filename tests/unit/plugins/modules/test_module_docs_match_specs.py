"""Every module's documented options (doc fragments resolved by ansible-doc) are exactly its argument
spec: same names, types, defaults, choices, required flags and list element types. Keeps DOCUMENTATION
and code from drifting apart, as ansible-test's validate-modules would.

RETURN too: the keys a module's source passes to exit_json are documented (read from the code), and
every module is driven by a test through ``utils.run_module``, which checks each real result against
RETURN (no undocumented key, every ``always``/``success`` key present)."""

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils import basic

from tests.unit.plugins.modules.utils import COMMON_RETURN_KEYS

REPO = Path(__file__).resolve().parents[4]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


class _Captured(Exception):
    def __init__(self, spec):
        super().__init__("argument spec captured")
        self.spec = spec


def argument_spec(monkeypatch, name):
    module = importlib.import_module(f"ansible_collections.socforge.core.plugins.modules.{name}")

    def capture(self, argument_spec, **_kwargs):
        raise _Captured(argument_spec)

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    with pytest.raises(_Captured) as caught:
        module.main()
    return caught.value.spec


@pytest.fixture(scope="module")
def documented():
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-j", *(f"socforge.core.{m}" for m in MODULES)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {fqcn.rsplit(".", 1)[1]: entry for fqcn, entry in json.loads(out).items()}


def _view(option):
    """What must agree between a documented option and its argument-spec entry."""
    return {
        "type": option.get("type", "str"),
        "default": option.get("default"),
        "required": bool(option.get("required", False)),
        "choices": option.get("choices"),
        "elements": option.get("elements"),
    }


def test_every_module_is_documented(documented):
    assert sorted(documented) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(monkeypatch, documented, name):
    spec = argument_spec(monkeypatch, name)
    docs = documented[name]["doc"]["options"]
    assert sorted(docs) == sorted(spec), f"{name}: documented vs accepted options differ"
    for option, entry in spec.items():
        assert _view(docs[option]) == _view(entry), f"{name}: option {option!r} differs"


@pytest.mark.parametrize("name", MODULES)
def test_secret_looking_options_are_no_log(monkeypatch, name):
    spec = argument_spec(monkeypatch, name)
    for option, entry in spec.items():
        if any(word in option for word in ("password", "key", "secret", "token")) and entry.get("type") != "path":
            assert entry.get("no_log") is True, f"{name}: {option} must be no_log"


# module_utils helpers that call exit_json for a module with ``changed``, ``diff`` and ``result_key``
RESULT_KEY_HELPERS = ("ensure_named_object", "run_ensure")


def _exit_json_keys(source):
    """Result keys visible in the source: exit_json keywords, keys of a ``**{...}`` literal, and of a
    ``**name`` whose dict is built in the module (``name = {...}``, ``name["key"] = ...``); for the
    modules that exit through a shared helper (opensearch_* named objects: ``ensure_named_object``;
    misp_*: ``run_ensure``), the ``result_key`` they hand to it - the helper exits with that key."""
    tree = ast.parse(source)
    built = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                keys = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
                built.setdefault(target.id, set()).update(keys)
            elif (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and isinstance(target.slice, ast.Constant)
            ):
                built.setdefault(target.value.id, set()).add(target.slice.value)
    keys = set()
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if isinstance(node, ast.Call) and getattr(func, "id", getattr(func, "attr", None)) in RESULT_KEY_HELPERS:
            keys.update(kw.value.value for kw in node.keywords if kw.arg == "result_key")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "exit_json":
            for kw in node.keywords:
                if kw.arg:
                    keys.add(kw.arg)
                elif isinstance(kw.value, ast.Dict):
                    keys.update(k.value for k in kw.value.keys if isinstance(k, ast.Constant))
                elif isinstance(kw.value, ast.Name):
                    keys.update(built.get(kw.value.id, ()))
    return keys


@pytest.mark.parametrize("name", MODULES)
def test_returned_keys_in_the_source_are_documented(documented, name):
    returns = documented[name]["return"] or {}
    for key, entry in returns.items():
        assert entry.get("description") and entry.get("returned") and entry.get("type"), f"{name}: RETURN {key}"
    keys = _exit_json_keys((REPO / "plugins" / "modules" / f"{name}.py").read_text())
    assert keys, f"{name}: no exit_json call found"
    undocumented = sorted(keys - COMMON_RETURN_KEYS - set(returns))
    assert not undocumented, f"{name} returns {undocumented}, undocumented in RETURN"


@pytest.mark.parametrize("name", MODULES)
def test_every_module_result_is_checked_against_return(name):
    """Some test drives the module through run_module, so its real results meet RETURN."""
    drivers = [
        path
        for path in (REPO / "tests").rglob("test_*.py")
        if re.search(rf"plugins\.modules import {name}\b", text := path.read_text()) and "run_module(" in text
    ]
    assert drivers, f"no test runs {name} through run_module"


def test_the_scanner_follows_the_shared_exit_helpers():
    """A module exiting through run_ensure / ensure_named_object has no exit_json of its own: the
    result_key it hands over is what it returns, and must be found (else RETURN goes unchecked)."""
    assert _exit_json_keys('run_ensure(module, lambda: f(), result_key="feed")') == {"feed"}
    assert _exit_json_keys('ensure_named_object(m, label="x", result_key="policy", desired={})') == {"policy"}
    assert _exit_json_keys("helper(module)") == set()
