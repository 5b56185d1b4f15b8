"""Every view store built on the library's tracking recorder passes the eventsourcing
library's own tracking-recorder test suite."""

from __future__ import annotations

import tempfile
from pathlib import Path

from eventsourcing.persistence import TrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import TrackingRecorderTestCase

from projections.agencies import AgencyTable
from projections.alert_store import SQLiteAlertStore
from projections.case_view import SQLiteCaseView
from projections.clock_policy import load_clock_policy
from projections.clock_view import SQLiteClockView
from projections.seal_view import SQLiteSealView


class SQLiteRecorderSuite(TrackingRecorderTestCase):
    """The library's suite on a store in a fresh SQLite file; a subclass builds the store."""

    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        self._dir.cleanup()

    def datastore(self) -> SQLiteDatastore:
        """A datastore on a file in this test's directory."""
        return SQLiteDatastore(str(Path(self._dir.name) / "views.sqlite"))


class TestSQLiteCaseViewAsTrackingRecorder(SQLiteRecorderSuite):
    """The library's TrackingRecorderTestCase, run against SQLiteCaseView."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteCaseView(self.datastore())
        recorder.create_table()
        return recorder


class TestSQLiteClockViewAsTrackingRecorder(SQLiteRecorderSuite):
    """The library's TrackingRecorderTestCase, run against SQLiteClockView."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteClockView(self.datastore(), load_clock_policy(), AgencyTable())
        recorder.create_table()
        return recorder


class TestSQLiteAlertStoreAsTrackingRecorder(SQLiteRecorderSuite):
    """The library's TrackingRecorderTestCase, run against SQLiteAlertStore."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteAlertStore(self.datastore())
        recorder.create_table()
        return recorder


class TestSQLiteSealViewAsTrackingRecorder(SQLiteRecorderSuite):
    """The library's TrackingRecorderTestCase, run against SQLiteSealView."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteSealView(self.datastore())
        recorder.create_table()
        return recorder
