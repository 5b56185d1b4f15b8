"""A probe that times out while the broker still takes connections is in doubt: on a busy
machine this process can stall for seconds, and one late answer must not refuse appends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError

from ledger.errors import LedgerUnavailable
from ledger.kafka_log import KafkaEventLog
from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from tests.agencies import with_agencies
from tests.conftest import wait_for
from tests.factories import make_event


class Stalls:
    """Wraps the prober's end_offsets: the next `n` calls time out, as after a stall."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.left = 0
        self.failed = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if self.left:
                self.left -= 1
                self.failed += 1
                raise KafkaTimeoutError("Failed to get offsets by timestamps in 1000 ms")
        return self.real(*args, **kwargs)

    def arm(self, n: int) -> int:
        """Fail the next n probes; the count of failures once they have happened."""
        with self.lock:
            self.left = n
            return self.failed + n


@pytest.mark.kafka
def test_one_late_probe_refuses_nothing_and_two_in_a_row_open_the_breaker(
    make_settings: Callable[..., Settings],
) -> None:
    """Against the real broker: one probe timing out leaves appends accepted; two in a row
    open the breaker (503); the next good probe recovers and appends are accepted again."""
    container = with_agencies(bootstrap(make_settings("kafka")))
    try:
        log = container.log
        assert isinstance(log, KafkaEventLog)
        wait_for(lambda: log._probe_client is not None, timeout=10, what="the prober")
        stalls = Stalls(log._probe_client.end_offsets)
        log._probe_client.end_offsets = stalls

        target = stalls.arm(1)
        wait_for(lambda: stalls.failed >= target, timeout=10, what="one late probe")
        assert not log.breaker.is_open
        assert container.ledger.submit([make_event()])[0].status == "accepted"

        target = stalls.arm(2)
        wait_for(lambda: stalls.failed >= target, timeout=10, what="two late probes")
        wait_for(lambda: log.breaker.is_open, timeout=5, what="the breaker to open")
        try:
            container.ledger.submit([make_event()])
        except LedgerUnavailable as exc:
            assert "does not answer" in str(exc)
        else:
            raise AssertionError("an append was taken with the breaker open")

        wait_for(lambda: not log.breaker.is_open, timeout=20, what="the breaker to close")
        assert container.ledger.submit([make_event()])[0].status == "accepted"
    finally:
        container.close()
