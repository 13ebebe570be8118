"""Log output: every record of every logger rendered as plain text, JSON lines or logfmt, with
a UTC timestamp, level, logger name, the event and its fields.

Code logs with the standard library (`log.info("pull", extra={"source": ...})`); structlog's
ProcessorFormatter turns each record, its `extra` fields included, into one line. A record
carries a traceback only when the code that logged it asked for one (a bug), never for an
expected failure such as a mirror being down.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

FORMATS = ("text", "json", "logfmt")
_KEY_ORDER = ["ts", "level", "logger", "event"]
# Loggers of libraries that are chatty at INFO about things an operator does not act on.
_QUIET = ("apscheduler", "aiohttp.access", "asyncio", "alembic")


def _renderer(fmt: str) -> list[Any]:
    if fmt == "json":
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    if fmt == "logfmt":
        return [
            structlog.processors.format_exc_info,
            structlog.processors.LogfmtRenderer(key_order=_KEY_ORDER, bool_as_flag=False),
        ]
    return [
        structlog.dev.ConsoleRenderer(
            colors=False,
            pad_event_to=0,
            timestamp_key="ts",
            sort_keys=False,
            exception_formatter=structlog.dev.plain_traceback,
        )
    ]


def formatter(fmt: str) -> logging.Formatter:
    """A logging formatter that renders records in `fmt` (text, json or logfmt)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(fmt)],
    )


class _LogHandler(logging.StreamHandler):
    """Drops a record its stream cannot take (stderr closed, a terminal hung up, a full
    disk) without a word: the standard library wrote "--- Logging error ---" and a traceback
    to that same stderr, which a full disk's log file got once it had room again. The work
    goes on; what could not be said is lost, as it would be from a log no one reads."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)  # a record that cannot be rendered is a bug: say it


class _StderrHandler(_LogHandler):
    """Writes to whatever sys.stderr is when a record is logged, not when set up."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_installed: list[logging.Handler] = []


def setup_logging(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every logger's records to `stream` (stderr) in one format, replacing the set-up of
    an earlier call; handlers installed by anyone else stay."""
    handler = _LogHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    while _installed:
        root.removeHandler(_installed.pop())
    root.addHandler(handler)
    _installed.append(handler)
    root.setLevel(level.upper())
    quiet = max(logging.WARNING, root.level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(quiet)
