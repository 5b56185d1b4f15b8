"""Statutory and local clocks: every clock of the policy, weekend and bank-holiday edges,
pairing, a corrected stop event, and policy files that cannot be used."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.envelope import parse_instant
from ledger.schemas import SchemaRegistry
from projections.as_of import cutoff
from projections.clock_policy import Clock, ClockPolicy, load_clock_policy
from projections.clocks import _add_months, clock_runs
from projections.policy_file import PolicyError
from projections.working_days import england_and_wales
from tests.agencies import AGENCIES, CHILD_A_KINDS, EXAMPLE_KINDS, registry, update_event
from tests.factories import as_events, example, make_event, new_case_id
from tests.involvement_factory import opened

POLICY = load_clock_policy()
SCHEMAS = SchemaRegistry()
DAYS = england_and_wales()
# Every agency the test registry knows, with its kind (Child A's first, then the examples').
KIND_OF = {**CHILD_A_KINDS, **{a: k for a, k in EXAMPLE_KINDS.items() if a not in CHILD_A_KINDS}}
# The agency that records a clock's start in these tests.
RECORDER = "la-childrens-social-care"
# Each clock's last day in time for a start at 10:00 on Monday 5 March 2007, worked out by
# hand: Good Friday (6 April), Easter Monday (9 April) and the Early May bank holiday
# (7 May) are not working days.
LAST_DAY = {
    "referral_decision": "2007-03-06",
    "referral_first_contact": "2007-03-08",
    "referral_child_seen": "2007-03-12",
    "assessment": "2007-05-10",
    "initial_cp_conference": "2007-03-26",
    "first_core_group": "2007-03-19",
    "first_review_conference": "2007-06-05",
    "later_review_conference": "2007-09-05",
    "police_protection": "2007-03-08T10:00:00Z",
    "voluntary_allocation": "2007-03-19",
    "serious_incident_notification": "2007-03-12",
    "legal_planning_meeting": "2007-03-19",
}


def of_kind(kind: str) -> str:
    """A registered agency of the kind."""
    return next(a for a, k in KIND_OF.items() if k == kind)


def stamp(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


def responsible_of(clock: Clock) -> str:
    """The agency responsible for the clock's runs in these tests: the recipient the start
    names, or else the recorder (no lead or area is recorded in a case of the tests)."""
    if clock.responsible is not None and clock.responsible.field is not None:
        return of_kind(dict(clock.start.where_kind)[clock.responsible.field])
    return RECORDER


def matching(
    clock: Clock, side: str, case_id: str, day: date | datetime, **payload: Any
) -> dict[str, Any]:
    """An event that starts (or stops, by its first stop) the clock, on that day (or at that
    instant); a stop is recorded by the agency responsible for the run."""
    match = clock.start if side == "start" else clock.stops[0]
    occurred = day if isinstance(day, datetime) else datetime.combine(day, time(10), UTC)
    latest = SCHEMAS.latest(match.type)
    event = make_event(
        match.type,
        case_id,
        **{
            k: v
            for k, v in example(match.type, latest).items()
            if k in ("schema_version", "payload")
        },
        occurred_at=occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
        recorded_at=(occurred + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        agency=RECORDER if side == "start" else responsible_of(clock),
    )
    kinds = {field: of_kind(kind) for field, kind in match.where_kind}
    dated = {} if match.at is None else {match.at: occurred.date().isoformat()}
    event["payload"] = {**event["payload"], **dict(match.where), **kinds, **dated, **payload}
    return event


def run_of(clock: Clock, documents: list[dict[str, Any]], moment: datetime) -> list[Any]:
    runs = clock_runs(as_events(documents), moment, POLICY, agencies=AGENCIES)
    return [r for r in runs if r.clock == clock]


def test_every_clock_has_a_hand_checked_deadline() -> None:
    """The table below covers exactly the bundled clocks."""
    assert set(LAST_DAY) == {c.name for c in POLICY.clocks}


@pytest.mark.parametrize("clock", POLICY.clocks, ids=lambda c: c.name)
def test_each_clock_is_met_on_its_last_day_and_breached_the_day_after(clock: Clock) -> None:
    """Each clock as loaded from policies/clocks.toml: a stop on its last day (at its last
    instant, for hours) is met, one a day (an hour) later is breached; no stop at all is open
    up to the deadline and breached after it. A clock dated by its payload is stopped by the
    event itself, notified on the last day or the day after."""
    start_day = date(2007, 3, 5)  # a Monday
    pair = {f: "PP-T-1" if f == "protection_id" else "MTG-T-1" for f in clock.pair_on}
    expected = LAST_DAY[clock.name]
    if clock.unit == "hours":
        last: datetime = parse_instant(expected)
        later, after = last + timedelta(hours=1), last + timedelta(seconds=1)
    else:
        last = datetime.combine(date.fromisoformat(expected), time(10), UTC)
        later, after = last + timedelta(days=1), last + timedelta(days=1)
    for stop_at, status in ((last, "met"), (later, "breached")):
        case_id = new_case_id()
        # The case opened that morning, led by the recorder (for a clock the lead must stop).
        documents = [opened(case_id, RECORDER, at=(start_day - date(2007, 1, 1)).days)]
        if clock.start.at is not None:
            dated = {clock.start.at: start_day.isoformat()}
            documents.append(matching(clock, "start", case_id, stop_at, **dated))
        else:
            documents += [
                matching(clock, "start", case_id, start_day, **pair),
                matching(clock, "stop", case_id, stop_at, **pair),
            ]
        runs = run_of(clock, documents, cutoff("2008-12-31"))
        assert [(r.status, r.stop is not None, r.deadline) for r in runs][:1] == [
            (status, True, expected)
        ], stop_at
        assert runs[0].responsible == responsible_of(clock)
    if clock.start.at is None:
        start = documents[:2]
        assert [(r.status, r.stop) for r in run_of(clock, start, after)] == [("breached", None)]
        last_moment = last if clock.unit == "hours" else cutoff(expected)
        assert [r.status for r in run_of(clock, start, last_moment)] == ["open"]


def referral_clock() -> Clock:
    return next(c for c in POLICY.clocks if c.name == "referral_decision")


@pytest.mark.parametrize(
    ("referred", "decided", "status", "working_days"),
    [
        (date(2007, 3, 9), date(2007, 3, 12), "met", 1),  # Friday -> Monday
        (date(2007, 3, 9), date(2007, 3, 13), "breached", 2),  # Friday -> Tuesday
        (date(2007, 5, 25), date(2007, 5, 29), "met", 1),  # over the Spring bank holiday
        (date(2007, 5, 25), date(2007, 5, 30), "breached", 2),
        (date(2006, 12, 22), date(2006, 12, 27), "met", 1),  # over Christmas and Boxing Day
        (date(2006, 12, 22), date(2006, 12, 28), "breached", 2),
    ],
)
def test_working_days_skip_weekends_and_bank_holidays(
    referred: date, decided: date, status: str, working_days: int
) -> None:
    """A 1 working day clock across weekends and England & Wales bank holidays."""
    clock = referral_clock()
    case_id = new_case_id()
    documents = [
        matching(clock, "start", case_id, referred),
        matching(clock, "stop", case_id, decided),
    ]
    [run] = run_of(clock, documents, cutoff("2007-12-31"))
    assert (run.status, run.working_days) == (status, working_days)


def test_the_calendar_knows_its_bank_holidays() -> None:
    """Spot checks of the holidays library for the demo's years."""
    assert not DAYS.is_working_day(date(2007, 8, 27))  # Late Summer Bank Holiday
    assert not DAYS.is_working_day(date(2007, 4, 6))  # Good Friday
    assert DAYS.is_working_day(date(2007, 4, 10))
    assert DAYS.add(date(2007, 4, 5), 1) == date(2007, 4, 10)  # Thursday -> over Easter
    assert DAYS.between(date(2007, 4, 5), date(2007, 4, 10)) == 1
    assert _add_months(date(2007, 1, 31), 1) == date(2007, 2, 28)
    assert _add_months(date(2007, 11, 30), 3) == date(2008, 2, 29)


def test_a_stop_is_paired_on_the_meeting_id() -> None:
    """Two requests; the meeting held answers the one with its id, the other stays open."""
    clock = next(c for c in POLICY.clocks if c.name == "legal_planning_meeting")
    case_id = new_case_id()
    documents = [
        matching(clock, "start", case_id, date(2007, 3, 5), meeting_id="MTG-T-A"),
        matching(clock, "start", case_id, date(2007, 3, 6), meeting_id="MTG-T-B"),
        matching(clock, "stop", case_id, date(2007, 3, 8), meeting_id="MTG-T-B"),
    ]
    runs = {
        r.start.payload["meeting_id"]: r for r in run_of(clock, documents, cutoff("2007-03-09"))
    }
    assert runs["MTG-T-B"].status == "met" and runs["MTG-T-B"].working_days == 2
    assert runs["MTG-T-A"].status == "open" and runs["MTG-T-A"].stop is None


def test_a_stop_later_corrected_to_a_later_date_breaches_from_the_correction_on() -> None:
    """Met as recorded; a correction recorded on 1 June moves the meeting late: breached as of
    1 June, still met as of 31 May."""
    clock = next(c for c in POLICY.clocks if c.name == "legal_planning_meeting")
    case_id = new_case_id()
    start = matching(clock, "start", case_id, date(2007, 5, 1), meeting_id="MTG-T-C")
    stop = matching(clock, "stop", case_id, date(2007, 5, 8), meeting_id="MTG-T-C")
    correction = make_event(
        "correction.recorded",
        case_id,
        occurred_at=stamp(date(2007, 6, 1)),
        recorded_at=stamp(date(2007, 6, 1), 12),
        amends=stop["event_id"],
        payload={
            "corrected_payload": stop["payload"],
            "corrected_occurred_at": stamp(date(2007, 5, 29)),
            "reason": "the meeting was moved",
        },
    )
    documents = [start, stop, correction]
    [before] = run_of(clock, documents, cutoff("2007-05-31"))
    [after] = run_of(clock, documents, cutoff("2007-06-01"))
    assert before.status == "met"
    assert before.stop is not None and before.stop.occurred_at == stamp(date(2007, 5, 8))
    assert after.status == "breached" and after.working_days == 18
    assert after.stop is not None and after.stop.occurred_at == stamp(date(2007, 5, 29))


def test_the_demo_legal_meeting_breaches_the_local_clock_as_of_25_july_2007() -> None:
    """Requested 6 June, held 25 July: seven weeks against 10 working days."""
    from sgl.demo.child_a import child_a

    runs = clock_runs(as_events(child_a()), cutoff("2007-07-25"), POLICY, agencies=AGENCIES)
    [legal] = [r for r in runs if r.clock.name == "legal_planning_meeting"]
    assert legal.status == "breached" and legal.stop is not None
    assert (legal.deadline, legal.working_days) == ("2007-06-20", 35)
    assert 48 < legal.calendar_days < 49.5, "about seven weeks"
    [earlier] = [
        r
        for r in clock_runs(as_events(child_a()), cutoff("2007-06-15"), POLICY, agencies=AGENCIES)
        if r.clock.name == "legal_planning_meeting"
    ]
    assert earlier.status == "open", "within its 10 working days on 15 June"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('title = "t"\n[[clock]]\n', "top level: 'version' is missing [required]"),
        ('version = "1"\ntitle = "t"\n', "top level: 'clock' is missing [required]"),
        (
            'version = "1"\ntitle = "t"\nclock = []\n',
            "clock: must not be empty: at least one [[clock]] is needed [minItems]",
        ),
        (
            'version = 2026\ntitle = "t"\n[[clock]]\n',
            "version: must be a string, not 2026 [type]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held" }\n',
            "clock[0] (clock 'x'): 'stop' is missing; 'limit' is missing: a clock takes",
        ),
        (
            'version = "1"\ntitle = "t"\nowner = "someone"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = 1, unit = "hours" }\n',
            "top level: 'owner' not allowed here [additionalProperties]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held", when = { meeting_type = "core_group" } }\n'
            'stop = { type = "meeting.held" }\nlimit = { value = 1, unit = "hours" }\n',
            "clock[0].start (clock 'x'): 'when' not allowed here: an event is { type",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = "10", unit = "hours" }\n',
            "clock[0].limit.value (clock 'x'): must be a whole number, not '10' [type]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = 0, unit = "hours" }\n',
            "clock[0].limit.value (clock 'x'): must be at least 1, not 0 [minimum]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "Legal Planning"\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = 1, unit = "hours" }\n',
            "clock[0].name (clock 'Legal Planning'): 'Legal Planning' does not match",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\nsince = 2007-03-05\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = 1, unit = "hours" }\n',
            "clock[0].since (clock 'x'): 2007-03-05 is a TOML date or time",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "no.such" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = 1, unit = "working_days" }\n',
            "clock[0] (x).start.type: no event type 'no.such'",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held", where = { colour = "red" } }\n'
            'stop = { type = "meeting.held" }\nlimit = { value = 1, unit = "working_days" }\n',
            "meeting.held has no payload field 'colour'",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'limit = { value = 1, unit = "fortnights" }\n',
            "clock[0].limit.unit (clock 'x'): 'fortnights' is not one of working_days, "
            "calendar_days, weeks, months, hours [enum]",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.requested" }\nstop = { type = "referral.made" }\n'
            'pair_on = ["meeting_id"]\nlimit = { value = 1, unit = "hours" }\n',
            "referral.made (stop) has no payload field 'meeting_id'",
        ),
        (
            'version = "1"\ntitle = "t"\n'
            + '[[clock]]\nname = "x"\nstart = { type = "meeting.held" }\n'
            'stop = { type = "meeting.held" }\nlimit = { value = 2, unit = "weeks" }\n' * 2,
            "clock[1].name: 'x' is used twice",
        ),
        (
            'version = "1"\ntitle = "t"\n[[clock]]\nname = "x"\n'
            'start = { type = "meeting.held" }\nstop = { type = "meeting.held" }\n'
            'unless_when_late = "ignored"\nlimit = { value = 1, unit = "hours" }\n',
            "clock[0].unless_when_late (clock 'x'): 'ignored' is not one of breached, not_due",
        ),
        ("version = ", "clocks.toml"),
    ],
)
def test_a_policy_that_cannot_be_used_is_refused_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    """Each mistake in a policy file names the file, the clock and the field."""
    path = tmp_path / "clocks.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_clock_policy(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_the_bundled_policy_names_its_version_and_hours_run_on_instants() -> None:
    """Reports carry the version; a clock in hours compares instants, not days."""
    assert POLICY.version == "2026.5" and len(POLICY.clocks) == 12
    base = referral_clock()
    hourly = ClockPolicy("t", "t", (Clock("hourly", "", base.start, base.stops, 72, "hours"),))
    case_id = new_case_id()
    start = matching(base, "start", case_id, date(2007, 3, 5))
    for hours, status in ((71, "met"), (73, "breached")):
        stop = matching(base, "stop", case_id, date(2007, 3, 5))
        stop["occurred_at"] = stop["recorded_at"] = (
            datetime(2007, 3, 5, 10, tzinfo=UTC) + timedelta(hours=hours)
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
        [run] = clock_runs(
            as_events([start, stop]), cutoff("2007-12-31"), hourly, agencies=AGENCIES
        )
        assert (run.status, run.deadline) == (status, "2007-03-08T10:00:00Z")


def test_the_latency_report_pools_runs_per_clock_and_agency() -> None:
    """Three referrals decided in 0, 1 and 2 working days, and one never decided."""
    from projections.latency import latency_report

    clock = referral_clock()
    per_case = []
    for referred, decided in (
        (date(2007, 3, 5), date(2007, 3, 5)),
        (date(2007, 3, 5), date(2007, 3, 6)),
        (date(2007, 3, 5), date(2007, 3, 7)),
        (date(2007, 3, 5), None),
    ):
        case_id = new_case_id()
        documents = [matching(clock, "start", case_id, referred)]
        if decided:
            documents.append(matching(clock, "stop", case_id, decided))
        runs = run_of(clock, documents, cutoff("2007-03-30"))
        per_case.append((case_id, [r.row() for r in runs]))
    [row] = latency_report(per_case, "clock")
    assert row["clock"] == "referral_decision" and row["limit"] == "1 working day"
    assert (row["runs"], row["met"], row["breached"], row["open"]) == (4, 2, 2, 0)
    assert (row["median_working_days"], row["p90_working_days"], row["max_working_days"]) == (
        1,
        2,
        2,
    )
    assert {b["case_id"] for b in row["breaches"]} == {per_case[2][0], per_case[3][0]}
    assert [b["stop_event"] for b in row["breaches"] if b["case_id"] == per_case[3][0]] == [None]
    by_agency = latency_report(per_case, "agency")
    assert [r["runs"] for r in by_agency] == [4] and "limit" not in by_agency[0]
    assert len(latency_report(per_case, "case")) == 4


@settings(max_examples=300, deadline=None)
@given(st.dates(date(2004, 1, 1), date(2030, 12, 31)), st.integers(-10, 2000))
def test_counting_working_days_equals_walking_them(start: date, span: int) -> None:
    """The counted `between` equals a day-by-day walk with the library's own holiday test,
    from day 0: the start, or the first working day after it (as the census counts)."""
    end = start + timedelta(days=span)
    day = start
    while not DAYS.is_working_day(day):
        day += timedelta(days=1)
    walked = 0
    while day < end:
        day += timedelta(days=1)
        walked += DAYS.is_working_day(day)
    assert DAYS.between(start, end) == walked


def test_policy_files_named_in_the_settings_replace_the_bundled_ones(tmp_path: Path) -> None:
    """SGL_CLOCK_POLICY and SGL_RULE_POLICY name files read instead of the package data."""
    from importlib.resources import files

    from ledger.settings import Settings
    from sgl.bootstrap import clock_policy_of, rule_policy_of

    clocks, rules = tmp_path / "clocks.toml", tmp_path / "rules.toml"
    bundled = files("policies")
    clocks.write_text((bundled / "clocks.toml").read_text().replace('"2026.5"', '"local-1"'))
    rules.write_text((bundled / "rules.toml").read_text().replace('"2026.4"', '"local-2"'))
    settings = Settings.from_env({"SGL_CLOCK_POLICY": str(clocks), "SGL_RULE_POLICY": str(rules)})
    assert clock_policy_of(settings).version == "local-1"
    assert rule_policy_of(settings).version == "local-2"
    assert clock_policy_of(Settings()).version == "2026.5"


def test_the_referral_clock_starts_on_a_referral_to_any_childrens_social_care() -> None:
    """By kind, not id: a referral to another council's social care starts the clock; one to
    a hospital does not; nor one to an agency never registered. The kind is the one in effect
    when the referral was recorded: a registration describes the agency before it too, and a
    change of kind counts from when it was recorded."""
    clock = referral_clock()
    assert clock.start.where_kind == (("to_agency", "childrens_social_care"),)

    def started(to_agency: str, agencies: Any = AGENCIES) -> bool:
        referral = matching(clock, "start", new_case_id(), date(2007, 3, 5), to_agency=to_agency)
        runs = clock_runs(as_events([referral]), cutoff("2007-03-30"), POLICY, agencies=agencies)
        return any(r.clock == clock for r in runs)

    assert started("example-social-care-east") and started("la-childrens-social-care")
    assert not started("example-hospital")
    assert not started("unregistered-council")
    east = "example-social-care-east"
    registered_later = registry({east: "childrens_social_care"}, at="2007-03-06T00:00:00Z")
    assert started(east, registered_later)
    for changed_at, starts in (("2007-03-06T00:00:00Z", False), ("2007-03-05T17:00:00Z", True)):
        rekinded = registry({east: "hospital"})
        rekinded.apply(update_event(east, changed_at, kind="childrens_social_care"))
        assert started(east, rekinded) is starts, changed_at


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (
            '{ type = "referral.made", where = { to_agency = "la-childrens-social-care" } }',
            "clock[0] (c).start.where.to_agency: referral.made.to_agency is an agency; match it "
            'by kind with where_kind = { to_agency = "<agency kind>" }',
        ),
        (
            '{ type = "referral.made", where_kind = { reason = "police" } }',
            "clock[0] (c).start.where_kind.reason: referral.made.reason is not an agency field",
        ),
        (
            '{ type = "referral.made", where_kind = { to_agenda = "police" } }',
            "clock[0] (c).start.where_kind: referral.made has no payload field 'to_agenda'",
        ),
        (
            '{ type = "referral.made", where_kind = { to_agency = "met-police" } }',
            "clock[0].start.where_kind.to_agency (clock 'c'): 'met-police' is not one of "
            "childrens_social_care, police, hospital, gp,",
        ),
    ],
)
def test_a_clock_policy_naming_an_agency_is_refused(
    tmp_path: Path, start: str, message: str
) -> None:
    """An agency id where a kind belongs is refused, naming the file, the clock and field."""
    path = tmp_path / "clocks.toml"
    path.write_text(
        f'version = "1"\ntitle = "t"\n[[clock]]\nname = "c"\nstart = {start}\n'
        'stop = { type = "decision.recorded" }\nlimit = { value = 1, unit = "working_days" }\n'
    )
    with pytest.raises(PolicyError) as raised:
        load_clock_policy(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
