"""Cut Zeek logs into Kafka messages the way SOCForge's log path carries them.

- JSON logs (Zeek's JSON writer, the zeek-kafka plugin): one record per message, the line as is.
- TSV logs (Zeek's default ASCII writer): self-describing chunks, each the file's ``#`` header
  lines (``#separator`` .. ``#types``; never ``#close``) followed by up to ``rows`` records, so a
  consumer can parse any message on its own, after any restart, without the file's first lines.

Used by the log-pipeline tests and benchmark to replay real logs into Kafka; pure, no Kafka client.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REQUIRED_TSV_HEADERS = ("#separator", "#fields", "#types")


@dataclass(frozen=True)
class TsvLog:
    path: str  # the Zeek log name from "#path" (conn, dns, ...)
    header: tuple[str, ...]  # header lines, newline-terminated
    fields: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[str, ...]  # record lines, newline-terminated


def open_text(path: str | Path) -> Iterator[str]:
    """Lines of a Zeek log, gzip or plain, newline-terminated."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8", newline="\n") as fh:
        for line in fh:
            yield line if line.endswith("\n") else line + "\n"


def parse_tsv(lines: Iterable[str], source: str = "<input>") -> TsvLog:
    """Split a Zeek TSV log into header and records; raise ValueError naming ``source`` if it is not one."""
    header: list[str] = []
    rows: list[str] = []
    for line in lines:
        if line.startswith("#"):
            if line.startswith("#close"):
                continue
            if rows:
                raise ValueError(
                    f"{source}: header line after records ({line.split(chr(9))[0].strip()}); one log per file"
                )
            header.append(line)
        elif line.strip():
            rows.append(line)
    tags = {h.split("\t", 1)[0].split(" ", 1)[0].rstrip("\n"): h for h in header}
    missing = [t for t in REQUIRED_TSV_HEADERS if t not in tags]
    if missing:
        raise ValueError(f"{source}: not a Zeek TSV log, missing header line(s) {', '.join(missing)}")
    fields = tuple(tags["#fields"].rstrip("\n").split("\t")[1:])
    types = tuple(tags["#types"].rstrip("\n").split("\t")[1:])
    if len(fields) != len(types):
        raise ValueError(f"{source}: #fields has {len(fields)} columns but #types has {len(types)}")
    path = tags["#path"].rstrip("\n").split("\t", 1)[1] if "#path" in tags else ""
    for number, row in enumerate(rows, 1):
        width = row.rstrip("\n").count("\t") + 1
        if width != len(fields):
            raise ValueError(f"{source}: record {number} has {width} columns, #fields has {len(fields)}")
    return TsvLog(path, tuple(header), fields, types, tuple(rows))


def tsv_chunks(log: TsvLog, rows: int = 200) -> list[bytes]:
    """Kafka messages for a TSV log: header + up to ``rows`` records each."""
    if rows < 1:
        raise ValueError(f"rows per chunk must be >= 1, got {rows}")
    head = "".join(log.header)
    return [(head + "".join(log.rows[i : i + rows])).encode() for i in range(0, len(log.rows), rows)]


def json_messages(lines: Iterable[str]) -> list[bytes]:
    """Kafka messages for a JSON log: one per non-empty line, newline stripped."""
    return [line.rstrip("\n").encode() for line in lines if line.strip()]


def tsv_record(log: TsvLog, row: str) -> dict[str, str]:
    """One TSV record as {field: raw text} (unset "-" fields left out), for comparisons."""
    values = row.rstrip("\n").split("\t")
    return {f: v for f, v in zip(log.fields, values, strict=True) if v != "-"}
