"""Logs carry ids and positions, never the content of an event."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
import structlog

from ledger.settings import Settings
from sgl.bootstrap import bootstrap
from sgl.logs import configure_logging
from tests.agencies import with_agencies
from tests.factories import make_event


@pytest.fixture(autouse=True)
def fresh_module_loggers() -> None:
    """Forget the loggers that modules cached under an earlier test's configuration.

    structlog caches a module logger's level filter at its first use
    (`cache_logger_on_first_use`); a CLI test run earlier at `info` would hide `debug` here.
    """
    for module in list(sys.modules.values()):
        proxy = getattr(module, "log", None)
        if isinstance(proxy, structlog._config.BoundLoggerLazyProxy):
            proxy.__dict__.pop("bind", None)


def test_logs_name_ids_and_positions_but_never_content(
    make_settings: Callable[..., Settings], capsys: object
) -> None:
    """At debug level, an append and its consumption log ids and positions, not payloads."""
    settings = make_settings("sqlite", log_level="debug", log_format="json")
    configure_logging(settings)
    try:
        container = with_agencies(bootstrap(settings))
        event = make_event("injury.observed")
        event["payload"]["explanation_given"] = "PRIVATE-EXPLANATION-7F3"
        container.ledger.submit([event])
        container.runner().run_until_caught_up(timeout=10)
        container.close()
        err = capsys.readouterr().err  # type: ignore[attr-defined]
    finally:
        structlog.reset_defaults()
    assert event["event_id"] in err and "position" in err
    assert '"event": "event.appended"' in err
    assert "PRIVATE-EXPLANATION-7F3" not in err
    assert event["recorded_by"]["id"] not in err
