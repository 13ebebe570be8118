"""Word spaces the extraction engine trimmed away, put back from the page.

trafilatura trims the text before and after every element it keeps ("the blog at <a>work</a>
so I" becomes "the blog at work</a>so I"; trafilatura issue 661), so a feed would publish
"workso" and "fromthe". No library repairs this after the fact: the body alone cannot tell
"work" + "so" (two words) from "link" + "s" (one word split by a tag). The page the body was
taken from can. `restore_spaces` looks at each place in the body where a word ends and the
next begins in another text node with nothing between them, and puts a space there when
the page, at a place where the same two words met, had one or a block boundary (and never
had them joined).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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

# Serialised markup where a word runs into a tag that is not a break, and the tag into a
# word: the only places `restore_spaces` can change, found before any tree is walked.
_BREAK = "|".join(sorted(BREAKS, key=len, reverse=True))
GLUED = re.compile(rf"\w(?:</?(?!(?:{_BREAK})[\s/>])[^\W\d_][\w:-]*(?:\s[^>]*)?>)+\w")

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


def _junctions(root: etree._Element) -> Iterator[tuple[Junction, bool, etree._Element, bool]]:
    """Every place in `root` where a word ends one text node and another word starts the
    next, with nothing between them but whitespace, a break or nothing: (the two words,
    whether whitespace or a break parts them, where the text after is held)."""
    last: str | None = None  # the word the text so far ends with, if it ends with one
    spaced = False
    for text, broken, el, is_tail in _pieces(root):
        if broken:
            spaced = True  # a block or a line break parts the words on either side of it
        head = text.lstrip()
        if head and last is not None and (first := _FIRST.match(head)):
            yield (last, first.group()), spaced or len(head) < len(text), el, is_tail
        body = text.rstrip()
        if not body:
            spaced = spaced or bool(text)
            continue
        found = _LAST.search(body, max(0, len(body) - _LONGEST))
        last = found.group() if found else None
        spaced = len(body) < len(text)


def spaced_words(page: etree._Element) -> tuple[frozenset[Junction], frozenset[Junction]]:
    """The pairs of words that meet across a tag on `page` with whitespace or a break
    between them, and those that meet without either."""
    spaced: set[Junction] = set()
    joined: set[Junction] = set()
    for pair, apart, _, _ in _junctions(page):
        (spaced if apart else joined).add(pair)
    return frozenset(spaced), frozenset(joined)


def restore_spaces(body: etree._Element, page: etree._Element) -> int:
    """Put back in `body` the spaces between words that `page`, the page it was extracted
    from, had: returns how many. The page is read only when the body has a place where two
    words meet without a space across a tag."""
    glued = [(pair, el, is_tail) for pair, apart, el, is_tail in _junctions(body) if not apart]
    if not glued:
        return 0
    spaced, joined = spaced_words(page)
    restored = 0
    for pair, el, is_tail in glued:
        if pair not in spaced or pair in joined:
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
        restored += 1
    return restored
