"""A schemathesis check, loaded through SCHEMATHESIS_HOOKS: no response carries a case or a fact
outside the caller's scope.

SGL_OUT_OF_SCOPE_CASES names the cases no case read may answer (2xx) for this caller;
SGL_OUT_OF_SCOPE_FACTS the event ids no event's route (its proof) may answer for, and no
response may carry unless the request itself named them (an error quoting what was asked
reveals nothing).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis


def _named(variable: str) -> tuple[str, ...]:
    return tuple(item for item in os.environ.get(variable, "").split(",") if item)


CASES = _named("SGL_OUT_OF_SCOPE_CASES")
FACTS = _named("SGL_OUT_OF_SCOPE_FACTS")


@schemathesis.check
def within_need_to_know(ctx: Any, response: Any, case: Any) -> bool | None:
    """Fail on a read answered for a case or an event out of scope, or on a body carrying a
    fact out of scope that the request did not name."""
    named = case.path_parameters or {}
    case_id, event_id = named.get("case_id"), str(named.get("event_id", "")).lower()
    if 200 <= response.status_code < 300 and (case_id in CASES or event_id in FACTS):
        raise AssertionError(f"{case.path} answered {response.status_code} for {named}")
    asked = f"{case.formatted_path} {case.query or {}}".lower()
    body = response.content.decode("utf-8", errors="replace").lower()
    carried = [fact for fact in FACTS if fact in body and fact not in asked]
    if carried:
        raise AssertionError(f"{case.path} carried facts out of scope: {', '.join(carried)}")
    return None
