"""Synthetic background cases from a seeded generator, so lists, audits and benchmarks are not
trivial.

Pseudonymous (`CASE-B000001`...), deterministic for a seed (event ids are UUID5s), and shaped
like a children's social care front door rather than like noise: each case starts with a
referral to children's social care, decided within one working day in most cases (some a few
days late, a few not yet); most referrals that go on lead to a visit seeing the child within
days and an assessment, completed within 45 working days in most cases; some go to a strategy
discussion and meeting, an initial child protection conference (mostly within 15 working
days), a core group (mostly within 10) and a review; other agencies' contacts, injuries and
concerns fall in between; some cases close. Some entries are written up days late.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from projections.working_days import england_and_wales
from sgl.demo import child_a
from sgl.demo.agencies import AREA_A

_NAMESPACE = uuid.UUID("0e8f2b7c-5a41-4d0b-8c33-9e1f4a6d2b17")
_CSC = child_a.SOCIAL_CARE
_AGENCIES = (
    _CSC,
    child_a.POLICE,
    child_a.GP,
    child_a.HOSPITAL,
    child_a.HEALTH_VISITING,
    child_a.SCHOOL,
    child_a.FAMILY_CENTRE,
)
_ROLES = {
    _CSC: "social_worker",
    child_a.POLICE: "police_officer",
    child_a.GP: "gp",
    child_a.HOSPITAL: "paediatrician",
    child_a.HEALTH_VISITING: "health_visitor",
    child_a.SCHOOL: "designated_safeguarding_lead",
    child_a.FAMILY_CENTRE: "other",
}
_CONTACTS = ("home_visit", "office_visit", "phone", "school", "clinic", "gp_appointment")
_SEEN = ("seen_alone", "seen_with_others", "seen", "not_seen")
_START = datetime(2006, 1, 2, 9, tzinfo=UTC)
_DAYS = england_and_wales()
_MANAGER = {"id": "P-TM-0002", "role": "team_manager"}


def background_events(cases: int, seed: int = 2007) -> Iterator[dict[str, Any]]:
    """Every event of `cases` synthetic cases, case by case, oldest first within a case."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible demo data, not secrets
    for number in range(1, cases + 1):
        yield from _Case(rng, seed, f"CASE-B{number:06d}").events()


class _Case:
    """One synthetic case's events, made in any order and given out oldest first."""

    def __init__(self, rng: random.Random, seed: int, case_id: str) -> None:
        self.rng, self.seed, self.case_id = rng, seed, case_id
        self.made: list[dict[str, Any]] = []

    def event(
        self,
        kind: str,
        agency: str,
        at: datetime,
        payload: dict[str, Any],
        version: int = 1,
    ) -> None:
        """An event of the case, recorded the same day or a few days later."""
        rng = self.rng
        lag = timedelta(days=rng.choice((0, 0, 0, 1, 3, 7))) + timedelta(hours=rng.randrange(1, 6))
        role = _ROLES[agency]
        self.made.append(
            {
                "event_id": str(
                    uuid.uuid5(_NAMESPACE, f"{self.seed}/{self.case_id}/{len(self.made) + 1}")
                ),
                "type": kind,
                "schema_version": version,
                "case_id": self.case_id,
                "agency": agency,
                "recorded_by": {
                    "id": f"P-{role[:2].upper()}-{rng.randrange(1, 400):04d}",
                    "role": role,
                },
                "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "recorded_at": (at + lag).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "payload": payload,
            }
        )

    def working_day(self, after: datetime, days: int) -> datetime:
        """A time in office hours `days` working days after `after` (0: the same day, or the
        next working day if that is not one)."""
        day = _DAYS.add(after.date(), days)
        moment = datetime.combine(day, time(9 + self.rng.randrange(0, 8)), UTC)
        return max(moment, after + timedelta(minutes=30))

    def events(self) -> list[dict[str, Any]]:
        """The case's events, by when they happened."""
        rng = self.rng
        referred = self.working_day(_START + timedelta(days=rng.randrange(0, 540)), 0)
        source = rng.choice(_AGENCIES[1:])
        self.event(
            "referral.made",
            source,
            referred,
            {
                "from_agency": source,
                "to_agency": _CSC,
                "reason": "Concern about the child's welfare.",
            },
        )
        self.event(
            "case.opened",
            _CSC,
            referred + timedelta(minutes=20),
            {
                "date_of_birth": f"{rng.randrange(2000, 2006)}-0"
                f"{rng.randrange(1, 10)}-1{rng.randrange(0, 9)}",
                "lead_agency": _CSC,
                "responsible_area": AREA_A,
            },
            version=2,
        )
        end = self.front_door(referred)
        if end == referred:
            return self.made  # a referral just in: nothing else has happened yet
        self.others(referred)
        if rng.random() < 0.3:
            closed = end + timedelta(days=rng.randrange(1, 30))
            self.event(
                "case.closed",
                _CSC,
                closed,
                {
                    "reason": rng.choice(("RC7", "RC8", "RC9")),
                    "closed_on": closed.date().isoformat(),
                },
            )
        self.made.sort(key=lambda e: e["occurred_at"])
        return self.made

    def front_door(self, referred: datetime) -> datetime:
        """Children's social care's response: the referral decision, a visit seeing the child,
        an assessment and perhaps a child protection conference; when the last happened."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return referred  # just in, not decided yet
        delay = 0 if roll < 0.55 else 1 if roll < 0.88 else rng.randrange(2, 6)
        decided = self.working_day(referred, delay)
        proceed = rng.random() < 0.6
        self.decision("referral_outcome", "proceed" if proceed else "decline", decided)
        if not proceed:
            return decided
        seen = self.working_day(decided, rng.choice((0, 1, 1, 2, 3, 5, 8)))
        self.event(
            "contact.recorded",
            _CSC,
            seen,
            {
                "contact_type": "home_visit",
                "child_seen": "yes",
                "seen_alone": rng.choice(("yes", "no")),
            },
            version=3,
        )
        assessment = f"ASM-{self.case_id[-6:]}-1"
        started = self.working_day(decided, rng.randrange(0, 3))
        self.event(
            "assessment.started",
            _CSC,
            started,
            {"assessment_id": assessment, "assessment_type": "single_assessment"},
        )
        roll = rng.random()
        if roll < 0.05:
            return started  # still under way
        length = rng.randrange(10, 46) if roll < 0.9 else rng.randrange(46, 70)
        completed = self.working_day(referred, length)
        protection = rng.random() < 0.25
        self.event(
            "assessment.completed",
            _CSC,
            completed,
            {
                "assessment_id": assessment,
                "outcome": "child_protection_conference"
                if protection
                else rng.choice(("no_further_action", "early_help", "child_in_need_plan")),
            },
        )
        return self.conferences(started) if protection else completed

    def conferences(self, after: datetime) -> datetime:
        """Strategy discussion and meeting, initial conference, first core group and first
        review."""
        rng = self.rng
        strategy = self.working_day(after, rng.randrange(1, 10))
        self.meeting("strategy_discussion", strategy, 1)
        meeting = self.working_day(
            strategy, rng.randrange(6, 9) if rng.random() < 0.12 else rng.randrange(1, 6)
        )
        self.meeting("strategy_meeting", meeting, 5)
        late = rng.random() < 0.15
        conference = self.working_day(
            strategy, rng.randrange(16, 25) if late else rng.randrange(8, 16)
        )
        self.meeting("initial_cp_conference", conference, 2)
        core = self.working_day(
            conference, rng.randrange(11, 16) if rng.random() < 0.1 else rng.randrange(3, 11)
        )
        self.meeting("core_group", core, 3)
        review = conference + timedelta(days=rng.randrange(70, 92))
        self.meeting("review_cp_conference", self.working_day(review, 0), 4)
        return review

    def decision(self, kind: str, outcome: str, at: datetime) -> None:
        """A decision of children's social care's team manager."""
        payload = {"decision_type": kind, "outcome": outcome, "decided_by": _MANAGER}
        self.event("decision.recorded", _CSC, at, payload)

    def meeting(self, kind: str, at: datetime, number: int) -> None:
        """A multi-agency meeting children's social care held, the police attending."""
        agencies = [_CSC, child_a.POLICE, self.rng.choice(_AGENCIES[2:])]
        self.event(
            "meeting.held",
            _CSC,
            at,
            {
                "meeting_id": f"MTG-{self.case_id[-6:]}-{number}",
                "meeting_type": kind,
                "invited_agencies": agencies,
                "attending_agencies": agencies[:2],
            },
        )

    def others(self, start: datetime) -> None:
        """Other agencies' contacts, injuries and concerns over the life of the case."""
        rng = self.rng
        moment = start
        for _ in range(rng.randrange(2, 25)):
            moment += timedelta(days=rng.randrange(1, 21))
            agency = rng.choice(_AGENCIES[1:])
            roll = rng.random()
            if roll < 0.65:
                self.event(
                    "contact.recorded",
                    agency,
                    moment,
                    {"contact_type": rng.choice(_CONTACTS), "child_seen": rng.choice(_SEEN)},
                    version=2,
                )
            elif roll < 0.85:
                nai = rng.random() < 0.2
                self.event(
                    "injury.observed",
                    agency,
                    moment,
                    {
                        "body_region": rng.choice(
                            ("face", "arm_left", "leg_right", "back", "head")
                        ),
                        "injury_type": rng.choice(("bruise", "abrasion", "scratch")),
                        "count": rng.randrange(1, 4),
                        "explanation_given": "fell while playing",
                        "explanation_consistent": not nai,
                        "suspected_non_accidental": nai,
                    },
                )
            else:
                self.event(
                    "concern.raised",
                    agency,
                    moment,
                    {
                        "category": rng.choice(("NEG", "PHY", "EMO", "SAB", "MUL")),
                        "severity": rng.choice(("low", "medium", "high")),
                        "description": "Worry recorded by the practitioner.",
                    },
                )
