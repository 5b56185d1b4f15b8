"""The append path's breaker: open after a failure, closed only by a recovery that saw no new
trip; readiness read from the last probe without asking the log."""

from __future__ import annotations

import pytest

from ledger.breaker import Breaker
from ledger.errors import LedgerUnavailable


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_trip_refuses_appends_until_a_recovery_resets_it() -> None:
    """Open after a trip, naming why; closed by reset."""
    breaker = Breaker(stale_after=2.0, clock=Clock())
    breaker.probed(None)
    breaker.check()
    trips = breaker.trips
    breaker.trip("Kafka did not confirm an append")
    with pytest.raises(LedgerUnavailable, match="did not confirm an append"):
        breaker.check()
    assert breaker.reset(trips + 1)
    breaker.check()


def test_a_recovery_begun_before_a_new_trip_does_not_close_it() -> None:
    """A failure during a recovery is not covered by it: the breaker stays open."""
    breaker = Breaker(stale_after=2.0, clock=Clock())
    breaker.trip("first")
    trips = breaker.trips
    breaker.trip("second")
    assert not breaker.reset(trips)
    assert breaker.is_open


def test_a_failed_probe_trips_it_and_readiness_says_so() -> None:
    """The log not answering a probe opens the breaker and makes the process not ready."""
    breaker = Breaker(stale_after=2.0, clock=Clock())
    breaker.probed("KafkaTimeoutError: no answer")
    assert breaker.is_down and breaker.is_open
    with pytest.raises(LedgerUnavailable, match="does not answer"):
        breaker.check_ready()


def test_readiness_needs_a_recent_probe() -> None:
    """Ready right after a good probe; not ready once no probe has answered for a while."""
    clock = Clock()
    breaker = Breaker(stale_after=2.0, clock=clock)
    with pytest.raises(LedgerUnavailable, match="no probe"):
        breaker.check_ready()
    breaker.probed(None)
    breaker.check_ready()
    clock.now += 2.5
    with pytest.raises(LedgerUnavailable, match="no probe of the log has answered"):
        breaker.check_ready()


def test_a_trip_wakes_whoever_waits_for_one() -> None:
    """The prober sleeps between probes, but a trip wakes it at once."""
    breaker = Breaker(stale_after=2.0)
    assert not breaker.wait_for_trip(0.01)
    breaker.trip("now")
    assert breaker.wait_for_trip(5.0)


def test_a_failure_in_doubt_trips_only_when_the_next_probe_fails_too() -> None:
    """A timeout while the log still takes connections (a stalled process, a slow broker) is
    suspect: appends go on; a second failure in a row trips; an answer in between clears it."""
    breaker = Breaker(stale_after=2.0, clock=Clock())
    breaker.probed(None)
    breaker.probed("KafkaTimeoutError: no answer in 1000 ms", certain=False)
    assert breaker.is_suspect and not breaker.is_down and not breaker.is_open
    breaker.check()
    breaker.check_ready()
    breaker.probed(None)
    assert not breaker.is_suspect
    breaker.probed("KafkaTimeoutError: no answer in 1000 ms", certain=False)
    breaker.probed("KafkaTimeoutError: no answer in 1000 ms", certain=False)
    assert breaker.is_down and breaker.is_open and not breaker.is_suspect
    with pytest.raises(LedgerUnavailable, match="does not answer"):
        breaker.check()


def test_a_certain_failure_trips_at_once_and_a_log_already_down_stays_down() -> None:
    """A refused connection trips on the first probe; while down, a failure in doubt is no
    reason to think the log is back."""
    breaker = Breaker(stale_after=2.0, clock=Clock())
    breaker.probed("KafkaTimeoutError: refused", certain=True)
    assert breaker.is_down and breaker.is_open
    breaker.probed("KafkaTimeoutError: no answer", certain=False)
    assert breaker.is_down and not breaker.is_suspect
