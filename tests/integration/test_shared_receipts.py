"""Two API processes on one Kafka topic and one PostgreSQL receipt index: a batch retried on
both at once is appended once, and both answers agree on where it is; a claim taken over is
settled a slice at a time, and its owner never answers `accepted` for it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from ledger import kafka_log
from ledger import receipts as receipts_module
from ledger.append import digest_of
from ledger.envelope import canonical_bytes, canonicalise
from ledger.errors import LedgerUnavailable
from ledger.kafka_log import KafkaEventLog, KafkaTimeouts
from ledger.log import PendingRecord
from ledger.postgres import PostgresLocation
from ledger.receipts import Claims, PostgresReceiptIndex
from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.tokens import TokenStore
from tests.agencies import registrations
from tests.conftest import free_port, topic_env, wait_for
from tests.factories import make_event, new_case_id
from tests.receipt_sessions import end_session

ROUNDS = 30
EVENTS = 5
# Records on the log before a claim taken over, and seconds to check each while settling.
FILLER = 600
SLOW_CHECK = 0.01
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


def pending(count: int) -> list[PendingRecord]:
    """Records of one new case (not events: the log's settling reads them all the same)."""
    case_id = new_case_id()
    records = []
    for n in range(count):
        value = orjson.dumps({"case_id": case_id, "n": n})
        records.append(PendingRecord(str(uuid.uuid4()), case_id, value, digest_of(value)))
    return records


@pytest.mark.kafka
def test_a_claim_taken_over_far_behind_the_log_is_settled_over_several_probes(
    make_settings: Callable[..., Settings],
    postgres: PostgresLocation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process died holding a claim whose floor is far behind the log's end, and reading
    from there takes longer than an append's wait (each record is made slow to check). The
    log is read on from where the last probe stopped: each retry meanwhile is a prompt 503,
    every record is checked once, the claim's floor rises as the log is read, and a retry
    is then appended, once. (About 10 s.)"""
    monkeypatch.setattr(receipts_module, "TAKEOVER_MARGIN", 0.0)
    settings = make_settings("kafka")
    bootstrap_servers, topic = settings.kafka_bootstrap, settings.topic
    filler = pending(FILLER)
    first = KafkaEventLog(
        bootstrap_servers,
        topic,
        PostgresReceiptIndex.open(postgres, topic, in_flight=0.0),
        dead_letter_topic=settings.dead_letter_topic,
    )
    try:
        first.append(filler)
    finally:
        first.close()
    gone = PostgresReceiptIndex.open(postgres, topic, in_flight=0.0)
    record = pending(1)[0]
    gone.claim([record], dict.fromkeys(range(settings.partitions), 0))
    end_session(gone, close=True)
    checked: list[int] = []
    found = kafka_log._found

    def slow_found(message: Any, *args: Any) -> Any:
        checked.append(message.offset)
        time.sleep(SLOW_CHECK)  # a log this long to read, cheaply
        return found(message, *args)

    monkeypatch.setattr(kafka_log, "_found", slow_found)
    # The append's wait (3.5 s) is shorter than the whole read (6 s).
    timeouts = KafkaTimeouts(request_ms=2_000, delivery_ms=2_500)
    assert timeouts.append_wait < FILLER * SLOW_CHECK
    taker = KafkaEventLog(
        bootstrap_servers,
        topic,
        PostgresReceiptIndex.open(postgres, topic, in_flight=0.0),
        dead_letter_topic=settings.dead_letter_topic,
        timeouts=timeouts,
    )
    floors: list[int] = []
    try:
        answers: list[str] = []

        def appended() -> bool:
            started = time.monotonic()
            try:
                answers.append(taker.append([record])[0].status)
            except LedgerUnavailable:
                assert time.monotonic() - started < 1.0, "a retry was held"
                floors.append(sum(stored_floor(postgres, record.event_id).values()))
                return False
            return True

        wait_for(appended, timeout=40, every=0.2, what="the retry to be appended")
        assert answers == ["accepted"]
        assert len(checked) == FILLER  # each record checked once, across the probes
        # The claim's floor rose as the log was read: a process taking it over next reads on.
        assert any(0 < floor < FILLER for floor in floors), floors
        assert sum(taker.end_offsets().values()) == FILLER + 1
    finally:
        taker.close()


def stored_floor(location: PostgresLocation, event_id: str) -> dict[str, int]:
    """The floor a claim holds in the receipt table ({} once it is a receipt, or gone)."""
    with psycopg.connect(**location.conninfo()) as conn:
        row = conn.execute(
            "SELECT floor FROM receipts WHERE event_id = %s AND floor IS NOT NULL", (event_id,)
        ).fetchone()
    return {} if row is None else dict(orjson.loads(row[0]))


@pytest.mark.kafka
def test_an_owner_whose_claim_was_taken_over_does_not_answer_accepted(
    make_settings: Callable[..., Settings],
    postgres: PostgresLocation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The owner loses its database session after claiming; its record is acknowledged after
    the claim could be taken over (here at once). Still its own claim: accepted. Taken over
    and given up by another process meanwhile: a 503, not an `accepted` it cannot prove is
    the event's only record. (About 2 s.)"""
    monkeypatch.setattr(receipts_module, "TAKEOVER_MARGIN", 0.0)
    settings = make_settings("kafka")
    index = PostgresReceiptIndex.open(postgres, settings.topic, in_flight=0.0)
    owner = KafkaEventLog(
        settings.kafka_bootstrap,
        settings.topic,
        index,
        dead_letter_topic=settings.dead_letter_topic,
    )
    other = PostgresReceiptIndex.open(postgres, settings.topic, in_flight=0.0)
    claim = index.claim
    take_over = False

    def claim_then_lose_the_session(
        records: Sequence[PendingRecord], floor: Mapping[int, int]
    ) -> Claims:
        claims = claim(records, floor)
        end_session(index)
        if take_over:
            # Taken over, read for on the log (not there yet) and given up.
            assert set(other.claim(records, {}).orphaned) == {r.event_id for r in records}
            other.settled([r.event_id for r in records])
        return claims

    monkeypatch.setattr(index, "claim", claim_then_lose_the_session)
    try:
        kept = pending(1)
        assert [r.status for r in owner.append(kept)] == ["accepted"]
        take_over = True
        with pytest.raises(LedgerUnavailable, match="taken over"):
            owner.append(pending(1))
        assert owner.lookup([kept[0].event_id])
    finally:
        owner.close()
        other.close()


@pytest.mark.kafka
def test_a_retry_while_a_settled_claim_is_given_up_is_told_to_retry(
    make_settings: Callable[..., Settings],
    postgres: PostgresLocation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead process's claim taken over and found not on the log is given up while its
    record is still unsure: a retry meanwhile is told to retry (it is not granted the claim
    and sent just as the claim is deleted), and the one after is appended once. (About 1 s.)"""
    monkeypatch.setattr(receipts_module, "TAKEOVER_MARGIN", 0.0)
    settings = make_settings("kafka")
    gone = PostgresReceiptIndex.open(postgres, settings.topic, in_flight=0.0)
    record = pending(1)[0]
    gone.claim([record], dict.fromkeys(range(settings.partitions), 0))
    end_session(gone, close=True)
    index = PostgresReceiptIndex.open(postgres, settings.topic, in_flight=0.0)
    taker = KafkaEventLog(
        settings.kafka_bootstrap,
        settings.topic,
        index,
        dead_letter_topic=settings.dead_letter_topic,
    )
    settled = index.settled
    meanwhile: list[str] = []

    def settled_after_a_retry(event_ids: Collection[str]) -> None:
        try:
            meanwhile.append(taker.append([record])[0].status)
        except LedgerUnavailable as exc:
            meanwhile.append(str(exc))
        settled(event_ids)

    monkeypatch.setattr(index, "settled", settled_after_a_retry)
    try:
        with pytest.raises(LedgerUnavailable, match="process that stopped"):
            taker.append([record])
        answers: list[str] = []

        def appended() -> bool:
            try:
                answers.append(taker.append([record])[0].status)
            except LedgerUnavailable:
                return False
            return True

        wait_for(appended, timeout=20, every=0.1, what="the retry to be appended")
        assert len(meanwhile) == 1 and "after an unconfirmed append" in meanwhile[0], meanwhile
        assert answers == ["accepted"]
        assert sum(taker.end_offsets().values()) == 1
    finally:
        taker.close()
