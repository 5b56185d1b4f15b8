"""Dates as sources know them (envelope version 2), over HTTP: refused when inconsistent,
stored as sent (no invented instant), shown with their uncertainty, and as-of unchanged."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import orjson
import pytest

from sgl.bootstrap import Container
from tests.conftest import LiveServer
from tests.factories import example, make_event, new_case_id
from tests.integration.test_alerter import everything
from tests.integration.test_corrections import publish, settled

PROBLEM = "application/problem+json"
RANGE = {"not_before": "2007-01-03T00:00:00Z", "not_after": "2007-01-09T23:59:59Z"}
ACCOUNTS = [
    {"occurred_at": "2007-03-04T00:00:00Z", "precision": "day", "agency": "example-police"},
    {"occurred_at": "2007-03-06T00:00:00Z", "precision": "day", "source": {"kind": "relative"}},
]


def dated(case_id: str, recorded_at: str = "2007-05-05T10:00:00Z", **dates: Any) -> dict[str, Any]:
    """A person.linked (on envelope version 2) whose date is given by `dates` alone."""
    event = example("person.linked", 2)
    del event["occurred_at"]
    event.update(event_id=str(uuid.uuid4()), case_id=case_id, recorded_at=recorded_at, **dates)
    return event


REFUSALS = [
    (
        "inverted-range",
        {
            "occurred_precision": "range",
            "occurred_range": {
                "not_before": "2007-01-09T00:00:00Z",
                "not_after": RANGE["not_before"],
            },
        },
        "/occurred_range",
        "range-order",
    ),
    (
        "disputed-with-one-account",
        {"occurred_precision": "disputed", "occurred_accounts": ACCOUNTS[:1]},
        "/occurred_accounts",
        "two-accounts",
    ),
    (
        "disputed-without-accounts",
        {"occurred_precision": "disputed"},
        "/occurred_accounts",
        "two-accounts",
    ),
    (
        "range-without-bounds",
        {"occurred_precision": "range"},
        "/occurred_range",
        "required",
    ),
    (
        "occurred-at-with-range",
        {
            "occurred_precision": "range",
            "occurred_range": RANGE,
            "occurred_at": RANGE["not_before"],
        },
        "/occurred_at",
        "no-occurred-at",
    ),
    (
        "occurred-at-with-undated",
        {"occurred_precision": "undated", "occurred_at": "2007-01-03T00:00:00Z"},
        "/occurred_at",
        "no-occurred-at",
    ),
    (
        "part-of-day-without-its-precision",
        {"occurred_at": "2007-05-22T00:00:00Z", "occurred_part_of_day": "evening"},
        "/occurred_part_of_day",
        "precision-mismatch",
    ),
    (
        "part-of-day-precision-without-the-part",
        {"occurred_at": "2007-05-22T00:00:00Z", "occurred_precision": "part_of_day"},
        "/occurred_part_of_day",
        "required",
    ),
    (
        "range-without-its-precision",
        {"occurred_at": "2007-01-03T00:00:00Z", "occurred_range": RANGE},
        "/occurred_range",
        "precision-mismatch",
    ),
    (
        "approximately-undated",
        {"occurred_precision": "undated", "occurred_approximate": True},
        "/occurred_approximate",
        "precision-mismatch",
    ),
    (
        "no-date-at-all",
        {},
        "/occurred_at",
        "required",
    ),
    (
        "account-of-nobody",
        {
            "occurred_precision": "disputed",
            "occurred_accounts": [ACCOUNTS[0], {"occurred_at": "2007-03-06T00:00:00Z"}],
        },
        "/occurred_accounts/1",
        "account-whose",
    ),
    (
        "recorded-before-the-range",
        {
            "occurred_precision": "range",
            "occurred_range": {"not_before": "2007-06-01T00:00:00Z"},
        },
        "/recorded_at",
        "recorded-after-occurred",
    ),
]


@pytest.mark.parametrize(
    ("dates", "pointer", "rule"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_an_inconsistent_date_is_refused_by_field_and_rule(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
    dates: dict[str, Any],
    pointer: str,
    rule: str,
) -> None:
    """422 problem+json naming the field (JSON pointer, item 0) and the rule, with a specific
    message rather than JSON Schema's; nothing of the batch is appended."""
    case_id = new_case_id()
    fine = make_event("case.opened", case_id)
    ends = container.log.end_offsets()
    response = http.post(
        live_server.url + "/v1/events",
        content=orjson.dumps([fine, dated(case_id, **dates)]),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    errors = response.json()["errors"]
    found = [e for e in errors if (e["pointer"], e["rule"]) == (pointer, rule)]
    assert found, errors
    assert found[0]["item"] == 1
    assert "is not allowed for" not in found[0]["detail"]
    assert "{" not in found[0]["detail"]
    assert container.log.end_offsets() == ends


def uncertain_case(live_server: LiveServer, container: Container) -> dict[str, Any]:
    """A case with one event of each kind of uncertain date, recorded on different days."""
    case_id = new_case_id()
    opened = make_event(
        "case.opened",
        case_id,
        occurred_at="2007-01-01T09:00:00Z",
        recorded_at="2007-01-01T09:00:00Z",
    )
    events = {
        "ranged": dated(
            case_id,
            recorded_at="2007-01-10T09:00:00Z",
            occurred_precision="range",
            occurred_range={
                "not_before": "2007-01-03T00:00:00+00:00",
                "not_after": RANGE["not_after"],
            },
        ),
        "evening": dated(
            case_id,
            recorded_at="2007-05-23T09:00:00Z",
            occurred_at="2007-05-22T00:00:00Z",
            occurred_precision="part_of_day",
            occurred_part_of_day="evening",
        ),
        "disputed": dated(
            case_id,
            recorded_at="2007-03-10T09:00:00Z",
            occurred_precision="disputed",
            occurred_accounts=[
                {**ACCOUNTS[1], "occurred_at": "2007-03-06T01:00:00+01:00"},
                ACCOUNTS[0],
            ],
        ),
        "undated": dated(case_id, recorded_at="2007-05-05T10:00:00Z", occurred_precision="undated"),
    }
    publish(live_server, [opened, *events.values()])
    settled(container, case_id, events["undated"])
    return {"case_id": case_id, **events}


def test_uncertain_dates_are_stored_as_sent_in_utc_without_an_invented_instant(
    live_server: LiveServer, container: Container
) -> None:
    """The log holds no occurred_at for a range, a dispute or an undated event; their
    instants are in UTC."""
    c = uncertain_case(live_server, container)
    stored = {d["event_id"]: d for d in everything(container.log)}
    ranged, disputed = stored[c["ranged"]["event_id"]], stored[c["disputed"]["event_id"]]
    undated = stored[c["undated"]["event_id"]]
    assert "occurred_at" not in ranged and "occurred_at" not in disputed
    assert "occurred_at" not in undated
    assert ranged["occurred_range"]["not_before"] == "2007-01-03T00:00:00Z"
    assert disputed["occurred_accounts"][0]["occurred_at"] == "2007-03-06T00:00:00Z"
    assert stored[c["evening"]["event_id"]]["occurred_part_of_day"] == "evening"


def test_the_chronology_shows_each_dates_uncertainty(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """Ordered by the derived instant, each row says its date in words and carries the
    structured fields; the CSV has the words too."""
    c = uncertain_case(live_server, container)
    url = f"{live_server.url}/v1/cases/{c['case_id']}/chronology"
    rows = {r["event_id"]: r for r in http.get(url).json()["events"]}
    order = [r["event_id"] for r in http.get(url).json()["events"]][1:]
    keys = ("ranged", "disputed", "undated", "evening")
    assert order == [c[k]["event_id"] for k in keys]
    ranged, disputed = rows[c["ranged"]["event_id"]], rows[c["disputed"]["event_id"]]
    undated, evening = rows[c["undated"]["event_id"]], rows[c["evening"]["event_id"]]
    assert ranged["occurred"] == "between 3 and 9 Jan 2007"
    assert ranged["occurred_at"] == "2007-01-03T00:00:00Z" and not ranged["occurred_stated"]
    assert ranged["occurred_range"] == RANGE
    assert disputed["occurred"] == (
        "disputed: 6 Mar 2007 (a relative) / 4 Mar 2007 (Example Police Child Protection Team)"
    )
    assert disputed["occurred_at"] == "2007-03-04T00:00:00Z"
    assert len(disputed["occurred_accounts"]) == 2
    assert undated["occurred"] == "undated (recorded 5 May 2007)"
    assert undated["occurred_precision"] == "undated" and undated["recording_lag_days"] is None
    assert evening["occurred"] == "22 May 2007, evening"
    assert evening["occurred_part_of_day"] == "evening" and evening["occurred_stated"]
    table = list(csv.DictReader(io.StringIO(http.get(url, params={"format": "csv"}).text)))
    assert [r["occurred"] for r in table][1:] == [rows[c[k]["event_id"]]["occurred"] for k in keys]


def test_as_of_stays_on_the_recorded_axis_for_uncertain_dates(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """As of 1 May 2007 the undated event (recorded 5 May) is not known; the range (recorded
    10 Jan) is. A window by occurrence keeps what may have happened in it."""
    c = uncertain_case(live_server, container)
    url = f"{live_server.url}/v1/cases/{c['case_id']}/chronology"
    then = [r["event_id"] for r in http.get(url, params={"as_of": "2007-05-01"}).json()["events"]]
    assert c["ranged"]["event_id"] in then and c["disputed"]["event_id"] in then
    assert c["undated"]["event_id"] not in then
    before = [r["event_id"] for r in http.get(url, params={"as_of": "2007-01-09"}).json()["events"]]
    assert c["ranged"]["event_id"] not in before
    window = {"from": "2007-01-05", "to": "2007-03-05"}
    within = [r["event_id"] for r in http.get(url, params=window).json()["events"]]
    assert within == [c[k]["event_id"] for k in ("ranged", "disputed", "undated")]
    history = http.get(f"{live_server.url}/v1/cases/{c['case_id']}/history").json()["entries"]
    undated = next(e for e in history if e["event_id"] == c["undated"]["event_id"])
    assert undated["occurred_precision"] == "undated" and undated["recording_lag_seconds"] is None


def test_a_day_window_keeps_what_happened_that_day(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """`from` and `to` given as the same day keep the events of that day: "from" a day is its
    start, "to" a day its end (the evening of 22 May; the relative's account of 6 March)."""
    c = uncertain_case(live_server, container)
    url = f"{live_server.url}/v1/cases/{c['case_id']}/chronology"

    def window(day: str) -> list[str]:
        rows = http.get(url, params={"from": day, "to": day}).json()["events"]
        return [r["event_id"] for r in rows]

    assert c["evening"]["event_id"] in window("2007-05-22")
    assert c["disputed"]["event_id"] in window("2007-03-06")
    assert c["disputed"]["event_id"] not in window("2007-03-05")
