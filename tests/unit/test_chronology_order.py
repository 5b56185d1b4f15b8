"""The chronology's order: by when things happened, ties in log order."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.chronology import chronology
from tests.factories import as_events, make_event, new_case_id


def test_events_of_one_instant_keep_log_order_past_ten() -> None:
    """Twelve contacts of one day (a day's dates share an instant) come in the order they
    were appended: position 0:10 after 0:9, not before 0:2 as text would sort it."""
    case_id = new_case_id()
    documents = [make_event("case.opened", case_id)] + [
        make_event(
            "contact.recorded",
            case_id,
            occurred_at="2007-03-01T00:00:00Z",
            occurred_precision="day",
            recorded_at="2007-03-02T00:00:00Z",
        )
        for _ in range(12)
    ]
    rows = chronology(as_events(documents), datetime(2030, 1, 1, tzinfo=UTC))
    contacts = [r["event_id"] for r in rows if r["type"] == "contact.recorded"]
    assert contacts == [d["event_id"] for d in documents[1:]]
