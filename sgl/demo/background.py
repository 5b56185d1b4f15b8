"""Synthetic background cases from a seeded generator, so lists and benchmarks are not trivial.

Pseudonymous (`CASE-B000001`...), deterministic for a seed (event ids are UUID5s), with a
realistic mix: most cases are a referral, a few contacts and a decision; some have injuries,
concerns, shared information and a closure; some entries are written up days late.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

_NAMESPACE = uuid.UUID("0e8f2b7c-5a41-4d0b-8c33-9e1f4a6d2b17")
_AGENCIES = (
    "la-childrens-social-care",
    "met-police",
    "gp-practice-east",
    "nhs-hospital-north",
    "health-visiting-service",
    "school-north-primary",
    "family-centre-north",
)
_ROLES = {
    "la-childrens-social-care": "social_worker",
    "met-police": "police_officer",
    "gp-practice-east": "gp",
    "nhs-hospital-north": "paediatrician",
    "health-visiting-service": "health_visitor",
    "school-north-primary": "designated_safeguarding_lead",
    "family-centre-north": "other",
}
_CONTACTS = ("home_visit", "office_visit", "phone", "school", "clinic", "gp_appointment")
_SEEN = ("seen_alone", "seen_with_others", "seen", "not_seen")
_START = datetime(2006, 1, 2, 9, tzinfo=UTC)


def background_events(cases: int, seed: int = 2007) -> Iterator[dict[str, Any]]:
    """Every event of `cases` synthetic cases, case by case, oldest first within a case."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible demo data, not secrets
    for number in range(1, cases + 1):
        yield from _case(rng, seed, f"CASE-B{number:06d}")


def _case(rng: random.Random, seed: int, case_id: str) -> Iterator[dict[str, Any]]:
    moment = _START + timedelta(days=rng.randrange(0, 540), hours=rng.randrange(0, 8))
    lead = "la-childrens-social-care"
    count = 0

    def event(kind: str, agency: str, payload: dict[str, Any], version: int = 1) -> dict[str, Any]:
        nonlocal count
        count += 1
        lag = timedelta(days=rng.choice((0, 0, 0, 1, 3, 7))) + timedelta(hours=rng.randrange(1, 6))
        role = _ROLES[agency]
        return {
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{seed}/{case_id}/{count}")),
            "type": kind,
            "schema_version": version,
            "case_id": case_id,
            "agency": agency,
            "recorded_by": {
                "id": f"P-{role[:2].upper()}-{rng.randrange(1, 400):04d}",
                "role": role,
            },
            "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "recorded_at": (moment + lag).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "payload": payload,
        }

    source = rng.choice(_AGENCIES[1:])
    yield event(
        "referral.made",
        source,
        {"from_agency": source, "to_agency": lead, "reason": "Concern about the child's welfare."},
    )
    yield event(
        "case.opened",
        lead,
        {
            "date_of_birth": f"{rng.randrange(2000, 2006)}-0"
            f"{rng.randrange(1, 10)}-1{rng.randrange(0, 9)}",
            "lead_agency": lead,
        },
    )
    for _ in range(rng.randrange(2, 25)):
        moment += timedelta(days=rng.randrange(1, 21))
        agency = rng.choice(_AGENCIES)
        roll = rng.random()
        if roll < 0.6:
            yield event(
                "contact.recorded",
                agency,
                {"contact_type": rng.choice(_CONTACTS), "child_seen": rng.choice(_SEEN)},
                version=2,
            )
        elif roll < 0.75:
            nai = rng.random() < 0.2
            yield event(
                "injury.observed",
                agency,
                {
                    "body_region": rng.choice(("face", "arm_left", "leg_right", "back", "head")),
                    "injury_type": rng.choice(("bruise", "abrasion", "scratch")),
                    "count": rng.randrange(1, 4),
                    "explanation_given": "fell while playing",
                    "explanation_consistent": not nai,
                    "suspected_non_accidental": nai,
                },
            )
        elif roll < 0.85:
            yield event(
                "concern.raised",
                agency,
                {
                    "category": rng.choice(("NEG", "PHY", "EMO", "SAB", "MUL")),
                    "severity": rng.choice(("low", "medium", "high")),
                    "description": "Worry recorded by the practitioner.",
                },
            )
        else:
            yield event(
                "decision.recorded",
                lead,
                {
                    "decision_type": rng.choice(
                        ("referral_outcome", "s47_enquiry", "no_further_action")
                    ),
                    "outcome": rng.choice(("proceed", "decline")),
                    "decided_by": {"id": "P-TM-0002", "role": "team_manager"},
                },
            )
    if rng.random() < 0.3:
        moment += timedelta(days=rng.randrange(1, 30))
        yield event(
            "case.closed",
            lead,
            {"reason": rng.choice(("RC7", "RC8", "RC9")), "closed_on": moment.date().isoformat()},
        )
