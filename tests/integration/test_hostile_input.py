"""Hostile input against a live server: every case is a 4xx problem that names the rule broken,
nothing reaches the log, and nothing is ever a 5xx."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from ledger.settings import Settings
from sgl.bootstrap import Container, bootstrap
from tests.agencies import with_agencies
from tests.conftest import BACKENDS, LiveServer, delete_topics, private_settings, wait_for
from tests.credentials import post_by_caller
from tests.factories import make_event

PROBLEM = "application/problem+json"
NIL = "00000000-0000-0000-0000-000000000000"
MAX_INT64 = 2**63 - 1
CASE = "CASE-H0001"


@dataclass(frozen=True)
class Hostile:
    """One hostile request: what is sent, the status it must get and the rule it must name."""

    body: Callable[[], bytes]
    status: int
    rule: str
    content_type: str | None = "application/json"
    path: str = "/v1/events"
    method: str = "POST"
    pointer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def event(event_type: str = "injury.observed", **changes: Any) -> dict[str, Any]:
    """A valid event of the case under attack."""
    return make_event(event_type, CASE, **changes)


def injury(**payload: Any) -> dict[str, Any]:
    """A valid injury observation with payload fields replaced."""
    base = event()
    base["payload"].update(payload)
    return base


def dumped(build: Callable[[], Any]) -> Callable[[], bytes]:
    """The body as the client would send it, built afresh for each request."""
    return lambda: orjson.dumps(build())


def raw(text: bytes) -> Callable[[], bytes]:
    """These exact bytes."""
    return lambda: text


def with_payload_text(text: str) -> Callable[[], bytes]:
    """An injury whose explanation_given is JSON text written by hand (escapes kept)."""

    def build() -> bytes:
        body = orjson.dumps(injury(explanation_given="MARK"))
        return body.replace(b'"MARK"', text.encode())

    return build


def nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    """A JSON value nested `depth` deep."""
    return opener * depth + closer * depth


def deep_objects(depth: int) -> bytes:
    """Objects nested `depth` deep: {"a":{"a":...}}."""
    return b'{"a":' * depth + b"1" + b"}" * depth


def alternating(depth: int) -> bytes:
    """Arrays and objects alternating, `depth` deep."""
    return b'[{"a":' * (depth // 2) + b"1" + b"}]" * (depth // 2)


def in_payload(value: bytes) -> Callable[[], bytes]:
    """An injury whose payload carries the value under an extra key."""

    def build() -> bytes:
        body = orjson.dumps(injury())
        return body.replace(b'"payload":{', b'"payload":{"x":' + value + b",", 1)

    return build


def duplicate(where: bytes, key: bytes, value: bytes) -> Callable[[], bytes]:
    """A valid event with `key` given a second time, first thing after `where`."""

    def build() -> bytes:
        body = orjson.dumps(injury())
        return body.replace(where, where + b'"' + key + b'":' + value + b",", 1)

    return build


def spaced(build: Callable[[], Any]) -> Callable[[], bytes]:
    """The body written with spaces, as a person or another encoder would write it."""
    return lambda: orjson.dumps(build(), option=orjson.OPT_INDENT_2)


def batch_with(bad: Callable[[], dict[str, Any]]) -> Callable[[], bytes]:
    """A batch of two valid events and a hostile third."""
    return lambda: orjson.dumps([event(), event(), bad()])


def correction_of_nil() -> dict[str, Any]:
    """A correction naming the nil UUID as what it amends."""
    return make_event("correction.recorded", CASE, amends=NIL)


def alert_with_nil_evidence() -> dict[str, Any]:
    """An alert citing the nil UUID as evidence, sent as an adapter would (no credential acts
    for the ledger's own agency)."""
    alert = make_event("alert.raised", CASE, agency="example-hospital")
    alert["payload"]["evidence"] = [str(uuid.uuid4()), NIL]
    return alert


def opened(**payload: Any) -> dict[str, Any]:
    """A case.opened event with payload fields replaced."""
    base = make_event("case.opened", CASE)
    base["payload"].update(payload)
    return base


def action(**payload: Any) -> dict[str, Any]:
    """An action.assigned event with payload fields replaced."""
    base = make_event("action.assigned", CASE)
    base["payload"].update(payload)
    return base


def get(path: str, status: int, rule: str) -> Hostile:
    """A GET with hostile parameters."""
    return Hostile(raw(b""), status, rule, content_type=None, path=path, method="GET")


CORPUS: dict[str, Hostile] = {
    # Nesting: refused on the bytes, before any parser runs.
    "deep-arrays-300": Hostile(raw(nested(300)), 400, "max-depth"),
    "deep-arrays-1000": Hostile(raw(nested(1000)), 400, "max-depth"),
    "deep-arrays-past-the-parser-100000": Hostile(raw(nested(100_000)), 400, "max-depth"),
    "deep-objects-255": Hostile(raw(deep_objects(255)), 400, "max-depth"),
    "deep-objects-1023": Hostile(raw(deep_objects(1023)), 400, "max-depth"),
    "deep-alternating-200": Hostile(raw(alternating(200)), 400, "max-depth"),
    "deep-just-over-the-limit": Hostile(raw(nested(65)), 400, "max-depth"),
    "deep-in-payload": Hostile(in_payload(nested(300)), 400, "max-depth"),
    "deep-in-envelope": Hostile(
        dumped(lambda: {**event(), "causation_id": orjson.Fragment(nested(100))}),
        400,
        "max-depth",
    ),
    "deep-unclosed": Hostile(raw(b"[" * 5000), 400, "max-depth"),
    "deep-in-a-batch-item": Hostile(
        lambda: b"[" + orjson.dumps(event()) + b"," + nested(200) + b"]", 400, "max-depth"
    ),
    # Duplicate keys: the last would win silently, so a case_id could be switched.
    "duplicate-case-id": Hostile(
        duplicate(b"{", b"case_id", b'"CASE-H0002"'), 400, "duplicate-key"
    ),
    "duplicate-in-payload": Hostile(
        duplicate(b'"payload":{', b"count", b"9"), 400, "duplicate-key"
    ),
    "duplicate-in-recorded-by": Hostile(
        duplicate(b'"recorded_by":{', b"role", b'"nurse"'), 400, "duplicate-key"
    ),
    "duplicate-written-with-spaces": Hostile(
        lambda: spaced(event)().replace(b"{", b'{\n  "type": "x",', 1), 400, "duplicate-key"
    ),
    "duplicate-in-a-batch-item": Hostile(
        lambda: b"[" + orjson.dumps(event()) + b"," + duplicate(b"{", b"agency", b'"x"')() + b"]",
        400,
        "duplicate-key",
    ),
    # Encoding: UTF-8 only.
    "charset-latin-1": Hostile(
        dumped(event), 415, "charset", content_type="application/json; charset=latin-1"
    ),
    "charset-utf-16": Hostile(
        dumped(event), 415, "charset", content_type='application/json; charset="utf-16"'
    ),
    "no-content-type": Hostile(dumped(event), 415, "content-type", content_type=None),
    "text-plain": Hostile(dumped(event), 415, "content-type", content_type="text/plain"),
    "invalid-utf-8-raw": Hostile(
        lambda: orjson.dumps(injury(explanation_given="MARK")).replace(b"MARK", b"\xff\xfe"),
        400,
        "utf-8",
    ),
    "overlong-utf-8": Hostile(
        lambda: orjson.dumps(injury(explanation_given="MARK")).replace(b"MARK", b"\xc0\xaf"),
        400,
        "utf-8",
    ),
    "utf-8-encoded-surrogate": Hostile(
        lambda: orjson.dumps(injury(explanation_given="MARK")).replace(b"MARK", b"\xed\xa0\x80"),
        400,
        "utf-8",
    ),
    "utf-16-body": Hostile(lambda: orjson.dumps(event()).decode().encode("utf-16"), 400, "utf-8"),
    "lone-surrogate-escape": Hostile(with_payload_text('"a \\ud800 b"'), 400, "json"),
    "byte-order-mark": Hostile(lambda: b"\xef\xbb\xbf" + orjson.dumps(event()), 400, "json"),
    # Numbers: whole numbers as whole numbers, nothing the parser cannot hold.
    "count-1.0": Hostile(
        dumped(lambda: injury(count=1.0)), 422, "integer", pointer="/payload/count"
    ),
    "count-exponent-1e0": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":1e0'),
        422,
        "integer",
        pointer="/payload/count",
    ),
    "count-exponent-1E2": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":1E2'),
        422,
        "integer",
    ),
    "size-fraction": Hostile(dumped(lambda: injury(size_mm=15.5)), 422, "type"),
    "count-1e400": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":1e400'),
        400,
        "json",
    ),
    "count-minus-zero-float": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":-0.0'),
        422,
        "minimum",
    ),
    "count-minus-zero": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":-0'),
        422,
        "minimum",
    ),
    "count-NaN": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":NaN'), 400, "json"
    ),
    "count-Infinity": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(b'"count":7', b'"count":Infinity'),
        400,
        "json",
    ),
    "count-2-to-the-64": Hostile(
        lambda: orjson.dumps(injury(count=7)).replace(
            b'"count":7', b'"count":18446744073709551616'
        ),
        422,
        "maximum",
    ),
    "schema-version-1.0": Hostile(dumped(lambda: event(schema_version=1.0)), 422, "known-version"),
    # NUL characters.
    "nul-in-free-text": Hostile(
        dumped(lambda: injury(explanation_given="fell\x00over")),
        422,
        "no-nul",
        pointer="/payload/explanation_given",
    ),
    "nul-escape-in-free-text": Hostile(with_payload_text('"fell\\u0000over"'), 422, "no-nul"),
    "nul-in-case-id": Hostile(
        dumped(lambda: {**event(), "case_id": "CASE-H0001\x00"}), 422, "pattern"
    ),
    "nul-in-event-id": Hostile(
        dumped(lambda: event(event_id=str(uuid.uuid4()) + "\x00")), 422, "format"
    ),
    "nul-in-agency": Hostile(dumped(lambda: event(agency="nhs\x00")), 422, "pattern"),
    "nul-in-a-payload-key": Hostile(
        dumped(lambda: injury(**{"col\x00our": "red"})),
        422,
        "additionalProperties",
    ),
    "nul-in-an-envelope-key": Hostile(
        dumped(lambda: {**event(), "\x00": 1}), 422, "unevaluatedProperties"
    ),
    # The nil UUID names nothing.
    "nil-event-id": Hostile(dumped(lambda: event(event_id=NIL)), 422, "not-nil"),
    "nil-causation-id": Hostile(dumped(lambda: event(causation_id=NIL)), 422, "not-nil"),
    "nil-correlation-id": Hostile(dumped(lambda: event(correlation_id=NIL)), 422, "not-nil"),
    "nil-amends": Hostile(dumped(correction_of_nil), 422, "not-nil", pointer="/amends"),
    "nil-in-evidence": Hostile(
        dumped(alert_with_nil_evidence), 422, "not-nil", pointer="/payload/evidence/1"
    ),
    # Instants: never finer than the ledger keeps, never out of range.
    "nanoseconds": Hostile(
        dumped(lambda: event(occurred_at="2006-12-11T14:20:00.123456789Z")), 422, "precision"
    ),
    "seven-digits-with-offset": Hostile(
        dumped(lambda: event(recorded_at="2006-12-11T19:05:00.1234567+01:00")), 422, "precision"
    ),
    "year-0001": Hostile(dumped(lambda: event(occurred_at="0001-01-01T00:00:00Z")), 422, "range"),
    "year-0001-with-offset": Hostile(
        dumped(lambda: event(occurred_at="0001-01-01T00:00:00+01:00")), 422, "range"
    ),
    "before-1900-in-utc": Hostile(
        dumped(lambda: event(occurred_at="1900-01-01T00:30:00+01:00")), 422, "range"
    ),
    "recorded-in-year-9999": Hostile(
        dumped(lambda: event(recorded_at="9999-12-31T23:59:59-01:00")), 422, "not-in-future"
    ),
    "birth-in-year-0001": Hostile(
        dumped(lambda: opened(date_of_birth="0001-01-01")),
        422,
        "range",
        pointer="/payload/date_of_birth",
    ),
    "action-due-in-year-2999": Hostile(
        dumped(lambda: action(due="2999-01-01T00:00:00Z")), 422, "range", pointer="/payload/due"
    ),
    "action-due-in-nanoseconds": Hostile(
        dumped(lambda: action(due="2007-01-01T00:00:00.000000001Z")), 422, "precision"
    ),
    # Bodies that are not events.
    "empty-body": Hostile(raw(b""), 400, "json"),
    "whitespace-body": Hostile(raw(b"  \n "), 400, "json"),
    "scalar-number": Hostile(raw(b"1"), 422, "type"),
    "scalar-string": Hostile(raw(b'"event"'), 422, "type"),
    "scalar-null": Hostile(raw(b"null"), 422, "type"),
    "scalar-true": Hostile(raw(b"true"), 422, "type"),
    "empty-batch": Hostile(raw(b"[]"), 422, "minItems"),
    "batch-of-a-number": Hostile(raw(b"[1]"), 422, "type"),
    "batch-with-one-nil-id": Hostile(batch_with(lambda: event(event_id=NIL)), 422, "not-nil"),
    "batch-with-one-float": Hostile(batch_with(lambda: injury(count=2.0)), 422, "integer"),
    "very-long-string": Hostile(
        dumped(lambda: injury(explanation_given="x" * 1_000_000)), 422, "maxLength"
    ),
    "very-long-key": Hostile(
        dumped(lambda: {**event(), "k" * 100_000: 1}), 422, "unevaluatedProperties"
    ),
    "unknown-query-parameter": Hostile(
        dumped(event), 422, "unknown-parameter", path="/v1/events?dry_run=1"
    ),
    # Query parameters: numbers in range, dates in range, nothing unknown.
    "checkpoint-2-to-the-63": get(
        f"/v1/events/{uuid.uuid4()}/proof?checkpoint={MAX_INT64 + 1}", 422, "less_than_equal"
    ),
    "checkpoint-negative": get(
        f"/v1/events/{uuid.uuid4()}/proof?checkpoint=-1", 422, "greater_than_equal"
    ),
    "checkpoint-not-a-number": get(
        f"/v1/events/{uuid.uuid4()}/proof?checkpoint=ten", 422, "int_parsing"
    ),
    "checkpoint-huge": get(
        f"/v1/events/{uuid.uuid4()}/proof?checkpoint={10**40}", 422, "less_than_equal"
    ),
    "from-2-to-the-63": get(
        f"/v1/checkpoints/consistency?from={MAX_INT64 + 1}&to=1", 422, "less_than_equal"
    ),
    "to-2-to-the-63": get(
        f"/v1/checkpoints/consistency?from=1&to={MAX_INT64 + 1}", 422, "less_than_equal"
    ),
    "to-exponent": get("/v1/checkpoints/consistency?from=1&to=1e3", 422, "int_parsing"),
    "partition-2-to-the-31": get(
        f"/v1/checkpoints/consistency?from=1&to=2&partition={2**31}", 422, "less_than_equal"
    ),
    "partition-negative": get(
        "/v1/checkpoints/consistency?from=1&to=2&partition=-1", 422, "greater_than_equal"
    ),
    "unknown-query-on-a-read": get(f"/v1/cases/{CASE}?asof=2007-01-01", 422, "unknown-parameter"),
    "unknown-query-on-health": get("/healthz?verbose=1", 422, "unknown-parameter"),
    "as-of-year-0001": get(f"/v1/cases/{CASE}?as_of=0001-01-01", 422, "range"),
    "as-of-past-year-9999-in-utc": get(
        f"/v1/cases/{CASE}/clocks?as_of=9999-12-31T23:59:59-01:00", 422, "range"
    ),
    "changes-from-year-0001": get(
        f"/v1/cases/{CASE}/changes?from=0001-01-01&to=2007-01-01", 422, "range"
    ),
    "as-of-not-a-date": get("/v1/latency?as_of=%00", 422, "format"),
}


def call(server: LiveServer, method: str, path: str, **options: Any) -> httpx.Response:
    """One request to the server by the caller that may make it (`LiveServer.client`)."""
    with server.client() as http:
        return http.request(method, path, **options)


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, LiveServer]]:
    """One live server per backend for the whole corpus; the attacked case already exists."""
    backend: str = request.param
    settings = private_settings(backend, tmp_path_factory.mktemp("hostile"), request)
    container = with_agencies(bootstrap(settings))
    server = LiveServer(container, run_consumer=True).start()
    opening = call(
        server,
        "POST",
        "/v1/events",
        content=orjson.dumps(make_event("case.opened", CASE)),
        headers={"content-type": "application/json"},
    )
    assert opening.status_code == 201
    wait_for(
        lambda: call(server, "GET", f"/v1/cases/{CASE}").status_code == 200,
        what="the attacked case in the view",
    )
    yield container, server
    server.stop()
    container.close()
    if backend == "kafka":
        topics = (settings.topic, settings.dead_letter_topic, settings.alerts_topic)
        access = (settings.access_topic, settings.access_checkpoints_topic, settings.notes_topic)
        delete_topics(settings.kafka_bootstrap, [*topics, settings.checkpoints_topic, *access])


@pytest.mark.parametrize("case", list(CORPUS.values()), ids=list(CORPUS))
def test_hostile_input_is_a_4xx_problem_and_appends_nothing(
    served: tuple[Container, LiveServer], case: Hostile
) -> None:
    """Each hostile request: its 4xx, a problem naming the rule, the log untouched."""
    container, server = served
    ends = container.log.end_offsets()
    headers = {} if case.content_type is None else {"content-type": case.content_type}
    response = call(server, case.method, case.path, content=case.body(), headers=headers)
    assert response.status_code < 500, response.text
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == case.status
    rules = [e["rule"] for e in problem["errors"]]
    assert case.rule in rules, problem
    if case.pointer is not None:
        assert case.pointer in [e["pointer"] for e in problem["errors"]], problem
    assert container.log.end_offsets() == ends


def test_text_that_looks_like_nesting_or_escapes_is_accepted(
    served: tuple[Container, LiveServer],
) -> None:
    """Brackets, quotes and backslashes inside strings are text: a valid event is appended."""
    _, server = served
    hostile_looking = '[[[[{{{{"\\"}}]]' * 30
    body = orjson.dumps(injury(explanation_given=hostile_looking[:500]))
    response = call(
        server, "POST", "/v1/events", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    spaced_body = orjson.dumps(injury(), option=orjson.OPT_INDENT_2)
    response = call(
        server,
        "POST",
        "/v1/events",
        content=spaced_body,
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert response.status_code == 201, response.text


def test_a_whole_number_stored_stays_a_whole_number(served: tuple[Container, LiveServer]) -> None:
    """A count of 1 after counts of 2 reports 3 injuries, an integer (1.0 never gets in)."""
    _, server = served
    case_id = f"CASE-H{uuid.uuid4().hex[:8].upper()}"
    events = [make_event("case.opened", case_id)]
    for count in (2, 1):
        observed = make_event("injury.observed", case_id)
        observed["payload"]["count"] = count
        events.append(observed)
    with server.client() as http:
        assert {r.status_code for r in post_by_caller(http, events)} == {201}
    wait_for(
        lambda: call(server, "GET", f"/v1/cases/{case_id}").json().get("injury_observations") == 2,
        what="both injuries in the view",
    )
    text = call(server, "GET", f"/v1/cases/{case_id}").content
    assert b'"injuries":3,' in text


def test_refusals_before_parsing_are_counted_in_metrics(
    served: tuple[Container, LiveServer],
) -> None:
    """A body too deep is a counted reject, like any other refused request."""
    _, server = served

    def rejected_400() -> float:
        for line in httpx.get(server.url + "/metrics").text.splitlines():
            if line.startswith('sgl_rejects_total{status="400"}'):
                return float(line.split()[-1])
        return 0.0

    before = rejected_400()
    response = call(
        server,
        "POST",
        "/v1/events",
        content=nested(500),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert rejected_400() == before + 1


def test_an_unexpected_failure_is_a_counted_problem_500(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anything that escapes a route is a problem+json 500, counted by route in /metrics."""
    container = with_agencies(bootstrap(make_settings("sqlite")))
    server = LiveServer(container, run_consumer=False).start()
    try:

        def broken(_: Any) -> Any:
            raise RuntimeError("an unexpected failure")

        monkeypatch.setattr(container.ledger, "submit_one", broken)
        response = call(
            server,
            "POST",
            "/v1/events",
            content=orjson.dumps(make_event()),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:sgl:problem:internal"
        metrics = httpx.get(server.url + "/metrics").text
        assert 'sgl_server_errors_total{route="/v1/events"} 1.0' in metrics
        assert 'sgl_rejects_total{status="500"} 1.0' in metrics
    finally:
        server.stop()
        container.close()


def test_a_body_that_arrives_too_slowly_is_cut_off_with_408(
    make_settings: Callable[..., Settings],
) -> None:
    """A client that sends its headers and then dribbles is answered 408 at the deadline."""
    container = with_agencies(bootstrap(make_settings("sqlite", body_timeout_seconds=1)))
    server = LiveServer(container, run_consumer=False).start()
    try:
        ends = container.log.end_offsets()
        token = server.credentials.token("publisher").encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as conn:
            conn.sendall(
                b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer " + token + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
            started = time.monotonic()
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert PROBLEM.encode() in answer
        assert waited < 5
        assert container.log.end_offsets() == ends
    finally:
        server.stop()
        container.close()
