"""What the fetcher and the document cache tell whoever watches them (the Prometheus metrics).

Observers are small Protocols so the stage that reports never imports the one that listens:
the fetcher and the feed cache call `on_fetch` / `on_render`, and metrics implement them.
"""

from __future__ import annotations

from typing import Protocol


class FetchObserver(Protocol):
    """Told about every fetch of a URL when it ends."""

    def on_fetch(self, url: str, result: str, seconds: float) -> None:
        """`result` is "ok", "not-modified", "cancelled", "error" or the failure kind
        (connect, tls, timeout, http-500, ...); `seconds` the time the fetch took."""


class RenderObserver(Protocol):
    """Told about every render of a section's feed documents."""

    def on_render(self, section: str, seconds: float) -> None:
        """`seconds` is the time every format of `section` took to render."""
