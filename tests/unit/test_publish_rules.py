"""The publish rules: what no adapter may send, who may amend an event or answer an alert
(ledger.publish_rules, applied by the adapters' append path), and what a caller's credential
lets it publish over HTTP (sgl.publishers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.agency_rules import LEDGER_AGENCY
from ledger.append import Ledger
from ledger.client import LedgerClient
from ledger.envelope import Event, canonicalise, event_from_document
from ledger.errors import BatchRejected, InvalidEvent, NotPermitted, Problem
from ledger.publish_rules import (
    Target,
    alert_event_id,
    permission_problems,
    reserved_problems,
)
from ledger.schemas import SchemaRegistry
from ledger.sqlite_log import SQLiteEventLog
from sgl.identity import Caller
from sgl.publishers import caller_problems
from tests.factories import make_event, new_case_id

SCHOOL = "test-school-lowfield"
HOSPITAL = "test-hospital-eastgate"
POLICE = "test-police-northmoor"
SCHEMAS = SchemaRegistry()


def alert(case_id: str, alert_id: str, sent_to: list[str]) -> dict[str, Any]:
    """The alert.raised the ledger records for this alert id, sent to these agencies."""
    raised = make_event("alert.raised", case_id, event_id=alert_event_id(alert_id))
    raised["payload"].update(alert_id=alert_id, sent_to=sent_to)
    return raised


def answer(case_id: str, alert_id: str, agency: str) -> dict[str, Any]:
    """An answer to the alert by this agency."""
    answered = make_event("alert.answered", case_id, agency=agency)
    answered["payload"]["alert_id"] = alert_id
    return answered


def retraction(target: dict[str, Any], agency: str) -> dict[str, Any]:
    """A retraction of the target, recorded by this agency."""
    return make_event(
        "entry.retracted",
        target["case_id"],
        agency=agency,
        amends=target["event_id"],
        payload={"reason": "entered on the wrong case"},
    )


def named(problems: list[Problem]) -> set[tuple[str, str, int | None]]:
    return {(p.pointer, p.rule, p.item) for p in problems}


def test_an_alert_and_the_ledgers_own_agency_are_reserved() -> None:
    case_id = new_case_id()
    assert named(reserved_problems(alert(case_id, "ALERT-T-1", [SCHOOL]))) == {
        ("/type", "ledger-raises-alerts", None),
        ("/agency", "reserved-agency", None),
    }
    as_ledger = make_event("contact.recorded", case_id, agency=LEDGER_AGENCY)
    assert named(reserved_problems(as_ledger)) == {("/agency", "reserved-agency", None)}
    registration = make_event("agency.registered", "SGL-REGISTRY", agency=LEDGER_AGENCY)
    registration["payload"]["agency_id"] = LEDGER_AGENCY
    assert named(reserved_problems(registration)) == {
        ("/agency", "reserved-agency", None),
        ("/payload/agency_id", "reserved-agency", None),
    }
    assert reserved_problems(make_event("contact.recorded", case_id, agency=SCHOOL)) == []


def test_only_the_recording_agency_amends_and_only_recipients_answer() -> None:
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id, agency=HOSPITAL)
    raised = alert(case_id, "ALERT-T-2", [HOSPITAL, POLICE])
    targets = {injury["event_id"]: Target.of(injury), raised["event_id"]: Target.of(raised)}
    documents = [
        (0, retraction(injury, SCHOOL)),
        (1, retraction(injury, HOSPITAL)),
        (2, answer(case_id, "ALERT-T-2", SCHOOL)),
        (3, answer(case_id, "ALERT-T-2", POLICE)),
        (4, answer(case_id, "ALERT-T-UNRAISED", POLICE)),
        (5, answer(new_case_id(), "ALERT-T-2", POLICE)),
    ]
    refused, mistaken = permission_problems(documents, targets)
    assert named(refused) == {
        ("/agency", "amends-own-record", 0),
        ("/agency", "alert-recipient", 2),
    }
    assert named(mistaken) == {
        ("/payload/alert_id", "alert-exists", 4),
        ("/payload/alert_id", "alert-exists", 5),
    }
    # What the target agency is stays unsaid: the refusal names the event, not its recorder.
    assert all(HOSPITAL not in p.detail for p in refused)


def test_a_publisher_publishes_its_own_agencys_events_recorded_by_its_person() -> None:
    case_id = new_case_id()
    ours = make_event("contact.recorded", case_id, agency=SCHOOL)
    theirs = make_event("contact.recorded", case_id, agency=HOSPITAL)
    registration = make_event("agency.registered", "SGL-REGISTRY")
    publisher = Caller("tok1", SCHOOL, "publisher")
    assert caller_problems(publisher, ours) == []
    assert named(caller_problems(publisher, [ours, theirs, registration])) == {
        ("/agency", "own-agency", 1),
        ("/type", "registry-admin", 2),
    }
    person = Caller("tok2", SCHOOL, "publisher", person="P-T-0042")
    mine = make_event("contact.recorded", case_id, agency=SCHOOL)
    mine["recorded_by"] = {"id": "P-T-0042", "role": "social_worker"}
    assert caller_problems(person, mine) == []
    assert named(caller_problems(person, ours)) == {("/recorded_by/id", "recorded-by-caller", None)}
    # Fields missing or of the wrong type are validation's to report (422), not a refusal.
    assert caller_problems(person, [{"agency": 7}, "not an event", {}]) == []


def test_the_admin_publishes_registry_events_only_and_readers_nothing() -> None:
    registration = make_event("agency.registered", "SGL-REGISTRY")
    contact = make_event("contact.recorded", new_case_id())
    admin = Caller("tok3", "test-ledger-operator", "admin")
    assert caller_problems(admin, registration) == []
    assert named(caller_problems(admin, [registration, contact])) == {
        ("/type", "admin-registry-only", 1)
    }
    reader = Caller("tok4", SCHOOL, "practitioner")
    assert named(caller_problems(reader, contact)) == {("", "publisher-role", None)}


@pytest.mark.parametrize("kind", [{}, [], 7, None])
def test_a_type_that_is_not_a_string_is_left_to_validation(kind: Any) -> None:
    """An unhashable or missing type never breaks the caller's checks (it was a 500)."""
    event = {**make_event("contact.recorded", new_case_id()), "type": kind}
    publisher = Caller("tok5", event["agency"], "publisher")
    assert caller_problems(publisher, [event]) == []
    admin = Caller("tok6", "test-ledger-operator", "admin")
    assert named(caller_problems(admin, event)) == {("/type", "admin-registry-only", None)}


@pytest.fixture
def adapters(tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """The adapters' append path and the alerter's, on one embedded log (no registry: these
    rules hold without one)."""
    log = SQLiteEventLog(tmp_path / "log.sqlite", "sgl.test")
    yield Ledger(log, SCHEMAS, adapters=True), Ledger(log, SCHEMAS)
    log.close()


def test_the_adapters_append_path_refuses_forged_events_and_appends_nothing(
    adapters: tuple[Ledger, Ledger],
) -> None:
    ledger, alerter = adapters
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id, agency=HOSPITAL)
    raised = alert(case_id, "ALERT-T-3", [HOSPITAL])
    ledger.submit([injury])
    alerter.submit([raised])
    ends = ledger.log.end_offsets()
    forged = [
        [make_event("contact.recorded", case_id, agency=HOSPITAL), retraction(injury, SCHOOL)],
        [answer(case_id, "ALERT-T-3", SCHOOL)],
        [alert(case_id, "ALERT-T-4", [SCHOOL])],
        [share(case_id, SCHOOL, HOSPITAL, [injury["event_id"]])],
    ]
    for batch in forged:
        with pytest.raises(NotPermitted):
            ledger.submit(batch)
    with pytest.raises(NotPermitted) as one:
        ledger.submit_one(retraction(injury, SCHOOL))
    assert named(one.value.problems) == {("/agency", "amends-own-record", None)}
    with pytest.raises(BatchRejected) as unraised:
        ledger.submit([answer(case_id, "ALERT-T-5", HOSPITAL)])
    assert not isinstance(unraised.value, NotPermitted)
    assert ledger.log.end_offsets() == ends, "nothing was appended"
    # The recorder and the recipient may; the alerter's own path still raises alerts.
    accepted = ledger.submit([retraction(injury, HOSPITAL), answer(case_id, "ALERT-T-3", HOSPITAL)])
    assert [r.status for r in accepted] == ["accepted", "accepted"]
    assert alerter.submit([alert(case_id, "ALERT-T-6", [POLICE])])[0].status == "accepted"


def test_targets_are_found_in_the_batch_and_in_the_case_view(tmp_path: Path) -> None:
    """An amendment of an earlier item is judged by that item; an event the case view holds
    is taken from it (the log is not read)."""
    log = SQLiteEventLog(tmp_path / "log.sqlite", "sgl.test")
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id, agency=HOSPITAL)
    view: list[Event] = []
    ledger = Ledger(log, SCHEMAS, adapters=True, case_events=lambda _: view)
    try:
        with pytest.raises(NotPermitted):
            ledger.submit([injury, retraction(injury, SCHOOL)])
        ledger.submit([injury])
        # The view says the school recorded it: the view's copy is what the rules read.
        as_viewed = {**canonicalise(injury), "agency": SCHOOL}
        view.append(event_from_document(as_viewed, 0, 0, datetime.now(UTC)))
        assert ledger.submit([retraction(injury, SCHOOL)])[0].status == "accepted"
    finally:
        log.close()


def test_an_invalid_event_is_a_mistake_before_it_is_a_refusal(
    adapters: tuple[Ledger, Ledger],
) -> None:
    """A forged alert that also breaks its schema is answered 422, as any invalid event."""
    ledger, _ = adapters
    broken = alert(new_case_id(), "ALERT-T-7", [SCHOOL])
    del broken["payload"]["rule"]
    with pytest.raises(InvalidEvent) as caught:
        ledger.submit([broken])
    assert not isinstance(caught.value, NotPermitted)


def test_the_client_raises_not_permitted_for_a_refused_publish() -> None:
    """A 403 `forbidden` answering a publish is NotPermitted, with the problems named."""
    body = {
        "type": "urn:sgl:problem:forbidden",
        "title": "The caller may not publish these events; nothing was appended",
        "status": 403,
        "detail": "1 event(s) the sender may not publish; nothing was appended",
        "errors": [{"pointer": "/agency", "rule": "own-agency", "detail": "...", "item": 1}],
    }
    transport = httpx.MockTransport(lambda _: httpx.Response(403, json=body))
    client = LedgerClient("http://127.0.0.1:9", transport=transport, retries=0)
    with client, pytest.raises(NotPermitted) as caught:
        client.publish_batch([make_event(), make_event()])
    assert named(caught.value.problems) == {("/agency", "own-agency", 1)}
    assert caught.value.title == body["title"]


def share(case_id: str, agency: str, sender: str, facts: list[str]) -> dict[str, Any]:
    """An information.shared recorded by the agency, naming the sender as from_agency."""
    shared = make_event("information.shared", case_id, agency=agency)
    shared["payload"].update(from_agency=sender, to_agency=POLICE, facts=facts)
    return shared


def test_a_share_or_referral_names_its_recorder_as_sender() -> None:
    case_id = new_case_id()
    fact = str(uuid.uuid4())
    assert reserved_problems(share(case_id, SCHOOL, SCHOOL, [fact])) == []
    assert named(reserved_problems(share(case_id, SCHOOL, HOSPITAL, [fact]))) == {
        ("/payload/from_agency", "sender-is-agency", None)
    }
    referral = make_event("referral.made", case_id, agency=SCHOOL)
    referral["payload"].update(from_agency=HOSPITAL, to_agency=POLICE)
    assert named(reserved_problems(referral)) == {
        ("/payload/from_agency", "sender-is-agency", None)
    }
    # A referral a person made (no from_agency) is any agency's to record.
    referral["payload"].pop("from_agency")
    referral["payload"]["source"] = {"kind": "neighbour"}
    assert reserved_problems(referral) == []
    # The refusal does not name the agency forged as the sender.
    assert all(
        HOSPITAL not in p.detail
        for p in reserved_problems(share(case_id, SCHOOL, HOSPITAL, [fact]))
    )


def test_a_correction_keeps_its_targets_sender() -> None:
    case_id = new_case_id()
    original = share(case_id, SCHOOL, SCHOOL, [str(uuid.uuid4())])
    targets = {original["event_id"]: Target.of(original)}

    def correction(sender: str) -> dict[str, Any]:
        return make_event(
            "correction.recorded",
            case_id,
            agency=SCHOOL,
            amends=original["event_id"],
            payload={
                "corrected_payload": {**original["payload"], "from_agency": sender},
                "reason": "wrong channel",
            },
        )

    refused, mistaken = permission_problems(
        [(0, correction(SCHOOL)), (1, correction(HOSPITAL))], targets
    )
    assert named(refused) == {("/payload/corrected_payload/from_agency", "sender-is-agency", 1)}
    assert mistaken == []
