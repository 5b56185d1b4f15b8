"""One contract per view store (case view, clock view, alert store, seal, the access and notes
indexes), per backend.

`ViewStoreContract` holds what every store built on the library's tracking recorder promises:
positions per partition, a position recorded once, the store's writes and its positions
committed together, everything kept across a restart. Each port's contract adds its own
reads and writes; a backend subclasses a port's contract once and says how to build the store
(`create_store`, on the same storage at each call): SQLite files, or a PostgreSQL schema of the
test's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ledger.log import LogRecord
from ledger.merkle import leaf_hash
from ledger.notes import NOTE_RECORD
from ledger.postgres import PostgresLocation
from projections.access_index import PostgresAccessIndex, SQLiteAccessIndex
from projections.alert_store import PostgresAlertStore, SQLiteAlertStore
from projections.as_of import state_as_of
from projections.case_view import PostgresCaseView, SQLiteCaseView
from projections.clock_policy import ClockPolicy, load_clock_policy
from projections.clock_view import (
    PostgresClockView,
    SQLiteClockView,
    open_clock_view,
    open_postgres_clock_view,
    policy_fingerprint,
)
from projections.clocks import clock_runs
from projections.notes_index import PostgresNotesIndex, SQLiteNotesIndex
from projections.seal_view import PostgresSealView, SQLiteSealView
from projections.tracking import tracking_name
from tests.agencies import AGENCIES, registration_event
from tests.factories import as_events, make_event, new_case_id
from tests.unit.test_access_index import access
from tests.unit.test_clocks import matching

TOPIC = "sgl.test.views"
POLICY = load_clock_policy()
POLICY_FILE = Path(__file__).parents[2] / "policies" / "clocks.toml"


class ViewStoreContract:
    """What every tracked view store promises; a port's contract supplies write and content."""

    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _closes_its_stores(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self._open: list[Any] = []
        self.writes = 0
        yield
        for store in self._open:
            store.close()

    def create_store(self) -> Any:
        """The backend's store on this test's storage, tables created."""
        raise NotImplementedError

    def write(self, store: Any, tracking: list[Tracking]) -> None:
        """One of the store's own writes, new content each call, with these positions."""
        raise NotImplementedError

    def content(self, store: Any) -> object:
        """What the store holds, as its reads answer."""
        raise NotImplementedError

    def open_store(self) -> Any:
        store = self.create_store()
        self._open.append(store)
        return store

    def reopen(self, store: Any) -> Any:
        self._open.remove(store)
        store.close()
        return self.open_store()

    def at(self, store: Any, partition: int, offset: int) -> Tracking:
        """The tracking row of a position of this store in the test topic."""
        return Tracking(tracking_name(store.name, TOPIC, partition), offset)

    def test_a_new_store_has_no_positions(self) -> None:
        """Nothing recorded: no partition has a position."""
        assert self.open_store().positions(TOPIC, [0, 1, 2]) == {}

    def test_positions_are_the_last_recorded_per_partition(self) -> None:
        """Each partition answers its latest offset; other views' and topics' rows are apart."""
        store = self.open_store()
        self.write(store, [self.at(store, 0, 3), self.at(store, 2, 9)])
        self.write(store, [self.at(store, 0, 7), Tracking(f"other:{TOPIC}:1", 4)])
        assert store.positions(TOPIC, [0, 1, 2]) == {0: 7, 2: 9}
        assert store.positions("another.topic", [0, 1, 2]) == {}

    def test_a_position_recorded_twice_fails_and_writes_nothing(self) -> None:
        """Writing again at a recorded position raises, and the write's content is not kept."""
        store = self.open_store()
        self.write(store, [self.at(store, 0, 5)])
        before = self.content(store)
        with pytest.raises(IntegrityError):
            self.write(store, [self.at(store, 0, 5)])
        assert self.content(store) == before
        assert store.positions(TOPIC, [0]) == {0: 5}

    def test_content_and_positions_outlive_a_restart(self) -> None:
        """Opened again on the same storage, the store answers as before."""
        store = self.open_store()
        self.write(store, [self.at(store, 1, 2)])
        content = self.content(store)
        store = self.reopen(store)
        assert self.content(store) == content
        assert store.positions(TOPIC, [0, 1]) == {1: 2}

    def test_a_fixed_store_is_its_own_current_source(self) -> None:
        """current() answers the store itself."""
        store = self.open_store()
        assert store.current() is store


class CaseViewContract(ViewStoreContract):
    """The case-state view: events folded per case, each event_id taking effect once."""

    case_id = "CASE-CV-1"

    def write(self, store: Any, tracking: list[Tracking]) -> None:
        self.writes += 1
        kind = "case.opened" if self.writes == 1 else "contact.recorded"
        store.apply(as_events([make_event(kind, self.case_id)]), tracking)

    def content(self, store: Any) -> object:
        return store.get(self.case_id), [e.event_id for e in store.events(self.case_id)]

    def test_an_event_published_twice_takes_effect_once(self) -> None:
        """The same event_id at a second offset is counted once, in the events and the state."""
        store = self.open_store()
        case_id = new_case_id()
        documents = [make_event("case.opened", case_id), make_event("contact.recorded", case_id)]
        events = as_events(documents)
        assert store.apply(events, [self.at(store, 0, 1)]) == 2
        again = as_events([documents[1]])[0]._replace(offset=2)
        assert store.apply([again], [self.at(store, 0, 2)]) == 0
        assert [e.event_id for e in store.events(case_id)] == [e.event_id for e in events]
        state = store.get(case_id)
        assert state is not None and state.opened
        assert store.applied_count() == 2
        assert store.get(new_case_id()) is None

    def test_registry_events_go_to_the_agency_registry_not_a_case(self) -> None:
        """Registry events are read back as the registry, as of a date; no case holds them."""
        store = self.open_store()
        first = registration_event("AG-CV-1", "police", "2001-01-01T00:00:00Z")
        later = registration_event("AG-CV-2", "health", "2003-01-01T00:00:00Z")._replace(offset=1)
        assert store.apply([first, later], [self.at(store, 0, 1)]) == 2
        assert store.agencies.known(["AG-CV-1", "AG-CV-2", "AG-CV-3"]) == {"AG-CV-1", "AG-CV-2"}
        assert [r.agency_id for r in store.agencies.records("2002-01-01T00:00:00Z")] == ["AG-CV-1"]
        assert store.case_ids() == []

    def test_case_reads_answer_in_id_order_with_heads(self) -> None:
        """Case ids in id order, page by page, with each case's count of events."""
        store = self.open_store()
        ids = sorted(new_case_id() for _ in range(3))
        documents = [make_event("case.opened", c) for c in reversed(ids)]
        store.apply(as_events([*documents, make_event("contact.recorded", ids[0])]), [])
        assert store.case_ids() == ids == list(store.all_case_ids())
        assert store.case_ids(limit=2) == ids[:2]
        assert {c: head[0] for c, head in store.heads().items()} == {
            ids[0]: 2,
            ids[1]: 1,
            ids[2]: 1,
        }

    def test_as_of_reads_what_was_recorded_by_then_through_snapshots(self) -> None:
        """A case longer than the snapshot interval answers as of any moment what a pure fold
        of the events recorded by then gives."""
        store = self.open_store()
        case_id = new_case_id()
        start = datetime(2007, 2, 1, tzinfo=UTC)
        stamps = [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(250)]
        events = as_events(
            [make_event("case.opened", case_id, occurred_at=stamps[0], recorded_at=stamps[0])]
            + [
                make_event("contact.recorded", case_id, occurred_at=at, recorded_at=at)
                for at in stamps[1:]
            ]
        )
        store.apply(events[:120], [self.at(store, 0, 119)])
        store.apply(events[120:], [self.at(store, 0, 249)])
        for hours in (-1, 50, 130, 240):
            moment = start + timedelta(hours=hours, minutes=30)
            assert store.state_as_of(case_id, moment) == state_as_of(events, moment), hours
        assert store.state_as_of(case_id, start + timedelta(days=30)) == store.get(case_id)


class ClockViewContract(ViewStoreContract):
    """The clock view: each case's runs, worked out from the case view, as a fold gives them."""

    moment = datetime(2008, 1, 1, tzinfo=UTC)

    def create_case_view(self) -> SQLiteCaseView:
        """The case view the clock view reads (the backend's own, once there is another)."""
        view = SQLiteCaseView(SQLiteDatastore(str(self.tmp_path / "cases.sqlite")))
        view.create_table()
        self._open.append(view)
        return view

    def cases(self) -> SQLiteCaseView:
        if not hasattr(self, "_cases"):
            self._cases = self.create_case_view()
        return self._cases

    def write(self, store: Any, tracking: list[Tracking]) -> None:
        self.writes += 1
        case_id = f"CASE-CK-{self.writes}"
        clock = POLICY.clocks[0]
        start = matching(clock, "start", case_id, date(2007, 3, self.writes))
        self.cases().apply(as_events([start]), [])
        store.refresh(self.cases(), [case_id], tracking, self.moment)

    def content(self, store: Any) -> object:
        return list(store.ledger_runs(self.cases(), self.moment))

    def test_stored_runs_are_what_a_fold_gives(self) -> None:
        """After a refresh, the stored runs equal the runs folded from the case's events."""
        store = self.open_store()
        self.write(store, [self.at(store, 0, 0)])
        [(case_id, runs)] = store.ledger_runs(self.cases(), self.moment)
        events = self.cases().events(case_id)
        assert runs == [r.row() for r in clock_runs(events, self.moment, POLICY, agencies=AGENCIES)]
        assert POLICY.clocks[0].name in {r.clock for r in runs}

    def test_a_case_with_events_not_yet_refreshed_is_folded(self) -> None:
        """The case view ahead of the clock view: the case's stored runs are not used, its
        runs are folded from the case view's events (the stop it has not refreshed ends it)."""
        store = self.open_store()
        self.write(store, [self.at(store, 0, 0)])
        [(case_id, stored)] = store.ledger_runs(self.cases(), self.moment)
        clock = POLICY.clocks[0]
        stop = matching(clock, "stop", case_id, date(2007, 3, 5))
        ahead = Tracking(tracking_name(self.cases().name, TOPIC, 0), 1)
        self.cases().apply(as_events([stop]), [ahead])
        [(_, runs)] = store.ledger_runs(self.cases(), self.moment)
        events = self.cases().events(case_id)
        assert runs == [r.row() for r in clock_runs(events, self.moment, POLICY, agencies=AGENCIES)]
        assert [r.stop_event for r in stored if r.clock == clock.name] == [None]
        assert [r.stop_event for r in runs if r.clock == clock.name] == [stop["event_id"]]

    def test_the_store_records_the_policy_it_was_built_under(self) -> None:
        """Nothing refreshed: no policy; after a refresh, this policy's fingerprint."""
        store = self.open_store()
        assert store.built_under() is None
        self.write(store, [])
        assert store.built_under() == policy_fingerprint(POLICY)

    def open_under(self, policy: ClockPolicy, *, discard: bool) -> Any:
        """The backend's clock view on this test's storage, opened as a consumer (`discard`)
        or a reader would open it under that policy."""
        raise NotImplementedError

    def test_a_view_built_under_another_policy_is_discarded_or_read_as_stale(self) -> None:
        """Opened under another policy, a reader keeps the stored view but folds every case;
        a consumer discards its runs and positions, and builds it again under the new one."""
        store = self.open_store()
        self.write(store, [self.at(store, 0, 0)])
        self._open.remove(store)
        store.close()
        edited = self.tmp_path / "clocks.toml"
        edited.write_text(
            POLICY_FILE.read_text().replace(f'version = "{POLICY.version}"', 'version = "edited"')
        )
        policy = load_clock_policy(edited)
        reader = self.open_under(policy, discard=False)
        self._open.append(reader)
        assert reader.stale and reader.positions(TOPIC, [0]) == {0: 0}
        [(case_id, runs)] = reader.ledger_runs(self.cases(), self.moment)
        events = self.cases().events(case_id)
        assert runs == [r.row() for r in clock_runs(events, self.moment, policy, agencies=AGENCIES)]
        consumer = self.open_under(policy, discard=True)
        self._open.append(consumer)
        assert not consumer.stale and consumer.built_under() is None
        assert consumer.positions(TOPIC, [0]) == {}
        consumer.refresh(self.cases(), [case_id], [self.at(consumer, 0, 0)], self.moment)
        assert consumer.built_under() == policy_fingerprint(policy)
        assert list(consumer.ledger_runs(self.cases(), self.moment)) == [(case_id, runs)]


class AlertStoreContract(ViewStoreContract):
    """The alerter's store: alerts raised once, an outbox until published, due dates."""

    def write(self, store: Any, tracking: list[Tracking]) -> None:
        self.writes += 1
        store.record([alert(f"ALERT-{self.writes}")], {}, tracking)

    def content(self, store: Any) -> object:
        return store.raised(), store.outbox()

    def test_an_alert_is_raised_once_and_leaves_the_outbox_when_published(self) -> None:
        """A repeat alert_id is kept once; the outbox holds it until marked published."""
        store = self.open_store()
        store.record([alert("A-1"), alert("A-1")], {}, [self.at(store, 0, 0)])
        store.record([alert("A-1"), alert("A-2", published=True)], {}, [self.at(store, 0, 1)])
        assert store.known(["A-1", "A-2", "A-3"]) == {"A-1", "A-2"}
        assert [a for a, _ in store.outbox()] == ["A-1"]
        assert store.outbox()[0][1] == {"alert_id": "A-1"}
        store.mark_published(["A-1"])
        assert store.outbox() == []
        assert [(r["alert_id"], r["published"]) for r in store.raised("CASE-AL-1")] == [
            ("A-1", True),
            ("A-2", True),
        ]
        assert store.evidence_raised(["CASE-AL-1"]) == {
            ("CASE-AL-1", "rule-1"): [("A-1", {"EV-1"}), ("A-2", {"EV-1"})]
        }

    def test_due_cases_are_those_due_by_the_moment(self) -> None:
        """A due date is kept per case, replaced by a later one, and cleared by None."""
        store = self.open_store()
        early, late = datetime(2007, 1, 1, tzinfo=UTC), datetime(2007, 6, 1, tzinfo=UTC)
        store.record([], {"CASE-1": early, "CASE-2": late, "CASE-3": early}, [])
        store.record([], {"CASE-3": None}, [])
        assert store.due_cases(datetime(2007, 2, 1, tzinfo=UTC)) == ["CASE-1"]
        assert store.due_cases(late) == ["CASE-1", "CASE-2"]


def alert(alert_id: str, published: bool = False) -> dict[str, Any]:
    """A raised alert as the alerter records it."""
    found: dict[str, Any] = {
        "alert_id": alert_id,
        "event_id": f"event-of-{alert_id}",
        "case_id": "CASE-AL-1",
        "rule": "rule-1",
        "fired_at": "2007-03-01T10:00:00Z",
        "decided_at": f"2007-03-01T10:00:00Z/{alert_id}",
        "evidence": ["EV-1"],
    }
    if published:
        found["published"] = True
    else:
        found["document"] = {"alert_id": alert_id}
    return found


class SealViewContract(ViewStoreContract):
    """The seal: Merkle nodes and checkpoints per partition."""

    def write(self, store: Any, tracking: list[Tracking]) -> None:
        index = self.writes
        self.writes += 1
        store.record([(0, 0, index, leaf_hash(f"record {index}".encode()))], [], tracking)

    def content(self, store: Any) -> object:
        return store.size(0), store.leaves(0, 0, 100), store.checkpoints()

    def test_nodes_and_checkpoints_are_read_back(self) -> None:
        """Leaves and nodes by position, checkpoints oldest first until published."""
        store = self.open_store()
        leaves = [leaf_hash(bytes([i])) for i in range(3)]
        nodes = [(1, 0, i, h) for i, h in enumerate(leaves)] + [(1, 1, 0, b"n" * 32)]
        checkpoints = [(1, 2, b"r2" * 16, "note 2"), (1, 3, b"r3" * 16, "note 3")]
        store.record(nodes, checkpoints, [self.at(store, 1, 2)])
        assert store.size(1) == 3 and store.size(0) == 0
        assert store.leaves(1, 1, 3) == leaves[1:]
        assert store.node(1, 1, 0) == b"n" * 32
        with pytest.raises(KeyError):
            store.node(1, 1, 1)
        assert [c["size"] for c in store.checkpoints(unpublished=True)] == [2, 3]
        store.mark_published([(1, 2)])
        assert [c["size"] for c in store.checkpoints(unpublished=True)] == [3]
        latest = store.checkpoint(1)
        assert latest == {
            "partition": 1,
            "size": 3,
            "root": b"r3" * 16,
            "note": "note 3",
            "published": False,
        }
        assert store.checkpoint(1, 2) is not None and store.checkpoint(0) is None


class AccessIndexContract(ViewStoreContract):
    """The access log's index: each access record's exact bytes under every case it names, in
    log order, anything else kept out."""

    case_id = "8d4e7b21-0c9f-4a3b-9e6d-2f1a5c8b7e04"
    shown = "c2b9e1f4-7a3d-4e8b-b5c6-0d9f2a1e3b47"

    def document(self, n: int) -> dict[str, Any]:
        """The n-th record this index keeps, about the contract's case."""
        return access(self.case_id, [], n)

    def stranger(self, n: int) -> dict[str, Any]:
        """A record of the other kind (a note), which this index keeps out."""
        return {"type": NOTE_RECORD, "note_id": f"note-{n}", "case_id": self.case_id}

    def write(self, store: Any, tracking: list[Tracking]) -> None:
        self.writes += 1
        store.take(on_log([(self.writes, self.document(self.writes))]), tracking)

    def content(self, store: Any) -> object:
        return list(store.records(self.case_id))

    def test_records_are_kept_exactly_under_their_cases_in_log_order(self) -> None:
        """The record's own JSON comes back, with its log position, under its case; a record
        of another kind, or not JSON at all, is kept out and not counted."""
        store = self.open_store()
        taken = store.take(
            [
                *on_log([(5, self.document(1)), (3, self.stranger(2))]),
                LogRecord("log", 0, 4, AT, b"", b"\xffnot json"),
                LogRecord("log", 0, 6, AT, b"", None),
                *on_log([(2, self.document(0))]),
            ],
            [self.at(store, 0, 6)],
        )
        assert taken == 2
        found = list(store.records(self.case_id))
        assert [r["log_position"]["offset"] for r in found] == [2, 5]
        assert {k: v for k, v in found[1].items() if k != "log_position"} == self.document(1)
        assert list(store.records(self.shown)) == []


class NotesIndexContract(AccessIndexContract):
    """The notes log's index: each note under its own case only, access records kept out."""

    def document(self, n: int) -> dict[str, Any]:
        return {
            "type": NOTE_RECORD,
            "note_id": f"note-{n}",
            "case_id": self.case_id,
            "recorded_at": AT.isoformat(),
            "cases_shown": [self.shown],
        }

    def stranger(self, n: int) -> dict[str, Any]:
        return access(self.case_id, [self.shown], n)


AT = datetime(2031, 1, 31, 9, 30, tzinfo=UTC)


def on_log(documents: list[tuple[int, dict[str, Any]]]) -> list[LogRecord]:
    """The documents as a log hands them to an index, at the given offsets of partition 0."""
    return [LogRecord("log", 0, offset, AT, b"", orjson.dumps(doc)) for offset, doc in documents]


def sqlite_file(tmp_path: Path, name: str) -> SQLiteDatastore:
    """A datastore on a file in the test's directory."""
    return SQLiteDatastore(str(tmp_path / name))


class TestSQLiteCaseView(CaseViewContract):
    """The case-view contract on SQLite."""

    def create_store(self) -> SQLiteCaseView:
        store = SQLiteCaseView(sqlite_file(self.tmp_path, "case_view.sqlite"))
        store.create_table()
        return store


@pytest.mark.postgres
class TestPostgresCaseView(CaseViewContract):
    """The case-view contract on PostgreSQL."""

    @pytest.fixture(autouse=True)
    def _schema(self, postgres: PostgresLocation) -> Iterator[None]:
        self.location = postgres
        yield
        # Closed before the schema is dropped.
        while self._open:
            self._open.pop().close()

    def create_store(self) -> PostgresCaseView:
        return PostgresCaseView.open(self.location)


class TestSQLiteClockView(ClockViewContract):
    """The clock-view contract on SQLite."""

    def create_store(self) -> SQLiteClockView:
        store = SQLiteClockView(sqlite_file(self.tmp_path, "clocks.sqlite"), POLICY, AGENCIES)
        store.create_table()
        return store

    def open_under(self, policy: ClockPolicy, *, discard: bool) -> SQLiteClockView:
        return open_clock_view(self.tmp_path / "clocks.sqlite", policy, AGENCIES, discard=discard)


class TestSQLiteAlertStore(AlertStoreContract):
    """The alert-store contract on SQLite."""

    def create_store(self) -> SQLiteAlertStore:
        store = SQLiteAlertStore(sqlite_file(self.tmp_path, "alerts.sqlite"))
        store.create_table()
        return store


class TestSQLiteSealView(SealViewContract):
    """The seal-view contract on SQLite."""

    def create_store(self) -> SQLiteSealView:
        store = SQLiteSealView(sqlite_file(self.tmp_path, "seal.sqlite"))
        store.create_table()
        return store


class TestSQLiteAccessIndex(AccessIndexContract):
    """The access-index contract on SQLite."""

    def create_store(self) -> SQLiteAccessIndex:
        return SQLiteAccessIndex.open(self.tmp_path / "access_index.sqlite")


class TestSQLiteNotesIndex(NotesIndexContract):
    """The notes-index contract on SQLite."""

    def create_store(self) -> SQLiteNotesIndex:
        return SQLiteNotesIndex.open(self.tmp_path / "notes_index.sqlite")


class InPostgres:
    """A backend on PostgreSQL: the test's stores in a schema of its own."""

    location: PostgresLocation

    @pytest.fixture(autouse=True)
    def _in_a_schema(self, postgres: PostgresLocation) -> None:
        self.location = postgres


class TestPostgresClockView(InPostgres, ClockViewContract):
    """The clock-view contract on PostgreSQL (reading a case view in SQLite)."""

    def create_store(self) -> PostgresClockView:
        return PostgresClockView.open(self.location, policy=POLICY, agencies=AGENCIES)

    def open_under(self, policy: ClockPolicy, *, discard: bool) -> PostgresClockView:
        return open_postgres_clock_view(self.location, policy, AGENCIES, discard=discard)


class TestPostgresAlertStore(InPostgres, AlertStoreContract):
    """The alert-store contract on PostgreSQL."""

    def create_store(self) -> PostgresAlertStore:
        return PostgresAlertStore.open(self.location)


class TestPostgresSealView(InPostgres, SealViewContract):
    """The seal-view contract on PostgreSQL."""

    def create_store(self) -> PostgresSealView:
        return PostgresSealView.open(self.location)


class TestPostgresAccessIndex(InPostgres, AccessIndexContract):
    """The access-index contract on PostgreSQL."""

    def create_store(self) -> PostgresAccessIndex:
        return PostgresAccessIndex.open(self.location)


class TestPostgresNotesIndex(InPostgres, NotesIndexContract):
    """The notes-index contract on PostgreSQL."""

    def create_store(self) -> PostgresNotesIndex:
        return PostgresNotesIndex.open(self.location)
