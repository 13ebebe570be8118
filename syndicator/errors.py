"""The errors syndicator raises on purpose, one tree under one root.

    SyndicatorError
    ├── ConfigError      the YAML config is unreadable or invalid (names file, line and key)
    ├── FetchError       a mirror could not give us the bytes we asked for (names URL and kind)
    │   └── Throttled    429 or 503, with how long the mirror asked us to wait
    ├── ExtractError     bytes arrived but are not a feed, a listing or an article
    │   └── RejectedPage a 200 answer that is a seizure notice, block page or similar
    └── StoreError       the article store is unreachable or refused an operation

A user's mistake or a failing mirror is one of these and is reported as one clear line;
anything else is a bug and is allowed to show its traceback.
"""

from __future__ import annotations


class SyndicatorError(Exception):
    """Root of every error syndicator raises on purpose."""


class ConfigError(SyndicatorError):
    """The config file is missing, not YAML, or does not validate.

    `problems` holds one line per problem, each naming file, line and key path.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class FetchError(SyndicatorError):
    """A URL could not be fetched. `kind` is a short machine-readable reason."""

    def __init__(self, url: str, kind: str, message: str) -> None:
        self.url = url
        self.kind = kind
        self.message = message
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
        self.url = url
        self.kind = kind
        self.message = message
        super().__init__(f"{url}: {message}")


class RejectedPage(ExtractError):
    """A page that answered 200 but is a notice (seized domain, block page, captcha)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, f"rejected page: {reason}", kind="rejected")
        self.reason = reason


class StoreError(SyndicatorError):
    """The store could not be reached or refused an operation."""
