"""The chronology (ordered by when things happened) and the changes between two dates."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from sgl.bootstrap import Container
from tests.conftest import LiveServer
from tests.factories import make_event, new_case_id
from tests.integration.test_amendments import correction
from tests.integration.test_corrections import publish, settled


def case_with_history(server: LiveServer, container: Container) -> dict[str, Any]:
    """Three events recorded out of order, one approximate, one corrected later."""
    case_id = new_case_id()
    late = make_event(
        "contact.recorded",
        case_id,
        occurred_at="2007-03-01T10:00:00Z",
        recorded_at="2007-03-09T10:00:00Z",
    )
    injury = make_event(
        "injury.observed",
        case_id,
        occurred_at="2007-03-05T10:00:00Z",
        recorded_at="2007-03-05T12:00:00Z",
    )
    vague = make_event(
        "contact.recorded",
        case_id,
        occurred_at="2007-02-01T00:00:00Z",
        recorded_at="2007-03-06T09:00:00Z",
        occurred_precision="month",
        occurred_approximate=True,
    )
    vague["agency"] = "school-north-primary"
    fix = correction(injury, count=5)
    fix.update(occurred_at="2007-03-20T09:00:00Z", recorded_at="2007-03-20T10:00:00Z")
    publish(server, [injury, vague, late, fix])
    settled(container, case_id, fix)
    return {"case_id": case_id, "late": late, "injury": injury, "vague": vague, "fix": fix}


def test_the_chronology_is_ordered_by_occurrence_with_lags_and_marks(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """Rows by occurred_at; approximate dates marked; lags in days; amendments marked."""
    c = case_with_history(live_server, container)
    url = f"{live_server.url}/v1/cases/{c['case_id']}/chronology"
    rows = http.get(url).json()["events"]
    ids = [r["event_id"] for r in rows]
    assert ids == [
        c["vague"]["event_id"],
        c["late"]["event_id"],
        c["injury"]["event_id"],
        c["fix"]["event_id"],
    ]
    vague, late, injury = rows[0], rows[1], rows[2]
    assert (vague["occurred_precision"], vague["occurred_approximate"]) == ("month", True)
    assert late["recording_lag_days"] == 8.0
    assert injury["status"] == "corrected" and "x5" in injury["summary"]
    assert injury["amended_by"] == [c["fix"]["event_id"]]


def test_the_chronology_as_of_a_date_and_with_filters(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """As of 10 March the correction is not yet known; filters narrow the rows."""
    c = case_with_history(live_server, container)
    url = f"{live_server.url}/v1/cases/{c['case_id']}/chronology"
    then = http.get(url, params={"as_of": "2007-03-10"}).json()["events"]
    injury = next(r for r in then if r["event_id"] == c["injury"]["event_id"])
    assert injury["status"] == "as-recorded" and "x2" in injury["summary"]
    assert len(then) == 3
    schools = http.get(url, params={"agency": "school-north-primary"}).json()["events"]
    assert [r["event_id"] for r in schools] == [c["vague"]["event_id"]]
    injuries = http.get(url, params={"type": "injury.observed"}).json()["events"]
    assert [r["type"] for r in injuries] == ["injury.observed"]
    march = http.get(url, params={"from": "2007-03-02", "to": "2007-03-06"}).json()["events"]
    assert [r["event_id"] for r in march] == [c["injury"]["event_id"]]
    bad = http.get(url, params={"from": "soon"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/from"


def test_the_chronology_as_csv(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """format=csv gives a header and one row per event."""
    c = case_with_history(live_server, container)
    response = http.get(
        f"{live_server.url}/v1/cases/{c['case_id']}/chronology", params={"format": "csv"}
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4
    assert rows[0]["occurred_approximate"] == "True"
    assert rows[2]["status"] == "corrected"


def test_changes_between_two_dates(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """What was added by 9 March, and what was corrected after it: each entry says what it
    is, who recorded it and when, and a correction what it amends, before and after."""
    c = case_with_history(live_server, container)
    url = f"{live_server.url}/v1/cases/{c['case_id']}/changes"
    early = http.get(url, params={"from": "2007-03-01", "to": "2007-03-09"}).json()
    assert sorted(e["event_id"] for e in early["added"]) == sorted(
        c[k]["event_id"] for k in ("injury", "vague", "late")
    )
    vague = next(e for e in early["added"] if e["event_id"] == c["vague"]["event_id"])
    assert (vague["type"], vague["agency"], vague["recorded_at"]) == (
        "contact.recorded",
        "school-north-primary",
        c["vague"]["recorded_at"],
    )
    assert vague["summary"].startswith(c["vague"]["payload"]["contact_type"])
    assert early["corrected"] == [] and early["retracted"] == []
    later = http.get(url, params={"from": "2007-03-09", "to": "2007-03-31"}).json()
    assert later["added"] == []
    [fixed] = later["corrected"]
    assert (fixed["event_id"], fixed["amends"]) == (c["fix"]["event_id"], c["injury"]["event_id"])
    assert (
        fixed["type"] == "correction.recorded" and fixed["recorded_at"] == c["fix"]["recorded_at"]
    )
    assert fixed["amended"]["event_id"] == c["injury"]["event_id"]
    assert " x5" not in fixed["amended"]["summary"]
    assert " x5" in fixed["amended"]["summary_as_corrected"]
    unknown = http.get(
        f"{live_server.url}/v1/cases/{new_case_id()}/changes",
        params={"from": "2007-03-01", "to": "2007-03-09"},
    )
    assert unknown.status_code == 404
    bad = http.get(url, params={"from": "March", "to": "2007-03-09"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/from"
    backwards = http.get(url, params={"from": "2007-03-09", "to": "2007-03-01"})
    assert backwards.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in backwards.json()["errors"]] == [
        ("/from", "not-after-to")
    ]


def test_the_chronology_and_changes_name_agencies_by_their_registered_names(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """A referral's line names both agencies as registered, in JSON, CSV and the change list;
    the code stays beside the name in JSON."""
    case_id = new_case_id()
    referral = make_event("referral.made", case_id)
    referral.update(
        schema_version=2, payload={**referral["payload"], "conveyed": {"concern": "stated"}}
    )
    referral["payload"] |= {"from_agency": "example-hospital", "to_agency": "example-gp"}
    referral["agency"] = "example-hospital"
    publish(live_server, [make_event("case.opened", case_id), referral])
    settled(container, case_id, referral)
    url = f"{live_server.url}/v1/cases/{case_id}/chronology"
    (row,) = [r for r in http.get(url).json()["events"] if r["type"] == "referral.made"]
    assert row["summary"].startswith("referral Example Hospital -> Example GP Practice")
    assert (row["agency"], row["agency_name"]) == ("example-hospital", "Example Hospital")
    table = http.get(url, params={"format": "csv"}).text
    assert "referral Example Hospital -> Example GP Practice" in table
    assert "example-hospital" not in table.split("\n", 1)[1].replace(referral["event_id"], "")
    found = http.get(
        f"{live_server.url}/v1/cases/{case_id}/changes",
        params={"from": "2000-01-01", "to": "2030-01-01"},
    ).json()
    (added,) = [a for a in found["added"] if a["type"] == "referral.made"]
    assert added["agency_name"] == "Example Hospital"
    assert added["summary"].startswith("referral Example Hospital -> Example GP Practice")
