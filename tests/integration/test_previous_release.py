"""A log written by the previous release replays to the same state.

tests/fixtures/previous_release/ holds the ledger log that release wrote (the demo with 12
background cases, and every schema example of every version on one more case), exactly as it
stored it, and the case states and chronology that release answered from it. Later releases
add fields; every field that release answered must come out the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from ledger.settings import Settings
from sgl import queries
from sgl.bootstrap import bootstrap
from sgl.queries.cases import case, case_chronology
from sgl.queries.errors import NoSuchCase

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "previous_release"
COLUMNS = ("position", "event_id", "case_id", "appended_ms", "digest", "type", "schema_version")


def _load(settings: Settings) -> int:
    """Write the previous release's records into a fresh SQLite log, byte for byte."""
    bootstrap(settings).close()  # creates the log's tables
    rows = [orjson.loads(line) for line in (FIXTURE / "log.jsonl").read_bytes().splitlines()]
    with sqlite3.connect(settings.log_db) as db:
        db.executemany(
            f"INSERT INTO log ({', '.join(COLUMNS)}, value) VALUES ({', '.join('?' * 8)})",
            [(*(r[c] for c in COLUMNS), r["value"].encode()) for r in rows],
        )
    return len(rows)


def _subset_differences(expected: Any, got: Any, where: str = "") -> list[str]:
    """Where `got` differs from `expected` in what `expected` holds (new keys are allowed)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return [
            d
            for key, value in expected.items()
            for d in (
                [f"{where}/{key}: missing"]
                if key not in got
                else _subset_differences(value, got[key], f"{where}/{key}")
            )
        ]
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [
            d
            for i, (e, g) in enumerate(zip(expected, got, strict=True))
            for d in _subset_differences(e, g, f"{where}/{i}")
        ]
    return [] if expected == got else [f"{where}: {expected!r} became {got!r}"]


def test_the_previous_release_log_folds_to_the_same_states_and_chronology(
    make_settings: Callable[..., Settings],
) -> None:
    """Every case, now and as of three dates, and Child A's chronology on 25 July 2007."""
    settings = make_settings("sqlite")
    records = _load(settings)
    expected = orjson.loads((FIXTURE / "states.json").read_bytes())
    container = bootstrap(settings)
    try:
        assert container.runner().run_until_caught_up(120) == records
        stores = queries.ContainerStores(container)
        differences: list[str] = []
        for case_id, by_date in expected.items():
            for as_of, state in by_date.items():
                date = None if as_of == "None" else as_of
                try:
                    got: Any = orjson.loads(orjson.dumps(asdict(case(stores, case_id, date))))
                except NoSuchCase:
                    got = {"error": "NoSuchCase"}
                differences += _subset_differences(state, got, f"{case_id}@{as_of}")
        chronology = case_chronology(stores, "CASE-A0001", "2007-07-25")
        before = orjson.loads((FIXTURE / "chronology-CASE-A0001-2007-07-25.json").read_bytes())
        differences += _subset_differences(
            before, orjson.loads(orjson.dumps(chronology)), "chronology"
        )
    finally:
        container.close()
    assert differences == [], "\n".join(differences[:40])
