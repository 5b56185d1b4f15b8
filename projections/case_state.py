"""The current state of a case, as a pure fold over its events (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

import orjson

from ledger.envelope import Event


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """The latest decision of one type."""

    event_id: str
    decision_type: str
    outcome: str
    agency: str
    occurred_at: str


@dataclass(frozen=True, slots=True)
class PersonSummary:
    """A person linked to the case, as the ledger knows them now."""

    person_id: str
    role: str
    is_adult: bool
    identity_verified: bool
    in_household: bool
    linked_by: str


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """The child protection plan in force."""

    plan_id: str
    category: str
    start_date: str


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An action, alert or meeting request not yet completed, answered or held."""

    id: str
    kind: str
    agency: str
    since: str
    due: str | None = None


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the ledger holds about one case now: who is involved, what was seen and decided."""

    case_id: str
    opened: bool = False
    opened_at: str | None = None
    date_of_birth: str | None = None
    lead_agency: str | None = None
    referral_source: str | None = None
    primary_need: str | None = None
    closed: bool = False
    closure_reason: str | None = None
    agencies: tuple[str, ...] = ()
    # Events in effect: a retracted entry no longer counts (nor does its agency); corrections
    # and retractions themselves do.
    events: int = 0
    contacts: int = 0
    contacts_child_seen: int = 0
    contacts_child_seen_alone: int = 0
    injury_observations: int = 0
    injuries: int = 0
    suspected_non_accidental: int = 0
    inconsistent_explanations: int = 0
    concerns: int = 0
    referrals: int = 0
    information_shared: int = 0
    acknowledgements: int = 0
    meetings_held: int = 0
    decisions: int = 0
    corrections: int = 0
    retractions: int = 0
    people: tuple[PersonSummary, ...] = ()
    plan: PlanSummary | None = None
    latest_decisions: tuple[DecisionSummary, ...] = ()
    open_items: tuple[OpenItem, ...] = ()
    last_recorded_at: str | None = None
    last_event_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseState:
        """Rebuild a state from its JSON form."""
        values = dict(data)
        values["agencies"] = tuple(values["agencies"])
        for name, kind in _NESTED.items():
            values[name] = tuple(kind(**item) for item in values[name])
        if values["plan"] is not None:
            values["plan"] = PlanSummary(**values["plan"])
        return cls(**values)


_NESTED: dict[str, Callable[..., Any]] = {
    "people": PersonSummary,
    "latest_decisions": DecisionSummary,
    "open_items": OpenItem,
}
_BLANK: dict[str, Any] = {
    f.name: list(f.default) if isinstance(f.default, tuple) else f.default
    for f in fields(CaseState)
    if f.name != "case_id"
}


def project(state: CaseState | None, event: Event) -> CaseState:
    """Apply one event to a case's state and return the new state."""
    return project_all(state, (event,))


def project_all(state: CaseState | None, events: Iterable[Event]) -> CaseState:
    """Apply one case's events in order; the same result as folding `project` over them."""
    document = None if state is None else orjson.loads(orjson.dumps(state))
    return CaseState.from_dict(fold_document(document, events))


def fold_document(document: dict[str, Any] | None, events: Iterable[Event]) -> dict[str, Any]:
    """The fold on the state's JSON form, which the view stores; the input is not changed.

    The view folds documents straight from and back to JSON, without building CaseState
    objects, because that conversion cost more than the fold itself.
    """
    draft = None if document is None else {**document, "agencies": list(document["agencies"])}
    for event in events:
        if draft is None:
            draft = {"case_id": event.case_id, **_BLANK, "agencies": []}
        _common(draft, event)
        HANDLERS[event.type](draft, event)
    if draft is None:
        raise ValueError("fold_document needs a document or at least one event")
    return draft


def _common(draft: dict[str, Any], event: Event) -> None:
    if event.agency not in draft["agencies"]:
        draft["agencies"] = sorted([*draft["agencies"], event.agency])
    draft["events"] += 1
    draft["last_recorded_at"] = max(draft["last_recorded_at"] or "", event.recorded_at)
    draft["last_event_id"] = event.event_id


def _count(field: str) -> Callable[[dict[str, Any], Event], None]:
    def handler(draft: dict[str, Any], _: Event) -> None:
        draft[field] += 1

    return handler


def _open(draft: dict[str, Any], item_id: str, kind: str, event: Event, due: str | None) -> None:
    item = {
        "id": item_id,
        "kind": kind,
        "agency": event.agency,
        "since": event.occurred_at,
        "due": due,
    }
    draft["open_items"] = [*_without(draft["open_items"], item_id, kind), item]


def _close(draft: dict[str, Any], item_id: str, kind: str) -> None:
    draft["open_items"] = _without(draft["open_items"], item_id, kind)


def _without(items: list[dict[str, Any]], item_id: str, kind: str) -> list[dict[str, Any]]:
    return [i for i in items if not (i["id"] == item_id and i["kind"] == kind)]


def _case_opened(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft.update(
        opened=True,
        opened_at=event.occurred_at,
        date_of_birth=p["date_of_birth"],
        lead_agency=p["lead_agency"],
        referral_source=p.get("referral_source"),
        primary_need=p.get("primary_need"),
    )


def _person_linked(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    others = [x for x in draft["people"] if x["person_id"] != p["person_id"]]
    earlier = next((x for x in draft["people"] if x["person_id"] == p["person_id"]), None)
    in_household = p.get("lives_in_household", earlier["in_household"] if earlier else False)
    person = {
        "person_id": p["person_id"],
        "role": p["role"],
        "is_adult": p["is_adult"],
        "identity_verified": p["identity_verified"],
        "in_household": in_household,
        "linked_by": event.agency,
    }
    draft["people"] = [*others, person]


def _household_changed(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    joined = p["change"] == "joined"
    people = [
        {**person, "in_household": joined} if person["person_id"] == p["person_id"] else person
        for person in draft["people"]
    ]
    if not any(person["person_id"] == p["person_id"] for person in people):
        # Someone joins before anyone links them: known only as a member of the household.
        people.append(
            {
                "person_id": p["person_id"],
                "role": "other_adult",
                "is_adult": True,
                "identity_verified": False,
                "in_household": joined,
                "linked_by": event.agency,
            }
        )
    draft["people"] = people


def _contact_recorded(draft: dict[str, Any], event: Event) -> None:
    seen = event.payload["child_seen"]  # version 2: older versions arrive upcast
    draft["contacts"] += 1
    draft["contacts_child_seen"] += seen != "not_seen"
    draft["contacts_child_seen_alone"] += seen == "seen_alone"


def _injury_observed(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["injury_observations"] += 1
    # A count written 1.0 passed the schema (`type: integer` takes it) before the ledger
    # refused such numbers at the door; one on the log must not turn the sum into a float.
    draft["injuries"] += int(p["count"])
    draft["suspected_non_accidental"] += bool(p["suspected_non_accidental"])
    draft["inconsistent_explanations"] += p.get("explanation_consistent") is False


def _meeting_requested(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    _open(draft, p["meeting_id"], "meeting", event, p.get("wanted_by"))


def _meeting_held(draft: dict[str, Any], event: Event) -> None:
    draft["meetings_held"] += 1
    _close(draft, event.payload["meeting_id"], "meeting")


def _decision_recorded(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    decision = {
        "event_id": event.event_id,
        "decision_type": p["decision_type"],
        "outcome": p["outcome"],
        "agency": event.agency,
        "occurred_at": event.occurred_at,
    }
    # The latest decision of each type: the state stays small however long the case runs.
    others = [d for d in draft["latest_decisions"] if d["decision_type"] != p["decision_type"]]
    draft["decisions"] += 1
    draft["latest_decisions"] = [*others, decision]


def _plan_started(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["plan"] = {
        "plan_id": p["plan_id"],
        "category": p["category"],
        "start_date": p["start_date"],
    }


def _plan_ended(draft: dict[str, Any], event: Event) -> None:
    if draft["plan"] is not None and draft["plan"]["plan_id"] == event.payload["plan_id"]:
        draft["plan"] = None


def _action_assigned(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    _open(draft, p["action_id"], "action", event, p["due"])


def _action_completed(draft: dict[str, Any], event: Event) -> None:
    _close(draft, event.payload["action_id"], "action")


def _alert_raised(draft: dict[str, Any], event: Event) -> None:
    _open(draft, event.payload["alert_id"], "alert", event, None)


def _alert_answered(draft: dict[str, Any], event: Event) -> None:
    _close(draft, event.payload["alert_id"], "alert")


def _case_closed(draft: dict[str, Any], event: Event) -> None:
    draft["closed"] = True
    draft["closure_reason"] = event.payload["reason"]


def _registry(_: dict[str, Any], __: Event) -> None:
    """Registry events change no case."""


HANDLERS: dict[str, Callable[[dict[str, Any], Event], None]] = {
    "case.opened": _case_opened,
    "person.linked": _person_linked,
    "household.changed": _household_changed,
    "contact.recorded": _contact_recorded,
    "injury.observed": _injury_observed,
    "concern.raised": _count("concerns"),
    "referral.made": _count("referrals"),
    "information.shared": _count("information_shared"),
    "acknowledged": _count("acknowledgements"),
    "meeting.requested": _meeting_requested,
    "meeting.held": _meeting_held,
    "decision.recorded": _decision_recorded,
    "plan.started": _plan_started,
    "plan.ended": _plan_ended,
    "action.assigned": _action_assigned,
    "action.completed": _action_completed,
    "alert.raised": _alert_raised,
    "alert.answered": _alert_answered,
    "correction.recorded": _count("corrections"),
    "entry.retracted": _count("retractions"),
    "case.closed": _case_closed,
    # Registry events are the agency registry's (projections.agencies), never a case's.
    "agency.registered": _registry,
    "agency.updated": _registry,
}
"""Every event type the case state folds; a test keeps it one-to-one with schemas/."""
