"""Boilerplate removal: page DOM in, article-only DOM out.

Owns the rules that decide what is content: the content nodes found first, then what
`boilerplate` marks as not content dropped around them (before extraction, on the whole
page) and what is left of it in the extracted body (after), hidden elements, layout tables,
and the per-source `strip` selectors. Blocks found by what announces them, by a site's
repetition or by `strip_text` patterns are `announced_blocks`'; reading and editing the tree
is `page_tree`'s; the operator's patterns are compiled and timed by `text_rules`. The body is
made readable after in `tidying`; sanitising, link rewriting and the nh3 allow-list every
published body passes are `published_html`'s. Pure: takes trees and strings, returns trees
and strings; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

from syndicator.extract import boilerplate
from syndicator.extract.announced_blocks import drop_announced, drop_blocks, drop_site_blocks
from syndicator.extract.page_tree import (
    BLOCK_TAGS,
    drop_comments,
    drop_element,
    holds_article,
    paragraph_chars,
    section_headed_by,
    select_elements,
    text_of,
)
from syndicator.extract.text_rules import (
    Searcher,
)

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
    return keep, paragraph_chars(top)


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
    total = paragraph_chars(root)
    stack = [(root, False)]
    while stack:
        parent, in_text = stack.pop()
        for child in list(parent):
            if not isinstance(child.tag, str):
                continue
            if (
                child not in keep
                and boilerplate.is_marked(child, in_text)
                and not holds_article(child, total)
                and not _content_paragraph(child, parent, keep)
                and not _weak_box_of_text(child)
            ):
                # A label removed for its class ("Weitere Informationen zum Thema" in a widget
                # of its own over a list of teasers) still heads its section, as one without a
                # class does (`drop_announced`).
                if (
                    boilerplate.heads_section(text_of(child))
                    and (section := section_headed_by(child, keep, total)) is not None
                ):
                    drop_element(section, "labelled-section")
                    break
                drop_element(child, _marked_rule(child))
            else:
                stack.append((child, in_text or child.tag in BLOCK_TAGS))
    if site_blocks:
        drop_site_blocks(root, site_blocks, keep)
    drop_announced(root, total, keep)
    drop_blocks(root, text_patterns)
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


# Text in sentences from which a box marked by weak words only is article text: a
# paragraph or two, more than a toolbar, a dateline, a menu or a table's header row holds.
PROSE_CHARS = 200
# A run of text outside links at least this long is a sentence, not a label or menu entry.
SENTENCE_CHARS = 60


def _weak_box_of_text(el: etree._Element) -> bool:
    """A box marked by weak words only (`boilerplate.weakly_marked`) that holds sentences,
    PROSE_CHARS of them; or one whose class says only how it prints (`print-links`,
    `boilerplate.styled_for_print`) that holds a sentence's worth of text outside links,
    sentences or not (a recipe's ingredients). A print button or link holds a word or two."""
    if not boilerplate.weakly_marked(el):
        return False
    if _prose_chars(el) >= PROSE_CHARS:
        return True
    return boilerplate.styled_for_print(el) and _unlinked_chars(el) >= SENTENCE_CHARS


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
            if run and len(run := " ".join(run.split())) >= SENTENCE_CHARS:
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
