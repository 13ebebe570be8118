"""Listing pages to what they list: the links of a section's HTML page to this site's
article pages, in page order, with their headlines; and every link of a page to the site's
own pages (`site_links`, what tells an article from a listing). Links are made absolute as a
browser makes them. Pure: bytes or trees in, links out, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from lxml import etree

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.extract import page_tree, text_rules
from syndicator.extract.decoding import page_base, parse_page


def listing_links(
    body: bytes, url: str, site_origins: set[str], pattern: str, header_charset: str | None = None
) -> list[str]:
    """Links to article pages of this site, in page order, each once."""
    return list(listing_entries(body, url, site_origins, pattern, header_charset))


def listing_entries(
    body: bytes, url: str, site_origins: set[str], pattern: str, header_charset: str | None = None
) -> dict[str, str]:
    """Article links of this site in page order, each once, with the text of their first
    link (usually the headline). Relative links are resolved as a browser resolves them:
    against the page's `<base href>` when it has one (a listing at /Section/10104 with
    `<base href="/">` links `Detail/...` at /Detail/..., not /Section/Detail/...)."""
    root = parse_page(body, url, header_charset)
    matcher = text_rules.rule(pattern, "article_links")
    seen: dict[str, str] = {}
    for absolute, a, _href in _site_anchors(root, url, site_origins):
        try:
            matched = matcher.search(urlsplit(absolute).path)
        except text_rules.RuleTimeout as exc:
            # Which links are articles is not known for this page: it fails, named, and the
            # next pull tries again (a mirror is not to blame for the pattern).
            raise ExtractError(url, f"{exc}: no links taken", kind="rule-timeout") from None
        if matched:
            text = page_tree.line_text(a)
            if not seen.get(absolute):
                seen[absolute] = text
    return seen


def site_links(root: etree._Element, url: str, site_origins: set[str]) -> dict[str, str]:
    """Every link of the page (its tree, read and left as it is) to a page of this site (its
    own host or `site_origins`), in page order, each once and without its fragment, with the
    text of its first link that has one; a link to a place on the page itself (`#comments`)
    is none."""
    seen: dict[str, str] = {}
    for absolute, a, href in _site_anchors(root, url, site_origins):
        if not href.strip() or href.strip().startswith("#"):
            continue
        if not seen.get(absolute):
            seen[absolute] = page_tree.line_text(a)
    return seen


# What a page links its pages with: an `a`'s href, and a card's `data-href` (a clickable
# `<article data-href="/news/...">` a script opens, which may hold no `a` to its page).
_LINKING = etree.XPath("descendant-or-self::a[@href] | descendant-or-self::*[@data-href]")
# A card's headline: its first heading.
_HEADLINE = etree.XPath(
    "descendant::*[self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6][1]"
)


def _site_anchors(
    root: etree._Element, url: str, site_origins: set[str]
) -> Iterator[tuple[str, etree._Element, str]]:
    """Each link of the page to a page of this site (its own host or `site_origins`), in
    page order: the address it leads to (made absolute as a browser makes it, against the
    page's `<base href>`, without its fragment), the element whose text names it (the `a`;
    a card's headline, else the card) and the link as written. A card linked by its
    `data-href` alone is a link too: listings of such cards gave no article link at all. One
    holding an `a` to the same page is that `a`'s, whose text is the headline."""
    known = {identity.origin(url), *site_origins}
    base = page_base(root, url)
    for el in _LINKING(root):
        href = el.get("href") if el.tag == "a" else None
        card = not href
        if not (href := href or el.get("data-href")):
            continue
        if (joined := identity.join_url(base, href)) is None:
            continue
        absolute = joined.split("#", 1)[0]
        if identity.known_origin(absolute, known) is None:
            continue
        if not card:
            yield absolute, el, href
        elif not _links_inside(el, base, absolute):
            yield absolute, next(iter(_HEADLINE(el)), el), href


def _links_inside(card: etree._Element, base: str, absolute: str) -> bool:
    """Whether an `a` inside the card links the page `absolute`."""
    for a in card.iter("a"):
        joined = identity.join_url(base, href) if (href := a.get("href")) else None
        if joined is not None and joined.split("#", 1)[0] == absolute:
            return True
    return False
