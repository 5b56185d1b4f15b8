"""Who may call each route: one rule per method and path template, and the app refuses to
build while a route has none (so a new route cannot be reached before someone decides).

Scopes:

- `public`: no token (liveness, metrics, the API's documents and the event schemas);
- `authenticated`: any valid token (the agency registry and checkpoints; an event's proof,
  which carries the event's record, is recorded in its case's report);
- `publish`: POST /v1/events, by a publisher (its own agency's events) or the admin (the
  registry's events); what the body may say is the append path's to check;
- `case`: one child's data, recorded on the access log;
- `ledger`: reports across every case, recorded on the access log;
- `access_log`: who read a child's record, recorded too;
- `annotate`: an inquiry's note about a case (on the notes log, never the ledger), recorded
  on the access log like a read (its answer says whether an event is the case's).

Inquiry and auditor see every case and so state a purpose with every request they make.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sgl.identity import READS_ALL, ROLES, Role

Scope = Literal["public", "authenticated", "publish", "case", "ledger", "access_log", "annotate"]


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may call a route, and whether a call is put on the access log."""

    scope: Scope
    roles: frozenset[Role]
    recorded: bool

    def takes_purpose(self) -> bool:
        """Whether a caller may state a purpose here: wherever a role that must may call."""
        return self.scope != "public" and bool(self.roles & READS_ALL)

    def needs_purpose(self, role: Role) -> bool:
        """Whether a caller of this role must state a purpose here."""
        return self.scope != "public" and role in READS_ALL


class MissingRules(RuntimeError):
    """Routes of the app that no rule covers."""


PUBLIC = Rule("public", frozenset(), recorded=False)
ANY_CALLER = Rule("authenticated", frozenset(ROLES), recorded=False)
PUBLISH = Rule("publish", frozenset({"publisher", "admin"}), recorded=False)
CASE = Rule("case", frozenset({"inquiry", "auditor"}), recorded=True)
# The case reads a practitioner may make too: each answers from what its agency knew
# (sgl/queries/scope.py); the other case reads compare agencies or pool what no one agency
# knew, and stay inquiry's and auditor's.
NEED_TO_KNOW = Rule("case", frozenset({"inquiry", "auditor", "practitioner"}), recorded=True)
# An inclusion proof carries the event's exact record (case data): recorded, in its case.
PROOF = Rule("authenticated", frozenset(ROLES), recorded=True)
LEDGER = Rule("ledger", frozenset({"inquiry", "auditor"}), recorded=True)
# A practitioner only of an agency involved in the case (the route decides: sgl.queries.involved).
ACCESS_LOG = Rule("access_log", frozenset({"auditor", "practitioner"}), recorded=True)
ANNOTATE = Rule("annotate", frozenset({"inquiry"}), recorded=True)

# The workbench's pages (sgl/web): signing in and out needs no token; the case list reads
# across cases (a practitioner's, those its agency is in) and is recorded like the API's reads.
CASE_LIST = Rule("ledger", frozenset({"inquiry", "auditor", "practitioner"}), recorded=True)
# The case page, an event's record and its proof download answer as the API's case reads do
# (a practitioner, from what its agency knew); the case is in the path, so each view, the
# proof download too, is recorded in that case's report.
CASE_PAGE = NEED_TO_KNOW

RULES: Mapping[tuple[str, str], Rule] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/purpose"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/cases"): CASE_LIST,
    ("GET", "/cases/{case_id}/chronology.xlsx"): NEED_TO_KNOW,
    ("GET", "/cases/{case_id}"): CASE_PAGE,
    ("GET", "/cases/{case_id}/events/{event_id}"): CASE_PAGE,
    ("GET", "/cases/{case_id}/events/{event_id}/proof"): CASE_PAGE,
    ("GET", "/cases/{case_id}/print"): NEED_TO_KNOW,
    # The case page's note form: as the API's, an inquiry's only, recorded.
    ("POST", "/cases/{case_id}/notes"): ANNOTATE,
    ("GET", "/audit"): LEDGER,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/v1/schemas"): PUBLIC,
    ("GET", "/v1/schemas/{name}/{version}"): PUBLIC,
    ("GET", "/v1/agencies"): ANY_CALLER,
    ("GET", "/v1/agencies/{agency_id}"): ANY_CALLER,
    ("GET", "/v1/checkpoints/latest"): ANY_CALLER,
    ("GET", "/v1/checkpoints/consistency"): ANY_CALLER,
    ("GET", "/v1/events/{event_id}/proof"): PROOF,
    ("POST", "/v1/events"): PUBLISH,
    ("GET", "/v1/cases/{case_id}"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/sightings"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/history"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/chronology"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/changes"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/knowledge"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/knowledge/matrix"): CASE,
    ("GET", "/v1/cases/{case_id}/knowledge/gaps"): CASE,
    ("GET", "/v1/cases/{case_id}/knowledge/time-to-share"): CASE,
    ("GET", "/v1/cases/{case_id}/clocks"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/alerts"): NEED_TO_KNOW,
    ("GET", "/v1/cases/{case_id}/audit"): CASE,
    ("GET", "/v1/cases/{case_id}/latency"): CASE,
    ("GET", "/v1/cases/{case_id}/access-log"): ACCESS_LOG,
    ("GET", "/v1/cases/{case_id}/notes"): CASE,
    ("POST", "/v1/cases/{case_id}/notes"): ANNOTATE,
    ("GET", "/v1/alerts"): LEDGER,
    ("GET", "/v1/audit"): LEDGER,
    ("GET", "/v1/latency"): LEDGER,
    ("GET", "/v1/knowledge/time-to-share"): LEDGER,
}


def rule_for(method: str, path: str, rules: Mapping[tuple[str, str], Rule] = RULES) -> Rule:
    """The rule of a route by its method and path template."""
    found = rules.get((method, path))
    if found is None:
        raise MissingRules(f"no access rule for {method} {path}")
    return found


def check_covered(
    routes: Iterable[tuple[str, str]], rules: Mapping[tuple[str, str], Rule] = RULES
) -> None:
    """Raise MissingRules naming every (method, path) of the app without a rule."""
    missing = sorted({route for route in routes if route not in rules})
    if missing:
        named = ", ".join(f"{method} {path}" for method, path in missing)
        raise MissingRules(
            f"routes without an access rule (add them to sgl/access_rules.py): {named}"
        )
