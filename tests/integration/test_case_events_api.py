"""The new case events over HTTP: bad ones refused naming the field, and what a share
conveyed visible in the case state, the chronology and who knew."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from ledger.schemas import SchemaRegistry
from sgl.bootstrap import Container
from tests.conftest import LiveServer
from tests.factories import new_case_id
from tests.integration.test_corrections import publish, settled

REGISTRY = SchemaRegistry()
HOSPITAL, GP = "example-hospital", "example-gp"


def newest(kind: str, case_id: str, index: int = 0, **payload: Any) -> dict[str, Any]:
    """An example of the type's newest version for the case, with payload fields replaced."""
    event = REGISTRY.docs[(kind, REGISTRY.latest(kind))].document["examples"][index]
    event = orjson.loads(orjson.dumps(event))
    event.update(event_id=str(uuid.uuid4()), case_id=case_id)
    event["payload"].update(payload)
    return event


def registry_update(**payload: Any) -> dict[str, Any]:
    """An agency.updated example with its payload replaced."""
    event = REGISTRY.docs[("agency.updated", 1)].document["examples"][0]
    return {**orjson.loads(orjson.dumps(event)), "event_id": str(uuid.uuid4()), "payload": payload}


def disputed(event: dict[str, Any], *accounts: dict[str, Any]) -> dict[str, Any]:
    """The event with its date disputed between the accounts."""
    del event["occurred_at"]
    event.update(occurred_precision="disputed", occurred_accounts=list(accounts))
    return event


def free_text(value: Any) -> list[str]:
    """Every text in a value that is more than a code: what a refusal must never repeat."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in free_text(v)]
    if isinstance(value, list):
        return [t for v in value for t in free_text(v)]
    return [value] if isinstance(value, str) and " " in value else []


def without(event: dict[str, Any], *fields: str) -> dict[str, Any]:
    for field in fields:
        del event["payload"][field]
    return event


BAD: list[tuple[str, Any, str, str, str]] = [
    # (case label, event builder, pointer, rule, words the detail must hold)
    (
        "visit without a planned time",
        lambda c: without(newest("visit.planned", c), "planned_for"),
        "/payload/planned_for",
        "required",
        "'planned_for' is required",
    ),
    (
        "injury count as a word",
        lambda c: newest("injury.observed", c, count="several"),
        "/payload/count",
        "anyOf",
        'count must be a whole number or "not_known"',
    ),
    (
        "injury count zero",
        lambda c: newest("injury.observed", c, count=0),
        "/payload/count",
        "anyOf",
        'count must be at least 1 or "not_known"',
    ),
    (
        "referral by nobody",
        lambda c: without(newest("referral.made", c), "from_agency"),
        "/payload",
        "agency-or-source",
        "give from_agency (an agency) or source (a person who is not an agency), exactly one",
    ),
    (
        "referral by an agency and a person at once",
        lambda c: newest("referral.made", c, source={"kind": "neighbour"}),
        "/payload",
        "agency-or-source",
        "A referrer is an agency or a person, not both",
    ),
    (
        "referral conveying a maybe",
        lambda c: newest("referral.made", c, conveyed={"concern": "maybe"}),
        "/payload/conveyed/concern",
        "enum",
        '"stated", "denied", "not_stated"',
    ),
    (
        "allegation made by an agency and a person at once",
        lambda c: newest(
            "allegation.made",
            c,
            made_by={"agency": "example-police", "source": {"kind": "parent"}},
        ),
        "/payload/made_by",
        "agency-or-source",
        "an agency or a person, not both",
    ),
    (
        "allegation made by nobody",
        lambda c: newest("allegation.made", c, made_by={}),
        "/payload/made_by",
        "agency-or-source",
        "give agency or source, exactly one",
    ),
    (
        "allegation withdrawn by an agency and a person at once",
        lambda c: newest(
            "allegation.withdrawn",
            c,
            withdrawn_by={"agency": "example-police", "source": {"kind": "parent"}},
        ),
        "/payload/withdrawn_by",
        "agency-or-source",
        "withdrawn_by names who withdrew it, an agency or a person, not both",
    ),
    (
        "allegation withdrawn by nobody",
        lambda c: newest("allegation.withdrawn", c, withdrawn_by={}),
        "/payload/withdrawn_by",
        "agency-or-source",
        "give agency or source, exactly one",
    ),
    (
        "seen alone though the child was not seen",
        lambda c: newest("contact.recorded", c, child_seen="no", seen_alone="no"),
        "/payload/seen_alone",
        "needs-child-seen",
        "seen_alone is only given when the child was seen",
    ),
    (
        "seen alone though whether the child was seen is not known",
        lambda c: newest("contact.recorded", c, child_seen="not_known", seen_alone="yes"),
        "/payload/seen_alone",
        "needs-child-seen",
        "seen_alone is only given when the child was seen",
    ),
    (
        "an agency update that changes nothing",
        lambda c: registry_update(agency_id="example-police"),
        "/payload",
        "nothing-to-change",
        "give at least one of name, kind, statutory, area and parent",
    ),
    (
        "a dispute of two identical accounts",
        lambda c: disputed(
            newest("allegation.made", c),
            {"occurred_at": "2026-02-12T17:00:00Z", "agency": "example-police"},
            {"occurred_at": "2026-02-12T18:00:00+01:00", "agency": "example-police"},
        ),
        "/occurred_accounts/1",
        "distinct-accounts",
        "repeats account 0",
    ),
    (
        "a dispute of two identical accounts by one source",
        lambda c: disputed(
            newest("allegation.made", c),
            {"occurred_at": "2026-02-12T17:00:00Z", "source": {"kind": "parent"}, "note": "a"},
            {"occurred_at": "2026-02-12T17:00:00Z", "source": {"kind": "parent"}, "note": "b"},
        ),
        "/occurred_accounts/1",
        "distinct-accounts",
        "a disputed date needs accounts that differ",
    ),
    (
        "discharge with a plan of maybe",
        lambda c: newest("hospital.discharged", c, safeguarding_plan_in_place="maybe"),
        "/payload/safeguarding_plan_in_place",
        "enum",
        '"not_known"',
    ),
    (
        "incident date written loosely",
        lambda c: newest("incident.notified", c, incident_date="last week"),
        "/payload/incident_date",
        "anyOf",
        "not_known",
    ),
]


@pytest.mark.parametrize(
    ("label", "build", "pointer", "rule", "words"), BAD, ids=[b[0] for b in BAD]
)
def test_a_bad_new_event_is_refused_naming_the_field(
    http: httpx.Client,
    live_server: LiveServer,
    container: Container,
    label: str,
    build: Any,
    pointer: str,
    rule: str,
    words: str,
) -> None:
    """422 problem+json with exactly one problem: the field's pointer, the rule and a detail
    that says what was wanted, repeating none of the payload's text; nothing appended."""
    ends = container.log.end_offsets()
    event = build(new_case_id())
    response = http.post(
        live_server.url + "/v1/events",
        content=orjson.dumps(event),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert [(e["pointer"], e["rule"]) for e in errors] == [(pointer, rule)], errors
    assert words in errors[0]["detail"]
    texts = free_text(event["payload"])
    assert [t for t in texts if t in response.text] == []
    assert container.log.end_offsets() == ends


def test_a_downgraded_suspicion_is_visible_in_state_chronology_and_who_knew(
    http: httpx.Client, live_server: LiveServer, container: Container
) -> None:
    """A hospital admits the child, records an injury it suspects non-accidental, and tells the
    GP it has no concerns: the case state keeps the denial, the chronology line shows the
    denial beside the suspicion, and the GP's knowledge carries what it was told."""
    case_id = new_case_id()
    admitted = newest("hospital.admitted", case_id)
    injury = newest("injury.observed", case_id)
    share = newest("information.shared", case_id, facts=[injury["event_id"]])
    publish(live_server, [admitted, injury, share])
    state = settled(container, case_id, share)
    assert [e["id"] for e in state["in_hospital"]] == [admitted["payload"]["episode_id"]]
    assert state["suspected_non_accidental"] == 1
    (conveyed,) = state["conveyed"]
    assert (conveyed["from_agency"], conveyed["to_agency"]) == (HOSPITAL, GP)
    assert (conveyed["concern"], conveyed["statement"]) == (
        "denied",
        "No child protection concerns.",
    )

    rows = http.get(f"{live_server.url}/v1/cases/{case_id}/chronology").json()["events"]
    line = next(r["summary"] for r in rows if r["event_id"] == share["event_id"])
    assert "concern denied - 'No child protection concerns.'" in line
    assert "1 injury record(s) suspected non-accidental" in line

    known = http.get(
        f"{live_server.url}/v1/cases/{case_id}/knowledge", params={"agency": GP}
    ).json()
    cell = next(f for f in known["facts"] if f["event_id"] == injury["event_id"])
    assert cell["via"] == "shared" and cell["through"] == share["event_id"]
    assert cell["conveyed"] == share["payload"]["conveyed"]
