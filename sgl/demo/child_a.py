"""The demo case "Child A" (docs/demo.md): fictional, anonymised, from the public record.

A boy born in spring 2006, known to eleven agencies, on a child protection plan from December
2006; about sixty contacts and more than fifty injury observations with the explanations given;
a mother's partner known to the police and never identified by social care; a lodger; a
sibling slapped outside school, seen by a social worker and never reported to the police; a
legal planning meeting requested seven weeks before it met on 25 July 2007 and found the
threshold for care proceedings "not at present" met. Every id is pseudonymous and every event
id a UUID5 of its place in the script, so loading it twice adds nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sgl.demo.script import Script

CASE = "CASE-A0001"
_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4f7b-9a0e-5b2d7c4e1a90")

SOCIAL_CARE = "la-childrens-social-care"
POLICE = "met-police"
GP = "gp-practice-east"
HOSPITAL = "nhs-hospital-north"
HOSPITAL_2 = "nhs-hospital-south"
PAEDIATRICS = "nhs-child-development-centre"
HEALTH_VISITING = "health-visiting-service"
SCHOOL = "school-north-primary"
FAMILY_CENTRE = "family-centre-north"
LEGAL = "la-legal-services"
HOUSING = "housing-north"
AGENCIES = (
    SOCIAL_CARE,
    POLICE,
    GP,
    HOSPITAL,
    HOSPITAL_2,
    PAEDIATRICS,
    HEALTH_VISITING,
    SCHOOL,
    FAMILY_CENTRE,
    LEGAL,
    HOUSING,
)
SW = {"id": "P-SW-0001", "role": "social_worker"}
TM = {"id": "P-TM-0002", "role": "team_manager"}
PC = {"id": "P-PC-0005", "role": "police_officer"}
DR = {"id": "P-GP-0007", "role": "gp"}
PAED = {"id": "P-PAED-0003", "role": "paediatrician"}
HV = {"id": "P-HV-0008", "role": "health_visitor"}
DSL = {"id": "P-DSL-0004", "role": "designated_safeguarding_lead"}
FC = {"id": "P-FC-0009", "role": "other"}
LAW = {"id": "P-LAW-0010", "role": "lawyer"}
HO = {"id": "P-HO-0011", "role": "housing_officer"}
NURSE = {"id": "P-RN-0012", "role": "nurse"}

MOTHER, PARTNER, LODGER = "PER-A-MOTHER", "PER-A-PARTNER", "PER-A-LODGER"
FATHER, SIBLING_1, SIBLING_2 = "PER-A-FATHER", "PER-A-SIB1", "PER-A-SIB2"
LEGAL_MEETING = "MTG-A-LEGAL"
LEGAL_REQUESTED = "2007-06-06"
LEGAL_HELD = "2007-07-25"

EXPLANATIONS = (
    "bruised easily",
    "fell down the stairs",
    "pushed against a fireplace by another child",
    "fell while playing with siblings",
    "bumped head on a table",
)
REGIONS = ("face", "forehead", "ear", "chest", "back", "scalp", "arm_left", "leg_right", "head")


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _contact(
    s: Script,
    agency: str,
    who: dict[str, str],
    day: str,
    kind: str,
    seen: str,
    summary: str,
    lag_days: float = 0.2,
) -> str:
    return s.add(
        "contact.recorded",
        agency,
        who,
        _at(day),
        {"contact_type": kind, "child_seen": seen, "summary": summary},
        lag=timedelta(days=lag_days),
        version=2,
    )


def _injury(
    s: Script,
    agency: str,
    who: dict[str, str],
    day: str,
    n: int,
    *,
    nai: bool,
    lag_days: float = 0.2,
) -> str:
    explanation = EXPLANATIONS[n % len(EXPLANATIONS)]
    return s.add(
        "injury.observed",
        agency,
        who,
        _at(day, 11),
        {
            "body_region": REGIONS[n % len(REGIONS)],
            "injury_type": "bruise" if n % 4 else "abrasion",
            "count": 1 + n % 3,
            "colour": ("purple", "yellow-green", "blue")[n % 3],
            "explanation_given": explanation,
            "explanation_consistent": False if nai else None,
            "suspected_non_accidental": nai,
        },
        lag=timedelta(days=lag_days),
    )


def child_a() -> list[dict[str, Any]]:
    """Every event of the Child A case, oldest first."""
    s = Script(CASE, _NAMESPACE, timedelta(hours=4))
    _opening(s)
    _household(s)
    _plan(s)
    _contacts_and_injuries(s)
    _sibling_slap(s)
    _legal(s)
    _death(s)
    return s.events


def _opening(s: Script) -> None:
    a_and_e = _contact(
        s,
        HOSPITAL,
        NURSE,
        "2006-12-11",
        "a_and_e",
        "seen_with_others",
        "Attendance with bruising to face and chest.",
    )
    first = _injury(s, HOSPITAL, PAED, "2006-12-11", 0, nai=True)
    s.add(
        "referral.made",
        HOSPITAL,
        PAED,
        _at("2006-12-11", 17),
        {
            "from_agency": HOSPITAL,
            "to_agency": SOCIAL_CARE,
            "referral_source": "3E",
            "reason": "Bruising not consistent with the explanation given.",
            "facts": [a_and_e, first],
        },
    )
    s.add(
        "case.opened",
        SOCIAL_CARE,
        SW,
        _at("2006-12-11", 18),
        {
            "date_of_birth": "2006-03-01",
            "lead_agency": SOCIAL_CARE,
            "referral_source": "3E",
            "primary_need": "N1",
        },
        lag=timedelta(hours=1),
    )
    s.add(
        "decision.recorded",
        SOCIAL_CARE,
        TM,
        _at("2006-12-12", 9),
        {
            "decision_type": "referral_outcome",
            "outcome": "proceed",
            "decided_by": TM,
            "rationale": "Strategy discussion to be held.",
            "rests_on": [first],
        },
    )
    s.add(
        "meeting.held",
        SOCIAL_CARE,
        TM,
        _at("2006-12-12", 14),
        {
            "meeting_id": "MTG-A-STRAT1",
            "meeting_type": "strategy_discussion",
            "invited_agencies": [SOCIAL_CARE, POLICE, HOSPITAL],
            "attending_agencies": [SOCIAL_CARE, POLICE, HOSPITAL],
            "facts_tabled": [first],
        },
        name="strategy",
    )
    s.add(
        "decision.recorded",
        SOCIAL_CARE,
        TM,
        _at("2006-12-12", 16),
        {
            "decision_type": "s47_enquiry",
            "outcome": "proceed",
            "decided_by": TM,
            "rests_on": [first],
        },
    )
    s.add(
        "decision.recorded",
        POLICE,
        PC,
        _at("2006-12-13"),
        {
            "decision_type": "police_investigation",
            "outcome": "proceed",
            "decided_by": PC,
            "rests_on": [first],
        },
    )


def _household(s: Script) -> None:
    s.add(
        "person.linked",
        SOCIAL_CARE,
        SW,
        _at("2006-12-13"),
        {
            "person_id": MOTHER,
            "role": "mother",
            "is_adult": True,
            "identity_verified": True,
            "source": "documents",
            "lives_in_household": True,
        },
    )
    for sibling in (SIBLING_1, SIBLING_2):
        s.add(
            "person.linked",
            SOCIAL_CARE,
            SW,
            _at("2006-12-13"),
            {
                "person_id": sibling,
                "role": "sibling",
                "is_adult": False,
                "identity_verified": True,
                "source": "agency_record",
                "lives_in_household": True,
            },
        )
    s.add(
        "person.linked",
        SOCIAL_CARE,
        SW,
        _at("2006-12-13"),
        {
            "person_id": FATHER,
            "role": "father",
            "is_adult": True,
            "identity_verified": True,
            "source": "agency_record",
            "lives_in_household": False,
        },
    )
    # The police know the partner; social care never links or verifies him.
    s.add(
        "person.linked",
        POLICE,
        PC,
        _at("2007-02-20"),
        {
            "person_id": PARTNER,
            "role": "partner_of_parent",
            "is_adult": True,
            "identity_verified": True,
            "source": "police_check",
            "lives_in_household": True,
        },
        name="partner_known_to_police",
    )
    s.add(
        "household.changed",
        POLICE,
        PC,
        _at("2007-02-20"),
        {
            "person_id": PARTNER,
            "change": "joined",
            "effective_from": "2006-11-01",
            "how_known": "agency_record",
        },
    )
    _contact(
        s,
        SOCIAL_CARE,
        SW,
        "2007-03-14",
        "phone",
        "not_seen",
        "Father reports that the mother's boyfriend is living at the address. Not followed up.",
        lag_days=6,
    )
    s.add(
        "household.changed",
        HOUSING,
        HO,
        _at("2007-06-18"),
        {
            "person_id": LODGER,
            "change": "joined",
            "effective_from": "2007-06-15",
            "how_known": "third_party",
        },
    )


def _plan(s: Script) -> None:
    conference = s.add(
        "meeting.held",
        SOCIAL_CARE,
        TM,
        _at("2006-12-22", 11),
        {
            "meeting_id": "MTG-A-ICPC",
            "meeting_type": "initial_cp_conference",
            "invited_agencies": [SOCIAL_CARE, POLICE, GP, PAEDIATRICS, HEALTH_VISITING, HOSPITAL],
            "attending_agencies": [SOCIAL_CARE, POLICE, HEALTH_VISITING, HOSPITAL],
            "facts_tabled": [s.events[1]["event_id"]],
        },
        lag=timedelta(days=3),
    )
    s.add(
        "decision.recorded",
        SOCIAL_CARE,
        TM,
        _at("2006-12-22", 13),
        {
            "decision_type": "cp_plan",
            "outcome": "proceed",
            "decided_by": TM,
            "rationale": "Child protection plan: physical abuse.",
            "rests_on": [conference],
        },
    )
    s.add(
        "plan.started",
        SOCIAL_CARE,
        TM,
        _at("2006-12-22", 14),
        {"plan_id": "PLAN-A-1", "category": "PHY", "start_date": "2006-12-22"},
    )


# (day, agency) of the 59 professional contacts after the referral, and which carry injuries.
_CONTACT_DAYS = [
    ("2007-01-05", SOCIAL_CARE),
    ("2007-01-09", GP),
    ("2007-01-12", HEALTH_VISITING),
    ("2007-01-19", SOCIAL_CARE),
    ("2007-01-24", FAMILY_CENTRE),
    ("2007-01-31", FAMILY_CENTRE),
    ("2007-02-02", SOCIAL_CARE),
    ("2007-02-07", FAMILY_CENTRE),
    ("2007-02-09", HEALTH_VISITING),
    ("2007-02-14", FAMILY_CENTRE),
    ("2007-02-16", SOCIAL_CARE),
    ("2007-02-20", POLICE),
    ("2007-02-21", FAMILY_CENTRE),
    ("2007-02-28", FAMILY_CENTRE),
    ("2007-03-02", SOCIAL_CARE),
    ("2007-03-06", GP),
    ("2007-03-07", FAMILY_CENTRE),
    ("2007-03-09", HEALTH_VISITING),
    ("2007-03-16", SOCIAL_CARE),
    ("2007-03-21", FAMILY_CENTRE),
    ("2007-03-28", FAMILY_CENTRE),
    ("2007-03-30", SOCIAL_CARE),
    ("2007-04-04", FAMILY_CENTRE),
    ("2007-04-09", HOSPITAL),
    ("2007-04-11", SOCIAL_CARE),
    ("2007-04-13", HOSPITAL_2),
    ("2007-04-18", FAMILY_CENTRE),
    ("2007-04-20", HEALTH_VISITING),
    ("2007-04-25", SOCIAL_CARE),
    ("2007-04-27", POLICE),
    ("2007-05-02", FAMILY_CENTRE),
    ("2007-05-04", SOCIAL_CARE),
    ("2007-05-09", FAMILY_CENTRE),
    ("2007-05-11", GP),
    ("2007-05-16", FAMILY_CENTRE),
    ("2007-05-18", SOCIAL_CARE),
    ("2007-05-22", SCHOOL),
    ("2007-05-23", FAMILY_CENTRE),
    ("2007-05-25", HEALTH_VISITING),
    ("2007-06-01", SOCIAL_CARE),
    ("2007-06-04", PAEDIATRICS),
    ("2007-06-06", FAMILY_CENTRE),
    ("2007-06-08", GP),
    ("2007-06-13", FAMILY_CENTRE),
    ("2007-06-15", SOCIAL_CARE),
    ("2007-06-20", FAMILY_CENTRE),
    ("2007-06-22", HEALTH_VISITING),
    ("2007-06-27", POLICE),
    ("2007-06-29", SOCIAL_CARE),
    ("2007-07-04", FAMILY_CENTRE),
    ("2007-07-06", GP),
    ("2007-07-11", FAMILY_CENTRE),
    ("2007-07-13", SOCIAL_CARE),
    ("2007-07-18", FAMILY_CENTRE),
    ("2007-07-20", HEALTH_VISITING),
    ("2007-07-24", SOCIAL_CARE),
    ("2007-07-27", HOSPITAL),
    ("2007-07-30", SOCIAL_CARE),
    ("2007-08-01", PAEDIATRICS),
]
_WHO = {
    SOCIAL_CARE: SW,
    GP: DR,
    HEALTH_VISITING: HV,
    FAMILY_CENTRE: FC,
    POLICE: PC,
    HOSPITAL: PAED,
    HOSPITAL_2: NURSE,
    SCHOOL: DSL,
    PAEDIATRICS: PAED,
}
_KIND = {
    SOCIAL_CARE: "home_visit",
    GP: "gp_appointment",
    HEALTH_VISITING: "home_visit",
    FAMILY_CENTRE: "nursery",
    POLICE: "police_visit",
    HOSPITAL: "a_and_e",
    HOSPITAL_2: "a_and_e",
    SCHOOL: "school",
    PAEDIATRICS: "clinic",
}


def _contacts_and_injuries(s: Script) -> None:
    injuries = 1
    for n, (day, agency) in enumerate(_CONTACT_DAYS):
        who = _WHO[agency]
        # Social workers' visits are often written up days later.
        lag = 5.0 if agency == SOCIAL_CARE and n % 3 == 0 else 0.2
        _contact(
            s,
            agency,
            who,
            day,
            _KIND[agency],
            "seen_with_others" if n % 5 else "not_seen",
            "Routine contact.",
            lag,
        )
        if (
            agency
            in (GP, HOSPITAL, HOSPITAL_2, PAEDIATRICS, FAMILY_CENTRE, HEALTH_VISITING, SOCIAL_CARE)
            and n % 5
        ):
            for k in range(1 if agency in (FAMILY_CENTRE, HEALTH_VISITING) else 2):
                _injury(
                    s,
                    agency,
                    who,
                    day,
                    injuries + k,
                    nai=agency in (HOSPITAL, PAEDIATRICS) or (injuries + k) % 6 == 0,
                    lag_days=lag,
                )
            injuries += 1 if agency in (FAMILY_CENTRE, HEALTH_VISITING) else 2
    s.add(
        "concern.raised",
        FAMILY_CENTRE,
        FC,
        _at("2007-05-16", 15),
        {
            "category": "PHY",
            "severity": "high",
            "description": "Pattern of bruising to face and back suggests pummelling.",
        },
        lag=timedelta(days=2),
    )


def _sibling_slap(s: Script) -> None:
    # Seen by the social worker outside school; recorded as a concern; never shared with police.
    _contact(
        s,
        SOCIAL_CARE,
        SW,
        "2007-05-22",
        "school",
        "not_seen",
        "Outside school: mother seen shouting at and slapping the cheek of a sibling.",
        lag_days=3,
    )
    s.add(
        "concern.raised",
        SOCIAL_CARE,
        SW,
        _at("2007-05-22", 15),
        {
            "category": "PHY",
            "severity": "medium",
            "about_person_id": SIBLING_1,
            "description": "Mother slapped a sibling's cheek outside school (observed).",
        },
        lag=timedelta(days=3),
        name="sibling_slap",
    )


def _legal(s: Script) -> None:
    s.add(
        "meeting.requested",
        SOCIAL_CARE,
        TM,
        _at(LEGAL_REQUESTED, 12),
        {
            "meeting_id": LEGAL_MEETING,
            "meeting_type": "legal_planning_meeting",
            "requested_by": TM,
            "reason": "Consider threshold for care proceedings.",
            "wanted_by": "2007-06-13",
        },
        name="legal_request",
    )
    s.add(
        "meeting.held",
        LEGAL,
        LAW,
        _at(LEGAL_HELD, 10),
        {
            "meeting_id": LEGAL_MEETING,
            "meeting_type": "legal_planning_meeting",
            "invited_agencies": [SOCIAL_CARE, LEGAL],
            "attending_agencies": [SOCIAL_CARE, LEGAL],
        },
        lag=timedelta(hours=6),
    )
    s.add(
        "decision.recorded",
        LEGAL,
        LAW,
        _at(LEGAL_HELD, 12),
        {
            "decision_type": "threshold_care_proceedings",
            "outcome": "not_at_present",
            "decided_by": LAW,
            "rationale": "Threshold for care proceedings not at present met.",
        },
        lag=timedelta(hours=5),
        name="legal_decision",
    )


def _death(s: Script) -> None:
    """3 August 2007: the child dies; children's social care closes the case (RC2). The
    record holds no more about him after that day."""
    s.add(
        "case.closed",
        SOCIAL_CARE,
        TM,
        _at("2007-08-03", 17),
        {"reason": "RC2", "closed_on": "2007-08-03"},
        lag=timedelta(days=1),
        name="death",
    )
