"""Boilerplate removal and HTML sanitising: page DOM in, article-only safe HTML out.

Owns the operations on the tree: dropping what `boilerplate` says is not content (before
extraction, on the whole page) and what is left of it in the extracted body (after), the
per-source `strip` selectors and text patterns (searched with a time limit), link rewriting
and the nh3 allow-list every published body passes. Pure: takes trees and strings, returns
trees and strings; no I/O.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
import nh3
import regex
from lxml import etree

from syndicator.core import identity
from syndicator.core.selectors import compile_pattern, compile_selector
from syndicator.extract import boilerplate
from syndicator.extract.boilerplate import is_host_list

log = logging.getLogger("syndicator.extract")

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
_ANNOUNCERS = (
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
_ANNOUNCER_TAGS = frozenset(_ANNOUNCERS)

ALLOWED_TAGS = {
    "p",
    "br",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "a",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "small",
    "mark",
    "q",
    "cite",
    "code",
    "pre",
    "blockquote",
    "figure",
    "figcaption",
    "img",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "caption",
    "hr",
    "abbr",
    "time",
    "span",
    "div",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "*": {"dir", "lang"},
}


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


# --- operator text patterns ---------------------------------------------------------------
# The patterns a config gives (`strip_text`, `article_links`, `section_rules[].path`) are
# compiled with the `regex` package and searched with a time limit. A pattern such as `(a+)+$`
# takes exponential time on some texts: searched with the standard `re`, one page could hold
# the process (and its signal handlers) for hours. Here a search gives up after
# SEARCH_TIMEOUT seconds and raises RuleTimeout naming the rule; the caller skips that rule
# for that page and says so.

# Seconds one search of one text may take. An ordinary pattern on an article's text takes
# microseconds; this only ever stops a runaway one.
SEARCH_TIMEOUT = 0.25


class RuleTimeout(Exception):
    """An operator pattern gave up on a text: its rule is skipped there."""

    def __init__(self, rule: str, pattern: str) -> None:
        self.rule = rule
        self.pattern = pattern
        super().__init__(
            f"{rule} {pattern!r} took longer than {SEARCH_TIMEOUT:g}s on one text and gave up"
        )


class Searcher(Protocol):
    """Anything with a `search(text)` that returns a match or None (a Rule, an re.Pattern)."""

    def search(self, text: str, /) -> object: ...


@dataclass(frozen=True)
class Rule:
    """One operator pattern and the name of its rule (`strip_text[0]`), searched with a time
    limit."""

    pattern: str
    rule: str
    _compiled: regex.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", compile_pattern(self.pattern))

    def search(self, text: str, /) -> regex.Match[str] | None:
        """The first match in `text`, or None; RuleTimeout when the search runs too long."""
        try:
            return self._compiled.search(text, timeout=SEARCH_TIMEOUT)
        except TimeoutError:
            raise RuleTimeout(self.rule, self.pattern) from None


@lru_cache(maxsize=1024)
def rule(pattern: str, name: str) -> Rule:
    """The Rule for `pattern` (compiled once per pattern and name)."""
    return Rule(pattern, name)


# Told the name of every rule that removes something, for `syndicate extract` to show. A
# context variable, so that one extraction's trace never sees another's.
RuleTrace = Callable[[str], None]
_trace: contextvars.ContextVar[RuleTrace | None] = contextvars.ContextVar("trace", default=None)


@contextlib.contextmanager
def tracing(trace: RuleTrace | None) -> Iterator[None]:
    """While inside, every rule that removes an element is reported to `trace`."""
    token = _trace.set(trace)
    try:
        yield
    finally:
        _trace.reset(token)


class _PageRules:
    """The operator rules that gave up on the page being cleaned: each is skipped for the
    rest of it (a second block would only take as long again), and reported once."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.gave_up: set[str] = set()

    def skip(self, pattern: Searcher) -> bool:
        return getattr(pattern, "rule", None) in self.gave_up

    def gave_up_on(self, exc: RuleTimeout) -> None:
        self.gave_up.add(exc.rule)
        where = self.url or "this text"
        log.warning(
            "%s: not applied to %s",
            exc,
            where,
            extra={"rule": exc.rule, "pattern": exc.pattern, "url": self.url},
        )


_page: contextvars.ContextVar[_PageRules | None] = contextvars.ContextVar("page", default=None)


@contextlib.contextmanager
def on_page(url: str) -> Iterator[None]:
    """While inside, the text patterns of a source are applied to the page at `url`: one that
    gives up (too slow) is reported once, naming the page, and skipped for the rest of it."""
    token = _page.set(_PageRules(url))
    try:
        yield
    finally:
        _page.reset(token)


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
    trace = _trace.get()
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


def _link_share(el: etree._Element) -> float:
    total = len(text_of(el))
    if not total:
        return 0.0
    linked = sum(len(text_of(a)) for a in el.iter("a"))
    return linked / total


def _matches(text: str, patterns: Sequence[Searcher], page: _PageRules) -> bool:
    for pattern in patterns:
        if page.skip(pattern):
            continue
        try:
            if pattern.search(text):
                return True
        except RuleTimeout as exc:
            page.gave_up_on(exc)
    return False


# Tags that never hold article text, whatever they contain: dropped before the content is
# decided, so that script text never counts as paragraphs.
INERT_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "canvas", "object", "embed", "iframe"}
)
# Paragraph-like elements whose text decides where the article is.
_SCORED = ("p", "pre", "td", "blockquote", "div", "section", "article", "dd", "li")
# A paragraph shorter than this (characters outside links) is a caption or a menu item.
_MIN_PARAGRAPH = 25


def _own_text(el: etree._Element) -> int:
    """Characters of text directly in `el` (its text and its inline children's), not in
    links and not in nested blocks."""
    n = len((el.text or "").strip())
    for child in el:
        if isinstance(child.tag, str) and child.tag in boilerplate.INLINE_TAGS and child.tag != "a":
            n += len("".join(child.itertext()).strip())
        n += len((child.tail or "").strip())
    return n


def content_nodes(root: etree._Element) -> tuple[set[etree._Element], int]:
    """The elements that hold the article, decided before any boilerplate rule runs: the
    blocks richest in paragraph text (readability's scoring: a paragraph credits its parent
    in full and its grandparent by half) and all their ancestors. No cleaning rule may
    remove one of them, whatever its tag, class or id says; the rules clean around and
    inside them. Also returns the characters of text (outside links) of the best block: what
    a body that lost nothing to cleaning should come near."""
    scores: dict[etree._Element, float] = {}
    direct: dict[etree._Element, float] = {}
    for el in root.iter(*_SCORED):
        n = _own_text(el) if el.tag in ("div", "section", "article", "li") else None
        if n is None:
            n = len(text_of(el)) - sum(len(text_of(a)) for a in el.iter("a"))
        if n < _MIN_PARAGRAPH:
            continue
        weight = float(n)
        if el.tag in ("div", "section", "article"):
            scores[el] = scores.get(el, 0.0) + weight
            weight /= 2
        parent = el.getparent()
        if parent is not None:
            scores[parent] = scores.get(parent, 0.0) + weight
            direct[parent] = direct.get(parent, 0.0) + weight
            grand = parent.getparent()
            if grand is not None:
                scores[grand] = scores.get(grand, 0.0) + weight / 2
    if not scores:
        return set(), 0
    top = max(scores, key=scores.__getitem__)
    best = scores[top]
    keep: set[etree._Element] = set()
    parent = top.getparent()
    for el in scores:
        # The article split into several blocks (segments between ads) keeps every segment:
        # the blocks beside the best one that hold paragraphs of their own, or nearly as
        # much text as it (a row of teaser cards holds a little text in many boxes).
        if el is not top and (
            el.getparent() is not parent
            or (direct.get(el, 0.0) < best * 0.3 and scores[el] < best * 0.6)
        ):
            continue
        node: etree._Element | None = el
        while node is not None and node not in keep:
            keep.add(node)
            node = node.getparent()
    return keep, _paragraph_chars(top)


def strip_boilerplate(
    root: etree._Element,
    extra_selectors: Iterable[str] = (),
    text_patterns: Sequence[Searcher] = (),
    *,
    site_blocks: frozenset[str] = frozenset(),
) -> int:
    """Remove non-article blocks from a parsed page, in place, before extraction; return
    the characters of text of the article block as it was before cleaning.

    The content is decided first (`content_nodes`): a form, header or wrapper class that
    holds the article is kept, what it holds besides the article is cleaned. `site_blocks`
    are the normalised texts of blocks this site repeats on every page (`templates`)."""
    for el in list(root.iter(*INERT_TAGS)):
        drop_element(el, f"tag:{el.tag}")
    drop_comments(root)
    keep, expected = content_nodes(root)
    ticks = _checkbox_ids(root)
    for el in list(root.iter(*boilerplate.DROP_TAGS)):
        if el in keep:
            continue
        if el.tag == "label" and _checklist_item(el, ticks):
            el.tag = "span"  # its words are an item of the list, the box goes
            continue
        drop_element(el, f"tag:{el.tag}")
    for selector in extra_selectors:
        for el in select_elements(root, selector):
            drop_element(el, f"strip:{selector}")
    # Paragraph text of the whole page: a block holding most of it is the article, whatever
    # its class says, so a misleading class never takes the article with it.
    total = _paragraph_chars(root)
    stack = [(root, False)]
    while stack:
        parent, in_text = stack.pop()
        for child in list(parent):
            if not isinstance(child.tag, str):
                continue
            if (
                child not in keep
                and boilerplate.is_marked(child, in_text)
                and not _holds_article(child, total)
                and not _content_paragraph(child, parent, keep)
                and not _weak_box_of_text(child)
            ):
                # A label removed for its class ("Weitere Informationen zum Thema" in a widget
                # of its own over a list of teasers) still heads its section, as one without a
                # class does (`_drop_announced`).
                if (
                    boilerplate.heads_section(text_of(child))
                    and (section := _section_headed_by(child, keep, total)) is not None
                ):
                    drop_element(section, "labelled-section")
                    break
                drop_element(child, _marked_rule(child))
            else:
                stack.append((child, in_text or child.tag in BLOCK_TAGS))
    if site_blocks:
        drop_site_blocks(root, site_blocks, keep)
    _drop_announced(root, total, keep)
    _drop_blocks(root, text_patterns)
    unwrap_layout_tables(root)
    unquote_tables(root)
    return expected


_CHECKBOXES = etree.XPath("//input[translate(@type, 'CHEKBOX', 'chekbox') = 'checkbox']")


def _checkbox_ids(root: etree._Element) -> frozenset[str]:
    """The ids of the page's checkboxes (a label names its box with `for`)."""
    return frozenset(i for box in _CHECKBOXES(root) if (i := box.get("id")))


def _checklist_item(label: etree._Element, ticks: frozenset[str]) -> bool:
    """A label of a checkbox that stands in a list item or paragraph outside any form and
    holds words: an item of a list the reader ticks off (a recipe's ingredients), not a
    form's field. (A label of a box drawn in text, "▢", holds no words.)"""
    if not any(c.isalnum() for c in text_of(label)):
        return False
    if label.get("for") not in ticks and not any(
        (box.get("type") or "").lower() == "checkbox" for box in label.iter("input")
    ):
        return False
    return any(a.tag in ("li", "p") for a in label.iterancestors()) and not any(
        a.tag == "form" for a in label.iterancestors()
    )


def _section_headed_by(
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
        or not _first_child(block)
        or _holds_article(parent, total)
    ):
        return None
    return parent


# Text in sentences from which a box marked by weak words only is article text: a
# paragraph or two, more than a toolbar, a dateline, a menu or a table's header row holds.
PROSE_CHARS = 200
# A run of text outside links at least this long is a sentence, not a label or menu entry.
_SENTENCE_CHARS = 60


def _weak_box_of_text(el: etree._Element) -> bool:
    """A box marked by weak words only (`boilerplate.weakly_marked`) that holds sentences,
    PROSE_CHARS of them; or one whose class says only how it prints (`print-links`,
    `boilerplate.styled_for_print`) that holds a sentence's worth of text outside links,
    sentences or not (a recipe's ingredients). A print button or link holds a word or two."""
    if not boilerplate.weakly_marked(el):
        return False
    if _prose_chars(el) >= PROSE_CHARS:
        return True
    return boilerplate.styled_for_print(el) and _unlinked_chars(el) >= _SENTENCE_CHARS


def _unlinked_chars(el: etree._Element) -> int:
    """Characters of the text of `el` outside links, each run of white space one."""
    return len(text_of(el)) - sum(len(text_of(a)) for a in el.iter("a"))


def _prose_chars(el: etree._Element) -> int:
    """Characters of the runs of text (outside links) long enough to be sentences."""
    total = 0
    stack = [el]
    while stack:
        node = stack.pop()
        for run in (node.text, *(child.tail for child in node)):
            if run and len(run := " ".join(run.split())) >= _SENTENCE_CHARS:
                total += len(run)
        stack.extend(c for c in node if isinstance(c.tag, str) and c.tag != "a")
    return total


_PARAGRAPH_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})


def _content_paragraph(
    el: etree._Element, parent: etree._Element, keep: set[etree._Element]
) -> bool:
    """A paragraph or subheading standing directly in the article block is the article's
    when only its id names boilerplate (`id="nav_..."` anchors of a table of contents); a
    class such as `kicker` or `byline` still removes it."""
    return (
        el.tag in _PARAGRAPH_TAGS
        and parent in keep
        and parent.tag not in ("html", "body")
        and boilerplate.marked_by_id_only(el)
    )


def _marked_rule(el: etree._Element) -> str:
    """The trace name of a block removed for its class, id or role: `class:share` etc."""
    for attr in ("class", "id", "role"):
        value = (el.get(attr) or "").split()
        if value:
            return f"{attr}:{value[0]}"
    return f"tag:{el.tag}"


_LAYOUT_MARKS = ("div", "p", "table", "h1", "h2", "h3", "ul", "ol", "form", "img", "br")


def unwrap_layout_tables(root: etree._Element) -> None:
    """Turn tables used for page layout into plain blocks, so that extraction sees the
    article cell as text, not as a data table. A table is layout when a cell holds blocks,
    images or line breaks, or a long run of text; a data table holds short cells only."""
    for table in reversed(list(root.iter("table"))):
        if _data_grid(table):
            continue
        cells = list(table.iter("td", "th"))
        layout = any(
            any(d.tag in _LAYOUT_MARKS for d in cell.iterdescendants() if isinstance(d.tag, str))
            or len(text_of(cell)) > 300
            for cell in cells
        )
        if not layout:
            continue
        for el in [table, *table.iter("thead", "tbody", "tfoot", "tr", "td", "th", "caption")]:
            el.tag = "div"
            for attr in list(el.attrib):
                if attr not in ("class", "id"):
                    del el.attrib[attr]


def unquote_tables(root: etree._Element) -> None:
    """A blockquote that holds a table indents it (LWN sets its tables of figures so): it
    becomes a plain block. trafilatura reads a quote as one run of text, and the table's
    cells ran together ("Herbert Dürr6316.6%") where readers expect a table."""
    for quote in list(root.iter("blockquote")):
        if next(quote.iter("table"), None) is not None:
            quote.tag = "div"


def _data_grid(table: etree._Element) -> bool:
    """A table of data whatever its cells hold: at least three rows of the same two or more
    cells, with a header cell (a list article's titles, years and long descriptions) or with
    short cells only (figures pasted from a word processor, each cell wrapped in a div).
    Layout tables hold a page in one or two big cells and name no column."""
    rows = [row for row in table.iter("tr") if _own_table(row, table)]
    if len(rows) < 3:
        return False
    widths = {sum(1 for c in row if c.tag in ("td", "th")) for row in rows}
    if len(widths) != 1 or min(widths) < 2:
        return False
    return next(table.iter("th"), None) is not None or all(
        len(text_of(cell)) <= _SHORT_CELL for cell in table.iter("td")
    )


_SHORT_CELL = 200


def _own_table(row: etree._Element, table: etree._Element) -> bool:
    parent = row.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent is table


# Hidden elements holding at least this share of a page's text are an article a script
# reveals on load (a wrapper shown once its fonts or consent banner are ready): they stay.
HIDDEN_SHARE = 0.8
_MAY_HIDE = etree.XPath(".//*[@hidden or @style]")


def drop_hidden(root: etree._Element) -> None:
    """Remove, in place, what the page does not show its readers (`boilerplate.is_invisible`):
    a second copy kept for scripts, a collapsed teaser, a hidden sign-up form. Both our
    reading and the safety net's start from the page without them. A hidden slide or tab
    (a sibling of the same class is shown) is a page of the article the reader steps
    through: it stays."""
    shown: dict[etree._Element, set[tuple[str, str]]] = {}
    hidden = [
        el for el in _MAY_HIDE(root) if boilerplate.is_invisible(el) and not _slide(el, shown)
    ]
    if not hidden:
        return
    inside = set(hidden)
    outermost = [el for el in hidden if not any(a in inside for a in el.iterancestors())]
    hidden_chars = sum(map(_readable_chars, outermost))
    # Most hidden elements hold no text (inputs, icons, empty dialogs): then the page's own
    # text need not be measured.
    if hidden_chars and hidden_chars >= HIDDEN_SHARE * _readable_chars(root):
        return
    for el in outermost:
        drop_element(el, "hidden")


_UNREAD = frozenset({"script", "style", "noscript", "template"})


def _readable_chars(el: etree._Element) -> int:
    """Characters of text a reader could see under `el`: not scripts' or styles' (a page's
    inline scripts can outweigh its article). All text less that of the outermost unread
    elements: a third of the time of an XPath that tests every text node's ancestors."""
    if el.tag in _UNREAD or any(a.tag in _UNREAD for a in el.iterancestors()):
        return 0
    total = _stripped_chars(el)
    for unread in el.iter(*_UNREAD):
        parent = unread.getparent()
        while parent is not None and parent is not el and parent.tag not in _UNREAD:
            parent = parent.getparent()
        if parent is None or parent is el:
            total -= _stripped_chars(unread)
    return total


def _stripped_chars(el: etree._Element) -> int:
    """Characters of the text nodes under `el` (not its tail), each without its outer
    whitespace."""
    return sum(len(t.strip()) for t in el.itertext())


def _kind(el: etree._Element) -> tuple[str, str] | None:
    """The tag and first class word of an element with a class."""
    words = (el.get("class") or "").split()
    return (el.tag, words[0]) if words and isinstance(el.tag, str) else None


def _slide(el: etree._Element, shown: dict[etree._Element, set[tuple[str, str]]]) -> bool:
    """A shown sibling has the same tag and first class word: one of a set of slides or tabs.
    `shown` keeps each parent's shown kinds, so that a page of thousands of hidden siblings
    is read once, not once a sibling."""
    kind = _kind(el)
    parent = el.getparent()
    if kind is None or parent is None:
        return False
    kinds = shown.get(parent)
    if kinds is None:
        kinds = shown[parent] = {
            k for c in parent if (k := _kind(c)) is not None and not boilerplate.is_invisible(c)
        }
    return kind in kinds


def _paragraph_chars(el: etree._Element) -> int:
    """Characters of text outside links: what paragraphs, not menus, are made of."""
    total = len("".join(el.itertext()))
    return total - sum(len("".join(a.itertext())) for a in el.iter("a"))


def _holds_article(el: etree._Element, total: int) -> bool:
    return total > 0 and _paragraph_chars(el) > total / 2 and el.tag not in ("ol", "ul")


def _block_of(el: etree._Element) -> etree._Element:
    """The outermost ancestor that has no other text than this element."""
    text = text_of(el)
    while (parent := el.getparent()) is not None and parent.tag not in boilerplate.CONTENT_TAGS:
        if text_of(parent) != text:
            break
        el = parent
    return el


def _first_child(el: etree._Element) -> bool:
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


def _drop_followers(el: etree._Element, label: bool) -> None:
    """Drop host lists (and, after a label, link lists) that follow an announcement."""
    sibling = el.getnext()
    while sibling is not None:
        text = text_of(sibling)
        follows = is_host_list(text) or not text
        if label and not follows:
            follows = sibling.tag in ("ul", "ol") or _link_share(sibling) >= 0.6
        if not follows:
            break
        nxt = sibling.getnext()
        drop_element(sibling, "host-list")
        sibling = nxt


_INLINE_ANNOUNCERS = frozenset({"span", "strong", "b", "font", "small", "time"})
_SENTENCE_GOES_ON = regex.compile(r"[\p{L},;]\s*$")


def _mid_sentence(el: etree._Element) -> bool:
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


def _drop_announced(
    root: etree._Element, total: int, keep: set[etree._Element] | None = None
) -> None:
    """Remove blocks that announce boilerplate, with what they announce."""
    top = root.getroottree().getroot()
    lengths = _text_lengths(root)
    # A third of the blocks wrap another with the same text (div > p > span): what the text
    # alone decides (a date, a pointer, an announcement) is judged once per text.
    verdicts: dict[str, tuple[bool, bool, bool]] = {}
    for el in list(root.iter(*_ANNOUNCERS)):
        if not 0 < lengths.get(el, 0) <= boilerplate.MAX_BLOCK:
            continue  # empty, or a container of blocks
        if el.getparent() is None or el.getroottree().getroot() is not top:
            continue  # already gone with an announced block
        text = text_of(el)
        if (verdict := verdicts.get(text)) is None:
            verdict = verdicts[text] = (
                boilerplate.is_date_only(text),
                boilerplate.is_lead(text),
                boilerplate.is_announcement(text),
            )
        date_only, lead, announcement = verdict
        if (
            date_only
            and el.tag in ("p", "div", "span", "font", "small", "time")
            and not _in_listing(el)
        ):
            drop_element(el, "dateline")
            continue
        if lead and _link_share(el) >= 0.4:
            drop_element(_block_of(el), "pointer")
            continue
        if not announcement or _mid_sentence(el):
            continue
        # Only the smallest element carrying the announcement: skip containers of it (a
        # row of labels such as "Print | Email" is one announcement, not a container), when
        # that element is one this loop reaches (not the link of `<p><a>Read more</a></p>`).
        if any(
            child.tag in _ANNOUNCER_TAGS
            and (
                boilerplate.is_sentence(child_text := text_of(child))
                or (child_text == text and boilerplate.is_label(child_text))
            )
            for child in el
        ):
            continue
        label = boilerplate.is_label(text)
        block = _block_of(el)
        parent = block.getparent()
        if label and (section := _section_headed_by(block, keep, total)) is not None:
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
        if text and boilerplate.normal_block(text) in blocks:
            drop_element(el, "site-template")


# Elements whose text is compared with the blocks a site repeats on its pages.
TEMPLATE_TAGS = (*BLOCK_TAGS, "div", "section", "ul", "ol", "header", "aside", "nav", "footer")


def _text_lengths(root: etree._Element) -> dict[etree._Element, int]:
    """Characters of text under every element, in one pass from the leaves up."""
    lengths: dict[etree._Element, int] = {}
    for _, el in etree.iterwalk(root, events=("end",)):
        lengths[el] = len(el.text or "") + sum(
            lengths.get(child, 0) + len(child.tail or "") for child in el
        )
    return lengths


def _drop_blocks(root: etree._Element, patterns: Sequence[Searcher]) -> None:
    if not patterns:
        return
    page = _page.get() or _PageRules(None)
    for el in list(root.iter(*BLOCK_TAGS, "div", "section", "span")):
        if el.getparent() is None or not _matches(text_of(el), patterns, page):
            continue
        if any(isinstance(c.tag, str) and _matches(text_of(c), patterns, page) for c in el):
            continue
        drop_element(el, "strip_text")


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
            if el.tag not in BLOCK_TAGS and _mid_sentence(el):
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
        if not boilerplate.is_more_link(words) or len(text_of(el)) - len(words) < _SENTENCE_CHARS:
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
    _drop_announced(container, _paragraph_chars(container))
    _drop_blocks(container, text_patterns)
    _drop_echoes(container, echoes, author)
    _drop_teasers(container)
    # A reading time ("8 min read") is page furniture; only the body's are dropped, as
    # dropping the page's can change the block trafilatura picks.
    if boilerplate.may_hold_reading_time("".join(container.itertext())):
        for el in list(container.iter("p", "div", "span", "small", "time")):
            if el.getparent() is not None and boilerplate.is_reading_time(text_of(el)):
                drop_element(el, "reading-time")
    # The body is published without its pictures: a line that credits one credits nothing.
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


# Characters XML forbids: removed before sanitising, not after, so that removing them cannot
# join what the sanitiser saw apart (`jav\x01ascript:` passes as a relative URL, and would be
# `javascript:` once the control character went).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _quoted_source(element: str, attribute: str, value: str) -> str | None:
    """nh3 checks the scheme of links and pictures only: a quotation's `cite` keeps http(s)
    URLs, and nothing else (`javascript:` would reach a reader that makes it a link)."""
    if attribute == "cite":
        return value if value.strip().lower().startswith(("http://", "https://")) else None
    return value


def sanitize(html: str) -> str:
    """Allow-list sanitising: no script, style, iframe, event handlers or javascript: URLs."""
    return nh3.clean(
        _XML_ILLEGAL.sub("", html),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_quoted_source,
    )


def site_path(url: str, prefixes: Mapping[str, str]) -> str:
    """The path of `url` as the site has it: the path prefix of the mirror it is on (`/en`
    for a mirror serving `/Detail/...` at `/en/Detail/...`) removed."""
    prefix = prefixes.get(identity.origin(url), "")
    path = urlsplit(url).path or "/"
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path


def rewrite_url(
    url: str,
    base: str,
    site_origins: set[str],
    target_origin: str,
    prefixes: Mapping[str, str] | None = None,
    *,
    keep_fragment: bool = False,
    target_prefix: str = "",
) -> str:
    """Absolute URL; one that points at any origin of the site is moved to `target_origin`
    (and out of its mirror's path prefix, see `site_path`, into `target_prefix`, the one
    the target serves the site's paths under), without its fragment unless `keep_fragment`
    (a link in a body to a place in a page keeps it)."""
    absolute = urljoin(base, url.strip())
    parts = urlsplit(absolute)
    if identity.origin(absolute) in site_origins or absolute.startswith("file:"):
        target = urlsplit(target_origin)
        path = site_path(absolute, prefixes or {})
        if target_prefix:
            path = target_prefix + path
        fragment = parts.fragment if keep_fragment else ""
        return urlunsplit((target.scheme, target.netloc, path, parts.query, fragment))
    return absolute


def rewrite_links(
    root: etree._Element,
    base: str,
    site_origins: set[str],
    target_origin: str,
    prefixes: Mapping[str, str] | None = None,
    target_prefix: str = "",
) -> None:
    """Make href/src absolute and point links to the site at `target_origin` (under its
    `target_prefix`), in place."""
    for el in root.iter("a", "img"):
        attr = "href" if el.tag == "a" else "src"
        value = el.get(attr)
        if value and not value.startswith(("#", "mailto:", "data:")):
            try:
                el.set(
                    attr,
                    rewrite_url(
                        value,
                        base,
                        site_origins,
                        target_origin,
                        prefixes,
                        keep_fragment=True,
                        target_prefix=target_prefix,
                    ),
                )
            except ValueError:
                del el.attrib[attr]  # not a URL ("http://[::1"): the words stay, unlinked
        if el.tag == "img" and el.get("alt") is None:
            el.set("alt", "")


def fragment_html(root: etree._Element) -> str:
    """Serialise the children of a container element as an HTML fragment."""
    parts = [root.text or ""] if root.text and root.text.strip() else []
    for child in root:
        parts.append(lxml.html.tostring(child, encoding="unicode"))
    return "".join(parts)
