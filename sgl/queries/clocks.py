"""Reads against the policies: clocks of a case, decision latency, and the rules' findings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from ledger.envelope import parse_instant
from projections.as_of import Basis
from projections.clocks import RunRow, clock_runs
from projections.latency import GroupBy, latency_report
from projections.rules import alert_report, evaluate
from sgl.queries.common import Document, header, known_case, moment_of, policy, to_csv
from sgl.queries.stores import Stores

CLOCK_COLUMNS = (
    "clock",
    "status",
    "limit",
    "started_at",
    "stopped_at",
    "deadline",
    "working_days",
    "calendar_days",
    "agency",
    "start_event",
    "stop_event",
)
LATENCY_COLUMNS = (
    "runs",
    "met",
    "breached",
    "open",
    "median_working_days",
    "p90_working_days",
    "max_working_days",
)
ALERT_COLUMNS = (
    "rule",
    "alerts",
    "answered",
    "unanswered",
    "median_days_to_answer",
    "p90_days_to_answer",
    "max_days_to_answer",
)


def clocks(
    stores: Stores, case_id: str, as_of: str | None = None, basis: Basis = "recorded"
) -> Document:
    """Every run of every clock of the policy as of `as_of`: start, stop, deadline, length."""
    moment = moment_of(as_of)
    events = known_case(stores, case_id, moment, basis)
    chosen = stores.clock_policy
    found = clock_runs(events, moment, chosen, basis, agencies=stores.agencies)
    runs = [r.as_dict() for r in found]
    return {**header(case_id, as_of, basis), "policy": policy(chosen), "clocks": runs}


def clocks_csv(document: Document) -> str:
    """A case's clock runs as CSV, one row each."""
    return to_csv(CLOCK_COLUMNS, document["clocks"])


def latency(
    stores: Stores,
    case_id: str | None = None,
    as_of: str | None = None,
    basis: Basis = "recorded",
    by: GroupBy = "clock",
) -> Document:
    """Clock runs pooled per clock, agency or case, for one case or (no case_id) the ledger:
    counts, working days to stop, breaches."""
    moment = moment_of(as_of)
    rows = latency_report(_runs(stores, case_id, moment, basis), by)
    return {
        **header(case_id, as_of, basis),
        "by": by,
        "policy": policy(stores.clock_policy),
        "groups": rows,
    }


def latency_csv(document: Document) -> str:
    """A latency report as CSV, one row per group (breaches counted, not listed)."""
    by = document["by"]
    return to_csv([by, *(["limit"] if by == "clock" else []), *LATENCY_COLUMNS], document["groups"])


def _runs(
    stores: Stores, case_id: str | None, moment: datetime, basis: Basis
) -> Iterator[tuple[str, list[RunRow]]]:
    if case_id is None:
        yield from stores.clock_view().ledger_runs(stores.view, moment, basis)
        return
    events = known_case(stores, case_id, moment, basis)
    found = clock_runs(events, moment, stores.clock_policy, basis, agencies=stores.agencies)
    yield case_id, [r.row() for r in found]


def case_alerts(
    stores: Stores, case_id: str, as_of: str | None = None, basis: Basis = "recorded"
) -> Document:
    """Every finding of every rule as of `as_of` (evidence, when it fired, its answer or how
    long it has gone unanswered), and the alerts the ledger had raised by then."""
    moment = moment_of(as_of)
    events = known_case(stores, case_id, moment, basis)
    chosen = stores.rule_policy
    found = evaluate(events, moment, chosen, basis, agencies=stores.agencies)
    alerts = [f.as_dict(moment) for f in found]
    # The ledger raises an alert when it decides to: that instant, not a recorded one, is
    # when the ledger had raised it, whatever the basis.
    raised = [r for r in stores.raised(case_id) if parse_instant(r["decided_at"]) <= moment]
    return {
        **header(case_id, as_of, basis),
        "policy": policy(chosen),
        "unanswered": sum(not a["answered"] for a in alerts),
        "alerts": alerts,
        "raised": raised,
    }


def ledger_alerts(stores: Stores, as_of: str | None = None, basis: Basis = "recorded") -> Document:
    """Per rule across the ledger: findings, answered and not, days to answer, and every
    unanswered one."""
    moment = moment_of(as_of)
    view, chosen, agencies = stores.view, stores.rule_policy, stores.agencies
    rows = alert_report(
        (
            (c, evaluate(view.events(c), moment, chosen, basis, agencies=agencies))
            for c in view.all_case_ids()
        ),
        moment,
    )
    return {**header(None, as_of, basis), "policy": policy(chosen), "rules": rows}


def alerts_csv(document: Document) -> str:
    """A ledger-wide alert report as CSV, one row per rule (unanswered counted, not listed)."""
    return to_csv(ALERT_COLUMNS, document["rules"])
