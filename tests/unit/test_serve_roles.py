"""`sgl serve --role`: which parts of the ledger a process runs."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Callable, Iterator

import click
import pytest

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.cli_serve import _run_loops, parse_roles


def test_no_role_runs_everything_and_no_consumer_the_api_alone() -> None:
    assert parse_roles((), None) == {"api", "consumer", "sealer"}
    assert parse_roles((), True) == {"api", "consumer", "sealer"}
    assert parse_roles((), False) == {"api"}


def test_roles_are_repeated_or_comma_lists() -> None:
    assert parse_roles(("consumer",), None) == {"consumer"}
    assert parse_roles(("api,sealer",), None) == {"api", "sealer"}
    assert parse_roles(("api", " consumer , sealer"), None) == {"api", "consumer", "sealer"}


def test_an_unknown_role_is_named() -> None:
    with pytest.raises(click.BadParameter, match="worker is not a role; the roles are api"):
        parse_roles(("api,worker",), None)
    with pytest.raises(click.BadParameter, match="nothing is not a role"):
        parse_roles((",",), None)


def test_role_and_consumer_flag_together_are_refused() -> None:
    with pytest.raises(click.UsageError, match="not both"):
        parse_roles(("api",), False)


class _Probe:
    """A consumer loop that notes the collector's thresholds it runs under, and returns."""

    name = "probe"

    def __init__(self) -> None:
        self.thresholds: tuple[int, int, int] | None = None
        self.observers: list[object] = []

    def run_resilient(self, stop: threading.Event) -> None:
        self.thresholds = gc.get_threshold()


@pytest.fixture
def process_state() -> Iterator[None]:
    """The test process's signal handlers and collector settings, put back after."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("process_state")
def test_consumer_processes_collect_garbage_as_the_api_does(
    make_settings: Callable[..., Settings],
) -> None:
    """A process running only consumers tunes the collector as `sgl serve` does for the API
    (its batches otherwise set off full collections over the whole process)."""
    gc.set_threshold(700, 10, 10)
    probe = _Probe()
    container = bootstrap(make_settings("sqlite", metrics_port=0))
    try:
        _run_loops(container, [probe])
    finally:
        container.close()
    assert probe.thresholds == (50_000, 20, 20)
