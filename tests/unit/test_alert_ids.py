"""An alert's event_id taken by another event: the alert is found, or raised, under the next
id no other event holds, and its answers find it there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consumers.alerter import _submit
from ledger.agency_rules import LEDGER_AGENCY
from ledger.append import Ledger
from ledger.publish_rules import alert_event_id
from ledger.schemas import SchemaRegistry
from ledger.sqlite_log import SQLiteEventLog
from tests.factories import make_event, new_case_id

HOSPITAL = "test-hospital-westmere"
ALERT_ID = "ALERT-T-TAKEN-1"


def raised(case_id: str, event_id: str) -> dict[str, Any]:
    """The ledger's alert.raised of ALERT_ID under this event_id, sent to the hospital."""
    alert = make_event("alert.raised", case_id, event_id=event_id, agency=LEDGER_AGENCY)
    alert["payload"].update(alert_id=ALERT_ID, sent_to=[HOSPITAL])
    return alert


def test_an_id_taken_after_the_decision_raises_the_alert_under_the_next(tmp_path: Path) -> None:
    log = SQLiteEventLog(tmp_path / "log.sqlite", "sgl.test")
    adapters, alerter = Ledger(log, SchemaRegistry(), adapters=True), Ledger(log, SchemaRegistry())
    try:
        case_id = new_case_id()
        first, second = alert_event_id(ALERT_ID), alert_event_id(ALERT_ID, 1)
        assert len({first, second, alert_event_id(ALERT_ID, 2)}) == 3
        assert alerter.find_alert(ALERT_ID) == (first, None)
        # The alert was decided under its first id; an adapter takes that id before it lands.
        adapters.submit([make_event("contact.recorded", case_id, event_id=first, agency=HOSPITAL)])
        _submit(alerter, [raised(case_id, first)])
        event_id, alert = alerter.find_alert(ALERT_ID)
        assert event_id == second and alert is not None and alert.agency == LEDGER_AGENCY
        # Published again (a restart before it was marked): found there, not raised twice.
        ends = log.end_offsets()
        _submit(alerter, [raised(case_id, first)])
        assert log.end_offsets() == ends
        # Its recipient answers it by its alert id.
        answer = make_event("alert.answered", case_id, agency=HOSPITAL)
        answer["payload"]["alert_id"] = ALERT_ID
        assert adapters.submit([answer])[0].status == "accepted"
    finally:
        log.close()
