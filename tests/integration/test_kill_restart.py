"""Exactly once under SIGKILL: a consumer killed mid-stream still builds the exact view."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from eventsourcing.sqlite import SQLiteDatastore
from kafka import KafkaProducer

from consumers.runner import ProjectionRunner
from ledger.envelope import canonical_bytes, canonicalise
from ledger.settings import Settings
from projections.case_view import SQLiteCaseView
from sgl.bootstrap import bootstrap
from tests.agencies import with_agencies
from tests.conftest import wait_for
from tests.factories import make_event, new_case_id

TOTAL = 10_000
CASES = 200
KILL_AT = (1_500, 4_000, 7_000)
TYPES = ("contact.recorded", "injury.observed", "decision.recorded")


def ledger_events() -> list[dict[str, object]]:
    cases = [new_case_id() for _ in range(CASES)]
    events = [make_event("case.opened", case_id) for case_id in cases]
    events += [make_event(TYPES[i % 3], cases[i % CASES]) for i in range(TOTAL - CASES)]
    return events


def start_consumer(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SGL_BACKEND": "kafka",
        "SGL_DATA_DIR": str(settings.data_dir),
        "SGL_TOPIC": settings.topic,
        "SGL_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "SGL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SGL_CONSUMER_BATCH": "300",
        "SGL_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "sgl", "consume", "--only", "case_state"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.kafka
def test_ten_thousand_events_with_three_sigkills_equal_a_clean_rebuild(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """No event lost, none applied twice, through 3 SIGKILLs of the consumer process."""
    settings = make_settings("kafka")
    container = with_agencies(bootstrap(settings))
    # The registrations ahead of the test's events, applied with them.
    registered = sum(container.log.end_offsets().values())
    events = ledger_events()
    # Simulate a crash between the broker's ack and the receipt index: the same bytes twice.
    replayed = [canonical_bytes(canonicalise(e)) for e in events[CASES : CASES + 50]]

    def publish() -> None:
        for start in range(0, TOTAL, 100):
            container.ledger.submit(events[start : start + 100])
        raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        for value, event in zip(replayed, events[CASES : CASES + 50], strict=True):
            raw.send(settings.topic, key=str(event["case_id"]).encode(), value=value)
        raw.close()

    publisher = threading.Thread(target=publish)
    watcher = container.view
    consumer = start_consumer(settings)
    publisher.start()
    kills = 0
    try:
        for threshold in KILL_AT:
            wait_for(
                lambda t=threshold: watcher.applied_count() >= t,
                timeout=120,
                what=f"{threshold} events applied",
            )
            consumer.send_signal(signal.SIGKILL)
            consumer.wait(timeout=30)
            kills += 1
            consumer = start_consumer(settings)
        publisher.join(timeout=120)
        assert not publisher.is_alive()
        ends = container.log.end_offsets()
        assert sum(ends.values()) == registered + TOTAL + len(replayed)
        wait_for(
            lambda: (
                watcher.positions(settings.topic, list(ends)) == {p: e - 1 for p, e in ends.items()}
            ),
            timeout=120,
            what="the consumer to catch up",
        )
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=30)
        publisher.join(timeout=120)

    assert kills == 3
    assert watcher.applied_count() == registered + TOTAL

    rebuilt = SQLiteCaseView(SQLiteDatastore(str(tmp_path / "rebuild.sqlite")))
    rebuilt.create_table()
    clean = ProjectionRunner(container.log, rebuilt, container.schemas, container.dead_letters)
    assert clean.run_until_caught_up(timeout=120) == registered + TOTAL
    case_ids = watcher.case_ids(limit=CASES + 1)
    assert case_ids == rebuilt.case_ids(limit=CASES + 1)
    assert len(case_ids) == CASES
    for case_id in case_ids:
        assert watcher.get(case_id) == rebuilt.get(case_id)
    assert sum(s.events for s in map(watcher.get, case_ids) if s) == TOTAL
    container.close()
