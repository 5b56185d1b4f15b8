"""`sgl rebuild`: a new view built beside the serving one, swapped in, equal to a full replay."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.decode import decode_record
from ledger.envelope import Event
from ledger.settings import Settings
from projections.agencies import REGISTRY_CASE
from projections.as_of import state_as_of
from projections.knowledge import knowledge
from projections.view_files import RebuildInProgress, ViewFiles, open_case_view
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, new_case_id
from tests.unit.test_as_of import START, build_documents, ops

TYPES = ("contact.recorded", "injury.observed", "decision.recorded")


def sgl_env(settings: Settings) -> dict[str, str]:
    """The environment that points a `sgl` process at these settings."""
    return {
        **os.environ,
        "SGL_BACKEND": settings.backend,
        "SGL_DATA_DIR": str(settings.data_dir),
        "SGL_TOPIC": settings.topic,
        "SGL_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "SGL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SGL_CONSUMER_BATCH": "200",
        "SGL_LOG_FORMAT": "json",
    }


def replayed(container: Container) -> dict[str, list[Event]]:
    """Every case's events read straight from the log, with no view involved."""
    reader = container.log.reader({})
    ends = container.log.end_offsets()
    by_case: dict[str, list[Event]] = defaultdict(list)
    seen: dict[int, int] = {}
    try:
        while any(seen.get(p, 0) < end for p, end in ends.items()):
            for record in reader.poll(1000, 0.5):
                event = decode_record(record, container.schemas)
                by_case[event.case_id].append(event)
                seen[record.partition] = record.offset + 1
    finally:
        reader.close()
    return by_case


def test_a_rebuild_while_serving_swaps_in_a_view_equal_to_a_full_replay(
    container: Container,
) -> None:
    """The API answers throughout; afterwards it reads the new generation, which is exact."""
    registry = sum(container.log.end_offsets().values())  # the agencies' records come first
    cases = [new_case_id() for _ in range(20)]
    first = [make_event("case.opened", c) for c in cases]
    first += [make_event(TYPES[i % 3], cases[i % 20]) for i in range(1500)]
    container.ledger.submit(first)
    server = LiveServer(container).start()
    files = container.views.files
    live_before = files.current()
    try:
        with server.client() as http:
            wait_for(
                lambda: container.view.applied_count() == registry + len(first),
                timeout=60,
                what="the live view to catch up",
            )
            stop = threading.Event()
            answers: list[int] = []
            during: list[dict[str, object]] = []

            def keep_busy() -> None:
                while not stop.is_set():
                    answers.append(http.get(f"/v1/cases/{cases[0]}").status_code)
                    event = make_event("contact.recorded", cases[len(during) % 20])
                    assert http.post("/v1/events", json=event).status_code == 201
                    during.append(event)

            busy = threading.Thread(target=keep_busy)
            busy.start()
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "sgl", "rebuild", "case_state"],
                    env=sgl_env(container.settings),
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
            finally:
                stop.set()
                busy.join(timeout=60)
            assert done.returncode == 0, done.stderr
            assert "records/s" in done.stderr and "now serving case_state." in done.stderr
            assert answers and set(answers) == {200}, "the API served throughout the rebuild"
            assert during, "events were appended during the rebuild"

            promoted = files.current()
            assert promoted != live_before and promoted.exists()
            last = make_event("decision.recorded", cases[1])
            assert http.post("/v1/events", json=last).status_code == 201
            total = registry + len(first) + len(during) + 1
            wait_for(
                lambda: container.view.applied_count() == total,
                timeout=60,
                what="the live consumer to carry on in the rebuilt view",
            )
            assert files.current() == promoted
            by_case = replayed(container)
            assert sum(map(len, by_case.values())) == total
            # The registry's events are no case's: they fold into the agencies, not a case.
            assert len(by_case.pop(REGISTRY_CASE)) == registry
            now = datetime.now(UTC)
            for case_id, events in by_case.items():
                shown = http.get(f"/v1/cases/{case_id}").json()
                expected = state_as_of(events, now)
                assert expected is not None
                assert shown["events"] == expected.events == len(events)
                assert shown["last_event_id"] == expected.last_event_id
                assert container.view.get(case_id) == expected
    finally:
        server.stop()


def test_promotion_keeps_the_new_and_the_previous_generation_only(tmp_path: Path) -> None:
    """Three rebuilds: the first file is removed, the last two stay; readers follow the pointer."""
    files = ViewFiles(tmp_path, "case_state")
    assert files.current() == tmp_path / "case_state.sqlite"
    open_case_view(files.current()).datastore.close()
    made = []
    for _ in range(3):
        path = files.new_generation()
        open_case_view(path).datastore.close()
        files.promote(path)
        made.append(path)
        assert files.current() == path
    assert files.generations() == made[1:]


def test_a_second_rebuild_at_the_same_time_is_refused(tmp_path: Path) -> None:
    """The rebuild lock is exclusive per view."""
    files = ViewFiles(tmp_path, "case_state")
    with files.rebuild_lock(), pytest.raises(RebuildInProgress), files.rebuild_lock():
        pass
    with files.rebuild_lock():  # released: a later rebuild may run
        pass


def test_a_failed_rebuild_leaves_the_live_view_and_no_partial_file(container: Container) -> None:
    """An interrupted rebuild removes its file; the pointer and the live view are untouched."""
    case_id = new_case_id()
    registry = sum(container.log.end_offsets().values())  # the agencies' records come first
    container.ledger.submit(
        [make_event("case.opened", case_id)]
        + [make_event("contact.recorded", case_id) for _ in range(50)]
    )
    container.runner().run_until_caught_up(timeout=60)
    before = container.views.files.current()

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        container.rebuild(progress=interrupt)
    assert container.views.files.current() == before
    assert container.views.files.generations() == [before]
    assert container.view.applied_count() == registry + 51


@pytest.mark.kafka
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(ops, min_size=1, max_size=3),
    st.randoms(use_true_random=False),
    st.lists(st.integers(1, 40), min_size=1, max_size=4),
    st.lists(st.integers(-1, 62), min_size=1, max_size=4),
)
def test_on_kafka_a_rebuild_equals_the_live_view(
    kafka_bootstrap: str,
    scripts: list[list[tuple[Any, ...]]],
    rng: random.Random,
    batches: list[int],
    days: list[int],
) -> None:
    """Random cases with corrections and retractions, interleaved, appended in random batches
    while the live consumer runs: the rebuilt view equals the live one, now and as of any date."""
    cases = [build_documents(script) for script in scripts]
    # Interleave the cases at random, each in its own order.
    queue = [i for i, documents in enumerate(cases) for _ in documents]
    rng.shuffle(queue)
    cursors = [iter(documents) for documents in cases]
    stream = [next(cursors[i]) for i in queue]
    with tempfile.TemporaryDirectory() as folder:
        suffix = uuid.uuid4().hex[:12]
        built = with_agencies(
            bootstrap(
                Settings.from_env(
                    {},
                    backend="kafka",
                    kafka_bootstrap=kafka_bootstrap,
                    data_dir=Path(folder),
                    topic=f"sgl.test.{suffix}",
                    dead_letter_topic=f"sgl.test.{suffix}.dlq",
                    consumer_batch=rng.choice([1, 3, 50]),
                    snapshot_every=rng.choice([1, 2, 5]),
                )
            )
        )
        try:
            registry = sum(built.log.end_offsets().values())  # the agencies' records first
            # The live consumer: one reader, each poll applied as it comes, between appends.
            runner = built.runner()
            reader = built.log.reader({})
            try:
                start = 0
                sizes = iter(batches * len(stream))
                while start < len(stream):
                    end = start + next(sizes)
                    built.ledger.submit(stream[start:end])
                    start = min(end, len(stream))
                    deadline = time.monotonic() + 30
                    while runner.view.applied_count() < registry + start:
                        assert time.monotonic() < deadline, "the live view fell behind"
                        records = reader.poll(runner.batch_size, 0.2)
                        if records:
                            runner.handle(records)
            finally:
                reader.close()
            old = built.view
            report = built.rebuild()
            new = built.view
            assert new is not old and report.applied == registry + len(stream)
            case_ids = sorted({d["case_id"] for d in stream})
            assert new.case_ids() == old.case_ids() == case_ids
            for case_id in case_ids:
                assert new.get(case_id) == old.get(case_id)
                assert new.events(case_id) == old.events(case_id)
                for day in days:
                    moment = START + timedelta(days=day, hours=1)
                    assert new.state_as_of(case_id, moment) == old.state_as_of(case_id, moment)
                    assert new.state_as_of(case_id, moment) == state_as_of(
                        new.events(case_id), moment
                    )
                    assert knowledge(new.events(case_id), moment) == knowledge(
                        old.events(case_id), moment
                    )
        finally:
            built.close()


def test_a_rebuild_does_not_dead_letter_again_what_the_live_view_dead_lettered(
    make_settings: Callable[..., Settings],
) -> None:
    """One bad record: the live consumer dead-letters it once; rebuilding adds no second copy,
    while a bad record the live view has not reached yet is still dead-lettered."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    try:
        case_id = new_case_id()
        registry = container.log.end_offsets()[0]  # the agencies' records come first
        container.ledger.submit([make_event("case.opened", case_id)])
        log: Any = container.log
        log.append_raw(b"not json", case_id)
        container.runner().run_until_caught_up(timeout=30)
        assert len(log.dead_letters()) == 1
        container.rebuild()
        assert len(log.dead_letters()) == 1
        log.append_raw(b"{not json either", case_id)
        container.rebuild()  # the live view has not read this one: the rebuild dead-letters it
        assert [d.source_offset for d in log.dead_letters()] == [registry + 1, registry + 2]
    finally:
        container.close()
