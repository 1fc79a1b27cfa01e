#!/usr/bin/env python3
"""Keep each role README's variable reference in step with its meta/argument_specs.yml.

  scripts/role_docs.py          rewrite the generated section of every roles/*/README.md
  scripts/role_docs.py --check  exit 1 naming the READMEs whose section is missing or stale

The section sits between two markers (appended at the end when missing); the prose around it is
the role author's. tests/unit/roles/test_role_argument_specs.py runs the check.
"""

import argparse
import json
import sys
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[1] / "roles"
BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml by scripts/role_docs.py: do not edit -->"
END = "<!-- END generated from meta/argument_specs.yml -->"


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(option):
    if "default" not in option:
        return "**required**" if option.get("required") else "(none)"
    value = option["default"]
    shown = value if isinstance(value, str) else json.dumps(value)
    shown = _cell(shown)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"`{shown}`" if shown else '`""`'


def section(role_dir):
    spec = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())
    main = spec["argument_specs"]["main"]
    rows = [
        BEGIN,
        "## Variables",
        "",
        _cell(main.get("short_description", "")),
        "",
        "| Variable | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    for name, option in sorted((main.get("options") or {}).items()):
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        kind = option.get("type", "")
        if kind == "list" and option.get("elements"):
            kind = f"list of {option['elements']}"
        rows.append(f"| `{name}` | {kind} | {_default(option)} | {_cell(description)} |")
    rows.append(END)
    return "\n".join(rows) + "\n"


def render(readme_text, generated):
    if BEGIN in readme_text and END in readme_text:
        head = readme_text.split(BEGIN, 1)[0]
        tail = readme_text.split(END, 1)[1].lstrip("\n")
        return head + generated + (("\n" + tail) if tail else "")
    return readme_text.rstrip("\n") + "\n\n" + generated


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale READMEs, change nothing")
    args = parser.parse_args()
    stale = []
    for role_dir in sorted(p for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").is_file()):
        readme = role_dir / "README.md"
        text = readme.read_text() if readme.is_file() else f"# {role_dir.name}\n"
        wanted = render(text, section(role_dir))
        if wanted != text:
            stale.append(str(readme.relative_to(ROLES.parent)))
            if not args.check:
                readme.write_text(wanted)
    if args.check and stale:
        print("stale variable reference (run scripts/role_docs.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(f"rewrote {len(stale)} README(s)" + (": " + ", ".join(stale) if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
