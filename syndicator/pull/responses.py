"""What a mirror's answer says, apart from its body: the `Response` a fetch gives (status, final
URL, charset and type, the validators to send back, the redirects followed, the time it
took), which validators can be kept and sent back, a Retry-After's wait, and the CDN whose
bot challenge an answer is. Pure: headers and values in, values out; no I/O.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syndicator.core import identity


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    body: bytes
    charset: str | None = None
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0
    redirects: tuple[str, ...] = field(default_factory=tuple)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# A validator longer than this is not kept: sent back as If-None-Match it could pass a
# server's header limit and fail every later request of the URL.
MAX_VALIDATOR = 1024


def validator(value: str | None) -> str | None:
    """An ETag or Last-Modified as a mirror sent it, when it can be stored and sent back.

    aiohttp decodes header bytes that are not UTF-8 to lone surrogates: such a value, one with
    a control character, or one past `MAX_VALIDATOR` is dropped (None). Neither store takes
    it as text (SQLite raised UnicodeEncodeError and ended the pull), and the URL is simply
    fetched again in full next time."""
    if not value or len(value) > MAX_VALIDATOR:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in value):
        return None
    return value


def origin_of(url: str) -> str:
    """The origin of a URL (see `identity.origin`); kept under this name for callers."""
    return identity.origin(url)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        # ASCII digits only: "²" is a digit to str.isdigit but no number to float().
        return float(text) if text.isascii() else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# The headers CDNs document for telling their bot challenges apart, whatever the status they
# answer it with (Cloudflare: 403 or 503, even 200; Vercel: 429), by the provider's name.
_CHALLENGE_HEADERS = {"cf-mitigated": "Cloudflare", "x-vercel-mitigated": "Vercel"}


def challenger(headers: Any) -> str | None:
    """The CDN whose bot challenge an answer is, or None. A challenge is no error of the
    mirror nor a wait it asks for: taken for one (`http-403`, or a 503 or 429 that is asked
    again within the pull, in vain), the mirror's health never said what kept the pull out
    (`captcha`, as for a challenge page served with 200)."""
    for header, provider in _CHALLENGE_HEADERS.items():
        if headers.get(header, "").strip().lower() == "challenge":
            return provider
    return None
