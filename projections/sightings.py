"""Involvement and sightings joined with the agency registry at one moment (pure).

The case state knows agencies by id only; whether an agency is statutory, its kind and its name
are the registry's, read as of the same moment as the case.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from ledger.envelope import parse_instant
from projections.agencies import AgencyLookup
from projections.case_state import CaseState

DAY_SECONDS = 86400


def registry_facts(agencies: AgencyLookup, agency_id: str, as_of: str | None) -> dict[str, Any]:
    """The agency's name, kind and whether statutory as registered then; None for each when it
    was not registered then."""
    record = agencies.record(agency_id, as_of)
    if record is None:
        return {"name": None, "kind": None, "statutory": None}
    return {"name": record.name, "kind": record.kind, "statutory": record.statutory}


def any_statutory_involvement_open(
    state: CaseState, agencies: AgencyLookup, as_of: str | None
) -> bool:
    """Whether an agency registered as statutory then has an open involvement."""
    return any(
        i.open and registry_facts(agencies, i.agency, as_of)["statutory"] is True
        for i in state.involvements
    )


def sightings(
    state: CaseState, agencies: AgencyLookup, moment: datetime, as_of: str | None
) -> dict[str, Any]:
    """Who last saw the child, by agency and by source, and whole days since any statutory
    agency did (counted to `moment`; None when none has)."""
    by_agency = [
        {**asdict(s), **registry_facts(agencies, s.agency, as_of)}
        for s in state.sightings.by_agency
    ]
    statutory = [s for s in by_agency if s["statutory"] is True]
    # The latest sighting; on the same instant, the first agency by id.
    last = max(statutory, key=lambda s: parse_instant(s["last_seen_at"]), default=None)
    days = None
    if last is not None:
        elapsed = (moment - parse_instant(last["last_seen_at"])).total_seconds()
        days = max(0, int(elapsed // DAY_SECONDS))
    return {
        "last_seen_by_statutory_agency": last,
        "days_unseen": days,
        "by_agency": by_agency,
        "by_non_statutory_agency": [s for s in by_agency if s["statutory"] is False],
        "by_unregistered_agency": [s for s in by_agency if s["statutory"] is None],
        "by_source": [asdict(s) for s in state.sightings.by_source],
    }
