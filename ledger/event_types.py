"""Typed payloads and one builder per event type, newest schema versions.

Generated from schemas/ by `python -m sgl.codegen`; do not edit by hand.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from ledger.builders import Envelope, Practitioner


class AcknowledgedPayload(TypedDict):
    """The payload of `acknowledged` v1."""

    acknowledges: str
    kind: Literal["received", "read", "actioned"]


def acknowledged(envelope: Envelope, payload: AcknowledgedPayload) -> dict[str, Any]:
    """Acknowledged (`acknowledged` v1)."""
    return envelope.event("acknowledged", 1, payload)


class ActionAssignedPayload(TypedDict):
    """The payload of `action.assigned` v1."""

    action_id: str
    owner: Practitioner
    owner_agency: str
    description: str
    due: str


def action_assigned(envelope: Envelope, payload: ActionAssignedPayload) -> dict[str, Any]:
    """Action assigned (`action.assigned` v1)."""
    return envelope.event("action.assigned", 1, payload)


class ActionCompletedPayload(TypedDict):
    """The payload of `action.completed` v1."""

    action_id: str
    outcome: NotRequired[str]


def action_completed(envelope: Envelope, payload: ActionCompletedPayload) -> dict[str, Any]:
    """Action completed (`action.completed` v1)."""
    return envelope.event("action.completed", 1, payload)


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
    """The payload of `alert.answered` v1."""

    alert_id: str
    response: Literal["action_taken", "escalated", "no_action_needed", "dismissed"]
    answered_by: Practitioner
    note: NotRequired[str]


def alert_answered(envelope: Envelope, payload: AlertAnsweredPayload) -> dict[str, Any]:
    """Alert answered (`alert.answered` v1)."""
    return envelope.event("alert.answered", 1, payload)


class AlertRaisedPayload(TypedDict):
    """The payload of `alert.raised` v1."""

    alert_id: str
    rule: str
    rule_version: str
    evidence: list[str]
    sent_to: list[str]
    summary: NotRequired[str]


def alert_raised(envelope: Envelope, payload: AlertRaisedPayload) -> dict[str, Any]:
    """Alert raised (`alert.raised` v1)."""
    return envelope.event("alert.raised", 1, payload)


class CaseClosedPayload(TypedDict):
    """The payload of `case.closed` v1."""

    reason: Literal["RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9"]
    closed_on: str


def case_closed(envelope: Envelope, payload: CaseClosedPayload) -> dict[str, Any]:
    """Case closed (`case.closed` v1)."""
    return envelope.event("case.closed", 1, payload)


class CaseOpenedPayload(TypedDict):
    """The payload of `case.opened` v1."""

    date_of_birth: str
    lead_agency: str
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
    """Case opened (`case.opened` v1)."""
    return envelope.event("case.opened", 1, payload)


class ConcernRaisedPayload(TypedDict):
    """The payload of `concern.raised` v1."""

    category: Literal["NEG", "PHY", "SAB", "EMO", "MUL"]
    severity: Literal["low", "medium", "high", "critical"]
    description: str
    about_person_id: NotRequired[str]


def concern_raised(envelope: Envelope, payload: ConcernRaisedPayload) -> dict[str, Any]:
    """Concern raised (`concern.raised` v1)."""
    return envelope.event("concern.raised", 1, payload)


class ContactRecordedPayload(TypedDict):
    """The payload of `contact.recorded` v2."""

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
    ]
    child_seen: Literal["seen_alone", "seen_with_others", "seen", "not_seen"]
    summary: NotRequired[str]


def contact_recorded(envelope: Envelope, payload: ContactRecordedPayload) -> dict[str, Any]:
    """Contact recorded (`contact.recorded` v2)."""
    return envelope.event("contact.recorded", 2, payload)


class CorrectionRecordedPayload(TypedDict):
    """The payload of `correction.recorded` v1."""

    corrected_payload: dict[str, Any]
    corrected_occurred_at: NotRequired[str]
    reason: str


def correction_recorded(envelope: Envelope, payload: CorrectionRecordedPayload) -> dict[str, Any]:
    """Correction recorded (`correction.recorded` v1)."""
    return envelope.event("correction.recorded", 1, payload)


class DecisionRecordedPayload(TypedDict):
    """The payload of `decision.recorded` v1."""

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
    """Decision recorded (`decision.recorded` v1)."""
    return envelope.event("decision.recorded", 1, payload)


class EntryRetractedPayload(TypedDict):
    """The payload of `entry.retracted` v1."""

    reason: str


def entry_retracted(envelope: Envelope, payload: EntryRetractedPayload) -> dict[str, Any]:
    """Entry retracted (`entry.retracted` v1)."""
    return envelope.event("entry.retracted", 1, payload)


class HouseholdChangedPayload(TypedDict):
    """The payload of `household.changed` v1."""

    person_id: str
    change: Literal["joined", "left"]
    effective_from: str
    how_known: Literal["self_report", "observed", "third_party", "agency_record", "other"]


def household_changed(envelope: Envelope, payload: HouseholdChangedPayload) -> dict[str, Any]:
    """Household changed (`household.changed` v1)."""
    return envelope.event("household.changed", 1, payload)


class InformationSharedPayload(TypedDict):
    """The payload of `information.shared` v1."""

    from_agency: str
    to_agency: str
    facts: list[str]
    channel: Literal[
        "phone", "email", "secure_email", "letter", "in_person", "meeting", "case_system", "other"
    ]


def information_shared(envelope: Envelope, payload: InformationSharedPayload) -> dict[str, Any]:
    """Information shared (`information.shared` v1)."""
    return envelope.event("information.shared", 1, payload)


class InjuryObservedPayload(TypedDict):
    """The payload of `injury.observed` v1."""

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
    count: int
    size_mm: NotRequired[int]
    colour: NotRequired[str]
    explanation_given: NotRequired[str]
    explanation_consistent: NotRequired[bool | None]
    suspected_non_accidental: bool


def injury_observed(envelope: Envelope, payload: InjuryObservedPayload) -> dict[str, Any]:
    """Injury observed (`injury.observed` v1)."""
    return envelope.event("injury.observed", 1, payload)


class MeetingHeldPayload(TypedDict):
    """The payload of `meeting.held` v1."""

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
    """Meeting held (`meeting.held` v1)."""
    return envelope.event("meeting.held", 1, payload)


class MeetingRequestedPayload(TypedDict):
    """The payload of `meeting.requested` v1."""

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
    """Meeting requested (`meeting.requested` v1)."""
    return envelope.event("meeting.requested", 1, payload)


class PersonLinkedPayload(TypedDict):
    """The payload of `person.linked` v1."""

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
    """Person linked (`person.linked` v1)."""
    return envelope.event("person.linked", 1, payload)


class PlanEndedPayload(TypedDict):
    """The payload of `plan.ended` v1."""

    plan_id: str
    end_date: str
    reason: Literal["no_longer_at_risk", "transferred", "child_in_care", "moved_away", "other"]


def plan_ended(envelope: Envelope, payload: PlanEndedPayload) -> dict[str, Any]:
    """Plan ended (`plan.ended` v1)."""
    return envelope.event("plan.ended", 1, payload)


class PlanStartedPayload(TypedDict):
    """The payload of `plan.started` v1."""

    plan_id: str
    category: Literal["NEG", "PHY", "SAB", "EMO", "MUL"]
    start_date: str


def plan_started(envelope: Envelope, payload: PlanStartedPayload) -> dict[str, Any]:
    """Plan started (`plan.started` v1)."""
    return envelope.event("plan.started", 1, payload)


class ReferralMadePayload(TypedDict):
    """The payload of `referral.made` v1."""

    from_agency: str
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


def referral_made(envelope: Envelope, payload: ReferralMadePayload) -> dict[str, Any]:
    """Referral made (`referral.made` v1)."""
    return envelope.event("referral.made", 1, payload)


__all__ = [
    "AcknowledgedPayload",
    "ActionAssignedPayload",
    "ActionCompletedPayload",
    "AgencyRegisteredPayload",
    "AgencyUpdatedPayload",
    "AlertAnsweredPayload",
    "AlertRaisedPayload",
    "CaseClosedPayload",
    "CaseOpenedPayload",
    "ConcernRaisedPayload",
    "ContactRecordedPayload",
    "CorrectionRecordedPayload",
    "DecisionRecordedPayload",
    "EntryRetractedPayload",
    "HouseholdChangedPayload",
    "InformationSharedPayload",
    "InjuryObservedPayload",
    "MeetingHeldPayload",
    "MeetingRequestedPayload",
    "PersonLinkedPayload",
    "PlanEndedPayload",
    "PlanStartedPayload",
    "ReferralMadePayload",
    "acknowledged",
    "action_assigned",
    "action_completed",
    "agency_registered",
    "agency_updated",
    "alert_answered",
    "alert_raised",
    "case_closed",
    "case_opened",
    "concern_raised",
    "contact_recorded",
    "correction_recorded",
    "decision_recorded",
    "entry_retracted",
    "household_changed",
    "information_shared",
    "injury_observed",
    "meeting_held",
    "meeting_requested",
    "person_linked",
    "plan_ended",
    "plan_started",
    "referral_made",
]
