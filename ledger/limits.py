"""Limits on JSON from outside, checked on the bytes: nesting depth before any parser runs,
valid UTF-8, and no key twice in one object; and the range of dates the ledger accepts."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ledger.errors import LedgerError

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; events need 4, a batch 5."""

MAX_RECORD_BYTES = 8 * 1024 * 1024
"""The default largest record the consumers read (SGL_MAX_RECORD_BYTES): the Kafka producer's
largest request, so nothing the ledger appends is refused on the way back."""

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""No instant or date the ledger accepts is before this."""
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Nor on or after this (recorded_at is held to now plus the clock skew besides)."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Every byte but the four brackets and the quote, deleted before counting depth; openers and
# closers of both kinds are counted alike (the parser checks that they match).
_NOT_MARKS = bytes(b for b in range(256) if b not in b'[]{}"')
_ONE_KIND = bytes.maketrans(b"[]", b"{}")


class JSONRefused(LedgerError):
    """A body or record the ledger will not parse or keep: which rule, and what was wrong."""

    def __init__(self, rule: str, detail: str, pointer: str = "") -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail
        self.pointer = pointer


def nesting_depth(text: bytes, limit: int = MAX_DEPTH) -> int:
    """How deeply arrays and objects nest in the JSON text, outside strings, counted without
    parsing and without recursion; counting stops at limit + 1.

    Escapes are dropped first (so an escaped quote ends no string), then every byte but
    brackets and quotes, then what is inside strings; each pass then removes the innermost
    pairs of brackets, one level a pass.
    Text that is not JSON gets a figure too (unclosed openers count); the parser refuses it.
    """
    if b"\\" in text:
        text = _ESCAPE.sub(b"", text)
    # Only brackets and quotes matter. Two quotes side by side delimit nothing (an empty
    # string, or a string's end and the next one's start): dropping them keeps every other
    # byte inside or outside a string as it was, and leaves few quotes to split on.
    marks = text.translate(_ONE_KIND, _NOT_MARKS).replace(b'""', b"")
    brackets = b"".join(marks.split(b'"')[::2]) if b'"' in marks else marks
    depth = 0
    while brackets and depth <= limit:
        inner = brackets.replace(b"{}", b"")
        if len(inner) == len(brackets):
            # Unbalanced: each opener left unclosed nests what follows it one deeper.
            return depth + brackets.count(b"{")
        depth += 1
        brackets = inner
    return depth


def check_depth(text: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise JSONRefused (`max-depth`) when the text nests deeper than the limit."""
    # Nesting deeper than the limit takes more openers than that: a text with fewer, as every
    # event has, needs no scan (an opener inside a string only makes the count larger).
    if text.count(b"{") + text.count(b"[") <= limit:
        return
    if nesting_depth(text, limit) > limit:
        raise JSONRefused(
            "max-depth", f"arrays and objects nest more than {limit} deep; events need 4"
        )


def loads_strict(text: bytes, limit: int = MAX_DEPTH) -> Any:
    """Parse JSON from outside: depth checked first, then UTF-8 and syntax, then no object
    may hold a key twice (a parser keeps the last silently). Raise JSONRefused."""
    check_depth(text, limit)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise JSONRefused("utf-8", f"the body is not valid UTF-8 (byte {bad.start})") from None
        raise JSONRefused("json", str(exc)) from None
    # What orjson writes back is the text itself when the sender wrote it compactly (as the
    # client does): its objects then hold each key once. Anything else is parsed again,
    # keeping every pair, to find a key given twice.
    if orjson.dumps(parsed) != text:
        _refuse_duplicates(text)
    return parsed


def _refuse_duplicates(text: bytes) -> None:
    """Raise JSONRefused (`duplicate-key`) naming the first key an object holds twice."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        held: dict[str, Any] = {}
        for key, value in items:
            if key in held:
                raise JSONRefused(
                    "duplicate-key", f"an object holds the key {key!r} more than once"
                )
            held[key] = value
        return held

    json.loads(text, object_pairs_hook=pairs)


def in_range(moment: datetime | date) -> bool:
    """Whether an instant (or a whole day) is within the dates the ledger accepts."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return EARLIEST <= moment < LATEST


RANGE_TEXT = f"from {EARLIEST.date()} until {LATEST.date()}"
"""The accepted range of dates, as problems state it."""
