"""Microsoft's Channel Definition Format (Internet Explorer 4, 1997): a `<CHANNEL>` of
`<ITEM HREF="..." LASTMOD="...">`s, which old sites still serve as their feed. feedparser
reads its items (HREF as the link, ABSTRACT as the summary, LASTMOD as the updated time, BASE
as the base of relative addresses) but names no version for it. Pure: bytes in, a verdict
out.
"""

from __future__ import annotations

import re

from syndicator.extract.decoding import wide_encoding

# Before the root element: blanks, the XML declaration and other instructions, comments and
# a doctype (its internal subset in brackets); then the root's start tag.
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S)
_CHANNEL_ROOT = re.compile(r"<CHANNEL[\s/>]", re.I)
# How far into the document its root element is looked for.
_HEAD = 8192


def is_cdf(body: bytes) -> bool:
    """The document's root element is a CDF `<CHANNEL>` (of any case)."""
    head = body[: 4 * _HEAD]
    wide = wide_encoding(head)
    text = head.decode(wide[0] if wide else "latin-1", errors="replace")[:_HEAD]
    text = text.removeprefix("\ufeff").removeprefix("ï»¿")
    prolog = _PROLOG.match(text)
    return _CHANNEL_ROOT.match(text, prolog.end() if prolog else 0) is not None
