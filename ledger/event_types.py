"""Typed payloads and one builder per event type, newest schema versions.

Generated from schemas/ by `python -m sgl.codegen`; do not edit by hand.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from ledger.builders import Envelope, Practitioner, Role


class AcknowledgedPayload(TypedDict):
    """The payload of `acknowledged` v2."""

    acknowledges: str
    kind: Literal["received", "read", "actioned"]


def acknowledged(envelope: Envelope, payload: AcknowledgedPayload) -> dict[str, Any]:
    """Acknowledged (`acknowledged` v2)."""
    return envelope.event("acknowledged", 2, payload)


class ActionAssignedPayload(TypedDict):
    """The payload of `action.assigned` v2."""

    action_id: str
    owner: Practitioner
    owner_agency: str
    description: str
    due: str


def action_assigned(envelope: Envelope, payload: ActionAssignedPayload) -> dict[str, Any]:
    """Action assigned (`action.assigned` v2)."""
    return envelope.event("action.assigned", 2, payload)


class ActionCompletedPayload(TypedDict):
    """The payload of `action.completed` v2."""

    action_id: str
    outcome: NotRequired[str]


def action_completed(envelope: Envelope, payload: ActionCompletedPayload) -> dict[str, Any]:
    """Action completed (`action.completed` v2)."""
    return envelope.event("action.completed", 2, payload)


class AgencyRegisteredPayload(TypedDict):
    """The payload of `agency.registered` v1."""

    agency_id: str
    name: str
    kind: Literal[
        "childrens_social_care",
        "police",
        "hospital",
        "gp",
        "community_health",
        "education",
        "early_years",
        "housing",
        "probation",
        "legal",
        "voluntary",
        "faith",
        "other",
    ]
    statutory: bool
    area: NotRequired[str]
    parent: NotRequired[str]


def agency_registered(envelope: Envelope, payload: AgencyRegisteredPayload) -> dict[str, Any]:
    """Agency registered (`agency.registered` v1)."""
    return envelope.event("agency.registered", 1, payload)


class AgencyUpdatedPayload(TypedDict):
    """The payload of `agency.updated` v1."""

    agency_id: str
    name: NotRequired[str]
    kind: NotRequired[
        Literal[
            "childrens_social_care",
            "police",
            "hospital",
            "gp",
            "community_health",
            "education",
            "early_years",
            "housing",
            "probation",
            "legal",
            "voluntary",
            "faith",
            "other",
        ]
    ]
    statutory: NotRequired[bool]
    area: NotRequired[str]
    parent: NotRequired[str]


def agency_updated(envelope: Envelope, payload: AgencyUpdatedPayload) -> dict[str, Any]:
    """Agency updated (`agency.updated` v1)."""
    return envelope.event("agency.updated", 1, payload)


class AlertAnsweredPayload(TypedDict):
    """The payload of `alert.answered` v2."""

    alert_id: str
    response: Literal["action_taken", "escalated", "no_action_needed", "dismissed"]
    answered_by: Practitioner
    note: NotRequired[str]


def alert_answered(envelope: Envelope, payload: AlertAnsweredPayload) -> dict[str, Any]:
    """Alert answered (`alert.answered` v2)."""
    return envelope.event("alert.answered", 2, payload)


class AlertRaisedPayload(TypedDict):
    """The payload of `alert.raised` v2."""

    alert_id: str
    rule: str
    rule_version: str
    evidence: list[str]
    sent_to: list[str]
    summary: NotRequired[str]


def alert_raised(envelope: Envelope, payload: AlertRaisedPayload) -> dict[str, Any]:
    """Alert raised (`alert.raised` v2)."""
    return envelope.event("alert.raised", 2, payload)


class AllegationMadePayload(TypedDict):
    """The payload of `allegation.made` v1."""

    allegation_id: str
    category: Literal["NEG", "PHY", "SAB", "EMO", "MUL"]
    made_by: dict[str, Any]
    about_person_id: NotRequired[str]
    summary: NotRequired[str]


def allegation_made(envelope: Envelope, payload: AllegationMadePayload) -> dict[str, Any]:
    """Allegation made (`allegation.made` v1)."""
    return envelope.event("allegation.made", 1, payload)


class AllegationWithdrawnPayload(TypedDict):
    """The payload of `allegation.withdrawn` v1."""

    allegation_id: str
    withdrawn_by: dict[str, Any]
    reason: NotRequired[str]


def allegation_withdrawn(envelope: Envelope, payload: AllegationWithdrawnPayload) -> dict[str, Any]:
    """Allegation withdrawn (`allegation.withdrawn` v1)."""
    return envelope.event("allegation.withdrawn", 1, payload)


class AreaChangedPayload(TypedDict):
    """The payload of `area.changed` v1."""

    area: str
    reason: Literal["family_moved", "case_transferred", "other"]
    responsible_agency: NotRequired[str]
    detail: NotRequired[str]


def area_changed(envelope: Envelope, payload: AreaChangedPayload) -> dict[str, Any]:
    """Responsible area changed (`area.changed` v1)."""
    return envelope.event("area.changed", 1, payload)


class AssessmentCompletedPayload(TypedDict):
    """The payload of `assessment.completed` v1."""

    assessment_id: str
    outcome: Literal[
        "no_further_action",
        "early_help",
        "child_in_need_plan",
        "s47_enquiry",
        "child_protection_conference",
        "other",
    ]


def assessment_completed(envelope: Envelope, payload: AssessmentCompletedPayload) -> dict[str, Any]:
    """Assessment completed (`assessment.completed` v1)."""
    return envelope.event("assessment.completed", 1, payload)


class AssessmentEndedIncompletePayload(TypedDict):
    """The payload of `assessment.ended_incomplete` v1."""

    assessment_id: str
    reason: Literal["family_disengaged", "moved_away", "closed_by_manager", "other"]
    detail: NotRequired[str]


def assessment_ended_incomplete(
    envelope: Envelope, payload: AssessmentEndedIncompletePayload
) -> dict[str, Any]:
    """Assessment ended incomplete (`assessment.ended_incomplete` v1)."""
    return envelope.event("assessment.ended_incomplete", 1, payload)


class AssessmentStartedPayload(TypedDict):
    """The payload of `assessment.started` v1."""

    assessment_id: str
    assessment_type: Literal["single_assessment", "s47_enquiry", "early_help", "health", "other"]


def assessment_started(envelope: Envelope, payload: AssessmentStartedPayload) -> dict[str, Any]:
    """Assessment started (`assessment.started` v1)."""
    return envelope.event("assessment.started", 1, payload)


class CaseClosedPayload(TypedDict):
    """The payload of `case.closed` v2."""

    reason: Literal["RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9"]
    closed_on: str


def case_closed(envelope: Envelope, payload: CaseClosedPayload) -> dict[str, Any]:
    """Case closed (`case.closed` v2)."""
    return envelope.event("case.closed", 2, payload)


class CaseOpenedPayload(TypedDict):
    """The payload of `case.opened` v2."""

    date_of_birth: str | Literal["not_known"]
    lead_agency: str
    responsible_area: NotRequired[str]
    referral_source: NotRequired[
        Literal[
            "1A",
            "1B",
            "1C",
            "1D",
            "2A",
            "2B",
            "3A",
            "3B",
            "3C",
            "3D",
            "3E",
            "3F",
            "4",
            "5A",
            "5B",
            "5C",
            "6",
            "7",
            "8",
            "9",
        ]
    ]
    primary_need: NotRequired[Literal["N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9"]]


def case_opened(envelope: Envelope, payload: CaseOpenedPayload) -> dict[str, Any]:
    """Case opened (`case.opened` v2)."""
    return envelope.event("case.opened", 2, payload)


class ConcernRaisedPayload(TypedDict):
    """The payload of `concern.raised` v2."""

    category: Literal["NEG", "PHY", "SAB", "EMO", "MUL"]
    severity: Literal["low", "medium", "high", "critical", "not_known"]
    description: str
    about_person_id: NotRequired[str]


def concern_raised(envelope: Envelope, payload: ConcernRaisedPayload) -> dict[str, Any]:
    """Concern raised (`concern.raised` v2)."""
    return envelope.event("concern.raised", 2, payload)


class ContactRecordedPayload(TypedDict):
    """The payload of `contact.recorded` v3."""

    contact_type: Literal[
        "home_visit",
        "office_visit",
        "clinic",
        "gp_appointment",
        "a_and_e",
        "hospital_admission",
        "school",
        "nursery",
        "phone",
        "police_visit",
        "other",
        "video_call",
        "hospital_ward",
        "childminder_setting",
        "faith_setting",
        "community_setting",
    ]
    child_seen: Literal["yes", "no", "not_known"]
    seen_alone: NotRequired[Literal["yes", "no", "not_known"]]
    seen_by_role: NotRequired[Role]
    source: NotRequired[dict[str, Any]]
    concerns_noted: NotRequired[bool | Literal["not_known"]]
    summary: NotRequired[str]


def contact_recorded(envelope: Envelope, payload: ContactRecordedPayload) -> dict[str, Any]:
    """Contact recorded (`contact.recorded` v3)."""
    return envelope.event("contact.recorded", 3, payload)


class CorrectionRecordedPayload(TypedDict):
    """The payload of `correction.recorded` v2."""

    corrected_payload: dict[str, Any]
    corrected_occurred_at: NotRequired[str]
    reason: str


def correction_recorded(envelope: Envelope, payload: CorrectionRecordedPayload) -> dict[str, Any]:
    """Correction recorded (`correction.recorded` v2)."""
    return envelope.event("correction.recorded", 2, payload)


class DecisionRecordedPayload(TypedDict):
    """The payload of `decision.recorded` v2."""

    decision_type: Literal[
        "referral_outcome",
        "strategy_discussion_outcome",
        "s47_enquiry",
        "cp_plan",
        "threshold_care_proceedings",
        "pre_proceedings",
        "police_investigation",
        "no_further_action",
        "other",
    ]
    outcome: Literal["met", "not_met", "not_at_present", "proceed", "decline", "defer", "other"]
    decided_by: Practitioner
    rationale: NotRequired[str]
    rests_on: NotRequired[list[str]]


def decision_recorded(envelope: Envelope, payload: DecisionRecordedPayload) -> dict[str, Any]:
    """Decision recorded (`decision.recorded` v2)."""
    return envelope.event("decision.recorded", 2, payload)


class EntryRetractedPayload(TypedDict):
    """The payload of `entry.retracted` v2."""

    reason: str


def entry_retracted(envelope: Envelope, payload: EntryRetractedPayload) -> dict[str, Any]:
    """Entry retracted (`entry.retracted` v2)."""
    return envelope.event("entry.retracted", 2, payload)


class HospitalAdmittedPayload(TypedDict):
    """The payload of `hospital.admitted` v1."""

    episode_id: str
    via: Literal["a_and_e", "gp_referral", "planned", "transfer", "other", "not_known"]
    reason: NotRequired[str]


def hospital_admitted(envelope: Envelope, payload: HospitalAdmittedPayload) -> dict[str, Any]:
    """Hospital admitted (`hospital.admitted` v1)."""
    return envelope.event("hospital.admitted", 1, payload)


class HospitalDischargedPayload(TypedDict):
    """The payload of `hospital.discharged` v1."""

    episode_id: str
    discharged_to: Literal[
        "home", "relative", "foster_care", "other_hospital", "other", "not_known"
    ]
    safeguarding_plan_in_place: NotRequired[Literal[True, False, "not_known"]]


def hospital_discharged(envelope: Envelope, payload: HospitalDischargedPayload) -> dict[str, Any]:
    """Hospital discharged (`hospital.discharged` v1)."""
    return envelope.event("hospital.discharged", 1, payload)


class HouseholdChangedPayload(TypedDict):
    """The payload of `household.changed` v2."""

    person_id: str
    change: Literal["joined", "left"]
    effective_from: str
    how_known: Literal["self_report", "observed", "third_party", "agency_record", "other"]


def household_changed(envelope: Envelope, payload: HouseholdChangedPayload) -> dict[str, Any]:
    """Household changed (`household.changed` v2)."""
    return envelope.event("household.changed", 2, payload)


class IncidentNotifiedPayload(TypedDict):
    """The payload of `incident.notified` v1."""

    incident_type: Literal["child_death", "serious_harm"]
    incident_date: str | Literal["not_known"]
    notified_to: Literal["national_review_panel", "ofsted", "safeguarding_partnership", "other"]


def incident_notified(envelope: Envelope, payload: IncidentNotifiedPayload) -> dict[str, Any]:
    """Incident notified (`incident.notified` v1)."""
    return envelope.event("incident.notified", 1, payload)


class InformationSharedPayload(TypedDict):
    """The payload of `information.shared` v2."""

    from_agency: str
    to_agency: str
    facts: list[str]
    channel: Literal[
        "phone", "email", "secure_email", "letter", "in_person", "meeting", "case_system", "other"
    ]
    conveyed: NotRequired[dict[str, Any]]


def information_shared(envelope: Envelope, payload: InformationSharedPayload) -> dict[str, Any]:
    """Information shared (`information.shared` v2)."""
    return envelope.event("information.shared", 2, payload)


class InformationWithheldPayload(TypedDict):
    """The payload of `information.withheld` v1."""

    facts: list[str]
    withheld_from: list[str]
    reason: Literal[
        "would_place_child_at_greater_risk",
        "would_prejudice_investigation",
        "not_relevant_to_recipient",
        "consent_refused_not_overridden",
        "restricted_by_court_order",
        "other",
    ]
    explanation: str


def information_withheld(envelope: Envelope, payload: InformationWithheldPayload) -> dict[str, Any]:
    """Information withheld (`information.withheld` v1)."""
    return envelope.event("information.withheld", 1, payload)


class InjuryObservedPayload(TypedDict):
    """The payload of `injury.observed` v2."""

    body_region: Literal[
        "head",
        "scalp",
        "face",
        "forehead",
        "eye",
        "ear",
        "mouth",
        "neck",
        "chest",
        "back",
        "abdomen",
        "buttocks",
        "genitals",
        "arm_left",
        "arm_right",
        "hand_left",
        "hand_right",
        "leg_left",
        "leg_right",
        "foot_left",
        "foot_right",
        "other",
    ]
    injury_type: Literal[
        "bruise",
        "abrasion",
        "laceration",
        "burn",
        "scald",
        "fracture",
        "bite",
        "scratch",
        "swelling",
        "petechiae",
        "torn_frenulum",
        "other",
    ]
    count: int | Literal["not_known"]
    size_mm: NotRequired[int]
    colour: NotRequired[str]
    explanation_given: NotRequired[str]
    explanation_consistent: NotRequired[Literal[True, False, None, "not_known"]]
    suspected_non_accidental: Literal[True, False, "not_known"]


def injury_observed(envelope: Envelope, payload: InjuryObservedPayload) -> dict[str, Any]:
    """Injury observed (`injury.observed` v2)."""
    return envelope.event("injury.observed", 2, payload)


class InvolvementClosedPayload(TypedDict):
    """The payload of `involvement.closed` v1."""

    reason: Literal[
        "no_further_action",
        "service_complete",
        "case_transferred",
        "moved_out_of_area",
        "no_engagement",
        "child_died",
        "other",
    ]
    detail: NotRequired[str]
    cin_closure_reason: NotRequired[
        Literal["RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9"]
    ]


def involvement_closed(envelope: Envelope, payload: InvolvementClosedPayload) -> dict[str, Any]:
    """Involvement closed (`involvement.closed` v1)."""
    return envelope.event("involvement.closed", 1, payload)


class InvolvementOpenedPayload(TypedDict):
    """The payload of `involvement.opened` v1."""

    basis: Literal[
        "referral",
        "assessment",
        "child_protection_plan",
        "child_in_need_plan",
        "health_care",
        "education",
        "police_investigation",
        "support_service",
        "legal",
        "other",
    ]
    summary: NotRequired[str]


def involvement_opened(envelope: Envelope, payload: InvolvementOpenedPayload) -> dict[str, Any]:
    """Involvement opened (`involvement.opened` v1)."""
    return envelope.event("involvement.opened", 1, payload)


class LeadChangedPayload(TypedDict):
    """The payload of `lead.changed` v1."""

    lead_agency: str
    reason: NotRequired[str]


def lead_changed(envelope: Envelope, payload: LeadChangedPayload) -> dict[str, Any]:
    """Lead agency changed (`lead.changed` v1)."""
    return envelope.event("lead.changed", 1, payload)


class MeetingHeldPayload(TypedDict):
    """The payload of `meeting.held` v2."""

    meeting_id: str
    meeting_type: Literal[
        "strategy_discussion",
        "strategy_meeting",
        "initial_cp_conference",
        "review_cp_conference",
        "core_group",
        "legal_planning_meeting",
        "professionals_meeting",
        "other",
    ]
    invited_agencies: list[str]
    attending_agencies: list[str]
    facts_tabled: NotRequired[list[str]]
    chaired_by: NotRequired[Practitioner]
    summary: NotRequired[str]


def meeting_held(envelope: Envelope, payload: MeetingHeldPayload) -> dict[str, Any]:
    """Meeting held (`meeting.held` v2)."""
    return envelope.event("meeting.held", 2, payload)


class MeetingRequestedPayload(TypedDict):
    """The payload of `meeting.requested` v2."""

    meeting_id: str
    meeting_type: Literal[
        "strategy_discussion",
        "strategy_meeting",
        "initial_cp_conference",
        "review_cp_conference",
        "core_group",
        "legal_planning_meeting",
        "professionals_meeting",
        "other",
    ]
    requested_by: Practitioner
    reason: NotRequired[str]
    wanted_by: NotRequired[str]


def meeting_requested(envelope: Envelope, payload: MeetingRequestedPayload) -> dict[str, Any]:
    """Meeting requested (`meeting.requested` v2)."""
    return envelope.event("meeting.requested", 2, payload)


class PersonLinkedPayload(TypedDict):
    """The payload of `person.linked` v2."""

    person_id: str
    role: Literal[
        "mother",
        "father",
        "step_parent",
        "partner_of_parent",
        "lodger",
        "sibling",
        "half_sibling",
        "grandparent",
        "other_relative",
        "foster_carer",
        "other_carer",
        "other_adult",
        "other_child",
    ]
    is_adult: bool
    identity_verified: bool
    source: Literal[
        "self_report", "family_member", "agency_record", "police_check", "documents", "other"
    ]
    lives_in_household: NotRequired[bool]


def person_linked(envelope: Envelope, payload: PersonLinkedPayload) -> dict[str, Any]:
    """Person linked (`person.linked` v2)."""
    return envelope.event("person.linked", 2, payload)


class PlanEndedPayload(TypedDict):
    """The payload of `plan.ended` v2."""

    plan_id: str
    end_date: str
    reason: Literal["no_longer_at_risk", "transferred", "child_in_care", "moved_away", "other"]


def plan_ended(envelope: Envelope, payload: PlanEndedPayload) -> dict[str, Any]:
    """Plan ended (`plan.ended` v2)."""
    return envelope.event("plan.ended", 2, payload)


class PlanStartedPayload(TypedDict):
    """The payload of `plan.started` v2."""

    plan_id: str
    category: Literal["NEG", "PHY", "SAB", "EMO", "MUL"]
    start_date: str


def plan_started(envelope: Envelope, payload: PlanStartedPayload) -> dict[str, Any]:
    """Plan started (`plan.started` v2)."""
    return envelope.event("plan.started", 2, payload)


class PoliceProtectionEndedPayload(TypedDict):
    """The payload of `police_protection.ended` v1."""

    protection_id: str
    outcome: Literal[
        "returned_home",
        "placed_with_relative",
        "accommodated",
        "emergency_protection_order",
        "other",
    ]


def police_protection_ended(
    envelope: Envelope, payload: PoliceProtectionEndedPayload
) -> dict[str, Any]:
    """Police protection ended (`police_protection.ended` v1)."""
    return envelope.event("police_protection.ended", 1, payload)


class PoliceProtectionTakenPayload(TypedDict):
    """The payload of `police_protection.taken` v1."""

    protection_id: str
    power: NotRequired[str]


def police_protection_taken(
    envelope: Envelope, payload: PoliceProtectionTakenPayload
) -> dict[str, Any]:
    """Police protection taken (`police_protection.taken` v1)."""
    return envelope.event("police_protection.taken", 1, payload)


class ReferralMadePayload(TypedDict):
    """The payload of `referral.made` v2."""

    from_agency: NotRequired[str]
    source: NotRequired[dict[str, Any]]
    to_agency: str
    reason: str
    referral_source: NotRequired[
        Literal[
            "1A",
            "1B",
            "1C",
            "1D",
            "2A",
            "2B",
            "3A",
            "3B",
            "3C",
            "3D",
            "3E",
            "3F",
            "4",
            "5A",
            "5B",
            "5C",
            "6",
            "7",
            "8",
            "9",
        ]
    ]
    facts: NotRequired[list[str]]
    conveyed: dict[str, Any]


def referral_made(envelope: Envelope, payload: ReferralMadePayload) -> dict[str, Any]:
    """Referral made (`referral.made` v2)."""
    return envelope.event("referral.made", 2, payload)


class VisitCancelledPayload(TypedDict):
    """The payload of `visit.cancelled` v1."""

    visit_id: str
    cancelled_by: Literal["agency", "family", "other", "not_known"]
    reason: str


def visit_cancelled(envelope: Envelope, payload: VisitCancelledPayload) -> dict[str, Any]:
    """Visit cancelled (`visit.cancelled` v1)."""
    return envelope.event("visit.cancelled", 1, payload)


class VisitNoAccessPayload(TypedDict):
    """The payload of `visit.no_access` v1."""

    visit_id: NotRequired[str]
    detail: NotRequired[str]


def visit_no_access(envelope: Envelope, payload: VisitNoAccessPayload) -> dict[str, Any]:
    """Visit: no access (`visit.no_access` v1)."""
    return envelope.event("visit.no_access", 1, payload)


class VisitPlannedPayload(TypedDict):
    """The payload of `visit.planned` v1."""

    visit_id: str
    visit_type: Literal["home_visit", "statutory_visit", "health_visit", "school_visit", "other"]
    planned_for: str
    announced: NotRequired[Literal[True, False, "not_known"]]


def visit_planned(envelope: Envelope, payload: VisitPlannedPayload) -> dict[str, Any]:
    """Visit planned (`visit.planned` v1)."""
    return envelope.event("visit.planned", 1, payload)


class WhereaboutsFoundPayload(TypedDict):
    """The payload of `whereabouts.found` v1."""

    area: NotRequired[str]
    detail: NotRequired[str]


def whereabouts_found(envelope: Envelope, payload: WhereaboutsFoundPayload) -> dict[str, Any]:
    """Whereabouts found (`whereabouts.found` v1)."""
    return envelope.event("whereabouts.found", 1, payload)


class WhereaboutsUnknownPayload(TypedDict):
    """The payload of `whereabouts.unknown` v1."""

    last_known_area: NotRequired[str]
    detail: NotRequired[str]


def whereabouts_unknown(envelope: Envelope, payload: WhereaboutsUnknownPayload) -> dict[str, Any]:
    """Whereabouts unknown (`whereabouts.unknown` v1)."""
    return envelope.event("whereabouts.unknown", 1, payload)


__all__ = [
    "AcknowledgedPayload",
    "ActionAssignedPayload",
    "ActionCompletedPayload",
    "AgencyRegisteredPayload",
    "AgencyUpdatedPayload",
    "AlertAnsweredPayload",
    "AlertRaisedPayload",
    "AllegationMadePayload",
    "AllegationWithdrawnPayload",
    "AreaChangedPayload",
    "AssessmentCompletedPayload",
    "AssessmentEndedIncompletePayload",
    "AssessmentStartedPayload",
    "CaseClosedPayload",
    "CaseOpenedPayload",
    "ConcernRaisedPayload",
    "ContactRecordedPayload",
    "CorrectionRecordedPayload",
    "DecisionRecordedPayload",
    "EntryRetractedPayload",
    "HospitalAdmittedPayload",
    "HospitalDischargedPayload",
    "HouseholdChangedPayload",
    "IncidentNotifiedPayload",
    "InformationSharedPayload",
    "InformationWithheldPayload",
    "InjuryObservedPayload",
    "InvolvementClosedPayload",
    "InvolvementOpenedPayload",
    "LeadChangedPayload",
    "MeetingHeldPayload",
    "MeetingRequestedPayload",
    "PersonLinkedPayload",
    "PlanEndedPayload",
    "PlanStartedPayload",
    "PoliceProtectionEndedPayload",
    "PoliceProtectionTakenPayload",
    "ReferralMadePayload",
    "VisitCancelledPayload",
    "VisitNoAccessPayload",
    "VisitPlannedPayload",
    "WhereaboutsFoundPayload",
    "WhereaboutsUnknownPayload",
    "acknowledged",
    "action_assigned",
    "action_completed",
    "agency_registered",
    "agency_updated",
    "alert_answered",
    "alert_raised",
    "allegation_made",
    "allegation_withdrawn",
    "area_changed",
    "assessment_completed",
    "assessment_ended_incomplete",
    "assessment_started",
    "case_closed",
    "case_opened",
    "concern_raised",
    "contact_recorded",
    "correction_recorded",
    "decision_recorded",
    "entry_retracted",
    "hospital_admitted",
    "hospital_discharged",
    "household_changed",
    "incident_notified",
    "information_shared",
    "information_withheld",
    "injury_observed",
    "involvement_closed",
    "involvement_opened",
    "lead_changed",
    "meeting_held",
    "meeting_requested",
    "person_linked",
    "plan_ended",
    "plan_started",
    "police_protection_ended",
    "police_protection_taken",
    "referral_made",
    "visit_cancelled",
    "visit_no_access",
    "visit_planned",
    "whereabouts_found",
    "whereabouts_unknown",
]
