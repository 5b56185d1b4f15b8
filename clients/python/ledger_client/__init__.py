"""Publish events to a Safeguarding Ledger over HTTP: batches, safe retries, typed errors."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from ledger_client.client import (
        Forbidden,
        LedgerClient,
        NotAuthorized,
        RateLimited,
        RequestRejected,
    )

__all__ = [
    "BatchRejected",
    "EventConflict",
    "Forbidden",
    "InvalidEvent",
    "LedgerClient",
    "LedgerError",
    "LedgerUnavailable",
    "NotAuthorized",
    "NotPermitted",
    "Problem",
    "RateLimited",
    "Receipt",
    "RequestRejected",
]

_CLIENT_NAMES = frozenset(
    {"Forbidden", "LedgerClient", "NotAuthorized", "RateLimited", "RequestRejected"}
)


def __getattr__(name: str) -> object:
    """The client classes, imported on first use: the server reads the errors and receipts
    from this package and should not load an HTTP client to do so."""
    if name in _CLIENT_NAMES:
        return getattr(import_module("ledger_client.client"), name)
    raise AttributeError(f"module 'ledger_client' has no attribute {name!r}")
