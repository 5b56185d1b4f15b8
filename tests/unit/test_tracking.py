"""Tracking keys and positions (projections/tracking.py), on a store of the views."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from projections.alert_store import SQLiteAlertStore
from projections.tracking import parse_tracking_name, tracking_name, tracking_rows


def test_a_tracking_key_names_view_topic_and_partition_and_reads_back() -> None:
    key = tracking_name("clocks", "sgl.ledger.v1", 3)
    assert key == "clocks:sgl.ledger.v1:3"
    assert parse_tracking_name(key) == ("clocks", "sgl.ledger.v1", 3)


@pytest.mark.parametrize("key", ["clocks:sgl.ledger.v1", "clocks:t:x", "a:b:c:1", "clocks:t:-1"])
def test_a_key_of_another_shape_is_refused_by_name(key: str) -> None:
    with pytest.raises(ValueError, match="not a tracking key"):
        parse_tracking_name(key)


def test_a_store_opens_in_a_new_folder_and_reads_its_positions_back(tmp_path: Path) -> None:
    store = SQLiteAlertStore.open(tmp_path / "new" / "alerts.sqlite")
    try:
        assert store.current() is store
        assert store.positions("t", [0, 1]) == {} and store.all_positions() == {}
        store.record([], {}, tracking_rows(store.name, "t", {0: 4, 1: 9}))
        store.record([], {}, [Tracking(tracking_name("other", "t", 0), 99)])
        assert store.positions("t", [0, 1, 2]) == {0: 4, 1: 9}
        assert store.all_positions() == {("t", 0): 4, ("t", 1): 9}
        # A position already recorded fails the transaction: a batch is never taken in twice.
        with pytest.raises(IntegrityError):
            store.record([], {}, tracking_rows(store.name, "t", {0: 4}))
    finally:
        store.datastore.close()
    again = SQLiteAlertStore.open(tmp_path / "new" / "alerts.sqlite")
    try:
        assert again.positions("t", [0, 1]) == {0: 4, 1: 9}
    finally:
        again.datastore.close()
