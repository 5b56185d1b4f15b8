"""The clock view: every case's clock runs, kept by a consumer, so that ledger-wide latency
reads stored rows instead of folding every case's events.

The clock consumer (`consumers/follower.py`) follows the log behind the case-state view; for
each case a batch touched it computes the case's runs from the case's events and stores them
with the count of events they were computed from, the case's latest recorded_at and
appended_at, and where its data end (`projections.audit.data_end`), in one transaction with
the log position.

Stored runs answer "as of M" exactly when every event of the case was known by M (its latest
instant on the basis asked is at or before M) and the row covers as many events as the case
view holds: a stopped run is final, and an open one is measured to M (`RunRow.at`). Any other
case (changed after M, or not yet refreshed) is folded from its events, so a report is always
what a fold of every case would give, and costs a fold only for the cases that need one.

The runs depend on the clock policy: the file records the policy it was built under, and a
view built under another policy is discarded and rebuilt from the log when opened. They depend
on the agency registry too (a clock that starts on a kind of agency), read as it stood when
each event was recorded, so a later change to the registry leaves stored runs as they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ledger.envelope import parse_instant
from ledger.postgres import PostgresLocation
from projections.agencies import AgencyLookup
from projections.as_of import Basis
from projections.audit import data_end, latest
from projections.case_timeline import remembered
from projections.case_view import micros
from projections.clock_policy import ClockPolicy
from projections.clocks import RunRow, clock_runs
from projections.tracking import (
    CaseReader,
    Cursor,
    PostgresTrackedStore,
    SQLiteTrackedStore,
    TrackedStore,
    at_home,
    positions_in,
)
from projections.view_files import remove_database
from projections.working_days import WorkingDays, england_and_wales

CLOCKS = "clocks"
# The layout of the stored runs and how they are worked out (runs-5: who is responsible, a
# stop answering every open run, census working days, each case's data end, starts before
# stops at one instant, a late run kept breached by `unless`): a view stored under another
# is rebuilt, as for a new policy, even when the policy file is the same.
LAYOUT = "runs-5"


def policy_fingerprint(policy: ClockPolicy) -> str:
    """The policy's version, a digest of its clocks (an edit without a new version still
    counts as another policy) and the bank-holiday calendar's version (a new release can add
    or move a holiday, and so a deadline)."""
    digest = hashlib.sha256(repr(policy.clocks).encode()).hexdigest()[:16]
    return f"{policy.version}:{digest}:holidays-{version('holidays')}:{LAYOUT}"


class ClockViewStore(TrackedStore):
    """Clock runs per case, with the log position they cover (`SQLiteClockView` and
    `PostgresClockView` hold them)."""

    policy: ClockPolicy
    agencies: AgencyLookup
    days: WorkingDays
    # Built under another policy and kept (by a reader): its rows are not used.
    stale: bool

    def configure(
        self, policy: ClockPolicy, agencies: AgencyLookup, days: WorkingDays | None
    ) -> None:
        """Take the policy, the registry and the calendar the runs are worked out under."""
        self.policy = policy
        self.agencies = agencies
        self.days = days or england_and_wales()
        self._clocks = {c.name: c for c in policy.clocks}
        self.stale = False

    def plain_read(self) -> AbstractContextManager[Cursor]:
        """A read whose rows are plain tuples (what the big reads want)."""
        return self.transaction(commit=False)

    def tables(self) -> list[str]:
        """The runs, each case's coverage, and the policy."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name}_cases (case_id TEXT PRIMARY KEY, "
            "seen INTEGER NOT NULL, recorded_us INTEGER NOT NULL, appended_us INTEGER NOT NULL, "
            "occurred_us INTEGER) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.name}_runs (case_id TEXT NOT NULL, "
            "clock TEXT NOT NULL, limit_text TEXT NOT NULL, agency TEXT NOT NULL, "
            "status TEXT NOT NULL, start_event TEXT NOT NULL, started_at TEXT NOT NULL, "
            "stop_event TEXT, stopped_at TEXT, deadline TEXT NOT NULL, "
            "working_days INTEGER NOT NULL, calendar_days DOUBLE PRECISION NOT NULL, "
            "responsible TEXT, "
            "responsible_kind TEXT, area TEXT)",
            f"CREATE INDEX IF NOT EXISTS {self.name}_runs_by_case ON {self.name}_runs (case_id)",
            f"CREATE TABLE IF NOT EXISTS {self.name}_meta (key TEXT PRIMARY KEY, value TEXT) "
            "WITHOUT ROWID",
        ]

    def built_under(self) -> str | None:
        """The fingerprint of the policy the stored runs were computed under, if any."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT value FROM {self.name}_meta WHERE key = 'policy'")  # noqa: S608
            row = cursor.fetchone()
        return None if row is None else str(row[0])

    def built_under_another_policy(self) -> bool:
        """Whether the stored runs were worked out under a policy other than this view's."""
        built = self.built_under()
        return built is not None and built != policy_fingerprint(self.policy)

    def due_cases(self, moment: datetime) -> list[str]:
        """None: a run's status as of a moment is worked out when asked, not stored."""
        return []

    def refresh(
        self,
        cases: CaseReader,
        case_ids: Collection[str],
        tracking: Sequence[Tracking],
        moment: datetime,
        partitions: Collection[int] | None = None,
    ) -> int:
        """Recompute the runs of these cases (with `partitions`, of those at home in them)
        from the case view; store them and the positions in one transaction. Returns the
        number of cases refreshed."""
        rows: list[tuple[Any, ...]] = []
        covered: list[tuple[Any, ...]] = []
        # The registry read once for the batch, its answers shared by every case in it.
        agencies = remembered(self.agencies)
        for case_id in case_ids:
            events = cases.events(case_id)
            if not events or not at_home(events, partitions):
                continue
            recorded = max(parse_instant(e.recorded_at) for e in events)
            appended = max(e.appended_at for e in events)
            # The runs of every event the case holds, including one recorded a little ahead
            # of this clock (the ledger allows some skew): the rows then hold for any moment
            # at or after the case's latest instants, which is when a report uses them.
            everything = max(moment, recorded, appended)
            runs = clock_runs(events, everything, self.policy, days=self.days, agencies=agencies)
            rows += [(case_id, *_stored(r.row())) for r in runs]
            end = data_end(events, everything)
            covered.append(
                (
                    case_id,
                    len(events),
                    micros(recorded),
                    micros(appended),
                    None if end is None else micros(end),
                )
            )
        with self.transaction(commit=True) as cursor:
            # Two processes refreshing one case at once would each delete, then both insert.
            self.exclusive(cursor)
            cursor.execute(
                f"INSERT INTO {self.name}_meta VALUES ('policy', ?) "  # noqa: S608
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (policy_fingerprint(self.policy),),
            )
            cursor.executemany(
                f"DELETE FROM {self.name}_runs WHERE case_id = ?",  # noqa: S608
                [(c[0],) for c in covered],
            )
            marks = ", ".join("?" * 15)
            cursor.executemany(f"INSERT INTO {self.name}_runs VALUES ({marks})", rows)  # noqa: S608
            cursor.executemany(
                f"INSERT INTO {self.name}_cases VALUES (?, ?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT (case_id) DO UPDATE SET seen = excluded.seen, "
                "recorded_us = excluded.recorded_us, appended_us = excluded.appended_us, "
                "occurred_us = excluded.occurred_us",
                covered,
            )
            self.track(cursor, tracking)
        return len(covered)

    def ledger_runs(
        self,
        cases: CaseReader,
        moment: datetime,
        basis: Basis = "recorded",
        measured_to: datetime | None = None,
        *,
        to_case_end: bool = False,
    ) -> Iterator[tuple[str, list[RunRow]]]:
        """Every case's runs as of the moment, in case id order: stored rows where they hold,
        a fold of the case's events where they do not; an open run is measured to
        `measured_to` (default: the moment), or with `to_case_end` to where its own case's
        data end (a case with no dated event, to `measured_to`).

        When this view has taken in every log position the case view has, every stored case
        is current and the case view is not read at all (but for the cases to fold); otherwise
        each case's count of events is compared with the case view's."""
        until = moment if measured_to is None else measured_to
        stored, seen, table = self._read(cases, with_runs=True)
        by_case: dict[str, list[tuple[Any, ...]]] = {}
        for row in table:
            by_case.setdefault(row[0], []).append(row)
        for case_id in sorted(stored if seen is None else seen):
            mine = self._current(stored, seen, case_id, moment, basis)
            if mine is not None:
                end = _instant(mine[4]) if to_case_end and mine[4] is not None else until
                runs = [self._at(row, end) for row in by_case.get(case_id, ())]
                runs.sort(key=lambda r: (r.started_at, r.clock))
            else:
                events = cases.events(case_id)
                own = data_end(events, moment, basis) if to_case_end else None
                folded = clock_runs(
                    events,
                    moment,
                    self.policy,
                    basis,
                    self.days,
                    agencies=self.agencies,
                    measured_to=until if own is None else own,
                )
                runs = [r.row() for r in folded]
            if runs:
                yield case_id, runs

    def data_end(
        self, cases: CaseReader, moment: datetime, basis: Basis = "recorded"
    ) -> datetime | None:
        """Where the data of every case known by the moment end: the latest of each case's
        stored end where its stored runs would hold (as `ledger_runs` decides), of its events
        where they would not."""
        stored, seen, _ = self._read(cases, with_runs=False)
        ends: list[datetime | None] = []
        for case_id in stored if seen is None else seen:
            mine = self._current(stored, seen, case_id, moment, basis)
            if mine is not None:
                ends.append(None if mine[4] is None else _instant(mine[4]))
            else:
                ends.append(data_end(cases.events(case_id), moment, basis))
        return latest(ends)

    def _read(
        self, cases: CaseReader, *, with_runs: bool
    ) -> tuple[dict[str, tuple[Any, ...]], dict[str, int] | None, list[tuple[Any, ...]]]:
        """In one read: each stored case's coverage, the stored runs if asked, and each case's
        count of events in the case view, or None when this view has taken in every log
        position the case view has (every stored case is then current)."""
        with self.plain_read() as cursor:
            caught_up = not self.stale and _covers(
                positions_in(cursor, self.name, self.tracking_table), cases.all_positions()
            )
            cursor.execute(f"SELECT * FROM {self.name}_cases")  # noqa: S608
            stored = {row[0]: row for row in cursor.fetchall()}
            table: list[tuple[Any, ...]] = []
            if with_runs:
                cursor.execute(f"SELECT * FROM {self.name}_runs")  # noqa: S608
                table = cursor.fetchall()
        seen = None if caught_up else {c: head[0] for c, head in cases.heads().items()}
        return stored, seen, table

    def _current(
        self,
        stored: dict[str, tuple[Any, ...]],
        seen: dict[str, int] | None,
        case_id: str,
        moment: datetime,
        basis: Basis,
    ) -> tuple[Any, ...] | None:
        """The case's stored coverage if its stored rows answer for the moment (stored under
        this policy, over as many events as the case view holds, all of them known by the
        moment), else None: the case is folded from its events."""
        mine = stored.get(case_id)
        instant = 2 if basis == "recorded" else 3
        if (
            mine is None
            or self.stale
            or (seen is not None and mine[1] != seen[case_id])
            or mine[instant] > micros(moment)
        ):
            return None
        return mine

    def _at(self, row: tuple[Any, ...], moment: datetime) -> RunRow:
        run = RunRow(*row[1:])
        return (
            run
            if run.stop_event is not None
            else run.at(self._clocks[run.clock], moment, self.days)
        )


def _instant(count: int) -> datetime:
    """The instant `micros` gave `count` for."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=count)


def _covers(ours: dict[tuple[str, int], int], theirs: dict[tuple[str, int], int]) -> bool:
    return all(ours.get(key, -1) >= offset for key, offset in theirs.items())


def _stored(run: RunRow) -> tuple[Any, ...]:
    return (
        run.clock,
        run.limit,
        run.agency,
        run.status,
        run.start_event,
        run.started_at,
        run.stop_event,
        run.stopped_at,
        run.deadline,
        run.working_days,
        run.calendar_days,
        run.responsible,
        run.responsible_kind,
        run.area,
    )


class SQLiteClockView(ClockViewStore, SQLiteTrackedStore):
    """The clock view in one SQLite file."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        policy: ClockPolicy,
        agencies: AgencyLookup,
        days: WorkingDays | None = None,
        name: str = CLOCKS,
    ) -> None:
        self.configure(policy, agencies, days)
        super().__init__(datastore, name)

    @contextmanager
    def _plain_read(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=False) as cursor:
            # The library's rows are sqlite3.Row; tuples are cheaper to make and to compare.
            cursor.sqlite_cursor.row_factory = None
            yield cursor

    def plain_read(self) -> AbstractContextManager[Cursor]:
        """A read whose rows are plain tuples."""
        return self._plain_read()


class PostgresClockView(ClockViewStore, PostgresTrackedStore):
    """The clock view in the ledger's PostgreSQL schema."""

    def __init__(
        self,
        location: PostgresLocation,
        policy: ClockPolicy,
        agencies: AgencyLookup,
        days: WorkingDays | None = None,
        name: str = CLOCKS,
    ) -> None:
        self.configure(policy, agencies, days)
        super().__init__(location, name)

    def discard(self) -> None:
        """Forget every stored run and position, so that its consumer builds it again."""
        with self.transaction(commit=True) as cursor:
            for table in ("runs", "cases", "meta"):
                cursor.execute(f"DELETE FROM {self.name}_{table}")  # noqa: S608
            cursor.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name LIKE ?",  # noqa: S608
                (f"{self.name}:%",),
            )


def open_clock_view(
    path: Path, policy: ClockPolicy, agencies: AgencyLookup, *, discard: bool = True
) -> SQLiteClockView:
    """The clock view in the given file. One built under another policy is discarded, so
    that its consumer builds it again; a reader (`discard=False`) leaves it alone and folds
    every case instead."""
    view = SQLiteClockView.open(path, policy=policy, agencies=agencies)
    if view.built_under_another_policy():
        if not discard:
            view.stale = True
            return view
        view.close()
        remove_database(path)
        view = SQLiteClockView.open(path, policy=policy, agencies=agencies)
    return view


def open_postgres_clock_view(
    location: PostgresLocation, policy: ClockPolicy, agencies: AgencyLookup, *, discard: bool = True
) -> PostgresClockView:
    """The clock view in the ledger's PostgreSQL schema, discarded (or, for a reader, marked
    stale) when built under another policy, as `open_clock_view` does with a file."""
    view = PostgresClockView.open(location, policy=policy, agencies=agencies)
    if view.built_under_another_policy():
        if not discard:
            view.stale = True
            return view
        view.discard()
    return view
