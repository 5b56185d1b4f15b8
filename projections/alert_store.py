"""What the alerter has decided: every alert it raised, an outbox of those not yet published,
and when each case must be looked at again because a rule's deadline will pass.

A decision to raise is committed with the log position that led to it, and with the alert's
exact bytes; publishing comes after, from the outbox, and is repeated until the log confirms.
The alert's event_id is derived from its alert id, so a repeat is answered `duplicate` by the
ledger: an alert is raised once, whatever crashes or restarts in between.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ledger.envelope import utc_text
from ledger.postgres import PostgresLocation
from ledger.sqlite_util import in_chunks
from projections.case_view import micros
from projections.tracking import PostgresTrackedStore, SQLiteTrackedStore, TrackedStore

ALERTS = "alerts"


class AlertStore(TrackedStore):
    """Raised alerts, the outbox and the due dates, with the alerter's log positions
    (`SQLiteAlertStore` and `PostgresAlertStore` hold them)."""

    def tables(self) -> list[str]:
        """The alerts raised, and the cases' next due dates."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.name}_raised (alert_id TEXT PRIMARY KEY, "
            "event_id TEXT NOT NULL, case_id TEXT NOT NULL, rule TEXT NOT NULL, "
            "fired_at TEXT NOT NULL, decided_at TEXT NOT NULL, doc BLOB, "
            "published INTEGER NOT NULL, evidence TEXT NOT NULL) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {self.name}_by_case ON {self.name}_raised (case_id, rule)",
            f"CREATE INDEX IF NOT EXISTS {self.name}_outbox ON {self.name}_raised (published) "
            "WHERE published = 0",
            f"CREATE TABLE IF NOT EXISTS {self.name}_due (case_id TEXT PRIMARY KEY, "
            "due_us INTEGER NOT NULL) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {self.name}_due_by_time ON {self.name}_due (due_us)",
        ]

    def known(self, alert_ids: Collection[str]) -> set[str]:
        """Which of these alerts were already raised."""
        found: set[str] = set()
        with self.transaction(commit=False) as cursor:
            for marks, chunk in in_chunks(list(alert_ids)):
                cursor.execute(
                    f"SELECT alert_id FROM {self.name}_raised WHERE alert_id IN ({marks})",  # noqa: S608
                    chunk,
                )
                found.update(row[0] for row in cursor.fetchall())
        return found

    def record(
        self,
        raised: Sequence[Mapping[str, Any]],
        due: Mapping[str, datetime | None],
        tracking: Sequence[Tracking],
    ) -> None:
        """Commit decisions, due dates and positions together.

        Each raised item has alert_id, event_id, case_id, rule, fired_at, decided_at and
        either `document` (to publish) or `published: True` (already in the log).
        """
        with self.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name}_raised VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT (alert_id) DO NOTHING",
                [
                    (
                        r["alert_id"],
                        r["event_id"],
                        r["case_id"],
                        r["rule"],
                        r["fired_at"],
                        r["decided_at"],
                        None if r.get("document") is None else orjson.dumps(r["document"]),
                        1 if r.get("published") else 0,
                        orjson.dumps(sorted(r["evidence"])).decode(),
                    )
                    for r in raised
                ],
            )
            cursor.executemany(
                f"DELETE FROM {self.name}_due WHERE case_id = ?",  # noqa: S608
                [(c,) for c, when in due.items() if when is None],
            )
            cursor.executemany(
                f"INSERT INTO {self.name}_due VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (case_id) DO UPDATE SET due_us = excluded.due_us",
                [(c, micros(when)) for c, when in due.items() if when is not None],
            )
            self.track(cursor, tracking)

    def evidence_raised(
        self, case_ids: Collection[str]
    ) -> dict[tuple[str, str], list[tuple[str, set[str]]]]:
        """Every alert raised in these cases, per (case, rule): its id and its evidence."""
        found: dict[tuple[str, str], list[tuple[str, set[str]]]] = {}
        with self.transaction(commit=False) as cursor:
            for marks, chunk in in_chunks(list(case_ids)):
                cursor.execute(
                    f"SELECT case_id, rule, alert_id, evidence FROM {self.name}_raised "  # noqa: S608
                    f"WHERE case_id IN ({marks}) ORDER BY alert_id",
                    chunk,
                )
                for case_id, rule, alert_id, evidence in cursor.fetchall():
                    found.setdefault((case_id, rule), []).append(
                        (alert_id, set(orjson.loads(evidence)))
                    )
        return found

    def outbox(
        self,
        limit: int = 1000,
        *,
        case_ids: Sequence[str] | None = None,
        decided_before: datetime | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Alerts decided and not yet confirmed by the log, oldest decision first: all of
        them, or (given `case_ids`) those of these cases and those decided before
        `decided_before` (if given)."""
        where, args = "", []
        if case_ids is not None:
            marks = ",".join("?" * len(case_ids))
            where = f"AND (case_id IN ({marks or 'NULL'})"
            args = list(case_ids)
            if decided_before is not None:
                where += " OR decided_at < ?"
                args.append(utc_text(decided_before))
            where += ")"
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT alert_id, doc FROM {self.name}_raised WHERE published = 0 {where} "  # noqa: S608
                "ORDER BY decided_at, alert_id LIMIT ?",
                (*args, limit),
            )
            return [(row[0], orjson.loads(row[1])) for row in cursor.fetchall()]

    def mark_published(self, alert_ids: Collection[str]) -> None:
        """The log has confirmed these alerts."""
        with self.transaction(commit=True) as cursor:
            cursor.executemany(
                f"UPDATE {self.name}_raised SET published = 1 WHERE alert_id = ?",  # noqa: S608
                [(a,) for a in alert_ids],
            )

    def due_cases(self, moment: datetime) -> list[str]:
        """Cases with a rule deadline at or before the moment."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT case_id FROM {self.name}_due WHERE due_us <= ? ORDER BY due_us",  # noqa: S608
                (micros(moment),),
            )
            return [row[0] for row in cursor.fetchall()]

    def raised(self, case_id: str | None = None) -> list[dict[str, Any]]:
        """The alerts raised (all, or one case's), in order of decision."""
        where, args = ("WHERE case_id = ?", (case_id,)) if case_id else ("", ())
        with self.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT alert_id, event_id, case_id, rule, fired_at, decided_at, published "  # noqa: S608
                f"FROM {self.name}_raised {where} ORDER BY decided_at, alert_id",
                args,
            )
            columns = ("alert_id", "event_id", "case_id", "rule", "fired_at", "decided_at")
            return [
                {**dict(zip(columns, row[:6], strict=True)), "published": bool(row[6])}
                for row in cursor.fetchall()
            ]


class SQLiteAlertStore(AlertStore, SQLiteTrackedStore):
    """The alerter's store in one SQLite file."""

    def __init__(self, datastore: SQLiteDatastore, name: str = ALERTS) -> None:
        super().__init__(datastore, name)


class PostgresAlertStore(AlertStore, PostgresTrackedStore):
    """The alerter's store in the ledger's PostgreSQL schema."""

    def __init__(self, location: PostgresLocation, name: str = ALERTS) -> None:
        super().__init__(location, name)


def open_alert_store(path: Path) -> SQLiteAlertStore:
    """The alerter's store in the given file, its tables created if new."""
    return SQLiteAlertStore.open(path)
