"""Poison records on a running ledger, on both backends: each is dead-lettered once with its
reason, key and position; every valid event after them is applied, followed by the clock view
and the alerter, and sealed; verification passes; restarted consumers (and a rebuild that
reads the poison again) stay up and catch up."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from eventsourcing.persistence import PersistenceError
from kafka import KafkaProducer

import consumers.alerter
import projections.case_view
import projections.clock_view
from consumers.follower import CaseFollower
from consumers.sealer import Sealer
from consumers.verify import verify_ledger
from ledger.envelope import canonical_bytes, canonicalise
from ledger.kafka_log import KafkaEventLog
from ledger.log import DeadLetter
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.view_files import open_case_view
from sgl.bootstrap import Container, bootstrap
from sgl.cli import cli
from tests.agencies import with_agencies
from tests.conftest import LiveServer, topic_env, wait_for
from tests.credentials import post_by_caller
from tests.factories import case_events, make_event, meeting_held, new_case_id, unverified_adult
from tests.integration.test_metrics import samples

Position = tuple[int, int]
MAX_RECORD_BYTES = 32 * 1024


class RawProducer:
    """Writes records to the ledger topic unchecked, as a faulty producer would."""

    def __init__(self, container: Container) -> None:
        self.log = container.log
        self.kafka = (
            KafkaProducer(bootstrap_servers=container.settings.kafka_bootstrap)
            if isinstance(self.log, KafkaEventLog)
            else None
        )

    def __call__(self, value: bytes | None, key: bytes | None) -> Position:
        """Write one record; its partition and offset."""
        if self.kafka is None:
            assert isinstance(self.log, SQLiteEventLog) and value is not None
            return 0, self.log.append_raw(value, None if key is None else key.decode())
        sent = self.kafka.send(self.log.topic, key=key, value=value).get(timeout=30)
        return sent.partition, sent.offset

    def close(self) -> None:
        """Close the Kafka producer, if any."""
        if self.kafka is not None:
            self.kafka.close()


def raw(document: dict[str, Any]) -> bytes:
    """An event's bytes as the ledger would append them."""
    return canonical_bytes(canonicalise(document))


def with_note(document: dict[str, Any], note: bytes) -> bytes:
    """The event's bytes with `note` (raw JSON bytes, nested as deep as wanted) in the
    payload: orjson itself writes nothing nested 255 deep."""
    marked = {**document, "payload": {**document["payload"], "note": "NOTE"}}
    return raw(marked).replace(b'"NOTE"', note)


def poison_records(
    backend: str, applied: dict[str, Any]
) -> list[tuple[bytes | None, bytes | None, str]]:
    """(value, key, expected reason) for each kind of poison record; `applied` is an event the
    ledger already holds (a record reusing its event_id with other bytes conflicts)."""
    event = make_event("contact.recorded", applied["case_id"])
    key = applied["case_id"].encode()
    records: list[tuple[bytes | None, bytes | None, str]] = [
        (b"\x00 not json", key, "not-json"),
        (b"null", key, "schema"),
        (raw(event).replace(b"{", b'{"case_id":"CASE-OTHER",', 1), key, "duplicate-key"),
        (with_note(event, b"[" * 255 + b"]" * 255), key, "too-deep"),
        (with_note(event, b'{"a":' * 70 + b"1" + b"}" * 70), key, "too-deep"),
        (with_note(event, b"[" * 5000 + b"]" * 5000), key, "too-deep"),
        (with_note(event, b'"' + b"x" * MAX_RECORD_BYTES + b'"'), key, "too-large"),
        (with_note(event, b'"caf\xe9"'), key, "not-utf8"),
        (raw(make_event("contact.recorded", applied["case_id"])), None, "no-key"),
        (raw({**applied, "agency": "met-police"}), key, "conflict"),
    ]
    if backend == "kafka":
        # Only Kafka holds a record with no value at all (a tombstone), or a key that is not
        # text; the embedded log cannot. (The client sends no tombstone without a key.)
        records += [
            (None, key, "null-value"),
            (raw(make_event("contact.recorded", applied["case_id"])), b"\xff\xfe", "key-mismatch"),
        ]
    return records


def dead_letters(container: Container) -> list[DeadLetter]:
    """Every dead letter of the ledger topic."""
    assert isinstance(container.log, SQLiteEventLog | KafkaEventLog)
    return container.log.dead_letters()


def all_caught_up(http: httpx.Client) -> bool:
    """Every view has taken in every record on the log."""
    lags = [v for (name, _), v in samples(http).items() if name == "sgl_consumer_lag_records"]
    return len(lags) == 7 and not any(lags)


def consumers_up(http: httpx.Client) -> dict[str, float]:
    """sgl_consumer_up by consumer."""
    return {
        dict(labels)["consumer"]: value
        for (name, labels), value in samples(http).items()
        if name == "sgl_consumer_up"
    }


def clock_cases(container: Container) -> set[str]:
    """The cases the clock view holds."""
    view = container.clocks.current()
    with view.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT case_id FROM {view.name}_cases")
        return {row[0] for row in cursor.fetchall()}


def all_sealed(container: Container) -> bool:
    """Every record of every partition of the ledger and of the access log is in the
    partition's latest signed checkpoint, and every checkpoint is on its topic."""
    for log, seal in (
        (container.log, container.seal),
        (container.access_log, container.access_seal),
    ):
        if seal.checkpoints(unpublished=True):
            return False
        for partition, end in log.end_offsets().items():
            latest = seal.checkpoint(partition)
            if end and (latest is None or latest["size"] != end):
                return False
    return True


@pytest.fixture
def failing_folds(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Case ids whose fold fails in the case view (`apply`) and whose refresh fails in the
    clock view and the alerter (`refresh`), as a bug in a projection would."""
    cases = {"apply": new_case_id(), "refresh": new_case_id()}
    fold, runs, rules = (
        projections.case_view.fold_document,
        projections.clock_view.clock_runs,
        consumers.alerter.evaluate_with_due,
    )

    def failing(real: Callable[..., Any], case_of: Callable[..., str], case: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if case_of(*args) == case:
                raise ZeroDivisionError("a projection bug")
            return real(*args, **kwargs)

        return call

    def first_case(_: Any, events: Any, *__: Any) -> str:
        return next((e.case_id for e in events), "")

    def events_case(events: Any, *_: Any) -> str:
        return next((e.case_id for e in events), "")

    monkeypatch.setattr(
        projections.case_view, "fold_document", failing(fold, first_case, cases["apply"])
    )
    monkeypatch.setattr(
        projections.clock_view, "clock_runs", failing(runs, events_case, cases["refresh"])
    )
    monkeypatch.setattr(
        consumers.alerter, "evaluate_with_due", failing(rules, events_case, cases["refresh"])
    )
    yield cases


def test_poison_records_never_stop_a_consumer(
    backend: str, make_settings: Callable[..., Settings], failing_folds: dict[str, str]
) -> None:
    settings = make_settings(
        backend,
        alerter="on",
        max_body_bytes=MAX_RECORD_BYTES // 2,
        max_record_bytes=MAX_RECORD_BYTES,
        checkpoint_seconds=1,
    )
    container = with_agencies(bootstrap(settings))
    server = LiveServer(container).start()
    producer = RawProducer(container)
    expected: dict[Position, tuple[str, bytes | None]] = {}
    try:
        with server.client() as http:
            first = make_event("case.opened")
            assert http.post("/v1/events", json=first).status_code == 201
            wait_for(lambda: container.view.get(first["case_id"]) is not None, what="first")
            for value, key, reason in poison_records(backend, first):
                expected[producer(value, key)] = (reason, key)
            # The same record again is a repeat, not a conflict: it takes effect once.
            producer(raw(first), first["case_id"].encode())
            # An event the case view cannot fold: dead-lettered, never retried forever.
            fails = make_event("case.opened", failing_folds["apply"])
            assert http.post("/v1/events", json=fails).status_code == 201
            expected[_position(container, fails)] = ("apply-failed", fails["case_id"].encode())

            ordinary, alerted = new_case_id(), new_case_id()
            ordinary_events = case_events(ordinary)
            later = [
                *ordinary_events,
                meeting_held(
                    alerted,
                    "initial_cp_conference",
                    ["la-childrens-social-care", "gp-practice-east"],
                    ["la-childrens-social-care"],
                ),
                make_event("case.opened", failing_folds["refresh"]),
                make_event("contact.recorded", first["case_id"]),
            ]
            assert {r.status_code for r in post_by_caller(http, later)} == {201}

            def alert_raised() -> bool:
                answer = http.get(f"/v1/cases/{alerted}/alerts")
                return answer.status_code == 200 and bool(answer.json()["raised"])

            wait_for(alert_raised, timeout=60, what="the alert behind the poison records")
            wait_for(lambda: all_caught_up(http), timeout=60, what="every view caught up")
            wait_for(lambda: all_sealed(container), timeout=30, what="every record sealed")

            letters = dead_letters(container)
            assert {
                (d.source_partition, d.source_offset): (d.reason, d.key) for d in letters
            } == expected
            assert len(letters) == len(expected), "a record was dead-lettered twice"
            assert all(d.detail and d.source_topic == settings.topic for d in letters)
            [applied_failed] = [d for d in letters if d.reason == "apply-failed"]
            assert applied_failed.detail == "ZeroDivisionError applying to case_state"

            opened = container.view.get(first["case_id"])
            assert opened is not None and opened.opened
            # The repeat took effect once; the conflicting record not at all.
            [kept] = [
                e
                for e in container.view.events(first["case_id"])
                if e.event_id == first["event_id"]
            ]
            partition, offset = _position(container, first)
            assert kept.agency == first["agency"] and kept.position == f"{partition}:{offset}"
            assert held(container, ordinary) >= {e["event_id"] for e in ordinary_events}
            assert container.view.get(failing_folds["apply"]) is None
            assert {first["case_id"], ordinary, alerted} <= clock_cases(container)
            assert failing_folds["refresh"] not in clock_cases(container)
            found = samples(http)
            assert found[("sgl_follower_cases_failing", (("view", "clocks"),))] == 1
            assert found[("sgl_follower_cases_failing", (("view", "alerts"),))] == 1
            assert found[("sgl_dead_letters_total", ())] == len(expected)
            assert consumers_up(http) == {
                "case_state": 1,
                "clocks": 1,
                "alerts": 1,
                "seal": 1,
                "access_seal": 1,
                "access_index": 1,
                "notes_index": 1,
            }
            assert http.get("/readyz").status_code == 200

            report = verify_ledger(
                container.log,
                container.checkpoints_log,
                container.verifier_key() or "",
                container.seal,
            )
            assert report.ok, [str(p) for p in report.problems]
            assert report.records == sum(container.log.end_offsets().values())
    finally:
        producer.close()
        server.stop()
        container.close()

    verified = CliRunner().invoke(
        cli,
        ["--data-dir", str(settings.data_dir), "--backend", backend, "verify"],
        env=_env(settings),
    )
    assert verified.exit_code == 0 and "nothing disagrees" in verified.output, verified.output

    # A new process over the same data: every consumer comes up, stays up and catches up; a
    # rebuild of the case view reads every poison record again and letters none twice.
    container = with_agencies(bootstrap(settings))
    server = LiveServer(container).start()
    try:
        with server.client() as http:
            container.rebuild()
            after = make_event("case.opened")
            assert http.post("/v1/events", json=after).status_code == 201
            wait_for(lambda: container.view.get(after["case_id"]) is not None, what="after")
            wait_for(lambda: all_caught_up(http), timeout=60, what="every view caught up again")
            wait_for(lambda: all_sealed(container), timeout=30, what="every record sealed again")
            assert len(dead_letters(container)) == len(expected)
            assert consumers_up(http) == {
                "case_state": 1,
                "clocks": 1,
                "alerts": 1,
                "seal": 1,
                "access_seal": 1,
                "access_index": 1,
                "notes_index": 1,
            }
            assert http.get("/readyz").status_code == 200
            assert held(container, ordinary) >= {e["event_id"] for e in ordinary_events}
    finally:
        server.stop()
        container.close()


def held(container: Container, case_id: str) -> set[str]:
    """The event_ids the case view holds for the case."""
    return {e.event_id for e in container.view.events(case_id)}


def _position(container: Container, event: dict[str, Any]) -> Position:
    receipt = container.log.lookup([event["event_id"]])[event["event_id"]]
    return receipt.partition, receipt.offset


def _env(settings: Settings) -> dict[str, str]:
    return {
        **topic_env(settings),
        "SGL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SGL_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "SGL_MAX_RECORD_BYTES": str(settings.max_record_bytes),
    }


def test_an_event_that_fails_to_apply_is_found_in_its_batch_and_only_it_is_set_aside(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch of 40 events, the 27th failing in the fold: it alone is dead-lettered; a
    transient failure is not the record's fault and is raised for the loop to retry."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        # The agencies are applied first, so the batch under test is the 40 events alone.
        container.runner().run_until_caught_up(30)
        applied = container.view.applied_count()
        first = container.log.end_offsets()[0]
        documents = [make_event("case.opened") for _ in range(40)]
        container.ledger.submit(documents)
        poison = documents[26]["event_id"]
        fold = projections.case_view.fold_document
        down = [True]

        def fragile(document: Any, events: Any) -> Any:
            if down[0]:
                down[0] = False
                raise PersistenceError("database is locked")
            if any(e.event_id == poison for e in events):
                raise KeyError("a projection bug")
            return fold(document, events)

        monkeypatch.setattr(projections.case_view, "fold_document", fragile)
        runner = container.runner()
        with pytest.raises(PersistenceError):
            runner.run_until_caught_up(30)
        assert dead_letters(container) == [] and container.view.applied_count() == applied
        runner.run_until_caught_up(30)
        [letter] = dead_letters(container)
        assert (letter.source_offset, letter.reason) == (first + 26, "apply-failed")
        assert letter.detail == "KeyError applying to case_state"
        assert container.view.applied_count() == applied + 39
        assert container.view.positions(container.log.topic, [0]) == {0: first + 39}
    finally:
        container.close()


def test_a_view_from_before_digests_gains_the_column_and_keeps_its_first_records(
    tmp_path: Path,
) -> None:
    """A case view made before record digests were kept opens with the column added; the
    events applied then cannot be compared, so their first record stands."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE case_state_applied (event_id TEXT PRIMARY KEY, position TEXT NOT NULL)"
            " WITHOUT ROWID"
        )
        old.execute("INSERT INTO case_state_applied VALUES ('e-1', '0:0')")
    view = open_case_view(path)
    try:
        assert view.applied_digests(["e-1", "e-2"]) == {"e-1": ("0:0", None)}
    finally:
        view.datastore.close()


def test_a_stopped_consumer_is_named_by_readyz_and_shown_down_in_metrics(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer that stops (here the sealer, on a failure no record explains) turns /readyz
    to 503 naming it, and its sgl_consumer_up to 0; the others stay up."""

    def broken(*_: Any) -> None:
        raise RuntimeError("a sealer bug")

    monkeypatch.setattr(Sealer, "handle", broken)
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container).start()
    try:
        with server.client() as http:
            assert http.post("/v1/events", json=make_event("case.opened")).status_code == 201
            wait_for(lambda: http.get("/readyz").status_code == 503, what="readyz to say 503")
            answer = http.get("/readyz").json()
            assert answer["detail"] == "consumers stopped: seal"
            # The access log's sealer has sealed nothing (no read was made), so it is still up.
            assert consumers_up(http) == {
                "case_state": 1,
                "clocks": 1,
                "seal": 0,
                "access_seal": 1,
                "access_index": 1,
                "notes_index": 1,
            }
    finally:
        server.stop()
        container.close()


def test_a_case_failing_at_its_deadline_does_not_hold_up_the_others(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alerter's timer: of two cases due, the one whose rules raise is set aside and the
    other's alert is raised."""
    container = with_agencies(bootstrap(make_settings("sqlite", alerter="on")))
    now = [datetime(2007, 3, 6, 9, tzinfo=UTC)]
    try:
        healthy, broken = new_case_id(), new_case_id()
        for case_id in (healthy, broken):
            container.ledger.submit([unverified_adult(case_id, person_id=f"PER-{case_id}")])
        container.runner().run_until_caught_up(30)
        alerter = CaseFollower(
            container.log, container.views, container.alerts, clock=lambda: now[0]
        )
        alerter.run_until_caught_up(30)
        rules = consumers.alerter.evaluate_with_due

        def fragile(events: Any, *args: Any, **kwargs: Any) -> Any:
            if events and events[0].case_id == broken:
                raise ValueError("a rule bug")
            return rules(events, *args, **kwargs)

        monkeypatch.setattr(consumers.alerter, "evaluate_with_due", fragile)
        now[0] = datetime(2007, 3, 20, 9, tzinfo=UTC)
        alerter.tick()
        assert alerter.failing == {broken: "ValueError"}
        store = container.alerts.current().store
        assert [a["rule"] for a in store.raised(healthy)] == ["adult_identity_unverified"]
        assert store.raised(broken) == []
    finally:
        container.close()
