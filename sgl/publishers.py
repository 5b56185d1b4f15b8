"""What a caller may publish over HTTP, read from its credentials: a publisher its own
agency's events, the admin the agency registry's events, and, where the credential names a
person, only events that person recorded.

These are checks of the request's body against the caller, before the append path applies the
rules that hold for every adapter (`ledger.publish_rules`).
"""

from __future__ import annotations

from typing import Any

from ledger.agency_rules import REGISTRY_TYPES
from ledger.errors import Problem
from sgl.identity import Caller

_REGISTRY = " and ".join(sorted(REGISTRY_TYPES))


def caller_problems(caller: Caller, body: Any) -> list[Problem]:
    """Each event of the body (one event, or a batch) its caller may not publish, by item
    index in a batch; fields missing or of the wrong type are left to validation."""
    if isinstance(body, list):
        return [
            Problem(p.pointer, p.rule, p.detail, index)
            for index, item in enumerate(body)
            for p in _event_problems(caller, item)
        ]
    return _event_problems(caller, body)


def _event_problems(caller: Caller, event: Any) -> list[Problem]:
    if not isinstance(event, dict):
        return []
    problems = _role_problems(caller, event)
    recorded_by = event.get("recorded_by")
    recorder = recorded_by.get("id") if isinstance(recorded_by, dict) else None
    if caller.person is not None and isinstance(recorder, str) and recorder != caller.person:
        problems.append(
            Problem(
                "/recorded_by/id",
                "recorded-by-caller",
                "the credential names the person who records its events: recorded_by.id "
                "must be theirs",
            )
        )
    return problems


def _role_problems(caller: Caller, event: dict[str, Any]) -> list[Problem]:
    kind = event.get("type")
    # A type that is not a string (even an unhashable one) is validation's to name.
    registry = isinstance(kind, str) and kind in REGISTRY_TYPES
    if caller.role == "admin":
        if registry:
            return []
        return [Problem("/type", "admin-registry-only", f"the admin publishes {_REGISTRY} only")]
    if caller.role != "publisher":
        return [Problem("", "publisher-role", f"a {caller.role} does not publish events")]
    if registry:
        return [Problem("/type", "registry-admin", f"only the admin publishes {_REGISTRY}")]
    agency = event.get("agency")
    if isinstance(agency, str) and agency != caller.agency:
        return [
            Problem(
                "/agency",
                "own-agency",
                f"a publisher for {caller.agency!r} publishes its own agency's events only",
            )
        ]
    return []
