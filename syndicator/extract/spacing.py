"""Word spaces and lines that the extraction engine broke, put back from the page.

trafilatura trims the text before and after every element it keeps ("the blog at <a>work</a>
so I" becomes "the blog at work</a>so I"; trafilatura issue 661), so a feed would publish
"workso" and "fromthe"; and where a line of text stands in a `div` of its own, it makes one
paragraph of the text before a link and another of the link and the rest of the line. No
library repairs either after the fact: the body alone cannot tell "work" + "so" (two words)
from "link" + "s" (one word split by a tag), nor a broken line from two lines. The page the
body was taken from can. `repair` looks at each place in the body where a word ends and the
next begins in another text node with nothing between them, or in the next paragraph, and
compares it with the places on the page where the same two words meet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from unicodedata import east_asian_width

from lxml import etree

# Elements that part the text before them from the text after them, as a space does: blocks
# and line breaks. Any other element (inline markup, ruby, a tag of the site's own) may stand
# inside a word, most of all in scripts written without spaces.
BREAKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)

# The first and last word of a text node (letters and digits of any script); the last is
# looked for in the text's last _LONGEST characters, as a search from the start of a long
# text would try every character of it.
_FIRST = re.compile(r"\w+")
_LAST = re.compile(r"\w+$")
_LONGEST = 64


def _last_word(text: str) -> str | None:
    """The word `text` ends with (trailing whitespace stripped first by the caller), if any."""
    found = _LAST.search(text, max(0, len(text) - _LONGEST))
    return found.group() if found else None


# Serialised markup where a word runs into a tag that is not a break, and the tag into a
# word: the only places `_restore_spaces` can change, found before any tree is walked.
_BREAK = "|".join(sorted(BREAKS, key=len, reverse=True))
GLUED = re.compile(rf"\w(?:</?(?!(?:{_BREAK})[\s/>])[^\W\d_][\w:-]*(?:\s[^>]*)?>)+\w")

# Hangul is written wide but with spaces between words.
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7AF))


def _unspaced(char: str) -> bool:
    """A character of a script written without spaces between words (Chinese, Japanese): wide
    or fullwidth, and not Hangul."""
    code = ord(char)
    return east_asian_width(char) in ("W", "F") and not any(a <= code <= b for a, b in _HANGUL)


def parts_with_space(before: str, after: str) -> bool:
    """Whether a line break or a space between the text `before` and the text `after` reads
    as a space: not between two characters of scripts written without spaces, which CSS
    (Text Level 3, segment breaks) and readers join directly."""
    left, right = before.rstrip()[-1:], after.lstrip()[:1]
    return not (left and right and _unspaced(left) and _unspaced(right))


# Where two words meet: the last word of the text before, the first word of the text after.
Junction = tuple[str, str]


def _pieces(root: etree._Element) -> Iterator[tuple[str, bool, etree._Element, bool]]:
    """The text of `root` in reading order, as (text, broken, element, is_tail): `broken`
    when an element of BREAKS (a block, a line break) opens or closes just before
    the text, so that it does not run on from the text before it. `element` and `is_tail`
    name where the text is held: `element.text` or `element.tail`."""
    broken = True
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag
        if event == "start":
            if not isinstance(tag, str):
                continue  # a comment or processing instruction: its tail comes at its end
            broken = broken or tag in BREAKS
            if el.text:
                yield el.text, broken, el, False
                broken = False
        else:
            if tag in BREAKS:
                broken = True
            if el is not root and el.tail:
                yield el.tail, broken, el, True
                broken = False


# How two words meet on a page: run together, parted by whitespace on one line of text, or
# parted by a break (a block boundary, a line break).
JOINED, SPACED, PARTED = 0, 1, 2


def _junctions(root: etree._Element) -> Iterator[tuple[Junction, int, etree._Element, bool]]:
    """Every place in `root` where a word ends one text node and another word starts the
    next, with nothing between them but whitespace, a break or nothing: (the two words, how
    they meet, where the text after is held)."""
    last: str | None = None  # the word the text so far ends with, if it ends with one
    how = JOINED
    for text, broken, el, is_tail in _pieces(root):
        if broken:
            how = PARTED
        head = text.lstrip()
        if head and last is not None and (first := _FIRST.match(head)):
            yield (
                (last, first.group()),
                max(how, SPACED if len(head) < len(text) else JOINED),
                el,
                is_tail,
            )
        body = text.rstrip()
        if not body:
            if text:
                how = max(how, SPACED)
            continue
        last = _last_word(body)
        how = SPACED if len(body) < len(text) else JOINED


@dataclass(frozen=True)
class Meetings:
    """The pairs of words that meet across a tag on a page, by how they meet."""

    joined: frozenset[Junction]
    spaced: frozenset[Junction]
    parted: frozenset[Junction]


def meetings(page: etree._Element) -> Meetings:
    found: tuple[set[Junction], set[Junction], set[Junction]] = (set(), set(), set())
    for pair, how, _, _ in _junctions(page):
        found[how].add(pair)
    return Meetings(*(frozenset(pairs) for pairs in found))


def _glued(body: etree._Element) -> list[tuple[Junction, etree._Element, bool]]:
    return [(pair, el, is_tail) for pair, how, el, is_tail in _junctions(body) if how == JOINED]


def _restore_spaces(page: Meetings, glued: list[tuple[Junction, etree._Element, bool]]) -> None:
    """Put a space at each of the `glued` places of a body (see `_glued`) where `page`, the
    page the body was extracted from, parted the same two words and never joined them."""
    for pair, el, is_tail in glued:
        if pair in page.joined or (pair not in page.spaced and pair not in page.parted):
            continue
        if not parts_with_space(*pair):
            continue
        if is_tail:
            el.tail = " " + el.tail
        else:
            # The space goes in front of the element, outside it: after its previous
            # sibling, or at the end of its parent's own text.
            before = el.getprevious()
            if before is not None:
                before.tail = (before.tail or "") + " "
            else:
                parent = el.getparent()
                if parent is None:
                    continue
                parent.text = (parent.text or "") + " "


def _split_lines(body: etree._Element) -> list[tuple[Junction, etree._Element, etree._Element]]:
    """Consecutive paragraphs of `body`, nothing between them, where the first ends with a
    word and the next starts with one (not with punctuation): a line the extraction may
    have broken in two."""
    found = []
    for first in body.iter("p"):
        second = first.getnext()
        if second is None or second.tag != "p" or (first.tail or "").strip():
            continue
        last = _last_word(first.text_content().rstrip())
        start = _FIRST.match(second.text_content().lstrip())
        if last is not None and start is not None:
            found.append(((last, start.group()), first, second))
    return found


def _rejoin_lines(
    page: Meetings, split: list[tuple[Junction, etree._Element, etree._Element]]
) -> None:
    """Make one paragraph of each `split` pair (see `_split_lines`) whose two words the
    page ran on in one line of text, never parted by a break nor joined.
    trafilatura makes a paragraph of the text before a link and another of the link and
    what follows when they stand in a `div` of their own ("Mehr dazu kannst Du" / "hier
    nachlesen.").

    A run of such paragraphs is joined front to back, each into the one the run started
    with, so each element moves once: joined back to front, every join moved all the run
    had gathered, and a page of 10,000 links, each its own line (200 KB), took 42 s."""
    joined_into: dict[etree._Element, etree._Element] = {}
    for pair, first, second in split:
        if pair not in page.spaced or pair in page.parted or pair in page.joined:
            continue
        into = joined_into.get(first, first)
        if into.getparent() is None or second.getparent() is None:
            continue
        space = " " if parts_with_space(*pair) else ""
        # The last child, found from the end: `len` counts every child of the run so far.
        if (last := next(into.iterchildren(reversed=True), None)) is not None:
            last.tail = (last.tail or "") + space + (second.text or "")
        else:
            into.text = (into.text or "") + space + (second.text or "")
        into.extend(list(second))
        into.tail = second.tail
        second.getparent().remove(second)
        joined_into[second] = into


def repair(body: etree._Element, page: etree._Element, *, glued: bool = True) -> None:
    """Put back the word spaces and the lines of `page` that the extraction of `body` lost.
    `glued` false says the body has no place where words meet without a space (`GLUED`
    found none in its markup). The page is walked only when the body has something to
    repair."""
    places = _glued(body) if glued else []
    split = _split_lines(body)
    if not places and not split:
        return
    met = meetings(page)
    _restore_spaces(met, places)
    _rejoin_lines(met, split)
