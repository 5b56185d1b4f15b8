"""structlog set-up: JSON lines in services, key-value on a terminal; ids only, never content."""

from __future__ import annotations

import logging
import sys

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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # PrintLogger only calls write and flush; _CurrentStderr is not a whole TextIO.
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
