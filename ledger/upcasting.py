"""Upcasters: old event versions read as the current one; what is stored is never rewritten.

An upcaster maps a payload of (type, version) to the payload of version + 1; chains apply in
turn. Every schema version below a type's newest has one (a test keeps that true).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]


def _contact_recorded_v1_to_v2(payload: Payload) -> Payload:
    """Two booleans (seen, seen alone) become one field that cannot contradict itself."""
    out = {k: v for k, v in payload.items() if k not in ("child_seen", "child_seen_alone")}
    alone = payload.get("child_seen_alone")
    if not payload["child_seen"]:
        out["child_seen"] = "not_seen"
    elif alone is None:
        out["child_seen"] = "seen"
    else:
        out["child_seen"] = "seen_alone" if alone else "seen_with_others"
    return out


# Version 2's one field, as version 3's whether seen and whether alone.
_CHILD_SEEN_V3 = {
    "seen_alone": ("yes", "yes"),
    "seen_with_others": ("yes", "no"),
    "seen": ("yes", "not_known"),
    "not_seen": ("no", None),
}


def _contact_recorded_v2_to_v3(payload: Payload) -> Payload:
    """Whether seen and whether seen alone become two fields, each of which may be not known."""
    seen, alone = _CHILD_SEEN_V3[payload["child_seen"]]
    out = {**payload, "child_seen": seen}
    if alone is not None:
        out["seen_alone"] = alone
    return out


def _same(payload: Payload) -> Payload:
    """The payload unchanged: the new version changed the envelope (version 2), not it."""
    return payload


# Types whose newest version is the previous payload on envelope version 2.
_ENVELOPE_2_ONLY = (
    ("acknowledged", 1),
    ("action.assigned", 1),
    ("action.completed", 1),
    ("alert.answered", 1),
    ("alert.raised", 1),
    ("correction.recorded", 1),
    ("decision.recorded", 1),
    ("entry.retracted", 1),
    ("household.changed", 1),
    ("meeting.held", 1),
    ("meeting.requested", 1),
    ("person.linked", 1),
    ("plan.ended", 1),
    ("plan.started", 1),
)


def _conveyed_not_stated(payload: Payload) -> Payload:
    """A share or referral from before `conveyed` existed said nothing of a concern."""
    return {**payload, "conveyed": {"concern": "not_stated"}}


UPCASTERS: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    ("contact.recorded", 1): _contact_recorded_v1_to_v2,
    ("contact.recorded", 2): _contact_recorded_v2_to_v3,
    ("case.opened", 1): _same,
    ("case.closed", 1): _same,
    **dict.fromkeys(_ENVELOPE_2_ONLY, _same),
    ("referral.made", 1): _conveyed_not_stated,
    ("information.shared", 1): _conveyed_not_stated,
    # Version 2 only widens what is accepted (`not_known`): the payload stands.
    ("concern.raised", 1): _same,
    ("injury.observed", 1): _same,
}


def upcast_payload(event_type: str, version: int, to_version: int, payload: Payload) -> Payload:
    """The payload of `version` as it reads at `to_version`."""
    for step in range(version, to_version):
        payload = UPCASTERS[(event_type, step)](payload)
    return payload
