"""Boilerplate found by what announces it or by its repetition: the blocks a label, lead or
sentence introduces ("Related stories", "Read more: ...", "Press TV's website can also be
accessed at the following alternate addresses"), the lists of host names after them, the
blocks a site repeats on its pages (learnt by `templates`) and the blocks an operator's
`strip_text` patterns name.

`boilerplate` judges a block's text; this module finds the blocks and drops them from a tree,
keeping what holds the article. Pure: takes trees and changes them; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import regex
from lxml import etree

from syndicator.extract import boilerplate, boilerplate_phrases
from syndicator.extract.boilerplate import is_host_list
from syndicator.extract.page_tree import (
    ANNOUNCER_TAGS,
    ANNOUNCERS,
    BLOCK_TAGS,
    block_of,
    drop_element,
    link_share,
    section_headed_by,
    text_of,
)
from syndicator.extract.text_rules import (
    PageRules,
    Searcher,
    current_page,
    matches_any,
)


def _drop_followers(el: etree._Element, label: bool) -> None:
    """Drop host lists (and, after a label, link lists) that follow an announcement."""
    sibling = el.getnext()
    while sibling is not None:
        text = text_of(sibling)
        follows = is_host_list(text) or not text
        if label and not follows:
            follows = sibling.tag in ("ul", "ol") or link_share(sibling) >= 0.6
        if not follows:
            break
        nxt = sibling.getnext()
        drop_element(sibling, "host-list")
        sibling = nxt


_INLINE_ANNOUNCERS = frozenset({"span", "strong", "b", "font", "small", "time"})
_SENTENCE_GOES_ON = regex.compile(r"[\p{L},;]\s*$")


def mid_sentence(el: etree._Element) -> bool:
    """An inline element that a sentence runs into ("... mit der Welt zu <strong>teilen
    </strong>."): a word in it, not a label, whatever the word. Not after a number ("5
    <span>Kommentare</span>") nor one that ends in a colon."""
    if el.tag not in _INLINE_ANNOUNCERS or text_of(el).endswith(":"):
        return False  # "Foto:", "Related:" head what follows them
    node, text = el, ""
    while not text.strip():
        before = node.getprevious()
        if before is None:
            text = node.getparent().text or ""
            break
        # The text just before: the tail of the element before, else that element's own
        # text when it is inline markup of text (a link in front of the word); a spacer (a
        # span of a no-break space) is looked past; anything else ends the sentence.
        text = before.tail or ""
        if not text.strip() and isinstance(before.tag, str):
            if before.tag not in boilerplate.INLINE_TAGS or any(
                isinstance(c.tag, str) and c.tag not in boilerplate.INLINE_TAGS
                for c in before.iterdescendants()
            ):
                break
            text = "".join(before.itertext())
        node = before
    return bool(_SENTENCE_GOES_ON.search(text))


# A date in a table cell or a list item is data (an event's date, a row of a timeline), not
# the page's dateline.
_LISTING_TAGS = frozenset({"td", "th", "li", "dd", "dt"})


def _in_listing(el: etree._Element) -> bool:
    return el.tag in _LISTING_TAGS or any(a.tag in _LISTING_TAGS for a in el.iterancestors())


# A third of the blocks wrap another with the same text (div > p > span), and each page is
# read twice or more (the page, then each body extracted from it: ours, the safety net's):
# what the text alone decides is judged once per text. Texts are at most MAX_BLOCK long, so
# the cache stays small in a long-running service.
@functools.lru_cache(maxsize=4096)
def _verdict(text: str) -> tuple[bool, bool, bool]:
    """Whether a block's text is a date alone, a pointer ("Read more: ...") and an
    announcement."""
    return (
        boilerplate.is_date_only(text),
        boilerplate.is_lead(text),
        boilerplate.is_announcement(text),
    )


def drop_announced(
    root: etree._Element, total: int, keep: set[etree._Element] | None = None
) -> None:
    """Remove blocks that announce boilerplate, with what they announce."""
    top = root.getroottree().getroot()
    lengths = _text_lengths(root)
    for el in list(root.iter(*ANNOUNCERS)):
        if not 0 < lengths.get(el, 0) <= boilerplate_phrases.MAX_BLOCK:
            continue  # empty, or a container of blocks
        if el.getparent() is None or el.getroottree().getroot() is not top:
            continue  # already gone with an announced block
        text = text_of(el)
        date_only, lead, announcement = _verdict(text)
        if (
            date_only
            and el.tag in ("p", "div", "span", "font", "small", "time")
            and not _in_listing(el)
        ):
            drop_element(el, "dateline")
            continue
        if lead and link_share(el) >= 0.4:
            drop_element(block_of(el), "pointer")
            continue
        if not announcement or mid_sentence(el):
            continue
        # Only the smallest element carrying the announcement: skip containers of it (a
        # row of labels such as "Print | Email" is one announcement, not a container), when
        # that element is one this loop reaches (not the link of `<p><a>Read more</a></p>`).
        if any(
            child.tag in ANNOUNCER_TAGS
            and (
                boilerplate.is_sentence(child_text := text_of(child))
                or (child_text == text and boilerplate.is_label(child_text))
            )
            for child in el
        ):
            continue
        label = boilerplate.is_label(text)
        block = block_of(el)
        parent = block.getparent()
        if label and (section := section_headed_by(block, keep, total)) is not None:
            # A section headed "Related stories" or "Comments" is that section.
            drop_element(section, "labelled-section")
            continue
        if keep is not None and block in keep:
            continue
        _drop_followers(block, label)
        drop_element(block, "announcement")
        # A wrapper left with nothing but host names is part of the same block.
        while (
            parent is not None
            and parent.tag not in boilerplate.CONTENT_TAGS
            and parent.getparent() is not None
            and (keep is None or parent not in keep)
            and (not text_of(parent) or is_host_list(text_of(parent)))
        ):
            up = parent.getparent()
            drop_element(parent, "host-list")
            parent = up


def drop_site_blocks(
    root: etree._Element, blocks: frozenset[str], keep: set[etree._Element] | None = None
) -> None:
    """Remove the blocks whose normalised text is one this site repeats on its pages
    (navigation, share rows, newsletter pitches, its list of alternate addresses), outermost
    first; never one that holds the article."""
    top = root.getroottree().getroot()
    for el in list(root.iter(*TEMPLATE_TAGS)):
        if keep is not None and el in keep:
            continue
        if el.getroottree().getroot() is not top:
            continue  # inside a block already removed
        text = text_of(el)
        if text and boilerplate_phrases.normal_block(text) in blocks:
            drop_element(el, "site-template")


# Elements whose text is compared with the blocks a site repeats on its pages.
TEMPLATE_TAGS = (*BLOCK_TAGS, "div", "section", "ul", "ol", "header", "aside", "nav", "footer")


def _text_lengths(root: etree._Element) -> dict[etree._Element, int]:
    """Characters of text under every element (its text and its descendants', not its
    tail), in one pass through the page that counts where each element starts and ends."""
    lengths: dict[etree._Element, int] = {}
    starts: list[int] = []
    size = 0
    for event, el in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        if event == "start":
            starts.append(size)
            if el.text:
                size += len(el.text)
            continue
        if event == "end":
            lengths[el] = size - starts.pop()
        if el.tail:  # an element's, a comment's or an instruction's: its parent's text
            size += len(el.tail)
    return lengths


def drop_blocks(root: etree._Element, patterns: Sequence[Searcher]) -> None:
    if not patterns:
        return
    page = current_page.get() or PageRules(None)
    for el in list(root.iter(*BLOCK_TAGS, "div", "section", "span")):
        if el.getparent() is None or not matches_any(text_of(el), patterns, page):
            continue
        if any(isinstance(c.tag, str) and matches_any(text_of(c), patterns, page) for c in el):
            continue
        drop_element(el, "strip_text")
