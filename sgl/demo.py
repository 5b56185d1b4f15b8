"""A small, deterministic demo case, appended through the same path as any adapter.

Pseudonymous throughout. Event ids are UUID5s of a fixed namespace, so loading twice adds
nothing. The full "Child A" case of DOMAIN.md section 8 grows from this (issue 4).
"""

from __future__ import annotations

import uuid
from typing import Any

from ledger.append import Ledger
from ledger.log import Receipt

DEMO_CASE = "CASE-A0001"
_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4f7b-9a0e-5b2d7c4e1a90")
_SC = "la-childrens-social-care"


def _event(
    n: int,
    kind: str,
    agency: str,
    who: tuple[str, str],
    occurred: str,
    recorded: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{DEMO_CASE}/{n}")),
        "type": kind,
        "schema_version": 1,
        "case_id": DEMO_CASE,
        "agency": agency,
        "recorded_by": {"id": who[0], "role": who[1]},
        "occurred_at": occurred,
        "recorded_at": recorded,
        "payload": payload,
    }


SW = ("P-SW-0001", "social_worker")
PAED = ("P-PAED-0003", "paediatrician")
GP = ("P-GP-0007", "gp")
LAW = ("P-LAW-0002", "lawyer")


def _injury(
    region: str, kind: str, explanation: str, consistent: bool | None, nai: bool
) -> dict[str, Any]:
    return {
        "body_region": region,
        "injury_type": kind,
        "count": 1,
        "explanation_given": explanation,
        "explanation_consistent": consistent,
        "suspected_non_accidental": nai,
    }


def demo_events() -> list[dict[str, Any]]:
    """The demo case's events, oldest first."""
    return [
        _event(
            1,
            "case.opened",
            _SC,
            SW,
            "2006-12-11T09:00:00Z",
            "2006-12-11T17:00:00Z",
            {
                "date_of_birth": "2006-03-01",
                "lead_agency": _SC,
                "referral_source": "3E",
                "primary_need": "N1",
            },
        ),
        _event(
            2,
            "injury.observed",
            "nhs-hospital-north",
            PAED,
            "2006-12-11T14:20:00Z",
            "2006-12-11T18:05:00Z",
            _injury("face", "bruise", "bruised easily", False, True),
        ),
        _event(
            3,
            "contact.recorded",
            "gp-practice-east",
            GP,
            "2007-01-09T10:00:00Z",
            "2007-01-09T12:00:00Z",
            {"contact_type": "gp_appointment", "child_seen": True, "child_seen_alone": False},
        ),
        _event(
            4,
            "injury.observed",
            "gp-practice-east",
            GP,
            "2007-01-09T10:00:00Z",
            "2007-01-09T12:00:00Z",
            _injury("scalp", "swelling", "fell down the stairs", None, False),
        ),
        _event(
            5,
            "contact.recorded",
            _SC,
            SW,
            "2007-04-11T15:00:00Z",
            "2007-04-19T10:00:00Z",
            {"contact_type": "home_visit", "child_seen": True, "child_seen_alone": False},
        ),
        _event(
            6,
            "injury.observed",
            "nhs-hospital-north",
            PAED,
            "2007-04-11T19:30:00Z",
            "2007-04-12T09:00:00Z",
            _injury("head", "bruise", "pushed against a fireplace by another child", False, True),
        ),
        _event(
            7,
            "contact.recorded",
            _SC,
            SW,
            "2007-06-04T11:00:00Z",
            "2007-06-04T16:00:00Z",
            {"contact_type": "office_visit", "child_seen": False},
        ),
        _event(
            8,
            "decision.recorded",
            "la-legal-services",
            LAW,
            "2007-07-25T10:00:00Z",
            "2007-07-25T15:40:00Z",
            {
                "decision_type": "threshold_care_proceedings",
                "outcome": "not_at_present",
                "decided_by": {"id": LAW[0], "role": LAW[1]},
                "rationale": "Threshold for care proceedings not at present met.",
            },
        ),
    ]


def load_demo(ledger: Ledger) -> list[Receipt]:
    """Append the demo case; events already present come back as duplicates."""
    return ledger.submit(demo_events())
