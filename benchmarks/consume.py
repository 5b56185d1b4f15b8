"""Consumer throughput into the case-state view, against the raw read rate of the log.

Fills a log with COUNT events, then in one run measures:
  raw read   the log's own reader polling every record (no decoding, no view);
  kafka-python  (kafka only) a plain KafkaConsumer reading the same topic, none of the
             ledger's code: the baseline the consumer's ratio is taken against;
  consumer   ProjectionRunner: decode, validate, fold, and commit view + tracking per batch.
On kafka the run's topics are deleted at the end.
Usage: python benchmarks/consume.py [COUNT] [sqlite|kafka] [sqlite|postgres]
(default 100,000 on sqlite, into the SQLite view; `postgres` puts the view in a schema of its
own, dropped after, on the server SGL_DATABASE_URL names)
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg
from _common import events, machine, rate, register
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from consumers.runner import ProjectionRunner
from ledger.log import EventLog
from ledger.settings import Settings
from projections.case_view import PostgresCaseView
from sgl.bootstrap import Container, bootstrap, tune_gc
from sgl.logs import configure_logging

CASES = 1_000
T = TypeVar("T")


def raw_read(event_log: EventLog, count: int) -> float:
    reader = event_log.reader({})
    started = time.perf_counter()
    seen = 0
    while seen < count:
        seen += len(reader.poll(2000, 1.0))
    elapsed = time.perf_counter() - started
    reader.close()
    return elapsed


def kafka_python_read(settings: Settings, count: int, batch: int) -> float:
    """Seconds a plain kafka-python consumer takes to read `count` records of the topic from
    the start, `batch` at most a poll (the runner's batch), touching each record's value."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    tps = [TopicPartition(settings.topic, p) for p in consumer.partitions_for_topic(settings.topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    started = time.perf_counter()
    seen = 0
    size = 0
    while seen < count:
        for records in consumer.poll(timeout_ms=1000, max_records=batch).values():
            seen += len(records)
            size += sum(len(m.value) for m in records)
    elapsed = time.perf_counter() - started
    consumer.close()
    assert size > 0
    return elapsed


def timed(run: Callable[[], T]) -> tuple[T, float, float]:
    """What `run` returns, and the wall-clock and this process's CPU seconds (every thread's)
    it takes: on a machine shared with other work, CPU time is the steadier figure."""
    wall, used = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - used


def cpu(count: int, seconds: float) -> str:
    """CPU seconds as microseconds an event."""
    return f", {seconds / count * 1e6:.1f} µs of CPU an event"


def drop_topics(settings: Settings) -> None:
    """Delete the run's topics from the broker."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        mine = {
            settings.topic,
            settings.dead_letter_topic,
            settings.alerts_topic,
            settings.checkpoints_topic,
        }
        admin.delete_topics(sorted(mine & set(admin.list_topics())))
    finally:
        admin.close()


def filled(count: int, backend: str) -> tuple[Container, float, int]:
    """A ledger on the backend, on private topics, holding the example agencies'
    registrations and COUNT events over CASES cases; the seconds its append path took for
    the events (batches of 1000, made 100,000 at a time); and how many records the log holds."""
    run = uuid.uuid4().hex[:8]
    settings = Settings.from_env(
        os.environ,
        backend=backend,
        data_dir=Path(tempfile.mkdtemp(prefix="sgl-bench-")),
        topic=f"sgl.bench.{run}.c",
        dead_letter_topic=f"sgl.bench.{run}.d",
        alerts_topic=f"sgl.bench.{run}.a",
        checkpoints_topic=f"sgl.bench.{run}.k",
        log_level="warning",
    )
    configure_logging(settings)
    container = bootstrap(settings)
    registered = len(register(container))
    print(f"machine: {machine()}; {count:,} events over {CASES:,} cases on {backend}")
    appending = 0.0
    for chunk in range(0, count, 100_000):
        batch = events(min(100_000, count - chunk), CASES)
        started = time.perf_counter()
        for start in range(0, len(batch), 1000):
            container.ledger.submit(batch[start : start + 1000])
        appending += time.perf_counter() - started
    return container, appending, registered + count


@contextmanager
def case_view_runner(container: Container, views: str) -> Iterator[ProjectionRunner]:
    """The container's consumer into its SQLite view, or one like it into a PostgreSQL view."""
    if views == "sqlite":
        yield container.runner()
        return
    server = container.settings.postgres
    if server is None:
        raise SystemExit("set SGL_DATABASE_URL to put the view in PostgreSQL")
    location = dataclasses.replace(server, schema=f"bench_{uuid.uuid4().hex[:8]}")
    view = PostgresCaseView.open(location, snapshot_every=container.settings.snapshot_every)
    try:
        yield ProjectionRunner(
            container.log,
            view,
            container.schemas,
            container.dead_letters,
            batch_size=container.settings.consumer_batch,
            max_record_bytes=container.settings.max_record_bytes,
        )
    finally:
        view.close()
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {location.schema} CASCADE")  # type: ignore[arg-type]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    views = sys.argv[3] if len(sys.argv) > 3 else "sqlite"
    container, _, total = filled(count, backend)
    settings = container.settings
    tune_gc()  # as `sgl consume` does
    try:
        _, read, read_cpu = timed(lambda: raw_read(container.log, total))
        print(f"raw read of the log:           {rate(total, read)}{cpu(total, read_cpu)}")
        against = ""
        if backend == "kafka":
            _, baseline, base_cpu = timed(
                lambda: kafka_python_read(settings, total, settings.consumer_batch)
            )
            print(f"raw kafka-python read:         {rate(total, baseline)}{cpu(total, base_cpu)}")
        with case_view_runner(container, views) as runner:
            applied, took, took_cpu = timed(lambda: runner.run_until_caught_up(timeout=1800))
        assert applied == total, applied
        print(f"consumer into the {views} view: {rate(total, took)}{cpu(total, took_cpu)}")
        if backend == "kafka":
            against = f"; to kafka-python {baseline / took:.2f} (CPU {base_cpu / took_cpu:.2f})"
        print(f"ratios: to the raw read {read / took:.2f} (CPU {read_cpu / took_cpu:.2f}){against}")
    finally:
        container.close()
        if backend == "kafka":
            drop_topics(settings)


if __name__ == "__main__":
    main()
