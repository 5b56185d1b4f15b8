"""A case as it stood at a moment: by what agencies had recorded, or what the ledger held (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any, Literal

from ledger.envelope import Event, parse_instant
from projections.case_state import CaseState, fold_document
from projections.effective import effective_events

Basis = Literal["recorded", "appended"]


def cutoff(text: str) -> datetime:
    """`YYYY-MM-DD` means the end of that day (UTC); a timestamp means that instant."""
    if len(text) == 10:
        day = datetime.fromisoformat(text).date()
        return datetime.combine(day, time.max, tzinfo=UTC)
    return parse_instant(text)


def opening(text: str) -> datetime:
    """`YYYY-MM-DD` means the start of that day (UTC), as a "from" date; a timestamp means
    that instant."""
    if len(text) == 10:
        return datetime.combine(datetime.fromisoformat(text).date(), time.min, tzinfo=UTC)
    return parse_instant(text)


def known_by(events: Sequence[Event], moment: datetime, basis: Basis = "recorded") -> list[Event]:
    """The events recorded (or appended) on or before the moment, in log order.

    An amendment recorded after the moment is not among them, so it is not yet applied.
    """
    if basis == "appended":
        return [e for e in events if e.appended_at <= moment]
    return [e for e in events if parse_instant(e.recorded_at) <= moment]


def state_as_of(
    events: Sequence[Event], moment: datetime, basis: Basis = "recorded"
) -> CaseState | None:
    """The case state from the events known by the moment, with their amendments applied."""
    selected = effective_events(known_by(events, moment, basis))
    if not selected:
        return None
    document: dict[str, Any] = fold_document(None, selected)
    return CaseState.from_dict(document)
