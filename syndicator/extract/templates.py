"""A site's own boilerplate, learned from its pages (`SiteTemplates`): the normalised texts
of blocks that repeat across a source's pages, which `clean.strip_boilerplate` removes, and
the block texts of a body that the learning and the cleaning compare. Pure, bounded memory.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from lxml import etree

from syndicator.core.errors import ExtractError
from syndicator.extract import announced_blocks, boilerplate_phrases, page_tree, spacing
from syndicator.extract.decoding import parse_page

# Elements that hold blocks rather than being one: their text is split at their children.
_CONTAINERS = frozenset(
    {
        "div",
        "section",
        "article",
        "main",
        "body",
        "ul",
        "ol",
        "dl",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "figure",
        "header",
        "blockquote",
        "details",
    }
)


def block_texts(container: etree._Element, *, figures: bool = True) -> list[str]:
    """The text of the body as blocks: paragraphs, headings, list items, cells, and any loose
    text between them, each once. Without `figures`, a figure (a picture of the body and its
    caption) is no text: the article's text, and its content hash, are its words alone."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        text = " ".join("".join(run).split())
        if text:
            out.append(text)
        run.clear()

    def walk(node: etree._Element) -> None:
        if node.text:
            run.append(node.text)
        for child in node:
            if child.tag == "figure" and not figures:
                pass
            elif isinstance(child.tag, str) and (
                child.tag in _CONTAINERS or child.tag in page_tree.BLOCK_TAGS
            ):
                flush()
                if child.tag in page_tree.BLOCK_TAGS and not _has_blocks(child):
                    run.append(_leaf_text(child))
                else:
                    walk(child)
                flush()
            elif isinstance(child.tag, str):
                run.append(" " if child.tag == "br" else "".join(child.itertext()))
            if child.tail:
                run.append(child.tail)

    walk(container)
    flush()
    return out


def _leaf_text(el: etree._Element) -> str:
    """The text of a block with no block inside it; a line break in it parts the words on
    either side ("editor<br>The" is "editor The", not "editorThe"), except in scripts written
    without spaces (`spacing.parts_with_space`)."""
    if el.find(".//br") is None:
        return "".join(el.itertext())
    text = _marked_text(el)

    def joined(found: re.Match[str]) -> str:
        # The match takes the whitespace around the breaks: these are the characters of text.
        before, after = text[found.start() - 1 : found.start()], text[found.end() : found.end() + 1]
        return " " if spacing.parts_with_space(before, after) else ""

    return _LINE_BREAKS.sub(joined, text)


# A line break in a block's text while its text is assembled: "\0" is never text (it is
# XML-illegal and dropped from every page).
_BREAK = "\0"
_LINE_BREAKS = re.compile(r"\s*\0[\s\0]*")


def _marked_text(el: etree._Element) -> str:
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            parts.append(_BREAK if child.tag == "br" else _marked_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _has_blocks(el: etree._Element) -> bool:
    return any(
        isinstance(d.tag, str) and (d.tag in page_tree.BLOCK_TAGS or d.tag in _CONTAINERS)
        for d in el.iterdescendants()
    )


# A site's own boilerplate, learned from its pages: what single-page extractors cannot see.
# Every page of a site carries the same navigation, share row, newsletter pitch, list of
# alternate addresses or "related" heading, worded the site's own way, often with no class or
# announcement any built-in rule knows. The service sees many pages of each source on every
# mirror: a block whose normalised text repeats on a good share of them is the site's
# template, not an article. `SiteTemplates` counts blocks over the pages of one source and
# answers the set of normalised texts that `clean.strip_boilerplate` removes
# (`ArticleRules.site_blocks`).

# A page is counted once per block text, and only the last TEMPLATE_WINDOW pages are kept,
# so a source's template follows redesigns and memory stays bounded.
TEMPLATE_WINDOW = 200
# A block is template when it is on TEMPLATE_MIN_PAGES pages and TEMPLATE_SHARE of those seen.
TEMPLATE_MIN_PAGES = 3
TEMPLATE_SHARE = 0.5
# Blocks shorter than this are words ("Home", "Share"), which the built-in rules and
# trafilatura judge better in context.
TEMPLATE_MIN_CHARS = 12


def page_blocks(root: etree._Element) -> frozenset[str]:
    """The normalised texts of a parsed page's blocks (each once), scripts and styles apart."""
    found: set[str] = set()
    for el in root.iter(*announced_blocks.TEMPLATE_TAGS):
        text = page_tree.text_of(el)
        if TEMPLATE_MIN_CHARS <= len(text) <= boilerplate_phrases.MAX_BLOCK:
            found.add(boilerplate_phrases.normal_block(text))
    return frozenset(found)


def blocks_of(body: bytes, url: str, header_charset: str | None = None) -> frozenset[str]:
    """The block texts of one page's bytes; nothing for bytes that are not a page."""
    try:
        root = parse_page(body, url, header_charset)
    except ExtractError:  # a page that does not parse teaches nothing
        return frozenset()
    for el in list(root.iter("script", "style", "noscript", "template")):
        page_tree.drop_element(el)
    return page_blocks(root)


class SiteTemplates:
    """Block counts over the last TEMPLATE_WINDOW pages of one source."""

    def __init__(self, window: int = TEMPLATE_WINDOW) -> None:
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
        if seen < TEMPLATE_MIN_PAGES:
            return frozenset()
        need = max(TEMPLATE_MIN_PAGES, TEMPLATE_SHARE * seen)
        return frozenset(text for text, n in self._counts.items() if n >= need)
