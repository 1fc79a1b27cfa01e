"""The Zeek field table of the opensearch role (``roles/opensearch/vars/zeek_fields.yml``), derived
from a real Zeek instead of copied from old logs.

Plain Python (no Ansible imports), used by ``scripts/zeek-fields`` (writes or checks the table) and the
tests. ``zeek_fields.zeek`` (beside this file) runs inside Zeek after ``zeek_init`` has created every
log stream, walks ``Log::active_streams`` and prints each stream's logged columns, nested records
flattened with dots as the ASCII and JSON writers name them, with Zeek's type spelling (``enum``,
``set[string]``, ``vector[addr]``); :func:`walk_zeek` runs it and parses the output.

Several Zeek versions are merged by :func:`merge_tables`: the first one is the source of truth (its
logs, fields, order and types); fields and logs only another version writes are added after their
predecessor in that version, and the rendered table marks them (``# 7.2 only``), as it marks fields
the truth writes and another version does not, and any type on which they disagree.

:func:`record_problems` checks one record of Zeek's JSON writer against a log's table: every key is a
field of the table and its value fits the field's Zeek type.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from ansible_collections.socforge.core.plugins.module_utils.zeek_index import ZeekMappingError, field_mapping

WALKER = Path(__file__).with_name("zeek_fields.zeek")
TABLE_VAR = "__opensearch_zeek_fields"

_LOG_NAME = re.compile(r"^[a-z0-9_]+$")
_CONTAINER = re.compile(r"^(set|vector)\[(\w+)\]$")

Table = dict[str, dict[str, str]]  # log path -> {field name: Zeek type}, in Zeek's column order


class ZeekFieldsError(RuntimeError):
    """Zeek could not be walked, or its output, a table or a record is not what it must be."""


# --- reading the walker's output -------------------------------------------------------------------


def parse_walk(text: str, source: str = "zeek") -> Table:
    """The table printed by ``zeek_fields.zeek``: lines ``field <path> <stream> <name> <type>``,
    closed by ``end <count>``. Fails naming the line on anything else (an ``error`` line of the
    walker, a truncated run, a field twice, a type OpenSearch cannot map)."""
    table: Table = {}
    count = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(" ", 4)
        where = f"{source}, line {number}"
        if parts[0] == "end" and len(parts) == 2 and parts[1].isdigit():
            count = int(parts[1])
            continue
        if count is not None:
            raise ZeekFieldsError(f"{where}: output after the end line: {line!r}")
        if parts[0] != "field" or len(parts) != 5:
            raise ZeekFieldsError(f"{where}: {line!r}")
        _, path, stream, name, zeek_type = parts
        if not _LOG_NAME.match(path):
            raise ZeekFieldsError(f"{where}: log path {path!r} of {stream} is not a plain log name")
        fields = table.setdefault(path, {})
        if name in fields:
            raise ZeekFieldsError(f"{where}: {path}.{name} is listed twice (two streams write {path!r}?)")
        try:
            field_mapping(zeek_type, f"{path}.{name}")
        except ZeekMappingError as exc:
            raise ZeekFieldsError(f"{where}: {exc}") from None
        fields[name] = zeek_type
    if count is None:
        raise ZeekFieldsError(f"{source}: no end line - the walker did not finish")
    found = sum(len(fields) for fields in table.values())
    if found != count:
        raise ZeekFieldsError(f"{source}: the walker printed {count} fields, {found} were read")
    if not table:
        raise ZeekFieldsError(f"{source}: no log stream at all")
    return table


def load_lines(local_zeek: str, skip: Iterable[str] = ()) -> list[str]:
    """The scripts a rendered ``local.zeek`` loads (its ``@load`` lines, in order), less ``skip``."""
    skipped = set(skip)
    loads = []
    for line in local_zeek.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] == "@load" and words[1] not in skipped:
            loads.append(words[1])
    return loads


def walk_zeek(zeek: str | Path, loads: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | Path | None = None, timeout: int = 120) -> Table:  # fmt: skip
    """Run ``zeek`` (default scripts, no ``-b``) with ``loads`` and the walker; return its table.

    Zeek must start cleanly: a missing script, an error or any warning on stderr fails, naming it,
    as the site's own Zeek would then not run what the table claims.
    """
    cmd = [str(zeek), *loads, str(WALKER)]
    try:
        res = subprocess.run(  # noqa: S603 -- the caller's Zeek binary and Zeek script names, no shell
            cmd, env=dict(env) if env else None, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ZeekFieldsError(f"{zeek}: could not run: {exc}") from exc
    if res.returncode != 0 or res.stderr.strip():
        raise ZeekFieldsError(
            f"{zeek} with {' '.join(loads)}: exit {res.returncode}, stderr: {res.stderr.strip() or '(empty)'}"
        )
    return parse_walk(res.stdout, str(zeek))


# --- several versions into one table ---------------------------------------------------------------


def merge_tables(tables: Sequence[tuple[str, Table]]) -> tuple[Table, dict[tuple[str, str], str]]:
    """Merge ``[(version, table), ...]``; the first version is the source of truth.

    Returns the merged table and the notes per ``(log, field)`` (``(log, "")`` for a whole log):
    ``"7.2 only"``, ``"not in 7.2"`` or ``"7.2: <type>"`` when a version types the field differently
    (the truth's type is kept). A field only another version writes is placed after the field that
    precedes it there, so related fields stay together.
    """
    if not tables:
        raise ZeekFieldsError("no Zeek table to merge")
    truth = tables[0][1]
    merged: Table = {log: dict(fields) for log, fields in truth.items()}
    notes: dict[tuple[str, str], str] = {}
    for version, table in tables[1:]:
        for log in sorted(set(merged) - set(table)):
            notes.setdefault((log, ""), f"not in {version}")
        for log, fields in table.items():
            if log not in merged:
                merged[log] = dict(fields)
                notes[(log, "")] = f"{version} only"
                continue
            for name in merged[log]:
                if name not in fields and (log, name) not in notes and (log, "") not in notes:
                    notes[(log, name)] = f"not in {version}"
            order = list(merged[log].items())
            previous = None
            for name, zeek_type in fields.items():
                if name in merged[log]:
                    if merged[log][name] != zeek_type:
                        notes[(log, name)] = f"{version}: {zeek_type}"
                else:
                    at = 0 if previous is None else [n for n, _ in order].index(previous) + 1
                    order.insert(at, (name, zeek_type))
                    merged[log] = dict(order)
                    notes[(log, name)] = f"{version} only"
                previous = name
    return {log: merged[log] for log in sorted(merged)}, notes


def render_table(table: Table, notes: Mapping[tuple[str, str], str], header: str) -> str:
    """The vars file: ``header`` (comment lines), then ``__opensearch_zeek_fields`` with the notes
    as end-of-line comments. Deterministic, so a re-run compares equal."""
    lines = [*(f"# {line}".rstrip() for line in header.splitlines()), "---", f"{TABLE_VAR}:"]
    for log, fields in table.items():
        note = notes.get((log, ""))
        lines.append(f"  {log}:" + (f"  # {note}" if note else ""))
        for name, zeek_type in fields.items():
            note = notes.get((log, name))
            lines.append(f"    {name}: {zeek_type}" + (f"  # {note}" if note else ""))
    return "\n".join(lines) + "\n"


def table_body(text: str) -> str:
    """A rendered table without its header comments: from the ``---`` line on (fields and notes)."""
    lines = text.splitlines(keepends=True)
    return "".join(lines[lines.index("---\n") :]) if "---\n" in lines else text


def table_diff(wanted: Table, committed: Table) -> list[str]:
    """What differs between two tables, one line per log or field, empty when they are equal."""
    out = []
    for log in sorted(set(wanted) | set(committed)):
        if log not in committed:
            out.append(f"{log}: missing from the committed table")
        elif log not in wanted:
            out.append(f"{log}: in the committed table, not written by Zeek")
        else:
            a, b = wanted[log], committed[log]
            here = [f"{log}.{name}: missing ({a[name]})" for name in a if name not in b]
            here += [
                f"{log}.{name}: committed {b[name]}, Zeek writes {a[name]}"
                for name in a
                if b.get(name, a[name]) != a[name]
            ]
            here += [f"{log}.{name}: not written by Zeek" for name in b if name not in a]
            if not here and list(a) != list(b):
                here.append(f"{log}: the same fields in another order")
            out.extend(here)
    return out


# --- records against the table ---------------------------------------------------------------------


def _scalar_problem(base: str, value: object) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    integer = isinstance(value, int) and not isinstance(value, bool)
    if base in ("string", "enum", "pattern"):
        return None if isinstance(value, str) else "not a string"
    if base == "bool":
        return None if isinstance(value, bool) else "not true/false"
    if base in ("count", "int"):
        if not integer:
            return "not a whole number"
        return "negative" if base == "count" and value < 0 else None
    if base == "port":
        return None if integer and 0 <= value <= 65535 else "not a port number"
    if base in ("double", "interval"):
        return None if number else "not a number"
    if base == "time":  # epoch seconds (JSON::TS_EPOCH, the default), millis, or ISO 8601
        if number:
            return None
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return None
            except ValueError:
                pass
        return "not a time"
    if base in ("addr", "subnet"):
        try:
            (ipaddress.ip_address if base == "addr" else ipaddress.ip_network)(str(value))
        except ValueError:
            return "not an address" if base == "addr" else "not a subnet"
        return None if isinstance(value, str) else "not a string"
    return f"unknown Zeek type {base!r}"


def value_problem(zeek_type: str, value: object) -> str | None:
    """Why ``value`` (as Zeek's JSON writer wrote it) does not fit ``zeek_type``, or None."""
    match = _CONTAINER.match(zeek_type)
    if not match:
        return _scalar_problem(zeek_type, value)
    if not isinstance(value, list):
        return "not a list"
    for item in value:
        problem = _scalar_problem(match.group(2), item)
        if problem:
            return f"element {item!r}: {problem}"
    return None


def record_problems(log: str, record: Mapping[str, object], fields: Mapping[str, str]) -> list[str]:
    """Every key of a JSON record that is not in the log's table or whose value does not fit its type."""
    problems = []
    for key, value in record.items():
        if key not in fields:
            problems.append(f"{log}.{key}: not in the table (value {value!r})")
            continue
        problem = value_problem(fields[key], value)
        if problem:
            problems.append(f"{log}.{key} ({fields[key]}): {value!r} is {problem}")
    return problems
