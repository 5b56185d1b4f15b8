"""Broker outages end by themselves: a real `sgl serve` on a private broker stopped three times
for 30 s under publishers, then stopped again while the server is sent SIGTERM."""

from __future__ import annotations

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
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.settings import Settings
from tests.agencies import registrations
from tests.brokers import PrivateBroker, read_topic
from tests.conftest import free_port, wait_for
from tests.credentials import Credentials
from tests.factories import make_event, new_case_id

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 30
# One adapter per agency, each with its own token (and so its own rate limit).
PUBLISHERS = ("example-childrens-social-care", "example-police", "example-hospital")
PER_PUBLISHER = 3000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A private broker, stopped at the end whatever happened."""
    started = PrivateBroker(tmp_path / "kafka", SGL_KAFKA_STOP_TIMEOUT="20")
    started.start()
    yield started
    started.stop()


class Server:
    """`sgl serve` as a real process on the Kafka backend, with a private data directory."""

    def __init__(self, broker: PrivateBroker, data: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        suffix = uuid.uuid4().hex[:8]
        self.topic = f"sgl.outage.{suffix}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SGL_BACKEND": "kafka",
            "SGL_KAFKA_BOOTSTRAP": broker.bootstrap,
            "SGL_DATA_DIR": str(data),
            "SGL_TOPIC": self.topic,
            "SGL_DEAD_LETTER_TOPIC": f"{self.topic}.dlq",
            "SGL_ALERTS_TOPIC": f"{self.topic}.alerts",
            "SGL_CHECKPOINTS_TOPIC": f"{self.topic}.checkpoints",
            "SGL_ACCESS_TOPIC": f"{self.topic}.access",
            "SGL_ACCESS_CHECKPOINTS_TOPIC": f"{self.topic}.access.checkpoints",
            "SGL_NOTES_TOPIC": f"{self.topic}.notes",
            "SGL_ALERTER": "off",
            "SGL_LOG_FORMAT": "json",
            "SGL_LOG_LEVEL": "warning",
        }
        self.log = data.parent / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        # Tokens made in the store the server reads, under its data directory.
        self.credentials = Credentials(Settings.from_env(self.env))

    def start(self) -> None:
        """Start the process and wait until it is ready."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sgl", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=out,
            )
        wait_for(lambda: self.ready() == 200, timeout=60, every=0.1, what="sgl serve ready")

    def ready(self) -> int:
        """The status /readyz answers (0 if nothing answers)."""
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code
        except httpx.TransportError:
            return 0

    def terminate(self) -> float:
        """SIGTERM; the seconds until the process has exited."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return time.monotonic() - started


@dataclass
class Publishers:
    """Threads posting events one by one, one per agency's adapter, each retrying the same
    event_id until it gets a receipt; they record every receipt and how long each 503 took."""

    url: str
    auth: httpx.Auth
    stop: threading.Event = field(default_factory=threading.Event)
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    unavailable: list[float] = field(default_factory=list)
    missing_retry_after: int = 0
    unexpected: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Start them."""
        for agency in PUBLISHERS:
            thread = threading.Thread(target=self._publish, args=(agency,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        """Let each finish the event it is on, then stop."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads)

    def _publish(self, agency: str) -> None:
        case_id = new_case_id()
        with httpx.Client(base_url=self.url, timeout=30, auth=self.auth) as client:
            for _ in range(PER_PUBLISHER):
                if self.stop.is_set():
                    return
                event = make_event("contact.recorded", case_id, agency=agency)
                self._until_receipt(client, event)
                # Paced: a steady stream, not a benchmark.
                self.stop.wait(0.05)

    def _until_receipt(self, client: httpx.Client, event: dict[str, Any]) -> None:
        while True:
            started = time.monotonic()
            try:
                answer = client.post("/v1/events", json=event)
            except httpx.TransportError:
                # The server is being restarted: the same event again.
                self.stop.wait(0.1)
                continue
            took = time.monotonic() - started
            if answer.status_code in (200, 201):
                with self.lock:
                    self.receipts[event["event_id"]] = answer.json()
                    self.cases[event["event_id"]] = event["case_id"]
                return
            with self.lock:
                if answer.status_code != 503:
                    # Asserted by the test: an assertion here would only end this thread.
                    self.unexpected.append(f"{answer.status_code} {answer.text[:200]}")
                    return
                self.unavailable.append(took)
                self.missing_retry_after += "retry-after" not in answer.headers
            self.stop.wait(0.05)


def post_timed(server: Server, event: dict[str, Any]) -> tuple[int, float, httpx.Response]:
    """POST one event as its agency's publisher: its status, the seconds it took, the
    response."""
    headers = server.credentials.headers("publisher", event["agency"])
    started = time.monotonic()
    answer = httpx.post(server.url + "/v1/events", json=event, headers=headers, timeout=30)
    return answer.status_code, time.monotonic() - started, answer


@pytest.mark.kafka
def test_the_api_comes_back_by_itself_after_each_broker_outage(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    """Publishers run through three 30 s outages: POST answers 503 (with Retry-After) within
    2 s while the broker is down, and /readyz within a second; the API accepts again within
    10 s of each return; SIGTERM ends the server within 10 s, also while the broker is down;
    every receipt given is on the log exactly once, where it says, and in the view."""
    server = Server(broker, tmp_path / "data")
    server.start()
    registered = httpx.post(
        f"{server.url}/v1/events",
        json=registrations(),
        headers=server.credentials.headers("admin"),
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    publishers = Publishers(server.url, server.credentials.auth())
    publishers.start()
    down_posts: list[float] = []
    recoveries: list[float] = []
    stops: list[float] = []
    probes: list[dict[str, Any]] = []
    try:
        wait_for(lambda: len(publishers.receipts) >= 50, timeout=60, what="publishing")
        for _ in range(3):
            broker.stop()
            outage_began = time.monotonic()
            wait_for(lambda: server.ready() == 503, timeout=5, every=0.05, what="/readyz 503")
            ready_started = time.monotonic()
            assert server.ready() == 503
            assert time.monotonic() - ready_started < 1.0, "/readyz answers within a second"
            probe = make_event("contact.recorded", new_case_id())
            probes.append(probe)
            status, took, answer = post_timed(server, probe)
            assert status == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            down_posts.append(took)
            # The outage itself: the scenario, not a wait for a condition.
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_began)))
            broker.start()
            back = time.monotonic()
            wait_for(
                lambda p=probe: post_timed(server, p)[0] in (200, 201),
                timeout=10,
                every=0.1,
                what="the API to accept again",
            )
            recoveries.append(time.monotonic() - back)
            wait_for(lambda: server.ready() == 200, timeout=5, what="/readyz 200 again")
        wait_for(lambda: len(publishers.receipts) >= 200, timeout=30, what="publishing after")

        # Stopped while the broker is down, a server still ends within 10 s.
        broker.stop()
        wait_for(lambda: server.ready() == 503, timeout=5, every=0.05, what="/readyz 503")
        stops.append(server.terminate())
        broker.start()
        server.start()
        wait_for(lambda: len(publishers.receipts) >= 300, timeout=60, what="publishing again")
        publishers.finish()
    finally:
        publishers.stop.set()
        if server.process is not None and server.process.poll() is None:
            stops.append(server.terminate())

    sys.stderr.write(
        f"\nrecovery after each return: {[round(r, 2) for r in recoveries]} s; "
        f"POST while down: {[round(d, 3) for d in down_posts]} s; "
        f"503s seen by publishers: {len(publishers.unavailable)}, slowest "
        f"{max(publishers.unavailable, default=0):.2f} s; "
        f"SIGTERM: {[round(s, 2) for s in stops]} s\n"
    )
    assert publishers.unexpected == []
    assert all(r < 10 for r in recoveries), recoveries
    assert all(d < 2 for d in down_posts), down_posts
    # The guide's bound is about 1.3 s; 3 s leaves room for a machine busy with the suite's
    # other worker (2.13 s was seen so), and still fails a POST held for a delivery timeout.
    assert max(publishers.unavailable) < 3, "every 503 a publisher saw came within 3 s"
    assert publishers.missing_retry_after == 0
    assert all(s < 10 for s in stops), stops
    assert len(stops) == 2

    on_log = read_topic(broker.bootstrap, server.topic)
    counts = Counter(event_id for event_id, _, _ in on_log)
    where = {event_id: (partition, offset) for event_id, partition, offset in on_log}
    assert [e for e, n in counts.items() if n > 1] == [], "no event is on the log twice"
    for event_id, receipt in publishers.receipts.items():
        assert counts[event_id] == 1, event_id
        assert where[event_id] == (receipt["partition"], receipt["offset"]), event_id
    assert all(counts[p["event_id"]] == 1 for p in probes), "each outage's probe, once"
    _check_view(broker, server, publishers)


def _check_view(broker: PrivateBroker, server: Server, publishers: Publishers) -> None:
    """A fresh server over the same data directory shows every receipted event in its case."""
    server.start()
    try:
        expected: dict[str, set[str]] = {}
        for event_id, case_id in publishers.cases.items():
            expected.setdefault(case_id, set()).add(event_id)

        reader = server.credentials.headers("inquiry")

        def in_view() -> bool:
            for case_id, event_ids in expected.items():
                answer = httpx.get(
                    f"{server.url}/v1/cases/{case_id}/history", headers=reader, timeout=10
                )
                if answer.status_code != 200:
                    return False
                shown = [e["event_id"] for e in answer.json()["entries"]]
                if len(shown) != len(set(shown)) or set(shown) != event_ids:
                    return False
            return True

        wait_for(in_view, timeout=90, every=1.0, what="every receipted event in the view")
    finally:
        assert server.terminate() < 10
        server.credentials.close()
