"""A demo case written as a script: its events in order, each with a stable id from its place."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any


def utc(moment: datetime) -> str:
    """A UTC datetime as the ledger's canonical text."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Script:
    """Collects one case's events in order; event ids are UUID5s of the case and the place in
    the script, so loading the demo twice adds nothing."""

    def __init__(
        self,
        case_id: str,
        namespace: uuid.UUID,
        lag: timedelta,
        version: Callable[[str], int] = lambda _: 1,
    ) -> None:
        self.case_id = case_id
        self.namespace = namespace
        self.lag = lag
        self.version = version
        self.events: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}

    def add(
        self,
        kind: str,
        agency: str,
        who: dict[str, str],
        occurred: datetime | None,
        payload: dict[str, Any],
        *,
        lag: timedelta | None = None,
        recorded: datetime | None = None,
        version: int | None = None,
        name: str | None = None,
        **envelope: Any,
    ) -> str:
        """Append an event recorded `lag` (default the script's) after it happened, or at
        `recorded` (which an event without an occurred_at needs)."""
        if recorded is None:
            if occurred is None:
                raise ValueError(f"{kind}: an event with no occurred_at needs a recorded time")
            recorded = occurred + (self.lag if lag is None else lag)
        event_id = str(uuid.uuid5(self.namespace, f"{self.case_id}/{len(self.events)}"))
        event: dict[str, Any] = {
            "event_id": event_id,
            "type": kind,
            "schema_version": self.version(kind) if version is None else version,
            "case_id": self.case_id,
            "agency": agency,
            "recorded_by": dict(who),
        }
        if occurred is not None:
            event["occurred_at"] = utc(occurred)
        event |= {"recorded_at": utc(recorded), "payload": payload, **envelope}
        self.events.append(event)
        if name:
            self.ids[name] = event_id
        return event_id
