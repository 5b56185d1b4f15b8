"""Append throughput to real Kafka: our paths against kafka-python's own producer.

Prints events/s for, in one run on one broker:
  baseline  kafka-python KafkaProducer (idempotent, acks=all) sending the same canonical bytes;
  client    ledger.client.LedgerClient over HTTP to `sgl serve` (validation, dedupe, receipts);
  in-proc   Ledger.submit in the same process (the append path without HTTP).
Usage: python benchmarks/append.py [COUNT]   (default 100,000; needs scripts/kafka.sh start)
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import (
    events,
    known_over_http,
    machine,
    rate,
    register,
    server,
    token,
    wait_known,
)
from kafka import KafkaProducer

from ledger.client import LedgerClient
from ledger.envelope import canonical_bytes, canonicalise
from ledger.kafka_config import client_config
from ledger.settings import KafkaSecurity, Settings
from sgl.bootstrap import bootstrap
from sgl.logs import configure_logging

BATCH = 2000
AGENCY = "example-childrens-social-care"
CASES = 1_000
CONCURRENCY = 4


def baseline(
    bootstrap_servers: str,
    topic: str,
    records: list[tuple[bytes, bytes]],
    security: KafkaSecurity,
) -> float:
    producer = KafkaProducer(
        **client_config(security),
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        batch_size=512 * 1024,
    )
    started = time.perf_counter()
    futures = [producer.send(topic, key=k, value=v) for k, v in records]
    producer.flush()
    for future in futures:
        future.get()
    elapsed = time.perf_counter() - started
    producer.close()
    return elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = Path(tempfile.mkdtemp(prefix="sgl-bench-"))
    run = uuid.uuid4().hex[:8]
    settings = Settings.from_env(
        {},
        backend="kafka",
        data_dir=data / "inproc",
        topic=f"sgl.bench.{run}.a",
        dead_letter_topic=f"sgl.bench.{run}.d",
        log_level="warning",
    )
    configure_logging(settings)
    container = bootstrap(settings)  # creates the topics with the ledger's settings
    agencies = register(container)  # on the topic the server appends to as well
    print(
        f"machine: {machine()}; {count:,} events over {CASES:,} cases, batches of {BATCH}, "
        f"{CONCURRENCY} in flight"
    )

    raw_events = events(count, CASES)
    records = [(e["case_id"].encode(), canonical_bytes(canonicalise(e))) for e in raw_events]
    base = baseline(
        settings.kafka_bootstrap, f"sgl.bench.{run}.a", records, settings.kafka_security
    )
    print(f"baseline kafka-python producer: {rate(count, base)}")

    # One agency's adapter, publishing its own events with its own token.
    client_events = [{**e, "agency": AGENCY} for e in events(count, CASES)]
    publisher = token(data / "http", "publisher", AGENCY)
    env = {
        "SGL_BACKEND": "kafka",
        "SGL_DATA_DIR": str(data / "http"),
        "SGL_TOPIC": settings.topic,
        "SGL_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
    }
    with (
        server(env, free_port()) as url,
        LedgerClient(url, publisher, batch_size=BATCH, concurrency=CONCURRENCY) as client,
    ):
        wait_known(agencies, known_over_http(url, publisher))
        started = time.perf_counter()
        receipts = client.publish_many(client_events)
        took = time.perf_counter() - started
    assert len(receipts) == count and all(r.status == "accepted" for r in receipts)
    print(f"client over HTTP:              {rate(count, took)}  ratio {base / took:.2f}")

    inproc_events = events(count, CASES)
    batches = [inproc_events[i : i + BATCH] for i in range(0, count, BATCH)]
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        done = sum(len(receipts) for receipts in pool.map(container.ledger.submit, batches))
    took = time.perf_counter() - started
    assert done == count
    print(f"Ledger.submit in process:      {rate(count, took)}  ratio {base / took:.2f}")
    container.close()


if __name__ == "__main__":
    main()
