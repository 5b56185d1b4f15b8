"""The consumer: dead letters for bad records, and every event applied exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteDatastore
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import consumers.runner
from consumers.runner import ProjectionRunner
from ledger.decode import decode_record
from ledger.envelope import canonical_bytes, canonicalise
from ledger.errors import InvalidRecord
from ledger.log import LogRecord
from ledger.settings import Settings
from ledger.sqlite_log import SQLiteEventLog
from projections.case_view import SQLiteCaseView
from projections.tracking import tracking_name
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import wait_for
from tests.factories import case_events, make_event, new_case_id

BAD_RECORDS = [
    (b"\x00\x01 definitely not json", "not-json"),
    (orjson.dumps({**make_event(), "type": "injury.imagined"}), "unknown-type"),
    (orjson.dumps({**make_event(), "payload": {"contact_type": "home_visit"}}), "schema"),
    (orjson.dumps({**make_event(), "recorded_at": "2007-06-30T23:59:60Z"}), "schema"),
]


def read_topic(bootstrap_servers: str, topic: str, count: int) -> list[Any]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        got: list[Any] = []

        def enough() -> bool:
            for batch in consumer.poll(timeout_ms=200).values():
                got.extend(batch)
            return len(got) >= count

        wait_for(enough, timeout=20, what=f"{count} records on {topic}")
        return got
    finally:
        consumer.close()


def test_bad_records_from_a_raw_producer_are_dead_lettered_and_the_consumer_goes_on(
    make_settings: Callable[..., Settings], kafka_bootstrap: str
) -> None:
    """Not JSON, unknown type, schema violation: to the dead-letter topic with the reason."""
    container = with_agencies(bootstrap(make_settings("kafka")))
    registry = sum(container.log.end_offsets().values())  # the agencies' records come first
    good = make_event("case.opened")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    try:
        key = good["case_id"].encode()
        for value, _ in BAD_RECORDS:
            producer.send(container.settings.topic, key=key, value=value)
        producer.send(container.settings.topic, key=key, value=canonical_bytes(canonicalise(good)))
        producer.flush()
        runner = container.runner()
        assert runner.run_until_caught_up(timeout=30) == registry + 1
        assert runner.dead_lettered == len(BAD_RECORDS)
        state = container.view.get(good["case_id"])
        assert state is not None and state.opened
        letters = read_topic(
            kafka_bootstrap, container.settings.dead_letter_topic, len(BAD_RECORDS)
        )
        reasons = sorted(dict(m.headers)["sgl.reason"].decode() for m in letters)
        assert reasons == sorted(r for _, r in BAD_RECORDS)
        assert sorted(m.value for m in letters) == sorted(v for v, _ in BAD_RECORDS)
        for message in letters:
            source = dict(message.headers)["sgl.source"].decode()
            assert source.startswith(container.settings.topic + ":")
    finally:
        producer.close()
        container.close()


def test_bad_records_on_the_embedded_log_are_dead_lettered_too(
    make_settings: Callable[..., Settings],
) -> None:
    """The embedded log keeps dead letters in its own table, with the same reasons."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        assert isinstance(container.log, SQLiteEventLog)
        registry = container.log.end_offsets()[0]  # the agencies' records come first
        for value, _ in BAD_RECORDS:
            container.log.append_raw(value, "CASE-X1")
        good = make_event("case.opened")
        container.ledger.submit([good])
        runner = container.runner()
        assert runner.run_until_caught_up(timeout=10) == registry + 1
        letters = container.log.dead_letters()
        assert [letter.reason for letter in letters] == [r for _, r in BAD_RECORDS]
        assert [letter.source_offset for letter in letters] == list(
            range(registry, registry + len(BAD_RECORDS))
        )
        assert container.view.get(good["case_id"]) is not None
    finally:
        container.close()


def test_a_record_already_dead_lettered_is_neither_counted_nor_logged_again(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second consumer of the log (a new view, a rebuild) meets the lettered record: the
    sink writes nothing, and the runner counts nothing (sgl_dead_letters_total reads it)."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        assert isinstance(container.log, SQLiteEventLog)
        registry = container.log.end_offsets()[0]  # the agencies' records come first
        container.log.append_raw(b"not json", "CASE-X2")
        assert container.runner().run_until_caught_up(timeout=10) == registry
        assert len(container.log.dead_letters()) == 1
        logged = structlog.testing.CapturingLogger()
        monkeypatch.setattr(consumers.runner, "log", logged)
        fresh = SQLiteCaseView(SQLiteDatastore(str(tmp_path / "fresh.sqlite")))
        fresh.create_table()
        again = ProjectionRunner(container.log, fresh, container.schemas, container.dead_letters)
        again.run_until_caught_up(timeout=10)
        assert again.records == registry + 1 and again.dead_lettered == 0
        assert not [c for c in logged.calls if c.args == ("record.dead_lettered",)]
        assert len(container.log.dead_letters()) == 1
    finally:
        container.close()


def test_a_record_keyed_to_another_case_is_dead_lettered(container: Container) -> None:
    """A record whose key is not its case_id would break per-case order: refused."""
    event = make_event()
    value = canonical_bytes(canonicalise(event))
    record = LogRecord("t", 0, 0, datetime.now(UTC), b"CASE-OTHER-1", value)
    with pytest.raises(InvalidRecord) as caught:
        decode_record(record, container.schemas)
    assert caught.value.reason == "key-mismatch"


def test_applying_a_tracked_batch_twice_is_impossible(container: Container) -> None:
    """Re-applying an offset already tracked fails and changes nothing."""
    case_id = new_case_id()
    container.ledger.submit(case_events(case_id))
    runner = container.runner()
    runner.run_until_caught_up(timeout=30)
    before = container.view.get(case_id)
    assert before is not None
    partition = container.log.lookup([before.last_event_id or ""])[before.last_event_id or ""]
    name = tracking_name(container.view.name, container.log.topic, partition.partition)
    with pytest.raises(IntegrityError):
        container.view.apply([], [Tracking(name, partition.offset)])
    assert container.view.get(case_id) == before


def test_an_event_id_on_the_log_twice_takes_effect_once(
    make_settings: Callable[..., Settings],
) -> None:
    """If a duplicate ever reaches the log (two offsets, one event_id), the view applies it once."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        assert isinstance(container.log, SQLiteEventLog)
        registry = container.log.end_offsets()[0]  # the agencies' records come first
        event = make_event("injury.observed")
        value = canonical_bytes(canonicalise(event))
        container.log.append_raw(value, event["case_id"])
        container.log.append_raw(value, event["case_id"])
        runner = container.runner()
        assert runner.run_until_caught_up(timeout=10) == registry + 1
        state = container.view.get(event["case_id"])
        assert state is not None and state.injury_observations == 1
    finally:
        container.close()
