"""Limits on JSON read from outside: checked on the raw bytes, before any parser recurses.

A JSON parser or validator recurses once per level of nesting, and some give up (orjson at
1,024 levels, its encoder at 255, the schema validator earlier) with an error that says
nothing about the input. Checking the depth first, without recursion, turns a hostile or
corrupt document into a clear refusal, wherever it arrives (a request body, a log record).
"""

from __future__ import annotations

import re

# Deeper than any event the schemas describe (an envelope, its payload, a list of objects in
# it) by a wide margin, and far below where any parser or validator the ledger uses gives up.
MAX_DEPTH = 64

# The default largest record the consumers read (SGL_MAX_RECORD_BYTES): the Kafka producer's
# largest request, so nothing the ledger appends is refused on the way back.
MAX_RECORD_BYTES = 8 * 1024 * 1024

# A JSON string (skipped whole, escapes and all) or a bracket; everything else is ignored.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")


def deeper_than(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects more than `limit` levels deep.

    Brackets inside strings do not count. The text need not be valid JSON: an unclosed string
    or unbalanced brackets are left for the parser to refuse. Costs one C-speed count when the
    text holds at most `limit` opening brackets, as every ordinary event does.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token[0] in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif token[0] != 0x22:  # a closing bracket (a string starts with '"')
            depth -= 1
    return False
