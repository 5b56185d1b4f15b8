"""Faults under the case-state view's consumer group on the real broker with its store in a real
PostgreSQL: member processes SIGKILLed at random points, and the database restarted under
them. Each ends with the view equal to a clean rebuild and to an independent read of the log:
every event taken in once, none lost, none doubled."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import SQLiteDatastore
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.runner import ProjectionRunner
from ledger.envelope import canonical_bytes, canonicalise
from ledger.errors import LedgerUnavailable
from ledger.postgres import PostgresLocation
from ledger.settings import Settings
from projections.case_view import CaseViewStore, SQLiteCaseView
from projections.view_files import PostgresGenerations
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import free_port, topic_env, wait_for
from tests.factories import make_event, new_case_id

ROOT = Path(__file__).resolve().parents[2]
TYPES = ("contact.recorded", "injury.observed", "decision.recorded")


def ledger_events(total: int, cases: int) -> tuple[list[str], list[dict[str, object]]]:
    """`total` events over `cases` cases, each case opened first."""
    ids = [new_case_id() for _ in range(cases)]
    events = [make_event("case.opened", case_id) for case_id in ids]
    events += [make_event(TYPES[i % 3], ids[i % cases]) for i in range(total - cases)]
    return ids, events


class Publisher(threading.Thread):
    """Submits the events in batches through the append path, then sends some of them again
    as raw records (the same bytes twice on the log: a crash between the broker's ack and the
    receipt index)."""

    def __init__(self, container: Container, events: list[dict[str, object]], again: int) -> None:
        super().__init__()
        self.container = container
        self.events = events
        self.again = events[len(events) // 2 : len(events) // 2 + again]
        self.retries = 0

    def run(self) -> None:
        for start in range(0, len(self.events), 500):
            batch = self.events[start : start + 500]
            # A loaded broker may not confirm in time: retried, as a publisher does, with the
            # same event ids (what did land is answered as a duplicate).
            deadline = time.monotonic() + 120
            while True:
                try:
                    self.container.ledger.submit(batch)
                    break
                except LedgerUnavailable:
                    # A publisher's back-off between retries, bounded: never a hang.
                    assert time.monotonic() < deadline, "a batch not accepted within 120 s"
                    self.retries += 1
                    time.sleep(0.2)
        settings = self.container.settings
        raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        for event in self.again:
            value = canonical_bytes(canonicalise(event))
            raw.send(settings.topic, key=str(event["case_id"]).encode(), value=value)
        raw.close()


class Member:
    """`sgl consume --only case_state` as a real process: a member of the view's consumer
    group, with a data directory of its own and the view in PostgreSQL."""

    def __init__(self, settings: Settings, number: int, *, static: bool) -> None:
        self.env = {
            **os.environ,
            **topic_env(settings),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "SGL_BACKEND": "kafka",
            "SGL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "SGL_DATA_DIR": str(settings.data_dir.parent / f"member-{number}"),
            "SGL_DATABASE_URL": settings.database_url,
            "SGL_CONSUMER_BATCH": "500",
            "SGL_ALERTER": "off",
            "SGL_LOG_FORMAT": "json",
        }
        if static:
            self.env["SGL_CONSUMER_INSTANCE"] = f"member-{number}"
        self.log = settings.data_dir.parent / f"member-{number}.log"
        self.process = self._start()
        self.starts = 1

    def _start(self) -> subprocess.Popen[bytes]:
        self.began = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "sgl", "consume", "--only", "case_state"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def kill_and_restart(self) -> None:
        """SIGKILL the process wherever it is, and start it again as the same member."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = self._start()
        self.starts += 1

    def stop(self) -> int:
        """SIGTERM once the process runs its loop (a SIGTERM before it only kills it); its exit
        code."""
        if self.process.poll() is None:
            wait_for(
                lambda: self.process.poll() is not None or self.running(),
                timeout=60,
                every=0.1,
                what="a member to start its loop",
            )
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def running(self) -> bool:
        """Whether the process started last has begun its loop."""
        return b'"consumer.joining"' in self._since_start()

    def holding(self, since: int | None = None) -> bool:
        """Whether the process holds partitions now (its last group event since it started,
        or since the log's size was `since`, is an assignment of some)."""
        events = [
            orjson.loads(line)
            for line in self._since_start(since).splitlines()
            if b'"group.' in line and line.startswith(b"{")
        ]
        return (
            bool(events)
            and events[-1]["event"] == "group.assigned"
            and bool(events[-1]["partitions"])
        )

    def size(self) -> int:
        """Its log's size now (a mark for `holding`)."""
        return self.log.stat().st_size

    def _since_start(self, since: int | None = None) -> bytes:
        with self.log.open("rb") as log:
            log.seek(self.began if since is None else since)
            return log.read()

    def logged(self, event: str) -> int:
        """How many lines of its log (every start's) are the event."""
        return sum(orjson.loads(line).get("event") == event for line in self.lines())

    def lines(self) -> list[bytes]:
        return [line for line in self.log.read_bytes().splitlines() if line.startswith(b"{")]


def taken(view: CaseViewStore, settings: Settings, partitions: list[int]) -> int:
    """Records of the log the view has taken in (its tracked positions); 0 while its database
    does not answer."""
    try:
        positions = view.positions(settings.topic, partitions)
    except PersistenceError:
        return 0
    return sum(offset + 1 for offset in positions.values())


def read_log(settings: Settings, ends: dict[int, int]) -> Counter[str]:
    """Per case, the distinct events on the log up to `ends`, read by a plain kafka-python
    consumer (not the ledger's reader)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    partitions = [TopicPartition(settings.topic, p) for p in ends]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 120
    try:
        while any(consumer.position(tp) < ends[tp.partition] for tp in partitions):
            assert time.monotonic() < deadline, "the log was not read within 120 s"
            for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                for record in records:
                    event = orjson.loads(record.value)
                    seen[event["event_id"]] = event["case_id"]
    finally:
        consumer.close()
    return Counter(seen.values())


def assert_equal_to_a_clean_rebuild(
    container: Container, view: CaseViewStore, cases: list[str], tmp_path: Path
) -> None:
    """The view holds each distinct event on the log once, and every case equals the case
    rebuilt from the log by a single consumer into a fresh SQLite view."""
    settings = container.settings
    ends = container.log.end_offsets()
    on_log = read_log(settings, ends)
    assert view.applied_count() == sum(on_log.values())
    rebuilt = SQLiteCaseView(SQLiteDatastore(str(tmp_path / "rebuild.sqlite")))
    rebuilt.create_table()
    clean = ProjectionRunner(container.log, rebuilt, container.schemas, container.dead_letters)
    assert clean.run_until_caught_up(timeout=120) == sum(on_log.values())
    assert view.case_ids(limit=len(cases) + 1) == rebuilt.case_ids(limit=len(cases) + 1)
    assert sorted(view.case_ids(limit=len(cases) + 1)) == sorted(cases)
    for case_id in cases:
        state = view.get(case_id)
        assert state == rebuilt.get(case_id)
        assert state is not None and state.events == on_log[case_id]
    rebuilt.close()


def caught_up(container: Container, view: CaseViewStore, timeout: float) -> None:
    """Wait until the view has taken in every record on the log now."""
    settings = container.settings
    ends = container.log.end_offsets()
    wait_for(
        lambda: taken(view, settings, list(ends)) == sum(ends.values()),
        timeout=timeout,
        every=0.2,
        what="the group to take in the whole log",
    )


KILL_TOTAL = 50_000
KILL_CASES = 500
KILL_MEMBERS = 3
KILLS = 24


@pytest.mark.kafka
def test_members_sigkilled_at_random_points_lose_and_double_nothing(
    make_settings: Callable[..., Settings], postgres: PostgresLocation, tmp_path: Path
) -> None:
    """50,000 events through three member processes (static members: a restarted one takes
    its partitions back at once), SIGKILLed 24 times at random points of the stream."""
    settings = make_settings("kafka", partitions=3, database_url=postgres.url())
    container = with_agencies(bootstrap(settings))
    view = container.view
    registered = sum(container.log.end_offsets().values())
    cases, events = ledger_events(KILL_TOTAL, KILL_CASES)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    # Each kill once the view has taken in this many records: a random point of the stream.
    points = sorted(rng.sample(range(registered + 1000, registered + KILL_TOTAL - 1000), KILLS))
    publisher = Publisher(container, events, again=100)
    members = [Member(settings, n, static=True) for n in range(KILL_MEMBERS)]
    partitions = container.log.partitions()
    mid_stream = holding = 0
    try:
        publisher.start()
        for point in points:
            wait_for(
                lambda p=point: taken(view, settings, partitions) >= p,
                timeout=120,
                every=0.05,
                what=f"{point} records taken in (seed {seed})",
            )
            # The victim: any member whose process has begun its loop (at a point of the
            # stream close to the last one, the one just restarted may still be starting).
            wait_for(lambda: any(m.running() for m in members), timeout=60, what="a running member")
            victim = rng.choice([m for m in members if m.running()])
            holding += victim.holding()
            victim.kill_and_restart()
            ends = container.log.end_offsets()
            mid_stream += publisher.is_alive() or taken(view, settings, partitions) < sum(
                ends.values()
            )
        publisher.join(timeout=120)
        assert not publisher.is_alive()
        caught_up(container, view, timeout=120)
    finally:
        exits = [member.stop() for member in members]
        publisher.join(timeout=120)

    assert exits == [0] * KILL_MEMBERS, members[0].log.read_text()[-3000:]
    assert sum(m.starts for m in members) == KILL_MEMBERS + KILLS
    # Every kill landed while the stream was still being taken in, most on a member holding
    # partitions (the others on one joining, or in a rebalance).
    assert mid_stream == KILLS, f"seed {seed}"
    assert holding >= KILLS // 2, f"seed {seed}"
    assert sum(container.log.end_offsets().values()) == registered + KILL_TOTAL + 100
    assert view.applied_count() == registered + KILL_TOTAL
    assert_equal_to_a_clean_rebuild(container, view, cases, tmp_path)
    container.close()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (`scripts/postgres.sh` on a free port), which the
    test may stop and start; removed at the end."""

    def __init__(self) -> None:
        # A folder the server's `postgres` user can reach when the tests run as root.
        self.home = Path(tempfile.mkdtemp(prefix="sgl-pg-fault-", dir="/var/tmp"))
        self.home.chmod(0o755)
        self.port = free_port()
        self.env = {
            **os.environ,
            "SGL_PG_PORT": str(self.port),
            "SGL_PG_DATA": str(self.home / "data"),
            "SGL_PG_FSYNC": "off",
        }

    def url(self, schema: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/sgl?schema={schema}"

    def run(self, command: str) -> None:
        subprocess.run(
            [str(ROOT / "scripts" / "postgres.sh"), command],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def remove(self) -> None:
        self.run("stop")
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def private_postgres(postgres_url: str) -> Iterator[PrivatePostgres]:
    """A private cluster, started; stopped and removed whatever happened (beside the shared
    server, whose `postgres_url` says PostgreSQL is installed, and marks the test)."""
    cluster = PrivatePostgres()
    try:
        cluster.run("start")
        yield cluster
    finally:
        cluster.remove()


RESTART_TOTAL = 15_000
RESTART_CASES = 200
RESTARTS = 2
# Records the members take in before each outage (before the second: after the first, so
# they resumed), and how long the database stays down once a member has felt it.
EVERY = 3_000
DOWN_SECONDS = 3.0


@pytest.mark.kafka
def test_postgresql_restarted_under_running_members_loses_and_doubles_nothing(
    make_settings: Callable[..., Settings], private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """Two member processes (dynamic members, the default) go on through two restarts of
    their database while events are published: they retry, and resume from what is
    tracked."""
    settings = make_settings("kafka", partitions=3, database_url=private_postgres.url("fault"))
    container = with_agencies(bootstrap(settings))
    view = container.view
    registered = sum(container.log.end_offsets().values())
    cases, events = ledger_events(RESTART_TOTAL, RESTART_CASES)
    publisher = Publisher(container, events, again=50)
    members = [Member(settings, n, static=False) for n in range(2)]
    partitions = container.log.partitions()
    try:
        publisher.start()
        # A process starting while its database is down exits (its supervisor restarts it):
        # these fail only once running.
        wait_for(lambda: all(m.running() for m in members), timeout=60, what="both members")
        before = registered
        for _ in range(RESTARTS):
            wait_for(
                lambda b=before: taken(view, settings, partitions) >= b + EVERY,
                timeout=120,
                every=0.05,
                what=f"{EVERY} more records taken in",
            )
            before = taken(view, settings, partitions)
            private_postgres.run("stop")
            # The outage is felt: a member fails a batch or a read of the view's generation,
            # and retries (a read of positions retries inside the library, without a word).
            retried = sum(m.logged("consumer.retrying") for m in members)
            wait_for(
                lambda r=retried: sum(m.logged("consumer.retrying") for m in members) > r,
                timeout=60,
                every=0.1,
                what="a member to fail and retry",
            )
            time.sleep(DOWN_SECONDS)  # the outage itself: how long the database stays down
            marks = [m.size() for m in members]
            private_postgres.run("start")
        publisher.join(timeout=120)
        assert not publisher.is_alive()
        caught_up(container, view, timeout=120)
        # Each member is back in the group with partitions of its own (one still waiting out
        # its back-off rejoins within it).
        wait_for(
            lambda: all(m.holding(mark) for m, mark in zip(members, marks, strict=True)),
            timeout=60,
            every=0.1,
            what="both members holding partitions again",
        )
    finally:
        exits = [member.stop() for member in members]
        publisher.join(timeout=120)

    assert exits == [0, 0], members[0].log.read_text()[-3000:]
    assert not any(m.logged("consumer.failed") for m in members)
    assert sum(container.log.end_offsets().values()) == registered + RESTART_TOTAL + 50
    assert view.applied_count() == registered + RESTART_TOTAL
    assert_equal_to_a_clean_rebuild(container, view, cases, tmp_path)
    container.close()


def test_the_generations_pointer_is_unavailable_while_the_database_is_down(
    private_postgres: PrivatePostgres,
) -> None:
    """What a consumer loop retries (a PersistenceError), never an error that stops it; the
    same object answers again once the database is back."""
    generations = PostgresGenerations(
        PostgresLocation.parse(private_postgres.url("pointer")), "case_state"
    )
    try:
        assert generations.current().schema == "pointer_case_state"
        private_postgres.run("stop")
        with pytest.raises(PersistenceError, match="generations of case_state"):
            generations.current()
        with pytest.raises(PersistenceError, match=r"Connection refused|connection failed"):
            generations.current()
        private_postgres.run("start")
        assert generations.current().schema == "pointer_case_state"
    finally:
        generations.close()
