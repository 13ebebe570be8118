"""Request header fields as the server reads them: list fields, the content coding to send
(Accept-Encoding) and whether a browser asks for a page (Accept).

Edge module: header values in, strings out.
"""

from __future__ import annotations

from collections.abc import Iterator

from multidict import CIMultiDictProxy

# The codings every prepared document has, as Accept-Encoding names them; identity aside.
_CODINGS = {"br": "br", "gzip": "gzip", "x-gzip": "gzip"}
# What a 406 names: the codings a request may ask for.
CODINGS_OFFERED = "br, gzip, identity"


def listed(headers: CIMultiDictProxy[str], name: str) -> str | None:
    """A list field's value (If-None-Match, Accept-Encoding), its lines joined as one list:
    RFC 9110 5.3 makes several lines of a field the one list they write joined by commas,
    and a proxy or a client library may add a line of its own. None when the request has
    none.

    Only the first line was read: a reader whose ETag was on the second got the whole feed
    again, and one whose gzip was on the second got it uncompressed."""
    lines = headers.getall(name, ())
    if len(lines) == 1:
        return lines[0]
    return ", ".join(lines) if lines else None


def _weighted(header: str) -> Iterator[tuple[str, float]]:
    """The items of an Accept or Accept-Encoding value, lower-cased, each with its q-value as
    written (RFC 9110 12.4.2; 1 when it has none, 0 when it is no number)."""
    for part in header.lower().split(","):
        item, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        yield item.strip(), q


_negotiated: dict[tuple[str, tuple[str, ...]], str | None] = {}


def negotiate(accept_encoding: str, offered: tuple[str, ...] = ("br", "gzip")) -> str | None:
    """The coding to send for an Accept-Encoding value (RFC 9110 12.5.3): one of `offered`
    (br and gzip, as every prepared document has them) or identity, the one of the highest
    q-value (`*` standing for those not named); a tie goes to the smaller body, the first
    offered first. None when the value refuses identity (`identity;q=0`, or `*;q=0` without
    identity) and accepts none offered: nothing can be sent.

    No value, or one naming none of them, is identity: the RFC's answer to a request whose
    codings none can be sent. Results are kept, since readers send few distinct values.
    """
    key = (accept_encoding, offered)
    if key in _negotiated:
        return _negotiated[key]
    weights: dict[str, float] = {}
    star: float | None = None
    for coding, q in _weighted(accept_encoding):
        if coding == "*":
            star = q
        elif coding in _CODINGS or coding == "identity":
            name = _CODINGS.get(coding, coding)
            weights[name] = max(weights.get(name, 0.0), q)
    for coding in offered:
        if coding not in weights and star is not None:
            weights[coding] = star
    # Identity is acceptable unless refused (RFC 9110 12.5.3): by its own q=0, or by `*;q=0`
    # without it. Not named, it is what is sent when no coding is accepted.
    refused = weights.get("identity", star if star is not None else 1.0) <= 0
    best = max(offered, key=lambda c: weights.get(c, 0.0))
    choice: str | None = best
    if weights.get(best, 0.0) <= 0 or weights.get("identity", 0.0) > weights[best]:
        choice = None if refused else "identity"
    if len(_negotiated) >= 1024:
        _negotiated.clear()
    _negotiated[key] = choice
    return choice


# The types a feed reader asks for a feed under. Many readers also accept text/html, at a
# lower q-value (SimplePie, so FreshRSS and WordPress, sends `text/html;q=0.7`): they are not
# browsers, and get the feed's own type.
_FEED_ACCEPTS = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml"}
)
_wants_page: dict[str, bool] = {}


def wants_page(headers: CIMultiDictProxy[str]) -> bool:
    """A browser navigating to a feed: it prefers text/html to any feed type (RFC 9110 12.5.1
    q-values; a tie goes to the feed). Readers do not, even those accepting text/html too."""
    accept = headers.get("Accept", "")
    if "text/html" not in accept:
        return False
    known = _wants_page.get(accept)
    if known is not None:
        return known
    html = feed = 0.0
    for media, written in _weighted(accept):
        q = min(max(written, 0.0), 1.0)
        if media == "text/html":
            html = max(html, q)
        elif media in _FEED_ACCEPTS:
            feed = max(feed, q)
    page = html > feed
    if len(_wants_page) >= 1024:
        _wants_page.clear()
    _wants_page[accept] = page
    return page
