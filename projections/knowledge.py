"""Who knew what, and when: for each fact of a case and each agency, known since when and how.

A fact is an event of the case (not an amendment or an acknowledgement) that has not been
retracted. An agency comes to know a fact when:

- it recorded it (`recorded`, since the fact's recorded_at);
- information was shared with it naming the fact (`shared`), or a referral to it named the fact
  (`referral`): since the share or referral happened (its occurred_at, or its recorded_at if
  that is earlier, as a correction may move occurred_at);
- it attended a meeting where the fact was tabled (`meeting`): since the meeting was held;
- an alert naming the fact as evidence was sent to it (`alert`): since the alert was raised;
- it acknowledged the fact (`acknowledged`): since it recorded the acknowledgement.

A cell reached through a share or referral carries what the sender said it conveyed
(`conveyed`: a concern stated or denied, its own words): the facts known are the ledger's, the
sender's account of them stands beside them.

A decision not to share (`information.withheld`) conveys nothing. For each agency it names, each
fact it names is marked withheld (by whom, when it was decided, the reason and explanation, and
since when the ledger shows the withholder knowing the fact, if it does): unknown to that
agency, not forgotten. Knowledge always wins: a fact shared anyway is known from the share,
and the withholding stays beside it as history.

The share, referral, meeting or alert is itself a fact, known to its recipients the same way.
Nobody knows a fact before it was recorded: a conveyance earlier than the fact's recorded_at
counts from the recorded_at. An acknowledgement by the agency of the fact, or of the event that
conveyed it, is shown beside the knowledge. Everything is as of a moment: only events known by
then (recorded_at, or appended_at on the `appended` basis), with the amendments known by then.
Pure: no I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.envelope import Event, parse_instant, utc_text
from projections.as_of import Basis, known_by
from projections.chronology import summary
from projections.effective import effective_events
from projections.stats import nearest_rank

ACKNOWLEDGED = "acknowledged"
WITHHELD = "information.withheld"
# When two routes give the same moment, the first of these is shown.
ROUTES = ("recorded", "shared", "referral", "meeting", "alert", "acknowledged")
RANK = {route: rank for rank, route in enumerate(ROUTES)}


@dataclass(frozen=True, slots=True)
class Knowing:
    """One agency's first knowledge of one fact."""

    since: datetime
    via: str
    through: str
    # `since` as the event's own timestamp text (formatting thousands of cells cost more than
    # computing them).
    since_text: str
    acknowledged_at: str | None = None
    # What the share or referral it came through said of a concern (its `conveyed`), if any.
    conveyed: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The cell as the API shows it."""
        return {
            "since": self.since_text,
            "via": self.via,
            "through": self.through,
            "acknowledged_at": self.acknowledged_at,
            "conveyed": self.conveyed,
        }


@dataclass(frozen=True, slots=True)
class Withholding:
    """One agency's decision not to share one fact with another."""

    by: str
    at: datetime
    # `at` as text (when it was decided, or recorded if that is earlier).
    at_text: str
    through: str
    reason: str
    explanation: str

    def as_dict(self, cells: dict[str, Knowing]) -> dict[str, Any]:
        """The withholding as the API shows it; `cells` is who knew the fact, to say since
        when the withholder did (null: the ledger does not show it knowing the fact)."""
        knew = cells.get(self.by)
        return {
            "by": self.by,
            "at": self.at_text,
            "reason": self.reason,
            "explanation": self.explanation,
            "through": self.through,
            "withholder_knew_since": None if knew is None else knew.since_text,
        }


@dataclass(frozen=True, slots=True)
class Knowledge:
    """A case's facts and who knew each, as of a moment."""

    case_id: str
    moment: datetime
    lead_agency: str | None
    facts: dict[str, Event]
    known: dict[str, dict[str, Knowing]]  # fact id -> agency -> first knowledge
    agencies: tuple[str, ...]
    people: tuple[Event, ...]  # person.linked and household.changed, as of the moment
    # fact id -> agency withheld from -> the decisions not to share it, earliest first
    withheld: dict[str, dict[str, list[Withholding]]]

    def of_agency(self, agency: str) -> list[dict[str, Any]]:
        """What one agency knew: each fact with since when and how, earliest first.

        Withholdings are left out: a decision not to share with the agency is the
        withholder's record, which the agency never learned (the matrix and gaps show it)."""
        rows = [
            {**_fact(self.facts[fact], self.facts), **cells[agency].as_dict()}
            for fact, cells in self.known.items()
            if agency in cells
        ]
        rows.sort(key=lambda r: (r["since"], r["event_id"]))
        return rows

    def matrix(self) -> dict[str, Any]:
        """Facts x agencies: for each fact, each agency that knew it and since when, and each
        agency it was withheld from (known to it since, or not: a withheld cell)."""
        return {
            "agencies": list(self.agencies),
            "facts": [
                {
                    **_fact(event, self.facts),
                    "known": {a: k.as_dict() for a, k in sorted(self.known[fact].items())},
                    "withholdings": {
                        agency: self._withholdings(fact, agency)
                        for agency in sorted(self.withheld.get(fact, {}))
                    },
                }
                for fact, event in self.facts.items()
            ],
        }

    def _withholdings(self, fact: str, agency: str) -> list[dict[str, Any]]:
        """The decisions not to share the fact with the agency, earliest first."""
        cells = self.known[fact]
        return [w.as_dict(cells) for w in self.withheld.get(fact, {}).get(agency, [])]

    def gaps(self, agency: str) -> list[dict[str, Any]]:
        """Facts some agency knew and this one did not, with how long they had been known,
        each marked withheld from it (with the decisions) or not."""
        rows = []
        for fact, cells in self.known.items():
            if agency in cells:
                continue
            # At the same moment the recorder came first (the routes' order), whatever the codes.
            first_agency, first = min(
                cells.items(), key=lambda item: (item[1].since, RANK[item[1].via], item[0])
            )
            rows.append(
                {
                    **_fact(self.facts[fact], self.facts),
                    "known_to": sorted(cells),
                    "first_known_by": first_agency,
                    "first_known_at": first.since_text,
                    "known_elsewhere_days": _days(self.moment - first.since),
                    "withheld": agency in self.withheld.get(fact, {}),
                    "withholdings": self._withholdings(fact, agency),
                }
            )
        rows.sort(key=lambda r: (r["first_known_at"], r["event_id"]))
        return rows

    def people_gaps(self, agency: str) -> list[dict[str, Any]]:
        """Adults (or people of unknown age) living in the household by some agency's latest
        account whom this agency never recorded itself (no person.linked or household.changed
        of its own for them)."""
        people: dict[str, dict[str, Any]] = {}
        own: set[str] = set()
        for event in self.people:
            p = event.payload
            if event.agency == agency:
                own.add(p["person_id"])
            person = people.setdefault(
                p["person_id"], {"role": None, "is_adult": None, "accounts": {}, "records": []}
            )
            if event.type == "person.linked":
                person["role"] = p["role"]
                person["is_adult"] = bool(person["is_adult"]) or p["is_adult"]
                if "lives_in_household" in p:
                    person["accounts"][event.agency] = p["lives_in_household"]
            else:
                person["accounts"][event.agency] = p["change"] == "joined"
            person["records"].append(event)
        rows = []
        for person_id, person in sorted(people.items()):
            in_household = any(person["accounts"].values())
            if person_id in own or not in_household or person["is_adult"] is False:
                continue
            records: list[Event] = person["records"]
            told = [
                self.known[e.event_id][agency].since
                for e in records
                if agency in self.known.get(e.event_id, {})
            ]
            first = min(records, key=lambda e: parse_instant(e.recorded_at))
            rows.append(
                {
                    "person_id": person_id,
                    "role": person["role"],
                    "is_adult": person["is_adult"],
                    "known_to": sorted({e.agency for e in records}),
                    "first_known_by": first.agency,
                    "first_known_at": first.recorded_at,
                    "known_elsewhere_days": _days(self.moment - parse_instant(first.recorded_at)),
                    "identity_verified": any(
                        e.payload.get("identity_verified", False) for e in records
                    ),
                    # Told, through a share or meeting, yet never recorded by this agency.
                    "told_at": _text(min(told)) if told else None,
                    "evidence": [e.event_id for e in records],
                }
            )
        return rows

    def delays(self) -> dict[tuple[str, str], list[timedelta]]:
        """For each (recording agency, other agency): how long each fact took to reach it."""
        out: dict[tuple[str, str], list[timedelta]] = {}
        for fact, cells in self.known.items():
            event = self.facts[fact]
            recorded = parse_instant(event.recorded_at)
            for agency, knowing in cells.items():
                if agency != event.agency:
                    out.setdefault((event.agency, agency), []).append(knowing.since - recorded)
        return out


def knowledge(events: Sequence[Event], moment: datetime, basis: Basis = "recorded") -> Knowledge:
    """Who knew each fact of the case by the moment, since when and through what."""
    recorded_at, current, facts = _current(events, moment, basis)
    known: dict[str, dict[str, Knowing]] = {fact: {} for fact in facts}
    acks: dict[tuple[str, str], tuple[datetime, str]] = {}
    withheld: dict[str, dict[str, list[Withholding]]] = {}
    agencies: set[str] = set()
    lead = None

    def offer(
        fact: str,
        agency: str,
        at: datetime,
        text: str,
        via: str,
        through: str,
        conveyed: dict[str, Any] | None = None,
    ) -> None:
        if fact not in facts:
            return  # not a fact of this case by then (unknown, retracted, or an amendment)
        if at < recorded_at[fact]:
            at, text = recorded_at[fact], facts[fact].recorded_at
        cells = known[fact]
        held = cells.get(agency)
        if held is None or (at, RANK[via]) < (held.since, RANK[held.via]):
            cells[agency] = Knowing(at, via, through, text, conveyed=conveyed)

    for event in current:
        agencies.add(event.agency)
        p = event.payload
        if event.event_id in facts:
            offer(
                event.event_id,
                event.agency,
                recorded_at[event.event_id],
                event.recorded_at,
                "recorded",
                event.event_id,
            )
        if (event.type == "case.opened" and lead is None) or event.type == "lead.changed":
            lead = p["lead_agency"]
        route, recipients, named = _conveys(event)
        if event.type == "meeting.held":
            agencies.update(p["invited_agencies"])  # an absent invitee is a column too
        if route:
            # When it happened, but never after it was recorded (a correction may move it).
            happened = min(parse_instant(event.occurred_at), recorded_at[event.event_id])
            text = utc_text(happened)
            agencies.update(recipients)
            conveyed = p.get("conveyed")
            for agency in recipients:
                for fact in (*named, event.event_id):
                    offer(fact, agency, happened, text, route, event.event_id, conveyed)
        if event.type == WITHHELD:
            agencies.update(p["withheld_from"])  # an agency withheld from is a column too
            _withhold(
                withheld,
                facts,
                event,
                min(parse_instant(event.occurred_at), recorded_at[event.event_id]),
            )
        if event.type == ACKNOWLEDGED:
            target, at = p["acknowledges"].lower(), recorded_at[event.event_id]
            offer(target, event.agency, at, event.recorded_at, "acknowledged", event.event_id)
            key = (target, event.agency)
            if key not in acks or at < acks[key][0]:
                acks[key] = (at, event.recorded_at)
    _mark_acknowledgements(known, acks)
    people = tuple(e for e in current if e.type in ("person.linked", "household.changed"))
    case_id = current[0].case_id if current else ""
    _in_time_order(withheld)
    return Knowledge(case_id, moment, lead, facts, known, tuple(sorted(agencies)), people, withheld)


def _current(
    events: Sequence[Event], moment: datetime, basis: Basis
) -> tuple[dict[str, datetime], list[Event], dict[str, Event]]:
    """(each event's recorded_at, the events in effect by the moment, the facts among them)."""
    # Each recorded_at parsed once, for the as-of filter and for the facts' own times.
    recorded_at = {e.event_id: parse_instant(e.recorded_at) for e in events}
    if basis == "recorded":
        current = effective_events([e for e in events if recorded_at[e.event_id] <= moment])
    else:
        current = effective_events(known_by(events, moment, basis))
    facts = {e.event_id: e for e in current if e.amends is None and e.type != ACKNOWLEDGED}
    return recorded_at, current, facts


def told(
    events: Sequence[Event], moment: datetime, basis: Basis = "recorded"
) -> dict[str, dict[str, datetime]]:
    """For each fact of the case by the moment, the agencies that knew it by their own record
    or another agency's word, and since when: its recorder, and each agency a share,
    referral, meeting or alert recorded by another agency conveyed it to, provided that
    agency knew it so by then (the ledger, which alone raises alerts, knows every fact).

    The who-knew view reports every conveyance as recorded; this is what need to know may
    rely on: an agency's own account of a share, meeting or acknowledgement that reached it
    tells it nothing, nor does one agency's account of conveying what it never knew."""
    recorded_at, current, facts = _current(events, moment, basis)
    known = {fact: {event.agency: recorded_at[fact]} for fact, event in facts.items()}
    steps = []
    for event in current:
        route, recipients, named = _conveys(event)
        others = [a for a in recipients if a != event.agency]
        if others:
            happened = min(parse_instant(event.occurred_at), recorded_at[event.event_id])
            conveyed = [f for f in (*named, event.event_id) if f in facts]
            steps.append((happened, route == "alert", event.agency, others, conveyed))
    steps.sort(key=lambda step: step[0])
    # Time order settles a chain of relays in one pass; relays at one instant may need more.
    changed = True
    while changed:
        changed = False
        for happened, by_ledger, sender, recipients, conveyed in steps:
            for fact in conveyed:
                since = max(happened, recorded_at[fact])
                cells = known[fact]
                knew = cells.get(sender)
                if not by_ledger and (knew is None or knew > since):
                    continue
                for agency in recipients:
                    if agency not in cells or since < cells[agency]:
                        cells[agency] = since
                        changed = True
    return known


def _in_time_order(withheld: dict[str, dict[str, list[Withholding]]]) -> None:
    """Each cell's decisions, earliest first (the log may hold them in another order)."""
    for by_agency in withheld.values():
        for decisions in by_agency.values():
            decisions.sort(key=lambda w: (w.at, w.through))


def _withhold(
    withheld: dict[str, dict[str, list[Withholding]]],
    facts: dict[str, Event],
    event: Event,
    at: datetime,
) -> None:
    """Mark each fact a withholding names (and that is a fact by then) withheld from each
    agency it names."""
    p = event.payload
    decision = Withholding(
        event.agency, at, utc_text(at), event.event_id, p["reason"], p["explanation"]
    )
    for fact in _ids(p["facts"]):
        if fact not in facts:
            continue  # not a fact of this case by then (retracted, or an amendment)
        by_agency = withheld.setdefault(fact, {})
        for agency in p["withheld_from"]:
            by_agency.setdefault(agency, []).append(decision)


def _mark_acknowledgements(
    known: dict[str, dict[str, Knowing]], acks: dict[tuple[str, str], tuple[datetime, str]]
) -> None:
    """Set each cell's first acknowledgement, of the fact or of the event that conveyed it."""
    if not acks:
        return
    for fact, cells in known.items():
        for agency, knowing in cells.items():
            marks = [acks[k] for k in ((fact, agency), (knowing.through, agency)) if k in acks]
            if marks and knowing.via != "acknowledged":
                cells[agency] = Knowing(
                    knowing.since,
                    knowing.via,
                    knowing.through,
                    knowing.since_text,
                    min(marks)[1],
                    knowing.conveyed,
                )


def _conveys(event: Event) -> tuple[str, list[str], list[str]]:
    """(route, the agencies it reached, the facts it named) for a conveying event."""
    p = event.payload
    if event.type == "information.shared":
        return "shared", [p["to_agency"]], _ids(p["facts"])
    if event.type == "referral.made":
        return "referral", [p["to_agency"]], _ids(p.get("facts", []))
    if event.type == "meeting.held":
        return "meeting", list(p["attending_agencies"]), _ids(p.get("facts_tabled", []))
    if event.type == "alert.raised":
        return "alert", list(p["sent_to"]), _ids(p["evidence"])
    return "", [], []


def _ids(references: list[str]) -> list[str]:
    """Event ids as the ledger holds them (lower case), however the payload spelled them."""
    return [r.lower() for r in references]


def share_statistics(delays: Iterable[timedelta]) -> dict[str, Any]:
    """Count, median, p90 and max of delays, in days (nearest-rank p90)."""
    days = sorted(d.total_seconds() / 86400 for d in delays)
    if not days:
        return {"count": 0, "median_days": None, "p90_days": None, "max_days": None}
    return {
        "count": len(days),
        "median_days": round(statistics.median(days), 2),
        "p90_days": round(nearest_rank(days, 0.9), 2),
        "max_days": round(days[-1], 2),
    }


def time_to_share(
    per_case: Iterable[dict[tuple[str, str], list[timedelta]]],
) -> list[dict[str, Any]]:
    """Per pair of agencies (recorded by -> came to know), statistics over all the delays."""
    pooled: dict[tuple[str, str], list[timedelta]] = {}
    for delays in per_case:
        for pair, values in delays.items():
            pooled.setdefault(pair, []).extend(values)
    return [
        {"from_agency": source, "to_agency": target, **share_statistics(values)}
        for (source, target), values in sorted(pooled.items())
    ]


def _fact(event: Event, facts: dict[str, Event]) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "recorded_by_agency": event.agency,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "summary": summary(event, facts),
    }


def _text(moment: datetime) -> str:
    return utc_text(moment)


def _days(span: timedelta) -> float:
    return round(span.total_seconds() / 86400, 2)
