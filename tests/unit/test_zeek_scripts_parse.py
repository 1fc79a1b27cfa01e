"""Every .zeek file the project ships parses cleanly with Zeek's own grammar (zeekscript).

Covers every ``*.zeek`` under roles/ and plugins/ (all helpers' scripts), plus the zeek_intel
role's rendered ``config.zeek`` template. zeekscript checks syntax, not semantics (Zeek itself is
not installable here).
"""

import io
from pathlib import Path

import jinja2
import pytest
import yaml
import zeekscript

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for base in ("roles", "plugins") for p in (REPO / base).rglob("*.zeek"))


def parse_errors(text: bytes) -> str | None:
    script = zeekscript.Script(io.BytesIO(text))
    script.parse()  # False when the tree has error nodes; get_error() says where
    if script.has_error():
        _, line, msg = script.get_error()
        return f"line {line}: {msg}"
    return None


def test_there_are_scripts_to_check():
    assert any(p.name == "main.zeek" and "zeek_intel" in str(p) for p in SCRIPTS)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_zeek_script_parses(path):
    error = parse_errors(path.read_bytes())
    assert error is None, f"{path.relative_to(REPO)}: {error}"


def test_checker_catches_a_syntax_error():
    assert parse_errors(b"event zeek_init() { print 1 }\n") is not None  # missing ';'
    assert parse_errors(b"event zeek_init() { print 1; }\n") is None


def _render_intel_config(**overrides):
    role = REPO / "roles" / "zeek_intel"
    variables = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    variables.update(ansible_managed="Managed by SOCForge", **overrides)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "\n".join(f"# {line}" for line in text.splitlines())
    template = role / "templates" / "opt" / "zeek" / "share" / "zeek" / "site" / "socforge-intel" / "config.zeek.j2"
    return env.from_string(template.read_text()).render(**variables)


@pytest.mark.parametrize(
    "overrides",
    [
        {"zeek_intel_sources": [{"name": "misp"}]},
        {"zeek_intel_sources": [{"name": "misp"}, {"name": "infoblox"}], "zeek_intel_item_expiration": "7 day"},
        {"zeek_intel_sources": [], "zeek_intel_log_removals": True},
    ],
)
def test_rendered_intel_config_parses(overrides):
    text = _render_intel_config(**overrides)
    assert parse_errors(text.encode()) is None, text
