"""Every role's interface is declared once and kept in step: defaults/main.yml, meta/argument_specs.yml
and the role README agree (dev-sec / redhat-cop practice: typed, documented, prefixed variables).
"""

import importlib.util
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
_SPEC = importlib.util.spec_from_file_location("role_docs", ROLES.parent / "scripts" / "role_docs.py")
role_docs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(role_docs)
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "tasks" / "main.yml").is_file())


def _load(path):
    return yaml.safe_load(path.read_text()) or {}


def _spec_options(role):
    spec = _load(ROLES / role / "meta" / "argument_specs.yml")
    return spec["argument_specs"]["main"].get("options") or {}


def _defaults(role):
    path = ROLES / role / "defaults" / "main.yml"
    return _load(path) if path.is_file() else {}


def test_roles_found():
    assert len(ROLE_NAMES) >= 10, ROLE_NAMES


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_argument_specs_declare_exactly_the_defaults(role):
    options = _spec_options(role)
    defaults = _defaults(role)
    undeclared = sorted(set(defaults) - set(options))
    assert not undeclared, f"roles/{role}: defaults not in meta/argument_specs.yml: {undeclared}"
    # an option without a default must be required (or documented as optional with no default)
    missing = sorted(k for k, o in options.items() if k not in defaults and not o.get("required") and "default" in o)
    assert not missing, f"roles/{role}: argument_specs give a default that defaults/main.yml lacks: {missing}"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_declared_defaults_match(role):
    """A literal default (no Jinja) is the same value in both files."""
    options = _spec_options(role)
    wrong = []
    for name, value in _defaults(role).items():
        if name not in options or "default" not in options[name]:
            continue
        if isinstance(value, str) and "{{" in value:
            continue  # a templated default: the spec documents it as text
        declared = options[name]["default"]
        if isinstance(declared, str) and "{{" in declared:
            continue
        if declared != value:
            wrong.append(f"{name}: defaults/main.yml {value!r} != argument_specs {declared!r}")
    assert not wrong, f"roles/{role}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_options_are_prefixed_typed_and_documented(role):
    bad = []
    for name, option in _spec_options(role).items():
        if not name.startswith(f"{role}_"):
            bad.append(f"{name}: not prefixed {role}_")
        if "type" not in option:
            bad.append(f"{name}: no type")
        if not option.get("description"):
            bad.append(f"{name}: no description")
    assert not bad, f"roles/{role}: " + "; ".join(bad)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_readme_reference_in_step_with_specs(role):
    """The README's generated variable table is what scripts/role_docs.py renders from the specs now."""
    readme = (ROLES / role / "README.md").read_text()
    assert role_docs.render(readme, role_docs.section(ROLES / role)) == readme, (
        f"roles/{role}/README.md: variable reference missing or stale - run scripts/role_docs.py"
    )
    missing = sorted(name for name in _spec_options(role) if f"`{name}`" not in readme)
    assert not missing, f"roles/{role}/README.md does not name: {missing}"


def test_stale_reference_is_detected(tmp_path):
    """The check fails once a spec changes and the README is not regenerated."""
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    spec = {
        "argument_specs": {
            "main": {
                "short_description": "Demo",
                "options": {"demo_port": {"type": "int", "default": 1, "description": "The port."}},
            }
        }
    }
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    readme = role_docs.render("# demo\n\nProse.\n", role_docs.section(role))
    assert "| `demo_port` | int | `1` | The port. |" in readme and readme.startswith("# demo\n\nProse.\n")
    assert role_docs.render(readme, role_docs.section(role)) == readme
    spec["argument_specs"]["main"]["options"]["demo_port"]["default"] = 2
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    assert role_docs.render(readme, role_docs.section(role)) != readme
