"""The case page's who-knew and clocks sections: the API's knowledge, clock and finding
documents, with the same need-to-know scoping, made into plain rows for the templates.

An inquiry team or auditor (no viewer) sees the matrix of every agency against every fact, each
cell shaded by how long after the fact was recorded the agency learned it, and the gaps (facts
an agency never learned, withheld or not, and household adults it never recorded). A
practitioner sees only what its own agency knew, as the API's own-knowledge read answers it:
never another agency's column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from ledger.envelope import parse_instant
from sgl.queries.agencies import namer
from sgl.queries.cases import case_chronology
from sgl.queries.clocks import case_alerts, clocks
from sgl.queries.common import Document
from sgl.queries.errors import UnregisteredAgency
from sgl.queries.knowledge import agency_knowledge, gaps, matrix
from sgl.queries.scope import Viewer
from sgl.queries.stores import Stores

Names = Callable[[str], str]

# How long after a fact was recorded an agency learned it: (band, under so many days).
BANDS: tuple[tuple[str, float | None], ...] = (
    ("same-day", 1.0),
    ("week", 7.0),
    ("month", 28.0),
    ("later", None),
)
# Each shade of the matrix: (band, what a cell of it says, what it means).
LEGEND: tuple[tuple[str, str, str], ...] = (
    ("recorded", "recorded", "the agency recorded the fact itself"),
    ("same-day", "within a day", "learned within a day of the fact's record"),
    ("week", "within 7 days", "learned 1 to 7 days after the record"),
    ("month", "within 28 days", "learned 7 to 28 days after the record"),
    ("later", "after 28 days", "learned more than 28 days after the record"),
    ("gap", "not known", "never learned by this date: a gap"),
    ("withheld", "withheld", "not known: another agency decided not to share it with this one"),
)
ROUTE_WORDS = {
    "recorded": "its own record",
    "shared": "a share",
    "referral": "a referral",
    "meeting": "a meeting",
    "alert": "an alert",
    "acknowledged": "its acknowledgement",
}


def knowledge_section(
    stores: Stores, case_id: str, as_of: str | None, viewer: Viewer | None
) -> dict[str, Any]:
    """Who knew what by `as_of`: every agency against every fact with the gaps (inquiry and
    auditor), or a practitioner's own agency's knowledge alone."""
    name_of = namer(stores, as_of)
    if viewer is not None:
        own = agency_knowledge(stores, case_id, None, as_of, viewer=viewer)
        return own_knowledge(own, name_of)
    found = matrix(stores, case_id, as_of)
    return matrix_view(
        found, {a: _gaps(stores, case_id, a, as_of) for a in found["agencies"]}, name_of
    )


def _gaps(stores: Stores, case_id: str, agency: str, as_of: str | None) -> Document | None:
    """The agency's gaps, or None for an agency the registry does not hold (the ledger's own,
    which raises alerts), whose gaps the API refuses too."""
    try:
        return gaps(stores, case_id, agency, as_of)
    except UnregisteredAgency:
        return None


def matrix_view(
    found: Document, missed: Mapping[str, Document | None], name_of: Names
) -> dict[str, Any]:
    """The matrix and each agency's gaps (the API's documents; None where the API refuses an
    agency's gaps) as table rows."""
    agencies = sorted(found["agencies"], key=lambda a: (name_of(a).casefold(), a))
    elsewhere = {
        a: {g["event_id"]: g["known_elsewhere_days"] for g in (missed[a] or {"facts": []})["facts"]}
        for a in agencies
    }
    facts = []
    for fact in found["facts"]:
        cells = []
        for agency in agencies:
            known = fact["known"].get(agency)
            withheld = fact["withholdings"].get(agency, [])
            if known is not None:
                cells.append(_known_cell(agency, fact, known, withheld, name_of))
            else:
                days = elsewhere[agency].get(fact["event_id"])
                cells.append(_gap_cell(agency, days, withheld, name_of))
        facts.append({**_fact_row(fact, name_of), "cells": cells})
    columns = [
        {
            "id": a,
            "name": name_of(a),
            "gaps": sum(f["cells"][i]["state"] in ("gap", "withheld") for f in facts),
            "facts": len(facts),
        }
        for i, a in enumerate(agencies)
    ]
    return {
        **_header(found),
        "scope": "all",
        "agencies": columns,
        "facts": facts,
        "people": _people(agencies, missed, name_of),
        "legend": [{"band": b, "label": label, "text": t} for b, label, t in LEGEND],
    }


def own_knowledge(own: Document, name_of: Names) -> dict[str, Any]:
    """One agency's own knowledge (the API's document) as a one-column table."""
    agency = own["agency"]
    facts = [
        {**_fact_row(fact, name_of), "cells": [_known_cell(agency, fact, fact, [], name_of)]}
        for fact in own["facts"]
    ]
    legend = [{"band": b, "label": label, "text": t} for b, label, t in LEGEND[:-2]]
    return {
        **_header(own),
        "scope": "agency",
        "agencies": [{"id": agency, "name": name_of(agency), "gaps": None, "facts": len(facts)}],
        "facts": facts,
        "people": [],
        "legend": legend,
    }


def clocks_section(
    stores: Stores,
    case_id: str,
    as_of: str | None,
    viewer: Viewer | None,
    chronology: Document | None = None,
) -> dict[str, Any]:
    """The clock runs and the threshold rules' findings as of `as_of`, with their evidence
    (a practitioner: those of its own agency, as the API answers it), labelled from the
    case's chronology for the same date and viewer (given by a page that has it already)."""
    name_of = namer(stores, as_of)
    runs = clocks(stores, case_id, as_of, viewer=viewer)
    found = case_alerts(stores, case_id, as_of, viewer=viewer)
    if chronology is None:
        chronology = case_chronology(stores, case_id, as_of, viewer=viewer)
    told = chronology["events"]
    return clocks_view(runs, found, told, name_of)


def clocks_view(
    runs: Document, found: Document, told: Iterable[Document], name_of: Names
) -> dict[str, Any]:
    """The API's clocks and alerts documents as rows; evidence labelled from the chronology
    (`told`) of the same case, date and viewer."""
    labels = {
        e["event_id"]: f"{e['occurred']}, {e['agency_name']}: {e['type']} ({e['summary']})"
        for e in told
    }
    raised = {r["alert_id"]: r for r in found["raised"]}
    rows = [_run_row(run, name_of) for run in runs["clocks"]]
    findings = [_finding_row(a, labels, raised, name_of) for a in found["alerts"]]
    return {
        **_header(runs),
        "measured_to": _day(runs["measured_to"]),
        "clock_policy": runs["policy"]["title"],
        "rule_policy": found["policy"]["title"],
        "runs": rows,
        "breached": sum(r["breached"] for r in rows),
        "running": sum(r["running"] for r in rows),
        "findings": findings,
        "unanswered": found["unanswered"],
    }


def _header(document: Document) -> dict[str, Any]:
    return {"case_id": document["case_id"], "as_of": document["as_of"]}


def _fact_row(fact: Document, name_of: Names) -> dict[str, Any]:
    return {
        "event_id": fact["event_id"],
        "type": fact["type"],
        "summary": fact["summary"],
        "recorded_by": name_of(fact["recorded_by_agency"]),
        "recorded_at": fact["recorded_at"],
        "recorded_day": _day(fact["recorded_at"]),
    }


def _known_cell(
    agency: str,
    fact: Document,
    known: Document,
    withheld: list[Document],
    name_of: Names,
) -> dict[str, Any]:
    """A cell of an agency that knew the fact: since when, how, and how long after the
    record; a withholding it was shared despite stays beside it."""
    lag = _days_between(fact["recorded_at"], known["since"])
    own = known["via"] == "recorded"
    band = "recorded" if own else _band(lag)
    note = (
        f"{name_of(agency)} recorded it on {_day(known['since'])}"
        if own
        else f"{name_of(agency)} learned it on {_day(known['since'])} through "
        f"{ROUTE_WORDS.get(known['via'], known['via'])}, {lag:g} days after it was recorded"
    )
    return {
        "agency": agency,
        "state": "recorded" if own else "known",
        "band": band,
        "since": known["since"],
        "since_day": _day(known["since"]),
        "via": known["via"],
        "lag_days": lag,
        "lag_text": "within a day" if lag < 1 else f"after {lag:.0f} d",
        "acknowledged_day": _day(known["acknowledged_at"]),
        "withholdings": [_withholding(w, name_of) for w in withheld],
        "note": note,
    }


def _gap_cell(
    agency: str, days: float | None, withheld: list[Document], name_of: Names
) -> dict[str, Any]:
    """A cell of an agency that did not know the fact by then (known elsewhere for `days`,
    when its gaps are answered): withheld from it, or not."""
    withholdings = [_withholding(w, name_of) for w in withheld]
    state = "withheld" if withholdings else "gap"
    note = f"{name_of(agency)} did not know it" + (
        "" if days is None else f"; known elsewhere for {days:g} days"
    )
    if withholdings:
        note += "; withheld from it by " + ", ".join(w["by"] for w in withholdings)
    return {
        "agency": agency,
        "state": state,
        "band": state,
        "since": None,
        "since_day": None,
        "via": None,
        "lag_days": None,
        "lag_text": None,
        "known_elsewhere_days": days,
        "acknowledged_day": None,
        "withholdings": withholdings,
        "note": note,
    }


def _withholding(decision: Document, name_of: Names) -> dict[str, Any]:
    return {
        "by": name_of(decision["by"]),
        "day": _day(decision["at"]),
        "reason": decision["reason"].replace("_", " "),
        "explanation": decision["explanation"],
        "through": decision["through"],
    }


def _people(
    agencies: list[str], missed: Mapping[str, Document | None], name_of: Names
) -> list[dict[str, Any]]:
    """Each household adult some agency never recorded, with every agency that did not (and
    when, if ever, it was told of them), in the order the gaps name them."""
    people: dict[str, dict[str, Any]] = {}
    for agency in agencies:
        for gap in (missed[agency] or {"people": []})["people"]:
            person = people.setdefault(
                gap["person_id"],
                {
                    "person_id": gap["person_id"],
                    "role": None if gap["role"] is None else gap["role"].replace("_", " "),
                    "known_to": [name_of(a) for a in gap["known_to"]],
                    "first_known_at": gap["first_known_at"],
                    "first_known_day": _day(gap["first_known_at"]),
                    "evidence": gap["evidence"],
                    "unrecorded_by": [],
                },
            )
            person["unrecorded_by"].append(
                {
                    "agency": agency,
                    "name": name_of(agency),
                    "told_day": _day(gap["told_at"]),
                    "known_elsewhere_days": gap["known_elsewhere_days"],
                }
            )
    return sorted(people.values(), key=lambda p: (p["first_known_at"], p["person_id"]))


def _run_row(run: Document, name_of: Names) -> dict[str, Any]:
    responsible = run["responsible"]
    return {
        "clock": run["clock"],
        "title": run["clock"].replace("_", " "),
        "description": run["description"],
        "limit": run["limit"],
        "status": run["status"],
        "breached": run["status"] == "breached",
        "running": run["stopped_at"] is None,
        "responsible": None if responsible is None else name_of(responsible),
        "started_by": name_of(run["agency"]),
        "started_at": run["started_at"],
        "started_day": _day(run["started_at"]),
        "deadline": run["deadline"],
        "deadline_day": _day(run["deadline"]),
        "stopped_at": run["stopped_at"],
        "stopped_day": _day(run["stopped_at"]),
        "working_days": run["working_days"],
        "calendar_days": run["calendar_days"],
        "start_event": run["start_event"],
        "stop_event": run["stop_event"],
    }


def _finding_row(
    alert: Document,
    labels: Mapping[str, str],
    raised: Mapping[str, Document],
    name_of: Names,
) -> dict[str, Any]:
    by_ledger = raised.get(alert["alert_id"])
    return {
        "alert_id": alert["alert_id"],
        "rule": alert["rule"],
        "title": alert["rule"].replace("_", " "),
        "summary": alert["summary"],
        "fired_at": alert["fired_at"],
        "fired_day": _day(alert["fired_at"]),
        "sent_to": [name_of(a) for a in alert["sent_to"]],
        "answered": alert["answered"],
        "answered_day": _day(alert["answered_at"]),
        "response": alert["response"],
        "days": alert.get("days_unanswered", alert.get("days_to_answer")),
        "evidence": [{"event_id": e, "label": labels.get(e, e)} for e in alert["evidence"]],
        "raised_day": None if by_ledger is None else _day(by_ledger["decided_at"]),
        "raised_event": None if by_ledger is None else by_ledger["event_id"],
    }


def _band(lag: float) -> str:
    """The shading band of a lag in days."""
    return next(band for band, under in BANDS if under is None or lag < under)


def _days_between(start: str, end: str) -> float:
    return round((parse_instant(end) - parse_instant(start)).total_seconds() / 86400, 2)


def _day(text: str | None) -> str | None:
    """An instant's or a date's day as people write it (3 Aug 2007), in UTC."""
    if text is None:
        return None
    day = date.fromisoformat(text) if len(text) == 10 else parse_instant(text).date()
    return f"{day.day} {day:%b %Y}"
