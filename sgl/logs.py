"""structlog set-up: JSON lines in services, key-value on a terminal; ids only, never content
(an exception is logged as its traceback without messages)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

from ledger.settings import Settings


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time, so cached loggers follow redirection."""

    def write(self, text: str) -> int:
        """Write to the current standard error."""
        return sys.stderr.write(text)

    def flush(self) -> None:
        """Flush the current standard error."""
        sys.stderr.flush()


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def traceback_without_messages(error: BaseException) -> str:
    """The exception's traceback as Python prints it, causes and contexts first, but each
    exception named by its type alone: a message (or a local variable) may quote an event."""
    chain: list[tuple[BaseException, str]] = []
    link = ""
    current: BaseException | None = error
    while current is not None and all(current is not e for e, _ in chain):
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for exc, following in reversed(chain):
        kind = type(exc)
        name = kind.__qualname__
        if kind.__module__ not in ("builtins", "__main__"):
            name = f"{kind.__module__}.{name}"
        frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
        if frames:
            parts.append("Traceback (most recent call last):\n")
        parts += [*frames, f"{name}\n", following]
    return "".join(parts).rstrip("\n")


def render_exception(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace `exc_info` (as `log.exception` sets it) by `exception`, the traceback without
    messages (`traceback_without_messages`)."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        event["exception"] = traceback_without_messages(exc_info)
    elif isinstance(exc_info, tuple) and isinstance(exc_info[1], BaseException):
        event["exception"] = traceback_without_messages(exc_info[1])
    return event


def configure_logging(settings: Settings, *, stream_is_tty: bool | None = None) -> None:
    """Configure structlog once for the process from the settings."""
    tty = sys.stderr.isatty() if stream_is_tty is None else stream_is_tty
    json_lines = settings.log_format == "json" or (settings.log_format == "auto" and not tty)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            render_exception,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # PrintLogger only calls write and flush; _CurrentStderr is not a whole TextIO.
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
