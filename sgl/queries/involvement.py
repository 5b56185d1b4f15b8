"""Who is involved with a child and who last saw them, joined with the registry as of a date."""

from __future__ import annotations

from projections.agencies import AgencyLookup
from projections.as_of import Basis
from projections.sightings import sightings
from sgl.queries.cases import case, registry_moment
from sgl.queries.common import Document, header, moment_of
from sgl.queries.scope import Viewer
from sgl.queries.stores import Stores


def case_sightings(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    agencies: AgencyLookup | None = None,
    viewer: Viewer | None = None,
) -> Document:
    """When each agency, and each source, last saw the child by `as_of` (default now), the
    latest sighting by a statutory agency, and whole days since it."""
    moment = moment_of(as_of)
    state = case(stores, case_id, as_of, basis, viewer)
    registry = stores.agencies if agencies is None else agencies
    found = sightings(state, registry, moment, registry_moment(as_of))
    return {**header(case_id, as_of, basis), **found}
