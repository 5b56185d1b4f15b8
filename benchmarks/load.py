"""A bounded load through the HTTP API, on Kafka and PostgreSQL, each part in its own process.

The ledger runs as it would across machines, here on loopback: `sgl serve --role api`; three
consumer processes in the consumer groups of the case-state view, the clock view, the alerter
and the access and notes indexes (the first `sgl serve --role consumer`, the other two `sgl
consume` with those five consumers); and
`sgl serve --role sealer`. Every store is in a private PostgreSQL schema, every topic is
private (3 partitions). A fixed number of publisher threads post batches of a fixed size for
the given duration (or until a bounded total is reached), and a prober reads a sample of the
published events back from the case view over HTTP. Printed:

  accepted events/s (every batch must come back 201 with every event accepted);
  publish latency, p50/p99 per request and per event (a request's time over its batch size);
  publish-to-visible, p50/p99: from a batch's receipt to its probe event being readable at
      GET /v1/cases/{case_id} (each probe event opens a case of its own);
  how far the case view lagged when publishing stopped, and how long it took to catch up;
  peak memory (VmHWM, the peak resident set) of each process;
  the raw baseline: a warm kafka-python producer (idempotent, acks=all) sending the same
      canonical bytes to a private topic, before and after the load, and the ratios to it.

The run deletes its topics, its consumer groups and its schemas, also when interrupted.
Usage: python benchmarks/load.py [--seconds 300] [--threads 4] [--batch 500] (see --help;
needs scripts/kafka.sh start and scripts/postgres.sh start)
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import queue
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from _common import ROOT, TYPES, machine, register, token, wait_known
from append import free_port
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from consumers.loop import group_name
from ledger.envelope import canonical_bytes, canonicalise
from ledger.kafka_config import client_config
from ledger.settings import Settings
from projections.case_view import CaseViewStore
from sgl.bootstrap import Container, bootstrap, open_view
from sgl.identity import PURPOSE_HEADER
from sgl.logs import configure_logging
from tests.factories import example

AGENCY = "example-childrens-social-care"
PARTITIONS = 3
# Bounds on what the command line may ask for: the run must end, and the broker is shared.
LIMITS = {
    "seconds": (1, 1800),
    "threads": (1, 64),
    "batch": (1, 5000),
    "max_events": (1, 5_000_000),
    "cases": (1, 1_000_000),
    "probes": (1, 10_000),
    "baseline": (1_000, 1_000_000),
}
# How often the prober asks for each pending probe's case (the resolution of its figures).
PROBE_POLL = 0.02
# A publisher's retries of a batch the ledger could not take, as the client library's defaults.
RETRIES = 5
BACKOFF = 0.1
STARTUP_SECONDS = 120
# How long the case view may take to catch up once publishing stops before the run gives up.
DRAIN_SECONDS = 600
POSTGRES_URL = os.environ.get("SGL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:55432/sgl")


def arguments() -> argparse.Namespace:
    """The command line, each number within its bound."""
    parser = argparse.ArgumentParser(description="A bounded load through the HTTP API.")
    parser.add_argument("--seconds", type=int, default=300, help="how long to publish (300)")
    parser.add_argument("--threads", type=int, default=4, help="publisher threads (4)")
    parser.add_argument("--batch", type=int, default=500, help="events a request (500)")
    parser.add_argument(
        "--max-events", type=int, default=2_000_000, help="publish at most this many (2,000,000)"
    )
    parser.add_argument("--cases", type=int, default=10_000, help="cases the events go to")
    parser.add_argument("--probes", type=int, default=300, help="events timed to visible (300)")
    parser.add_argument(
        "--baseline", type=int, default=100_000, help="events the raw producer sends (100,000)"
    )
    args = parser.parse_args()
    for name, (low, high) in LIMITS.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be from {low:,} to {high:,}")
    return args


def topics_of(settings: Settings) -> dict[str, str]:
    """The ledger's topics by the variable that names each."""
    return {
        "SGL_TOPIC": settings.topic,
        "SGL_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "SGL_ALERTS_TOPIC": settings.alerts_topic,
        "SGL_CHECKPOINTS_TOPIC": settings.checkpoints_topic,
        "SGL_ACCESS_TOPIC": settings.access_topic,
        "SGL_ACCESS_CHECKPOINTS_TOPIC": settings.access_checkpoints_topic,
        "SGL_NOTES_TOPIC": settings.notes_topic,
    }


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-th quantile (0 < q <= 1) of non-empty values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Process:
    """One part of the ledger in a process of its own, its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    peak_kib: int = 0

    def alive(self) -> None:
        """Stop the run, with the end of the process's log, if it has exited."""
        code = self.popen.poll()
        if code is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{self.name} exited with {code}; the end of its log:\n{tail}")

    def peak(self) -> int:
        """The process's peak resident set so far, in KiB (kept for after it stops)."""
        with open(f"/proc/{self.popen.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    self.peak_kib = int(line.split()[1])
        return self.peak_kib

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM), killing it if it does not end."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=30)


def spawn(name: str, args: list[str], env: dict[str, str], root: Path) -> Process:
    """`python -m sgl ARGS` with its own data directory under root."""
    data = root / name
    data.mkdir(parents=True, exist_ok=True)
    log = root / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "sgl", *args],
            env={**os.environ, **env, "SGL_DATA_DIR": str(data)},
            cwd=ROOT,  # `python -m sgl` imports this checkout's code
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, log)


def wait(condition: Callable[[], bool], what: str, processes: list[Process]) -> None:
    """Return once condition holds; stop the run if a process exits or STARTUP_SECONDS pass."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while not condition():
        for process in processes:
            process.alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"no {what} after {STARTUP_SECONDS} s")
        time.sleep(0.1)


class RawProducer:
    """kafka-python's own producer, warmed once, timing sends of canonical bytes."""

    def __init__(self, settings: Settings, topic: str, records: list[tuple[bytes, bytes]]):
        self.topic, self.records = topic, records
        self.producer = KafkaProducer(
            **client_config(settings.kafka_security),
            bootstrap_servers=settings.kafka_bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            batch_size=512 * 1024,
        )
        self.send(records[: len(records) // 10])  # connections, metadata, buffers

    def send(self, records: list[tuple[bytes, bytes]]) -> float:
        """Send the records and wait for every acknowledgement; the seconds it took."""
        started = time.perf_counter()
        futures = [self.producer.send(self.topic, key=k, value=v) for k, v in records]
        self.producer.flush()
        for future in futures:
            future.get()
        return time.perf_counter() - started

    def rate(self) -> float:
        """Events a second for the whole set of records."""
        return len(self.records) / self.send(self.records)


class Events:
    """New events over a fixed set of cases, from the schemas' examples (a template each)."""

    def __init__(self, cases: int) -> None:
        self.templates = [{**example(t), "agency": AGENCY} for t in TYPES]
        self.case_ids = [f"CASE-L{i:07d}" for i in range(cases)]
        self.serial = itertools.count()

    def batch(self, size: int, probe: str | None = None) -> list[dict[str, Any]]:
        """size new events; with a probe, the last one opens that case instead."""
        out = []
        for _ in range(size):
            n = next(self.serial)
            event = dict(self.templates[n % len(self.templates)])
            event["event_id"] = str(uuid.uuid4())
            event["case_id"] = self.case_ids[n % len(self.case_ids)]
            out.append(event)
        if probe is not None:
            out[-1]["case_id"] = probe
        return out


@dataclass
class Load:
    """The publishers' and the prober's shared state, and what they measured."""

    url: str
    publisher: str
    reader: str
    args: argparse.Namespace
    started: float = 0.0
    finished: float = 0.0
    accepted: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    visible: list[float] = field(default_factory=list)
    unseen: int = 0
    claimed: int = 0
    probes_sent: int = 0
    first_failure: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    probes: queue.Queue[tuple[str, float]] = field(default_factory=queue.Queue)
    publishing: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.events = Events(self.args.cases)

    def claim(self) -> bool:
        """Whether a thread may send one more batch (the total stays bounded)."""
        with self.lock:
            if self.claimed + self.args.batch > self.args.max_events:
                return False
            self.claimed += self.args.batch
            return True

    def probe(self, now: float) -> str | None:
        """The case a batch's probe opens, when one is due: probes are spread evenly over the
        duration."""
        every = self.args.seconds / self.args.probes
        with self.lock:
            if self.probes_sent == self.args.probes:
                return None
            if now < self.started + self.probes_sent * every:
                return None
            self.probes_sent += 1
            return f"CASE-P{self.probes_sent:06d}"

    def publish(self) -> None:
        """One publisher thread: a batch at a time until the deadline or the bound."""
        headers = {
            "Authorization": f"Bearer {self.publisher}",
            "Content-Type": "application/json",
        }
        deadline = self.started + self.args.seconds
        with httpx.Client(base_url=self.url, headers=headers, timeout=120) as client:
            while time.perf_counter() < deadline and self.claim():
                probe = self.probe(time.perf_counter())
                body = orjson.dumps(self.events.batch(self.args.batch, probe))
                sent = time.perf_counter()
                response = self.send(client, body)
                answered = time.perf_counter()
                found = orjson.loads(response.content) if response is not None else {}
                receipts = found.get("receipts", []) if isinstance(found, dict) else []
                # A duplicate can only be an event a failed attempt of this batch appended.
                accepted = sum(r["status"] in ("accepted", "duplicate") for r in receipts)
                with self.lock:
                    self.latencies.append(answered - sent)
                    self.accepted += accepted
                    self.finished = max(self.finished, answered)
                    if accepted != self.args.batch:
                        self.failures["batches not appended whole"] += 1
                if probe is not None and accepted == self.args.batch:
                    self.probes.put((probe, answered))

    def send(self, client: httpx.Client, body: bytes) -> httpx.Response | None:
        """POST a batch as the ledger's client library does: an unavailable ledger (502, 503,
        504) or a lost connection is retried with the same events, after a growing wait; the
        answer, or None if there was none. Each failed attempt is counted."""
        response: httpx.Response | None = None
        for attempt in range(RETRIES + 1):
            try:
                answer = client.post("/v1/events", content=body)
            except httpx.HTTPError as exc:
                failure, response = type(exc).__name__, None
            else:
                response = answer
                if answer.status_code not in (502, 503, 504):
                    if answer.status_code not in (200, 201):
                        with self.lock:
                            self.failures[f"HTTP {answer.status_code}"] += 1
                            self.first_failure = self.first_failure or answer.text[:500]
                    return answer
                failure = f"HTTP {answer.status_code}"
            with self.lock:
                self.retried[failure] += 1
            if attempt < RETRIES:
                time.sleep(BACKOFF * 2**attempt * (0.5 + random.random()))
        return response

    def prober(self, give_up: threading.Event) -> None:
        """Read each probe's case until it is there; return once publishing is over and every
        probe is seen, or when told to give up (what is left is counted unseen)."""
        headers = {"Authorization": f"Bearer {self.reader}", PURPOSE_HEADER: "practice-review"}
        pending: dict[str, float] = {}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while not give_up.is_set():
                # Read before the queue is drained: the publishers queue every probe first.
                over = not self.publishing.is_set()
                while not self.probes.empty():
                    case_id, receipt = self.probes.get()
                    pending[case_id] = receipt
                if over and not pending:
                    return
                for case_id, receipt in list(pending.items()):
                    response = client.get(f"/v1/cases/{case_id}")
                    if response.status_code == 200:
                        self.visible.append(time.perf_counter() - receipt)
                        del pending[case_id]
                    elif response.status_code in (502, 503, 504):
                        # Unavailable for the moment (the read is logged to Kafka): looked
                        # at again next round, as a reader would retry.
                        with self.lock:
                            self.retried[f"read HTTP {response.status_code}"] += 1
                    elif response.status_code != 404:
                        with self.lock:
                            self.failures[f"read HTTP {response.status_code}"] += 1
                            self.first_failure = self.first_failure or response.text[:500]
                        del pending[case_id]
                time.sleep(PROBE_POLL)
        self.unseen = len(pending) + self.probes.qsize()


def lag(container: Container, view: CaseViewStore) -> int:
    """Records on the ledger topic the case view has not taken in yet."""
    ends = container.log.end_offsets()
    at = view.positions(container.settings.topic, list(ends))
    return sum(end - (at.get(p, -1) + 1) for p, end in ends.items())


def members(admin: KafkaAdminClient, group: str) -> list[list[int]]:
    """The partitions each member of a stable group holds ([] while it rebalances)."""
    described = admin.describe_groups([group])[group]
    if described["group_state"] != "Stable":
        return []
    return sorted(
        sorted(p for t in m["member_assignment"]["assigned_partitions"] for p in t["partitions"])
        for m in described["members"]
    )


def cleanup(settings: Settings, raw_topic: str, schema: str) -> None:
    """Delete the run's topics and consumer groups and drop its schemas."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        ours = [*topics_of(settings).values(), raw_topic]
        doomed = sorted(set(ours) & set(admin.list_topics()))
        if doomed:
            admin.delete_topics(doomed)
        groups = [g["group_id"] for g in admin.list_groups()]
        mine = [g for g in groups if any(g.startswith(f"sgl.{t}.") for t in ours)]
        if mine:
            admin.delete_groups(mine)
    finally:
        admin.close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE schema_name = %s OR schema_name LIKE %s",
            (schema, f"{schema}\\_%"),
        ).fetchall()
        for (name,) in rows:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def settings_for(run: str) -> Settings:
    """The bench's own settings: private topics and a private schema."""
    name = f"sgl.load.{run}"
    return Settings.from_env(
        {},
        backend="kafka",
        data_dir=Path(tempfile.mkdtemp(prefix="sgl-load-")),
        database_url=f"{POSTGRES_URL}?schema=bench_{run}",
        partitions=PARTITIONS,
        # The bench's own container only registers the agencies and reads offsets.
        log_level="error",
        topic=name,
        dead_letter_topic=f"{name}.dlq",
        alerts_topic=f"{name}.alerts",
        checkpoints_topic=f"{name}.checkpoints",
        access_topic=f"{name}.access",
        access_checkpoints_topic=f"{name}.access.checkpoints",
        notes_topic=f"{name}.notes",
    )


def raw_producer(settings: Settings, topic: str, count: int, cases: int) -> RawProducer:
    """A warm raw producer for count events like the load's, on a private topic of its own."""
    with KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap) as admin:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    records = [
        (e["case_id"].encode(), canonical_bytes(canonicalise(e)))
        for e in Events(cases).batch(count)
    ]
    return RawProducer(settings, topic, records)


def start(settings: Settings, root: Path) -> tuple[str, list[Process]]:
    """The API, three consumers and a sealer, each in its own process and data directory;
    the API's URL and the processes."""
    env = {
        **topics_of(settings),
        "SGL_BACKEND": "kafka",
        "SGL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SGL_DATABASE_URL": settings.database_url,
        "SGL_PARTITIONS": str(PARTITIONS),
        "SGL_LOG_LEVEL": "warning",
        # One token publishes and one reads, both far above the per-token default limit.
        "SGL_RATE_LIMIT": "1000000",
        "SGL_RATE_BURST": "1000000",
    }
    port = free_port()
    consumers = ("case_state", "clocks", "alerts", "access_index", "notes_index")
    only = [arg for name in consumers for arg in ("--only", name)]
    processes = [
        spawn("api", ["serve", "--role", "api", "--port", str(port)], env, root),
        spawn("consumer-1", ["serve", "--role", "consumer"], env, root),
        spawn("consumer-2", ["consume", *only], env, root),
        spawn("consumer-3", ["consume", *only], env, root),
        spawn("sealer", ["serve", "--role", "sealer"], env, root),
    ]
    return f"http://127.0.0.1:{port}", processes


def ready(
    container: Container,
    view: CaseViewStore,
    url: str,
    publisher: str,
    agencies: list[str],
    processes: list[Process],
) -> None:
    """Return once the API answers and knows the agencies, the case view's group has three
    members holding a partition each, and the view has taken in the registry."""

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait(healthy, "answer from the API", processes)
    headers = {"Authorization": f"Bearer {publisher}"}
    wait_known(
        agencies,
        lambda a: httpx.get(f"{url}/v1/agencies/{a}", headers=headers, timeout=30).is_success,
    )
    group = group_name(container.settings.topic, view)
    with KafkaAdminClient(bootstrap_servers=container.settings.kafka_bootstrap) as admin:
        wait(
            lambda: members(admin, group) == [[0], [1], [2]],
            "three consumers holding a partition each",
            processes,
        )
    wait(lambda: lag(container, view) == 0, "case view holding the registry", processes)


def report(
    load: Load, drain: tuple[int, float, int], before: float, after: float, peaks: dict[str, int]
) -> None:
    """Print what the run measured."""
    behind, took_to_drain, left = drain
    took = load.finished - load.started
    rate = load.accepted / took
    per_event = [s / load.args.batch for s in load.latencies]
    failed = sum(load.failures.values())
    print(
        f"accepted: {load.accepted:,} events in {took:.1f} s, {rate:,.0f} events/s; "
        f"{len(load.latencies):,} requests, {failed} failed"
        + (f" {dict(load.failures)}; the first: {load.first_failure}" if failed else "")
        + (f"; attempts retried: {dict(load.retried)}" if load.retried else "")
    )
    print(
        f"publish latency per request: p50 {percentile(load.latencies, 0.5) * 1e3:,.0f} ms, "
        f"p99 {percentile(load.latencies, 0.99) * 1e3:,.0f} ms; per event (a request's time "
        f"over its {load.args.batch} events): p50 {percentile(per_event, 0.5) * 1e6:,.0f} µs, "
        f"p99 {percentile(per_event, 0.99) * 1e6:,.0f} µs"
    )
    if load.visible:
        print(
            f"publish-to-visible ({len(load.visible)} probes, each polled every "
            f"{PROBE_POLL * 1e3:.0f} ms): p50 {percentile(load.visible, 0.5):.2f} s, "
            f"p99 {percentile(load.visible, 0.99):.2f} s, max {max(load.visible):.2f} s"
            + (f"; {load.unseen} never seen" if load.unseen else "")
        )
    caught = (
        f"caught up {took_to_drain:.1f} s later"
        if not left
        else f"still {left:,} behind {took_to_drain:.0f} s later"
    )
    print(f"case view: {behind:,} records behind when publishing stopped, {caught}")
    print(
        f"raw kafka-python producer (warm), after the load: {after:,.0f} events/s; "
        f"accepted / raw: {rate / before:.2f} against the figure before, "
        f"{rate / after:.2f} against the figure after"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        "peak memory (VmHWM): "
        + ", ".join(f"{name} {kib / 1024:,.0f} MiB" for name, kib in peaks.items())
        + f"; this process (publishers, prober, raw producer) {own / 1024:,.0f} MiB"
    )


def drained(container: Container, view: CaseViewStore) -> tuple[int, float, int]:
    """How far behind the case view is now, how long it then took to catch up (bounded by
    DRAIN_SECONDS), and how far behind it still is."""
    behind = lag(container, view)
    stopped = time.perf_counter()
    deadline = time.monotonic() + DRAIN_SECONDS
    left = behind
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = lag(container, view)
    return behind, time.perf_counter() - stopped, left


def run_load(
    load: Load, processes: list[Process], container: Container, view: CaseViewStore
) -> tuple[int, float, int]:
    """Publish and probe until the deadline or the bound, then wait for the case view to
    catch up and the prober to see every probe; what `drained` says."""
    load.publishing.set()
    load.started = time.perf_counter()
    give_up = threading.Event()
    prober = threading.Thread(target=load.prober, args=(give_up,), name="prober")
    prober.start()
    threads = [threading.Thread(target=load.publish) for _ in range(load.args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=1)
            for process in processes:
                process.alive()
    load.publishing.clear()
    drain = drained(container, view)
    # Caught up, every probe shows at the prober's next look; still behind, some never will.
    prober.join(timeout=30 if not drain[2] else 0)
    give_up.set()
    prober.join()
    return drain


def main() -> None:
    args = arguments()
    run = uuid.uuid4().hex[:8]
    settings = settings_for(run)
    root = settings.data_dir
    raw_topic = f"sgl.load.{run}.raw"
    processes: list[Process] = []
    container: Container | None = None
    view: CaseViewStore | None = None
    try:
        configure_logging(settings)
        container = bootstrap(settings)  # the topics, with the ledger's settings, and the schemas
        agencies = register(container)
        view = open_view(settings)
        print(
            f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start\n"
            f"{args.seconds} s, {args.threads} publisher threads, batches of {args.batch}, "
            f"at most {args.max_events:,} events over {args.cases:,} cases, {args.probes} probes"
        )
        raw = raw_producer(settings, raw_topic, args.baseline, args.cases)
        before = raw.rate()
        print(f"raw kafka-python producer (warm), before the load: {before:,.0f} events/s")

        url, processes = start(settings, root)
        publisher = token(root / "api", "publisher", AGENCY)
        reader = token(root / "api", "inquiry", AGENCY)
        ready(container, view, url, publisher, agencies, processes)

        load = Load(url, publisher, reader, args)
        drain = run_load(load, processes, container, view)
        peaks = {p.name: p.peak() for p in processes}
        # The second baseline with the ledger's processes stopped, as the first was.
        for process in processes:
            process.stop()
        after = raw.rate()
        raw.producer.close()
        report(load, drain, before, after, peaks)
    finally:
        for process in processes:
            process.stop()
        if view is not None:
            view.close()
        if container is not None:
            container.close()
        cleanup(settings, raw_topic, f"bench_{run}")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
