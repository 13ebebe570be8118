"""The safety net around our cleaning: our body is compared with trafilatura's opinion of the
untouched page, and where cleaning lost most of the article (or headings, or its last
paragraphs) the engine's body or the lost part is taken. Also the text comparisons the pull
uses to tell two copies of one story (`same_story`). Pure: trees and text in, trees out.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from syndicator.extract import engine, page_tree, tidying
from syndicator.extract.metadata import PageMeta
from syndicator.extract.source_rules import ArticleRules
from syndicator.extract.templates import block_texts

# The safety net's second opinion (see `rescue`): trafilatura's own defaults.
SECOND_OPTIONS: dict[str, Any] = {"fast": False}
# The safety net: a body with less than this share of the text of the article block (as
# decided before cleaning) may have lost the article to a cleaning rule; then trafilatura
# runs on the untouched page, and when it finds that much more, its body is published.
SAFETY_SHARE = 0.5
# `_continues`: words of theirs without one of our word triples that end a run of ours.
GAP = 30


def first_words(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def rescue(
    ours: etree._Element | None,
    cleaned: etree._Element,
    shown: etree._Element,
    url: str,
    rules: ArticleRules,
    meta: PageMeta,
    echoes: tuple[str, ...],
    *,
    elsewhere: bool = False,
) -> etree._Element | None:
    """Our body, unless trafilatura finds far more (twice as much text). It is asked twice:

    1. on the untouched page, with our settings: a cleaning rule took the article, or ours
       was another block (a teaser, a profile box). `elsewhere` (ours lost nothing to
       cleaning but is short): theirs is taken when it is another block (it holds less than
       half of our text) or when what it adds is text our cleaning kept (our rules let it
       be, the extraction missed it); what it adds that our rules removed (a sidebar, the
       comments) leaves ours in place;
    2. on the untouched page, with trafilatura's default settings, which on some pages keep
       the whole article where `favor_recall` stops after its first paragraphs (or where
       our cleaning changed what trafilatura picks); taken only when it continues ours
       (`_continues`, not a list of other stories in front of it) and what it adds is text
       our cleaning kept.

    The body taken is tidied like ours."""
    our_text = page_tree.text_of(ours) if ours is not None else ""
    page_text = page_tree.text_of(cleaned)
    # `shown` is the page before cleaning, without its hidden elements. trafilatura works on
    # a copy of the tree it is given: one shown page serves both opinions.
    theirs = engine.trafilatura_body(shown, url)
    if theirs is not None:
        tidying.tidy_body(theirs, rules.strip_text, echoes=echoes, author=meta.author)
        their_text = page_tree.text_of(theirs)
        if len(our_text) < SAFETY_SHARE * len(their_text) and (
            not elsewhere
            or shared(our_text, their_text) < 0.5
            or shared(_added(our_text, their_text), page_text) >= 0.5
        ):
            return theirs
    if len(page_text) * SAFETY_SHARE <= len(our_text):
        return ours  # the cleaned page holds too little text to add as much as ours
    theirs = engine.trafilatura_body(shown, url, SECOND_OPTIONS)
    if theirs is None:
        return ours
    tidying.tidy_body(theirs, rules.strip_text, echoes=echoes, author=meta.author)
    their_text = page_tree.text_of(theirs)
    if (
        len(our_text) < SAFETY_SHARE * len(their_text)
        and _continues(our_text, their_text)
        and shared(_added(our_text, their_text), page_text) >= 0.5
    ):
        return theirs
    return ours


_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_LEAVES = ("p", "li", "blockquote", "pre", "dd", "dt", "td", *_HEADINGS)
# A subheading longer than this is a paragraph set in a heading's type.
HEADING_CHARS = 150


def _key(el: etree._Element) -> str:
    return page_tree.text_of(el).casefold()[:60]


def _leaf(el: etree._Element) -> bool:
    """A block of text with no block inside it: a paragraph, an item, a cell."""
    return not any(isinstance(c.tag, str) and c.tag in _LEAVES for c in el.iterdescendants())


def restore_headings(
    body: etree._Element, page: etree._Element, echoes: tuple[str, ...] = ()
) -> None:
    """Put back, in place, the subheadings of the cleaned `page` that the extraction left out
    of `body`: a heading whose next block of text is a block of the body (not its first)
    goes in front of that block. trafilatura's `favor_recall` drops every subheading of
    some pages (greator.com in its evaluation set); a body that has subheadings of its own
    kept those it wanted, and is left as it is."""
    if next(body.iter(*_HEADINGS), None) is not None:
        return
    ours: dict[str, etree._Element] = {}
    for el in body.iter(*_LEAVES):
        if _leaf(el):
            ours.setdefault(_key(el), el)
    ours.pop("", None)
    first = next(iter(ours.values()), None)
    have = {" ".join(t.split()).casefold() for t in (*block_texts(body), *echoes)}
    pending: tuple[str, str] | None = None  # the tag and text of a heading waiting
    for el in page.iter(*_HEADINGS, *_LEAVES):
        if el.tag in _HEADINGS:
            text = page_tree.text_of(el)
            fits = text and len(text) <= HEADING_CHARS and text.casefold() not in have
            pending = (el.tag, text) if fits else None
            continue
        if pending is None or not _leaf(el):
            continue
        target = ours.get(_key(el))
        if target is not None and target is not first:
            while (parent := target.getparent()) is not None and parent is not body:
                if target.getprevious() is not None:
                    break
                target = parent  # in front of the list, not inside it
            heading = etree.Element(pending[0])
            heading.text = pending[1]
            target.addprevious(heading)
            have.add(pending[1].casefold())
        pending = None


def _added(ours: str, theirs: str) -> str:
    """The words of `theirs` outside the word triples it shares with `ours`."""
    mine = _triples(ours)
    words = theirs.split()
    folded = [w.casefold() for w in words]
    inside = {
        i + k
        for i in range(max(len(words) - 2, 0))
        if tuple(folded[i : i + 3]) in mine
        for k in range(3)
    }
    return " ".join(w for i, w in enumerate(words) if i not in inside)


def _continues(ours: str, theirs: str) -> bool:
    """`theirs` holds `ours` (most of its word triples) and has at least as many words
    after the run of theirs that holds most of ours as before it. Empty `ours` is continued
    by anything."""
    if not ours:
        return True
    mine = _triples(ours)
    words = theirs.casefold().split()
    grams = [tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 0))]
    if len(mine & set(grams)) < 0.5 * len(mine):  # `shared` below 0.5
        return False
    held = [i for i, gram in enumerate(grams) if gram in mine]
    if not held:
        return False
    # Runs of theirs with no gap of GAP words without one of our triples. Ours is where the
    # longest run is: our lead as a teaser on top of a list of other stories, or an
    # introduction that echoes our first words, is not where ours is (on real pages, both).
    runs: list[list[int]] = [[held[0]]]
    for i in held[1:]:
        if i - runs[-1][-1] > GAP:
            runs.append([])
        runs[-1].append(i)
    run = max(runs, key=len)
    return len(words) - (run[-1] + 3) >= run[0]


def same_story(a: str, b: str) -> bool:
    """Whether two texts are copies of one article, edits and growth included: the shorter
    holds most of its word triples in the longer. Unrelated real pages share next to none (of
    the 8,385 pairs of readability's test pages, the only ones over 0.3 are its synthetic
    pages that reuse one text)."""
    short, long = sorted((a, b), key=len)
    return shared(short, long) >= 0.5


def shared(ours: str, theirs: str) -> float:
    """The share of our word triples that theirs holds too."""
    mine = _triples(ours)
    return len(mine & _triples(theirs)) / len(mine) if mine else 1.0


def _triples(text: str) -> set[tuple[str, ...]]:
    words = text.casefold().split()
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 0))}
