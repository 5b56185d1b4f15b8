"""Who may publish what, whatever the adapter: rules the adapters' append path applies to
events that are valid, and whose breach is a refusal (HTTP 403), not a mistake in the event.

- Only the ledger's own rules raise alerts: `alert.raised` never comes from an adapter (the
  alerter appends through a Ledger of its own).
- The ledger's own agency id is reserved: no adapter event is recorded as the ledger, and no
  agency registers it or is updated to it.
- An agency conveys only as itself: a share's or a referral's `from_agency` is the agency
  that records it (a correction of one, too), so no agency records another's share.
- Only the agency that recorded an event may correct or retract it.
- Only an agency an alert was sent to may answer it (the alert must be in the ledger, raised
  on the same case, before its answer).

The events these rules look at (an amendment's target, an answered alert) are found by the
append path, in the batch, in appends under way, or in the log (`Target`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ledger.agency_rules import LEDGER_AGENCY, REGISTRY_TYPES
from ledger.amendments import AMENDMENT_TYPES
from ledger.errors import Problem

ALERT_RAISED = "alert.raised"
ALERT_ANSWERED = "alert.answered"
CORRECTION = "correction.recorded"
# The payload fields that name the agency conveying facts, by event type.
SENDER_FIELDS: dict[str, tuple[str, ...]] = {
    "information.shared": ("from_agency",),
    "referral.made": ("from_agency",),
}
ALERT_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4c1e-9d55-2a7e0c6b9a10")
"""The UUID namespace of alert ids and of the event ids of the alerts the ledger raises."""


class Target(NamedTuple):
    """What the rules need of an event another one names: its case, agency, type, payload."""

    case_id: str
    agency: str
    type: str
    payload: Mapping[str, Any]

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Target:
        """The target as an event document (or a decoded Event's fields) states it."""
        return cls(document["case_id"], document["agency"], document["type"], document["payload"])


def alert_event_id(alert_id: str, attempt: int = 0) -> str:
    """The event_id of the `alert.raised` event of an alert: fixed by its alert id, so that
    raising it again is a duplicate the ledger refuses to append twice. An adapter can take
    that id first (alert ids derive from its own events), so attempt n > 0 is the n-th id
    after it; the alert is raised under the first of these ids not taken by another event."""
    suffix = f":taken:{attempt}" if attempt else ""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"alert.raised:{alert_id}{suffix}"))


def is_alert(target: Target, alert_id: str) -> bool:
    """Whether an event is the ledger's `alert.raised` of this alert (not one squatting its id)."""
    return (
        target.type == ALERT_RAISED
        and target.agency == LEDGER_AGENCY
        and target.payload.get("alert_id") == alert_id
    )


def reserved_problems(document: Mapping[str, Any]) -> list[Problem]:
    """What an adapter may never send, whoever it is: an alert, the ledger's own agency (as
    the event's agency, or as the agency a registry event registers or updates), or a share
    or referral that names another agency as its sender."""
    problems = []
    if document["type"] == ALERT_RAISED:
        problems.append(
            Problem(
                "/type",
                "ledger-raises-alerts",
                "only the ledger's own rules raise alerts; an agency answers one with "
                f"{ALERT_ANSWERED}",
            )
        )
    if document["agency"] == LEDGER_AGENCY:
        problems.append(_reserved("/agency"))
    if document["type"] in REGISTRY_TYPES and document["payload"]["agency_id"] == LEDGER_AGENCY:
        problems.append(_reserved("/payload/agency_id"))
    problems.extend(sender_problems(document["type"], document["payload"], document["agency"]))
    return problems


def sender_problems(
    type_: str,
    payload: Mapping[str, Any],
    agency: str,
    at: str = "/payload",
    item: int | None = None,
) -> list[Problem]:
    """A payload of this type naming as its sender (SENDER_FIELDS) an agency other than the
    one recording it: a conveyance recorded in another agency's name."""
    return [
        Problem(
            f"{at}/{field}",
            "sender-is-agency",
            f"an agency records only what it conveyed itself: {field} must be the event's agency",
            item,
        )
        for field in SENDER_FIELDS.get(type_, ())
        if field in payload and payload[field] != agency
    ]


def wanted_target(document: Mapping[str, Any]) -> str | None:
    """The event_id of the event the rules must find for this one (an amendment's target, an
    answer's alert), or None."""
    if document["type"] in AMENDMENT_TYPES and "amends" in document:
        return str(document["amends"]).lower()
    if document["type"] == ALERT_ANSWERED:
        return alert_event_id(document["payload"]["alert_id"])
    return None


def permission_problems(
    documents: Sequence[tuple[int, Mapping[str, Any]]], targets: Mapping[str, Target]
) -> tuple[list[Problem], list[Problem]]:
    """(refusals, mistakes) of valid documents (with their index in the batch), given the
    events they name that were found: an amendment by an agency other than its target's, a
    correction naming another agency as its target's sender, an answer by an agency the
    alert was not sent to (refusals); an answer to an alert not in
    the ledger on that case (a mistake). An amendment's missing target is the amendment
    rules' to report."""
    refused: list[Problem] = []
    mistaken: list[Problem] = []
    for index, document in documents:
        wanted = wanted_target(document)
        if wanted is None:
            continue
        target = targets.get(wanted)
        if document["type"] == ALERT_ANSWERED:
            alert_id = document["payload"]["alert_id"]
            if (
                target is None
                or target.type != ALERT_RAISED
                or target.case_id != document["case_id"]
            ):
                mistaken.append(
                    Problem(
                        "/payload/alert_id",
                        "alert-exists",
                        f"no alert {alert_id} has been raised on case {document['case_id']} "
                        "(yet): an answer follows its alert into the ledger",
                        index,
                    )
                )
            elif document["agency"] not in target.payload.get("sent_to", ()):
                refused.append(
                    Problem(
                        "/agency",
                        "alert-recipient",
                        f"only an agency alert {alert_id} was sent to may answer it",
                        index,
                    )
                )
        elif target is not None and target.agency == document["agency"]:
            if document["type"] == CORRECTION:
                refused += sender_problems(
                    target.type,
                    document["payload"]["corrected_payload"],
                    document["agency"],
                    "/payload/corrected_payload",
                    index,
                )
        elif target is not None:
            refused.append(
                Problem(
                    "/agency",
                    "amends-own-record",
                    f"only the agency that recorded event {wanted} may "
                    f"{'correct' if document['type'] == 'correction.recorded' else 'retract'} it",
                    index,
                )
            )
    return refused, mistaken


def _reserved(at: str) -> Problem:
    return Problem(
        at,
        "reserved-agency",
        f"{LEDGER_AGENCY!r} is the ledger's own agency id: it records the ledger's own alerts "
        "and no adapter may publish, register or update it",
    )
