"""The extracted body made readable: lines broken with <br> made paragraphs, the headline,
standfirst and byline it repeats dropped, section headings kept, and the teasers of other
articles left at its end removed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

from syndicator.extract import boilerplate, boilerplate_phrases
from syndicator.extract.announced_blocks import drop_announced, drop_blocks, mid_sentence
from syndicator.extract.clean import SENTENCE_CHARS
from syndicator.extract.page_tree import BLOCK_TAGS, drop_element, paragraph_chars, text_of
from syndicator.extract.text_rules import (
    Searcher,
)

_BLOCKISH = frozenset({*BLOCK_TAGS, "div", "section", "ul", "ol", "table", "figure", "hr"})


def split_line_breaks(container: etree._Element) -> None:
    """Text laid out with <br> (two or more in one element) becomes one paragraph per line,
    so that each line is judged as a block of its own."""
    parents = {br.getparent() for br in container.iter("br")}
    for el in parents:
        if el is None or sum(1 for c in el if c.tag == "br") < 2:
            continue
        segments: list[list[object]] = [[el.text] if el.text else []]
        for child in list(el):
            tail, child.tail = child.tail, None
            if child.tag == "br":
                segments.append([])
            elif not isinstance(child.tag, str):
                pass  # a comment or processing instruction: no text, and no block
            elif child.tag in _BLOCKISH:
                segments.extend([[child], []])
            else:
                segments[-1].append(child)
            if tail:
                segments[-1].append(tail)
        blocks = [_paragraph(seg) for seg in segments if _has_text(seg)]
        el.text = None
        for child in list(el):
            el.remove(child)
        if el.tag == "p" and (parent := el.getparent()) is not None:
            # Each block after the one before it: inserting at an index walks the parent's
            # children, and 50,000 line breaks in one paragraph took seconds that way.
            anchor = el
            for block in blocks:
                anchor.addnext(block)
                anchor = block
            parent.remove(el)
        else:
            el.extend(blocks)


def _has_text(segment: list[object]) -> bool:
    return any(
        (isinstance(part, str) and part.strip())
        or (isinstance(part, etree._Element) and (text_of(part) or part.tag in _BLOCKISH))
        for part in segment
    )


def _paragraph(segment: list[object]) -> etree._Element:
    if len(segment) == 1 and isinstance(segment[0], etree._Element) and segment[0].tag in _BLOCKISH:
        return segment[0]
    p = etree.Element("p")
    for part in segment:
        if isinstance(part, str):
            if len(p):
                p[-1].tail = (p[-1].tail or "") + part
            else:
                p.text = (p.text or "") + part
        elif isinstance(part, etree._Element):
            p.append(part)
    p.text = (p.text or "").lstrip() or None
    return p


def _drop_echoes(container: etree._Element, echoes: Iterable[str], author: str | None) -> None:
    """Blocks that repeat the headline or the caption, or are the byline."""
    repeated = {" ".join(e.split()) for e in echoes if e and e.strip()}
    for el in list(container.iter(*BLOCK_TAGS, "div", "span", "font", "small", "b", "strong")):
        if el.getparent() is None or (len(el) and any(c.tag in _BLOCKISH for c in el)):
            continue
        text = text_of(el)
        if text and (text in repeated or boilerplate.is_byline(text, author)):
            if el.tag not in BLOCK_TAGS and mid_sentence(el):
                continue  # "ein Film von Klaus Stanjek": the sentence's words
            drop_element(el, "byline-or-repeat")


_PRECEDING_TEXT = etree.XPath("boolean(preceding::text()[normalize-space()])")


def _section_h1s(container: etree._Element, headline: str) -> set[etree._Element]:
    """The h1s of a body that head its sections (Medium and Google's SRE book set them in
    h1), not the headline: in a body with several h1s, each that is not part of the headline
    (nor holds it) and follows text or another h1. Decided before datelines and the like
    are dropped, so that a dateline in front counts as text."""
    h1s = list(container.iter("h1"))
    if len(h1s) < 2:
        return set()
    title = " ".join(headline.casefold().split())
    sections = set()
    for n, el in enumerate(h1s):
        text = text_of(el).casefold()
        if not text or (title and (text in title or title in text)):
            continue
        if n or _PRECEDING_TEXT(el):
            sections.add(el)
    return sections


_TEASER_HEADINGS = frozenset({"h2", "h3", "h4", "h5", "h6"})


def _drop_teasers(container: etree._Element) -> None:
    """Teasers of other stories: a paragraph of text that ends in a link to the rest of a
    story ("... erläutert Hintergründe. mehr"), with the heading just before it when that
    links to the same address. A paragraph of the article ends in its own words."""
    for el in list(container.iter("p", "li", "div")):
        if el.getparent() is None or not len(el) or any(c.tag in _BLOCKISH for c in el):
            continue
        link = el[-1]
        if link.tag != "a" or (link.tail or "").strip():
            continue
        words = text_of(link)
        if (
            not boilerplate_phrases.is_more_link(words)
            or len(text_of(el)) - len(words) < SENTENCE_CHARS
        ):
            continue
        before, href = el.getprevious(), link.get("href")
        if (
            before is not None
            and before.tag in _TEASER_HEADINGS
            and href
            and any(a.get("href") == href for a in before.iter("a"))
        ):
            drop_element(before, "teaser")
        drop_element(el, "teaser")


def tidy_body(
    container: etree._Element,
    text_patterns: Sequence[Searcher] = (),
    *,
    echoes: Iterable[str] = (),
    author: str | None = None,
) -> None:
    """After extraction: one block per line, then drop what is left of announcements,
    pointers, host lists, datelines, the byline and repeats of the headline or caption.
    `echoes` are the texts a block may not repeat, the headline first."""
    split_line_breaks(container)
    echoes = tuple(echoes)
    sections = _section_h1s(container, echoes[0] if echoes else "")
    drop_announced(container, paragraph_chars(container))
    drop_blocks(container, text_patterns)
    _drop_echoes(container, echoes, author)
    _drop_teasers(container)
    # A reading time ("8 min read") is page furniture; only the body's are dropped, as
    # dropping the page's can change the block trafilatura picks.
    if boilerplate.may_hold_reading_time("".join(container.itertext())):
        for el in list(container.iter("p", "div", "span", "small", "time")):
            if el.getparent() is not None and boilerplate.is_reading_time(text_of(el)):
                drop_element(el, "reading-time")
    # The body's text holds no picture (`pictures` puts them back after it, each with its own
    # caption): a line of text that credits one credits nothing.
    if boilerplate.may_hold_photo_credit("".join(container.itertext())):
        for el in list(container.iter("p", "div", "span", "small", "em", "i", "figcaption")):
            if el.getparent() is not None and boilerplate.is_photo_credit(text_of(el)):
                drop_element(el, "photo-credit")
    for el in list(container.iter("h1", "figure", "img")):
        if el in sections:
            el.tag = "h2"
        else:
            # The headline and the lead figure are published as their own fields.
            drop_element(el)
    for el in reversed(list(container.iter(*BLOCK_TAGS, "div", "ul", "ol", "table", "span"))):
        if el.getparent() is not None and not text_of(el) and not len(el.xpath(".//img")):
            drop_element(el)
