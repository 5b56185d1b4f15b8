"""JSON as the ledger writes it, for the API and the CLI alike (no web framework needed)."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def dumps(content: Any) -> bytes:
    """JSON bytes as the API writes them: UTC instants end in Z, dataclasses as objects."""
    return orjson.dumps(content, option=_OPTIONS)
