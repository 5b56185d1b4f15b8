"""The broker killed and started again under load: publishers posting batches to an API
process (retrying each batch, same event ids, after a 503, a timeout or a dropped connection)
and two consumer processes, every store in PostgreSQL. Afterwards every event a publisher was
given a receipt for is on the log exactly once (read raw), nothing else is, and every view
equals a clean rebuild."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaAdminClient

from consumers.loop import group_name
from ledger.merkle import record_leaf
from ledger.postgres import PostgresLocation
from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from tests.agencies import registrations
from tests.brokers import PrivateBroker, read_records
from tests.conftest import free_port, wait_for
from tests.credentials import Credentials
from tests.factories import make_event, new_case_id

ROOT = Path(__file__).resolve().parents[2]
# One adapter per agency, each with its own token, cases and batches.
PUBLISHERS = ("example-childrens-social-care", "example-police", "example-hospital")
CASES_EACH = 4
BATCH = 10
# A publisher gives up waiting for an answer after this and sends the same batch again: shorter
# than the API's own wait for the broker's acknowledgements, so some retries overlap an append.
CLIENT_TIMEOUT = 3.0
MOMENT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A private broker, stopped at the end whatever happened."""
    started = PrivateBroker(tmp_path / "kafka", SGL_KAFKA_STOP_TIMEOUT="20")
    started.start()
    yield started
    started.stop()


def ledger_env(broker: PrivateBroker, postgres: PostgresLocation, topic: str) -> dict[str, str]:
    """The variables every process of the ledger shares: the broker, its topics, the
    database every store is in."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        "SGL_BACKEND": "kafka",
        "SGL_KAFKA_BOOTSTRAP": broker.bootstrap,
        "SGL_DATABASE_URL": postgres.url(),
        "SGL_TOPIC": topic,
        "SGL_DEAD_LETTER_TOPIC": f"{topic}.dlq",
        "SGL_ALERTS_TOPIC": f"{topic}.alerts",
        "SGL_CHECKPOINTS_TOPIC": f"{topic}.checkpoints",
        "SGL_ACCESS_TOPIC": f"{topic}.access",
        "SGL_ACCESS_CHECKPOINTS_TOPIC": f"{topic}.access.checkpoints",
        "SGL_NOTES_TOPIC": f"{topic}.notes",
        "SGL_ALERTER": "off",
        "SGL_CONSUMER_BATCH": "200",
        "SGL_RATE_LIMIT": "1000",
        "SGL_RATE_BURST": "2000",
        "SGL_LOG_FORMAT": "json",
        "SGL_LOG_LEVEL": "warning",
    }


class Process:
    """One `sgl` command as a real process with a data directory of its own."""

    def __init__(self, name: str, env: dict[str, str], data: Path, *args: str) -> None:
        self.name = name
        self.env = {**env, "SGL_DATA_DIR": str(data)}
        self.args = args
        self.log = data.parent / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        """Start it (not waiting for anything)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sgl", *self.args], env=self.env, stdout=out, stderr=out
            )
        return self

    def running(self) -> bool:
        """Whether it is still running."""
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> int:
        """SIGTERM, SIGKILL if it has not ended within 30 s; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def tail(self) -> str:
        """The end of what it wrote, for a failure's message."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Publishers:
    """Threads posting batches, one per agency's adapter; each sends the same batch again,
    unchanged, after a 503, a timeout or a dropped connection, until it has a receipt for
    every event in it, and records every receipt it was given."""

    url: str
    auth: httpx.Auth
    stop: threading.Event = field(default_factory=threading.Event)
    receipts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    # When each failure was seen (monotonic), to tell those of the outage.
    failed_at: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Start them."""
        for agency in PUBLISHERS:
            thread = threading.Thread(target=self._publish, args=(agency,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def accepted(self) -> int:
        """Events given a receipt so far."""
        with self.lock:
            return len(self.receipts)

    def failures_since(self, moment: float) -> int:
        """Failed posts (503, timeout, dropped connection) seen since a monotonic moment."""
        with self.lock:
            return sum(at >= moment for at in self.failed_at)

    def finish(self) -> None:
        """Let each finish the batch it is on (retrying until it has receipts), then stop."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a publisher did not finish"

    def _publish(self, agency: str) -> None:
        cases = [new_case_id() for _ in range(CASES_EACH)]
        with httpx.Client(base_url=self.url, timeout=CLIENT_TIMEOUT, auth=self.auth) as client:
            for number in range(1_000_000):
                if self.stop.is_set():
                    return
                batch = [
                    make_event("contact.recorded", cases[(number + i) % CASES_EACH], agency=agency)
                    for i in range(BATCH)
                ]
                if agency == "example-hospital" and number % 5 == 0:
                    # A referral to children's social care starts a clock: the clock view has
                    # something of its own to rebuild.
                    referral = make_event("referral.made", cases[number % CASES_EACH])
                    referral["payload"]["to_agency"] = "la-childrens-social-care"
                    batch.append(referral)
                if not self._until_receipts(client, batch):
                    return
                # Paced: a steady stream, not a benchmark.
                self.stop.wait(0.02)

    def _until_receipts(self, client: httpx.Client, batch: list[dict[str, Any]]) -> bool:
        """Post the batch until it is answered with receipts (False on an unexpected answer,
        which the test asserts on)."""
        while True:
            try:
                answer = client.post("/v1/events", json=batch)
            except httpx.TimeoutException:
                self._failed("timeout")
                continue
            except httpx.TransportError:
                self._failed("connection")
                self.stop.wait(0.1)
                continue
            if answer.status_code == 503:
                self._failed("503")
                self.stop.wait(0.1)
                continue
            given = answer.json().get("receipts") if answer.status_code in (200, 201) else None
            with self.lock:
                if given is None or [r["event_id"] for r in given] != [
                    e["event_id"] for e in batch
                ]:
                    self.unexpected.append(f"{answer.status_code} {answer.text[:300]}")
                    return False
                for receipt, event in zip(given, batch, strict=True):
                    self.receipts.setdefault(event["event_id"], []).append(receipt)
                    self.cases[event["event_id"]] = event["case_id"]
            return True

    def _failed(self, kind: str) -> None:
        with self.lock:
            self.failures[kind] += 1
            self.failed_at.append(time.monotonic())


def ready(url: str) -> int:
    """The status /readyz answers (0 if nothing answers)."""
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code
    except httpx.TransportError:
        return 0


def group_members(admin: Any, group: str) -> int:
    """How many members the group has while it is stable (0 while it rebalances)."""
    described = admin.describe_groups([group])[group]
    return len(described["members"]) if described["group_state"] == "Stable" else 0


def caught_up(store: Any, topic: str, ends: dict[int, int]) -> bool:
    """Whether a store's tracked positions are at the log's end."""
    return bool(store.positions(topic, list(ends)) == {p: e - 1 for p, e in ends.items()})


def committed(admin: Any, group: str) -> dict[int, int]:
    """The offsets the group has committed, per partition."""
    offsets = admin.list_group_offsets({group: None})[group]
    return {tp.partition: o.offset for tp, o in offsets.items()}


@pytest.mark.kafka
def test_a_broker_restart_under_publishers_and_a_consumer_group_loses_and_doubles_nothing(
    broker: PrivateBroker, postgres: PostgresLocation, tmp_path: Path
) -> None:
    """The broker's process killed and started again while three publishers post batches and
    two consumer processes take them in: the API refuses (503) while it is down and accepts
    again after; every event given a receipt is on the log once, where its receipts say, and
    nothing else is; both members are back in the case view's group; the case view, the clock
    view and the seal equal what a clean read of the log makes."""
    topic = f"sgl.brokerfault.{uuid.uuid4().hex[:8]}"
    env = ledger_env(broker, postgres, topic)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = Process("api", env, tmp_path / "api", "serve", "--role", "api", "--port", str(port))
    # Two members of the case view's group (and of the clock view's and the access and notes
    # indexes' groups); the sealers read every partition alone, so one process runs them.
    only = ("case_state", "clocks", "access_index", "notes_index")
    consumers = [
        Process("consumer-a", env, tmp_path / "consumer-a", "serve", "--role", "consumer,sealer"),
        Process(
            "consumer-b",
            env,
            tmp_path / "consumer-b",
            "consume",
            *(arg for name in only for arg in ("--only", name)),
        ),
    ]
    processes = [api, *consumers]
    # The test's own process watches the stores, and rebuilds them at the end.
    settings = Settings.from_env({**env, "SGL_DATA_DIR": str(tmp_path / "checker")})
    credentials = Credentials(Settings.from_env(api.env))
    publishers = Publishers(url, credentials.auth())
    # Seconds from the start to each step, printed with the result (what the test costs).
    began = time.monotonic()
    steps: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [p.terminate() for p in processes if p.process is not None])
        stack.callback(credentials.close)
        stack.callback(publishers.stop.set)
        for process in processes:
            process.start()
        wait_for(lambda: ready(url) == 200, timeout=60, every=0.2, what="the API ready")
        steps["api ready"] = time.monotonic() - began
        registered = httpx.post(
            url + "/v1/events",
            json=registrations(),
            headers=credentials.headers("admin"),
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        container = bootstrap(settings)
        stack.callback(container.close)
        view = container.view
        publishers.start()
        wait_for(lambda: publishers.accepted() >= 150, timeout=60, what="publishing")
        wait_for(lambda: view.applied_count() >= 100, timeout=60, what="the consumers applying")
        steps["applying"] = time.monotonic() - began

        # The outage: the broker's process killed, under publishers and consumers (a crash:
        # appends in flight may be on the log unacknowledged; test_outage stops it cleanly).
        outage_began = time.monotonic()
        broker.kill()
        # That the outage is seen, not how fast (test_outage times that): on a loaded machine
        # an append in flight may wait out the producer's delivery timeout (15 s) first.
        wait_for(lambda: ready(url) == 503, timeout=30, every=0.1, what="/readyz 503")
        wait_for(
            lambda: publishers.failures_since(outage_began) > 0,
            timeout=30,
            what="publishers refused while the broker is down",
        )
        steps["broker stopped"] = time.monotonic() - began
        during = publishers.accepted()
        broker.start()
        steps["broker started"] = time.monotonic() - began
        wait_for(
            lambda: publishers.accepted() >= during + 150,
            timeout=60,
            what="publishing after the broker's return",
        )
        publishers.finish()
        steps["published"] = time.monotonic() - began
        assert all(p.running() for p in processes), [p.name for p in processes if not p.running()]

        ends = container.log.end_offsets()
        clocks = container.clocks.current()
        for name, store in (("case view", view), ("clock view", clocks)):
            wait_for(lambda s=store: caught_up(s, topic, ends), timeout=60, what=name)
        wait_for(
            lambda: {p: container.seal.size(p) for p in ends} == ends,
            timeout=60,
            what="the seal to cover the whole log",
        )
        # Both members are back in the case view's group, its offsets at the log's end.
        group = group_name(topic, view)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            wait_for(lambda: group_members(admin, group) == 2, timeout=30, what="two members")
            wait_for(
                lambda: group_members(admin, group_name(topic, clocks)) == 2,
                timeout=30,
                what="two members of the clock view's group",
            )
            wait_for(lambda: committed(admin, group) == ends, timeout=30, what="group offsets")
        finally:
            admin.close()
        steps["caught up"] = time.monotonic() - began
        exits = {p.name: p.terminate() for p in processes}
        assert exits == {"api": 0, "consumer-a": 0, "consumer-b": 0}, {
            p.name: p.tail() for p in processes
        }
        settled = api.log.read_text().count('"kafka.unsure_settled"')
        sys.stderr.write(
            f"\nreceipts: {len(publishers.receipts)}; failed posts retried: "
            f"{dict(publishers.failures)}; unsure appends settled: {settled}; log: {ends}; "
            f"seconds: { {k: round(v, 1) for k, v in steps.items()} }\n"
        )
        assert publishers.unexpected == []

        # The log read raw: each event given a receipt once, where its receipts say; nothing
        # more.
        records = read_records(broker.bootstrap, topic)
        counts = Counter(orjson.loads(value)["event_id"] for _, _, value in records)
        where = {orjson.loads(v)["event_id"]: (p, o) for p, o, v in records}
        assert [e for e, n in counts.items() if n > 1] == [], "no event is on the log twice"
        assert set(counts) == set(publishers.receipts) | {r["event_id"] for r in registrations()}
        for event_id, receipts in publishers.receipts.items():
            assert {(r["partition"], r["offset"]) for r in receipts} == {where[event_id]}
            assert {r["status"] for r in receipts} <= {"accepted", "duplicate"}
        assert len(records) == sum(ends.values())

        # The seal: a leaf per record, each the hash of the record's exact bytes.
        for partition, end in ends.items():
            raw = sorted((o, v) for p, o, v in records if p == partition)
            assert [o for o, _ in raw] == list(range(end))
            assert container.seal.leaves(partition, 0, end) == [record_leaf(v) for _, v in raw]

        # The views: every event in its case once, and equal to a clean rebuild from the log.
        assert view.applied_count() == len(records)
        case_ids = view.case_ids(limit=100)
        assert sorted(case_ids) == sorted(set(publishers.cases.values()))
        states = {case_id: view.get(case_id) for case_id in case_ids}
        assert sum(s.events for s in states.values() if s) == len(publishers.receipts)
        runs = dict(clocks.ledger_runs(view, MOMENT))
        assert runs and all(runs.values())
        assert container.rebuild().applied == len(records)
        assert {case_id: container.view.get(case_id) for case_id in case_ids} == states
        container.rebuild_follower("clocks")
        assert dict(container.clocks.current().ledger_runs(container.view, MOMENT)) == runs
