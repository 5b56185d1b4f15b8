"""Forged events over HTTP, on both backends: an agency retracting another's record, answering
an alert not sent to it, an alert raised as the ledger, publishing as another agency or as
another person, are refused (403 `forbidden`, naming the field and rule) and nothing is
appended; what the forgery aimed at stands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ledger.agency_rules import LEDGER_AGENCY, REGISTRY_CASE
from ledger.errors import NotPermitted
from ledger.publish_rules import alert_event_id
from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from sgl.registry import registration
from tests.agencies import REGISTERED_AT
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, meeting_held, new_case_id

HOSPITAL = "test-hospital-eastgate"
SCHOOL = "test-school-lowfield"
SOCIAL_CARE = "test-csc-westbury"
GP = "test-gp-hollins"
KINDS = {
    HOSPITAL: "hospital",
    SCHOOL: "education",
    SOCIAL_CARE: "childrens_social_care",
    GP: "gp",
}
FORBIDDEN = "urn:sgl:problem:forbidden"


def registered(container: Container) -> Container:
    """The container with this file's agencies registered."""
    container.ledger.submit(
        [
            registration(
                {"agency_id": a, "name": f"Test {a}", "kind": kind, "statutory": True},
                REGISTERED_AT,
            )
            for a, kind in KINDS.items()
        ]
    )
    return container


@pytest.fixture
def served(backend: str, make_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A server with the alerter on, over a ledger that has registered this file's agencies."""
    container = registered(bootstrap(make_settings(backend, alerter="on")))
    server = LiveServer(container).start()
    yield server
    server.stop()
    container.close()


def refused(
    server: LiveServer, body: Any, headers: dict[str, str] | None = None
) -> set[tuple[str, str, int | None]]:
    """Post the body (as the caller the headers name, else the events' publisher), check it is
    refused 403 `forbidden` with nothing appended, and return the problems it names."""
    container: Container = server.container
    with server.client() as http:
        response = http.post("/v1/events", json=body, headers=headers)
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"] == FORBIDDEN and "nothing was appended" in problem["title"]
    # By event id: the alerter may append its own alerts to the log meanwhile.
    sent = {e["event_id"] for e in (body if isinstance(body, list) else [body])}
    assert container.log.lookup(sent) == {}, "nothing was appended"
    return {(p["pointer"], p["rule"], p.get("item")) for p in problem["errors"]}


def published(server: LiveServer, events: list[dict[str, Any]]) -> None:
    """Post events as their agency's publisher; all accepted."""
    with server.client() as http:
        response = http.post("/v1/events", json=events)
    assert response.status_code == 201, response.text


def case_state(server: LiveServer, case_id: str, last: dict[str, Any]) -> dict[str, Any]:
    """The case's state once the view has taken in `last` (the alerter's alerts may follow)."""
    view = server.container.views
    wait_for(
        lambda: view.current().applied_digests([last["event_id"]]),
        timeout=20,
        what=f"{last['event_id']} applied to {case_id}",
    )
    with server.client() as http:
        state: dict[str, Any] = http.get(f"/v1/cases/{case_id}").json()
    return state


def test_a_school_cannot_retract_a_hospitals_injury(served: LiveServer) -> None:
    """The probe of the issue: an unrelated school's retraction of a hospital's suspected
    non-accidental injury is refused, and the injury still counts; the hospital may."""
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id, agency=HOSPITAL)
    opened = make_event("case.opened", case_id, agency=SOCIAL_CARE)
    opened["payload"]["lead_agency"] = SOCIAL_CARE
    published(served, [opened])
    published(served, [injury])
    assert case_state(served, case_id, injury)["injury_observations"] == 1
    forged = make_event(
        "entry.retracted",
        case_id,
        agency=SCHOOL,
        amends=injury["event_id"],
        payload={"reason": "entered on the wrong case"},
    )
    assert refused(served, forged) == {("/agency", "amends-own-record", None)}
    # In a batch, beside an event the school may publish: the whole batch is refused.
    contact = make_event("contact.recorded", case_id, agency=SCHOOL)
    assert refused(served, [contact, forged]) == {("/agency", "amends-own-record", 1)}
    note = make_event("contact.recorded", case_id, agency=HOSPITAL)
    published(served, [note])
    assert case_state(served, case_id, note)["injury_observations"] == 1
    own = {**forged, "event_id": make_event()["event_id"], "agency": HOSPITAL}
    published(served, [own])
    assert case_state(served, case_id, own)["injury_observations"] == 0


def test_an_uninvolved_agency_cannot_answer_an_alert(served: LiveServer) -> None:
    """An alert sent to social care (a GP absent from a conference): a school's answer is
    refused and the alert stays open; social care's answer closes it."""
    case_id = new_case_id()
    meeting = meeting_held(case_id, "initial_cp_conference", [SOCIAL_CARE, GP], [SOCIAL_CARE])
    meeting["agency"] = SOCIAL_CARE
    published(served, [meeting])
    with served.client() as http:
        # Open on the case once the alerter has raised it into the ledger and the view has it.
        wait_for(
            lambda: open_alerts(http, case_id),
            timeout=30,
            what="the alert raised into the ledger",
        )
        [alert_id] = open_alerts(http, case_id)
    answer = make_event(
        "alert.answered",
        case_id,
        agency=SCHOOL,
        occurred_at="2007-03-07T10:00:00Z",
        recorded_at="2007-03-07T10:00:00Z",
    )
    answer["payload"].update(alert_id=alert_id, response="no_action_needed")
    assert refused(served, answer) == {("/agency", "alert-recipient", None)}
    note = make_event("contact.recorded", case_id, agency=SOCIAL_CARE)
    published(served, [note])
    case_state(served, case_id, note)
    with served.client() as http:
        assert open_alerts(http, case_id) == [alert_id], "the alert is still open"
        published(served, [{**answer, "agency": SOCIAL_CARE}])
        wait_for(
            lambda: not open_alerts(http, case_id),
            timeout=20,
            what="the recipient's answer applied",
        )


def open_alerts(http: httpx.Client, case_id: str) -> list[str]:
    """The ids of the alerts open on the case, as its state shows them."""
    response = http.get(f"/v1/cases/{case_id}")
    if response.status_code != 200:
        return []
    return [i["id"] for i in response.json()["open_items"] if i["kind"] == "alert"]


def test_an_alert_forged_as_the_ledger_is_refused(served: LiveServer) -> None:
    """Only the ledger's rules raise alerts: one sent by an adapter is refused, and no
    credential acts for the ledger's own agency id; registering that id is refused too."""
    case_id = new_case_id()
    evidence = make_event("contact.recorded", case_id, agency=SCHOOL)
    published(served, [evidence])
    forged = make_event("alert.raised", case_id, event_id=alert_event_id("ALERT-T-FORGED-1"))
    forged["payload"].update(
        alert_id="ALERT-T-FORGED-1", evidence=[evidence["event_id"]], sent_to=[SCHOOL]
    )
    assert forged["agency"] == LEDGER_AGENCY
    with pytest.raises(ValueError, match="the ledger's own agency id"):
        served.headers("publisher", LEDGER_AGENCY)
    school = served.headers("publisher", SCHOOL)
    assert refused(served, forged, school) == {("/agency", "own-agency", None)}
    # As the school itself, it is still an alert.
    as_school = {**forged, "agency": SCHOOL}
    assert refused(served, as_school) == {("/type", "ledger-raises-alerts", None)}
    ledger = registration(
        {"agency_id": LEDGER_AGENCY, "name": "Ledger", "kind": "other", "statutory": False}
    )
    assert refused(served, ledger) == {
        ("/agency", "reserved-agency", None),
        ("/payload/agency_id", "reserved-agency", None),
    }


def test_a_publisher_publishes_as_its_own_agency_only(served: LiveServer) -> None:
    """A school's publisher sending a hospital's event, or a registration, is refused; the
    admin publishes registrations and nothing else."""
    case_id = new_case_id()
    ours = make_event("contact.recorded", case_id, agency=SCHOOL)
    theirs = make_event("injury.observed", case_id, agency=HOSPITAL)
    school = served.headers("publisher", SCHOOL)
    assert refused(served, [ours, theirs], school) == {("/agency", "own-agency", 1)}
    assert refused(served, theirs, school) == {("/agency", "own-agency", None)}
    newcomer = registration(
        {
            "agency_id": "test-youth-service-ashby",
            "name": "Youth",
            "kind": "other",
            "statutory": False,
        }
    )
    assert refused(served, newcomer, school) == {("/type", "registry-admin", None)}
    admin = served.headers("admin")
    assert refused(served, [newcomer, ours], admin) == {("/type", "admin-registry-only", 1)}
    with served.client() as http:
        assert http.post("/v1/events", json=ours, headers=school).status_code == 201
        assert http.post("/v1/events", json=newcomer, headers=admin).status_code == 201
    assert newcomer["case_id"] == REGISTRY_CASE


def test_recorded_by_must_be_the_person_the_token_names(served: LiveServer) -> None:
    """A token naming a person publishes only events that person recorded."""
    case_id = new_case_id()
    person = served.headers("publisher", SOCIAL_CARE, person="P-T-0042")
    theirs = make_event("contact.recorded", case_id, agency=SOCIAL_CARE)
    theirs["recorded_by"] = {"id": "P-T-0043", "role": "social_worker"}
    assert refused(served, theirs, person) == {("/recorded_by/id", "recorded-by-caller", None)}
    mine = {**theirs, "recorded_by": {"id": "P-T-0042", "role": "social_worker"}}
    with served.client() as http:
        assert http.post("/v1/events", json=mine, headers=person).status_code == 201


def test_a_target_no_view_has_read_yet_is_read_from_the_log(container: Container) -> None:
    """With no consumer running, the append path reads the amended event from the log itself
    (on Kafka, by its receipt's position) to see who recorded it."""
    registered(container)
    injury = make_event("injury.observed", new_case_id(), agency=HOSPITAL)
    container.ledger.submit([injury])
    assert container.view.applied_digests([injury["event_id"]]) == {}
    forged = make_event(
        "entry.retracted",
        injury["case_id"],
        agency=SCHOOL,
        amends=injury["event_id"],
        payload={"reason": "entered on the wrong case"},
    )
    with pytest.raises(NotPermitted) as caught:
        container.ledger.submit([forged])
    assert {(p.pointer, p.rule) for p in caught.value.problems} == {
        ("/agency", "amends-own-record")
    }
    assert container.log.lookup({forged["event_id"]}) == {}
    own = {**forged, "agency": HOSPITAL}
    assert container.ledger.submit([own])[0].status == "accepted"


def history_ids(server: LiveServer, case_id: str, headers: dict[str, str]) -> set[str]:
    """The ids of the events the caller reads in the case's history (none: 404)."""
    with server.client() as http:
        response = http.get(f"/v1/cases/{case_id}/history", headers=headers)
    if response.status_code == 404:
        return set()
    assert response.status_code == 200, response.text
    return {entry["event_id"] for entry in response.json()["entries"]}


def test_an_agencys_own_account_of_being_told_shows_it_nothing(served: LiveServer) -> None:
    """A school cannot record a hospital's share of the hospital's injury with it (403, nothing
    appended); its own share to itself, meeting with the hospital and acknowledgement naming
    the injury are accepted, and its practitioner still reads only those, not the injury,
    until the hospital shares it."""
    case_id = new_case_id()
    injury = make_event("injury.observed", case_id, agency=HOSPITAL)
    published(served, [injury])
    facts = [injury["event_id"]]
    forged = make_event("information.shared", case_id, agency=SCHOOL)
    forged["payload"].update(from_agency=HOSPITAL, to_agency=SCHOOL, facts=facts)
    assert refused(served, forged) == {("/payload/from_agency", "sender-is-agency", None)}
    to_itself = {**forged, "payload": {**forged["payload"], "from_agency": SCHOOL}}
    meeting = meeting_held(case_id, "professionals_meeting", [SCHOOL, HOSPITAL], [SCHOOL, HOSPITAL])
    meeting["agency"] = SCHOOL
    meeting["payload"]["facts_tabled"] = facts
    acknowledgement = make_event("acknowledged", case_id, agency=SCHOOL)
    acknowledgement["payload"]["acknowledges"] = injury["event_id"]
    own = [to_itself, meeting, acknowledgement]
    published(served, own)
    case_state(served, case_id, acknowledgement)
    school = served.headers("practitioner", SCHOOL)
    assert history_ids(served, case_id, school) == {e["event_id"] for e in own}
    with served.client() as http:
        for path in (f"/v1/cases/{case_id}/chronology", f"/v1/cases/{case_id}/knowledge"):
            response = http.get(path, headers=school)
            assert response.status_code == 200, response.text
            assert injury["event_id"] not in response.text
    # Told by the hospital, the school reads the injury.
    shared = make_event("information.shared", case_id, agency=HOSPITAL)
    shared["payload"].update(from_agency=HOSPITAL, to_agency=SCHOOL, facts=facts)
    published(served, [shared])
    case_state(served, case_id, shared)
    assert {injury["event_id"], shared["event_id"]} <= history_ids(served, case_id, school)
