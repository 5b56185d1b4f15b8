"""Python client for agency adapters: batches, retries that reuse event_ids, typed errors."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
import orjson

from ledger_client.errors import (
    BatchRejected,
    EventConflict,
    InvalidEvent,
    LedgerError,
    LedgerUnavailable,
    NotPermitted,
    Problem,
)
from ledger_client.receipt import Receipt

_RETRY_STATUS = frozenset({502, 503, 504})
_RATE_LIMITED = 429
# How a reader states why it reads (inquiry and auditor tokens must, on every request).
PURPOSE_HEADER = "X-SGL-Purpose"
# A token or purpose goes into a header as it is: visible ASCII only, no spaces or line breaks.
_HEADER_WORD = re.compile(r"^[\x21-\x7e]+$")


class RequestRejected(LedgerError):
    """The server refused the request itself (malformed, too large, wrong media type)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.problems = [_problem(e) for e in self.problem.get("errors", [])]
        super().__init__(f"HTTP {status}: {problem.get('title')}: {problem.get('detail')}")


class NotAuthorized(RequestRejected):
    """No valid credentials (HTTP 401): no token, or one unknown, revoked or expired."""


class Forbidden(RequestRejected):
    """The caller may not make this request (HTTP 403): its role may not, or it stated no
    purpose or one not on the ledger's list; `problems` name the rule."""


class RateLimited(RequestRejected):
    """The caller's token sent more requests than its rate limit allows (HTTP 429), and
    still did after the client's retries; `retry_after` is the server's wait in seconds."""

    def __init__(self, status: int, problem: Mapping[str, Any], retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(status, problem)


class LedgerClient:
    """Publishes events to a ledger's HTTP API and returns receipts.

    Every request carries the caller's bearer token (`token`: a publisher's for its own
    agency's events) and, where given, the purpose it reads for (`purpose`: inquiry and
    auditor tokens must state one). Every request is safe to repeat: a retry sends the same
    event_ids, and the ledger answers `duplicate` with the original receipt for any it already
    holds; a 429 is retried after the wait its `Retry-After` asks for.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        purpose: str | None = None,
        *,
        batch_size: int = 500,
        concurrency: int = 4,
        retries: int = 5,
        backoff: float = 0.1,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retries = retries
        self.backoff = backoff
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {_header_word('token', token)}"
        if purpose is not None:
            headers[PURPOSE_HEADER] = _header_word("purpose", purpose)
        # The ledger closes a connection idle for 5 s; letting go of it sooner means a
        # request is never sent on a connection the server is closing.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(keepalive_expiry=2.0),
            headers=headers,
        )

    def publish(self, event: Mapping[str, Any]) -> Receipt:
        """Append one event; raises InvalidEvent, EventConflict or LedgerUnavailable."""
        body = self._post(orjson.dumps(event))
        return _receipt(body)

    def publish_many(self, events: Iterable[Mapping[str, Any]]) -> list[Receipt]:
        """Append events in batches of batch_size, up to `concurrency` batches in flight.

        Receipts come back in input order, and one case's events reach the log in input
        order: a batch waits while an earlier batch with any of its cases is in flight. Each
        batch is all-or-nothing; if one is rejected, others may have been appended, and
        publishing the same events again is safe.
        """
        items = list(events)
        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        if self.concurrency <= 1 or len(batches) <= 1:
            return [r for batch in batches for r in self.publish_batch(batch)]
        results: list[list[Receipt]] = [[] for _ in batches]
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sgl-client") as pool:
            flying: dict[Future[list[Receipt]], tuple[int, set[str]]] = {}

            def settle(block_for: set[str] | None) -> None:
                while flying and (
                    block_for is None
                    or len(flying) >= self.concurrency
                    or any(block_for & cases for _, cases in flying.values())
                ):
                    done, _ = wait(flying, return_when=FIRST_COMPLETED)
                    for future in done:
                        results[flying.pop(future)[0]] = future.result()

            for index, batch in enumerate(batches):
                cases = {str(event.get("case_id")) for event in batch}
                settle(cases)
                flying[pool.submit(self.publish_batch, batch)] = (index, cases)
            settle(None)
        return [r for receipts in results for r in receipts]

    def case(self, case_id: str) -> dict[str, Any]:
        """The current state of a case as the ledger's view holds it."""
        response = self._send("GET", f"/v1/cases/{case_id}", None)
        data: dict[str, Any] = response.json()
        return data

    def agencies(self) -> list[dict[str, Any]]:
        """Every agency in the ledger's agency registry now."""
        response = self._send("GET", "/v1/agencies", None)
        found: list[dict[str, Any]] = response.json()["agencies"]
        return found

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def publish_batch(self, batch: list[Mapping[str, Any]]) -> list[Receipt]:
        """Append one batch in one request: all of it, or (on BatchRejected) none of it."""
        body = self._post(orjson.dumps(batch))
        return [_receipt(item) for item in body["receipts"]]

    def _post(self, content: bytes) -> Any:
        return self._send("POST", "/v1/events", content).json()

    def _send(self, method: str, path: str, content: bytes | None) -> httpx.Response:
        headers = {"content-type": "application/json"} if content is not None else {}
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, content=content, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise LedgerUnavailable(f"ledger unreachable: {exc}") from exc
            else:
                retried = response.status_code in _RETRY_STATUS | {_RATE_LIMITED}
                if not retried or attempt == self.retries:
                    _raise_for_problem(response)
                    return response
                # A rate-limited request was not taken: wait as long as the server asks.
                asked = _retry_after(response) if response.status_code == _RATE_LIMITED else None
                if asked is not None:
                    time.sleep(asked)
                    continue
            time.sleep(self.backoff * (2**attempt) * (0.5 + random.random()))  # noqa: S311 -- jitter, not crypto
        raise AssertionError("unreachable: the loop returns or raises")


def _header_word(name: str, value: str) -> str:
    """The value, if it can go into a header as it is; a clear error naming only the field
    (never the value: it may be a secret) if not."""
    if not _HEADER_WORD.match(value):
        raise ValueError(f"the {name} must be visible ASCII with no spaces (and not empty)")
    return value


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds a 429's Retry-After asks to wait (delay seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _problem(entry: Mapping[str, Any]) -> Problem:
    return Problem(
        entry.get("pointer", ""), entry.get("rule", ""), entry.get("detail", ""), entry.get("item")
    )


def _receipt(data: Mapping[str, Any]) -> Receipt:
    return Receipt(
        data["event_id"],
        data["status"],
        data["partition"],
        data["offset"],
        datetime.fromisoformat(data["appended_at"]),
    )


def _raise_for_problem(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    try:
        problem: dict[str, Any] = response.json()
    except ValueError:
        problem = {"title": response.reason_phrase, "detail": response.text[:500]}
    problems = [_problem(e) for e in problem.get("errors", [])]
    kind = str(problem.get("type", ""))
    if status == 422 and kind.endswith("invalid-batch"):
        raise BatchRejected(problems, title=str(problem.get("title")))
    if status == 422 and kind.endswith("invalid-event"):
        raise InvalidEvent(problems, title=str(problem.get("title")))
    # A publish refused for who sent it; any other 403 (a read) is the request's refusal.
    if status == 403 and kind.endswith("forbidden") and response.request.method == "POST":
        raise NotPermitted(problems, title=str(problem.get("title")))
    if status == 409:
        raise EventConflict([p.detail.split(" ")[0] for p in problems])
    if status in _RETRY_STATUS:
        raise LedgerUnavailable(f"HTTP {status}: {problem.get('detail')}")
    if status == 401:
        raise NotAuthorized(status, problem)
    if status == 403:
        raise Forbidden(status, problem)
    if status == _RATE_LIMITED:
        raise RateLimited(status, problem, _retry_after(response))
    raise RequestRejected(status, problem)
