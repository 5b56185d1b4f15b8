"""Uncertain dates (envelope version 2): the instant an event sorts by, canonical UTC, the
refusals, and the words the chronology shows; envelope version 1 bytes unchanged."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.envelope import canonical_bytes, canonicalise, sort_instant, utc_text
from ledger.schemas import SchemaRegistry
from projections.case_state import project
from projections.dates import describe_occurred, may_have_occurred_within
from projections.effective import effective_events
from projections.knowledge import knowledge
from tests.factories import as_events, example, make_event, new_case_id

REGISTRY = SchemaRegistry()
POLICE = {"occurred_at": "2007-03-04T00:00:00Z", "precision": "day", "agency": "example-police"}
RELATIVE = {
    "occurred_at": "2007-03-06T00:00:00Z",
    "precision": "day",
    "source": {"kind": "relative"},
}


def dated(recorded_at: str = "2007-06-05T10:00:00Z", **dates: Any) -> dict[str, Any]:
    """A valid person.linked v2 whose date is given by `dates` alone."""
    event = example("person.linked", 2)
    del event["occurred_at"]
    event.update(case_id=new_case_id(), recorded_at=recorded_at, **dates)
    return event


def shown(**dates: Any) -> str:
    """The chronology's words for an event with these date fields, read back from the log."""
    event = dated(**dates)
    assert REGISTRY.problems(event) == []
    return describe_occurred(as_events([event])[0])


# Envelope version 1 documents and the SHA-256 of their canonical bytes as the previous
# release wrote them: offsets, fractions, lower-case `t`/`z` and upper-case ids included.
OLD_BYTES = [
    (
        {
            "event_id": "0B0F3C52-6F1E-4C2A-9A55-3F6F0C1D2E99",
            "type": "contact.recorded",
            "schema_version": 2,
            "case_id": "CASE-G0001",
            "agency": "example-childrens-social-care",
            "recorded_by": {"id": "P-SW-0001", "role": "social_worker"},
            "occurred_at": "2007-05-22T10:30:00+01:00",
            "occurred_precision": "day",
            "occurred_approximate": True,
            "recorded_at": "2007-05-23T09:00:00.250000-00:00",
            "payload": {"contact_type": "home_visit", "child_seen": "seen_alone"},
        },
        "f608d6efb6f750afbcd04237fd0fa07bda82ecd6e77e49ab7d42e704b3d9b383",
    ),
    (
        {
            "event_id": "0b0f3c52-6f1e-4c2a-9a55-3f6f0c1d2e98",
            "type": "acknowledged",
            "schema_version": 1,
            "case_id": "CASE-G0001",
            "agency": "example-police",
            "recorded_by": {"id": "P-PC-0001", "role": "police_officer"},
            "occurred_at": "2007-05-23t09:30:00z",
            "recorded_at": "2007-05-23T09:30:00Z",
            "causation_id": "0B0F3C52-6F1E-4C2A-9A55-3F6F0C1D2E99",
            "payload": {"acknowledges": "0b0f3c52-6f1e-4c2a-9a55-3f6f0c1d2e99", "kind": "read"},
        },
        "0670985edc54555761af37664531273cb912e2b224fcf4a194c25336c2d85cfc",
    ),
]


@pytest.mark.parametrize(("document", "digest"), OLD_BYTES)
def test_envelope_1_events_keep_their_canonical_bytes(
    document: dict[str, Any], digest: str
) -> None:
    """The canonical bytes (so the hashes, receipts and seals) of old events are unchanged."""
    value = canonical_bytes(canonicalise(document))
    assert hashlib.sha256(value).hexdigest() == digest


def test_uncertain_instants_are_canonical_utc_and_no_instant_is_added() -> None:
    """Range bounds and accounts go to UTC like occurred_at; nothing derived is stored."""
    ranged = canonicalise(
        dated(
            occurred_precision="range",
            occurred_range={"not_before": "2007-01-03T01:00:00+01:00"},
        )
    )
    assert ranged["occurred_range"] == {"not_before": "2007-01-03T00:00:00Z"}
    disputed = canonicalise(
        dated(
            occurred_precision="disputed",
            occurred_accounts=[{**POLICE, "occurred_at": "2007-03-04T02:00:00+02:00"}, RELATIVE],
        )
    )
    assert [a["occurred_at"] for a in disputed["occurred_accounts"]] == [
        "2007-03-04T00:00:00Z",
        "2007-03-06T00:00:00Z",
    ]
    assert "occurred_at" not in ranged and "occurred_at" not in disputed


@pytest.mark.parametrize(
    ("dates", "instant"),
    [
        ({"occurred_at": "2007-05-22T18:00:00Z"}, "2007-05-22T18:00:00Z"),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {"not_before": "2007-01-03T00:00:00Z"},
            },
            "2007-01-03T00:00:00Z",
        ),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {"not_after": "2007-01-09T00:00:00Z"},
            },
            "2007-01-09T00:00:00Z",
        ),
        (
            {"occurred_precision": "disputed", "occurred_accounts": [RELATIVE, POLICE]},
            "2007-03-04T00:00:00Z",
        ),
        ({"occurred_precision": "undated"}, "2007-06-05T10:00:00Z"),
    ],
)
def test_the_sort_instant_is_derived_when_no_occurred_at_is_stated(
    dates: dict[str, Any], instant: str
) -> None:
    """Stated, not_before (else not_after), the earliest account, else recorded_at; the
    event read back carries it as occurred_at and says whether it was stated."""
    document = canonicalise(dated(**dates))
    assert sort_instant(document) == instant
    event = as_events([document])[0]
    assert event.occurred_at == instant
    assert event.occurred_stated == ("occurred_at" in dates)


def test_the_earliest_account_is_found_by_instant_not_by_text() -> None:
    """A fraction of a second sorts by its instant (its text sorts after the whole second)."""
    accounts = [
        {**POLICE, "occurred_at": "2007-03-04T00:00:00Z"},
        {**RELATIVE, "occurred_at": "2007-03-03T23:59:59.500000Z"},
    ]
    document = dated(occurred_precision="disputed", occurred_accounts=accounts)
    assert sort_instant(document) == "2007-03-03T23:59:59.500000Z"


@pytest.mark.parametrize(
    ("dates", "words"),
    [
        ({"occurred_at": "2007-05-22T00:00:00Z", "occurred_precision": "day"}, "22 May 2007"),
        (
            {
                "occurred_at": "2007-05-22T00:00:00Z",
                "occurred_precision": "day",
                "occurred_approximate": True,
            },
            "about 22 May 2007",
        ),
        ({"occurred_at": "2007-05-22T14:30:00Z"}, "22 May 2007 14:30"),
        ({"occurred_at": "2007-05-01T00:00:00Z", "occurred_precision": "month"}, "May 2007"),
        ({"occurred_at": "2007-01-01T00:00:00Z", "occurred_precision": "year"}, "2007"),
        (
            {"occurred_at": "2007-05-21T00:00:00Z", "occurred_precision": "week"},
            "week of 21 May 2007",
        ),
        (
            {
                "occurred_at": "2007-05-22T00:00:00Z",
                "occurred_precision": "part_of_day",
                "occurred_part_of_day": "evening",
            },
            "22 May 2007, evening",
        ),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {"not_before": "2007-01-03T00:00:00Z"},
            },
            "not before 3 Jan 2007",
        ),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {"not_after": "2007-01-09T23:59:59Z"},
            },
            "not after 9 Jan 2007",
        ),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {
                    "not_before": "2007-01-03T00:00:00Z",
                    "not_after": "2007-01-09T23:59:59Z",
                },
            },
            "between 3 and 9 Jan 2007",
        ),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {
                    "not_before": "2006-12-28T00:00:00Z",
                    "not_after": "2007-01-03T00:00:00Z",
                },
            },
            "between 28 Dec 2006 and 3 Jan 2007",
        ),
        (
            {
                "occurred_precision": "range",
                "occurred_range": {
                    "not_before": "2007-01-03T14:00:00Z",
                    "not_after": "2007-01-03T18:30:00Z",
                },
            },
            "between 3 Jan 2007 14:00 and 3 Jan 2007 18:30",
        ),
        (
            {"occurred_precision": "disputed", "occurred_accounts": [POLICE, RELATIVE]},
            "disputed: 4 Mar 2007 (example-police) / 6 Mar 2007 (a relative)",
        ),
        ({"occurred_precision": "undated"}, "undated (recorded 5 Jun 2007)"),
    ],
)
def test_the_chronology_says_each_date_as_its_source_knows_it(
    dates: dict[str, Any], words: str
) -> None:
    """Each precision in words, approximate as `about`."""
    assert shown(**dates) == words


def test_a_correction_to_an_instant_replaces_a_range() -> None:
    """A range corrected with corrected_occurred_at becomes that instant."""
    ranged = dated(
        occurred_precision="range",
        occurred_range={"not_before": "2007-01-03T00:00:00Z"},
        recorded_at="2007-01-10T00:00:00Z",
    )
    fix = make_event(
        "correction.recorded",
        ranged["case_id"],
        amends=ranged["event_id"],
        recorded_at="2007-01-11T00:00:00Z",
        occurred_at="2007-01-11T00:00:00Z",
        payload={
            "corrected_payload": ranged["payload"],
            "corrected_occurred_at": "2007-01-05T10:00:00Z",
            "reason": "the date was found in the police log",
        },
    )
    event = effective_events(as_events([ranged, fix]))[0]
    assert (event.occurred_at, event.occurred_precision) == ("2007-01-05T10:00:00Z", "instant")
    assert event.occurred_range is None and describe_occurred(event) == "5 Jan 2007 10:00"


START = datetime(2007, 1, 1, tzinfo=UTC)
hours = st.integers(min_value=0, max_value=24 * 365)


@settings(max_examples=150, deadline=None)
@given(hours, hours, st.booleans(), st.booleans())
def test_any_range_is_accepted_in_order_and_refused_inverted(
    first: int, second: int, lower: bool, upper: bool
) -> None:
    """A range with its bounds in order is valid, sorts by not_before (else not_after), and
    may have happened in a window exactly when it overlaps it; inverted, it is refused as
    `range-order` at /occurred_range."""
    a, b = START + timedelta(hours=first), START + timedelta(hours=second)
    bounds = {"not_before": utc_text(a), "not_after": utc_text(b)}
    if not (lower and upper):
        bounds = {k: v for k, v in bounds.items() if (k == "not_before") == lower}
    event = dated(
        recorded_at="2008-06-01T00:00:00Z", occurred_precision="range", occurred_range=bounds
    )
    problems = REGISTRY.problems(event)
    if len(bounds) == 2 and a > b:
        assert [(p.pointer, p.rule) for p in problems] == [("/occurred_range", "range-order")]
        return
    assert problems == []
    read = as_events([event])[0]
    assert read.occurred_at == bounds.get("not_before", bounds.get("not_after"))
    window = (START + timedelta(days=100), START + timedelta(days=200))
    low = a if "not_before" in bounds else None
    high = b if "not_after" in bounds else None
    overlaps = (low is None or low <= window[1]) and (high is None or high >= window[0])
    assert may_have_occurred_within(read, *window) == overlaps


def test_knowledge_and_case_state_count_from_the_derived_instant() -> None:
    """An undated meeting tabling an injury: attendees know the injury from when the meeting
    was recorded; a ranged one, from its not_before; the case state folds both."""
    case_id = new_case_id()
    injury = make_event(
        "injury.observed",
        case_id,
        occurred_at="2007-03-01T09:00:00Z",
        recorded_at="2007-03-01T10:00:00Z",
    )
    meetings = []
    for dates in (
        {"occurred_precision": "undated", "recorded_at": "2007-03-12T09:00:00Z"},
        {
            "occurred_precision": "range",
            "occurred_range": {"not_before": "2007-03-05T00:00:00Z"},
            "recorded_at": "2007-03-20T09:00:00Z",
        },
    ):
        meeting = example("meeting.held", 2)
        del meeting["occurred_at"]
        meeting.update(event_id=str(uuid.uuid4()), case_id=case_id, **dates)
        meeting["payload"]["facts_tabled"] = [injury["event_id"]]
        meetings.append(meeting)
    events = as_events([make_event("case.opened", case_id), injury, *meetings])
    known = knowledge(events, datetime(2007, 4, 1, tzinfo=UTC)).known[injury["event_id"]]
    legal = known["example-legal"]
    assert (legal.via, legal.through) == ("meeting", meetings[1]["event_id"])
    assert legal.since == datetime(2007, 3, 5, tzinfo=UTC)
    first = knowledge(events[:3], datetime(2007, 4, 1, tzinfo=UTC)).known[injury["event_id"]]
    assert first["example-legal"].since == datetime(2007, 3, 12, 9, tzinfo=UTC)
    state = reduce(project, effective_events(events), None)
    assert state is not None and state.last_event_id == meetings[1]["event_id"]
