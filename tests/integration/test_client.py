"""The Python client against a real server: receipts, batches, typed errors, safe retries."""

from __future__ import annotations

import threading

import pytest

from ledger.client import LedgerClient, RequestRejected
from ledger.errors import BatchRejected, EventConflict, InvalidEvent, LedgerUnavailable
from sgl.bootstrap import Container
from tests.conftest import LiveServer, free_port, wait_for
from tests.factories import case_events, make_event, new_case_id


def test_publish_returns_a_receipt_then_a_duplicate(live_server: LiveServer) -> None:
    """The same event twice: accepted, then duplicate with the same coordinates."""
    event = make_event()
    with LedgerClient(live_server.url) as client:
        first = client.publish(event)
        again = client.publish(event)
    assert first.status == "accepted" and again.status == "duplicate"
    assert (first.partition, first.offset, first.appended_at) == (
        again.partition,
        again.offset,
        again.appended_at,
    )


def test_publish_many_batches_and_keeps_order(live_server: LiveServer) -> None:
    """Events are sent in batches of batch_size and receipts come back in input order."""
    case_id = new_case_id()
    events = case_events(case_id, contacts=20, injuries=10)
    with LedgerClient(live_server.url, batch_size=7) as client:
        receipts = client.publish_many(events)
        assert [r.event_id for r in receipts] == [e["event_id"] for e in events]
        wait_for(
            lambda: client_case_events(client, case_id) == len(events),
            timeout=5,
            what="the case to show every event",
        )


def client_case_events(client: LedgerClient, case_id: str) -> int:
    try:
        return int(client.case(case_id)["events"])
    except RequestRejected:
        return 0


def test_invalid_events_raise_typed_errors_with_problems(live_server: LiveServer) -> None:
    """A bad event raises InvalidEvent; a bad batch raises BatchRejected naming the item."""
    bad = make_event()
    bad["payload"]["child_seen"] = "maybe"
    with LedgerClient(live_server.url) as client:
        with pytest.raises(InvalidEvent) as single:
            client.publish(bad)
        assert not isinstance(single.value, BatchRejected)
        assert [(p.pointer, p.rule) for p in single.value.problems] == [
            ("/payload/child_seen", "type")
        ]
        with pytest.raises(BatchRejected) as batch:
            client.publish_many([make_event(), bad])
        assert [(p.item, p.pointer) for p in batch.value.problems] == [(1, "/payload/child_seen")]


def test_reused_event_id_raises_conflict(live_server: LiveServer) -> None:
    """Different content under a used event_id raises EventConflict naming it."""
    event = make_event()
    with LedgerClient(live_server.url) as client:
        client.publish(event)
        with pytest.raises(EventConflict) as caught:
            client.publish({**event, "agency": "met-police"})
    assert caught.value.event_ids == [event["event_id"]]


def test_retries_reach_a_server_that_starts_late(container: Container) -> None:
    """Connection refused is retried with back-off; the event lands once."""
    port = free_port()
    server = LiveServer(container, port=port)
    event = make_event()
    starter = threading.Timer(0.3, server.start)
    starter.start()
    try:
        with LedgerClient(f"http://127.0.0.1:{port}", retries=8, backoff=0.1) as client:
            receipt = client.publish(event)
        assert receipt.status == "accepted"
        assert container.log.lookup([event["event_id"]])[event["event_id"]].offset == (
            receipt.offset
        )
    finally:
        starter.join()
        server.stop()


def test_no_server_at_all_is_ledger_unavailable() -> None:
    """When every retry fails the client raises LedgerUnavailable, not an httpx error."""
    client = LedgerClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with client, pytest.raises(LedgerUnavailable):
        client.publish(make_event())


def test_concurrent_batches_keep_each_case_in_order_on_the_log(live_server: LiveServer) -> None:
    """With four batches in flight, every case's offsets still rise in input order."""
    cases = [new_case_id() for _ in range(3)]
    events = [make_event("decision.recorded", cases[i % 3 if i < 150 else 0]) for i in range(240)]
    with LedgerClient(live_server.url, batch_size=10, concurrency=4) as client:
        receipts = client.publish_many(events)
    by_case: dict[str, list[tuple[int, int]]] = {}
    for event, receipt in zip(events, receipts, strict=True):
        by_case.setdefault(event["case_id"], []).append((receipt.partition, receipt.offset))
    for positions in by_case.values():
        assert len({p for p, _ in positions}) == 1
        offsets = [o for _, o in positions]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
