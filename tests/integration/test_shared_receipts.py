"""Two API processes on one Kafka topic and one PostgreSQL receipt index: a batch retried on
both at once is appended once, and both answers agree on where it is."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ledger.envelope import canonical_bytes, canonicalise
from ledger.postgres import PostgresLocation
from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.tokens import TokenStore
from tests.agencies import registrations
from tests.conftest import free_port, topic_env, wait_for
from tests.factories import make_event, new_case_id

ROUNDS = 30
EVENTS = 5
AGENCY = "example-childrens-social-care"


def database_url(location: PostgresLocation) -> str:
    """The URL of a test's schema (the test server needs no password)."""
    return (
        f"postgresql://{location.user}@{location.host}:{location.port}/{location.dbname}"
        f"?schema={location.schema}"
    )


@contextmanager
def api_process(settings: Settings, data_dir: Path, url: str) -> Iterator[tuple[str, str]]:
    """`sgl serve` without consumers in a subprocess with a data directory of its own; yields
    its address and a publisher's token."""
    store = TokenStore(Settings.from_env({}, data_dir=data_dir).tokens_db)
    try:
        expires = datetime.now(UTC) + timedelta(days=1)
        token = store.create(AGENCY, "publisher", expires, label="test").token
    finally:
        store.close()
    port = free_port()
    env = {
        **os.environ,
        **topic_env(settings),
        "SGL_BACKEND": "kafka",
        "SGL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SGL_DATA_DIR": str(data_dir),
        "SGL_DATABASE_URL": url,
        "SGL_ALERTER": "off",
        "SGL_RATE_LIMIT": "1000",
        "SGL_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sgl", "serve", "--no-consumer", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, "the API process stopped"
        try:
            return httpx.get(address + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout=60, what="the API process to answer")
        yield address, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def post_together(
    targets: list[tuple[str, str, list[dict[str, Any]]]],
) -> list[httpx.Response]:
    """POST each batch to its server at the same moment; the answers in the same order."""
    barrier = threading.Barrier(len(targets))
    answers: list[httpx.Response | None] = [None] * len(targets)

    def post(at: int) -> None:
        address, token, batch = targets[at]
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            answers[at] = client.post(
                address + "/v1/events",
                json=batch,
                headers={"Authorization": f"Bearer {token}"},
            )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def digest(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(canonicalise(event))).hexdigest()


def changed(event: dict[str, Any]) -> dict[str, Any]:
    """The same event_id with other content."""
    return {**event, "payload": {**event["payload"], "summary": "Another account of the visit."}}


@pytest.mark.kafka
def test_two_api_processes_given_one_retried_batch_append_each_event_once(
    make_settings: Callable[..., Settings], postgres: PostgresLocation, tmp_path: Path
) -> None:
    """30 rounds: both processes get the same batch at the same moment (every third round the
    second gets other content under the same event_ids). Each event_id is on the log once;
    with the same content one answer accepts it and the other answers the same position as
    a duplicate; with other content the loser is a 409 and the log holds the winner's."""
    url = database_url(postgres)
    settings = make_settings("kafka", database_url=url)
    container = bootstrap(settings)
    try:
        container.ledger.submit(registrations())
    finally:
        container.close()
    expected: dict[str, str] = {}
    with (
        api_process(settings, tmp_path / "api-a", url) as (first, first_token),
        api_process(settings, tmp_path / "api-b", url) as (second, second_token),
    ):
        for round_no in range(ROUNDS):
            case_id = new_case_id()
            batch = [make_event("contact.recorded", case_id) for _ in range(EVENTS)]
            other = [changed(e) for e in batch] if round_no % 3 == 2 else batch
            answers = post_together([(first, first_token, batch), (second, second_token, other)])
            statuses = sorted(a.status_code for a in answers)
            if other is batch:
                assert statuses == [200, 201], [a.text for a in answers]
                one, two = (a.json()["receipts"] for a in answers)
                for mine, theirs in zip(one, two, strict=True):
                    assert sorted([mine["status"], theirs["status"]]) == ["accepted", "duplicate"]
                    assert (mine["partition"], mine["offset"]) == (
                        theirs["partition"],
                        theirs["offset"],
                    )
                expected.update((e["event_id"], digest(e)) for e in batch)
            else:
                assert statuses == [201, 409], [a.text for a in answers]
                won = batch if answers[0].status_code == 201 else other
                expected.update((e["event_id"], digest(e)) for e in won)
    on_log = events_on_log(settings)
    assert {k: v for k, v in on_log.items() if k in expected} == {
        k: [v] for k, v in expected.items()
    }


def events_on_log(settings: Settings) -> dict[str, list[str]]:
    """Every event_id on the ledger topic with the digests of its records there."""
    container = bootstrap(settings)
    try:
        log = container.log
        ends = log.end_offsets()
        reader = log.reader({})
        found: dict[str, list[str]] = {}
        seen = 0

        def read_to_end() -> bool:
            nonlocal seen
            for record in reader.poll(1000, 0.5):
                seen += 1
                assert record.value is not None
                event_id = orjson.loads(record.value)["event_id"]
                found.setdefault(event_id, []).append(hashlib.sha256(record.value).hexdigest())
            return seen >= sum(ends.values())

        try:
            wait_for(read_to_end, timeout=60, what="the whole topic to be read")
        finally:
            reader.close()
        return found
    finally:
        container.close()
