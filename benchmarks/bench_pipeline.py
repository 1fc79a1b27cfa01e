"""Benchmark: events/s through Kafka -> Tenzir shipper -> OpenSearch, real Zeek logs replayed in a loop.

Starts a real KRaft Kafka and a real OpenSearch on 127.0.0.1 (the test fixtures' classes, from the
cached artifacts), installs the opensearch role's Zeek index templates, replays real logs into Kafka
(RITA conn TSV as self-describing chunks, WRCCDC dns JSON one record per message; each loop shifts
ts by one microsecond so every replayed record is a distinct document), then starts the shipper
pipelines roles/tenzir renders and times until every record is searchable.

    python benchmarks/bench_pipeline.py [--conn-records 150000] [--dns-records 50000]

Prints produce rate, shipping rate (events/s, end to end into OpenSearch) and the documents counted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import _path  # noqa: F401 -- puts .collections on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from ansible_collections.socforge.core.plugins.module_utils import zeek_index  # noqa: E402 -- after the sys.path set-up
from ansible_collections.socforge.core.plugins.module_utils.zeek_log_chunks import (  # noqa: E402 -- after the sys.path set-up
    TsvLog,
    json_messages,
    open_text,
    parse_tsv,
    tsv_chunks,
)
from confluent_kafka import Producer  # noqa: E402 -- after the sys.path set-up
from kafka_server import KafkaServer  # noqa: E402 -- after the sys.path set-up
from opensearch_server import OpenSearchServer  # noqa: E402 -- after the sys.path set-up
from opensearchpy.helpers import bulk  # noqa: E402 -- after the sys.path set-up
from tenzir_shipper import Shipper, render_pipeline  # noqa: E402 -- after the sys.path set-up
from zeek_samples import WRCCDC_JSON, rita_logs, zeek_fields  # noqa: E402 -- after the sys.path set-up


def shifted_tsv(logs: list[TsvLog], want: int) -> list[TsvLog]:
    """Replay TSV logs until ``want`` records, loop k adding k microseconds to the ts column."""
    out, total, k = [], 0, 0
    while total < want:
        for log in logs:
            rows, col = [], log.fields.index("ts")
            for row in log.rows:
                cols = row.split("\t")
                cols[col] = f"{float(cols[col]) + k * 1e-6:.6f}"
                rows.append("\t".join(cols))
                total += 1
                if total >= want:
                    break
            out.append(TsvLog(log.path, log.header, log.fields, log.types, tuple(rows)))
            if total >= want:
                break
        k += 1
    return out


def shifted_json(messages: list[bytes], want: int) -> list[bytes]:
    """Replay JSON records until ``want``, loop k rewriting the ts microseconds (ISO 8601 ts)."""
    out, k = [], 0
    while len(out) < want:
        for m in messages:
            if k:
                head, sep, tail = m.partition(b'"ts":"')
                stamp, rest = tail[:26], tail[26:]  # 2018-03-24T17:15:20.865716
                micros = (int(stamp[-6:]) + k) % 1_000_000
                m = head + sep + stamp[:-6] + b"%06d" % micros + rest
            out.append(m)
            if len(out) >= want:
                break
        k += 1
    return out


def produce(bootstrap: str, topic: str, messages: list[bytes]) -> float:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1000000, "compression.type": "lz4"}
    )
    start = time.monotonic()
    for m in messages:
        while True:
            try:
                producer.produce(topic, m)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(300)
    return time.monotonic() - start


def session_cpu_seconds(sessions: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process session (a server, or a shipper's supervisor with its
    Tenzir runs): the live members' own time plus what the session leader collected from children
    that have exited (cutime/cstime). Linux /proc only."""
    tick = os.sysconf("SC_CLK_TCK")
    by_session = {sid: name for name, sid in sessions.items()}
    used = dict.fromkeys(sessions, 0.0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = by_session.get(int(fields[3]))  # field 6 of stat: session id
        if name is None:
            continue
        used[name] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(entry) == sessions[name]:
            used[name] += (int(fields[13]) + int(fields[14])) / tick  # exited children, waited for
    return used


def warm_up(client, template: dict, messages: list[bytes], docs: int) -> float:
    """Bulk-index ``docs`` JSON records into an index outside zeek-* (same settings and mappings), then drop it."""
    start = time.monotonic()
    client.indices.create(index="bench-warmup", body=template["template"])
    actions = ({"_index": "bench-warmup", "_source": json.loads(m)} for m in messages[:docs])
    bulk(client, actions, chunk_size=2000, request_timeout=120)
    client.indices.delete(index="bench-warmup")
    return time.monotonic() - start


def print_timeline(samples: list[tuple[float, int]], total: int, bucket: float = 2.0) -> None:
    """Indexing rate per ``bucket`` seconds, and the pauses (>= 1 s without a new index operation
    before every record is in): where a run stalled, not just how long it took."""
    rates, edge, last = [], bucket, samples[0]
    for t, ops in samples[1:]:
        if t >= edge:
            rates.append(f"{(ops - last[1]) / (t - last[0]) / 1000:.1f}")
            last, edge = (t, ops), edge + bucket
    print(f"timeline: k events/s per {bucket:.0f} s: {' '.join(rates)}")
    stalls, since = [], None
    for (t0, ops0), (_, ops1) in zip(samples, samples[1:], strict=False):
        if ops1 == ops0 and ops1 < total:
            since = t0 if since is None else since
        elif since is not None:
            if t0 - since >= 1.0:
                stalls.append(f"{since:.1f}-{t0:.1f} s at {ops0 / total:.0%}")
            since = None
    print(f"timeline: {len(stalls)} pauses without indexing: {', '.join(stalls) or 'none'}")


def main() -> int:
    # SIGTERM (e.g. a CI timeout) must still run the clean-up below: stop the servers and shippers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conn-records", type=int, default=400000)
    parser.add_argument("--dns-records", type=int, default=150000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=500)
    parser.add_argument(
        "--refresh-interval", default="5s", help="zeek-* index refresh interval (the opensearch role's default: 5s)"
    )
    parser.add_argument(
        "--warmup-docs",
        type=int,
        default=100000,
        help="documents bulk-indexed (opensearch-py) into a throw-away index before timing, so a freshly "
        "started OpenSearch JVM has compiled its indexing path as a long-running site node has (0 = cold)",
    )
    parser.add_argument(
        "--opensearch-heap", default=os.environ.get("SOCFORGE_OPENSEARCH_HEAP", "1g"), help="OpenSearch JVM heap"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="socforge-bench-pipeline-"))
    workdir.chmod(0o755)
    kafka = opensearch = None
    shippers: list[Shipper] = []
    try:
        (workdir / "kafka").mkdir()
        kafka = KafkaServer(workdir / "kafka", heap="512m")
        kafka.start()
        (workdir / "os").mkdir()
        (workdir / "os").chmod(0o755)
        opensearch = OpenSearchServer(workdir / "os", heap=args.opensearch_heap)
        opensearch.start()
        client = opensearch.client(timeout=120)
        fields = zeek_fields()
        for log in ("conn", "dns"):
            body = zeek_index.zeek_index_template(log, fields[log], replicas=0, refresh_interval=args.refresh_interval)
            client.indices.put_index_template(name=f"zeek-{log}", body=body)

        conn_logs = [parse_tsv(open_text(f), str(f)) for f in rita_logs("conn")]
        conn = shifted_tsv(conn_logs, args.conn_records)
        conn_chunks = [c for t in conn for c in tsv_chunks(t, rows=args.chunk_rows)]
        dns = shifted_json(json_messages(open_text(WRCCDC_JSON / "dns.json")), args.dns_records)
        # Distinct records: a shifted replay can coincide with another real record (same content,
        # ts a few microseconds apart), and identical records are one document (content ids).
        n_conn, n_dns = len({(t.path, r) for t in conn for r in t.rows}), len(set(dns))

        if args.warmup_docs:
            took = warm_up(
                client, zeek_index.zeek_index_template("dns", fields["dns"], replicas=0), dns, args.warmup_docs
            )
            print(f"warm-up: {args.warmup_docs} dns documents bulk-indexed into a throw-away index in {took:.1f} s")

        for topic in ("zeek-conn", "zeek-dns"):
            kafka.create_topic(topic, partitions=args.partitions)
        t_conn = produce(kafka.bootstrap, "zeek-conn", conn_chunks)
        t_dns = produce(kafka.bootstrap, "zeek-dns", dns)
        print(f"produce: conn TSV {n_conn} records in {len(conn_chunks)} chunks, {n_conn / t_conn:,.0f} records/s")
        print(f"produce: dns JSON {n_dns} records, {n_dns / t_dns:,.0f} records/s")

        start = time.monotonic()
        for log, fmt in (("conn", "tsv"), ("dns", "json")):
            tql = render_pipeline(
                log,
                fmt,
                tenzir_kafka_bootstrap_servers=kafka.bootstrap,
                tenzir_consumer_group="bench",
                tenzir_opensearch_url=opensearch.url,
                tenzir_opensearch_user="",
            )
            shipper = Shipper(
                workdir, f"bench-{log}", tql, kafka.bootstrap, f"bench-{log}", f"zeek-{log}", opensearch.url
            )
            shipper.start()
            shippers.append(shipper)
        # Progress from the shard's indexing counters (no forced refresh, which would slow indexing):
        # index_total counts index operations, so it reaches the record count when every record has been
        # written once (a replayed record would count twice; the exact document count is checked at the end).
        want = {"conn": n_conn, "dns": n_dns}  # distinct documents expected in the end
        ops_want = {"conn": sum(len(t.rows) for t in conn), "dns": len(dns)}  # records produced
        total_want = sum(ops_want.values())
        marks: dict[str, float] = {}  # "10%" / "90%" / "done" of all records -> seconds since start
        done_at: dict[str, float] = {}
        deadline = start + 900

        def indexed(log: str) -> int:
            stats = client.indices.stats(index=f"zeek-{log}-*", metric="indexing")  # no index yet: _all is empty
            return stats.get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total", 0)

        sessions = {"opensearch": opensearch.process.pid, "kafka": kafka.process.pid}
        sessions.update({f"shipper {s.name}": s.process.pid for s in shippers})
        cpu_before = session_cpu_seconds(sessions)
        samples: list[tuple[float, int]] = [(0.0, 0)]  # (seconds since start, index operations of both logs)
        while len(done_at) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            now = time.monotonic() - start
            ops = {log: indexed(log) for log in want}
            samples.append((now, sum(ops.values())))
            for log in want:
                if log not in done_at and ops[log] >= ops_want[log]:
                    done_at[log] = now
            total_ops = sum(ops.values())
            for name, fraction in (("10%", 0.1), ("90%", 0.9)):
                if name not in marks and total_ops >= fraction * total_want:
                    marks[name] = now
        elapsed = max(done_at.values()) if len(done_at) == 2 else time.monotonic() - start
        cpu_window = time.monotonic() - start
        cpu_after = session_cpu_seconds(sessions)
        client.indices.refresh(index="zeek-*")
        counts = {log: client.count(index=f"zeek-{log}-*")["count"] for log in want}
        for log in want:
            t = done_at.get(log)
            rate = f"{ops_want[log] / t:,.0f} events/s" if t else "did not finish"
            print(
                f"ship: {log} ({'TSV' if log == 'conn' else 'JSON'}) {counts[log]}/{want[log]} documents, {t or elapsed:.1f} s, {rate}"
            )
        total = sum(counts.values())
        print(
            f"ship: total {total_want} records ({total} distinct documents) in {elapsed:.1f} s = "
            f"{total_want / elapsed:,.0f} events/s end to end "
            f"(from the shippers' start; Kafka -> Tenzir -> OpenSearch, 2 pipelines, {os.cpu_count()} cores "
            "shared with Kafka and OpenSearch)"
        )
        if "10%" in marks and "90%" in marks and marks["90%"] > marks["10%"]:
            sustained = 0.8 * total_want / (marks["90%"] - marks["10%"])
            print(
                f"ship: sustained {sustained:,.0f} events/s (10 % -> 90 % of the records, "
                f"{marks['10%']:.1f} s -> {marks['90%']:.1f} s; excludes engine start and the last batches)"
            )
        print_timeline(samples, total_want)
        shares = {name: 100 * (cpu_after[name] - cpu_before[name]) / cpu_window for name in sessions}
        print(
            f"cpu while shipping ({os.cpu_count()} cores = {100 * os.cpu_count()} %): "
            + ", ".join(f"{name} {share:.0f} %" for name, share in sorted(shares.items(), key=lambda kv: -kv[1]))
        )
        for shipper in shippers:
            runs = [
                e for e in shipper.events() if e["event"] in ("run ended", "sink not ready, not starting the shipper")
            ]
            print(
                f"runs: {shipper.name}: "
                + "; ".join(
                    f"{e.get('seconds', '-')} s {e.get('messages', 0)} msgs {e.get('exit', e['event'])}" for e in runs
                )
            )
        return 0 if counts == want else 1
    finally:
        for s in shippers:
            s.stop()
        for server in (opensearch, kafka):
            if server:
                server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
