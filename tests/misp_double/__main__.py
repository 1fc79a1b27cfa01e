"""Run the MISP test double by hand: ``python -m tests.misp_double --port 8443 --tls`` (from the repo root).

It prints one JSON line with ``url``, ``key`` (unless --key-file was given), ``ca_path`` (TLS) and
``pid`` on stdout, then serves until SIGINT/SIGTERM.  Every request is logged to stderr with --log.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .data import DATASETS
from .server import MispDouble
from .tls import TLS_MODES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.misp_double",
        description="SOCForge's MISP test double (NOT MISP: see docs/misp-test-double.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throw-away CA")
    parser.add_argument("--tls-mode", choices=TLS_MODES, default="valid", help="certificate to present")
    parser.add_argument(
        "--tls-name",
        action="append",
        default=[],
        help="extra host name or IP for the certificate (repeatable), e.g. the address containers use",
    )
    parser.add_argument("--key", help="API key to accept (default: random; prefer --key-file)")
    parser.add_argument("--key-file", type=Path, help="read the API key from this file (first line)")
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma-separated datasets to load (default {','.join(DATASETS)})",
    )
    parser.add_argument("--openapi", choices=("record", "strict"), help="check traffic against MISP's spec")
    parser.add_argument("--log", action="store_true", help="log every request to stderr")
    parser.add_argument("--info-file", type=Path, help="also write the start-up JSON here (mode 0600)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    key = args.key
    if args.key_file is not None:
        try:
            key = args.key_file.read_text().splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            print(f"misp double: cannot read --key-file {args.key_file}: {exc or 'empty file'}", file=sys.stderr)
            return 2
        if not key:
            print(f"misp double: --key-file {args.key_file} starts with an empty line", file=sys.stderr)
            return 2
    datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    try:
        double = MispDouble(
            key=key,
            datasets=datasets,
            tls=args.tls,
            tls_mode=args.tls_mode,
            tls_names=args.tls_name,
            port=args.port,
            host=args.host,
            openapi=args.openapi,
            log_limit=10_000,
            keep_responses=False,
        )
        double.start()
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"misp double: {exc}", file=sys.stderr)
        return 2
    info = {"url": double.url, "pid": os.getpid(), "events": len(double.data.events)}
    if args.key_file is None:
        info["key"] = double.key
    if args.tls:
        info["ca_path"] = double.ca_path
    line = json.dumps(info)
    if args.info_file is not None:
        fd = os.open(args.info_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(line + "\n")
    print(line, flush=True)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    seen = 0

    def flush_log() -> int:
        if args.log:
            for record in double.requests[seen:]:
                print(f"{record.method} {record.path} -> {record.status}", file=sys.stderr, flush=True)
        return len(double.requests)

    while not done.wait(0.2):
        seen = flush_log()
    double.stop()
    flush_log()
    if double.openapi is not None:
        print(double.openapi.report(), file=sys.stderr)
        if args.openapi == "strict" and double.openapi.violations:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
