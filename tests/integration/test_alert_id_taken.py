"""An alert's event_id taken in advance by an adapter's own event does not suppress the alert:
it is raised under the next free id, shown with its case, and can be answered."""

from __future__ import annotations

from collections.abc import Callable

from ledger.agency_rules import LEDGER_AGENCY
from ledger.publish_rules import alert_event_id
from ledger.settings import Settings
from projections.rule_kinds import derived_id
from sgl.bootstrap import bootstrap
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, meeting_held, new_case_id


def test_an_alert_whose_id_was_taken_is_still_raised_and_answered(
    backend: str, make_settings: Callable[..., Settings]
) -> None:
    container = with_agencies(bootstrap(make_settings(backend, alerter="on")))
    server = LiveServer(container).start()
    try:
        with server.client() as http:
            case_id = new_case_id()
            meeting = meeting_held(
                case_id,
                "initial_cp_conference",
                ["la-childrens-social-care", "gp-practice-east"],
                ["la-childrens-social-care"],
            )
            # The publisher knows its meeting's event_id, so the alert's id and the next one.
            alert_id = derived_id("key_agency_absent", [meeting["event_id"]])
            squatters = [
                make_event(
                    "contact.recorded",
                    case_id if attempt == 0 else new_case_id(),
                    event_id=alert_event_id(alert_id, attempt),
                    agency=meeting["agency"],
                )
                for attempt in (0, 1)
            ]
            for squatter in squatters:
                assert http.post("/v1/events", json=squatter).status_code == 201
            assert http.post("/v1/events", json=meeting).status_code == 201

            def raised() -> bool:
                answer = http.get(f"/v1/cases/{case_id}/alerts")
                return answer.status_code == 200 and any(
                    r["alert_id"] == alert_id and r["published"] for r in answer.json()["raised"]
                )

            wait_for(raised, timeout=30, what="the alert raised")
            wait_for(
                lambda: any(
                    e["type"] == "alert.raised"
                    for e in http.get(f"/v1/cases/{case_id}/chronology").json()["events"]
                ),
                timeout=30,
                what="the alert in the case's events",
            )
            events = http.get(f"/v1/cases/{case_id}/chronology").json()["events"]
            [alert] = [e for e in events if e["type"] == "alert.raised"]
            # Raised under the first id no other event holds: the third.
            assert (alert["agency"], alert["event_id"]) == (
                LEDGER_AGENCY,
                alert_event_id(alert_id, 2),
            )
            # The squatter on the case is still there as what it is.
            taken = [e for e in events if e["event_id"] == alert_event_id(alert_id)]
            assert [e["type"] for e in taken] == ["contact.recorded"]

            # The agency it was sent to (the meeting's) answers it; one it was not sent to may not.
            answer = make_event(
                "alert.answered",
                case_id,
                agency=meeting["agency"],
                occurred_at="2007-03-07T10:00:00Z",
                recorded_at="2007-03-07T10:00:00Z",
            )
            answer["payload"].update(alert_id=alert_id, response="escalated")
            assert http.post("/v1/events", json=answer).status_code == 201
            stranger = {
                **answer,
                "event_id": make_event()["event_id"],
                "agency": "gp-practice-east",
            }
            refused = http.post("/v1/events", json=stranger)
            assert refused.status_code == 403
            assert [p["rule"] for p in refused.json()["errors"]] == ["alert-recipient"]
            wait_for(
                lambda: (
                    not any(
                        item["kind"] == "alert"
                        for item in http.get(f"/v1/cases/{case_id}").json().get("open_items", [])
                    )
                ),
                timeout=30,
                what="the answer to close the alert",
            )
    finally:
        server.stop()
        container.close()
