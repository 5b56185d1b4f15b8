"""The demo's findings and clock runs, as of every date docs/demo.md asks about, are those a
reviewer checked by hand (tests/fixtures/judgement/): the ledger judges both cases as the
fixture records, every finding and run carries a verdict, at least nine in ten findings are
agreed, and every finding the walkthrough documents is raised, dated as it says."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from sgl.demo import CHILD_B_CASE, DEMO_CASE
from tests.fixtures.judgement.write import (
    DATES,
    FIXTURE,
    VERDICTS,
    demo_settings,
    dumps,
    judgement,
    load_demo,
    run_key,
)

Judgement = dict[str, dict[str, dict[str, list[dict[str, Any]]]]]
REGENERATE = (
    "regenerate it with `python -m tests.fixtures.judgement.write`, then re-check by hand the "
    f"verdict of every finding and clock run that changed in {VERDICTS.name}"
)
# The share of distinct findings (over every case and date) a reviewer must agree with.
AGREEMENT = 0.9
# The findings docs/demo.md documents in its question tables: (case, as of, rule, a fragment
# of the summary that singles the finding out, the day it fired). Child A's are those it lists
# as fired by 25 July 2007; Child B's those it lists by 31 May 2023, where the faith leader's
# concern is raised by the rule on concerns a voluntary or faith agency never referred.
DOCUMENTED: tuple[tuple[str, str, str, str, str], ...] = (
    (DEMO_CASE, "2007-07-25", "key_agency_absent", "gp-practice-east", "2006-12-25"),
    (DEMO_CASE, "2007-07-25", "key_agency_absent", "nhs-child-development-centre", "2006-12-25"),
    (DEMO_CASE, "2007-07-25", "nai_on_plan", "while plan PLAN-A-1", "2007-01-24"),
    (DEMO_CASE, "2007-07-25", "injuries_seen_apart", "seen by 5 agencies", "2007-03-21"),
    (
        DEMO_CASE,
        "2007-07-25",
        "assault_not_reported_to_police",
        "family-centre-north",
        "2007-05-18",
    ),
    (
        DEMO_CASE,
        "2007-07-25",
        "assault_not_reported_to_police",
        "la-childrens-social-care",
        "2007-05-25",
    ),
    (DEMO_CASE, "2007-07-25", "adult_unknown_to_lead_agency", "PER-A-PARTNER", "2007-02-25"),
    (CHILD_B_CASE, "2023-05-31", "concern_not_referred", "new-dawn-fellowship", "2023-05-04"),
    (CHILD_B_CASE, "2023-05-31", "adult_unknown_to_lead_agency", "PER-B-PARTNER", "2022-02-14"),
)


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Judgement]:
    """Both demo cases loaded into an embedded ledger, judged on every date."""
    stores = load_demo(demo_settings(tmp_path_factory.mktemp("judgement")))
    try:
        yield judgement(stores)
    finally:
        stores.container.close()


def recorded() -> Judgement:
    """The fixture as generated and checked."""
    found: Judgement = orjson.loads(FIXTURE.read_bytes())
    return found


def verdicts() -> dict[str, dict[str, dict[str, Any]]]:
    """The hand-written verdicts: `findings` by alert id, `runs` by clock and start event."""
    with VERDICTS.open("rb") as file:
        return tomllib.load(file)


def judged() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every distinct finding (by alert id) and clock run (by key) in the fixture, as last
    seen over the cases' dates."""
    findings: dict[str, dict[str, Any]] = {}
    runs: dict[str, dict[str, Any]] = {}
    for by_date in recorded().values():
        for rows in by_date.values():
            findings.update((f["alert_id"], f) for f in rows["findings"])
            runs.update((run_key(r), r) for r in rows["clock_runs"])
    return findings, runs


@pytest.mark.parametrize(("case_id", "date"), [(c, d) for c, dates in DATES.items() for d in dates])
def test_the_ledger_judges_the_demo_as_the_fixture_records(
    current: Judgement, case_id: str, date: str
) -> None:
    """Every finding and clock run of the case as of the date is the one the fixture holds,
    field for field."""
    expected = recorded()[case_id][date]
    actual = current[case_id][date]
    if actual != expected:
        diff = difflib.unified_diff(
            dumps(expected).decode().splitlines(),
            dumps(actual).decode().splitlines(),
            "fixture",
            "ledger now",
            lineterm="",
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(f"{case_id} as of {date}: the judgement changed; {REGENERATE}.\n{shown}")


def test_the_fixture_covers_every_date_asked() -> None:
    """The fixture has a judgement for each case on each date and nothing else."""
    held = {case_id: list(dates) for case_id, dates in recorded().items()}
    assert held == {case_id: list(dates) for case_id, dates in DATES.items()}, REGENERATE


def test_every_finding_and_clock_run_has_a_verdict() -> None:
    """Each finding and run of the fixture has a verdict (agree true or false, and a one-line
    reason), and no verdict is left for one the ledger no longer reports."""
    findings, runs = judged()
    given = verdicts()
    for what, keys in (("findings", findings.keys()), ("runs", runs.keys())):
        written = given.get(what, {})
        missing = sorted(set(keys) - written.keys())
        stale = sorted(written.keys() - set(keys))
        assert not missing, f"{what} with no verdict in {VERDICTS.name}: {missing}"
        assert not stale, f"verdicts in {VERDICTS.name} for {what} no longer reported: {stale}"
        for key, verdict in written.items():
            assert set(verdict) == {"agree", "why"}, f"{what} {key}: {sorted(verdict)}"
            assert isinstance(verdict["agree"], bool), f"{what} {key}: agree is not a boolean"
            why = verdict["why"]
            assert isinstance(why, str) and why.strip() and "\n" not in why, f"{what} {key}"


def test_a_reviewer_agrees_with_at_least_nine_in_ten_findings() -> None:
    """Over both cases and every date, at least 90% of the distinct findings raised are ones
    the reviewer agreed with."""
    findings, _ = judged()
    given = verdicts()["findings"]
    assert findings, "the fixture holds no finding"
    disagreed = sorted(a for a in findings if not given[a]["agree"])
    share = 1 - len(disagreed) / len(findings)
    assert share >= AGREEMENT, f"{share:.0%} agreed of {len(findings)}; not agreed: " + "; ".join(
        f"{a} ({given[a]['why']})" for a in disagreed
    )


@pytest.mark.parametrize(("case_id", "as_of", "rule", "names", "fired_on"), DOCUMENTED)
def test_every_documented_finding_is_raised_on_its_date(
    current: Judgement, case_id: str, as_of: str, rule: str, names: str, fired_on: str
) -> None:
    """The finding docs/demo.md documents is raised as of the date it asks on, once, and
    fired on the day the walkthrough's account dates it."""
    found = [
        f
        for f in current[case_id][as_of]["findings"]
        if f["rule"] == rule and names in f["summary"]
    ]
    assert len(found) == 1, f"{case_id} as of {as_of}: {rule} naming {names!r}: {found}"
    assert found[0]["fired_at"][:10] == fired_on, found[0]
