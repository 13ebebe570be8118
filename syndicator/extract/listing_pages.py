"""Listing pages to what they list: the links of a section's HTML page to this site's
article pages, in page order, with their headlines; and every link of a page to the site's
own pages (`site_links`, what tells an article from a listing). Links are made absolute as a
browser makes them. Pure: bytes or trees in, links out, no I/O.
"""

from __future__ import annotations

import re
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
    body: bytes,
    url: str,
    site_origins: set[str],
    pattern: str,
    header_charset: str | None = None,
    limit: int | None = None,
) -> dict[str, str]:
    """Article links of this site in page order, each once, with the text of their first
    link that has one (usually the headline). Relative links are resolved as a browser
    resolves them: against the page's `<base href>` when it has one (a listing at
    /Section/10104 with `<base href="/">` links `Detail/...` at /Detail/..., not
    /Section/Detail/...).

    With `limit`, reading ends at the first link to another page of the site once `limit`
    articles are found (the last of them keeps the text of its links before that): a page of
    tens of thousands of links was read to its end, each link made absolute and matched, for
    the few hundred a pull takes."""
    root = parse_page(body, url, header_charset)
    matcher = text_rules.rule(pattern, "article_links")
    seen: dict[str, str] = {}
    others: set[str] = set()  # the site's pages that are no articles
    for absolute, path, a, _href in _site_anchors(root, url, site_origins):
        if seen.get(absolute) or absolute in others:
            continue
        if absolute not in seen:
            if limit is not None and len(seen) >= limit:
                break
            try:
                matched = matcher.search(urlsplit(absolute).path if path is None else path)
            except text_rules.RuleTimeout as exc:
                # Which links are articles is not known for this page: it fails, named, and
                # the next pull tries again (a mirror is not to blame for the pattern).
                raise ExtractError(url, f"{exc}: no links taken", kind="rule-timeout") from None
            if not matched:
                others.add(absolute)
                continue
        seen[absolute] = page_tree.line_text(a)
    return seen


def site_links(root: etree._Element, url: str, site_origins: set[str]) -> dict[str, str]:
    """Every link of the page (its tree, read and left as it is) to a page of this site (its
    own host or `site_origins`), in page order, each once and without its fragment, with the
    text of its first link that has one; a link to a place on the page itself (`#comments`)
    is none."""
    seen: dict[str, str] = {}
    for absolute, _path, a, href in _site_anchors(root, url, site_origins):
        if not href.strip() or href.strip().startswith("#"):
            continue
        if not seen.get(absolute):
            seen[absolute] = page_tree.line_text(a)
    return seen


# What a page links its pages with: an `a`'s href, and a card's `data-href` (a clickable
# `<article data-href="/news/...">` a script opens, which may hold no `a` to its page).
_LINKING = etree.XPath("descendant-or-self::a[@href] | descendant-or-self::*[@data-href]")
# A URL's scheme and host (with its port, if any): all of it `identity.known_origin` reads.
_SCHEME_AND_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
# The scheme and host an absolute link is written with, when they hold nothing that making
# the link absolute changes (`identity.join_url`: no space or control character, quote,
# angle bracket or backtick, no lone surrogate).
_WRITTEN_HOST = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*://[^/?#\x00-\x20\x7f\"<>`\ud800-\udfff]+)(?:[/?#]|$)"
)
# A link written from the site's root that joining leaves as it is: its path (group 1) of
# segments that are neither empty nor dot segments (none starts with a dot), with no `;`
# (urljoin reads path parameters), a query that is not empty (an empty one is dropped), and
# nothing `identity.join_url` percent-encodes or removes (space and control characters, quote,
# angle brackets, backtick, lone surrogates), its fragment included.
_JOIN_CHANGES = '\x00-\x20\x7f\ud800-\udfff"<>`'
_SEGMENT = f"[^/?#;.{_JOIN_CHANGES}][^/?#;{_JOIN_CHANGES}]*"
_ROOTED = re.compile(
    f"(/(?:{_SEGMENT}(?:/{_SEGMENT})*/?)?)(?:\\?[^#{_JOIN_CHANGES}]+)?(?:#[^{_JOIN_CHANGES}]*)?"
)
# A card's headline: its first heading.
_HEADLINE = etree.XPath(
    "descendant::*[self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6][1]"
)


def _site_anchors(
    root: etree._Element, url: str, site_origins: set[str]
) -> Iterator[tuple[str, str | None, etree._Element, str]]:
    """Each link of the page to a page of this site (its own host or `site_origins`), in
    page order: the address it leads to (made absolute as a browser makes it, against the
    page's `<base href>`, without its fragment), its path when known without parsing it, the
    element whose text names it (the `a`; a card's headline, else the card) and the link as
    written. A card linked by its `data-href` alone is a link too: listings of such cards gave
    no article link at all. One holding an `a` to the same page is that `a`'s, whose text is
    the headline."""
    known = {identity.origin(url), *site_origins}
    # A page links many pages of few hosts, often each page twice (a picture, a headline):
    # each host is judged once, each link made absolute once.
    hosts: dict[str, bool] = {}
    links = _PageLinks(page_base(root, url))
    rooted_on_site = links.root is not None and _on_site(links.root + "/", known, hosts)
    for el in _LINKING(root):
        href = el.get("href") if el.tag == "a" else None
        card = not href
        if not (href := href or el.get("data-href")):
            continue
        written = href.strip()
        if (rooted := links.rooted(written)) is not None:
            if not rooted_on_site:
                continue  # the page's `<base href>` is on another site's host
            absolute, path = rooted
        else:
            found = _WRITTEN_HOST.match(written)
            if found is not None and not _on_site(found.group(1), known, hosts):
                continue  # a link to another site's host, which it keeps made absolute
            if found is not None and (whole := links.whole(written, found.group(1))):
                absolute, path = whole
            elif (joined := links.joined(href)) is None:
                continue
            else:
                absolute, path = joined, None
                if not _on_site(absolute, known, hosts):
                    continue
        if not card:
            yield absolute, path, el, href
        elif not _links_inside(el, links, absolute):
            yield absolute, path, next(iter(_HEADLINE(el)), el), href


class _PageLinks:
    """The links of one page made absolute (without their fragment) as
    `identity.join_url` makes them, against the page's base.

    A link written from the site's root with nothing a join changes (`/tags/world`, no dot
    segment, no doubled slash, nothing percent-encoded, no `;`, no empty query) is the base's
    scheme and host followed by it: it is read so, not parsed. A listing page of 104,000 such
    links, none an article, spent most of its 1.6 s of CPU joining them with urljoin; written
    whole (`https://host/tags/world`), 2.1 s. Such a link written whole, its scheme and host
    ones joining keeps as written, is read as written (`whole`). Any other link is joined,
    once for each way it is written."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._joined: dict[str, str | None] = {}
        # Whether joining keeps a link's scheme and host as written, for each written so.
        self._kept: dict[str, bool] = {}
        # The base's scheme and host, when writing them before a link from the root is
        # what joining it gives.
        self.root: str | None = None
        try:
            parts = urlsplit(base)
        except ValueError:
            return
        if parts.scheme in ("http", "https") and parts.netloc:
            root = f"{parts.scheme}://{parts.netloc}"
            if identity.join_url(base, "/") == root + "/":
                self.root = root

    def rooted(self, written: str) -> tuple[str, str] | None:
        """The address and path of a link written from the root (`written`, stripped) that
        joining would not change, or None."""
        if self.root is None or (plain := _ROOTED.fullmatch(written)) is None:
            return None
        return self.root + written.split("#", 1)[0], plain.group(1)

    def whole(self, written: str, start: str) -> tuple[str, str] | None:
        """The address and path of a link written whole (`written`, stripped, `start` its
        scheme and host) that joining would not change, or None: its scheme and host are
        kept by a join as written (`https://host`, not `HTTPS://host`, which a join against
        an https base writes in lower case), and the rest is a path from the root as
        `rooted` takes one. A join keeps a whole link of another scheme than the base's as
        written, and rewrites one of the base's scheme from its parts, which for these is
        the link again."""
        kept = self._kept.get(start)
        if kept is None:
            kept = self._kept[start] = identity.join_url(self.base, start + "/") == start + "/"
        if not kept or (plain := _ROOTED.fullmatch(written, len(start))) is None:
            return None
        return written.split("#", 1)[0], plain.group(1)

    def joined(self, href: str) -> str | None:
        """`href` made absolute, without its fragment; None when it is no URL."""
        if href not in self._joined:
            joined = identity.join_url(self.base, href)
            self._joined[href] = None if joined is None else joined.split("#", 1)[0]
        return self._joined[href]

    def address(self, href: str) -> str | None:
        """Where `href` leads, without its fragment: read from the root, or joined."""
        written = href.strip()
        if (rooted := self.rooted(written)) is not None:
            return rooted[0]
        found = _WRITTEN_HOST.match(written)
        if found is not None and (whole := self.whole(written, found.group(1))) is not None:
            return whole[0]
        return self.joined(href)


def _on_site(url: str, known: set[str], hosts: dict[str, bool]) -> bool:
    """Whether `url` is on one of the `known` origins (`identity.known_origin`, which reads
    a URL's scheme and host alone), its scheme and host looked up in `hosts` first."""
    if (found := _SCHEME_AND_HOST.match(url)) is None:
        return identity.known_origin(url, known) is not None
    key = found.group()
    if key not in hosts:
        hosts[key] = identity.known_origin(key, known) is not None
    return hosts[key]


def _links_inside(card: etree._Element, links: _PageLinks, absolute: str) -> bool:
    """Whether an `a` inside the card links the page `absolute`."""
    return any((href := a.get("href")) and links.address(href) == absolute for a in card.iter("a"))
