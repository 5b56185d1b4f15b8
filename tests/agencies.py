"""Agency registries for tests: the example agencies (docs/examples/agencies.json) and the
demo's, registered through the append path or folded into an in-memory table, with kinds."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.append import Ledger
from ledger.envelope import Event
from projections.agencies import REGISTRY_CASE, AgencyTable
from sgl.bootstrap import Container
from sgl.registry import registration

_IDS = uuid.UUID("3b0f6a2e-8d4c-4e1f-a7b9-0c2d4e6f8a10")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_AGENCIES: list[dict[str, Any]] = orjson.loads(
    (ROOT / "docs" / "examples" / "agencies.json").read_bytes()
)
EXAMPLE_IDS = tuple(a["agency_id"] for a in EXAMPLE_AGENCIES)
EXAMPLE_KINDS: Mapping[str, str] = {a["agency_id"]: a["kind"] for a in EXAMPLE_AGENCIES}
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
# Agency ids tests name, with their kinds: Child A's, and two more of known kinds.
KINDS: Mapping[str, str] = {**CHILD_A_KINDS, "police-north": "police", "nhs-gp-north": "gp"}
# Registered before any date the tests record events at, so names resolve as of any of them.
REGISTERED_AT = "2000-01-01T00:00:00Z"
NON_STATUTORY = ("voluntary", "faith", "other")


def agency(agency_id: str) -> dict[str, Any]:
    """A registry payload for an agency a test names (kind `other` unless in KINDS)."""
    kind = KINDS.get(agency_id, "other")
    return {
        "agency_id": agency_id,
        "name": f"Test {agency_id}",
        "kind": kind,
        "statutory": kind not in NON_STATUTORY,
    }


# What the test fixtures register, in one batch.
TEST_AGENCIES = [*EXAMPLE_AGENCIES, *(agency(a) for a in KINDS)]


def registrations(payloads: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """`agency.registered` events for these payloads (default: TEST_AGENCIES), with event ids
    of their own (the demo registers some of the same agencies, with other content)."""
    return [
        {**registration(p, REGISTERED_AT), "event_id": str(uuid.uuid5(_IDS, p["agency_id"]))}
        for p in payloads or TEST_AGENCIES
    ]


def register(ledger: Ledger, *agency_ids: str) -> None:
    """Register agencies a test names through the append path (again: nothing new)."""
    ledger.submit(registrations([agency(a) for a in agency_ids]))


def with_agencies(container: Container, *agency_ids: str) -> Container:
    """The container with TEST_AGENCIES and these registered."""
    container.ledger.submit(registrations())
    if agency_ids:
        register(container.ledger, *agency_ids)
    return container


def registration_event(agency_id: str, kind: str, at: str = REGISTERED_AT) -> Event:
    """An `agency.registered` event as the registry folds it (no log needed)."""
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
            "statutory": kind not in NON_STATUTORY,
        },
        partition=0,
        offset=0,
        appended_at=datetime(2000, 1, 1, tzinfo=UTC),
    )


def update_event(agency_id: str, at: str, **changes: Any) -> Event:
    """An `agency.updated` event as the registry folds it (no log needed)."""
    return registration_event(agency_id, "other", at)._replace(
        event_id=f"upd-{agency_id}-{at}",
        type="agency.updated",
        payload={"agency_id": agency_id, **changes},
    )


def registry(*kinds: Mapping[str, str], at: str = REGISTERED_AT) -> AgencyTable:
    """A registry of these agencies (default: Child A's and the examples'), registered at `at`."""
    table = AgencyTable()
    for mapping in kinds or (CHILD_A_KINDS, EXAMPLE_KINDS):
        for agency_id, kind in mapping.items():
            table.apply(registration_event(agency_id, kind, at))
    return table


AGENCIES = registry()


def one_of_kind(kind: str) -> str:
    """A Child A agency of the kind."""
    return next(a for a, k in CHILD_A_KINDS.items() if k == kind)
