"""The agency registry as the queries read it.

The registry's events are recorded on the reserved case `REGISTRY_CASE`; folded here from the
case view's copy of them. This is the one place a query gets its AgencyLookup.
"""

from __future__ import annotations

from projections.agencies import REGISTRY_CASE, AgencyLookup, AgencyTable
from projections.effective import effective_events
from sgl.queries.stores import Stores


def agency_lookup(stores: Stores) -> AgencyLookup:
    """Every agency's record over time, from the registry's events (as amended)."""
    return AgencyTable(effective_events(stores.view.events(REGISTRY_CASE)))
