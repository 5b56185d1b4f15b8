"""Inquiry notes over HTTP, on both backends: a note about an event and one about a date are
kept on the notes log and never on the ledger, read back in order, a superseding note shows as
such; only an inquiry writes one; a note naming an event that is not the case's is refused
with nothing appended."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sgl.bootstrap import Container
from sgl.routes_notes import notes_of
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.credentials import INQUIRY_AGENCY, post_by_caller
from tests.factories import case_events, new_case_id


@pytest.fixture
def server(container: Container) -> Iterator[LiveServer]:
    """The real app on loopback with the test agencies, its consumers running."""
    served = LiveServer(with_agencies(container)).start()
    yield served
    served.stop()


def a_case(server: LiveServer) -> tuple[str, list[dict[str, Any]]]:
    """A case published over HTTP, its events in the case view."""
    case_id = new_case_id()
    events = case_events(case_id)
    with server.client() as http:
        for posted in post_by_caller(http, events):
            assert posted.status_code in (200, 201), posted.text
    wait_for(
        lambda: len(server.container.view.events(case_id)) == len(events),
        what="the case's events in the case view",
    )
    return case_id, events


def write(http: httpx.Client, case_id: str, body: object, **headers: str) -> httpx.Response:
    """POST a note about the case (as the inquiry unless other headers are given)."""
    return http.post(f"/v1/cases/{case_id}/notes", json=body, headers=headers or None)


def test_notes_are_kept_beside_the_record_and_read_back_in_order(server: LiveServer) -> None:
    """A note about an event and one about a day go on the notes log, not the ledger (its end
    offsets unchanged); they are read back oldest first with their authors, and the page's
    function answers as the API does."""
    container = server.container
    case_id, events = a_case(server)
    ledger_ends = container.log.end_offsets()
    event_id = events[1]["event_id"]
    with server.client() as http:
        first = write(http, case_id, {"about": {"event_id": event_id}, "text": "Why no visit?"})
        assert first.status_code == 201, first.text
        second = write(http, case_id, {"about": {"date": "2031-01-15"}, "text": "Half term."})
        assert second.status_code == 201, second.text
        read = http.get(f"/v1/cases/{case_id}/notes")
    assert read.status_code == 200, read.text
    written = [first.json(), second.json()]
    assert [w["note"]["note_id"] for w in written] == [w["receipt"]["event_id"] for w in written]
    assert container.log.end_offsets() == ledger_ends
    assert sum(container.notes_log.end_offsets().values()) == 2
    found = read.json()
    assert found["count"] == 2
    assert [n["note"] for n in found["notes"]] == [w["note"] for w in written]
    assert [n["superseded_by"] for n in found["notes"]] == [None, None]
    note = found["notes"][0]["note"]
    assert note["about"] == {"event_id": event_id}
    assert note["text"] == "Why no visit?"
    assert note["author"]["agency"] == INQUIRY_AGENCY
    assert note["author"]["token_id"]
    assert found["notes"][1]["note"]["about"] == {"date": "2031-01-15"}
    assert notes_of(container, case_id) == found["notes"]
    # Nothing of the notes is in the record: the case's events are the ones published.
    assert [e.event_id for e in container.view.events(case_id)] == [e["event_id"] for e in events]


def test_a_later_note_supersedes_an_earlier_one_which_is_kept(server: LiveServer) -> None:
    """A note naming an earlier one in `supersedes` amends it: both are kept, the earlier one
    marked as superseded by the later."""
    case_id, _ = a_case(server)
    with server.client() as http:
        earlier = write(http, case_id, {"about": {"date": "2031-01-15"}, "text": "Half term."})
        assert earlier.status_code == 201, earlier.text
        earlier_id = earlier.json()["note"]["note_id"]
        later = write(
            http,
            case_id,
            {"about": {"date": "2031-01-15"}, "text": "Withdrawn.", "supersedes": earlier_id},
        )
        assert later.status_code == 201, later.text
        found = http.get(f"/v1/cases/{case_id}/notes").json()["notes"]
    later_id = later.json()["note"]["note_id"]
    assert [(n["note"]["note_id"], n["superseded_by"]) for n in found] == [
        (earlier_id, later_id),
        (later_id, None),
    ]
    assert found[0]["note"]["text"] == "Half term."


def test_only_an_inquiry_writes_notes_and_a_wrong_note_appends_nothing(
    server: LiveServer,
) -> None:
    """A publisher or a practitioner is refused (403); a note about an event of another case,
    about nothing, or superseding a note the case has not, is a 422 naming the field and rule;
    an unknown case is a 404; none of them appends anything."""
    container = server.container
    case_id, events = a_case(server)
    other_case, other_events = a_case(server)
    agency = events[0]["agency"]
    about = {"about": {"event_id": events[0]["event_id"]}, "text": "A question."}
    with server.client() as http:
        for role in ("publisher", "practitioner"):
            refused = write(http, case_id, about, **server.headers(role, agency))
            assert refused.status_code == 403, (role, refused.text)
        wrong = {
            "/about/event_id": {"about": {"event_id": other_events[0]["event_id"]}, "text": "x"},
            "/about": {"about": {"date": "2031-01-15", "event_id": str(uuid.uuid4())}, "text": "x"},
            "/supersedes": {**about, "supersedes": str(uuid.uuid4())},
            "/text": {"about": {"date": "2031-01-15"}, "text": "x" * 4001},
            "/author": {**about, "author": {"agency": "someone-else", "token_id": "t"}},
        }
        rules = {}
        for pointer, body in wrong.items():
            answer = write(http, case_id, body)
            assert answer.status_code == 422, (pointer, answer.text)
            assert answer.json()["type"] == "urn:sgl:problem:invalid-note"
            [problem] = answer.json()["errors"]
            assert problem["pointer"] == pointer
            rules[pointer] = problem["rule"]
        unknown = write(http, new_case_id(), {"about": {"date": "2031-01-15"}, "text": "x"})
        assert unknown.status_code == 404, unknown.text
        read = http.get(f"/v1/cases/{case_id}/notes", headers=server.headers("publisher", agency))
        assert read.status_code == 403
        audited = http.get(f"/v1/cases/{case_id}/notes", headers=server.headers("auditor"))
        assert audited.status_code == 200 and audited.json()["count"] == 0
    assert rules == {
        "/about/event_id": "event-in-case",
        "/about": "about-one",
        "/supersedes": "note-in-case",
        "/text": "maxLength",
        "/author": "set-by-ledger",
    }
    assert sum(container.notes_log.end_offsets().values()) == 0
    assert notes_of(container, other_case) == []
