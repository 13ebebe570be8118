"""A page's tree, read and changed element by element: the HTML parsers every stage of the
extraction uses, an element's text as a reader sees it, dropping an element without running
the words around it together (and tracing the rule that dropped it), and the measures the
cleaning rules share (the text outside links, the block an element is, whether an element
holds most of the article), a meta tag's content and where the article is written.

The rules that decide what to drop are `clean`'s and `announced_blocks`'; this module only
reads and edits trees. Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import lxml.html
from lxml import etree

from syndicator.core.selectors import compile_selector
from syndicator.extract import boilerplate
from syndicator.extract.text_rules import (
    current_trace,
)

# lxml.html's parser finds each element's Python class with a Python callback (form
# elements get classes of their own); every element the extraction touches went through it,
# 2% of an ingest. All elements are HtmlElement here, looked up in C.
_CLASSES = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)
HTML_PARSER = lxml.html.HTMLParser()
HTML_PARSER.set_element_class_lookup(_CLASSES)
# For a page nested past the 256 levels HTML_PARSER reads (2,048; see decoding.parse_page).
DEEP_HTML_PARSER = lxml.html.HTMLParser(huge_tree=True)
DEEP_HTML_PARSER.set_element_class_lookup(_CLASSES)

# Elements whose text is one block of an article.
BLOCK_TAGS = frozenset(
    {"p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th", "dd", "dt"}
)
ANNOUNCERS = (
    "p",
    "div",
    "section",
    "span",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "strong",
    "b",
    "font",
    "small",
    "time",
)
ANNOUNCER_TAGS = frozenset(ANNOUNCERS)


def text_of(el: etree._Element) -> str:
    return " ".join("".join(el.itertext()).split())


def line_text(el: etree._Element) -> str:
    """`text_of` a headline or a link, each line break read as the space a reader sees:
    "Breaking:<br>Port closed" was the title "Breaking:Port closed"."""
    if next(el.iter("br"), None) is None:
        return text_of(el)
    spaced = copy.deepcopy(el)  # a headline or a link: a few elements
    for br in spaced.iter("br"):
        br.tail = " " + (br.tail or "")
    return text_of(spaced)


def select_elements(root: etree._Element, selector: str) -> list[etree._Element]:
    return [el for el in compile_selector(selector)(root) if isinstance(el, etree._Element)]


# How many nodes `_word_before` looks back through before it says no.
_LOOK_BACK = 8


def _word_before(el: etree._Element) -> bool:
    """A word ends right before `el`: the text just before it, inside the same run of inline
    markup (`word</em><!-- -->`), ends in a letter, digit or mark, not a space or a block."""
    container, node = el.getparent(), el.getprevious()
    for _ in range(_LOOK_BACK):
        if container is None:
            return False
        if node is None:
            # At the start of `container`: its text, else what stands before it when it is
            # inline markup.
            if container.text:
                return bool(container.text[-1:].strip())
            if container.tag not in boilerplate.INLINE_TAGS:
                return False
            container, node = container.getparent(), container.getprevious()
            continue
        if node.tail:
            return bool(node.tail[-1:].strip())
        if isinstance(node.tag, str):
            if node.tag not in boilerplate.INLINE_TAGS:
                return False  # a block, a line break or an image parts what comes after it
            if len(node):
                container, node = node, node[-1]
                continue
            if node.text:
                return bool(node.text[-1:].strip())
        node = node.getprevious()  # a comment, or empty inline markup: look past it
    return False


def drop_comments(root: etree._Element) -> None:
    """Remove the comments and processing instructions, keeping the text after each as
    `drop_element` does (a space only where a word stands right before one), in one pass of
    lxml's: dropped one by one, each moved its text onto a growing neighbour, and 50,000
    comments in one paragraph took seconds."""
    parents = set()
    for el in root.iter(etree.Comment, etree.ProcessingInstruction):
        if (parent := el.getparent()) is not None:
            parents.add(parent)
            if el.tail and not el.tail.strip():
                el.tail = " " if _word_before(el) else None
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    join_texts(parents)


def join_texts(elements: Iterable[etree._Element]) -> None:
    """After lxml strips elements, libxml2 leaves the texts that met as separate nodes, which
    every later read of a text joins again (trafilatura took 5 s on a paragraph of 30,000):
    one node each, in these elements and after their children."""
    for el in elements:
        if el.text:
            el.text = el.text
        for child in el:
            if child.tail:
                child.tail = child.tail


def drop_element(el: etree._Element, rule: str | None = None) -> None:
    parent = el.getparent()
    if parent is None:
        return
    trace = current_trace.get()
    if trace is not None and rule is not None:
        trace(rule)
    # Keep the text that follows the element (lxml stores it on the element as .tail), and
    # the space it stood for when it held nothing but one ("die<span>&nbsp;</span>Vorgaben"):
    # a space dropped runs two words together. Whitespace alone after an element is layout;
    # after a comment, which the page does not show, it is the word space the reader sees
    # when a word comes before it ("Por<!-- --> <span>Steven").
    prev = el.getprevious()
    tail = el.tail if el.tail and el.tail.strip() else ""
    if isinstance(el.tag, str):
        if el.text and not len(el) and not el.text.strip():
            tail = " " + tail
    elif el.tail and not tail and _word_before(el):
        tail = " "
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def link_share(el: etree._Element) -> float:
    total = len(text_of(el))
    if not total:
        return 0.0
    linked = sum(len(text_of(a)) for a in el.iter("a"))
    return linked / total


def paragraph_chars(el: etree._Element) -> int:
    """Characters of text outside links: what paragraphs, not menus, are made of."""
    total = len("".join(el.itertext()))
    return total - sum(len("".join(a.itertext())) for a in el.iter("a"))


def holds_article(el: etree._Element, total: int) -> bool:
    return total > 0 and paragraph_chars(el) > total / 2 and el.tag not in ("ol", "ul")


def block_of(el: etree._Element) -> etree._Element:
    """The outermost ancestor that has no other text than this element."""
    text = text_of(el)
    while (parent := el.getparent()) is not None and parent.tag not in boilerplate.CONTENT_TAGS:
        if text_of(parent) != text:
            break
        el = parent
    return el


def first_child(el: etree._Element) -> bool:
    """Nothing with text comes before `el` in its parent."""
    parent = el.getparent()
    if parent is None or (parent.text or "").strip():
        return False
    for child in parent:
        if child is el:
            return True
        if text_of(child) or (child.tail or "").strip():
            return False
    return False


def section_headed_by(
    block: etree._Element, keep: set[etree._Element] | None, total: int
) -> etree._Element | None:
    """The section a label `block` heads, as the first text in it: its parent, unless that
    is a content block, the page's root, the article's or holds most of the page's text."""
    parent = block.getparent()
    if (
        parent is None
        or parent.getparent() is None
        or parent.tag in boilerplate.CONTENT_TAGS
        or (keep is not None and parent in keep)
        or not first_child(block)
        or holds_article(parent, total)
    ):
        return None
    return parent


def meta(root: etree._Element, *names: str) -> str | None:
    """The content of the first meta tag named (property, name or itemprop) one of `names`."""
    held = _PAGE_TAGS.get()
    found = held[1] if held is not None and held[0] is root else meta_tags(root)
    return next((found[n] for n in names if n in found), None)


def meta_tags(root: etree._Element) -> dict[str, str]:
    """The content of each named meta tag under `root` (by property, name or itemprop,
    lowercased; the first tag of a name), whitespace collapsed, empty ones left out."""
    found: dict[str, str] = {}
    for el in root.iter("meta"):
        content = " ".join((el.get("content") or "").split())
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = (el.get(attr) or "").lower()
            if key:
                found.setdefault(key, content)
    return found


# Reading a page's metadata asks `meta` for a dozen names of one unchanged page; each call
# walked every meta tag of the page again (1.2 ms a page on the real-page sets). Within
# `meta_read_once` the page's tags are read once.
_PAGE_TAGS: ContextVar[tuple[etree._Element, dict[str, str]] | None] = ContextVar(
    "page_meta_tags", default=None
)


@contextmanager
def meta_read_once(root: etree._Element) -> Iterator[None]:
    """Within this block `meta(root, ...)` reads the meta tags `root` held on entry: the
    tree must not change meanwhile."""
    token = _PAGE_TAGS.set((root, meta_tags(root)))
    try:
        yield
    finally:
        _PAGE_TAGS.reset(token)


def article_scope(root: etree._Element) -> etree._Element:
    """Where a page's article is written: its `article` element, else its `main`, else the
    whole page."""
    for tag in ("article", "main"):
        scope = next(iter(root.iter(tag)), None)
        if scope is not None:
            return scope
    return root
