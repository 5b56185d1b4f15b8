"""Our view recorder passes the eventsourcing library's own tracking-recorder test suite."""

from __future__ import annotations

import tempfile
from pathlib import Path

from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import TrackingRecorderTestCase

from projections.case_view import SQLiteCaseView


class TestSQLiteCaseViewAsTrackingRecorder(TrackingRecorderTestCase):
    """The library's TrackingRecorderTestCase, run against SQLiteCaseView."""

    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        self._dir.cleanup()

    def create_recorder(self) -> SQLiteCaseView:
        recorder = SQLiteCaseView(SQLiteDatastore(str(Path(self._dir.name) / "views.sqlite")))
        recorder.create_table()
        return recorder
