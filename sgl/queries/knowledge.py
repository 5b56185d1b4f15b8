"""Who knew what, and when: a case's facts by agency as of a date, and time to share."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.as_of import Basis
from projections.knowledge import Knowledge, knowledge, time_to_share
from sgl.queries.agencies import registered
from sgl.queries.common import Document, case_events, header, moment_of
from sgl.queries.errors import AgencyRequired, NoSuchCase, UnknownAgency
from sgl.queries.scope import Viewer, own_agency, refuse
from sgl.queries.stores import Stores


def _known(
    stores: Stores, case_id: str, as_of: str | None, basis: Basis, viewer: Viewer | None = None
) -> Knowledge:
    moment = moment_of(as_of)
    found = knowledge(case_events(stores, case_id, viewer, moment, basis), moment, basis)
    if not found.facts:
        raise NoSuchCase(case_id, by_then=True)
    return found


def _agencies_ever(stores: Stores, case_id: str) -> tuple[str, ...]:
    """Every agency the case names at any time: one that only joined later knew nothing by
    an earlier date (an answer), while one the case never names is a mistake (a refusal)."""
    return knowledge(
        stores.view.events(case_id), datetime.max.replace(tzinfo=UTC), "appended"
    ).agencies


def _known_to(
    stores: Stores,
    case_id: str,
    agency: str | None,
    as_of: str | None,
    basis: Basis,
    viewer: Viewer | None = None,
) -> tuple[Knowledge, str]:
    agency = own_agency(viewer, agency)
    if agency is not None:
        registered(stores, [agency])
    found = _known(stores, case_id, as_of, basis, viewer)
    chosen = agency or found.lead_agency
    if chosen is None:
        raise AgencyRequired
    # A viewer's own agency is always a fair question: what it did not know is an answer.
    if chosen not in found.agencies and viewer is None:
        ever = _agencies_ever(stores, case_id)
        if chosen not in ever:
            raise UnknownAgency(chosen, ever)
    return found, chosen


def agency_knowledge(
    stores: Stores,
    case_id: str,
    agency: str | None = None,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Every fact the agency (default the lead agency; a viewer's own) knew by `as_of`: since
    when, through which event, whether acknowledged."""
    found, chosen = _known_to(stores, case_id, agency, as_of, basis, viewer)
    return {**header(case_id, as_of, basis), "agency": chosen, "facts": found.of_agency(chosen)}


def matrix(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """For each fact, each agency that knew it by `as_of`, since when and how (refused to a
    viewer)."""
    refuse(viewer, "the knowledge matrix")
    found = _known(stores, case_id, as_of, basis)
    return {**header(case_id, as_of, basis), **found.matrix()}


def gaps(
    stores: Stores,
    case_id: str,
    agency: str | None = None,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Facts known elsewhere but not to the agency by `as_of`, and household adults it never
    recorded itself, each with how long it had been known elsewhere (refused to a viewer)."""
    refuse(viewer, "the knowledge gaps")
    found, chosen = _known_to(stores, case_id, agency, as_of, basis)
    return {
        **header(case_id, as_of, basis),
        "agency": chosen,
        "facts": found.gaps(chosen),
        "people": found.people_gaps(chosen),
    }


def case_time_to_share(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Per (recording agency, receiving agency) in one case: count, median, p90, max days
    (refused to a viewer)."""
    refuse(viewer, "time to share")
    found = _known(stores, case_id, as_of, basis)
    return {**header(case_id, as_of, basis), "pairs": time_to_share([found.delays()])}


def ledger_time_to_share(
    stores: Stores,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """The time-to-share statistics pooled over every case in the ledger (refused to a
    viewer)."""
    refuse(viewer, "time to share")
    moment, view = moment_of(as_of), stores.view
    pairs = time_to_share(
        knowledge(view.events(c), moment, basis).delays() for c in view.all_case_ids()
    )
    return {**header(None, as_of, basis), "pairs": pairs}
