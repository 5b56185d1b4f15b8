"""Logs carry ids and positions, never the content of an event."""

from __future__ import annotations

import sys
from collections.abc import Callable

import orjson
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


CONTENT = "PRIVATE-CONTENT-5D1"


def failing_fold(content: str) -> None:
    """Raise an error whose message quotes content, from another error quoting it."""
    try:
        {}[content]
    except KeyError as exc:
        raise ValueError(content) from exc


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_an_exception_is_logged_with_its_traceback_but_no_message(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    """`log.exception` and `exc_info=` an error: each exception of the chain by type, with its
    frames; no message or local variable (they may quote an event), no bare `exc_info`."""
    configure_logging(make_settings("sqlite", log_format=log_format))
    log = structlog.get_logger("tests.logging")
    try:
        try:
            failing_fold(CONTENT)
        except ValueError as exc:
            log.exception("consumer.failed", view="case_state")
            caught = exc
        log.error("request.failed", exc_info=caught)
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
    if log_format == "json":
        records = [orjson.loads(line) for line in err.splitlines()]
        assert [r["event"] for r in records] == ["consumer.failed", "request.failed"]
        assert all("exc_info" not in r for r in records)
        texts = [r["exception"] for r in records]
    else:
        texts = [err]
    for text in texts:
        assert CONTENT not in text
        assert "in failing_fold" in text and "direct cause" in text
        assert 0 <= text.index("\nKeyError\n") < text.rindex("\nValueError"), "the cause first"
