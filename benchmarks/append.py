"""Append throughput to real Kafka: our paths against kafka-python's own producer.

Prints events/s for, in one run on one broker:
  baseline  kafka-python KafkaProducer (idempotent, acks=all) sending the same canonical bytes;
  client    ledger.client.LedgerClient over HTTP to `sgl serve` (validation, dedupe, receipts);
  in-proc   Ledger.submit in the same process (the append path without HTTP).
  client, N indexed  the same after N receipts more are indexed (--indexed N): the receipt
                     index's cost per event should not grow with its size.
Each line also gives the CPU an event cost the process that appends (every thread of it: the
producer's I/O thread, the receipt index's writer): on a shared machine a steadier figure than
the rate, and, as one process runs on one core at a time for Python code, what bounds its rate.
Receipts are kept in SQLite files, or in PostgreSQL with --database-url.
Usage: python benchmarks/append.py [COUNT] [--indexed N] [--database-url URL]
       (default 100,000 events; needs scripts/kafka.sh start, and scripts/postgres.sh start)
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from _common import (
    cpu_seconds,
    events,
    machine,
    rate,
    register,
    server,
    token,
)
from kafka import KafkaProducer

from ledger.client import LedgerClient
from ledger.envelope import canonical_bytes, canonicalise
from ledger.kafka_config import client_config
from ledger.log import Receipt
from ledger.receipts import PostgresReceiptIndex, ReceiptIndex, SQLiteReceiptIndex
from ledger.settings import KafkaSecurity, Settings
from sgl.bootstrap import bootstrap, tune_gc
from sgl.logs import configure_logging

BATCH = 2000
AGENCY = "example-childrens-social-care"
CASES = 1_000
CONCURRENCY = 4
PREFILL_BATCH = 50_000


def baseline(
    bootstrap_servers: str,
    topic: str,
    records: list[tuple[bytes, bytes]],
    security: KafkaSecurity,
) -> tuple[float, float]:
    """Seconds a warm raw producer takes to send the records, and the CPU seconds it used."""
    producer = KafkaProducer(
        **client_config(security),
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        batch_size=512 * 1024,
    )
    started, cpu = time.perf_counter(), time.process_time()
    futures = [producer.send(topic, key=k, value=v) for k, v in records]
    producer.flush()
    for future in futures:
        future.get()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    producer.close()
    return elapsed, cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prefill(settings: Settings, data_dir: Path, count: int) -> float:
    """Index `count` receipts of events never sent (as a ledger that has appended them would
    hold), where the server on `data_dir` keeps its receipts; seconds taken."""
    location = settings.postgres
    index: ReceiptIndex = (
        SQLiteReceiptIndex(Settings.from_env({}, data_dir=data_dir).receipts_db)
        if location is None
        # It only puts receipts: no claim of it is ever taken over.
        else PostgresReceiptIndex.open(location, settings.topic, in_flight=0.0)
    )
    now = datetime.now(UTC)
    started = time.perf_counter()
    for at in range(0, count, PREFILL_BATCH):
        index.put(
            [
                Receipt(
                    str(uuid.uuid4()),
                    "accepted",
                    i % 3,
                    i,
                    now,
                    "ab" * 32,
                    f"CASE-B{i % CASES:06d}",
                    "contact.recorded",
                    1,
                )
                for i in range(at, min(count, at + PREFILL_BATCH))
            ]
        )
        index.flush()
    index.close()
    return time.perf_counter() - started


def over_http(env: dict[str, str], publisher: str, count: int) -> tuple[float, float]:
    """Seconds `sgl serve` takes to accept `count` new events from one adapter, and the CPU
    seconds the server used meanwhile."""
    client_events = [{**e, "agency": AGENCY} for e in events(count, CASES)]
    with (
        server(env, free_port()) as served,
        LedgerClient(served.url, publisher, batch_size=BATCH, concurrency=CONCURRENCY) as client,
    ):
        # One event first, untimed: the server reads the registry's events from the log
        # once (a server without consumers has no registry view to ask).
        warm = client.publish_many([{**events(1, CASES)[0], "agency": AGENCY}])
        assert warm[0].status == "accepted"
        started, cpu = time.perf_counter(), cpu_seconds(served.pid)
        receipts = client.publish_many(client_events)
        took, cpu = time.perf_counter() - started, cpu_seconds(served.pid) - cpu
    assert len(receipts) == count and all(r.status == "accepted" for r in receipts)
    return took, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument(
        "--indexed",
        type=int,
        default=0,
        help="then index this many receipts and append over HTTP again",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="keep receipts in this PostgreSQL database (postgresql://...?schema=...)",
    )
    args = parser.parse_args()
    count: int = args.count
    data = Path(tempfile.mkdtemp(prefix="sgl-bench-"))
    run = uuid.uuid4().hex[:8]
    settings = Settings.from_env(
        {},
        backend="kafka",
        data_dir=data / "inproc",
        topic=f"sgl.bench.{run}.a",
        dead_letter_topic=f"sgl.bench.{run}.d",
        log_level="warning",
        database_url=args.database_url,
    )
    configure_logging(settings)
    container = bootstrap(settings)  # creates the topics with the ledger's settings
    register(container)  # on the topic the server appends to as well
    # As `sgl serve` does: without it, collections of the young generation over the batches
    # held in memory took about a quarter of Ledger.submit's CPU. The raw producer below runs
    # under the same setting.
    tune_gc()
    where = "PostgreSQL" if settings.postgres else "SQLite"
    print(
        f"machine: {machine()}; {count:,} events over {CASES:,} cases, batches of {BATCH}, "
        f"{CONCURRENCY} in flight in process (over HTTP one: the client keeps each case's "
        f"events in order, and every batch holds every case); receipts in {where}"
    )

    raw_events = events(count, CASES)
    records = [(e["case_id"].encode(), canonical_bytes(canonicalise(e))) for e in raw_events]

    def measure_baseline() -> tuple[float, float]:
        took, cpu = baseline(
            settings.kafka_bootstrap, f"sgl.bench.{run}.a", records, settings.kafka_security
        )
        print(f"baseline kafka-python producer: {rate(count, took)}; {per_event(cpu, count)}")
        return took, cpu

    def compared(took: float, cpu: float, base: tuple[float, float]) -> str:
        """The rate, the rate's ratio to the raw producer's, and the same for CPU."""
        return (
            f"{rate(count, took)}  ratio {base[0] / took:.2f}; {per_event(cpu, count)}, "
            f"ratio {base[1] / cpu:.2f}"
        )

    # One agency's adapter, publishing its own events with its own token.
    publisher = token(data / "http", "publisher", AGENCY)
    env = {
        "SGL_BACKEND": "kafka",
        "SGL_DATA_DIR": str(data / "http"),
        "SGL_TOPIC": settings.topic,
        "SGL_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "SGL_DATABASE_URL": args.database_url,
    }
    base = measure_baseline()
    took, cpu = over_http(env, publisher, count)
    empty_ratio = base[0] / took
    print(f"client over HTTP:              {compared(took, cpu, base)} (server)")

    if args.indexed:
        seconds = prefill(settings, data / "http", args.indexed)
        print(f"indexed {args.indexed:,} more receipts in {seconds:.0f} s")
        base = measure_baseline()
        took, cpu = over_http(env, publisher, count)
        ratio = base[0] / took
        print(
            f"client over HTTP, {args.indexed:,} indexed: {compared(took, cpu, base)} "
            f"(server); {ratio / empty_ratio:.2f} of the rate ratio before"
        )

    inproc_events = events(count, CASES)
    batches = [inproc_events[i : i + BATCH] for i in range(0, count, BATCH)]
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        done = sum(len(receipts) for receipts in pool.map(container.ledger.submit, batches))
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert done == count
    print(f"Ledger.submit in process:      {compared(took, cpu, base)}")
    container.close()


def per_event(cpu: float, count: int) -> str:
    """CPU seconds spent on `count` events, as microseconds an event."""
    return f"{cpu / count * 1e6:.1f} µs CPU an event"


if __name__ == "__main__":
    main()
