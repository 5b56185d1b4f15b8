"""The current state of a case, as a pure fold over its events (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.envelope import Event


@dataclass(frozen=True, slots=True)
class DecisionSummary:
    """A decision as the case state shows it."""

    event_id: str
    decision_type: str
    outcome: str
    agency: str
    occurred_at: str


@dataclass(frozen=True, slots=True)
class CaseState:
    """What the ledger holds about one case now: who is involved and what has been seen."""

    case_id: str
    opened: bool = False
    opened_at: str | None = None
    date_of_birth: str | None = None
    lead_agency: str | None = None
    referral_source: str | None = None
    primary_need: str | None = None
    agencies: tuple[str, ...] = ()
    events: int = 0
    contacts: int = 0
    contacts_child_seen: int = 0
    contacts_child_seen_alone: int = 0
    injury_observations: int = 0
    injuries: int = 0
    suspected_non_accidental: int = 0
    inconsistent_explanations: int = 0
    decisions: int = 0
    latest_decisions: tuple[DecisionSummary, ...] = ()
    last_recorded_at: str | None = None
    last_event_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseState:
        """Rebuild a state from its JSON form."""
        fields = dict(data)
        fields["agencies"] = tuple(fields["agencies"])
        fields["latest_decisions"] = tuple(DecisionSummary(**d) for d in fields["latest_decisions"])
        return cls(**fields)


_FIELDS = CaseState.__dataclass_fields__
_BLANK: dict[str, Any] = {
    name: list(f.default) if isinstance(f.default, tuple) else f.default
    for name, f in _FIELDS.items()
    if name != "case_id"
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
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(draft, event)
    if draft is None:
        raise ValueError("fold_document needs a document or at least one event")
    return draft


def _common(draft: dict[str, Any], event: Event) -> None:
    if event.agency not in draft["agencies"]:
        draft["agencies"] = sorted([*draft["agencies"], event.agency])
    draft["events"] += 1
    draft["last_recorded_at"] = max(draft["last_recorded_at"] or "", event.recorded_at)
    draft["last_event_id"] = event.event_id


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


def _contact_recorded(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["contacts"] += 1
    draft["contacts_child_seen"] += bool(p["child_seen"])
    draft["contacts_child_seen_alone"] += bool(p.get("child_seen_alone"))


def _injury_observed(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["injury_observations"] += 1
    draft["injuries"] += p["count"]
    draft["suspected_non_accidental"] += bool(p["suspected_non_accidental"])
    draft["inconsistent_explanations"] += p.get("explanation_consistent") is False


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


_HANDLERS: dict[str, Callable[[dict[str, Any], Event], None]] = {
    "case.opened": _case_opened,
    "contact.recorded": _contact_recorded,
    "injury.observed": _injury_observed,
    "decision.recorded": _decision_recorded,
}
