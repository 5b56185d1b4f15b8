"""Property: involvements, leads, last seen and days unseen at any date equal a reference fold.

The reference below is written plainly from the rules in docs/domain.md and calls nothing of
the product's fold: it filters what was recorded by the date, drops what was retracted by then,
and replays what is left in log order.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.as_of import state_as_of
from projections.sightings import any_statutory_involvement_open, sightings
from tests.factories import as_events, new_case_id
from tests.involvement_factory import (
    START,
    closed,
    day,
    event,
    involved,
    opened,
    registry,
    seen,
    uninvolved,
)

AGENCIES = ("example-childrens-social-care", "example-police", "example-voluntary", "example-gp")
# Statutory or not, and from which day (None: before every event; a day: registered as the
# opposite, changed on that day). example-gp is never registered.
REGISTERED = {
    "example-childrens-social-care": (True, None),
    "example-police": (True, 25),
    "example-voluntary": (False, None),
}
AREAS = ("E08000001", "E08000002")

agency = st.sampled_from(AGENCIES)
when = st.integers(min_value=0, max_value=60)
lag = st.integers(min_value=0, max_value=15)
contact = st.tuples(
    st.just("contact"),
    agency,
    when,
    lag,
    st.tuples(
        st.sampled_from(["yes", "yes", "no", "not_known"]),
        st.sampled_from([None, "yes", "no"]),
        st.sampled_from([False, False, False, True]),
    ),
)
step = st.one_of(
    st.tuples(st.just("opened"), agency, when, lag, st.sampled_from([1, 2])),
    st.tuples(st.just("closed"), agency, when, lag, st.sampled_from([1, 2])),
    st.tuples(st.just("involved"), agency, when, lag, st.sampled_from(["assessment", "other"])),
    st.tuples(st.just("uninvolved"), agency, when, lag, st.just(None)),
    st.tuples(st.just("lead"), agency, when, lag, st.just(None)),
    st.tuples(st.just("area"), agency, when, lag, st.sampled_from(AREAS)),
    st.tuples(st.just("retract"), st.integers(min_value=0, max_value=40), when, lag, st.just(None)),
)


def _contact(case_id: str, who: str, at: int, extra: Any) -> dict[str, Any]:
    child_seen, alone, by_source = extra
    more: dict[str, Any] = {}
    if child_seen == "yes" and alone is not None:
        more["seen_alone"] = alone
    if by_source:
        more["source"] = {"kind": "relative"}
    return seen(case_id, who, at, child_seen, **more)


def _opened(case_id: str, who: str, at: int, version: Any) -> dict[str, Any]:
    more = {"responsible_area": AREAS[0]} if version == 2 else {}
    return opened(case_id, who, at, version=version, **more)


MAKERS = {
    "opened": _opened,
    "closed": lambda case_id, who, at, version: closed(case_id, who, at, version=version),
    "involved": involved,
    "uninvolved": lambda case_id, who, at, _: uninvolved(case_id, who, at),
    "lead": lambda case_id, who, at, _: event(
        "lead.changed", case_id, AGENCIES[0], {"lead_agency": who}, at
    ),
    "area": lambda case_id, _, at, area: event(
        "area.changed", case_id, AGENCIES[0], {"area": area, "reason": "other"}, at
    ),
    "contact": _contact,
}


def build(case_id: str, steps: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The log the steps describe, in their order (a retraction's target is an earlier one)."""
    log: list[dict[str, Any]] = []
    for kind, who, at, late, extra in steps:
        if kind != "retract":
            made = MAKERS[kind](case_id, who, at, extra)
        elif log:
            target = log[who % len(log)]["event_id"]
            reason = {"reason": "entered in error"}
            made = event("entry.retracted", case_id, AGENCIES[0], reason, at, amends=target)
        else:
            continue
        made["recorded_at"] = day(at + late)
        log.append(made)
    return log


class Reference:
    """The rules, replayed plainly over what was known and not retracted."""

    def __init__(self) -> None:
        self.episodes: dict[str, list[dict[str, Any]]] = {}
        self.lead: str | None = None
        self.leads: list[dict[str, str]] = []
        self.last_seen: dict[str, str] = {}
        self.closure: str | None = None

    def is_open(self, agency: str) -> bool:
        found = self.episodes.get(agency, [])
        return bool(found) and found[-1]["closed_at"] is None

    def case_closed(self) -> bool:
        return bool(self.episodes) and not any(self.is_open(a) for a in self.episodes)

    def start(self, agency: str, at: str, basis: str) -> None:
        if not self.is_open(agency):
            self.episodes.setdefault(agency, []).append(
                {
                    "opened_at": at,
                    "basis": basis,
                    "closed_at": None,
                    "reason": None,
                    "cin_closure_reason": None,
                }
            )
        elif self.episodes[agency][-1]["basis"] == "not_known":
            self.episodes[agency][-1]["basis"] = basis

    def end(self, agency: str, at: str, reason: str, code: str | None) -> None:
        ended = {"closed_at": at, "reason": reason, "cin_closure_reason": code}
        if self.is_open(agency):
            self.episodes[agency][-1].update(ended)
        elif agency not in self.episodes:
            self.episodes[agency] = [{"opened_at": None, "basis": None, **ended}]

    def apply(self, e: dict[str, Any]) -> None:
        p, at, who, version = e["payload"], e["occurred_at"], e["agency"], e["schema_version"]
        was_closed = self.case_closed()
        kind = e["type"]
        if kind in ("case.opened", "lead.changed"):
            if p["lead_agency"] != self.lead:
                self.leads.append({"agency": p["lead_agency"], "since": at})
            self.lead = p["lead_agency"]
        if kind == "case.opened" and (version == 2 or not was_closed):
            self.start(p["lead_agency"], at, "not_known")
        elif kind == "involvement.opened":
            self.start(who, at, p["basis"])
        elif kind == "involvement.closed":
            self.end(who, at, p["reason"], None)
        elif kind == "case.closed":
            # Every closure in these logs is RC8, "no further action".
            every_open = [a for a in self.episodes if self.is_open(a)]
            targets = every_open if version == 1 and self.episodes else [who]
            for agency in targets:
                self.end(agency, at, "no_further_action", "RC8")
            if version == 1 or (self.case_closed() and not was_closed):
                self.closure = "RC8"
        elif kind == "contact.recorded" and p["child_seen"] == "yes" and "source" not in p:
            self.last_seen[who] = max(self.last_seen.get(who, at), at)
        if not self.case_closed():
            self.closure = None


def reference(log: list[dict[str, Any]], as_of: datetime) -> dict[str, Any]:
    """The expected answer, replayed plainly from the log."""
    cut = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    known = [e for e in log if e["recorded_at"] <= cut]
    retracted = {e["amends"] for e in known if e["type"] == "entry.retracted"}
    folded = Reference()
    for e in known:
        if e["event_id"] not in retracted and e["type"] != "entry.retracted":
            folded.apply(e)
    statutory_then = {
        a
        for a, (statutory, since) in REGISTERED.items()
        if statutory and (since is None or day(since) <= cut)
    }
    seen_then = [at for a, at in folded.last_seen.items() if a in statutory_then]
    latest = max(seen_then, default=None)
    return {
        "involvements": [
            {"agency": a, "open": folded.is_open(a), "episodes": folded.episodes[a]}
            for a in sorted(folded.episodes)
        ],
        "closed": folded.case_closed(),
        "closure_reason": folded.closure,
        "lead_agency": folded.lead,
        "leads": folded.leads,
        "last_seen": folded.last_seen,
        "last_seen_by_statutory": latest,
        "days_unseen": None
        if latest is None
        else (as_of - datetime.fromisoformat(latest)) // timedelta(days=1),
        "statutory_open": any(folded.is_open(a) for a in folded.episodes if a in statutory_then),
    }


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(step, contact), min_size=3, max_size=40),
    st.integers(min_value=10, max_value=100),
)
def test_the_product_equals_the_reference_fold(
    steps: list[tuple[Any, ...]], as_of_day: int
) -> None:
    """At a random date, the product's involvements, leads, last seen and days unseen are the
    reference fold's."""
    case_id = new_case_id()
    log = build(case_id, steps)
    as_of = START + timedelta(days=as_of_day, hours=12)
    expected = reference(log, as_of)
    events = as_events(log)
    state = state_as_of(events, as_of)
    if state is None:
        assert all(e["recorded_at"] > as_of.strftime("%Y-%m-%dT%H:%M:%SZ") for e in log)
        return
    agencies = registry(
        {a: s for a, (s, since) in REGISTERED.items() if since is None},
        changed={a: (s, since) for a, (s, since) in REGISTERED.items() if since is not None},
    )
    at = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    found = sightings(state, agencies, as_of, at)
    assert [
        {"agency": i.agency, "open": i.open, "episodes": [asdict(e) for e in i.episodes]}
        for i in state.involvements
    ] == expected["involvements"]
    assert (state.closed, state.closure_reason) == (expected["closed"], expected["closure_reason"])
    assert state.lead_agency == expected["lead_agency"]
    assert [asdict(x) for x in state.leads] == expected["leads"]
    assert {s.agency: s.last_seen_at for s in state.sightings.by_agency} == expected["last_seen"]
    last = found["last_seen_by_statutory_agency"]
    assert (last and last["last_seen_at"]) == expected["last_seen_by_statutory"]
    assert found["days_unseen"] == expected["days_unseen"]
    assert any_statutory_involvement_open(state, agencies, at) == expected["statutory_open"]
