"""The demo cases in the browser at the dates docs/demo.md documents: the findings, breached
clocks, days unseen and the facts an agency never learned, as an inquiry sees them; a
finding's evidence followed to its record and proof; a practitioner seeing only its own."""

from __future__ import annotations

import json

from playwright.sync_api import Page

from sgl.demo.agencies import C_CSC, R_HOSPITAL
from sgl.demo.child_a import POLICE
from tests.e2e.axe import axe_violations, describe
from tests.e2e.conftest import Workbench
from tests.e2e.session import sign_in

CHILD_A = "CASE-A0001"
CHILD_B = "CASE-B0001"


def event_where(workbench: Workbench, case_id: str, kind: str, text: str, day: str = "") -> str:
    """The id of the one event of the case of that type whose payload mentions the text (and
    that happened on the day, when given)."""
    found = [
        e.event_id
        for e in workbench.container.view.events(case_id)
        if e.type == kind
        and text in json.dumps(e.payload)
        and (e.occurred_at or "").startswith(day)
    ]
    assert len(found) == 1, (kind, text, found)
    return found[0]


def cell(page: Page, event_id: str, agency: str) -> str:
    """What the who-knew matrix says of what the agency knew of the fact."""
    found = page.locator(f'#who-knew-matrix tr[data-event="{event_id}"] td[data-agency="{agency}"]')
    state: str = found.get_attribute("data-state") or ""
    return state


def test_child_a_on_25_july_2007_as_an_inquiry_reads_it(page: Page, workbench: Workbench) -> None:
    """The police never learned of the slap social care saw on 22 May; the legal planning
    meeting breached its clock; the assault not reported to the police is an unanswered
    finding whose evidence leads to the record and its proof."""
    slap = event_where(workbench, CHILD_A, "concern.raised", "slapped")
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_A}?as_of=2007-07-25")
    [recorder] = [e.agency for e in workbench.container.view.events(CHILD_A) if e.event_id == slap]
    assert cell(page, slap, POLICE) == "gap"
    assert cell(page, slap, recorder) == "recorded"
    meeting = page.locator('table.clock-runs tr[data-clock="legal_planning_meeting"]')
    assert meeting.count() == 1
    assert meeting.get_attribute("class") == "clock-breached"
    assert "Breached" in meeting.inner_text() and "35 working days" in meeting.inner_text()
    finding = page.locator('li.finding[data-rule="assault_not_reported_to_police"]').first
    assert "Unanswered" in finding.inner_text()
    violations = axe_violations(page)
    assert not violations, describe(violations)
    # The finding's evidence, followed to the event's record, and its proof downloaded.
    evidence = finding.locator(".evidence a").first
    target = (evidence.get_attribute("href") or "").split("/events/")[1].split("?")[0]
    evidence.click()
    page.wait_for_url(f"**/cases/{CHILD_A}/events/{target}*")
    assert page.locator("#record").get_attribute("data-event") == target
    with page.expect_download() as download:
        page.get_by_role("link", name="proof", exact=False).first.click()
    proof = json.loads(download.value.path().read_text())
    assert target in json.dumps(proof)


def test_child_b_the_fracture_castlebury_never_learned_and_the_months_unseen(
    page: Page, workbench: Workbench
) -> None:
    """On 15 June 2022 Castlebury's children's services had accepted the case without the
    fracture; by 31 May 2023 eight findings stood unanswered and she had been unseen by any
    statutory agency for 194 days."""
    fracture = event_where(workbench, CHILD_B, "injury.observed", "fracture", "2022-02-07")
    sign_in(page, workbench, "inquiry", next=f"/cases/{CHILD_B}?as_of=2022-06-15")
    assert cell(page, fracture, C_CSC) == "gap"
    assert cell(page, fracture, R_HOSPITAL) == "recorded"
    page.goto(f"{workbench.url}/cases/{CHILD_B}?as_of=2023-05-31")
    assert "8 unanswered" in page.locator(".finding-count").inner_text()
    assert page.locator("#days-unseen").get_attribute("data-days") == "194"


def test_a_practitioner_sees_only_what_its_agency_knew_on_the_page(
    page: Page, workbench: Workbench
) -> None:
    """The police, signed in as a practitioner: the slap social care kept is nowhere on the
    page, and the who-knew section is the police's own column only."""
    slap = event_where(workbench, CHILD_A, "concern.raised", "slapped")
    sign_in(
        page,
        workbench,
        "practitioner",
        POLICE,
        next=f"/cases/{CHILD_A}?as_of=2007-07-25",
    )
    assert slap not in page.content()
    agencies = set(
        page.locator("#who-knew-matrix thead th[data-agency]").evaluate_all(
            "cells => cells.map(c => c.dataset.agency)"
        )
    )
    assert agencies == {POLICE}
    violations = axe_violations(page)
    assert not violations, describe(violations)
