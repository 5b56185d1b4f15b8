"""`sgl publish`: a JSON-lines file of events to the ledger, with a result for every line."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.client import LedgerClient
from ledger.errors import EventConflict, InvalidEvent, Problem


@dataclass(frozen=True, slots=True)
class LineResult:
    """What happened to one line of the file."""

    line: int
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """The result as `--json` prints it."""
        return {"line": self.line, "status": self.status, "detail": self.detail}


def parse_lines(lines: Sequence[str]) -> tuple[list[tuple[int, Any]], list[LineResult]]:
    """(line number, event) for lines that are JSON, and results for those that are not."""
    events: list[tuple[int, Any]] = []
    bad: list[LineResult] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            events.append((number, orjson.loads(text)))
        except orjson.JSONDecodeError as exc:
            bad.append(LineResult(number, "invalid", f"json: {exc}"))
    return events, bad


def publish(
    client: LedgerClient,
    events: list[tuple[int, Any]],
    *,
    atomic: bool,
    batch_size: int,
    progress: Callable[[int], None] = lambda _: None,
) -> list[LineResult]:
    """Publish the events; atomic sends one batch, otherwise invalid lines are set aside."""
    if atomic:
        results = _send(client, events)
        progress(len(events))
        return results
    results = []
    for start in range(0, len(events), batch_size):
        chunk = events[start : start + batch_size]
        results += _send_setting_aside(client, chunk)
        progress(len(chunk))
    return results


def _send(client: LedgerClient, chunk: list[tuple[int, Any]]) -> list[LineResult]:
    """One request; on rejection every line gets a result and nothing is appended."""
    try:
        receipts = client.publish_batch([event for _, event in chunk])
    except InvalidEvent as exc:
        return _rejected(chunk, exc.problems)
    except EventConflict as exc:
        conflicted = set(exc.event_ids)
        return [
            LineResult(
                n,
                "invalid" if _id(e) in conflicted else "not-sent",
                "event_id already used for other content"
                if _id(e) in conflicted
                else "the batch was refused",
            )
            for n, e in chunk
        ]
    return [
        LineResult(n, r.status, f"{r.partition}:{r.offset}")
        for (n, _), r in zip(chunk, receipts, strict=True)
    ]


def _send_setting_aside(client: LedgerClient, chunk: list[tuple[int, Any]]) -> list[LineResult]:
    """Send; if some lines are refused, report them and send the rest again."""
    by_line: dict[int, LineResult] = {}
    remaining = chunk
    while remaining:
        results = _send(client, remaining)
        refused = [r for r in results if r.status == "invalid"]
        if not refused or all(r.status != "not-sent" for r in results):
            for result in results:
                by_line[result.line] = result
            break
        for result in refused:
            by_line[result.line] = result
        gone = {r.line for r in refused}
        remaining = [(n, e) for n, e in remaining if n not in gone]
    return [by_line[n] for n, _ in chunk if n in by_line]


def _rejected(chunk: list[tuple[int, Any]], problems: Sequence[Problem]) -> list[LineResult]:
    details: dict[int, list[str]] = {}
    for problem in problems:
        index = problem.item if problem.item is not None else 0
        details.setdefault(index, []).append(
            f"{problem.pointer or '/'} {problem.rule}: {problem.detail}"
        )
    return [
        LineResult(n, "invalid", "; ".join(details[i]))
        if i in details
        else LineResult(n, "not-sent", "the batch was refused")
        for i, (n, _) in enumerate(chunk)
    ]


def _id(event: Any) -> str:
    return str(event.get("event_id", "")).lower() if isinstance(event, Mapping) else ""
