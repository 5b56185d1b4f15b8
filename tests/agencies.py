"""The example agencies (docs/examples/agencies.json) and registering agencies in tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson

from ledger.append import Ledger
from sgl.bootstrap import Container
from sgl.registry import registration

_IDS = uuid.UUID("3b0f6a2e-8d4c-4e1f-a7b9-0c2d4e6f8a10")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_AGENCIES: list[dict[str, Any]] = orjson.loads(
    (ROOT / "docs" / "examples" / "agencies.json").read_bytes()
)
EXAMPLE_IDS = tuple(a["agency_id"] for a in EXAMPLE_AGENCIES)
# Registered before any date the tests record events at, so names resolve as of any of them.
REGISTERED_AT = "2000-01-01T00:00:00Z"
# Agency ids the tests of today's clock and rule policies use, because the policies name
# them, with their kinds.
KINDS = {
    "la-childrens-social-care": "childrens_social_care",
    "la-legal-services": "legal",
    "met-police": "police",
    "police-north": "police",
    "gp-practice-east": "gp",
    "nhs-gp-north": "gp",
    "nhs-hospital-north": "hospital",
    "school-north-primary": "education",
}


def agency(agency_id: str) -> dict[str, Any]:
    """A registry payload for an agency a test names (kind `other` unless in KINDS)."""
    return {
        "agency_id": agency_id,
        "name": f"Test {agency_id}",
        "kind": KINDS.get(agency_id, "other"),
        "statutory": True,
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
