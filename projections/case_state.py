"""The current state of a case, as a pure fold over its events (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC
from typing import Any

import orjson

from ledger.envelope import Event, parse_instant


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
class Episode:
    """One spell of an agency's involvement: opened (None if the ledger never heard when) and
    closed (None while open)."""

    opened_at: str | None
    basis: str | None
    closed_at: str | None = None
    reason: str | None = None
    cin_closure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Involvement:
    """One agency's involvement with the child: its episodes, oldest first."""

    agency: str
    open: bool
    episodes: tuple[Episode, ...]


@dataclass(frozen=True, slots=True)
class LeadSpell:
    """An agency that led the case, from when."""

    agency: str
    since: str


@dataclass(frozen=True, slots=True)
class AreaSpell:
    """A local authority area responsible for the child, from when."""

    area: str
    since: str
    responsible_agency: str | None = None


@dataclass(frozen=True, slots=True)
class AgencySighting:
    """When an agency's practitioner last saw the child, whether alone, and in what role."""

    agency: str
    last_seen_at: str
    seen_alone: str
    role: str


@dataclass(frozen=True, slots=True)
class SourceSighting:
    """When a source (a person, not an agency) last reported seeing the child, and to whom."""

    kind: str
    person_id: str | None
    last_seen_at: str
    reported_to: str


@dataclass(frozen=True, slots=True)
class Sightings:
    """Who last saw the child: each agency, and each source that told an agency."""

    by_agency: tuple[AgencySighting, ...] = ()
    by_source: tuple[SourceSighting, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sightings:
        """Rebuild the sightings from their JSON form."""
        return cls(
            tuple(AgencySighting(**x) for x in data["by_agency"]),
            tuple(SourceSighting(**x) for x in data["by_source"]),
        )


@dataclass(frozen=True, slots=True)
class Ongoing:
    """Something that began and has not ended: a hospital stay or an open allegation."""

    id: str
    agency: str
    since: str
    # How it began: the route into hospital, or the allegation's category.
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    """A child death or serious incident notified to a reviewing body."""

    event_id: str
    incident_type: str
    incident_date: str
    notified_to: str
    agency: str


@dataclass(frozen=True, slots=True)
class Conveyance:
    """What a referral or share said of a concern, when it stated or denied one."""

    event_id: str
    kind: str
    from_agency: str | None
    source_kind: str | None
    to_agency: str
    concern: str
    statement: str | None
    occurred_at: str
    facts: int


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
    # Closed when some agency's involvement was opened (or closed) and none is open now.
    closed: bool = False
    closure_reason: str | None = None
    responsible_area: str | None = None
    involvements: tuple[Involvement, ...] = ()
    leads: tuple[LeadSpell, ...] = ()
    areas: tuple[AreaSpell, ...] = ()
    sightings: Sightings = Sightings()
    agencies: tuple[str, ...] = ()
    # Events in effect: a retracted entry no longer counts (nor does its agency); corrections
    # and retractions themselves do.
    events: int = 0
    contacts: int = 0
    contacts_child_seen: int = 0
    contacts_child_seen_alone: int = 0
    contacts_child_not_seen: int = 0
    contacts_child_seen_not_known: int = 0
    injury_observations: int = 0
    injuries: int = 0
    suspected_non_accidental: int = 0
    inconsistent_explanations: int = 0
    concerns: int = 0
    referrals: int = 0
    information_shared: int = 0
    information_withheld: int = 0
    acknowledgements: int = 0
    meetings_held: int = 0
    decisions: int = 0
    corrections: int = 0
    retractions: int = 0
    people: tuple[PersonSummary, ...] = ()
    plan: PlanSummary | None = None
    latest_decisions: tuple[DecisionSummary, ...] = ()
    open_items: tuple[OpenItem, ...] = ()
    # Hospital, visits, police protection, assessments, allegations, whereabouts, incidents;
    # what a source did not know is counted apart, never guessed.
    hospital_admissions: int = 0
    in_hospital: tuple[Ongoing, ...] = ()
    visits_planned: int = 0
    visits_cancelled: int = 0
    visits_no_access: int = 0
    police_protections: int = 0
    police_protection_since: str | None = None
    assessments_started: int = 0
    assessments_completed: int = 0
    assessments_ended_incomplete: int = 0
    allegations: int = 0
    allegations_withdrawn: int = 0
    allegations_open: tuple[Ongoing, ...] = ()
    whereabouts_unknown_since: str | None = None
    incidents: tuple[IncidentSummary, ...] = ()
    injury_counts_not_known: int = 0
    suspected_non_accidental_not_known: int = 0
    concerns_severity_not_known: int = 0
    conveyed: tuple[Conveyance, ...] = ()
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
        values["involvements"] = tuple(
            Involvement(
                agency=i["agency"],
                open=i["open"],
                episodes=tuple(Episode(**e) for e in i["episodes"]),
            )
            for i in values["involvements"]
        )
        values["sightings"] = Sightings.from_dict(values["sightings"])
        return cls(**values)


_NESTED: dict[str, Callable[..., Any]] = {
    "people": PersonSummary,
    "latest_decisions": DecisionSummary,
    "open_items": OpenItem,
    "leads": LeadSpell,
    "areas": AreaSpell,
    "in_hospital": Ongoing,
    "allegations_open": Ongoing,
    "incidents": IncidentSummary,
    "conveyed": Conveyance,
}
_BLANK: dict[str, Any] = {
    f.name: list(f.default) if isinstance(f.default, tuple) else f.default
    for f in fields(CaseState)
    if f.name not in ("case_id", "sightings")
}
_NO_SIGHTINGS: dict[str, Any] = {"by_agency": [], "by_source": []}


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
            draft = {"case_id": event.case_id, **_BLANK, "sightings": _NO_SIGHTINGS}
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


# Involvement, lead, responsible area and sightings. A case is closed when no agency's
# involvement is open; `case.opened` opens the lead's, `case.closed` ends the sender's.

# The involvement.closed reason a case.closed's CIN census code amounts to.
_CLOSURE_REASONS = {
    "RC2": "child_died",
    "RC5": "case_transferred",
    "RC6": "case_transferred",
    "RC7": "service_complete",
    "RC8": "no_further_action",
}


def _case_opened(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft.update(
        opened=True,
        opened_at=event.occurred_at,
        date_of_birth=p["date_of_birth"],
        referral_source=p.get("referral_source"),
        primary_need=p.get("primary_need"),
    )
    _lead(draft, p["lead_agency"], event.occurred_at)
    if "responsible_area" in p:
        _area(draft, p["responsible_area"], event.occurred_at, None)
    # In the release before involvements, nothing reopened a closed case; a version 1
    # case.opened after a closure still does not.
    if event.recorded_version != 1 or not draft["closed"]:
        _open_involvement(draft, p["lead_agency"], event.occurred_at, "not_known")


def _case_closed(draft: dict[str, Any], event: Event) -> None:
    code = event.payload["reason"]
    reason = _CLOSURE_REASONS.get(code, "other")
    if event.recorded_version != 1:
        _close_involvement(draft, event.agency, event.occurred_at, reason, code)
        return
    # Version 1 (before involvements) closed the whole case: it still closes every involvement
    # open then (the sender's when none is known at all), with its reason.
    involved = [i["agency"] for i in draft["involvements"] if i["open"]]
    if not draft["involvements"]:
        involved = [event.agency]
    for agency in involved:
        _close_involvement(draft, agency, event.occurred_at, reason, code)
    draft["closure_reason"] = code


def _involvement_opened(draft: dict[str, Any], event: Event) -> None:
    _open_involvement(draft, event.agency, event.occurred_at, event.payload["basis"])


def _involvement_closed(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    _close_involvement(
        draft, event.agency, event.occurred_at, p["reason"], p.get("cin_closure_reason")
    )


def _open_involvement(draft: dict[str, Any], agency: str, at: str, basis: str) -> None:
    found = _involvement(draft, agency)
    episode = {
        "opened_at": at,
        "basis": basis,
        "closed_at": None,
        "reason": None,
        "cin_closure_reason": None,
    }
    if found is None:
        _set_involvement(draft, {"agency": agency, "open": True, "episodes": [episode]})
    elif not found["open"]:
        # A reopening: a new episode.
        _set_involvement(draft, {**found, "open": True, "episodes": [*found["episodes"], episode]})
    elif found["episodes"][-1]["basis"] == "not_known" and basis != "not_known":
        # Opened with the case, then opened again saying why: the episode gains its basis.
        last = {**found["episodes"][-1], "basis": basis}
        _set_involvement(draft, {**found, "episodes": [*found["episodes"][:-1], last]})
    _settle(draft)


def _close_involvement(
    draft: dict[str, Any], agency: str, at: str, reason: str, code: str | None
) -> None:
    found = _involvement(draft, agency)
    ended = {"closed_at": at, "reason": reason, "cin_closure_reason": code}
    if found is None:
        # A closure of an involvement the ledger never saw open: when it began is not known.
        episode = {"opened_at": None, "basis": None, **ended}
        _set_involvement(draft, {"agency": agency, "open": False, "episodes": [episode]})
    elif found["open"]:
        last = {**found["episodes"][-1], **ended}
        _set_involvement(
            draft, {**found, "open": False, "episodes": [*found["episodes"][:-1], last]}
        )
    else:
        return
    if not draft["closed"]:
        draft["closure_reason"] = code
    _settle(draft)


def _involvement(draft: dict[str, Any], agency: str) -> dict[str, Any] | None:
    return next((i for i in draft["involvements"] if i["agency"] == agency), None)


def _set_involvement(draft: dict[str, Any], involvement: dict[str, Any]) -> None:
    others = [i for i in draft["involvements"] if i["agency"] != involvement["agency"]]
    draft["involvements"] = sorted([*others, involvement], key=lambda i: i["agency"])


def _settle(draft: dict[str, Any]) -> None:
    """The case is closed when some involvement is known and none is open."""
    involvements = draft["involvements"]
    draft["closed"] = bool(involvements) and not any(i["open"] for i in involvements)
    if not draft["closed"]:
        draft["closure_reason"] = None


def _lead_changed(draft: dict[str, Any], event: Event) -> None:
    _lead(draft, event.payload["lead_agency"], event.occurred_at)


def _lead(draft: dict[str, Any], agency: str, since: str) -> None:
    if draft["lead_agency"] != agency:
        draft["leads"] = [*draft["leads"], {"agency": agency, "since": since}]
    draft["lead_agency"] = agency


def _area_changed(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    _area(draft, p["area"], event.occurred_at, p.get("responsible_agency"))


def _area(draft: dict[str, Any], area: str, since: str, agency: str | None) -> None:
    last = draft["areas"][-1] if draft["areas"] else None
    if last is None or (last["area"], last["responsible_agency"]) != (area, agency):
        spell = {"area": area, "since": since, "responsible_agency": agency}
        draft["areas"] = [*draft["areas"], spell]
    draft["responsible_area"] = area


def _contact_recorded(draft: dict[str, Any], event: Event) -> None:
    p = event.payload  # the newest version: older versions arrive upcast
    seen = p["child_seen"]
    draft["contacts"] += 1
    draft["contacts_child_seen"] += seen == "yes"
    draft["contacts_child_seen_alone"] += p.get("seen_alone") == "yes"
    draft["contacts_child_not_seen"] += seen == "no"
    draft["contacts_child_seen_not_known"] += seen == "not_known"
    if seen == "yes":
        _sighting(draft, event)


def _sighted_at(event: Event) -> str | None:
    """When the child was seen, for "last seen": a stated date (a period's start), a range's
    earliest bound, a dispute's earliest account; None when the record gives no earliest
    date, so that no sighting is dated later than the record allows."""
    if event.occurred_precision == "undated":
        return None
    if event.occurred_precision == "range" and "not_before" not in (event.occurred_range or {}):
        return None
    return event.occurred_at


def _sighting(draft: dict[str, Any], event: Event) -> None:
    """Keep the latest sighting (by when it happened; the later recorded on a tie). A
    sighting with no date to count from (undated, or only "not after") never moves it."""
    at = _sighted_at(event)
    if at is None:
        return
    p = event.payload
    sightings = draft["sightings"]
    source = p.get("source")
    if source is None:
        key, group = ("agency", "by_agency")
        sighting: dict[str, Any] = {
            "agency": event.agency,
            "last_seen_at": at,
            "seen_alone": p.get("seen_alone", "not_known"),
            "role": p.get("seen_by_role", event.recorded_by["role"]),
        }
    else:
        key, group = ("source", "by_source")
        sighting = {
            "kind": source["kind"],
            "person_id": source.get("person_id"),
            "last_seen_at": at,
            "reported_to": event.agency,
        }

    def ident(x: dict[str, Any]) -> tuple[str, str]:
        return (x["agency"], "") if key == "agency" else (x["kind"], x["person_id"] or "")

    # Copied, never changed in place: the draft shares its lists with the input document.
    kept: list[dict[str, Any]] = sightings[group]
    me = ident(sighting)
    for index, earlier in enumerate(kept):
        if ident(earlier) == me:
            if _later(earlier["last_seen_at"], at):
                return
            kept = [*kept]
            kept[index] = sighting
            break
    else:
        kept = sorted([*kept, sighting], key=ident)
    draft["sightings"] = {**sightings, group: kept}


def _later(a: str, b: str) -> bool:
    """Whether instant a is after instant b."""
    if len(a) == len(b) and a[-1] == b[-1] == "Z":
        return a > b  # UTC texts of one shape order as their instants do
    return parse_instant(a) > parse_instant(b)


# Hospital, visits, police protection, assessments, allegations, whereabouts, incidents,
# what was not known, and what a share or referral conveyed.

NOT_KNOWN = "not_known"
# Contacts that are not a visit: they never count as a planned visit held.
_REMOTE_CONTACTS = ("phone", "video_call")


def _injury_observed(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["injury_observations"] += 1
    if p["count"] == NOT_KNOWN:
        draft["injury_counts_not_known"] += 1
    else:
        # A count written 1.0 passed the schema (`type: integer` takes it) before the ledger
        # refused such numbers at the door; one on the log must not turn the sum into a float.
        draft["injuries"] += int(p["count"])
    suspected = p["suspected_non_accidental"]
    draft["suspected_non_accidental"] += suspected is True
    draft["suspected_non_accidental_not_known"] += suspected == NOT_KNOWN
    draft["inconsistent_explanations"] += p.get("explanation_consistent") is False


def _concern_raised(draft: dict[str, Any], event: Event) -> None:
    draft["concerns"] += 1
    draft["concerns_severity_not_known"] += event.payload["severity"] == NOT_KNOWN


def _conveying(counter: str, kind: str) -> Callable[[dict[str, Any], Event], None]:
    def handler(draft: dict[str, Any], event: Event) -> None:
        p = event.payload
        draft[counter] += 1
        conveyed = p.get("conveyed", {})
        if conveyed.get("concern", "not_stated") == "not_stated":
            return  # nothing said of a concern: the count says enough
        source = p.get("source")
        item = {
            "event_id": event.event_id,
            "kind": kind,
            "from_agency": p.get("from_agency"),
            "source_kind": source["kind"] if source else None,
            "to_agency": p["to_agency"],
            "concern": conveyed["concern"],
            "statement": conveyed.get("statement"),
            "occurred_at": event.occurred_at,
            "facts": len(p.get("facts", [])),
        }
        draft["conveyed"] = [*draft["conveyed"], item]

    return handler


def _information_withheld(draft: dict[str, Any], _: Event) -> None:
    # A state stored before withholdings were recorded has no count of them yet.
    draft["information_withheld"] = draft.get("information_withheld", 0) + 1


def _hospital_admitted(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["hospital_admissions"] += 1
    _begin(draft, "in_hospital", p["episode_id"], event, p["via"])


def _hospital_discharged(draft: dict[str, Any], event: Event) -> None:
    draft["in_hospital"] = _episodes_without(draft["in_hospital"], event.payload["episode_id"])


def _begin(draft: dict[str, Any], field: str, item_id: str, event: Event, detail: str) -> None:
    """Something ongoing begins (again, if it was already held: the newer replaces it)."""
    draft[field] = [
        *_episodes_without(draft[field], item_id),
        {"id": item_id, "agency": event.agency, "since": event.occurred_at, "detail": detail},
    ]


def _episodes_without(episodes: list[dict[str, Any]], episode_id: str) -> list[dict[str, Any]]:
    return [e for e in episodes if e["id"] != episode_id]


def _visit_planned(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["visits_planned"] += 1
    _open(draft, p["visit_id"], "visit", event, p["planned_for"])


def _visit_cancelled(draft: dict[str, Any], event: Event) -> None:
    draft["visits_cancelled"] += 1
    _close(draft, event.payload["visit_id"], "visit")


def _visit_no_access(draft: dict[str, Any], event: Event) -> None:
    draft["visits_no_access"] += 1
    if "visit_id" in event.payload:
        _close(draft, event.payload["visit_id"], "visit")


def _visit_held(draft: dict[str, Any], event: Event) -> None:
    """A face-to-face contact by the planning agency on or after the planned day holds the
    earliest such planned visit: contacts carry no visit id."""
    if event.payload["contact_type"] in _REMOTE_CONTACTS:
        return
    planned = [
        i for i in draft["open_items"] if i["kind"] == "visit" and i["agency"] == event.agency
    ]
    if not planned:
        return
    day = parse_instant(event.occurred_at).astimezone(UTC).date()
    due = [i for i in planned if parse_instant(i["due"]).astimezone(UTC).date() <= day]
    if due:
        held = min(due, key=lambda i: parse_instant(i["due"]))
        _close(draft, held["id"], "visit")


def _police_protection_taken(draft: dict[str, Any], event: Event) -> None:
    draft["police_protections"] += 1
    _open(draft, event.payload["protection_id"], "police_protection", event, None)
    _police_protection_since(draft)


def _police_protection_ended(draft: dict[str, Any], event: Event) -> None:
    _close(draft, event.payload["protection_id"], "police_protection")
    _police_protection_since(draft)


def _police_protection_since(draft: dict[str, Any]) -> None:
    since = [i["since"] for i in draft["open_items"] if i["kind"] == "police_protection"]
    draft["police_protection_since"] = min(since) if since else None


def _assessment_started(draft: dict[str, Any], event: Event) -> None:
    draft["assessments_started"] += 1
    _open(draft, event.payload["assessment_id"], "assessment", event, None)


def _assessment_completed(draft: dict[str, Any], event: Event) -> None:
    draft["assessments_completed"] += 1
    _close(draft, event.payload["assessment_id"], "assessment")


def _assessment_ended_incomplete(draft: dict[str, Any], event: Event) -> None:
    draft["assessments_ended_incomplete"] += 1
    _close(draft, event.payload["assessment_id"], "assessment")


def _allegation_made(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    draft["allegations"] += 1
    _begin(draft, "allegations_open", p["allegation_id"], event, p["category"])


def _allegation_withdrawn(draft: dict[str, Any], event: Event) -> None:
    allegation = event.payload["allegation_id"]
    remaining = _episodes_without(draft["allegations_open"], allegation)
    # Withdrawing an allegation the case does not hold (or holds as withdrawn) counts once.
    draft["allegations_withdrawn"] += len(remaining) < len(draft["allegations_open"])
    draft["allegations_open"] = remaining


def _whereabouts_unknown(draft: dict[str, Any], event: Event) -> None:
    # A second agency reporting the child missing does not move when it began.
    if draft["whereabouts_unknown_since"] is None:
        draft["whereabouts_unknown_since"] = event.occurred_at


def _whereabouts_found(draft: dict[str, Any], _: Event) -> None:
    draft["whereabouts_unknown_since"] = None


def _incident_notified(draft: dict[str, Any], event: Event) -> None:
    p = event.payload
    incident = {
        "event_id": event.event_id,
        "incident_type": p["incident_type"],
        "incident_date": p["incident_date"],
        "notified_to": p["notified_to"],
        "agency": event.agency,
    }
    draft["incidents"] = [*draft["incidents"], incident]


def _then(
    first: Callable[[dict[str, Any], Event], None], second: Callable[[dict[str, Any], Event], None]
) -> Callable[[dict[str, Any], Event], None]:
    def handler(draft: dict[str, Any], event: Event) -> None:
        first(draft, event)
        second(draft, event)

    return handler


def _registry(_: dict[str, Any], __: Event) -> None:
    """Registry events change no case."""


HANDLERS: dict[str, Callable[[dict[str, Any], Event], None]] = {
    "case.opened": _case_opened,
    "person.linked": _person_linked,
    "household.changed": _household_changed,
    "contact.recorded": _contact_recorded,
    "injury.observed": _injury_observed,
    "concern.raised": _concern_raised,
    "referral.made": _conveying("referrals", "referral"),
    "information.shared": _conveying("information_shared", "share"),
    # A decision not to share conveys nothing: counted, never a conveyance.
    "information.withheld": _information_withheld,
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
    "involvement.opened": _involvement_opened,
    "involvement.closed": _involvement_closed,
    "lead.changed": _lead_changed,
    "area.changed": _area_changed,
    "hospital.admitted": _hospital_admitted,
    "hospital.discharged": _hospital_discharged,
    "visit.planned": _visit_planned,
    "visit.cancelled": _visit_cancelled,
    "visit.no_access": _visit_no_access,
    "police_protection.taken": _police_protection_taken,
    "police_protection.ended": _police_protection_ended,
    "assessment.started": _assessment_started,
    "assessment.completed": _assessment_completed,
    "assessment.ended_incomplete": _assessment_ended_incomplete,
    "allegation.made": _allegation_made,
    "allegation.withdrawn": _allegation_withdrawn,
    "whereabouts.unknown": _whereabouts_unknown,
    "whereabouts.found": _whereabouts_found,
    "incident.notified": _incident_notified,
    # Registry events are the agency registry's (projections.agencies), never a case's.
    "agency.registered": _registry,
    "agency.updated": _registry,
}
"""Every event type the case state folds; a test keeps it one-to-one with schemas/."""
# A contact is also how a planned visit is held.
HANDLERS["contact.recorded"] = _then(HANDLERS["contact.recorded"], _visit_held)
