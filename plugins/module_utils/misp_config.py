"""MISP's own settings (app/Config/config.php) compared with the wanted ones, for roles/misp.

The role reads config.php as JSON (php -r) and changes only the settings that differ, one
`cake Admin setSetting NAME VALUE` each, so MISP validates every value and a re-run changes nothing.
Setting names are MISP's dotted names (``MISP.baseurl``, ``Plugin.ZeroMQ_enable``); values are
compared as the strings `setSetting` would be given (booleans ``true``/``false``, numbers in decimal).
"""

from __future__ import annotations

import json
import re

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$|^debug$")
# Settings whose value must never be printed (passwords, keys, the salt).
_SECRET = re.compile(r"(password|salt|secret|encryption_key|authkey|api_key)$", re.IGNORECASE)


class MispConfigError(ValueError):
    """A wanted setting that cannot be applied (bad name or value type)."""


def setting_value(value, name: str = "value") -> str | None:
    """The command-line form of a setting value: bool -> true/false, numbers -> decimal, None -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        # a boolean that went through a template as text
        return value.lower() if value in ("True", "False") else value
    raise MispConfigError(f"{name}: {type(value).__name__} values cannot be set (use a string, number or boolean)")


def lookup(config: dict, name: str):
    """The value of a dotted setting in config.php's $config, or None when it is not there."""
    node = config
    for part in name.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def is_secret(name: str) -> bool:
    return bool(_SECRET.search(name.rsplit(".", 1)[-1]))


def changes(current: dict | None, wanted: dict, force=()) -> list[dict]:
    """Settings of `wanted` whose value differs from config.php, in the order given.

    Each change: {name, value (str, or None for a null), json (the value as JSON, booleans as
    booleans), before (str or None), secret (bool), show ("name: before -> value", secrets as
    "(secret)")}. A secret's value stays in `value`/`json` (the role applies it under no_log) but
    its `before` is "(set)" / None and `show` hides both, so a listing never shows a secret.
    `request` is what the role's SocforgeSettings shell takes: {name, value, force}; `force` lists
    the settings MISP's own check would refuse although they are wanted (MISP.disable_emailing:
    its check only warns that e-mail is off).
    """
    if not isinstance(wanted, dict):
        raise MispConfigError("settings must be a mapping of MISP setting name to value")
    current = current if isinstance(current, dict) else {}
    out = []
    for name, value in wanted.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise MispConfigError(f"'{name}' is not a MISP setting name (Section.setting, e.g. MISP.baseurl)")
        want = setting_value(value, name)
        have_raw = lookup(current, name)
        if isinstance(have_raw, (dict, list)):
            raise MispConfigError(f"{name}: is a group of settings in config.php, not one setting")
        have = setting_value(have_raw, name) if have_raw is not None else None
        if want == have:
            continue
        secret = is_secret(name)
        before = ("(set)" if have else have) if secret else have
        out.append(
            {
                "name": name,
                "value": want,
                "json": json.dumps(want == "true" if want in ("true", "false") else _typed(value)),
                "before": before,
                "secret": secret,
                "show": f"{name}: {before} -> {'(secret)' if secret else want}",
                "request": {"name": name, "value": want, "force": name in force},
            }
        )
    return out


def _typed(value):
    return value if isinstance(value, (bool, int, float)) or value is None else str(value)
