"""The Python client against a real server: receipts, batches, typed errors, safe retries."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ledger.client import Forbidden, LedgerClient, NotAuthorized, RequestRejected
from ledger.errors import BatchRejected, EventConflict, InvalidEvent, LedgerUnavailable
from sgl.bootstrap import Container
from tests.conftest import LiveServer, free_port, wait_for
from tests.credentials import PURPOSE
from tests.factories import case_events, make_event, new_case_id

# The agency the client publishes for: an adapter publishes its own agency's events only.
AGENCY = "example-childrens-social-care"


def publisher(server: LiveServer) -> str:
    """The publisher token of the agency this module's client publishes for."""
    return server.credentials.token("publisher", AGENCY)


def reader(server: LiveServer) -> LedgerClient:
    """A client reading as an inquiry team, stating its purpose."""
    return LedgerClient(server.url, server.credentials.token("inquiry"), PURPOSE)


def own(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as the agency's own records."""
    return [{**event, "agency": AGENCY} for event in events]


def test_publish_returns_a_receipt_then_a_duplicate(live_server: LiveServer) -> None:
    """The same event twice: accepted, then duplicate with the same coordinates."""
    event = make_event()
    with LedgerClient(live_server.url, publisher(live_server)) as client:
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
    events = own(case_events(case_id, contacts=20, injuries=10))
    with LedgerClient(live_server.url, publisher(live_server), batch_size=7) as client:
        receipts = client.publish_many(events)
    assert [r.event_id for r in receipts] == [e["event_id"] for e in events]
    with reader(live_server) as client:
        wait_for(
            lambda: client_case_events(client, case_id) == len(events),
            timeout=30,
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
    with LedgerClient(live_server.url, publisher(live_server)) as client:
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
    with LedgerClient(live_server.url, publisher(live_server)) as client:
        client.publish(event)
        with pytest.raises(EventConflict) as caught:
            client.publish({**event, "recorded_at": "2006-12-19T09:15:00Z"})
    assert caught.value.event_ids == [event["event_id"]]


def test_retries_reach_a_server_that_starts_late(container: Container) -> None:
    """Connection refused is retried with back-off; the event lands once."""
    port = free_port()
    server = LiveServer(container, port=port)
    event = make_event()
    starter = threading.Timer(0.3, server.start)
    starter.start()
    try:
        token = publisher(server)
        with LedgerClient(f"http://127.0.0.1:{port}", token, retries=8, backoff=0.1) as client:
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
    events = own(
        [make_event("decision.recorded", cases[i % 3 if i < 150 else 0]) for i in range(240)]
    )
    with LedgerClient(
        live_server.url, publisher(live_server), batch_size=10, concurrency=4
    ) as client:
        receipts = client.publish_many(events)
    by_case: dict[str, list[tuple[int, int]]] = {}
    for event, receipt in zip(events, receipts, strict=True):
        by_case.setdefault(event["case_id"], []).append((receipt.partition, receipt.offset))
    for positions in by_case.values():
        assert len({p for p, _ in positions}) == 1
        offsets = [o for _, o in positions]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


def test_a_client_without_a_valid_token_is_not_authorized(
    live_server: LiveServer, container: Container
) -> None:
    """An unknown token is refused as NotAuthorized, not retried into an append."""
    ends = container.log.end_offsets()
    unknown = "sgl_0123456789ab_" + "C" * 43
    with LedgerClient(live_server.url, unknown) as client, pytest.raises(NotAuthorized):
        client.publish(make_event())
    assert container.log.end_offsets() == ends


def test_a_reader_states_its_purpose(live_server: LiveServer) -> None:
    """An inquiry token reads a case only with a purpose: without one it is Forbidden."""
    event = make_event()
    with LedgerClient(live_server.url, publisher(live_server)) as client:
        client.publish(event)
    token = live_server.credentials.token("inquiry")
    with LedgerClient(live_server.url, token) as client, pytest.raises(Forbidden):
        client.case(event["case_id"])
    with reader(live_server) as client:
        wait_for(
            lambda: client_case_events(client, event["case_id"]) == 1,
            timeout=30,
            what="the case to be read with a purpose",
        )
