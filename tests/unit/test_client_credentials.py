"""The Python client's credentials: the bearer token and purpose it sends, the errors a refusal
raises, and a rate-limited request retried after the wait the server asks for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest

from ledger_client import Forbidden, LedgerClient, NotAuthorized, RateLimited, RequestRejected
from tests.factories import make_event

TOKEN = "sgl_0123456789ab_" + "A" * 43
RECEIPT = {
    "event_id": "e1",
    "status": "accepted",
    "partition": 0,
    "offset": 4,
    "appended_at": "2026-11-30T04:00:00Z",
}


def problem(status: int, kind: str, **more: object) -> httpx.Response:
    """An RFC 9457 answer of this status and type."""
    body = {"type": f"https://sgl.example/problems/{kind}", "title": kind, "status": status}
    return httpx.Response(
        status,
        content=orjson.dumps({**body, **more}),
        headers={"content-type": "application/problem+json"},
    )


def client_of(
    answer: Callable[[httpx.Request], httpx.Response], **options: Any
) -> tuple[LedgerClient, list[httpx.Request]]:
    """A client whose requests are answered by `answer`, and the requests it sent."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer(request)

    client = LedgerClient(
        "http://ledger.test",
        transport=httpx.MockTransport(handler),
        **options,
    )
    return client, sent


def test_every_request_carries_the_token_and_purpose() -> None:
    """A publish and a read both send `Authorization: Bearer` and the stated purpose."""
    client, sent = client_of(
        lambda r: (
            httpx.Response(201, json=RECEIPT)
            if r.method == "POST"
            else httpx.Response(200, json={"case_id": "CASE-X", "events": 1})
        ),
        token=TOKEN,
        purpose="practice-review",
    )
    with client:
        client.publish(make_event())
        client.case("CASE-X")
    assert [r.headers["authorization"] for r in sent] == [f"Bearer {TOKEN}"] * 2
    assert [r.headers["x-sgl-purpose"] for r in sent] == ["practice-review"] * 2


def test_without_a_token_nothing_is_claimed() -> None:
    """A client given no token sends no Authorization header and no purpose."""
    client, sent = client_of(lambda r: httpx.Response(200, json={"agencies": []}))
    with client:
        assert client.agencies() == []
    assert "authorization" not in sent[0].headers and "x-sgl-purpose" not in sent[0].headers


@pytest.mark.parametrize("token", ["", "sgl_abc def", "sgl_abc\r\nX-Injected: 1"])
def test_a_token_that_cannot_be_a_header_is_refused_without_echoing_it(token: str) -> None:
    """An empty token, or one with spaces or line breaks, is refused before anything is sent,
    and the error does not repeat it."""
    with pytest.raises(ValueError) as caught:
        LedgerClient("http://ledger.test", token=token)
    assert str(caught.value) == "the token must be visible ASCII with no spaces (and not empty)"


def test_refusals_raise_their_own_errors() -> None:
    """401 is NotAuthorized, a refused read's 403 Forbidden (with the problems naming the
    rule); both are RequestRejected and neither is retried."""
    answers = {
        "/v1/agencies": problem(401, "unauthenticated", detail="no bearer token"),
        "/v1/cases/CASE-X": problem(
            403,
            "forbidden",
            detail="state a purpose",
            errors=[{"pointer": "/purpose", "rule": "purpose-required", "detail": "none"}],
        ),
    }
    client, sent = client_of(lambda r: answers[r.url.path], token=TOKEN, retries=3)
    with client:
        with pytest.raises(NotAuthorized) as unauthenticated:
            client.agencies()
        with pytest.raises(Forbidden) as forbidden:
            client.case("CASE-X")
    assert unauthenticated.value.status == 401 and isinstance(
        unauthenticated.value, RequestRejected
    )
    assert [(p.pointer, p.rule) for p in forbidden.value.problems] == [
        ("/purpose", "purpose-required")
    ]
    assert len(sent) == 2


def test_a_rate_limited_request_waits_as_asked_then_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429 is sent again after its Retry-After (seconds, or an HTTP date), not the client's
    own back-off."""
    waits: list[float] = []
    monkeypatch.setattr("ledger_client.client.time.sleep", waits.append)
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    answers = iter(
        [
            problem(429, "rate-limited"),
            problem(429, "rate-limited"),
            httpx.Response(201, json=RECEIPT),
        ]
    )
    retry_after = iter(["2", later])

    def answer(request: httpx.Request) -> httpx.Response:
        response = next(answers)
        if response.status_code == 429:
            response.headers["Retry-After"] = next(retry_after)
        return response

    client, sent = client_of(answer, token=TOKEN, retries=5, backoff=0.001)
    with client:
        assert client.publish(make_event()).status == "accepted"
    assert len(sent) == 3
    assert waits[0] == 2.0 and 25 < waits[1] <= 30


def test_still_rate_limited_after_the_retries_is_rate_limited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When every attempt is refused 429, RateLimited says how long the server asked to wait."""
    monkeypatch.setattr("ledger_client.client.time.sleep", lambda seconds: None)

    def answer(request: httpx.Request) -> httpx.Response:
        response = problem(429, "rate-limited")
        response.headers["Retry-After"] = "7"
        return response

    client, sent = client_of(answer, token=TOKEN, retries=2)
    with client, pytest.raises(RateLimited) as caught:
        client.publish(make_event())
    assert caught.value.retry_after == 7.0 and len(sent) == 3
