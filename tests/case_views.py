"""Fresh case-state views for tests, in SQLite or PostgreSQL (the `database` fixture's name)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from projections.case_view import CaseViewStore, PostgresCaseView, SQLiteCaseView

ViewMaker = Callable[..., AbstractContextManager[CaseViewStore]]


def case_view_maker(database: str, request: pytest.FixtureRequest, folder: Path) -> ViewMaker:
    """Makes an empty view each call (its own file, or its own tables in the test's schema),
    closed when its block ends; the keywords are the view's options."""

    @contextmanager
    def fresh(**options: int) -> Iterator[CaseViewStore]:
        name = f"cv_{uuid.uuid4().hex[:10]}"
        view: CaseViewStore
        if database == "sqlite":
            view = SQLiteCaseView.open(folder / f"{name}.sqlite", **options)
        else:
            view = PostgresCaseView.open(request.getfixturevalue("postgres"), name=name, **options)
        try:
            yield view
        finally:
            view.close()

    return fresh
