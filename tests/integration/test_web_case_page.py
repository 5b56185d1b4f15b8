"""The case page, an event's record and its proof download, over HTTP on the demo: the page
as of a day shows what the API answers for that day and role, and a practitioner sees only
what its agency knew, on the pages as in the API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import httpx
import orjson
import pytest

from ledger.envelope import parse_instant
from sgl.bootstrap import bootstrap
from sgl.demo import load_demo
from sgl.identity import READS_ALL, Role
from tests.conftest import LiveServer, private_settings
from tests.credentials import PURPOSE
from tests.integration.test_amendments import retraction
from tests.integration.test_chronology import case_with_history
from tests.integration.test_corrections import publish, settled
from tests.integration.test_web_session import access_records, sign_in

CHILD_A = "CASE-A0001"
# An agency of Child A that never learned of the slap outside school (social care kept it).
PRACTITIONER_AGENCY = "gp-practice-east"
ROW = re.compile(r'<tr data-event="([0-9a-f-]+)" class="status-')
STEP = re.compile(r'<a href="/cases/[^"?]+\?as_of=([0-9-]+)" data-key="([^"]+)"')


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """A live server over the demo (no background cases), sealed, every view caught up; no
    test appends to it, so its latest checkpoint stays the one the proofs are in."""
    settings = private_settings("sqlite", tmp_path_factory.mktemp("case-page"), request)
    container = bootstrap(settings)
    assert all(r.status == "accepted" for r in load_demo(container.ledger, 0))
    container.runner().run_until_caught_up(60)
    for follower in container.followers():
        follower.run_until_caught_up(60)
    container.sealer().run_until_caught_up(60)
    live = LiveServer(container).start()
    yield live
    live.stop()
    container.close()


@pytest.fixture
def own_server(sqlite_server: LiveServer) -> LiveServer:
    """A live server of this test's own on the embedded store, with the example agencies."""
    return sqlite_server


@contextmanager
def signed_in(server: LiveServer, role: Role, agency: str | None = None) -> Iterator[httpx.Client]:
    """A browser signed in as the role (with the purpose an inquiry or auditor states)."""
    with server.browser() as browser:
        token = server.credentials.token(role, agency)
        purpose = PURPOSE if role in READS_ALL else ""
        assert sign_in(browser, token, purpose).status_code == 303
        yield browser


def api(server: LiveServer, path: str, role: Role, agency: str | None = None) -> httpx.Response:
    """An API read by the role."""
    headers = server.headers(role, agency)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.get(path, headers=headers)


def slap_concern(server: LiveServer) -> str:
    """Child A's concern about the slap outside school (22 May 2007, recorded on 25 May)."""
    found = [
        e.event_id
        for e in server.container.view.events(CHILD_A)
        if e.type == "concern.raised" and "slapped" in e.payload.get("description", "")
    ]
    assert len(found) == 1
    return found[0]


def test_an_entry_is_on_the_page_from_the_day_it_was_recorded(server: LiveServer) -> None:
    slap = slap_concern(server)
    with signed_in(server, "inquiry") as browser:
        before = browser.get(f"/cases/{CHILD_A}", params={"as_of": "2007-05-24"})
        after = browser.get(f"/cases/{CHILD_A}", params={"as_of": "2007-05-25"})
    assert before.status_code == after.status_code == 200
    assert slap not in ROW.findall(before.text) and slap not in before.text
    assert slap in ROW.findall(after.text)
    # The timeline draws it too, as a link to its record.
    assert f'href="/cases/{CHILD_A}/events/{slap}?as_of=2007-05-25"' in after.text


def test_the_steps_go_a_day_a_week_and_to_the_days_entries_were_recorded(
    server: LiveServer,
) -> None:
    day = date(2007, 5, 24)
    history = api(server, f"/v1/cases/{CHILD_A}/history", "inquiry").json()["entries"]
    recorded = sorted({parse_instant(e["recorded_at"]).date() for e in history})
    with signed_in(server, "inquiry") as browser:
        page = browser.get(f"/cases/{CHILD_A}", params={"as_of": str(day)})
    steps = {key: date.fromisoformat(d) for d, key in STEP.findall(page.text)}
    assert steps == {
        "[": day - timedelta(days=1),
        "]": day + timedelta(days=1),
        "{": day - timedelta(days=7),
        "}": day + timedelta(days=7),
        ",": max(d for d in recorded if d < day),
        ".": min(d for d in recorded if d > day),
    }
    assert 'value="2007-05-24"' in page.text


@pytest.mark.parametrize(
    ("role", "agency"), [("inquiry", None), ("practitioner", PRACTITIONER_AGENCY)]
)
@pytest.mark.parametrize("day", ["2006-12-10", "2006-12-22", "2007-05-25", "2007-07-25"])
def test_the_page_shows_what_the_api_answers_for_the_day_and_role(
    server: LiveServer, role: Role, agency: str | None, day: str
) -> None:
    chronology = api(server, f"/v1/cases/{CHILD_A}/chronology?as_of={day}", role, agency)
    sightings = api(server, f"/v1/cases/{CHILD_A}/sightings?as_of={day}", role, agency)
    with signed_in(server, role, agency) as browser:
        page = browser.get(f"/cases/{CHILD_A}", params={"as_of": day})
    assert page.status_code == 200
    if chronology.status_code == 404:
        # Nothing of the case was known (to the agency) by then: the page says so, and shows
        # no entry.
        assert sightings.status_code == 404
        assert "knew nothing of this case" in page.text and ROW.findall(page.text) == []
        return
    assert chronology.status_code == sightings.status_code == 200
    assert ROW.findall(page.text) == [e["event_id"] for e in chronology.json()["events"]]
    days = sightings.json()["days_unseen"]
    assert f'data-days="{"" if days is None else days}"' in page.text


def test_a_practitioner_sees_only_what_its_agency_knew(server: LiveServer) -> None:
    slap = slap_concern(server)
    with signed_in(server, "inquiry") as browser:
        assert slap in ROW.findall(browser.get(f"/cases/{CHILD_A}").text)
        assert browser.get(f"/cases/{CHILD_A}/events/{slap}").status_code == 200
    with signed_in(server, "practitioner", PRACTITIONER_AGENCY) as browser:
        page = browser.get(f"/cases/{CHILD_A}")
        assert page.status_code == 200 and ROW.findall(page.text)
        assert slap not in page.text
        hidden = browser.get(f"/cases/{CHILD_A}/events/{slap}")
        missing = browser.get(f"/cases/{CHILD_A}/events/00000000-0000-5000-8000-000000000000")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text.replace(slap, "X") == missing.text.replace(
            "00000000-0000-5000-8000-000000000000", "X"
        )
        proof = browser.get(f"/cases/{CHILD_A}/events/{slap}/proof")
        assert proof.status_code == 404
    assert (
        api(server, f"/v1/events/{slap}/proof", "practitioner", PRACTITIONER_AGENCY).status_code
        == 404
    )


def test_corrected_and_retracted_entries_and_their_amendments(own_server: LiveServer) -> None:
    made = case_with_history(own_server, own_server.container)
    case_id, injury, fix, late = made["case_id"], made["injury"], made["fix"], made["late"]
    gone = retraction(late)
    publish(own_server, [gone])
    settled(own_server.container, case_id, gone)
    with signed_in(own_server, "auditor") as browser:
        page = browser.get(f"/cases/{case_id}")
        corrected = browser.get(f"/cases/{case_id}/events/{injury['event_id']}")
        correcting = browser.get(f"/cases/{case_id}/events/{fix['event_id']}")
        retracted = browser.get(f"/cases/{case_id}/events/{late['event_id']}")
    assert f'<tr data-event="{injury["event_id"]}" class="status-corrected">' in page.text
    assert f'<tr data-event="{late["event_id"]}" class="status-retracted">' in page.text
    marks = re.findall(
        r'<a href="[^"]+" tabindex="-1" class="([^"]+)" data-event="([^"]+)"', page.text
    )
    classes = {event: kind for kind, event in marks}
    assert "status-corrected" in classes[injury["event_id"]]
    assert "status-retracted" in classes[late["event_id"]]
    assert "ranged" in classes[made["vague"]["event_id"]]  # a month: drawn over the month
    assert 'class="dot correction"' in page.text and 'class="dot retraction"' in page.text
    assert "Status: <strong>corrected</strong>" in corrected.text
    assert f'href="/cases/{case_id}/events/{fix["event_id"]}"' in corrected.text
    assert "As corrected" in corrected.text
    assert f'href="/cases/{case_id}/events/{injury["event_id"]}"' in correcting.text
    assert "Status: <strong>retracted</strong>" in retracted.text
    assert "entered on the wrong case" in retracted.text


def test_the_proof_download_is_the_api_s_proof(server: LiveServer) -> None:
    slap = slap_concern(server)
    with signed_in(server, "inquiry") as browser:
        download = browser.get(f"/cases/{CHILD_A}/events/{slap}/proof")
        elsewhere = browser.get(f"/cases/CASE-B0001/events/{slap}/proof")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f"attachment; filename={slap}-proof.json"
    assert download.headers["cache-control"] == "no-store"
    from_api = api(server, f"/v1/events/{slap}/proof", "inquiry")
    assert orjson.loads(download.content) == from_api.json()
    assert elsewhere.status_code == 404
    request_id = download.headers["x-request-id"]
    recorded = [r for r in access_records(server.container) if r["request_id"] == request_id]
    assert [(r["case_id"], r["purpose"]) for r in recorded] == [(CHILD_A, PURPOSE)]


def test_a_day_before_the_case_and_a_date_that_is_not_one(server: LiveServer) -> None:
    with signed_in(server, "inquiry") as browser:
        early = browser.get(f"/cases/{CHILD_A}", params={"as_of": "2000-01-01"})
        wrong = browser.get(f"/cases/{CHILD_A}", params={"as_of": "2007-13-01"})
        instant = browser.get(f"/cases/{CHILD_A}", params={"as_of": "2007-05-01T00:00:00Z"})
        unknown = browser.get("/cases/CASE-X9999")
    assert early.status_code == 200
    assert "knew nothing of this case by the end of 2000-01-01" in early.text
    assert ROW.findall(early.text) == []
    first = re.search(
        r"first entry was recorded on <a href=\"[^\"]+\?as_of=([0-9-]+)\"", early.text
    )
    assert first is not None and first.group(1).startswith("2006-")
    assert wrong.status_code == instant.status_code == 422
    assert "is not a date YYYY-MM-DD" in wrong.text
    assert unknown.status_code == 404


def test_child_a_s_page_renders_in_well_under_a_second(server: LiveServer) -> None:
    with signed_in(server, "inquiry") as browser:
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            page = browser.get(f"/cases/{CHILD_A}")
            timings.append(time.perf_counter() - started)
            assert page.status_code == 200
    assert len(ROW.findall(page.text)) >= 147
    assert min(timings) < 1.0, timings
