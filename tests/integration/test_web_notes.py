"""Inquiry notes on the pages, over HTTP on the embedded store: an inquiry writes a note from
the case page's form (kept on the notes log, never the ledger, and the same note the API
reads back), a later note supersedes an earlier one, and the form refuses what the API
refuses; only an inquiry writes and only inquiry and auditor see notes; a note's text is
always shown as text."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.credentials import INQUIRY_AGENCY
from tests.integration.test_notes import a_case
from tests.integration.test_web_case_page import api, signed_in

NOTE = re.compile(r'<li id="note-([0-9a-f-]+)" data-note="')
# The first example events: the case opened (recorded 2006-11-02), the decision (2007-07-25).
OPENED_DAY, DECIDED_DAY = "2006-11-02", "2007-07-25"


@pytest.fixture
def server(sqlite_server: LiveServer) -> LiveServer:
    """A live server of this test's own on the embedded store, with the example agencies."""
    return sqlite_server


def today() -> str:
    """Today's date (UTC), the case page's day when none is given."""
    return datetime.now(UTC).date().isoformat()


def post_note(
    browser: httpx.Client,
    server: LiveServer,
    case_id: str,
    origin: str | None = None,
    **fields: str,
) -> httpx.Response:
    """Send the case page's note form as a browser does (with this app's Origin)."""
    data = {"as_of": today(), "about_event": "", "about_date": "", "text": "", "supersedes": ""}
    return browser.post(
        f"/cases/{case_id}/notes",
        data=data | fields,
        headers={"Origin": origin or server.url},
    )


def notes_appended(server: LiveServer) -> int:
    """How many notes the notes log holds."""
    return sum(server.container.notes_log.end_offsets().values())


def api_notes(server: LiveServer, case_id: str) -> list[dict[str, Any]]:
    """The case's notes as the API answers an inquiry."""
    answer = api(server, f"/v1/cases/{case_id}/notes", "inquiry")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["notes"]
    return found


def test_an_inquiry_writes_notes_about_an_entry_and_a_date_from_the_case_page(
    server: LiveServer,
) -> None:
    case_id, events = a_case(server)
    decision = events[-1]["event_id"]
    ledger_ends = server.container.log.end_offsets()
    with signed_in(server, "inquiry") as browser:
        form = browser.get(f"/cases/{case_id}")
        assert form.status_code == 200
        assert 'href="#notes"' in form.text and '<h2 id="notes">' in form.text
        assert f'<option value="{decision}">' in form.text
        assert 'maxlength="4000"' in form.text
        about_event = post_note(
            browser, server, case_id, about_event=decision, text="Why was no visit made?"
        )
        about_date = post_note(browser, server, case_id, about_date="2006-12-20", text="Holiday.")
        for written in (about_event, about_date):
            assert written.status_code == 303, written.text
            assert written.headers["location"] == f"/cases/{case_id}?as_of={today()}#notes"
        page = browser.get(f"/cases/{case_id}", params={"as_of": today()})
        record = browser.get(f"/cases/{case_id}/events/{decision}")
    assert server.container.log.end_offsets() == ledger_ends
    assert notes_appended(server) == 2
    found = api_notes(server, case_id)
    assert NOTE.findall(page.text) == [n["note"]["note_id"] for n in found]
    event_note, date_note = (n["note"] for n in found)
    assert event_note["about"] == {"event_id": decision}
    assert event_note["author"]["agency"] == INQUIRY_AGENCY
    assert date_note["about"] == {"date": "2006-12-20"}
    assert "Why was no visit made?" in page.text and "Holiday." in page.text
    # The entry's row in the chronology links to its note; its record lists it too.
    row = page.text[page.text.index(f'<tr data-event="{decision}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="#note-{event_note["note_id"]}" class="note-count">1 note<' in row
    assert NOTE.findall(record.text) == [event_note["note_id"]]
    assert f"/cases/{case_id}?about={decision}#add-note" in record.text


def test_a_case_page_as_of_a_day_shows_the_notes_about_what_was_known_by_then(
    server: LiveServer,
) -> None:
    """Notes are the inquiry's own work, written now: a page as of a day shows those about
    entries known by then or dates up to it, each marked as written after the day, and
    counts the others."""
    case_id, events = a_case(server)
    decision = events[-1]["event_id"]
    with signed_in(server, "inquiry") as browser:
        for body in ({"about_event": decision}, {"about_date": OPENED_DAY}):
            assert post_note(browser, server, case_id, text="A note.", **body).status_code == 303
        early = browser.get(f"/cases/{case_id}", params={"as_of": OPENED_DAY})
        late = browser.get(f"/cases/{case_id}", params={"as_of": DECIDED_DAY})
    event_note, date_note = (n["note"]["note_id"] for n in api_notes(server, case_id))
    assert NOTE.findall(early.text) == [date_note]
    assert "1 note about later entries or dates is not shown as of 2006-11-02" in early.text
    assert f'<option value="{decision}"' not in early.text
    assert NOTE.findall(late.text) == [event_note, date_note]
    assert late.text.count(f'<span class="note-later">(after {DECIDED_DAY})</span>') == 2
    assert 'id="notes-later"' not in late.text


def test_a_later_note_supersedes_an_earlier_one_on_the_page(server: LiveServer) -> None:
    case_id, _ = a_case(server)
    with signed_in(server, "inquiry") as browser:
        assert post_note(browser, server, case_id, about_date=OPENED_DAY, text="First.").is_redirect
        [first] = [n["note"]["note_id"] for n in api_notes(server, case_id)]
        amend = browser.get(f"/cases/{case_id}", params={"as_of": today(), "amend": first})
        assert f'<option value="{first}" selected>' in amend.text
        assert f'value="{OPENED_DAY}"' in amend.text and ">First.</textarea>" in amend.text
        later = post_note(
            browser, server, case_id, about_date=OPENED_DAY, text="Second.", supersedes=first
        )
        assert later.status_code == 303, later.text
        page = browser.get(f"/cases/{case_id}")
    found = api_notes(server, case_id)
    second = found[1]["note"]["note_id"]
    assert [(n["note"]["note_id"], n["superseded_by"]) for n in found] == [
        (first, second),
        (second, None),
    ]
    earlier = page.text[page.text.index(f'<li id="note-{first}"') :]
    earlier = earlier[: earlier.index("</li>")]
    assert "note-superseded" in earlier
    assert f'<strong>Superseded by</strong> <a href="#note-{second}">' in earlier
    assert "Amend this note" not in earlier


def test_only_an_inquiry_writes_and_a_practitioner_sees_no_notes(server: LiveServer) -> None:
    case_id, events = a_case(server)
    agency = events[0]["agency"]
    with signed_in(server, "inquiry") as browser:
        assert post_note(browser, server, case_id, about_date=OPENED_DAY, text="Seen.").is_redirect
    for role, reader in (("practitioner", agency), ("auditor", None)):
        with signed_in(server, role, reader) as browser:  # type: ignore[arg-type]
            refused = post_note(browser, server, case_id, about_date=OPENED_DAY, text="No.")
            page = browser.get(f"/cases/{case_id}")
        assert refused.status_code == 403, (role, refused.text)
        assert refused.headers["content-type"].startswith("text/html")
        assert page.status_code == 200
        assert 'id="add-note"' not in page.text and "/notes" not in page.text
        if role == "auditor":
            assert '<h2 id="notes">' in page.text and "Seen." in page.text
        else:
            assert 'id="notes"' not in page.text and "Seen." not in page.text
            assert 'href="#notes"' not in page.text
    assert notes_appended(server) == 1


def test_a_form_sent_from_another_site_is_refused(server: LiveServer) -> None:
    case_id, _ = a_case(server)
    with signed_in(server, "inquiry") as browser:
        refused = post_note(
            browser, server, case_id, origin="http://evil.example", about_date=OPENED_DAY, text="x"
        )
    assert refused.status_code == 403
    assert "<code>/origin</code> (same-origin)" in refused.text
    assert notes_appended(server) == 0


@pytest.mark.parametrize(
    ("fields", "pointer", "rule", "field"),
    [
        ({"about_date": OPENED_DAY, "text": ""}, "/text", "minLength", "note-text"),
        ({"about_date": OPENED_DAY, "text": "   "}, "/text", "text-not-blank", "note-text"),
        ({"text": "About nothing."}, "/about", "about-one", "note-event"),
        (
            {"about_event": str(uuid.uuid4()), "text": "x"},
            "/about/event_id",
            "event-in-case",
            "note-event",
        ),
        (
            {"about_date": OPENED_DAY, "text": "x", "supersedes": str(uuid.uuid4())},
            "/supersedes",
            "note-in-case",
            "note-supersedes",
        ),
    ],
)
def test_a_note_the_ledger_refuses_shows_the_form_again_naming_the_field(
    server: LiveServer, fields: dict[str, str], pointer: str, rule: str, field: str
) -> None:
    case_id, _ = a_case(server)
    with signed_in(server, "inquiry") as browser:
        refused = post_note(browser, server, case_id, **fields)
    assert refused.status_code == 422, refused.text
    problems = refused.text[refused.text.index('id="note-problems"') :]
    assert f'<a href="#{field}"><code>{pointer}</code></a> ({rule})' in problems
    assert f'aria-invalid="true" aria-describedby="{field}-problems"' in refused.text or (
        field == "note-event"
        and f'aria-describedby="note-about-hint {field}-problems"' in refused.text
    )
    # What was sent is shown again to correct.
    if fields.get("text", "").strip():
        assert f">{fields['text']}</textarea>" in refused.text
    assert notes_appended(server) == 0


def test_a_note_about_an_event_of_another_case_is_refused(server: LiveServer) -> None:
    case_id, _ = a_case(server)
    _, others = a_case(server)
    with signed_in(server, "inquiry") as browser:
        refused = post_note(browser, server, case_id, about_event=others[0]["event_id"], text="x")
    assert refused.status_code == 422
    assert "(event-in-case)" in refused.text
    assert notes_appended(server) == 0


def test_a_note_is_shown_as_text_never_as_markup(server: LiveServer) -> None:
    case_id, events = a_case(server)
    event_id = events[0]["event_id"]
    script = '<script>alert("note")</script><b>bold</b>'
    with signed_in(server, "inquiry") as browser:
        assert post_note(browser, server, case_id, about_event=event_id, text=script).is_redirect
        [note] = api_notes(server, case_id)
        amend = browser.get(f"/cases/{case_id}", params={"amend": note["note"]["note_id"]})
        pages = [
            browser.get(f"/cases/{case_id}"),
            browser.get(f"/cases/{case_id}/events/{event_id}"),
            amend,
        ]
    assert note["note"]["text"] == script
    escaped = "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"
    for page in pages:
        assert page.status_code == 200
        assert escaped in page.text
        assert "<script>alert" not in page.text and "<b>bold" not in page.text


def test_another_inquiry_team_cannot_amend_a_teams_note(server: LiveServer) -> None:
    """A second inquiry agency sees the first team's note without an amend link, and its
    attempt to supersede it is refused naming the rule, with nothing appended."""
    case_id, _ = a_case(server)
    with signed_in(server, "inquiry") as browser:
        assert post_note(browser, server, case_id, about_date=OPENED_DAY, text="Ours.").is_redirect
    [first] = [n["note"]["note_id"] for n in api_notes(server, case_id)]
    before = notes_appended(server)
    with signed_in(server, "inquiry", "test-second-inquiry") as browser:
        page = browser.get(f"/cases/{case_id}")
        refused = post_note(
            browser, server, case_id, about_date=OPENED_DAY, text="Theirs.", supersedes=first
        )
    mine = page.text[page.text.index(f'<li id="note-{first}"') :]
    assert "Amend this note" not in mine[: mine.index("</li>")]
    assert f'<option value="{first}"' not in page.text
    assert refused.status_code == 422 and "own-note" in refused.text
    assert notes_appended(server) == before
