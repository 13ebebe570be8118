"""A site's own boilerplate, learned from its pages: what single-page extractors cannot see.

Every page of a site carries the same navigation, share row, newsletter pitch, list of
alternate addresses or "related" heading, worded the site's own way, often with no class or
announcement any built-in rule knows. The service sees many pages of each source on every
mirror: a block whose normalised text repeats on a good share of them is the site's
template, not an article. `SiteTemplates` counts blocks over the pages of one source and
answers the set of normalised texts that `clean.strip_boilerplate` removes (`site_blocks`).

Pure: bytes in, sets of strings out.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from lxml import etree

from syndicator.core.errors import ExtractError
from syndicator.extract import boilerplate, clean, parsing
from syndicator.extract.boilerplate import MAX_BLOCK

# A page is counted once per block text, and only its last WINDOW pages are remembered, so a
# source's template follows redesigns and memory stays bounded.
WINDOW = 200
# A block is template when it is on at least MIN_PAGES pages and on SHARE of those seen.
MIN_PAGES = 3
SHARE = 0.5
# Blocks shorter than this are words ("Home", "Share"), which the built-in rules and
# trafilatura judge better in context.
MIN_CHARS = 12


def page_blocks(root: etree._Element) -> frozenset[str]:
    """The normalised texts of a parsed page's blocks (each once), scripts and styles apart."""
    found: set[str] = set()
    for el in root.iter(*clean.TEMPLATE_TAGS):
        text = clean.text_of(el)
        if MIN_CHARS <= len(text) <= MAX_BLOCK:
            found.add(boilerplate.normal_block(text))
    return frozenset(found)


def blocks_of(body: bytes, url: str, header_charset: str | None = None) -> frozenset[str]:
    """The block texts of one page's bytes; nothing for bytes that are not a page."""
    try:
        root = parsing.parse_page(body, url, header_charset)
    except ExtractError:  # a page that does not parse teaches nothing
        return frozenset()
    for el in list(root.iter("script", "style", "noscript", "template")):
        clean.drop_element(el)
    return page_blocks(root)


class SiteTemplates:
    """Block counts over the last WINDOW pages of one source."""

    def __init__(self, window: int = WINDOW) -> None:
        self._pages: deque[tuple[str, frozenset[str]]] = deque(maxlen=window)
        self._keys: set[str] = set()
        self._counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._pages)

    def add(self, key: str, blocks: frozenset[str]) -> None:
        """Count one page's blocks (as `blocks_of` gives them). `key` names the article
        (its path): the same article on several mirrors is one page, or its own paragraphs
        would repeat and be taken for the template."""
        if key in self._keys:
            return
        if len(self._pages) == self._pages.maxlen:
            old_key, old = self._pages[0]
            self._keys.discard(old_key)
            self._counts.subtract(old)
        self._pages.append((key, blocks))
        self._keys.add(key)
        self._counts.update(blocks)

    def add_pages(self, pages: Iterable[tuple[bytes, str]]) -> None:
        """Count saved pages, each with the URL it came from."""
        for body, url in pages:
            self.add(urlsplit(url).path, blocks_of(body, url))

    def blocks(self) -> frozenset[str]:
        """The normalised texts this source repeats: its template."""
        seen = len(self._pages)
        if seen < MIN_PAGES:
            return frozenset()
        need = max(MIN_PAGES, SHARE * seen)
        return frozenset(text for text, n in self._counts.items() if n >= need)
