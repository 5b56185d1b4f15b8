"""The nesting-depth check on raw JSON bytes: exact at the limit, blind to brackets inside
strings, and never recursive."""

from __future__ import annotations

import orjson
import pytest

from ledger.limits import MAX_DEPTH, deeper_than


def nested(depth: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    return opening * depth + closing * depth


@pytest.mark.parametrize("depth", [0, 1, MAX_DEPTH - 1, MAX_DEPTH])
def test_up_to_the_limit_is_allowed(depth: int) -> None:
    assert not deeper_than(nested(depth))
    assert not deeper_than(b'{"a":' * depth + b"1" + b"}" * depth)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 255, 1024, 100_000])
def test_past_the_limit_is_found_without_recursion(depth: int) -> None:
    assert deeper_than(nested(depth))
    assert deeper_than(b'{"a":' * depth + b"1" + b"}" * depth)


def test_brackets_inside_strings_do_not_count() -> None:
    text = orjson.dumps({"note": "[" * 500, "other": "{" * 500, "ok": [[1]]})
    assert not deeper_than(text)
    assert not deeper_than(b'["\\"' + b"[" * 100 + b'"]')


def test_an_escaped_backslash_ends_no_string_early() -> None:
    # The string is `\`: the quote after the escaped backslash closes it, and the brackets
    # after it are structure.
    text = b'["\\\\",' + nested(MAX_DEPTH) + b"]"
    assert deeper_than(text)


def test_a_custom_limit_and_broken_json_are_answered_not_raised() -> None:
    assert deeper_than(nested(4), limit=3) and not deeper_than(nested(3), limit=3)
    assert not deeper_than(b"]]]]" + b"[" * 3, limit=3)
    assert deeper_than(b"[" * 5 + b'"unclosed', limit=3)
