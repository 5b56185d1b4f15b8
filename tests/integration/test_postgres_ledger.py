"""A whole ledger with its stores in PostgreSQL: every view, the seal and the indexes fill
from the log, survive a restart, and a rebuild swaps in a generation equal to the live one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ledger.postgres import PostgresLocation
from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap, open_view
from tests.agencies import with_agencies
from tests.factories import make_event, new_case_id

TYPES = ("contact.recorded", "injury.observed", "decision.recorded")
MOMENT = datetime(2030, 1, 1, tzinfo=UTC)


def caught_up(container: Container) -> None:
    """Every consumer of the container run until it has taken in the whole log."""
    container.runner().run_until_caught_up(timeout=60)
    for follower in container.followers():
        follower.run_until_caught_up(timeout=60)
    container.sealer().run_until_caught_up(timeout=60)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("kafka", marks=pytest.mark.kafka)])
def test_a_ledger_on_postgresql_keeps_every_view_and_rebuilds_them(
    backend: str, make_settings: Callable[..., Settings], postgres: PostgresLocation
) -> None:
    settings = make_settings(backend, database_url=postgres.url())
    cases = [new_case_id() for _ in range(5)]
    events = [make_event("case.opened", case_id) for case_id in cases]
    events += [make_event(TYPES[i % 3], cases[i % 5]) for i in range(55)]
    for case_id in cases:
        # A referral to children's social care starts a clock for its decision.
        referral = make_event("referral.made", case_id)
        referral["payload"]["to_agency"] = "la-childrens-social-care"
        events.append(referral)
    container = with_agencies(bootstrap(settings))
    try:
        container.ledger.submit(events)
        caught_up(container)
        states = {case_id: container.view.get(case_id) for case_id in cases}
        assert all(state is not None and state.events == 13 for state in states.values())
        clocks = dict(container.clocks.current().ledger_runs(container.view, MOMENT))
        assert sorted(clocks) == sorted(cases) and all(clocks.values())
        total = sum(container.log.end_offsets().values())
        ends = container.log.end_offsets()
        assert {p: container.seal.size(p) for p in ends} == ends
    finally:
        container.close()

    # Nothing of it is in files: a process with an empty data directory reads it all.
    elsewhere = make_settings(backend, database_url=postgres.url(), topic=settings.topic)
    reader = open_view(elsewhere)
    try:
        assert {case_id: reader.get(case_id) for case_id in cases} == states
    finally:
        reader.close()

    again = bootstrap(settings)
    try:
        report = again.rebuild()
        assert report.generation.startswith(f"{postgres.schema}_case_state_")
        assert report.applied == total
        assert {case_id: again.view.get(case_id) for case_id in cases} == states
        follower = again.rebuild_follower("clocks")
        assert follower.generation.startswith(f"{postgres.schema}_clocks_")
        assert dict(again.clocks.current().ledger_runs(again.view, MOMENT)) == clocks
    finally:
        again.close()
