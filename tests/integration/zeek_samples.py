"""The real Zeek logs in ../shared/data/zeek-logs and the opensearch role's Zeek field table, as the
pipeline tests and the pipeline benchmark use them (one place for the paths and the table)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ZEEK_LOGS = REPO.parent / "shared" / "data" / "zeek-logs"
WRCCDC_JSON = ZEEK_LOGS / "wrccdc-2018-brimdata" / "zeek-json"  # JSON logs, ISO 8601 ts
RITA = ZEEK_LOGS / "rita-testdata" / "internet-server-2024-04-19"  # TSV logs, epoch ts, gzipped
ZEEK_FIELDS = REPO / "roles" / "opensearch" / "vars" / "zeek_fields.yml"


@cache
def zeek_fields() -> dict[str, dict[str, str]]:
    """Zeek log -> {field: Zeek type}, the table the opensearch role builds its index templates from."""
    return yaml.safe_load(ZEEK_FIELDS.read_text(encoding="utf-8"))["__opensearch_zeek_fields"]


def rita_logs(log: str) -> list[Path]:
    """The RITA TSV files of one Zeek log, in order; fails naming the folder when there are none."""
    files = sorted(RITA.glob(f"{log}.*.log.gz"))
    if not files:
        raise FileNotFoundError(f"no {log} logs under {RITA}")
    return files
