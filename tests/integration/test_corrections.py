"""Corrections and retractions change nothing stored: the state applies them, history shows both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from consumers.runner import ProjectionRunner
from sgl.bootstrap import Container
from tests.case_views import case_view_maker
from tests.conftest import LiveServer, wait_for
from tests.credentials import by_caller
from tests.factories import make_event, new_case_id
from tests.integration.test_amendments import correction, retraction


def publish(server: LiveServer, events: list[dict[str, Any]]) -> None:
    """Publish the events in order, each agency's run of them by that agency's publisher."""
    with server.client() as http:
        for batch in by_caller(events):
            response = http.post(
                "/v1/events",
                content=orjson.dumps(batch),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 201, response.text


def settled(container: Container, case_id: str, last: dict[str, Any]) -> dict[str, Any]:
    """The case's state once the view has applied `last`, the last event published to it."""
    wait_for(
        lambda: (
            (s := container.view.get(case_id)) is not None and s.last_event_id == last["event_id"]
        ),
        what=f"{last['event_id']} applied to {case_id}",
    )
    state = container.view.get(case_id)
    assert state is not None
    return orjson.loads(orjson.dumps(state))


def test_a_correction_replaces_the_original_in_state_and_history_keeps_both(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
) -> None:
    """Injuries 2 corrected to 3: the state counts 3; history shows as recorded and corrected."""
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id)
    publish(live_server, [make_event("case.opened", case_id), injury])
    assert settled(container, case_id, injury)["injuries"] == 2
    fix = correction(injury, count=3)
    publish(live_server, [fix])
    state = settled(container, case_id, fix)
    assert (state["injuries"], state["injury_observations"], state["corrections"]) == (3, 1, 1)
    entries = http.get(f"{live_server.url}/v1/cases/{case_id}/history").json()["entries"]
    original = next(e for e in entries if e["event_id"] == injury["event_id"])
    assert original["status"] == "corrected"
    assert original["payload"]["count"] == 2, "the record as recorded is unchanged"
    assert original["as_corrected"]["payload"]["count"] == 3
    assert original["amended_by"] == [fix["event_id"]]
    amendment = next(e for e in entries if e["event_id"] == fix["event_id"])
    assert (amendment["status"], amendment["amends"]) == ("as-recorded", injury["event_id"])


def test_a_retraction_removes_the_event_from_state_but_not_from_history(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
) -> None:
    """A retracted contact no longer counts; history marks it retracted."""
    case_id = new_case_id()
    contacts = [make_event("contact.recorded", case_id) for _ in range(3)]
    publish(live_server, contacts)
    withdrawal = retraction(contacts[1])
    publish(live_server, [withdrawal])
    state = settled(container, case_id, withdrawal)
    assert (state["contacts"], state["retractions"]) == (2, 1)
    assert state["events"] == 3, "the retracted contact is no longer in effect"
    entries = http.get(f"{live_server.url}/v1/cases/{case_id}/history").json()["entries"]
    assert [e["status"] for e in entries] == [
        "as-recorded",
        "retracted",
        "as-recorded",
        "as-recorded",
    ]


def test_the_latest_correction_wins_and_a_corrected_date_is_used(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
) -> None:
    """Two corrections of one event: the later one is the event's current content."""
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id)
    first = correction(injury, count=5)
    second = correction(injury, count=4)
    second["payload"]["corrected_occurred_at"] = "2006-12-10T08:00:00Z"
    publish(live_server, [injury, first, second])
    assert settled(container, case_id, second)["injuries"] == 4
    entries = http.get(f"{live_server.url}/v1/cases/{case_id}/history").json()["entries"]
    assert entries[0]["as_corrected"] == {
        "occurred_at": "2006-12-10T08:00:00Z",
        "payload": {**injury["payload"], "count": 4},
    }


def test_history_shows_recording_and_submission_lags(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
) -> None:
    """Each entry carries recorded_at - occurred_at and appended_at - recorded_at."""
    case_id = new_case_id()
    late = make_event(
        "contact.recorded",
        case_id,
        occurred_at="2007-04-11T15:00:00Z",
        recorded_at="2007-04-19T10:00:00Z",
    )
    publish(live_server, [late])
    settled(container, case_id, late)
    entry = http.get(f"{live_server.url}/v1/cases/{case_id}/history").json()["entries"][0]
    assert entry["recording_lag_seconds"] == 7 * 86400 + 19 * 3600
    assert entry["submission_lag_seconds"] > 19 * 365 * 86400


def test_a_rebuild_with_amendments_equals_the_live_view(
    live_server: LiveServer,
    container: Container,
    tmp_path: Path,
    database: str,
    request: pytest.FixtureRequest,
) -> None:
    """Folding the whole log from scratch, into either database, gives the same states as the
    live view."""
    case_id = new_case_id()
    injury, contact = (
        make_event("injury.observed", case_id),
        make_event("contact.recorded", case_id),
    )
    withdrawal = retraction(contact)
    publish(live_server, [injury, contact, correction(injury, count=1), withdrawal])
    live = settled(container, case_id, withdrawal)
    with case_view_maker(database, request, tmp_path)() as rebuilt:
        ProjectionRunner(
            container.log, rebuilt, container.schemas, container.dead_letters
        ).run_until_caught_up(timeout=30)
        again = rebuilt.get(case_id)
    assert again is not None
    assert orjson.loads(orjson.dumps(again)) == live
    assert (live["injuries"], live["contacts"]) == (1, 0)


def test_as_of_before_a_correction_shows_the_entry_as_it_was_recorded(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
) -> None:
    """The state applies a correction only from the correction's own recorded time on."""
    case_id = new_case_id()
    injury = make_event(
        "injury.observed",
        case_id,
        occurred_at="2007-03-01T10:00:00Z",
        recorded_at="2007-03-01T12:00:00Z",
    )
    fix = correction(injury, count=4)
    fix.update(occurred_at="2007-03-10T09:00:00Z", recorded_at="2007-03-10T09:30:00Z")
    publish(live_server, [injury, fix])
    settled(container, case_id, fix)
    url = f"{live_server.url}/v1/cases/{case_id}"
    assert http.get(url, params={"as_of": "2007-03-05"}).json()["injuries"] == 2
    assert http.get(url, params={"as_of": "2007-03-10"}).json()["injuries"] == 4
    assert http.get(url, params={"as_of": "2007-02-28"}).status_code == 404
    held = http.get(url, params={"as_of": "2007-03-05", "basis": "appended"})
    assert held.status_code == 404, "the ledger held nothing of it in 2007"
    bad = http.get(url, params={"as_of": "last week"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/as_of"
