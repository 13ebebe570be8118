"""Is this 200 answer what was asked for? Recognises the pages a broken, blocked or seized
mirror serves instead of content: seizure and block notices, captchas and bot challenges,
parked-domain pages, login walls, HTML cut short, plus a source's own `reject_if` markers.

Such a page counts as a mirror failure and never becomes an article. Feeds are checked by
`extract.parse_feed` too (HTML or truncated bytes where a feed was expected); this module adds
the notice checks that name what the page is. Pure: bytes in, a verdict (or RejectedPage) out.

Our own rules rather than a library: no maintained package recognises these pages. They
look only where a notice shows itself (title, first heading, or the whole text of a short
page), so an article that reports on a seizure is not taken for a seizure notice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import lxml.html
from lxml import etree

from syndicator.core.errors import RejectedPage
from syndicator.extract.parsing import decode

# A notice page is short; an article or a listing is not.
SHORT_PAGE = 2500

_NOTICES: dict[str, tuple[str, ...]] = {
    "seized": (
        r"this (?:web ?site|domain|site)(?: name)? has been seized",
        r"(?:web ?site|domain) (?:was|has been) seized by",
        r"seized (?:by|pursuant to) (?:the )?(?:united states|u\.s\.|fbi|federal|order|a )",
        r"seizure warrant",
    ),
    "blocked": (
        r"access to this (?:web ?site|site|page|domain|resource) (?:has been|is) "
        r"(?:blocked|restricted|denied|forbidden)",
        r"this (?:web ?site|site|domain|page) (?:has been|is) blocked",
        r"blocked (?:by|on the|in accordance with|pursuant to) (?:an? )?(?:court |legal )?order",
        r"unavailable for legal reasons",
    ),
    "captcha": (
        r"\bcaptcha\b",
        r"verify (?:that )?you are (?:a )?human",
        r"are you a robot",
        r"attention required! \| cloudflare",
        r"checking (?:if the site connection is secure|your browser before accessing)",
        r"\bcf-challenge\b|\bg-recaptcha\b|\bh-captcha\b|challenges\.cloudflare\.com",
    ),
    "parked": (
        r"this domain (?:name )?(?:is|may be) for sale",
        r"buy this domain",
        r"domain (?:is )?parked",
        r"parked (?:free|domain)",
        r"sedoparking|parkingcrew|bodis\.com|dan\.com/buy-domain",
    ),
    "login-wall": (
        r"(?:sign|log) ?in to (?:continue|read|view|access)",
        r"please (?:sign|log) ?in",
        r"you must be (?:signed|logged) in",
        r"subscribe to (?:continue|keep) reading",
    ),
}
_PATTERNS = {kind: re.compile("|".join(ps), re.I) for kind, ps in _NOTICES.items()}
_HTML_OPEN = re.compile(rb"<html[\s>]", re.I)
_HTML_CLOSE = re.compile(rb"</html\s*>", re.I)


def _text(el: etree._Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _visible_text(root: etree._Element) -> str:
    body = next(iter(root.iter("body")), root)
    parts = []
    for el in body.iter():
        if el.tag in ("script", "style", "noscript", "template") or not isinstance(el.tag, str):
            continue
        if el.text and el.getparent() is not None:
            parts.append(el.text)
        if el.tail and el is not body:
            parts.append(el.tail)
    return " ".join(" ".join(parts).split())


def notice_kind(body: bytes, header_charset: str | None = None) -> str | None:
    """The kind of notice an HTML page is (seized, blocked, captcha, parked, login-wall)."""
    text = decode(body, header_charset)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    heads = " ".join(
        _text(el)
        for el in (next(iter(root.iter("title")), None), next(iter(root.iter("h1")), None))
    )
    visible = _visible_text(root)
    short = len(visible) < SHORT_PAGE
    for kind, pattern in _PATTERNS.items():
        if pattern.search(heads):
            return kind
        # Markup markers (challenge scripts, seal images) count on short pages only: a long
        # article may carry a captcha for its comment form.
        if short and (pattern.search(visible) or pattern.search(text)):
            return kind
    return None


def looks_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or bool(_HTML_OPEN.search(body[:2048]))


def check(
    body: bytes,
    url: str,
    expect: str,
    *,
    header_charset: str | None = None,
    reject_if: Sequence[str] = (),
) -> None:
    """Raise RejectedPage when a 200 answer for `expect` (feed, sitemap, page, article) is not
    it."""
    if reject_if:
        lowered = decode(body, header_charset).casefold()
        for marker in reject_if:
            if marker.casefold() in lowered:
                raise _rejected(url, "reject-if", f"contains the marker {marker!r} (reject_if)")
    if not body.strip():
        raise _rejected(url, "empty", "empty answer")
    if expect in ("feed", "sitemap") and not looks_html(body):
        return  # XML (or a gzipped sitemap): the parser decides whether it is whole
    if looks_html(body):
        kind = notice_kind(body, header_charset)
        if kind is not None:
            raise _rejected(url, kind, f"{kind} notice page where a {expect} was expected")
        if (
            expect not in ("feed", "sitemap")
            and _HTML_OPEN.search(body[:2048])
            and not _HTML_CLOSE.search(body)
        ):
            raise _rejected(url, "truncated", "HTML cut short (no closing </html>)")


def _rejected(url: str, kind: str, reason: str) -> RejectedPage:
    error = RejectedPage(url, reason)
    error.kind = kind
    return error
