"""A log written by the previous release replays to the same state.

tests/fixtures/previous_release/ holds the ledger log that release wrote (the demo with 12
background cases, and every schema example of every version on one more case), exactly as it
stored it, and the case states and chronology that release answered from it. Later releases
add fields; every field that release answered must come out the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.envelope import parse_instant
from ledger.settings import Settings
from projections.working_days import WorkingDays
from sgl import queries
from sgl.bootstrap import Container, bootstrap
from sgl.demo.agencies import CHILD_A
from sgl.queries.cases import case, case_chronology
from sgl.queries.errors import NoSuchCase
from sgl.registry import registration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "previous_release"
# The rules of the bundled policy of that release.
PREVIOUS_RULES = frozenset(
    {
        "nai_on_plan",
        "injury_cluster",
        "adult_identity_unverified",
        "key_agency_absent",
        "threshold_met_no_step",
        "explanations_in_doubt",
        "assault_not_reported_to_police",
        "adult_unknown_to_lead_agency",
        "rereferral_after_nfa",
    }
)
COLUMNS = ("position", "event_id", "case_id", "appended_ms", "digest", "type", "schema_version")
# The agencies the old log names besides Child A's, all on CASE-PREV-0001 (the schema examples
# of that release), registered with the kinds their names and roles there say: a police
# force (`police-north`, invited to a conference and sent an alert) and a school
# (`school-north`, raising a concern and sharing information). The ledger itself, which
# records the alerts it raises, is no agency of the registry (its id is reserved).
OLD_EXAMPLE_AGENCIES = (
    {"agency_id": "police-north", "name": "North Police", "kind": "police", "statutory": True},
    {"agency_id": "school-north", "name": "North School", "kind": "education", "statutory": True},
)


# Rules this release reads differently by design (docs/domain.md, "Threshold rules"): one
# finding per situation, growing (a cluster of injuries, a case's doubtful explanations),
# under the id of the first finding of it; an assault only a concern or an allegation, the
# police told by an investigation already open; the decision on a referral not one it follows.
# Each of their findings now is one that release found, on at least the same evidence.
REGROUPED = ("injury_cluster", "explanations_in_doubt")
NARROWED = ("assault_not_reported_to_police", "rereferral_after_nfa")
# One finding a plan now, its evidence the injuries (that release: one an injury, with the plan).
RECAST = ("nai_on_plan",)


def _load(settings: Settings) -> int:
    """Write the previous release's records into a fresh SQLite log, byte for byte."""
    bootstrap(settings).close()  # creates the log's tables
    rows = [orjson.loads(line) for line in (FIXTURE / "log.jsonl").read_bytes().splitlines()]
    with sqlite3.connect(settings.log_db) as db:
        db.executemany(
            f"INSERT INTO log ({', '.join(COLUMNS)}, value) VALUES ({', '.join('?' * 8)})",
            [(*(r[c] for c in COLUMNS), r["value"].encode()) for r in rows],
        )
    return len(rows)


def _subset_differences(expected: Any, got: Any, where: str = "") -> list[str]:
    """Where `got` differs from `expected` in what `expected` holds (new keys are allowed)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return [
            d
            for key, value in expected.items()
            for d in (
                [f"{where}/{key}: missing"]
                if key not in got
                else _subset_differences(value, got[key], f"{where}/{key}")
            )
        ]
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [
            d
            for i, (e, g) in enumerate(zip(expected, got, strict=True))
            for d in _subset_differences(e, g, f"{where}/{i}")
        ]
    return [] if expected == got else [f"{where}: {expected!r} became {got!r}"]


def test_the_previous_release_log_folds_to_the_same_states_and_chronology(
    make_settings: Callable[..., Settings],
) -> None:
    """Every case, now and as of three dates, and Child A's chronology on 25 July 2007."""
    settings = make_settings("sqlite")
    records = _load(settings)
    expected = orjson.loads((FIXTURE / "states.json").read_bytes())
    container = bootstrap(settings)
    try:
        assert container.runner().run_until_caught_up(120) == records
        stores = queries.ContainerStores(container)
        differences: list[str] = []
        for case_id, by_date in expected.items():
            for as_of, state in by_date.items():
                date = None if as_of == "None" else as_of
                try:
                    got: Any = orjson.loads(orjson.dumps(asdict(case(stores, case_id, date))))
                except NoSuchCase:
                    got = {"error": "NoSuchCase"}
                differences += _subset_differences(state, got, f"{case_id}@{as_of}")
        chronology = orjson.loads(orjson.dumps(case_chronology(stores, "CASE-A0001", "2007-07-25")))
        before = orjson.loads((FIXTURE / "chronology-CASE-A0001-2007-07-25.json").read_bytes())
        # The same rows; ties of one instant now in log order (that release sorted positions as
        # text, so 0:10 before 0:7), and otherwise in the same order.
        rows, old_rows = chronology.pop("events"), before.pop("events")
        differences += _subset_differences(before, chronology, "chronology")
        differences += _subset_differences(
            {r["event_id"]: r for r in old_rows},
            {r["event_id"]: r for r in rows},
            "chronology/events",
        )
        assert [r["occurred_at"] for r in rows] == [r["occurred_at"] for r in old_rows]
        assert rows == sorted(rows, key=lambda r: (r["occurred_at"], _log_order(r["position"])))
    finally:
        container.close()
    assert differences == [], "\n".join(differences[:40])


def _log_order(position: str) -> tuple[int, int]:
    partition, _, offset = position.partition(":")
    return int(partition), int(offset)


def _catch_up(container: Container) -> int:
    """Run the case view, then every follower (clocks, alerts), as `sgl demo` does, until the
    alerts raised on the way are applied too; the number of records the case view applied."""
    applied = 0
    while fresh := container.runner().run_until_caught_up(120):
        applied += fresh
        for follower in container.followers():
            follower.run_until_caught_up(120)
    return applied


def _raised(container: Container) -> int:
    """How many alerts the alerter has raised (its feed's length)."""
    return sum(container.alerts_log.end_offsets().values())


def _of_its_rules(document: Any) -> Any:
    """A findings answer (one case's, or per rule across the ledger) with only the findings of
    the rules that release had: rules added since find what they find, not a difference."""
    plain = _plain(document)
    if "rules" in plain:
        return {**plain, "rules": [r for r in plain["rules"] if r["rule"] in PREVIOUS_RULES]}
    alerts = [a for a in plain["alerts"] if a["rule"] in PREVIOUS_RULES]
    raised = [r for r in plain["raised"] if r["rule"] in PREVIOUS_RULES]
    unanswered = sum(not a["answered"] for a in alerts)
    return {**plain, "alerts": alerts, "raised": raised, "unanswered": unanswered}


def _plain(document: Any) -> Any:
    """A query's answer as the JSON an auditor reads."""
    return orjson.loads(orjson.dumps(document))


def test_the_previous_release_log_with_its_agencies_registered_keeps_its_clocks_and_findings(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgraded as docs/operations.md says (the agencies the old log names registered, stamped
    now, before any consumer of the new release runs over it), every clock, latency and
    finding that release answered, per case and across the ledger, as of 25 July 2007 and as
    of the instant it answered, comes out the same, but for the rules read differently by
    design (REGROUPED, NARROWED: fewer findings, each one that release found; RECAST: the
    same injuries found, one finding a plan); and the alerts
    its alerter raised are raised again, those rules' only if still found, nothing more.

    Clocks are judged under that release's clock policy (`clocks-2026.2.toml`; the bundled
    one has more clocks since) and with working days counted as it counted them, a start on
    a non-working day being day 0 (they are now counted as the children in need census
    counts them, from the next working day: tests/unit/test_clocks_roles.py)."""
    monkeypatch.setattr(WorkingDays, "day_zero", lambda self, start: start)
    settings = make_settings(
        "sqlite", alerter="on", clock_policy=str(FIXTURE / "clocks-2026.2.toml")
    )
    records = _load(settings)
    expected = orjson.loads((FIXTURE / "clocks.json").read_bytes())
    container = bootstrap(settings)
    try:
        agencies = [*CHILD_A, *OLD_EXAMPLE_AGENCIES]
        container.ledger.submit([registration(p) for p in agencies])
        # The alerter appends each alert it raises to the ledger as well as to its feed.
        assert _catch_up(container) == records + len(agencies) + _raised(container)
        stores = queries.ContainerStores(container)
        differences: list[str] = []
        for case_id, by_date in expected["cases"].items():
            for as_of, documents in by_date.items():
                try:
                    got: Any = {
                        "clocks": _plain(queries.clocks(stores, case_id, as_of)),
                        "latency": _plain(queries.latency(stores, case_id, as_of)),
                        "alerts": _of_its_rules(queries.case_alerts(stores, case_id, as_of)),
                    }
                except NoSuchCase:
                    got = {"error": "NoSuchCase"}
                differences += _subset_differences(
                    _comparable(_unchanged(_addressable(documents, stores, case_id))),
                    _comparable(_unchanged(got)),
                    f"{case_id}@{as_of}",
                )
                if "alerts" in got:
                    differences += _changed_differences(
                        documents["alerts"]["alerts"], got["alerts"]["alerts"], case_id
                    )
        for as_of, recorded in expected["ledger"].items():
            # That release grouped latency by the agency that started a run (charging a
            # referrer with the decisions of the agency it referred to); grouped by agency now
            # is by the agency responsible for stopping it. The same runs are grouped.
            documents = {k: v for k, v in recorded.items() if k != "latency_by_agency"}
            by_agency = queries.latency(stores, None, as_of, by="agency")["groups"]
            if sum(g["runs"] for g in by_agency) != sum(
                g["runs"] for g in recorded["latency_by_agency"]["groups"]
            ):
                differences.append(f"ledger@{as_of}/latency_by_agency: another count of runs")
            got = {
                "latency_by_clock": _plain(queries.latency(stores, None, as_of, by="clock")),
                "alerts": _of_its_rules(queries.ledger_alerts(stores, as_of)),
            }
            differences += _subset_differences(
                _comparable(_unchanged(_addressable(documents, stores))),
                _comparable(_unchanged(got)),
                f"ledger@{as_of}",
            )
            before = {r["rule"]: r["alerts"] for r in documents["alerts"]["rules"]}
            differences += [
                f"ledger@{as_of}/{r['rule']}: {r['alerts']} findings, more than that release"
                for r in got["alerts"]["rules"]
                if r["rule"] in (*REGROUPED, *NARROWED, *RECAST) and r["alerts"] > before[r["rule"]]
            ]
        for case_id, raised in expected["raised"].items():
            again = [r for r in stores.raised(case_id) if r["rule"] in PREVIOUS_RULES]
            differences += _subset_differences(
                {
                    r["alert_id"]: _undecided(r)
                    for r in raised
                    if r["rule"] not in (*REGROUPED, *NARROWED, *RECAST)
                },
                {r["alert_id"]: _undecided(r) for r in again},
                f"raised/{case_id}",
            )
            extra = {r["alert_id"] for r in again if r["rule"] not in RECAST} - {
                r["alert_id"] for r in raised
            }
            differences += [f"raised/{case_id}/{a}: raised, and not by that release" for a in extra]
    finally:
        container.close()
    assert differences == [], "\n".join(differences[:40])


def _addressable(documents: Any, stores: queries.Stores, case_id: str | None = None) -> Any:
    """Documents with each finding's recipients narrowed to those the rules address now.

    That release sent a finding to the agency ids its policy named, involved in the case or
    not; a policy now names kinds, and a finding goes to the agencies of those kinds that had
    recorded an event on the case by the finding (or by its evidence's recording, if later).
    So a recipient that had recorded nothing on the case by then is legitimately dropped
    (the police, on a finding that an assault was not reported to them); any other must stay.
    """
    if isinstance(documents, list):
        return [_addressable(d, stores, case_id) for d in documents]
    if not isinstance(documents, dict):
        return documents
    case_id = documents.get("case_id", case_id)
    out = {k: _addressable(v, stores, case_id) for k, v in documents.items()}
    if case_id is not None and {"sent_to", "evidence", "fired_at"} <= documents.keys():
        events = stores.view.events(case_id)
        at = max(
            [parse_instant(documents["fired_at"])]
            + [parse_instant(e.recorded_at) for e in events if e.event_id in documents["evidence"]]
        )
        involved = {e.agency for e in events if parse_instant(e.recorded_at) <= at}
        out["sent_to"] = [a for a in documents["sent_to"] if a in involved]
    return out


def _comparable(documents: Any) -> Any:
    """Documents without what legitimately changed: the policies' versions (the policy files
    have been revised since: `where_kind` instead of agency ids, same clocks and rules; the
    clock policy that release used is read from `clocks-2026.2.toml`), and
    the raised alerts listed in a case's findings, which are filtered by when this run's
    alerter decided them (compared on their own, from the alert store)."""
    if isinstance(documents, dict):
        return {
            k: _comparable(v)
            for k, v in documents.items()
            if not (k == "raised" or (k == "version" and "title" in documents))
        }
    if isinstance(documents, list):
        return [_comparable(d) for d in documents]
    return documents


def _unchanged(documents: Any) -> Any:
    """Documents without the findings of the rules read differently now (REGROUPED,
    NARROWED), a case's count of unanswered findings counting the others only."""
    changed = (*REGROUPED, *NARROWED, *RECAST)
    if isinstance(documents, list):
        return [
            _unchanged(d)
            for d in documents
            if not (isinstance(d, dict) and d.get("rule") in changed)
        ]
    if not isinstance(documents, dict):
        return documents
    out = {k: _unchanged(v) for k, v in documents.items()}
    if isinstance(out.get("alerts"), list) and "unanswered" in out:
        out["unanswered"] = sum(not f["answered"] for f in out["alerts"])
    return out


def _changed_differences(
    before: list[dict[str, Any]], now: list[dict[str, Any]], case_id: str
) -> list[str]:
    """Each finding of a rule read differently now is one that release found (by id), fired
    when it fired, on at least its evidence; and each finding of a regrouped rule that
    release found is within a finding now."""
    changed = (*REGROUPED, *NARROWED)
    old = {f["alert_id"]: f for f in before if f["rule"] in changed}
    new = [f for f in now if f["rule"] in changed]
    out = []
    for finding in new:
        where = f"{case_id}/{finding['alert_id']}"
        was = old.get(finding["alert_id"])
        if was is None:
            out.append(f"{where}: found, and not by that release")
        elif was["fired_at"] != finding["fired_at"]:
            out.append(f"{where}: fired {finding['fired_at']}, that release {was['fired_at']}")
        elif not set(was["evidence"]) <= set(finding["evidence"]):
            out.append(f"{where}: evidence lost")
    for was in (f for f in old.values() if f["rule"] in REGROUPED):
        if not any(
            f["rule"] == was["rule"] and set(was["evidence"]) <= set(f["evidence"]) for f in new
        ):
            out.append(f"{case_id}/{was['alert_id']}: its evidence is in no finding now")
    return out + _recast_differences(before, now, case_id)


def _recast_differences(
    before: list[dict[str, Any]], now: list[dict[str, Any]], case_id: str
) -> list[str]:
    """A recast rule finds the injuries that release found, no others, each finding fired
    when that release fired on its first injury."""
    old = {f["evidence"][-1]: f for f in before if f["rule"] in RECAST}
    out = []
    found: set[str] = set()
    for finding in (f for f in now if f["rule"] in RECAST):
        where = f"{case_id}/{finding['alert_id']}"
        found |= set(finding["evidence"])
        if not set(finding["evidence"]) <= old.keys():
            out.append(f"{where}: an injury that release did not find")
        elif finding["fired_at"] != old[finding["evidence"][0]]["fired_at"]:
            out.append(f"{where}: fired {finding['fired_at']}, not when its first injury did")
    out += [
        f"{case_id}/{old[i]['alert_id']}: its injury is in no finding now"
        for i in old.keys() - found
    ]
    return out


def _undecided(raised: dict[str, Any]) -> dict[str, Any]:
    """A raised alert without `decided_at`: the wall clock of the run that raised it."""
    return {k: v for k, v in raised.items() if k != "decided_at"}
