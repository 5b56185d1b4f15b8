"""Amendments applied: the events of a case as corrected, and its history as recorded (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.envelope import Event
from ledger.upcasting import upcast_payload
from projections.dates import occurred_fields

CORRECTION = "correction.recorded"
RETRACTION = "entry.retracted"


def effective_events(events: Sequence[Event]) -> list[Event]:
    """The case's events in log order with every amendment applied.

    A retracted event is left out; a corrected one takes its latest correction's payload (and
    occurred_at, when corrected). The corrections and retractions themselves stay, in place.
    """
    corrected: dict[str, Event] = {}
    retracted: set[str] = set()
    for event in events:
        if event.amends is None:
            continue
        if event.type == RETRACTION:
            retracted.add(event.amends)
        elif event.type == CORRECTION:
            corrected[event.amends] = event
    out = []
    for event in events:
        if event.event_id in retracted:
            continue
        correction = corrected.get(event.event_id)
        out.append(event if correction is None else _as_corrected(event, correction))
    return out


def _as_corrected(event: Event, correction: Event) -> Event:
    payload = correction.payload
    # A correction's payload follows the schema version its target was recorded in.
    corrected = payload["corrected_payload"]
    if event.recorded_version:
        corrected = upcast_payload(
            event.type, event.recorded_version, event.schema_version, corrected
        )
    if "corrected_occurred_at" not in payload:
        return event._replace(payload=corrected)
    if event.occurred_stated:
        return event._replace(payload=corrected, occurred_at=payload["corrected_occurred_at"])
    # A range, dispute or missing date corrected to an instant: the instant replaces them.
    return event._replace(
        payload=corrected,
        occurred_at=payload["corrected_occurred_at"],
        occurred_precision="instant",
        occurred_range=None,
        occurred_accounts=(),
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event as recorded, with its lags and what later amended it."""

    event: Event
    status: str
    amended_by: tuple[str, ...]
    as_corrected: Event | None

    def as_dict(self) -> dict[str, object]:
        """The entry as the API shows it."""
        e = self.event
        lag = e.recording_lag
        out: dict[str, object] = {
            "event_id": e.event_id,
            "type": e.type,
            "agency": e.agency,
            "recorded_by": e.recorded_by,
            **occurred_fields(e),
            "recorded_at": e.recorded_at,
            "appended_at": e.appended_at,
            "position": e.position,
            "recording_lag_seconds": None if lag is None else lag.total_seconds(),
            "submission_lag_seconds": e.submission_lag.total_seconds(),
            "payload": e.payload,
            "status": self.status,
            "amended_by": list(self.amended_by),
        }
        if e.amends is not None:
            out["amends"] = e.amends
        if e.recorded_version:
            # The payload reads in the type's current version; this is the one it was sent in.
            out["recorded_version"] = e.recorded_version
        if self.as_corrected is not None:
            fixed = self.as_corrected
            shown: dict[str, object] = {"occurred_at": fixed.occurred_at, "payload": fixed.payload}
            if fixed.occurred_precision != e.occurred_precision:
                # A range, dispute or missing date corrected to an instant.
                shown["occurred_precision"] = fixed.occurred_precision
            out["as_corrected"] = shown
        return out


def history(events: Sequence[Event]) -> list[HistoryEntry]:
    """Every event as recorded, marked `as-recorded`, `corrected` or `retracted`."""
    amended_by: dict[str, list[str]] = {}
    for event in events:
        if event.amends is not None:
            amended_by.setdefault(event.amends, []).append(event.event_id)
    current = {e.event_id: e for e in effective_events(events)}
    entries = []
    for event in events:
        by = tuple(amended_by.get(event.event_id, ()))
        now = current.get(event.event_id)
        if now is None:
            status, corrected = "retracted", None
        elif now is not event:
            status, corrected = "corrected", now
        else:
            status, corrected = "as-recorded", None
        entries.append(HistoryEntry(event, status, by, corrected))
    return entries
