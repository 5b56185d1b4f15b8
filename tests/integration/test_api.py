"""The HTTP API over a real server, on the embedded store and on real Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError

from ledger.client import LedgerClient
from ledger.errors import LedgerUnavailable
from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import LiveServer, wait_for
from tests.factories import make_event, new_case_id

PROBLEM = "application/problem+json"


def post_json(http: httpx.Client, body: Any) -> httpx.Response:
    return http.post(
        "/v1/events", content=orjson.dumps(body), headers={"content-type": "application/json"}
    )


def test_an_event_shows_in_the_case_within_a_second(http: httpx.Client) -> None:
    """POST an event, and GET /v1/cases/{id} shows it within one second, once the ledger is
    running: a first event, given all the time a fresh consumer needs to join its new topic
    on a loaded machine, proves the views are following before the second one is timed."""
    warm = make_event("case.opened")
    assert post_json(http, warm).status_code == 201
    wait_for(
        lambda: http.get(f"/v1/cases/{warm['case_id']}").status_code == 200,
        what="the views to follow the log",
    )
    event = make_event("case.opened")
    started = time.monotonic()
    response = post_json(http, event)
    assert response.status_code == 201
    wait_for(
        lambda: http.get(f"/v1/cases/{event['case_id']}").status_code == 200,
        timeout=1.0,
        what="the case to appear in the view",
    )
    elapsed = time.monotonic() - started
    case = http.get(f"/v1/cases/{event['case_id']}").json()
    assert case["opened"] is True and case["events"] == 1
    assert elapsed < 1.0


def test_receipt_names_event_partition_offset_and_append_time(
    http: httpx.Client, container: Container
) -> None:
    """A receipt says where the event is and when the log took it."""
    event = make_event()
    receipt = post_json(http, event).json()
    assert receipt["event_id"] == event["event_id"]
    assert receipt["status"] == "accepted"
    assert receipt["partition"] in container.log.partitions()
    assert receipt["offset"] >= 0
    assert receipt["appended_at"].endswith("Z")


def test_publishing_again_is_a_duplicate_with_the_original_receipt(
    http: httpx.Client, container: Container
) -> None:
    """The same event_id again returns `duplicate`, the first receipt, and appends nothing."""
    event = make_event()
    first = post_json(http, event).json()
    ends = container.log.end_offsets()
    again = post_json(http, event)
    assert again.status_code == 200
    assert again.json() == {**first, "status": "duplicate"}
    assert container.log.end_offsets() == ends


def test_a_retried_batch_only_appends_what_is_new(http: httpx.Client, container: Container) -> None:
    """A batch with some events already in the ledger appends only the new ones."""
    old, new = make_event(), make_event()
    post_json(http, old)
    ends = container.log.end_offsets()
    body = post_json(http, [old, new, new])
    assert body.status_code == 201
    statuses = [r["status"] for r in body.json()["receipts"]]
    assert statuses == ["duplicate", "accepted", "duplicate"]
    assert sum(container.log.end_offsets().values()) == sum(ends.values()) + 1


def test_same_event_id_with_other_content_is_a_conflict(
    http: httpx.Client, container: Container
) -> None:
    """Reusing an event_id for different content is 409 and appends nothing."""
    event = make_event()
    post_json(http, event)
    ends = container.log.end_offsets()
    changed = dict(event, payload={**event["payload"], "child_seen": False})
    response = post_json(http, changed)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["pointer"] == "/event_id"
    assert container.log.end_offsets() == ends


def _bad_type(e: dict[str, Any]) -> None:
    e["type"] = "injury.noticed"


def _bad_version(e: dict[str, Any]) -> None:
    e["schema_version"] = 7


def _missing(e: dict[str, Any]) -> None:
    del e["payload"]["contact_type"]


def _wrong_type(e: dict[str, Any]) -> None:
    e["payload"]["child_seen"] = "yes"


def _bad_enum(e: dict[str, Any]) -> None:
    e["payload"]["contact_type"] = "telepathy"


def _bad_time(e: dict[str, Any]) -> None:
    e["recorded_at"] = "2007-13-01T00:00:00Z"


@pytest.mark.parametrize(
    ("spoil", "pointer", "rule"),
    [
        (_bad_type, "/type", "known-type"),
        (_bad_version, "/schema_version", "known-version"),
        (_missing, "/payload/contact_type", "required"),
        (_wrong_type, "/payload/child_seen", "type"),
        (_bad_enum, "/payload/contact_type", "enum"),
        (_bad_time, "/recorded_at", "format"),
    ],
    ids=[
        "unknown-type",
        "unknown-version",
        "missing-field",
        "wrong-type",
        "bad-enum",
        "bad-timestamp",
    ],
)
def test_invalid_event_is_a_422_problem_naming_field_and_rule(
    http: httpx.Client,
    container: Container,
    spoil: Callable[[dict[str, Any]], None],
    pointer: str,
    rule: str,
) -> None:
    """Each kind of invalid event gets a problem+json naming pointer and rule; nothing appended."""
    event = make_event("contact.recorded")
    spoil(event)
    ends = container.log.end_offsets()
    response = post_json(http, event)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:sgl:problem:invalid-event"
    assert {"pointer": pointer, "rule": rule} in [
        {"pointer": e["pointer"], "rule": e["rule"]} for e in problem["errors"]
    ]
    assert container.log.end_offsets() == ends


@pytest.mark.parametrize(
    ("content", "content_type", "status", "rule"),
    [
        (b'{"event_id": ', "application/json", 400, "json"),
        (b"not json at all", "application/json", 400, "json"),
        (b"{}", "text/plain", 415, "content-type"),
        (b"{}", "", 415, "content-type"),
        (b"[]", "application/json", 422, "minItems"),
        (b"42", "application/json", 422, "type"),
    ],
    ids=[
        "truncated-json",
        "not-json",
        "text-plain",
        "no-content-type",
        "empty-batch",
        "not-an-object",
    ],
)
def test_malformed_requests_are_problems_and_append_nothing(
    http: httpx.Client,
    container: Container,
    content: bytes,
    content_type: str,
    status: int,
    rule: str,
) -> None:
    """Malformed JSON, wrong media type, an empty batch or a bare value: a clear problem."""
    ends = container.log.end_offsets()
    headers = {"content-type": content_type} if content_type else {}
    response = http.post("/v1/events", content=content, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["rule"] == rule
    assert container.log.end_offsets() == ends


def test_an_oversized_body_is_refused_before_anything_is_appended(
    http: httpx.Client, container: Container
) -> None:
    """A body over SGL_MAX_BODY_BYTES is 413 with the limit named."""
    limit = container.settings.max_body_bytes
    batch = [make_event() for _ in range(limit // 400 + 10)]
    body = orjson.dumps(batch)
    assert len(body) > limit
    ends = container.log.end_offsets()
    response = http.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["rule"] == "max-body-bytes"
    assert container.log.end_offsets() == ends


def test_a_batch_with_one_invalid_item_appends_nothing(
    http: httpx.Client, container: Container
) -> None:
    """Batches are all-or-nothing at validation: the bad item is named by index."""
    good = [make_event() for _ in range(3)]
    bad = make_event()
    bad["payload"]["contact_type"] = "carrier-pigeon"
    ends = container.log.end_offsets()
    response = post_json(http, [*good[:2], bad, good[2]])
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:sgl:problem:invalid-batch"
    assert problem["errors"] == [
        {
            "pointer": "/payload/contact_type",
            "rule": "enum",
            "item": 2,
            "detail": problem["errors"][0]["detail"],
        }
    ]
    assert container.log.end_offsets() == ends
    for event in good:
        assert http.get(f"/v1/cases/{event['case_id']}").status_code == 404


def test_a_batch_appends_every_item_and_keeps_case_order(
    http: httpx.Client, container: Container
) -> None:
    """A valid batch is appended whole; one case's events keep their order."""
    case_id = new_case_id()
    batch = [make_event(case_id=case_id) for _ in range(20)]
    response = post_json(http, batch)
    assert response.status_code == 201
    receipts = response.json()["receipts"]
    assert [r["event_id"] for r in receipts] == [e["event_id"] for e in batch]
    offsets = [r["offset"] for r in receipts]
    assert offsets == sorted(offsets)


def test_unknown_case_and_unknown_route_are_problems(http: httpx.Client) -> None:
    """404s are problem+json too."""
    for path in (f"/v1/cases/{new_case_id()}", "/v1/nothing-here"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


def test_health_readiness_and_schemas(http: httpx.Client) -> None:
    """/healthz, /readyz and the published schemas answer."""
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json()["status"] == "ready"
    listing = http.get("/v1/schemas").json()
    types = {t["type"] for t in listing["event_types"]}
    assert {"case.opened", "contact.recorded", "injury.observed", "decision.recorded"} <= types
    schema = http.get("/v1/schemas/injury.observed/1")
    assert schema.headers["content-type"] == "application/schema+json"
    assert schema.json()["$id"] == "urn:sgl:schema:injury.observed:1"
    assert http.get("/v1/schemas/injury.observed/99").status_code == 404
    assert "/v1/events" in http.get("/openapi.json").json()["paths"]


def test_metrics_count_appends_rejects_and_show_consumer_lag(http: httpx.Client) -> None:
    """/metrics exposes events by status, rejects by HTTP status, and lag per view."""
    event = make_event()
    post_json(http, event)
    post_json(http, event)
    post_json(http, {"type": "nonsense"})
    text = http.get("/metrics").text
    assert 'sgl_events_total{status="accepted"} 1.0' in text
    assert 'sgl_events_total{status="duplicate"} 1.0' in text
    assert 'sgl_rejects_total{status="422"} 1.0' in text
    assert 'sgl_consumer_lag_records{view="case_state"}' in text


def test_a_chunked_body_over_the_limit_is_refused_too(
    http: httpx.Client, container: Container
) -> None:
    """Without a Content-Length, the server counts as it reads and stops at the limit."""
    limit = container.settings.max_body_bytes
    chunk = b" " * 65536

    def body() -> Iterator[bytes]:
        yield b"["
        for _ in range(limit // len(chunk) + 2):
            yield chunk
        yield b"]"

    ends = container.log.end_offsets()
    response = http.post("/v1/events", content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert container.log.end_offsets() == ends


def test_a_log_that_fails_is_a_503_problem_and_the_client_says_unavailable(
    make_settings: Callable[..., Settings],
) -> None:
    """When the log cannot append, the API answers 503 with Retry-After; nothing half-done."""
    container = bootstrap(make_settings("sqlite"))
    server = LiveServer(container, run_consumer=False).start()
    try:
        container.log.close()  # the embedded log's file handle is gone: every append fails
        event = make_event()
        with server.client() as http:
            response = http.post(
                "/v1/events",
                content=orjson.dumps(event),
                headers={"content-type": "application/json"},
            )
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "1"
        token = server.credentials.token("publisher", event["agency"])
        with (
            LedgerClient(server.url, token, retries=1, backoff=0.01) as client,
            pytest.raises(LedgerUnavailable),
        ):
            client.publish(make_event())
    finally:
        server.stop()


def test_a_view_store_that_cannot_be_reached_is_a_503_and_nothing_is_appended(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view's database gone (a restart, a failover) answers reads and appends with 503 and
    Retry-After, as the log gone does: the caller retries. Any other database error stays a
    500."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container, run_consumer=False).start()

    def unreachable() -> None:
        raise OperationalError("the view's database is restarting")

    try:
        event = make_event()
        token = server.credentials.token("publisher", event["agency"])
        ends = container.log.end_offsets()
        monkeypatch.setattr(container.views, "current", unreachable)
        with server.client() as http:
            read = http.get(f"/v1/cases/{event['case_id']}")
            sent = http.post(
                "/v1/events",
                content=orjson.dumps(event),
                headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
            )
        for response in (read, sent):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == PROBLEM
            assert response.headers["retry-after"] == "1"
        assert container.log.end_offsets() == ends
        with pytest.raises(LedgerUnavailable, match="cannot be reached"):
            container.ledger.submit([make_event()])

        def broken() -> None:
            raise ProgrammingError("a statement the view's database refuses")

        # A fault, not an outage: a 500, which a retry would not mend.
        monkeypatch.setattr(container.views, "current", broken)
        with server.client() as http:
            refused = http.post(
                "/v1/events",
                content=orjson.dumps(make_event()),
                headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
            )
        assert refused.status_code == 500
        with pytest.raises(ProgrammingError):
            container.ledger.submit([make_event()])
    finally:
        server.stop()
        container.close()


@pytest.fixture
def embedded_http(make_settings: Callable[..., Settings]) -> Iterator[httpx.Client]:
    """A client of a server on the embedded store, without consumers, the test agencies
    registered."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container, run_consumer=False).start()
    try:
        with server.client() as client:
            yield client
    finally:
        server.stop()
        container.close()


CASE = "CASE-Q0001"


@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        (
            f"/v1/cases/{CASE}/changes",
            {"from": "2007-03-01", "to": "2007-03-09", "as_of": "2007-03-05"},
            ["as_of"],
        ),
        (
            "/v1/checkpoints/latest",
            {"as_of": "2007-03-05", "basis": "appended"},
            ["as_of", "basis"],
        ),
        ("/v1/events/e-1/proof", {"checkpoint": "3", "as_of": "2007-03-05"}, ["as_of"]),
        ("/v1/checkpoints/consistency", {"from": "1", "to": "2", "partiton": "0"}, ["partiton"]),
        (f"/v1/cases/{CASE}", {"asof": "2007-03-05"}, ["asof"]),
    ],
)
def test_a_query_parameter_the_route_does_not_take_is_refused_by_name(
    embedded_http: httpx.Client, path: str, params: dict[str, str], unknown: list[str]
) -> None:
    """A read never ignores a parameter: each one it does not take is a 422 problem naming it."""
    response = embedded_http.get(path, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    errors = response.json()["errors"]
    assert [(e["pointer"], e["rule"]) for e in errors] == [
        (f"/{name}", "unknown-parameter") for name in unknown
    ]


def test_every_declared_parameter_is_taken_by_its_name_on_the_wire(
    embedded_http: httpx.Client,
) -> None:
    """Aliases (`from`, `to`) and repeated parameters are the route's own: not refused."""
    chronology = embedded_http.get(
        f"/v1/cases/{CASE}/chronology",
        params=[
            ("as_of", "2007-03-05"),
            ("basis", "appended"),
            ("agency", "example-police"),
            ("agency", "example-hospital"),
            ("type", "contact.recorded"),
            ("from", "2007-01-01"),
            ("to", "2007-03-01"),
            ("format", "csv"),
        ],
    )
    # Every parameter taken: what is missing is the case, not an agency.
    assert chronology.status_code == 404, chronology.text
    assert chronology.json()["title"] == "No such case"
    changes = embedded_http.get(
        f"/v1/cases/{CASE}/changes", params={"from": "2007-03-01", "to": "2007-03-09"}
    )
    assert changes.status_code == 404
    # The check is on every route of the API, writes too: nothing is appended.
    refused = embedded_http.post(
        "/v1/events",
        params={"dry_run": "1"},
        content=orjson.dumps(make_event()),
        headers={"content-type": "application/json"},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/dry_run"
