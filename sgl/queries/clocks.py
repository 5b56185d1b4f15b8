"""Reads against the policies: clocks of a case, decision latency, and the rules' findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.envelope import parse_instant, utc_text
from projections.as_of import Basis, opening
from projections.audit import AUDIT_COLUMNS, audit_rows, data_end
from projections.clocks import RunRow, clock_runs
from projections.latency import GroupBy, latency_report
from projections.rules import alert_report, evaluate
from sgl.queries.common import Document, header, known_case, moment_of, moments, policy, to_csv
from sgl.queries.errors import DatesOutOfOrder, NoSuchClock
from sgl.queries.scope import Viewer, refuse
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
    "responsible",
    "responsible_kind",
    "area",
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
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Every run of every clock of the policy as of `as_of`: start, stop, deadline, length;
    for a viewer, the runs its agency was responsible for, as what it knew made them."""
    moment = moment_of(as_of)
    events = known_case(stores, case_id, moment, basis, viewer)
    chosen = stores.clock_policy
    ends = _ends(as_of, moment, data_end(events, moment, basis))
    found = clock_runs(
        events, moment, chosen, basis, agencies=stores.agencies, measured_to=ends.measured_to
    )
    runs = [r.as_dict() for r in found if viewer is None or r.responsible == viewer.agency]
    return {**ends.header(case_id, as_of, basis), "policy": policy(chosen), "clocks": runs}


def clocks_csv(document: Document) -> str:
    """A case's clock runs as CSV, one row each."""
    return to_csv(CLOCK_COLUMNS, document["clocks"])


def latency(
    stores: Stores,
    case_id: str | None = None,
    as_of: str | None = None,
    basis: Basis = "recorded",
    by: GroupBy = "clock",
    viewer: Viewer | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Document:
    """Clock runs pooled per clock, responsible agency, its kind, area or case, for one case
    or (no case_id) the ledger, only those started in [start, end] when given: counts,
    working days to stop, breaches (refused to a viewer)."""
    refuse(viewer, "decision latency")
    period = _period(start, end)
    ends, runs = _measured_runs(stores, case_id, as_of, basis)
    return {
        **ends.header(case_id, as_of, basis),
        **period.header(),
        "by": by,
        "policy": policy(stores.clock_policy),
        "groups": latency_report(period.runs(runs), by),
    }


def latency_csv(document: Document) -> str:
    """A latency report as CSV, one row per group (breaches counted, not listed)."""
    by = document["by"]
    return to_csv([by, *(["limit"] if by == "clock" else []), *LATENCY_COLUMNS], document["groups"])


def audit(
    stores: Stores,
    case_id: str | None = None,
    as_of: str | None = None,
    basis: Basis = "recorded",
    clock: str | None = None,
    viewer: Viewer | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Document:
    """One row per clock run (of `clock` only, if named; started in [start, end] only, when
    given), for one case or (no case_id) the ledger: the responsible agency, its kind, the
    area, start, stop, deadline, working days, limit and outcome (refused to a viewer)."""
    refuse(viewer, "the audit of clock runs")
    chosen = stores.clock_policy
    if clock is not None and clock not in {c.name for c in chosen.clocks}:
        raise NoSuchClock(clock, [c.name for c in chosen.clocks])
    period = _period(start, end)
    ends, runs = _measured_runs(stores, case_id, as_of, basis)
    return {
        **ends.header(case_id, as_of, basis),
        **period.header(),
        "clock": clock,
        "policy": policy(chosen),
        "runs": audit_rows(period.runs(runs), clock),
    }


def audit_csv(document: Document) -> str:
    """An audit as CSV, one row per clock run."""
    return to_csv(AUDIT_COLUMNS, document["runs"])


# What open runs are measured to: the date asked about, or each case's own data end.
AS_OF, CASE_DATA_END = "as_of", "case_data_end"


@dataclass(frozen=True, slots=True)
class _Ends:
    """Where the data in scope end, and what open runs are measured to: one instant (as_of
    asked, or one case's data end), or None when each case's own data end applies."""

    data_end: datetime | None
    measured_to: datetime | None

    def header(self, case_id: str | None, as_of: str | None, basis: Basis) -> Document:
        """The report's header: the moment asked about, where the data end, and what open
        runs are measured to (`measured_to`: the instant, null when each case is measured to
        its own data end; `open_runs_measured_to`: `as_of` or `case_data_end`)."""
        return {
            **header(case_id, as_of, basis),
            "data_end": None if self.data_end is None else utc_text(self.data_end),
            "measured_to": None if self.measured_to is None else utc_text(self.measured_to),
            "open_runs_measured_to": AS_OF if as_of is not None else CASE_DATA_END,
        }


def _ends(
    as_of: str | None, moment: datetime, end: datetime | None, one_case: bool = True
) -> _Ends:
    """Open runs are measured to the moment asked about; with none asked, to where their own
    case's data end: for one case that instant (now, when nothing in it is dated), across the
    ledger each case's own (None here)."""
    if as_of is not None:
        return _Ends(end, moment)
    if not one_case:
        return _Ends(end, None)
    return _Ends(end, moment if end is None else end)


@dataclass(frozen=True, slots=True)
class _Period:
    """The runs a report counts by when they started: from the start of `start`'s day (or
    that instant) to the end of `end`'s (or that instant); either end open when not given."""

    start: str | None
    end: str | None
    start_at: datetime | None
    end_at: datetime | None

    def header(self) -> Document:
        """The period as asked (`from`, `to`; null when not given)."""
        return {"from": self.start, "to": self.end}

    def runs(self, runs_by_case: list[tuple[str, list[RunRow]]]) -> list[tuple[str, list[RunRow]]]:
        """The runs that started in the period."""
        if self.start_at is None and self.end_at is None:
            return runs_by_case
        return [(case_id, [r for r in runs if self.holds(r)]) for case_id, runs in runs_by_case]

    def holds(self, run: RunRow) -> bool:
        """Whether the run started in the period."""
        began = parse_instant(run.started_at)
        return (self.start_at is None or began >= self.start_at) and (
            self.end_at is None or began <= self.end_at
        )


def _period(start: str | None, end: str | None) -> _Period:
    """The period `from`..`to` asked for; BadDate naming a date that does not parse,
    DatesOutOfOrder when `from` is later than `to`."""
    end_at = moments({"/from": start, "/to": end})["/to"]
    # A day given as "from" includes that day: its start, where "to" means its end.
    start_at = None if start is None else opening(start)
    if start_at is not None and end_at is not None and start_at > end_at:
        raise DatesOutOfOrder(str(start), str(end))
    return _Period(start, end, start_at, end_at)


def _measured_runs(
    stores: Stores, case_id: str | None, as_of: str | None, basis: Basis
) -> tuple[_Ends, list[tuple[str, list[RunRow]]]]:
    """Where the data in scope end, and every run in scope measured accordingly."""
    moment = moment_of(as_of)
    chosen = stores.clock_policy
    if case_id is None:
        view = stores.clock_view()
        ends = _ends(as_of, moment, view.data_end(stores.view, moment, basis), one_case=False)
        rows = view.ledger_runs(
            stores.view, moment, basis, ends.measured_to, to_case_end=ends.measured_to is None
        )
        return ends, list(rows)
    events = known_case(stores, case_id, moment, basis)
    ends = _ends(as_of, moment, data_end(events, moment, basis))
    runs = clock_runs(
        events, moment, chosen, basis, agencies=stores.agencies, measured_to=ends.measured_to
    )
    return ends, [(case_id, [r.row() for r in runs])]


def case_alerts(
    stores: Stores,
    case_id: str,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Every finding of every rule as of `as_of` (evidence, when it fired, its answer or how
    long it has gone unanswered), and the alerts the ledger had raised by then; for a viewer,
    the rules' findings in what its agency knew that go to it, and the raised alerts that
    reached it."""
    moment = moment_of(as_of)
    events = known_case(stores, case_id, moment, basis, viewer)
    chosen = stores.rule_policy
    found = evaluate(events, moment, chosen, basis, agencies=stores.agencies)
    alerts = [f.as_dict(moment) for f in found if viewer is None or viewer.agency in f.sent_to]
    seen = {e.event_id for e in events}
    # The ledger raises an alert when it decides to: that instant, not a recorded one, is
    # when the ledger had raised it, whatever the basis.
    raised = [
        r
        for r in stores.raised(case_id)
        if parse_instant(r["decided_at"]) <= moment and (viewer is None or r["event_id"] in seen)
    ]
    return {
        **header(case_id, as_of, basis),
        "policy": policy(chosen),
        "unanswered": sum(not a["answered"] for a in alerts),
        "alerts": alerts,
        "raised": raised,
    }


def ledger_alerts(
    stores: Stores,
    as_of: str | None = None,
    basis: Basis = "recorded",
    viewer: Viewer | None = None,
) -> Document:
    """Per rule across the ledger: findings, answered and not, days to answer, and every
    unanswered one (refused to a viewer)."""
    refuse(viewer, "the ledger-wide alert report")
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
