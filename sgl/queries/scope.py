"""Need to know: what a practitioner may see of a case, as the events its agency knew.

A practitioner reads for one agency, and sees of a case only what that agency knew, as of
when it knew it. For a case, an agency and a moment (on a basis), the events it may see are:

- every event the agency recorded itself, known by the moment (its own facts, shares,
  acknowledgements, answers, corrections and retractions);
- every fact of the case that reached it by the moment on another agency's word
  (`projections.knowledge.told`, on that basis): shared with it, referred to it, tabled at a
  meeting it attended, or named as evidence in an alert sent to it, by a share, referral,
  meeting or alert another agency recorded (the ledger raises alerts), when that agency knew
  the fact so by then; the share, referral, meeting or alert itself is such a fact;
- a correction recorded by another agency of such a fact, only when it was recorded by the
  time the agency came to know the fact (what it was told was the fact as then corrected).

Nothing else: not what the agency says reached it (its own record of a share or referral
to it, a meeting it attended, or its acknowledgement unlocks nothing: the who-knew view
reports such accounts, need to know does not take them as telling), not what another agency
says it conveyed without knowing it by then, not a later correction by another agency (it
was never told), not another agency's retraction (a fact retracted by the moment is no
longer a fact of the case, so it has reached nobody but its recorder, who sees its own
retraction), not another agency's acknowledgement or decision not to share (it conveys
nothing), and nothing recorded or appended after the moment. The case is visible to the
agency at the moment exactly when that set is not empty: it recorded something in the case
(an involvement it opened, a contact, a share...) or a fact of the case reached it.
Otherwise every read answers as for a case that does not exist.

Every case read is then the same query run over these events: state, history, chronology,
changes, sightings, clocks, the rules' findings and the agency's own knowledge are what the
agency's own records and what reached it make of the case. Reads that compare agencies or
pool the ledger (the knowledge matrix, gaps, time to share, audit, latency, ledger-wide
alerts) cannot be answered from one agency's knowledge: a practitioner is refused them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.envelope import Event, parse_instant
from ledger.errors import Problem
from projections.as_of import Basis, known_by
from projections.effective import CORRECTION
from projections.knowledge import told
from sgl.queries.errors import Forbidden
from sgl.queries.stores import Stores


@dataclass(frozen=True, slots=True)
class Viewer:
    """A reader who sees only what one agency knew: a practitioner of that agency (or, for
    proofs, a publisher); an admin (`cases` false) sees no case's events at all."""

    agency: str
    cases: bool = True


def visible(events: Sequence[Event], agency: str, moment: datetime, basis: Basis) -> list[Event]:
    """The case's events the agency knew by the moment (see the module), in log order; empty
    when the case was nothing to it by then."""
    known = known_by(events, moment, basis)
    if not known:
        return []
    known_ids = {e.event_id for e in known}
    since = {
        fact: cells[agency]
        for fact, cells in told(events, moment, basis).items()
        if agency in cells and cells[agency] <= moment
    }
    return [
        e
        for e in events
        if e.event_id in known_ids
        and (e.agency == agency or e.event_id in since or _told_with(e, since))
    ]


def _told_with(event: Event, since: dict[str, datetime]) -> bool:
    """Whether the event is a correction of a fact the agency knew, recorded by the time it
    came to know that fact."""
    target = event.amends
    return (
        event.type == CORRECTION
        and target is not None
        and target in since
        and parse_instant(event.recorded_at) <= since[target]
    )


def involved(stores: Stores, case_id: str, viewer: Viewer) -> bool:
    """Whether the viewer's agency is or was involved in the case by now: it recorded an event
    in it, or a fact of it reached it (who may read the case's access log)."""
    found = visible(stores.view.events(case_id), viewer.agency, datetime.now(UTC), "recorded")
    return bool(found)


def case_events_of(
    events: Sequence[Event], viewer: Viewer | None, moment: datetime, basis: Basis
) -> list[Event]:
    """The case's events as the viewer may see them at the moment: all of them for a reader
    who sees everything."""
    if viewer is None:
        return list(events)
    return visible(events, viewer.agency, moment, basis)


def refuse(viewer: Viewer | None, what: str) -> None:
    """Refuse a read one agency's knowledge cannot answer (Forbidden) to a practitioner."""
    if viewer is not None:
        raise Forbidden(
            f"{what} is not answered to a practitioner: it reaches beyond what one agency knew",
            [Problem("/role", "need-to-know", "inquiry and auditor roles only")],
        )


def own_agency(viewer: Viewer | None, agency: str | None) -> str | None:
    """The agency a knowledge read is about: a practitioner's own (the default), never
    another's (Forbidden)."""
    if viewer is None:
        return agency
    if agency is not None and agency != viewer.agency:
        raise Forbidden(
            "a practitioner reads its own agency's knowledge only",
            [Problem("/agency", "own-agency", f"must be {viewer.agency!r} or left out")],
        )
    return viewer.agency
