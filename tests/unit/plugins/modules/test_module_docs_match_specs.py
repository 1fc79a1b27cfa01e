"""Every module's documented options (doc fragments resolved by ansible-doc) are exactly its argument
spec: same names, types, defaults, choices, required flags and list element types. Keeps DOCUMENTATION
and code from drifting apart, as ansible-test's validate-modules would."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils import basic

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
    return {fqcn.rsplit(".", 1)[1]: entry["doc"]["options"] for fqcn, entry in json.loads(out).items()}


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
    docs = documented[name]
    assert sorted(docs) == sorted(spec), f"{name}: documented vs accepted options differ"
    for option, entry in spec.items():
        assert _view(docs[option]) == _view(entry), f"{name}: option {option!r} differs"


@pytest.mark.parametrize("name", MODULES)
def test_secret_looking_options_are_no_log(monkeypatch, name):
    spec = argument_spec(monkeypatch, name)
    for option, entry in spec.items():
        if any(word in option for word in ("password", "key", "secret", "token")) and entry.get("type") != "path":
            assert entry.get("no_log") is True, f"{name}: {option} must be no_log"
