"""A circuit breaker for the append path: fail fast while the log is down, never block to ask."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ledger.errors import LedgerUnavailable


class Breaker:
    """Open (appends refused at once) after a failure, closed again by `reset` once a probe and
    a recovery have succeeded; it also keeps the last probe's answer, so readiness is a lookup.

    A probe is a cheap request to the log made by a background thread; `probed` records its
    result. A failure is either certain (the log refuses connections) or in doubt (a request
    timed out while the log still takes connections: the log is slow, or this process was
    stalled, say by a busy machine); a failure in doubt is `suspect` and trips nothing until
    the next probe fails too. The breaker is `down` while the log is known not to answer, and
    `stale` when no probe has answered within `stale_after` seconds (the prober is stuck).
    """

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stale_after = stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self._why: str | None = None
        self._down: str | None = None
        self._suspect = False
        self._probed_at: float | None = None
        self._trips = 0
        self._tripped = threading.Event()

    @property
    def is_open(self) -> bool:
        """Whether appends are refused now."""
        return self._why is not None

    @property
    def is_down(self) -> bool:
        """Whether the last probe failed."""
        return self._down is not None

    @property
    def is_suspect(self) -> bool:
        """Whether the last probe failed in doubt: the next one decides (probe again now)."""
        return self._suspect

    @property
    def trips(self) -> int:
        """How many times it has tripped: a recovery resets only if no trip came meanwhile."""
        return self._trips

    def trip(self, why: str) -> None:
        """Open: refuse appends until reset (the first reason is kept); wake the prober."""
        with self._lock:
            self._trips += 1
            if self._why is None:
                self._why = why
        self._tripped.set()

    def probed(self, error: str | None, *, certain: bool = True) -> None:
        """Record a probe's answer: None when the log answered, else why not. A certain
        failure trips; one in doubt trips only if the probe before it failed too."""
        with self._lock:
            self._probed_at = self._clock()
            if error is not None and not certain and not self._suspect and self._down is None:
                self._suspect = True
                return
            self._suspect = False
            self._down = error
        if error is not None:
            self.trip(f"the log does not answer: {error}")

    def reset(self, trips: int) -> bool:
        """Close, if it has not tripped since it had tripped `trips` times (a recovery begun
        before a new failure does not cover it); True if it closed."""
        with self._lock:
            if self._trips != trips:
                return False
            self._why = None
            return True

    def wait_for_trip(self, timeout: float) -> bool:
        """Sleep up to timeout seconds, waking early when the breaker trips (True then)."""
        tripped = self._tripped.wait(timeout)
        self._tripped.clear()
        return tripped

    def wake(self) -> None:
        """Wake whoever waits for a trip (to stop it, or to have it probe now)."""
        self._tripped.set()

    def check(self) -> None:
        """Raise LedgerUnavailable while open; never blocks on the log."""
        why = self._why
        if why is not None:
            raise LedgerUnavailable(f"the log is unavailable ({why}); retry shortly")

    def check_ready(self) -> None:
        """Raise LedgerUnavailable unless an append can be taken now: closed, and the last
        probe, at most `stale_after` seconds old, found the log answering."""
        self.check()
        with self._lock:
            probed_at, down = self._probed_at, self._down
        if down is not None:
            raise LedgerUnavailable(f"the log does not answer: {down}")
        if probed_at is None or self._clock() - probed_at > self._stale_after:
            raise LedgerUnavailable(
                f"no probe of the log has answered in the last {self._stale_after:.1f} s"
            )
