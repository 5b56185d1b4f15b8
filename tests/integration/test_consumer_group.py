"""The case-state view as a Kafka consumer group: members join and leave mid-stream, each
partition moves to its new owner at the view's tracked position, and the view ends equal to a
clean rebuild, every record taken in exactly once; the group and its lag are visible to
Kafka's group tools. A batch read twice (by a member evicted while slow) fails in its
transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.sqlite import SQLiteDatastore
from kafka import KafkaAdminClient

from consumers.alerter import Alerter
from consumers.follower import CaseFollower
from consumers.loop import group_name
from consumers.runner import ProjectionRunner
from ledger.kafka_log import GROUP_SESSION_MS
from ledger.settings import Settings
from projections.alert_store import AlertStore
from projections.case_view import SQLiteCaseView
from projections.tracking import home_partition
from sgl.bootstrap import Container, bootstrap, build_log, open_view
from tests.agencies import with_agencies
from tests.conftest import wait_for
from tests.factories import make_event, new_case_id, unverified_adult

CASES = 60
PHASE = 1_000
TYPES = ("contact.recorded", "injury.observed", "decision.recorded")


def events(count: int, cases: list[str]) -> list[dict[str, object]]:
    return [make_event(TYPES[i % 3], cases[i % len(cases)]) for i in range(count)]


def publish(container: Container, batch: list[dict[str, object]]) -> None:
    for start in range(0, len(batch), 100):
        container.ledger.submit(batch[start : start + 100])


class Member:
    """One member of the case view's group, as a process would be: its own connection to the
    shared view file and its own consumer, run until stopped (with an instance: a static
    member, on a log of its own that carries it)."""

    def __init__(self, container: Container, instance: str = "") -> None:
        self.instance = instance
        self.log = (
            build_log(replace(container.settings, consumer_instance=instance))
            if instance
            else container.log
        )
        self.runner = ProjectionRunner(
            self.log,
            open_view(container.settings),
            container.schemas,
            container.dead_letters,
            batch_size=100,
            group=True,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.runner.run_resilient, args=(self.stop,))
        self.thread.start()

    def leave(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        if self.instance:
            self.log.close()


@contextmanager
def admin_of(settings: Settings) -> Iterator[Any]:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        yield admin
    finally:
        admin.close()


def assigned(admin: Any, group: str) -> list[list[int]]:
    """The partitions each member of the group holds, as the broker describes the group."""
    described = admin.describe_groups([group])[group]
    if described["group_state"] != "Stable":
        return []
    return sorted(
        sorted(p for t in m["member_assignment"]["assigned_partitions"] for p in t["partitions"])
        for m in described["members"]
    )


@pytest.mark.kafka
def test_a_group_growing_from_one_to_three_and_back_takes_in_each_record_once(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """The members share the view's store, a schema in PostgreSQL (members sharing one SQLite
    file can stall behind each other's write locks under load: see docs/operations.md)."""
    url = request.getfixturevalue("postgres").url()
    settings = make_settings("kafka", partitions=3, database_url=url)
    container = with_agencies(bootstrap(settings))
    cases = [new_case_id() for _ in range(CASES)]
    publish(container, [make_event("case.opened", c) for c in cases] + events(PHASE, cases))
    view = container.view
    group = group_name(settings.topic, view)
    members = [Member(container)]
    try:
        wait_for(lambda: members[0].runner.records >= 300, timeout=60, what="a first member")
        # Two more join while events are published: the partitions are shared out.
        publisher = threading.Thread(target=publish, args=(container, events(PHASE, cases)))
        publisher.start()
        members += [Member(container), Member(container)]
        with admin_of(settings) as admin:
            wait_for(
                lambda: assigned(admin, group) == [[0], [1], [2]],
                timeout=60,
                what="three members holding a partition each",
            )
            publisher.join(timeout=60)
            # The join may have been slower than the publisher: more for the three to share.
            publish(container, events(PHASE, cases))
            wait_for(
                lambda: all(m.runner.records for m in members),
                timeout=60,
                what="every member taking in records",
            )
            # Two leave while events are published: the one left takes every partition.
            publisher = threading.Thread(target=publish, args=(container, events(PHASE, cases)))
            publisher.start()
            members[1].leave()
            members[2].leave()
            publisher.join(timeout=60)
            wait_for(
                lambda: assigned(admin, group) == [[0, 1, 2]],
                timeout=60,
                what="the first member holding every partition",
            )
            ends = container.log.end_offsets()
            wait_for(
                lambda: (
                    view.positions(settings.topic, list(ends))
                    == {p: e - 1 for p, e in ends.items()}
                ),
                timeout=60,
                what="the group to catch up",
            )
            # The group tools see the group, and its offsets at the log's end: no lag.
            assert group in {g["group_id"] for g in admin.list_groups()}
            wait_for(
                lambda: (
                    {
                        tp.partition: o.offset
                        for tp, o in admin.list_group_offsets({group: None})[group].items()
                    }
                    == ends
                ),
                timeout=30,
                what="the group's committed offsets at the log's end",
            )
    finally:
        for member in members:
            member.leave()
    with admin_of(settings) as admin:
        admin.delete_groups([group])
    total = sum(ends.values())
    # Every record taken in by exactly one member, once: none lost, none doubled.
    assert sum(m.runner.records for m in members) == total
    assert view.applied_count() == total

    rebuilt = SQLiteCaseView(SQLiteDatastore(str(tmp_path / "rebuild.sqlite")))
    rebuilt.create_table()
    clean = ProjectionRunner(container.log, rebuilt, container.schemas, container.dead_letters)
    assert clean.run_until_caught_up(timeout=120) == total
    case_ids = view.case_ids(limit=CASES + 1)
    assert case_ids == rebuilt.case_ids(limit=CASES + 1)
    for case_id in case_ids:
        assert view.get(case_id) == rebuilt.get(case_id)
    container.close()


def instances(admin: Any, group: str) -> dict[str, tuple[str, list[int]]]:
    """Each static member of the group: its member id and the partitions it holds."""
    described = admin.describe_groups([group])[group]
    return {
        m["group_instance_id"]: (
            m["member_id"],
            sorted(
                p for t in m["member_assignment"]["assigned_partitions"] for p in t["partitions"]
            ),
        )
        for m in described["members"]
        if described["group_state"] == "Stable"
    }


@pytest.mark.kafka
def test_a_static_member_restarted_takes_back_its_partitions_without_waiting(
    make_settings: Callable[..., Settings],
) -> None:
    """SGL_CONSUMER_INSTANCE: a member stopped without leaving (as a killed process) keeps its
    place in the group; started again with the same instance it is given its partitions back
    well within the session timeout, and the other member's partitions never move."""
    settings = make_settings("kafka", partitions=3)
    container = with_agencies(bootstrap(settings))
    cases = [new_case_id() for _ in range(CASES)]
    publish(container, [make_event("case.opened", c) for c in cases] + events(PHASE, cases))
    view = container.view
    group = group_name(settings.topic, view)
    members = {name: Member(container, name) for name in ("member-a", "member-b")}
    try:
        with admin_of(settings) as admin:
            wait_for(
                lambda: sorted(len(p) for _, p in instances(admin, group).values()) == [1, 2],
                timeout=60,
                what="two static members sharing the partitions",
            )
            before = instances(admin, group)
            # A static member's consumer closed sends no LeaveGroup: the group keeps its place.
            members["member-a"].leave()
            assert instances(admin, group) == before
            restarted = time.monotonic()
            members["member-a"] = Member(container, "member-a")
            wait_for(
                lambda: (
                    (now := instances(admin, group)).keys() == before.keys()
                    and now["member-a"][0] != before["member-a"][0]
                ),
                timeout=60,
                what="the restarted member in the group",
            )
            took = time.monotonic() - restarted
            after = instances(admin, group)
            assert {i: p for i, (_, p) in after.items()} == {i: p for i, (_, p) in before.items()}
            assert after["member-b"] == before["member-b"]
            assert took < GROUP_SESSION_MS / 1000
            publish(container, events(PHASE, cases))
            ends = container.log.end_offsets()
            wait_for(
                lambda: (
                    view.positions(settings.topic, list(ends))
                    == {p: e - 1 for p, e in ends.items()}
                ),
                timeout=60,
                what="the group to catch up",
            )
    finally:
        for member in members.values():
            member.leave()
    assert view.applied_count() == sum(ends.values())
    with admin_of(settings) as admin:
        admin.delete_groups([group])
    container.close()


def test_a_batch_starting_at_or_below_the_tracked_position_applies_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    """What a member evicted mid-batch meets when the new owner has taken the partition on:
    its batch overlaps what is recorded, and its transaction fails."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    case_id = new_case_id()
    publish(container, [make_event("case.opened", case_id), *events(40, [case_id])])
    registered = container.log.end_offsets()[0] - 41
    records = container.log.reader({}).poll(1000, 1.0)
    runner = container.runner()
    view = container.view
    runner.handle(records[: registered + 20])
    applied = view.applied_count()
    with pytest.raises(IntegrityError):
        runner.handle(records[registered + 10 : registered + 30])
    assert view.applied_count() == applied
    assert view.positions(container.log.topic, [0]) == {0: records[registered + 19].offset}
    # The batch from the tracked position on applies.
    runner.handle(records[registered + 20 :])
    assert view.applied_count() == applied + 21
    container.close()


class Recorded:
    """The alerter's store, noting each member's decisions made on a deadline (no positions
    recorded with them): the cases it evaluated."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self.ticked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def record(self, raised: Any, due: dict[str, Any], tracking: list[Any]) -> None:
        if not tracking:
            self.ticked += due
        self.store.record(raised, due, tracking)


class FollowerMember:
    """One member of a follower's group (the clock view's or the alerter's), run in a thread
    until stopped."""

    def __init__(self, container: Container, target: Any, now: list[datetime]) -> None:
        self.follower = CaseFollower(
            container.log,
            container.views,
            target,
            group=True,
            clock=lambda: now[0],
            tick_seconds=0.2,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.follower.run_resilient, args=(self.stop,))
        self.thread.start()

    def leave(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


@pytest.mark.kafka
def test_the_clock_view_and_the_alerter_share_their_partitions_between_members(
    make_settings: Callable[..., Settings], request: pytest.FixtureRequest
) -> None:
    """Two members each of the clock view and the alerter (stores in PostgreSQL) share the
    partitions; every case's runs are stored from all its events; when a deadline passes each
    member looks only at the cases of the partitions it holds, and each alert is decided once.
    About 20 s, most of it the groups' joins."""
    url = request.getfixturevalue("postgres").url()
    settings = make_settings("kafka", partitions=3, database_url=url)
    container = with_agencies(bootstrap(settings))
    cases = [new_case_id() for _ in range(12)]
    publish(container, [unverified_adult(c) for c in cases] + events(300, cases))
    # The case view, kept up to date as the alerts raised join the log.
    view_member = Member(container)
    now = [datetime(2007, 3, 6, 9, tzinfo=UTC)]
    alerter = container.alerts.current()
    stores = [Recorded(alerter.store), Recorded(alerter.store)]
    members = [FollowerMember(container, container.clocks, now) for _ in range(2)]
    members += [
        FollowerMember(
            container,
            Alerter(
                cast(AlertStore, s), alerter.policy, alerter.record, alerter.feed, alerter.agencies
            ),
            now,
        )
        for s in stores
    ]
    groups = [
        group_name(settings.topic, container.clocks.current()),
        group_name(settings.topic, alerter),
    ]
    try:
        with admin_of(settings) as admin:
            for group in groups:
                wait_for(
                    lambda: assigned(admin, group) == [[0, 1], [2]],  # noqa: B023
                    timeout=60,
                    what=f"two members sharing the partitions of {group}",
                )
            # More records, read by the members of each group.
            publish(container, events(300, cases))
            for member in members:
                wait_for(
                    lambda: member.follower.lag() == 0,  # noqa: B023
                    timeout=60,
                    what="the followers to catch up",
                )
            assert all(m.follower.records for m in members)
            # The deadline passes: each member decides the alerts of its own cases.
            now[0] = datetime(2007, 3, 20, 9, tzinfo=UTC)
            wait_for(
                lambda: len(unverified(alerter.store)) == len(cases),
                timeout=30,
                what="an alert in every case",
            )
            # The alerts raised are records of their cases too: every member takes them in.
            for loop in [view_member.runner, *(m.follower for m in members)]:
                wait_for(
                    lambda: loop.lag() == 0,  # noqa: B023
                    timeout=60,
                    what="the alerts raised to be taken in",
                )
    finally:
        for member in [*members, view_member]:
            member.leave()
    with admin_of(settings) as admin:
        admin.delete_groups([*groups, group_name(settings.topic, container.view)])
    view = container.view
    homes = {c: home_partition(view.events(c)) for c in cases}
    # Each member looked only at the cases at home in its partitions; between them, every
    # case (each alert decided by one member).
    first, second = (set(s.ticked) for s in stores)
    assert {c for c, _ in unverified(alerter.store)} == set(cases) <= first | second
    assert not {homes[c] for c in first} & {homes[c] for c in second}
    # Every case's runs were stored from every event it holds.
    with container.clocks.current().transaction() as cursor:
        cursor.execute("SELECT case_id, seen FROM clocks_cases")
        stored = dict(cursor.fetchall())
    heads = view.heads()
    assert {c: stored.get(c) for c in cases} == {c: heads[c][0] for c in cases}
    container.close()


def unverified(store: AlertStore) -> list[tuple[str, str]]:
    """The (case, alert) of each unverified-adult alert the store has decided."""
    return [
        (a["case_id"], a["alert_id"])
        for a in store.raised()
        if a["rule"] == "adult_identity_unverified"
    ]
