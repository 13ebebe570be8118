"""The errors syndicator raises on purpose, one tree under one root.

    SyndicatorError
    ├── ConfigError      the YAML config is unreadable or invalid (names file, line and key)
    ├── FetchError       a mirror could not give us the bytes we asked for (names URL and kind)
    │   └── Throttled    429 or 503, with how long the mirror asked us to wait
    ├── ExtractError     bytes arrived but are not a feed, a listing or an article
    │   └── RejectedPage a 200 answer that is a seizure notice, block page or similar
    ├── StoreError       the article store is unreachable or refused an operation
    │   ├── BackupTarget the path given for a backup can be none (exists, no folder, the store)
    │   └── StoreFull    the disk that holds the store is full: a pull stops storing at once
    ├── BackupNotWritten a backup's copy could not be written where asked (the target's fault)
    └── ExportError      the export folder could not be written (names the file)

A user's mistake or a failing mirror is one of these and is reported as one clear line;
anything else is a bug and is allowed to show its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


class SyndicatorError(Exception):
    """Root of every error syndicator raises on purpose."""


# C0 controls but tab and newline, DEL, and the C1 controls (U+009B is CSI, U+009D OSC to a
# terminal that reads them as such).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` as it can be stored, logged and shown: bytes that were not UTF-8 (which aiohttp
    and the OS give as lone surrogates) as `\\xff`, other lone surrogates as `\\ud800`, and
    control characters (C0 but tab and newline, DEL, C1) as `\\x01`. A mirror's answer names
    the error of each fetch (a reason phrase, a redirect's Location), and neither store takes
    such text, nor should a terminal be given it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join(
            (f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff" else f"\\u{ord(c):04x}")
            if "\ud800" <= c <= "\udfff"
            else c
            for c in text
        )
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass(frozen=True)
class Problem:
    """One mistake in a config: where it is (file, line, column, key path) and what is wrong."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    key: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(SyndicatorError):
    """The config file is missing, not YAML, or does not validate.

    `problems` holds one line per problem, each naming file, line and key path; `details`
    holds the same problems as `Problem` records for tools that want the parts.
    """

    def __init__(self, problems: Sequence[str | Problem]) -> None:
        self.details = [
            p if isinstance(p, Problem) else Problem(file="", message=p) for p in problems
        ]
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))


class FetchError(SyndicatorError):
    """A URL could not be fetched. `kind` is a short machine-readable reason."""

    def __init__(self, url: str, kind: str, message: str) -> None:
        self.url = url = printable(url)
        self.kind = kind
        self.message = message = printable(message)
        super().__init__(f"{url}: {kind}: {message}")


class Throttled(FetchError):
    """HTTP 429 or 503; `retry_after` is the wait the mirror asked for, in seconds, if any."""

    def __init__(self, url: str, status: int, retry_after: float | None) -> None:
        wait = f", retry after {retry_after:g}s" if retry_after is not None else ""
        super().__init__(url, f"http-{status}", f"HTTP {status}{wait}")
        self.status = status
        self.retry_after = retry_after


class ExtractError(SyndicatorError):
    """Fetched bytes are not what the entry point promised (not a feed, no article...)."""

    def __init__(self, url: str, message: str, kind: str = "extract") -> None:
        self.url = url = printable(url)
        self.kind = kind
        self.message = message = printable(message)
        super().__init__(f"{url}: {message}")


class RejectedPage(ExtractError):
    """A page that answered 200 but is a notice (seized domain, block page, captcha)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, f"rejected page: {reason}", kind="rejected")
        self.reason = reason


class StoreError(SyndicatorError):
    """The store could not be reached or refused an operation."""


class BackupTarget(StoreError):
    """The path given for a backup cannot be one: a mistake on the command line."""


class StoreFull(StoreError):
    """The disk that holds the store is full (SQLite's "database or disk is full",
    PostgreSQL's SQLSTATE 53100): no later write of the same pull can succeed either."""


class BackupNotWritten(SyndicatorError):
    """A backup's copy could not be written at its target (a folder not writable, its disk
    full): the target's fault, never the store's, which was only read."""


class ExportError(SyndicatorError):
    """The export folder could not be written: names the file and the system's reason."""
