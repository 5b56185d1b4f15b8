"""The record: envelope, schemas, validation, the append path and the log adapters."""

from ledger.append import Ledger
from ledger.envelope import Event
from ledger.errors import (
    BatchRejected,
    EventConflict,
    InvalidEvent,
    InvalidRecord,
    LedgerError,
    LedgerUnavailable,
    Problem,
)
from ledger.log import DeadLetterSink, EventLog, LogReader, LogRecord, PendingRecord, Receipt
from ledger.schemas import SchemaRegistry
from ledger.settings import Settings

__all__ = [
    "BatchRejected",
    "DeadLetterSink",
    "Event",
    "EventConflict",
    "EventLog",
    "InvalidEvent",
    "InvalidRecord",
    "Ledger",
    "LedgerError",
    "LedgerUnavailable",
    "LogReader",
    "LogRecord",
    "PendingRecord",
    "Problem",
    "Receipt",
    "SchemaRegistry",
    "Settings",
]
