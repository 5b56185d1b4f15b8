"""Agency registries for tests: the demo's agencies and the example agencies, with kinds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ledger.envelope import Event
from projections.agencies import REGISTRY_CASE, AgencyTable

# The demo case Child A's agencies, with the kinds the policies read. The family centre is a
# council-run children's centre: an early years service, not a voluntary one.
CHILD_A_KINDS: Mapping[str, str] = {
    "la-childrens-social-care": "childrens_social_care",
    "met-police": "police",
    "gp-practice-east": "gp",
    "nhs-hospital-north": "hospital",
    "nhs-hospital-south": "hospital",
    "nhs-child-development-centre": "hospital",
    "health-visiting-service": "community_health",
    "school-north-primary": "education",
    "family-centre-north": "early_years",
    "la-legal-services": "legal",
    "housing-north": "housing",
}
# The example agencies of the schema examples and the docs.
EXAMPLE_KINDS: Mapping[str, str] = {
    "example-childrens-social-care": "childrens_social_care",
    "example-police": "police",
    "example-hospital": "hospital",
    "example-gp": "gp",
    "example-health-visiting": "community_health",
    "example-school": "education",
    "example-legal": "legal",
    "example-housing": "housing",
    "example-voluntary": "voluntary",
    "example-faith": "faith",
    "example-social-care-east": "childrens_social_care",
}
REGISTERED_AT = "2000-01-01T00:00:00Z"


def registration(agency_id: str, kind: str, at: str = REGISTERED_AT) -> Event:
    """An `agency.registered` event as the registry folds it."""
    return Event(
        event_id=f"reg-{agency_id}-{at}",
        type="agency.registered",
        schema_version=1,
        case_id=REGISTRY_CASE,
        agency=agency_id,
        recorded_by={"id": "P-REG-0001", "role": "other"},
        occurred_at=at,
        recorded_at=at,
        payload={
            "agency_id": agency_id,
            "name": agency_id.replace("-", " ").title(),
            "kind": kind,
            "statutory": kind not in ("voluntary", "faith", "other"),
        },
        partition=0,
        offset=0,
        appended_at=datetime(2000, 1, 1, tzinfo=UTC),
    )


def registry(*kinds: Mapping[str, str], at: str = REGISTERED_AT) -> AgencyTable:
    """A registry of these agencies (default: Child A's and the examples'), registered at `at`."""
    table = AgencyTable()
    for mapping in kinds or (CHILD_A_KINDS, EXAMPLE_KINDS):
        for agency_id, kind in mapping.items():
            table.apply(registration(agency_id, kind, at))
    return table


AGENCIES = registry()


def one_of_kind(kind: str) -> str:
    """A Child A agency of the kind."""
    return next(a for a, k in CHILD_A_KINDS.items() if k == kind)
