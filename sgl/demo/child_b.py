"""The demo case "Child B" (docs/demo.md): synthetic, pseudonymous, from the themes of reviews.

A girl born in April 2016 whose family moves across three local authority areas in eighteen
months (February 2022 to August 2023). A hospital's suspicion of a non-accidental fracture
reaches the second area as "no child protection concerns"; a relative's allegation is made and
withdrawn; the family twice drops out of sight; the police take the child into police
protection for two days; one assessment ends incomplete and another closes the case without
the child being seen. For more than six months no statutory agency sees her, while a family support
charity and a faith group see her every few weeks; then a school refers, a plan starts, and a
head injury ends in a serious incident notification. Its dates are as uncertain as a real
record's: a month only, a "not before", a range, two disputed accounts and an undated note.

Every id is pseudonymous and every event id a UUID5 of its place in the script, so loading it
twice adds nothing. The events are plain documents of the types and versions in `VERSIONS`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sgl.demo import script
from sgl.demo.agencies import (
    AREA_B1,
    AREA_B2,
    AREA_B3,
    C_CSC,
    C_GP,
    C_HOSPITAL,
    C_HOUSING,
    C_POLICE,
    C_SCHOOL,
    CHARITY,
    FAITH,
    M_CSC,
    M_GP,
    M_HOSPITAL,
    M_POLICE,
    M_SCHOOL,
    R_CSC,
    R_GP,
    R_HOSPITAL,
    R_POLICE,
    R_SCHOOL,
)

CASE = "CASE-B0001"
_NAMESPACE = uuid.UUID("9c2e5a17-4b3d-4e8f-a6c1-2d7b0f9e3a58")
DATE_OF_BIRTH = "2016-04-12"

# The schema version of each type the case uses (envelope 2 throughout).
VERSIONS = {
    "allegation.made": 1,
    "allegation.withdrawn": 1,
    "area.changed": 1,
    "assessment.completed": 1,
    "assessment.ended_incomplete": 1,
    "assessment.started": 1,
    "case.closed": 2,
    "case.opened": 2,
    "concern.raised": 2,
    "contact.recorded": 3,
    "decision.recorded": 2,
    "hospital.admitted": 1,
    "hospital.discharged": 1,
    "household.changed": 2,
    "incident.notified": 1,
    "information.shared": 2,
    "injury.observed": 2,
    "involvement.closed": 1,
    "involvement.opened": 1,
    "lead.changed": 1,
    "meeting.held": 2,
    "person.linked": 2,
    "plan.started": 2,
    "police_protection.ended": 1,
    "police_protection.taken": 1,
    "referral.made": 2,
    "visit.cancelled": 1,
    "visit.no_access": 1,
    "visit.planned": 1,
    "whereabouts.found": 1,
    "whereabouts.unknown": 1,
}


def _p(number: str, role: str) -> dict[str, str]:
    return {"id": f"P-B-{number}", "role": role}


R_SW, R_TM, R_PC = (
    _p("0101", "social_worker"),
    _p("0102", "team_manager"),
    _p("0103", "police_officer"),
)
R_DR, R_PAED, R_NURSE = _p("0104", "gp"), _p("0105", "paediatrician"), _p("0106", "nurse")
R_DSL = _p("0107", "designated_safeguarding_lead")
C_SW, C_TM, C_PC = (
    _p("0201", "social_worker"),
    _p("0202", "team_manager"),
    _p("0203", "police_officer"),
)
C_DR, C_NURSE, C_HO = _p("0204", "gp"), _p("0206", "nurse"), _p("0208", "housing_officer")
C_DSL = _p("0207", "designated_safeguarding_lead")
M_SW, M_TM, M_PC = (
    _p("0301", "social_worker"),
    _p("0302", "team_manager"),
    _p("0303", "police_officer"),
)
M_DR, M_PAED = _p("0304", "gp"), _p("0305", "paediatrician")
M_DSL = _p("0307", "designated_safeguarding_lead")
SUPPORT, LEADER = _p("0308", "support_worker"), _p("0309", "faith_leader")

MOTHER, PARTNER, GRANDMOTHER = "PER-B-MOTHER", "PER-B-PARTNER", "PER-B-GRAN"
GRAN_SOURCE = {"kind": "relative", "person_id": GRANDMOTHER}
MOTHER_SOURCE = {"kind": "parent", "person_id": MOTHER}
NOT_KNOWN = "not_known"


class Script(script.Script):
    """Child B's script: the base's events, with helpers for its recurring shapes."""

    def __init__(self) -> None:
        super().__init__(CASE, _NAMESPACE, timedelta(hours=3), VERSIONS.__getitem__)

    def contact(
        self,
        agency: str,
        who: dict[str, str],
        occurred: datetime | None,
        contact_type: str,
        seen: str,
        summary: str,
        *,
        alone: str | None = None,
        concerns: bool | str | None = None,
        source: dict[str, str] | None = None,
        **options: Any,
    ) -> str:
        """A `contact.recorded`: whether the child was seen, alone, and whether it worried."""
        payload: dict[str, Any] = {"contact_type": contact_type, "child_seen": seen}
        if alone is not None:
            payload["seen_alone"] = alone
        if source is not None:
            payload["source"] = source
        if concerns is not None:
            payload["concerns_noted"] = concerns
        payload["summary"] = summary
        return self.add("contact.recorded", agency, who, occurred, payload, **options)

    def involvement(
        self, opened: bool, agency: str, who: dict[str, str], occurred: datetime, **payload: Any
    ) -> str:
        """An agency opens (`basis=`) or closes (`reason=`) its own involvement."""
        kind = "involvement.opened" if opened else "involvement.closed"
        return self.add(kind, agency, who, occurred, payload, lag=timedelta(hours=1))

    def visit(
        self,
        agency: str,
        who: dict[str, str],
        visit_id: str,
        planned_on: datetime,
        planned_for: datetime,
        visit_type: str = "statutory_visit",
    ) -> str:
        """A visit planned (and announced) on `planned_on` for `planned_for`."""
        return self.add(
            "visit.planned",
            agency,
            who,
            planned_on,
            {
                "visit_id": visit_id,
                "visit_type": visit_type,
                "planned_for": script.utc(planned_for),
                "announced": True,
            },
            lag=timedelta(hours=1),
        )


def _at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def child_b() -> list[dict[str, Any]]:
    """Every event of the Child B case, in the order they were recorded."""
    s = Script()
    _rivermead_hospital(s)
    _rivermead_enquiry(s)
    _rivermead_allegation(s)
    _rivermead_leaving(s)
    _castlebury_arrival(s)
    _castlebury_scald_and_protection(s)
    _castlebury_leaving(s)
    _millford_unseen(s)
    _millford_referral_and_plan(s)
    _millford_incident(s)
    return s.events


def _rivermead_hospital(s: Script) -> None:
    s.add(
        "hospital.admitted",
        R_HOSPITAL,
        R_NURSE,
        _at("2022-02-07", 19, 40),
        {
            "episode_id": "EP-B-0001",
            "via": "a_and_e",
            "reason": "Swollen left forearm; mother says she fell from the sofa.",
        },
        lag=timedelta(minutes=30),
    )
    s.involvement(True, R_HOSPITAL, R_NURSE, _at("2022-02-07", 19, 45), basis="health_care")
    s.contact(
        R_HOSPITAL,
        R_PAED,
        _at("2022-02-07", 21),
        "hospital_ward",
        "yes",
        "Examined on the ward with mother present; child quiet, would not say how it happened.",
        alone="no",
        concerns=True,
    )
    s.add(
        "injury.observed",
        R_HOSPITAL,
        R_PAED,
        _at("2022-02-07", 21, 30),
        {
            "body_region": "arm_left",
            "injury_type": "fracture",
            "count": 1,
            "explanation_given": "fell from the sofa",
            "explanation_consistent": False,
            "suspected_non_accidental": True,
        },
        name="fracture",
    )
    s.add(
        "injury.observed",
        R_HOSPITAL,
        R_PAED,
        _at("2022-02-07", 21, 40),
        {
            "body_region": "back",
            "injury_type": "bruise",
            "count": NOT_KNOWN,
            "colour": "yellow-green",
            "explanation_given": "none given",
            "explanation_consistent": None,
            "suspected_non_accidental": NOT_KNOWN,
        },
        name="bruises",
    )
    s.add(
        "referral.made",
        R_HOSPITAL,
        R_PAED,
        _at("2022-02-08", 9, 30),
        {
            "from_agency": R_HOSPITAL,
            "to_agency": R_CSC,
            "referral_source": "3E",
            "reason": "Spiral fracture of the left forearm and bruising to the back; the "
            "explanation is not consistent with the injury.",
            "facts": [s.ids["fracture"], s.ids["bruises"]],
            "conveyed": {
                "concern": "stated",
                "statement": "Suspected non-accidental injury; skeletal survey requested.",
                "urgency": "urgent",
                "request": "assessment",
            },
        },
        lag=timedelta(minutes=20),
        name="hospital_referral",
    )
    s.add(
        "case.opened",
        R_CSC,
        R_SW,
        _at("2022-02-08", 11),
        {
            "date_of_birth": DATE_OF_BIRTH,
            "lead_agency": R_CSC,
            "responsible_area": AREA_B1,
            "referral_source": "3E",
            "primary_need": "N1",
        },
        lag=timedelta(hours=1),
    )


def _rivermead_enquiry(s: Script) -> None:
    s.add(
        "meeting.held",
        R_CSC,
        R_TM,
        _at("2022-02-08", 14),
        {
            "meeting_id": "MTG-B-STRAT1",
            "meeting_type": "strategy_discussion",
            "invited_agencies": [R_CSC, R_POLICE, R_HOSPITAL],
            "attending_agencies": [R_CSC, R_POLICE, R_HOSPITAL],
            "facts_tabled": [s.ids["fracture"], s.ids["bruises"]],
        },
    )
    s.add(
        "decision.recorded",
        R_CSC,
        R_TM,
        _at("2022-02-08", 15),
        {
            "decision_type": "s47_enquiry",
            "outcome": "proceed",
            "decided_by": R_TM,
            "rests_on": [s.ids["fracture"]],
        },
    )
    s.add(
        "assessment.started",
        R_CSC,
        R_SW,
        _at("2022-02-08", 15, 30),
        {"assessment_id": "ASM-B-0001", "assessment_type": "s47_enquiry"},
    )
    s.involvement(True, R_POLICE, R_PC, _at("2022-02-08", 16), basis="police_investigation")
    s.involvement(True, R_SCHOOL, R_DSL, _at("2022-02-09", 9), basis="education")
    for person, role, agency, who, source, verified, household in (
        (MOTHER, "mother", R_CSC, R_SW, "documents", True, True),
        (PARTNER, "partner_of_parent", R_POLICE, R_PC, "police_check", True, True),
        (GRANDMOTHER, "grandparent", R_CSC, R_SW, "family_member", False, False),
    ):
        s.add(
            "person.linked",
            agency,
            who,
            _at("2022-02-09", 12),
            {
                "person_id": person,
                "role": role,
                "is_adult": True,
                "identity_verified": verified,
                "source": source,
                "lives_in_household": household,
            },
        )
    # Discharged home while the enquiry is open, and with no safeguarding plan in place.
    s.add(
        "hospital.discharged",
        R_HOSPITAL,
        R_NURSE,
        _at("2022-02-10", 11),
        {
            "episode_id": "EP-B-0001",
            "discharged_to": "home",
            "safeguarding_plan_in_place": False,
        },
        lag=timedelta(hours=1),
    )
    s.involvement(
        False,
        R_HOSPITAL,
        R_NURSE,
        _at("2022-02-10", 11, 30),
        reason="service_complete",
        detail="Discharged home; fracture clinic follow-up booked.",
    )
    s.contact(
        R_CSC,
        R_SW,
        _at("2022-02-11", 14),
        "home_visit",
        "yes",
        "Home visit; the partner stayed in the room throughout.",
        alone="no",
        concerns=True,
        lag=timedelta(days=2),
    )
    s.visit(R_CSC, R_SW, "VIS-B-0001", _at("2022-02-14", 9), _at("2022-02-21"), "home_visit")
    s.add(
        "visit.no_access",
        R_CSC,
        R_SW,
        _at("2022-02-21"),
        {"visit_id": "VIS-B-0001", "detail": "No answer; curtains drawn."},
    )
    s.involvement(True, R_GP, R_DR, _at("2022-02-22", 9), basis="health_care")
    s.contact(
        R_GP,
        R_DR,
        _at("2022-02-22", 9, 20),
        "gp_appointment",
        "yes",
        "Fracture follow-up; healing well.",
        alone="no",
        concerns=False,
    )
    s.contact(
        R_SCHOOL,
        R_DSL,
        _at("2022-02-24", 13),
        "school",
        "yes",
        "Check-in with the class teacher present.",
        alone="no",
        concerns=False,
    )
    worry = s.contact(
        R_SCHOOL,
        R_DSL,
        _at("2022-03-03", 11),
        "school",
        "yes",
        "Quiet and withdrawn; flinched when touched on the shoulder.",
        alone="yes",
        concerns=True,
    )
    s.add(
        "information.shared",
        R_SCHOOL,
        R_DSL,
        _at("2022-03-03", 15),
        {
            "from_agency": R_SCHOOL,
            "to_agency": R_CSC,
            "facts": [worry],
            "channel": "secure_email",
            "conveyed": {
                "concern": "stated",
                "statement": "Child withdrawn; flinched when touched.",
                "urgency": "routine",
            },
        },
    )
    s.contact(
        R_CSC,
        R_SW,
        _at("2022-03-08", 11),
        "school",
        "yes",
        "Seen alone at school; said she is happy at home.",
        alone="yes",
        concerns=False,
    )
    done = s.add(
        "assessment.completed",
        R_CSC,
        R_TM,
        _at("2022-03-10", 16),
        {"assessment_id": "ASM-B-0001", "outcome": "child_in_need_plan"},
        name="s47_completed",
    )
    s.add(
        "decision.recorded",
        R_CSC,
        R_TM,
        _at("2022-03-10", 16, 30),
        {
            "decision_type": "cp_plan",
            "outcome": "decline",
            "decided_by": R_TM,
            "rationale": "Threshold for a child protection conference not met; the mother's "
            "explanation accepted. Child in need plan.",
            "rests_on": [done, s.ids["fracture"]],
        },
        name="no_conference",
    )
    s.add(
        "decision.recorded",
        R_POLICE,
        R_PC,
        _at("2022-03-14"),
        {
            "decision_type": "police_investigation",
            "outcome": "decline",
            "decided_by": R_PC,
            "rationale": "No further action: the explanation cannot be disproved.",
        },
    )
    s.involvement(False, R_POLICE, R_PC, _at("2022-03-14", 11), reason="no_further_action")


def _rivermead_allegation(s: Script) -> None:
    allegation = s.add(
        "allegation.made",
        R_POLICE,
        R_PC,
        _at("2022-03-19", 17),
        {
            "allegation_id": "ALG-B-0001",
            "category": "PHY",
            "made_by": {"source": GRAN_SOURCE},
            "about_person_id": PARTNER,
            "summary": "The grandmother says the child told her the partner hurt her arm.",
        },
    )
    s.involvement(True, R_POLICE, R_PC, _at("2022-03-19", 17, 30), basis="police_investigation")
    s.contact(
        R_POLICE,
        R_PC,
        _at("2022-03-19", 17, 40),
        "phone",
        "yes",
        "The grandmother saw the child at the weekend: a bruise on her cheek.",
        source=GRAN_SOURCE,
        concerns=True,
    )
    s.add(
        "information.shared",
        R_POLICE,
        R_PC,
        _at("2022-03-21", 9),
        {
            "from_agency": R_POLICE,
            "to_agency": R_CSC,
            "facts": [allegation],
            "channel": "phone",
            "conveyed": {
                "concern": "stated",
                "statement": "A relative alleges that the partner hurt the child.",
                "urgency": "urgent",
            },
        },
    )
    s.contact(
        R_CSC,
        R_SW,
        _at("2022-03-23", 16),
        "home_visit",
        "yes",
        "Seen briefly with her mother after the allegation; her bedroom was not seen.",
        alone="no",
        concerns=NOT_KNOWN,
        lag=timedelta(days=1),
    )
    s.add(
        "allegation.withdrawn",
        R_POLICE,
        R_PC,
        _at("2022-04-02", 12),
        {
            "allegation_id": "ALG-B-0001",
            "withdrawn_by": {"source": GRAN_SOURCE},
            "reason": "Says she misunderstood what the child said.",
        },
    )
    s.add(
        "decision.recorded",
        R_POLICE,
        R_PC,
        _at("2022-04-04"),
        {
            "decision_type": "police_investigation",
            "outcome": "decline",
            "decided_by": R_PC,
            "rationale": "Allegation withdrawn.",
            "rests_on": [allegation],
        },
    )
    s.involvement(False, R_POLICE, R_PC, _at("2022-04-04", 11), reason="no_further_action")
    for day, summary in (
        ("2022-04-07", "Settled in class."),
        ("2022-04-28", "Tired; says she was up late."),
        ("2022-05-05", "Settled in class."),
    ):
        s.contact(
            R_SCHOOL, R_DSL, _at(day, 11), "school", "yes", summary, alone="no", concerns=False
        )
    s.contact(
        R_CSC,
        R_SW,
        _at("2022-04-12", 15),
        "home_visit",
        "yes",
        "Child in need visit; seen playing in the living room.",
        alone="no",
        concerns=False,
        lag=timedelta(days=5),
    )
    s.contact(
        R_GP,
        R_DR,
        _at("2022-04-20", 9),
        "gp_appointment",
        "no",
        "Not brought to the fracture clinic follow-up.",
        concerns=True,
    )


def _rivermead_leaving(s: Script) -> None:
    s.visit(R_CSC, R_SW, "VIS-B-0002", _at("2022-05-09", 9), _at("2022-05-16"))
    s.add(
        "visit.cancelled",
        R_CSC,
        R_SW,
        _at("2022-05-16", 8, 30),
        {"visit_id": "VIS-B-0002", "cancelled_by": "family", "reason": "Mother phoned: unwell."},
    )
    s.contact(
        R_SCHOOL,
        R_DSL,
        _at("2022-05-20", 15),
        "phone",
        "no",
        "Absent all week; no reason given; phone not answered.",
        concerns=True,
    )
    s.add(
        "visit.no_access",
        R_CSC,
        R_SW,
        _at("2022-05-24", 11),
        {"detail": "Unannounced visit; neighbours say the family moved out at the weekend."},
    )
    s.add(
        "whereabouts.unknown",
        R_CSC,
        R_SW,
        _at("2022-05-24", 12),
        {"last_known_area": AREA_B1, "detail": "Family left the address; no forwarding address."},
    )
    s.add(
        "whereabouts.found",
        R_CSC,
        R_SW,
        _at("2022-06-06", 10),
        {"area": AREA_B2, "detail": "The mother phoned: staying with friends in Castlebury."},
    )
    s.add(
        "area.changed",
        R_CSC,
        R_TM,
        _at("2022-06-06", 12),
        {
            "area": AREA_B2,
            "reason": "family_moved",
            "responsible_agency": C_CSC,
            "detail": "The family moved into temporary accommodation in Castlebury.",
        },
    )
    for agency, who in ((R_SCHOOL, R_DSL), (R_GP, R_DR)):
        s.involvement(False, agency, who, _at("2022-06-07"), reason="moved_out_of_area")
    # What the transfer conveys: the fracture the hospital suspected is not among its facts.
    s.add(
        "referral.made",
        R_CSC,
        R_TM,
        _at("2022-06-08", 14),
        {
            "from_agency": R_CSC,
            "to_agency": C_CSC,
            "referral_source": "5C",
            "reason": "Transfer of a child in need case: the family has moved to your area.",
            "facts": [s.ids["s47_completed"], s.ids["no_conference"]],
            "conveyed": {
                "concern": "denied",
                "statement": "No child protection concerns. Child in need plan for support "
                "with housing and parenting.",
                "urgency": "routine",
                "request": "service",
            },
        },
        name="transfer_1",
    )


def _castlebury_arrival(s: Script) -> None:
    s.involvement(True, C_CSC, C_SW, _at("2022-06-15", 10), basis="referral")
    s.add(
        "lead.changed",
        C_CSC,
        C_TM,
        _at("2022-06-15", 11),
        {"lead_agency": C_CSC, "reason": "Transfer in from Rivermead accepted."},
    )
    s.add(
        "decision.recorded",
        C_CSC,
        C_TM,
        _at("2022-06-15", 12),
        {
            "decision_type": "referral_outcome",
            "outcome": "proceed",
            "decided_by": C_TM,
            "rationale": "Single assessment as a child in need; no child protection concerns "
            "reported by the previous authority.",
            "rests_on": [s.ids["transfer_1"]],
        },
    )
    s.add(
        "case.closed",
        R_CSC,
        R_TM,
        _at("2022-06-16", 10),
        {"reason": "RC5", "closed_on": "2022-06-16"},
    )
    s.add(
        "assessment.started",
        C_CSC,
        C_SW,
        _at("2022-06-16", 11),
        {"assessment_id": "ASM-B-0002", "assessment_type": "single_assessment"},
    )
    s.involvement(True, C_HOUSING, C_HO, _at("2022-06-16", 14), basis="support_service")
    s.contact(
        C_HOUSING,
        C_HO,
        _at("2022-06-16", 14, 30),
        "office_visit",
        "yes",
        "Placed in temporary accommodation; the child came with her mother.",
        alone="no",
        concerns=False,
    )
    s.involvement(True, C_GP, C_DR, _at("2022-06-20", 9), basis="health_care")
    s.contact(
        C_GP,
        C_DR,
        _at("2022-06-20", 9, 30),
        "other",
        "no",
        "New patient registration by the mother; the child was not brought.",
    )
    s.visit(C_CSC, C_SW, "VIS-B-0003", _at("2022-06-23", 9), _at("2022-06-29"), "home_visit")
    s.contact(
        C_CSC,
        C_SW,
        _at("2022-06-29", 10, 30),
        "home_visit",
        "yes",
        "Seen alone in her room; says she misses her old school.",
        alone="yes",
        concerns=False,
        lag=timedelta(days=3),
    )
    s.involvement(True, C_SCHOOL, C_DSL, _at("2022-07-04", 9), basis="education")
    for day, summary in (
        ("2022-07-04", "First day at Hillview."),
        ("2022-07-11", "Making friends."),
        ("2022-07-18", "Settled in class."),
    ):
        s.contact(
            C_SCHOOL, C_DSL, _at(day, 11), "school", "yes", summary, alone="no", concerns=False
        )


def _castlebury_scald_and_protection(s: Script) -> None:
    s.visit(C_CSC, C_SW, "VIS-B-0004", _at("2022-08-03", 9), _at("2022-08-10"))
    s.add(
        "visit.cancelled",
        C_CSC,
        C_SW,
        _at("2022-08-09", 16),
        {
            "visit_id": "VIS-B-0004",
            "cancelled_by": "agency",
            "reason": "Social worker off sick; the visit was not rebooked.",
        },
    )
    s.add(
        "hospital.admitted",
        C_HOSPITAL,
        C_NURSE,
        _at("2022-08-22", 18),
        {
            "episode_id": "EP-B-0002",
            "via": "a_and_e",
            "reason": "Scald to the right hand; mother says from a hot tap.",
        },
        lag=timedelta(minutes=30),
    )
    s.involvement(True, C_HOSPITAL, C_NURSE, _at("2022-08-22", 18, 10), basis="health_care")
    s.contact(
        C_HOSPITAL,
        C_NURSE,
        _at("2022-08-22", 18, 30),
        "a_and_e",
        "yes",
        "Treated in A&E with her mother present.",
        alone="no",
        concerns=NOT_KNOWN,
    )
    scald = s.add(
        "injury.observed",
        C_HOSPITAL,
        C_NURSE,
        _at("2022-08-22", 18, 45),
        {
            "body_region": "hand_right",
            "injury_type": "scald",
            "count": 1,
            "explanation_given": "put her hand under the hot tap",
            "explanation_consistent": None,
            "suspected_non_accidental": NOT_KNOWN,
        },
        name="scald",
    )
    s.add(
        "information.shared",
        C_HOSPITAL,
        C_NURSE,
        _at("2022-08-23", 10),
        {
            "from_agency": C_HOSPITAL,
            "to_agency": C_CSC,
            "facts": [scald],
            "channel": "phone",
            "conveyed": {
                "concern": "stated",
                "statement": "Scald; the explanation is plausible but the child is known to "
                "social care.",
                "urgency": "routine",
                "request": "information",
            },
        },
    )
    s.add(
        "hospital.discharged",
        C_HOSPITAL,
        C_NURSE,
        _at("2022-08-24", 12),
        {
            "episode_id": "EP-B-0002",
            "discharged_to": "home",
            "safeguarding_plan_in_place": True,
        },
    )
    s.involvement(False, C_HOSPITAL, C_NURSE, _at("2022-08-24", 13), reason="service_complete")
    hungry = s.contact(
        C_SCHOOL,
        C_DSL,
        _at("2022-09-05", 9),
        "school",
        "yes",
        "Arrived hungry, in the same clothes as the week before the holidays.",
        alone="yes",
        concerns=True,
    )
    s.add(
        "concern.raised",
        C_SCHOOL,
        C_DSL,
        _at("2022-09-05", 12),
        {"category": "NEG", "severity": "medium", "description": "Signs of neglect at school."},
    )
    s.add(
        "information.shared",
        C_SCHOOL,
        C_DSL,
        _at("2022-09-05", 15),
        {
            "from_agency": C_SCHOOL,
            "to_agency": C_CSC,
            "facts": [hungry],
            "channel": "email",
            "conveyed": {"concern": "stated", "urgency": "routine"},
        },
    )
    s.involvement(True, C_POLICE, C_PC, _at("2022-09-17", 23, 40), basis="police_investigation")
    s.contact(
        C_POLICE,
        C_PC,
        _at("2022-09-17", 23, 30),
        "police_visit",
        "yes",
        "Called to a domestic incident; the child was awake and frightened.",
        alone="no",
        concerns=True,
        lag=timedelta(hours=1),
    )
    s.add(
        "police_protection.taken",
        C_POLICE,
        C_PC,
        _at("2022-09-17", 23, 50),
        {"protection_id": "PP-B-0001"},
        lag=timedelta(hours=1),
        name="protection",
    )
    s.add(
        "information.shared",
        C_POLICE,
        C_PC,
        _at("2022-09-18", 8),
        {
            "from_agency": C_POLICE,
            "to_agency": C_CSC,
            "facts": [s.ids["protection"]],
            "channel": "phone",
            "conveyed": {"concern": "stated", "urgency": "urgent", "request": "service"},
        },
    )
    s.add(
        "household.changed",
        C_POLICE,
        C_PC,
        _at("2022-09-18", 9),
        {
            "person_id": PARTNER,
            "change": "left",
            "effective_from": "2022-09-18",
            "how_known": "agency_record",
        },
    )
    s.add(
        "meeting.held",
        C_CSC,
        C_TM,
        _at("2022-09-18", 14),
        {
            "meeting_id": "MTG-B-STRAT2",
            "meeting_type": "strategy_discussion",
            "invited_agencies": [C_CSC, C_POLICE, C_SCHOOL, C_GP],
            "attending_agencies": [C_CSC, C_POLICE],
            "facts_tabled": [s.ids["protection"], s.ids["scald"]],
        },
    )
    s.add(
        "decision.recorded",
        C_CSC,
        C_TM,
        _at("2022-09-18", 15),
        {
            "decision_type": "strategy_discussion_outcome",
            "outcome": "decline",
            "decided_by": C_TM,
            "rationale": "Below the threshold for a section 47 enquiry; the partner has left. "
            "Continue the single assessment.",
            "rests_on": [s.ids["protection"]],
        },
    )
    s.add(
        "police_protection.ended",
        C_POLICE,
        C_PC,
        _at("2022-09-19", 16),
        {"protection_id": "PP-B-0001", "outcome": "returned_home"},
    )
    s.visit(C_CSC, C_SW, "VIS-B-0005", _at("2022-10-03", 9), _at("2022-10-10"), "home_visit")
    s.add(
        "visit.no_access",
        C_CSC,
        C_SW,
        _at("2022-10-10", 10),
        {"visit_id": "VIS-B-0005", "detail": "Mother at the door; would not let the worker in."},
    )
    s.contact(
        C_CSC,
        C_SW,
        _at("2022-10-14", 14),
        "home_visit",
        "yes",
        "Seen with her mother; the flat is cold and bare.",
        alone="no",
        concerns=True,
        lag=timedelta(days=4),
    )
    s.add(
        "household.changed",
        C_POLICE,
        C_PC,
        _at("2022-10-28", 9),
        {
            "person_id": PARTNER,
            "change": "joined",
            "effective_from": "2022-10-24",
            "how_known": "observed",
        },
    )
    s.involvement(
        False,
        C_POLICE,
        C_PC,
        _at("2022-10-30", 10),
        reason="no_further_action",
        detail="The mother would not support a prosecution.",
    )
    # The GP's record says only "October 2022".
    s.contact(
        C_GP,
        C_DR,
        _at("2022-10-01", 0),
        "gp_appointment",
        "yes",
        "Seen for a chest infection; the day is not in the record.",
        alone="no",
        concerns=False,
        recorded=_at("2022-11-02", 9),
        occurred_precision="month",
    )


def _castlebury_leaving(s: Script) -> None:
    for day, summary, concern in (
        ("2022-11-07", "Settled.", False),
        ("2022-11-14", "Flinched when a teacher raised her voice.", True),
        ("2022-11-18", "Said she is moving again soon.", True),
    ):
        s.contact(
            C_SCHOOL, C_DSL, _at(day, 11), "school", "yes", summary, alone="no", concerns=concern
        )
    s.contact(
        C_HOUSING,
        C_HO,
        _at("2022-11-21", 10),
        "home_visit",
        "no",
        "Temporary accommodation empty; keys left inside.",
        concerns=NOT_KNOWN,
    )
    s.involvement(False, C_HOUSING, C_HO, _at("2022-11-21", 12), reason="no_engagement")
    s.contact(
        C_SCHOOL,
        C_DSL,
        _at("2022-11-25", 15),
        "phone",
        "no",
        "Absent all week; mother's phone disconnected.",
        concerns=True,
    )
    s.add(
        "visit.no_access",
        C_CSC,
        C_SW,
        _at("2022-11-28", 11),
        {"detail": "Unannounced visit; the accommodation is empty."},
    )
    s.add(
        "whereabouts.unknown",
        C_CSC,
        C_SW,
        _at("2022-11-29", 10),
        {"last_known_area": AREA_B2, "detail": "Family left; schools and GPs alerted."},
    )
    s.add(
        "assessment.ended_incomplete",
        C_CSC,
        C_TM,
        _at("2022-11-30", 16),
        {
            "assessment_id": "ASM-B-0002",
            "reason": "moved_away",
            "detail": "The family left the area before the assessment was completed.",
        },
        name="ended_incomplete",
    )
    s.add(
        "concern.raised",
        C_SCHOOL,
        C_DSL,
        None,
        {
            "category": "NEG",
            "severity": "low",
            "description": "Undated note found in the child's file when it was prepared for "
            "transfer: she said there was no food at home.",
        },
        recorded=_at("2022-12-02", 14),
        occurred_precision="undated",
    )
    s.involvement(True, M_GP, M_DR, _at("2023-01-12", 9), basis="health_care")
    s.contact(
        M_GP,
        M_DR,
        _at("2023-01-12", 9, 15),
        "other",
        "no",
        "New patient registration by the mother; the child was not brought.",
    )
    s.add(
        "whereabouts.found",
        C_CSC,
        C_SW,
        _at("2023-01-16", 10),
        {"area": AREA_B3, "detail": "Found through a new GP registration in Millford."},
    )
    # When the family left Castlebury: housing and the mother give different days.
    s.add(
        "area.changed",
        C_CSC,
        C_TM,
        None,
        {
            "area": AREA_B3,
            "reason": "family_moved",
            "responsible_agency": M_CSC,
            "detail": "The family moved to Millford.",
        },
        recorded=_at("2023-01-17", 11),
        occurred_precision="disputed",
        occurred_accounts=[
            {
                "occurred_at": "2022-11-19T12:00:00Z",
                "precision": "day",
                "agency": C_HOUSING,
                "note": "Housing officer: the flat was found empty on the Monday after.",
            },
            {
                "occurred_at": "2022-12-03T12:00:00Z",
                "precision": "day",
                "source": MOTHER_SOURCE,
                "note": "The mother, on the phone to Millford.",
            },
        ],
    )
    for agency, who in ((C_SCHOOL, C_DSL), (C_GP, C_DR)):
        s.involvement(False, agency, who, _at("2023-01-18"), reason="moved_out_of_area")
    s.add(
        "referral.made",
        C_CSC,
        C_TM,
        _at("2023-01-19", 14),
        {
            "from_agency": C_CSC,
            "to_agency": M_CSC,
            "referral_source": "5C",
            "reason": "The family has moved to your area; our assessment was not completed.",
            "facts": [s.ids["ended_incomplete"], s.ids["scald"]],
            "conveyed": {"concern": "not_stated", "urgency": "routine", "request": "assessment"},
        },
        name="transfer_2",
    )


def _millford_unseen(s: Script) -> None:
    s.involvement(True, M_CSC, M_SW, _at("2023-01-30", 10), basis="referral")
    s.add(
        "lead.changed",
        M_CSC,
        M_TM,
        _at("2023-01-30", 11),
        {"lead_agency": M_CSC, "reason": "Transfer in from Castlebury accepted."},
    )
    s.add(
        "case.closed",
        C_CSC,
        C_TM,
        _at("2023-01-31", 10),
        {"reason": "RC5", "closed_on": "2023-01-31"},
    )
    s.add(
        "assessment.started",
        M_CSC,
        M_SW,
        _at("2023-02-01", 10),
        {"assessment_id": "ASM-B-0003", "assessment_type": "single_assessment"},
    )

    # Statutory visits that never see her, beside the charity's sessions and the faith group's
    # services, which do.
    def session(day: str, concerns: bool, summary: str) -> str:
        return s.contact(
            CHARITY,
            SUPPORT,
            _at(day, 11),
            "community_setting",
            "yes",
            summary,
            alone="no",
            concerns=concerns,
        )

    def service(day: str, concerns: bool, summary: str) -> None:
        s.contact(
            FAITH,
            LEADER,
            _at(day, 12),
            "faith_setting",
            "yes",
            summary,
            alone="no",
            concerns=concerns,
            lag=timedelta(days=1),
        )

    def plan(visit_id: str, day: str) -> None:
        planned_for = _at(day)
        s.visit(M_CSC, M_SW, visit_id, planned_for - timedelta(days=7), planned_for)

    def no_access(visit_id: str, day: str, detail: str) -> None:
        s.add("visit.no_access", M_CSC, M_SW, _at(day), {"visit_id": visit_id, "detail": detail})

    def cancelled(visit_id: str, day: str, by: str, reason: str) -> None:
        s.add(
            "visit.cancelled",
            M_CSC,
            M_SW,
            _at(day, 8),
            {"visit_id": visit_id, "cancelled_by": by, "reason": reason},
        )

    plan("VIS-B-0006", "2023-02-13")
    s.involvement(True, CHARITY, SUPPORT, _at("2023-02-08", 10), basis="support_service")
    session("2023-02-08", False, "Food parcel collected; the child came with her mother.")
    s.involvement(True, FAITH, LEADER, _at("2023-02-12", 11), basis="other")
    service("2023-02-12", False, "At the Sunday service with her mother.")
    no_access("VIS-B-0006", "2023-02-13", "No answer.")
    plan("VIS-B-0007", "2023-02-27")
    session("2023-02-22", False, "Play session; joined in.")
    service("2023-02-26", False, "At the Sunday service.")
    cancelled("VIS-B-0007", "2023-02-27", "family", "Mother says they are staying with friends.")
    session("2023-03-08", False, "Play session; quiet.")
    plan("VIS-B-0008", "2023-03-20")
    cancelled("VIS-B-0008", "2023-03-20", "agency", "Duty cover unavailable.")
    thin = session("2023-03-22", True, "Looks thin; a small bruise on the back of her hand.")
    s.contact(
        M_CSC,
        M_SW,
        _at("2023-03-22", 15),
        "phone",
        "no",
        "Mother on the phone: the child is well; she refuses a visit.",
        concerns=NOT_KNOWN,
    )
    s.add(
        "information.shared",
        CHARITY,
        SUPPORT,
        _at("2023-03-23", 10),
        {
            "from_agency": CHARITY,
            "to_agency": M_CSC,
            "facts": [thin],
            "channel": "email",
            "conveyed": {
                "concern": "stated",
                "statement": "The child looks thin and had a small bruise on her hand.",
                "urgency": "routine",
                "request": "advice",
            },
        },
    )
    # The faith group's record of March says only that she was there.
    s.contact(
        FAITH,
        LEADER,
        _at("2023-03-01", 0),
        "faith_setting",
        "yes",
        "Seen at services during March; the days were not noted.",
        alone="no",
        concerns=False,
        recorded=_at("2023-04-02", 18),
        occurred_precision="month",
    )
    plan("VIS-B-0009", "2023-04-11")
    session("2023-04-05", False, "Play session.")
    no_access("VIS-B-0009", "2023-04-11", "No answer; a neighbour says they are in.")
    service("2023-04-16", False, "At the Sunday service.")
    s.contact(
        M_GP,
        M_DR,
        _at("2023-04-18", 9),
        "gp_appointment",
        "no",
        "Not brought to an asthma review.",
        concerns=False,
    )
    session("2023-04-19", True, "Very tired; fell asleep in the session.")
    s.add(
        "assessment.completed",
        M_CSC,
        M_TM,
        _at("2023-04-24", 15),
        {"assessment_id": "ASM-B-0003", "outcome": "no_further_action"},
    )
    s.involvement(
        False,
        M_CSC,
        M_TM,
        _at("2023-04-24", 16),
        reason="no_engagement",
        detail="The family did not engage; closed without the child being seen.",
        cin_closure_reason="RC8",
    )
    service("2023-04-30", True, "Sat apart from the other children; would not talk.")
    session("2023-05-03", False, "Play session.")
    s.contact(
        M_GP,
        M_DR,
        _at("2023-05-10", 9),
        "gp_appointment",
        "no",
        "Not brought to the rebooked asthma review.",
        concerns=True,
    )
    service("2023-05-14", False, "At the Sunday service.")
    # Noticed "some time after Easter", written down weeks later.
    s.add(
        "concern.raised",
        FAITH,
        LEADER,
        None,
        {
            "category": "PHY",
            "severity": NOT_KNOWN,
            "description": "A bruise on her cheek, noticed some time after Easter; not reported "
            "to anyone at the time.",
        },
        recorded=_at("2023-05-14", 18),
        occurred_precision="range",
        occurred_range={"not_before": "2023-04-09T00:00:00Z"},
    )
    session("2023-05-17", True, "Limping; mother says she tripped.")
    service("2023-05-28", False, "At the Sunday service.")
    session("2023-05-31", False, "Play session; more cheerful.")


def _millford_referral_and_plan(s: Script) -> None:
    s.involvement(True, M_SCHOOL, M_DSL, _at("2023-06-05", 9), basis="education")
    seen = s.contact(
        M_SCHOOL,
        M_DSL,
        _at("2023-06-05", 11),
        "school",
        "yes",
        "First day at Oakfield; very small for her age; a fading bruise on her cheek.",
        alone="yes",
        concerns=True,
    )
    bruise = s.add(
        "injury.observed",
        M_SCHOOL,
        M_DSL,
        _at("2023-06-05", 11, 30),
        {
            "body_region": "face",
            "injury_type": "bruise",
            "count": 2,
            "colour": "yellow",
            "explanation_given": "fell over at the park",
            "explanation_consistent": None,
            "suspected_non_accidental": NOT_KNOWN,
        },
    )
    s.add(
        "referral.made",
        M_SCHOOL,
        M_DSL,
        _at("2023-06-06", 9),
        {
            "from_agency": M_SCHOOL,
            "to_agency": M_CSC,
            "referral_source": "2A",
            "reason": "Bruising to the face; the child says she is scared of the partner.",
            "facts": [seen, bruise],
            "conveyed": {
                "concern": "stated",
                "statement": "Bruising to the face; the child says she is scared at home.",
                "urgency": "urgent",
                "request": "assessment",
            },
        },
        lag=timedelta(hours=1),
        name="school_referral",
    )
    s.involvement(True, M_CSC, M_SW, _at("2023-06-06", 11), basis="referral")
    s.involvement(True, M_POLICE, M_PC, _at("2023-06-07", 9), basis="police_investigation")
    s.add(
        "meeting.held",
        M_CSC,
        M_TM,
        _at("2023-06-07", 11),
        {
            "meeting_id": "MTG-B-STRAT3",
            "meeting_type": "strategy_discussion",
            "invited_agencies": [M_CSC, M_POLICE, M_SCHOOL, M_GP],
            "attending_agencies": [M_CSC, M_POLICE, M_SCHOOL],
            "facts_tabled": [bruise],
        },
    )
    s.add(
        "decision.recorded",
        M_CSC,
        M_TM,
        _at("2023-06-07", 12),
        {
            "decision_type": "s47_enquiry",
            "outcome": "proceed",
            "decided_by": M_TM,
            "rests_on": [bruise, s.ids["school_referral"]],
        },
    )
    s.add(
        "assessment.started",
        M_CSC,
        M_SW,
        _at("2023-06-07", 13),
        {"assessment_id": "ASM-B-0004", "assessment_type": "s47_enquiry"},
    )
    s.contact(
        M_CSC,
        M_SW,
        _at("2023-06-08", 16),
        "home_visit",
        "yes",
        "Seen at home with her mother; the partner was there and left the room.",
        alone="no",
        concerns=True,
        lag=timedelta(days=1),
    )
    for day in ("2023-06-12", "2023-06-19", "2023-06-26", "2023-07-03"):
        s.contact(
            M_SCHOOL, M_DSL, _at(day, 11), "school", "yes", "Attending.", alone="no", concerns=False
        )
    s.add(
        "assessment.completed",
        M_CSC,
        M_TM,
        _at("2023-06-20", 16),
        {"assessment_id": "ASM-B-0004", "outcome": "child_protection_conference"},
    )
    conference = s.add(
        "meeting.held",
        M_CSC,
        M_TM,
        _at("2023-07-04", 10),
        {
            "meeting_id": "MTG-B-ICPC",
            "meeting_type": "initial_cp_conference",
            "invited_agencies": [M_CSC, M_POLICE, M_SCHOOL, M_GP, CHARITY],
            "attending_agencies": [M_CSC, M_POLICE, M_SCHOOL],
            "facts_tabled": [bruise],
        },
        lag=timedelta(days=1),
    )
    s.add(
        "decision.recorded",
        M_CSC,
        M_TM,
        _at("2023-07-04", 12),
        {
            "decision_type": "cp_plan",
            "outcome": "proceed",
            "decided_by": M_TM,
            "rationale": "Child protection plan: physical abuse.",
            "rests_on": [conference],
        },
    )
    s.add(
        "plan.started",
        M_CSC,
        M_TM,
        _at("2023-07-04", 13),
        {"plan_id": "PLAN-B-1", "category": "PHY", "start_date": "2023-07-04"},
    )
    s.visit(M_CSC, M_SW, "VIS-B-0010", _at("2023-07-10", 9), _at("2023-07-14"), "home_visit")
    s.add(
        "visit.no_access",
        M_CSC,
        M_SW,
        _at("2023-07-14"),
        {"visit_id": "VIS-B-0010", "detail": "No answer; the car was outside."},
    )
    s.contact(
        CHARITY,
        SUPPORT,
        _at("2023-07-19", 11),
        "community_setting",
        "yes",
        "Holiday club; a plaster cast on her wrist, mother says a fall.",
        alone="no",
        concerns=True,
    )


def _millford_incident(s: Script) -> None:
    s.add(
        "hospital.admitted",
        M_HOSPITAL,
        M_PAED,
        _at("2023-07-28", 22, 15),
        {
            "episode_id": "EP-B-0003",
            "via": "a_and_e",
            "reason": "Head injury; unresponsive on arrival.",
        },
        lag=timedelta(minutes=30),
    )
    s.involvement(True, M_HOSPITAL, M_PAED, _at("2023-07-28", 22, 30), basis="health_care")
    s.contact(
        M_HOSPITAL,
        M_PAED,
        _at("2023-07-28", 22, 40),
        "hospital_ward",
        "yes",
        "Resuscitation room; mother and partner present.",
        alone="no",
        concerns=True,
    )
    head = s.add(
        "injury.observed",
        M_HOSPITAL,
        M_PAED,
        _at("2023-07-28", 23),
        {
            "body_region": "head",
            "injury_type": "fracture",
            "count": 1,
            "explanation_given": "fell down the stairs",
            "explanation_consistent": False,
            "suspected_non_accidental": True,
        },
    )
    # The skeletal survey dates healing rib fractures to between early June and mid-July.
    ribs = s.add(
        "injury.observed",
        M_HOSPITAL,
        M_PAED,
        None,
        {
            "body_region": "chest",
            "injury_type": "fracture",
            "count": 2,
            "explanation_given": "none given",
            "explanation_consistent": None,
            "suspected_non_accidental": True,
        },
        recorded=_at("2023-07-29", 15),
        occurred_precision="range",
        occurred_range={
            "not_before": "2023-06-01T00:00:00Z",
            "not_after": "2023-07-10T00:00:00Z",
        },
    )
    for to in (M_CSC, M_POLICE):
        s.add(
            "information.shared",
            M_HOSPITAL,
            M_PAED,
            _at("2023-07-29", 16),
            {
                "from_agency": M_HOSPITAL,
                "to_agency": to,
                "facts": [head, ribs],
                "channel": "phone",
                "conveyed": {
                    "concern": "stated",
                    "statement": "Suspected non-accidental head injury; older rib fractures.",
                    "urgency": "urgent",
                },
            },
        )
    s.add(
        "meeting.held",
        M_CSC,
        M_TM,
        _at("2023-07-31", 10),
        {
            "meeting_id": "MTG-B-STRAT4",
            "meeting_type": "strategy_meeting",
            "invited_agencies": [M_CSC, M_POLICE, M_HOSPITAL, M_SCHOOL, M_GP, CHARITY, FAITH],
            "attending_agencies": [M_CSC, M_POLICE, M_HOSPITAL, M_SCHOOL, CHARITY],
            "facts_tabled": [head, ribs],
        },
    )
    s.add(
        "decision.recorded",
        M_POLICE,
        M_PC,
        _at("2023-07-31", 12),
        {
            "decision_type": "police_investigation",
            "outcome": "proceed",
            "decided_by": M_PC,
            "rests_on": [head, ribs],
        },
    )
    s.add(
        "incident.notified",
        M_CSC,
        M_TM,
        _at("2023-08-02", 10),
        {
            "incident_type": "serious_harm",
            "incident_date": "2023-07-28",
            "notified_to": "national_review_panel",
        },
        lag=timedelta(hours=2),
    )
