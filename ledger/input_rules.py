"""What the append path refuses beyond the schemas: the nil UUID, whole numbers written as
fractions, instants finer than microseconds, dates out of range, and NUL characters.

JSON Schema cannot say these (`type: integer` takes 1.0; `format: date-time` takes any
fraction and the year 0001). They are checked at the door only: a record already on a log is
read as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from ledger.envelope import is_canonical_instant, parse_instant
from ledger.errors import Problem
from ledger.limits import EARLIEST, LATEST, RANGE_TEXT, in_range
from ledger.schemas import ANY_ITEM, INTEGER, FieldPath, pointer

NIL_UUID = "00000000-0000-0000-0000-000000000000"
MAX_FRACTION_DIGITS = 6
"""The ledger keeps instants to the microsecond (Python's datetime)."""
_FRACTION = re.compile(r"[.,](\d+)")
_ABSENT = object()


def field_problems(
    document: Any, fields: Sequence[tuple[FieldPath, str]], at: str = ""
) -> list[Problem]:
    """The rules broken by the typed fields of a schema-valid document; pointers under `at`."""
    problems: list[Problem] = []
    plain = isinstance(document, dict)
    for path, kind in fields:
        if ANY_ITEM in path:
            for parts, item in values_at(document, path):
                found = _check(kind, item)
                if found is not None:
                    problems.append(Problem(at + pointer(parts), *found))
            continue
        value = (
            document.get(path[0], _ABSENT) if plain and len(path) == 1 else _value(document, path)
        )
        # The common cases inline (a UUID that is not nil, a whole number not written as a
        # fraction): this runs for every field of every event at the door.
        if value is _ABSENT or (kind == "uuid" and value != NIL_UUID):
            continue
        if kind == INTEGER and not isinstance(value, float):
            continue
        found = _check(kind, value)
        if found is not None:
            problems.append(Problem(at + pointer(list(path)), *found))
    return problems


def nul_problems(document: Any, encoded: bytes) -> list[Problem]:
    """A problem for each text (or key) holding a NUL character; `encoded` is the document's
    JSON, searched first so a document without one costs one scan of its bytes."""
    if b"\\u0000" not in encoded:
        return []
    return [
        Problem(pointer(parts), "no-nul", "text may not hold a NUL character (U+0000)")
        for parts in _nul_paths(document)
    ]


def _value(document: Any, path: FieldPath) -> Any:
    """The value at a path that crosses no array, or _ABSENT."""
    node = document
    for name in path:
        if not isinstance(node, dict):
            return _ABSENT
        node = node.get(name, _ABSENT)
        if node is _ABSENT:
            return _ABSENT
    return node


def values_at(document: Any, path: FieldPath) -> Iterator[tuple[list[str | int], Any]]:
    """Each value at the path (several where it crosses an array), with its path parts."""
    if ANY_ITEM not in path:
        value = _value(document, path)
        found: list[tuple[list[str | int], Any]] = [] if value is _ABSENT else [([*path], value)]
        return iter(found)
    level: list[tuple[list[str | int], Any]] = [([], document)]
    for name in path:
        deeper: list[tuple[list[str | int], Any]] = []
        for parts, node in level:
            if name == ANY_ITEM and isinstance(node, list):
                deeper.extend(([*parts, i], item) for i, item in enumerate(node))
            elif isinstance(node, dict) and name in node:
                deeper.append(([*parts, name], node[name]))
        level = deeper
    return iter(level)


def _check(kind: str, value: Any) -> tuple[str, str] | None:
    """(rule, detail) when the value breaks its kind's rule, else None."""
    if kind == INTEGER:
        return _integer_problem(value)
    if not isinstance(value, str):
        return None
    if kind == "uuid":
        return _uuid_problem(value)
    if kind == "date":
        return _date_problem(value)
    return _instant_problem(value)


def _integer_problem(value: Any) -> tuple[str, str] | None:
    if isinstance(value, float):
        return "integer", f"{value!r} is not written as a whole number: send 1, not 1.0 or 1e0"
    return None


def _uuid_problem(value: str) -> tuple[str, str] | None:
    if value == NIL_UUID:
        return "not-nil", "the nil UUID names nothing: use a real (e.g. random) UUID"
    return None


def _date_problem(value: str) -> tuple[str, str] | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None  # the schema's `format: date` has said so
    return None if in_range(day) else _out_of_range(value)


def _instant_problem(value: str) -> tuple[str, str] | None:
    if is_canonical_instant(value):
        # Whole seconds in UTC, as clients are asked to send: the year alone decides.
        return None if EARLIEST.year <= int(value[:4]) < LATEST.year else _out_of_range(value)
    fraction = _FRACTION.search(value)
    if fraction is not None and len(fraction.group(1)) > MAX_FRACTION_DIGITS:
        return (
            "precision",
            f"{value} is finer than the ledger keeps: at most {MAX_FRACTION_DIGITS} "
            "fractional digits (microseconds)",
        )
    try:
        moment = parse_instant(value)
    except ValueError:
        return (
            "format",
            f"{value!r} cannot be stored: use RFC 3339 with an offset "
            "(a leap second, :60, is not supported)",
        )
    return None if in_range(moment) else _out_of_range(value)


def _out_of_range(value: str) -> tuple[str, str]:
    return "range", f"{value} is not {RANGE_TEXT}"


def _nul_paths(document: Any) -> Iterator[list[str | int]]:
    """The path of every string value or key that holds a NUL, depth first, iteratively."""
    pending: list[tuple[list[str | int], Any]] = [([], document)]
    while pending:
        parts, node = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                yield parts
        elif isinstance(node, dict):
            for key, value in reversed(node.items()):
                if "\x00" in key:
                    yield [*parts, key]
                pending.append(([*parts, key], value))
        elif isinstance(node, list):
            pending.extend(([*parts, i], item) for i, item in reversed(list(enumerate(node))))
