"""What the queries read: the views, the policies and, for proofs, the log and the seal.

A running server reads through its wired container (`ContainerStores`); a command reads
through `LocalStores`, which opens only what a query asks for, from the settings alone: no
consumer, no signing key, and no connection to the log unless a proof needs its records.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import Any, Protocol

from ledger.log import EventLog
from ledger.settings import Settings
from projections.agencies import AgencyLookup
from projections.case_view import CaseViewStore
from projections.clock_policy import ClockPolicy
from projections.clock_view import ClockViewStore
from projections.rules import RulePolicy
from projections.seal_view import SealViewStore
from sgl.bootstrap import (
    Container,
    build_log,
    clock_policy_of,
    open_alerts,
    open_clocks,
    open_seal,
    open_view,
    rule_policy_of,
    verifier_key_of,
)


class Stores(Protocol):
    """The read side of a ledger, as the queries use it."""

    @property
    def view(self) -> CaseViewStore:
        """The case-state view."""

    @property
    def clock_policy(self) -> ClockPolicy:
        """The clock policy in force."""

    @property
    def rule_policy(self) -> RulePolicy:
        """The rule policy in force."""

    @property
    def agencies(self) -> AgencyLookup:
        """The agency registry the policies read kinds from."""

    @property
    def log(self) -> EventLog:
        """The ledger topic."""

    @property
    def seal(self) -> SealViewStore:
        """The Merkle trees and signed checkpoints."""

    def clock_view(self) -> ClockViewStore:
        """The clock view's current generation."""

    def raised(self, case_id: str) -> list[dict[str, Any]]:
        """The alerts the ledger has raised for a case, in order of decision."""

    def verifier_key(self) -> str | None:
        """The verifier key of the checkpoints, or None before there is a key."""


class ContainerStores:
    """The stores of a wired container (they follow rebuilds)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.clock_policy = container.clock_policy
        self.rule_policy = container.rule_policy
        self.agencies = container.agencies
        self.log = container.log
        self.seal = container.seal

    @property
    def view(self) -> CaseViewStore:
        """The case-state view's current generation."""
        return self.container.view

    def clock_view(self) -> ClockViewStore:
        """The clock view's current generation."""
        return self.container.clocks.current()

    def raised(self, case_id: str) -> list[dict[str, Any]]:
        """The alerts the alerter has raised for a case."""
        return self.container.alerts.current().store.raised(case_id)

    def verifier_key(self) -> str | None:
        """The verifier key of the checkpoints, or None before there is a key."""
        return self.container.verifier_key()


class LocalStores:
    """Stores opened from settings alone for one command, each on first use; close() closes
    what was opened."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._close: list[Callable[[], object]] = []

    def __enter__(self) -> LocalStores:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every store opened so far."""
        while self._close:
            self._close.pop()()

    @cached_property
    def view(self) -> CaseViewStore:
        """The case-state view's current generation."""
        view = open_view(self.settings)
        self._close.append(view.close)
        return view

    @cached_property
    def clock_policy(self) -> ClockPolicy:
        """The clock policy the settings name."""
        return clock_policy_of(self.settings)

    @cached_property
    def rule_policy(self) -> RulePolicy:
        """The rule policy the settings name."""
        return rule_policy_of(self.settings)

    @property
    def agencies(self) -> AgencyLookup:
        """The agency registry: the case view's registry store (a read needs no log)."""
        return self.view.agencies

    @cached_property
    def log(self) -> EventLog:
        """The ledger topic (a connection to Kafka on that backend)."""
        log: EventLog = build_log(self.settings)
        self._close.append(log.close)
        return log

    @cached_property
    def seal(self) -> SealViewStore:
        """The seal of this data directory."""
        seal = open_seal(self.settings)
        self._close.append(seal.close)
        return seal

    def clock_view(self) -> ClockViewStore:
        """The clock view's current generation (a view built under another policy is not
        used)."""
        return self._clocks

    @cached_property
    def _clocks(self) -> ClockViewStore:
        clocks = open_clocks(self.settings, self.clock_policy, self.agencies)
        self._close.append(clocks.close)
        return clocks

    def raised(self, case_id: str) -> list[dict[str, Any]]:
        """The alerts the alerter has raised for a case, from its store."""
        store = open_alerts(self.settings)
        try:
            return store.raised(case_id)
        finally:
            store.close()

    def verifier_key(self) -> str | None:
        """The verifier key beside the signing key the settings name."""
        return verifier_key_of(self.settings)
