"""Bytes to data: source feeds to entries, listing pages to article links, article pages to
clean articles.

Owns character-set detection, feedparser and trafilatura calls, a site's learned template
blocks (`SiteTemplates`) and the order of the article stages: parse, read metadata
(`metadata`), strip boilerplate (`clean`), find the body (the source's `body` selector, else
trafilatura), tidy it, fall back to trafilatura's own body when cleaning lost the article,
assemble the Page. Each stage is a function of its own so that a benchmark can time it.
Pure: bytes in, models out, no I/O.
"""

from __future__ import annotations

import codecs
import copy
import dataclasses
import functools
import html
import json
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import feedparser
import lxml.html
import trafilatura
from lxml import etree
from trafilatura.htmlprocessing import build_html_output
from trafilatura.settings import Document

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.core.ingest import too_early
from syndicator.core.models import FeedEntry, Page
from syndicator.extract import boilerplate, clean, spacing
from syndicator.extract.dates import empty_date, parse_date
from syndicator.extract.metadata import PageMeta, read_metadata

if TYPE_CHECKING:
    from syndicator.core.config import Source

__all__ = ["ArticleRules", "extract_article", "parse_date", "parse_feed"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
_FEED_END = re.compile(rb"</(?:[A-Za-z0-9_]+:)?(?:rss|feed|RDF)>")
# Feed markup: after the feed's end tag, it says that end tag was inside the feed's text.
_FEED_MARKUP = re.compile(rb"</?(?:[A-Za-z0-9_]+:)?(?:item|entry|channel)\b")
# How far from the end of the body the feed's end tag is looked for: past what servers
# write after it (a cache plugin's comment, a PHP notice or two).
_FEED_TAIL = 8192
# Each mark names its byte order: given "utf-16" alone, feedparser read a big-endian feed as
# little-endian and refused it as not well-formed. Decoded here, the mark is dropped from
# the text (`_decode_text`).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


# Labels that browsers decode as a superset (WHATWG Encoding Standard): a page that says
# ISO-8859-1 and uses curly quotes means windows-1252.
_SUPERSETS = {
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "gb2312": "gbk",
}


def _known(name: str | None) -> str | None:
    """The codec a charset label names, or None when it names none that decodes text. A
    server may say `charset=base64`, `zlib`, `hex` or `idna` (Python codecs that are not text
    encodings or cannot replace what they cannot decode): browsers ignore such a label, and
    taken for the page's charset it raised LookupError or UnicodeError, and lost the page,
    or the whole pull where a listing or feed said it."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("'\"").lower()).name
        b"a\xff".decode(codec, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return None
    return _SUPERSETS.get(codec, codec)


def detect_charset(body: bytes, header_charset: str | None = None) -> str:
    """The charset a page is really in.

    A byte-order mark decides. Otherwise the declarations are read in the order browsers read
    them (HTTP header, XML declaration, meta tag), but believed only when the body agrees:
    mirrors of one site are often configured by different hands, and one that sends UTF-8
    as Latin-1 or windows-1256 as UTF-8 must not make a second, garbled copy of an article.
    A body with non-ASCII bytes that is valid UTF-8, or nearly (`_mostly_utf8`), is UTF-8
    (text in a legacy code page is practically never valid UTF-8 by chance); a declaration
    that the bytes cannot be decoded with is passed over; with none left, charset-normalizer
    weighs the legacy code pages.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    head = body[:4096]
    declared = [_known(header_charset)]
    for pattern in (_XML_DECL, _META_CHARSET):
        if m := pattern.search(head):
            declared.append(_known(m.group(1).decode("ascii", "replace")))
    # A page that says UTF-16 or UTF-32 but holds no NUL byte is in neither (ASCII text in
    # either has one every other or every fourth byte): browsers read such a meta tag as
    # UTF-8, and believed, it made the page mojibake with no link in it.
    no_nul = b"\0" not in head
    candidates = [
        c
        for c in dict.fromkeys(declared)
        if c and not (no_nul and c.startswith(("utf-16", "utf-32")))
    ]
    if body.isascii():
        return candidates[0] if candidates else "utf-8"
    if _decodes(body, "utf-8") or _mostly_utf8(body):
        return "utf-8"
    for charset in candidates:
        if charset != "utf-8" and _decodes(body, charset):
            return charset
    best = charset_normalizer.from_bytes(body).best()
    return _known(best.encoding if best else None) or (candidates or ["cp1252"])[0]


_HIGH_BYTES = bytes(range(128, 256))


def _mostly_utf8(body: bytes) -> bool:
    """UTF-8 with a stray broken sequence or two (a page pieced together from parts): fewer
    than one undecodable byte in fifty non-ASCII bytes. Legacy code-page text is almost all
    undecodable as UTF-8; guessing a code page for such a page garbles every letter."""
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    bad = body.decode("utf-8", errors="replace").count("\ufffd")
    return bad * 50 < high


def _decodes(body: bytes, charset: str) -> bool:
    try:
        body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


# Code points XML 1.0 does not allow (C0 controls but tab, newline and carriage return; the
# surrogates; U+FFFE and U+FFFF), raw or written as character references: one of them in an
# article made it unextractable (lxml and trafilatura refuse it) and unpublishable (no XML
# feed may carry it), on every mirror at once. They carry no text, so they are dropped.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Only references that can name such a code point (one or two digits, the surrogates,
# U+FFFE/U+FFFF): a page has thousands of `&#8217;`, and each match costs a call.
_REFS = re.compile(
    r"&#(?:[xX]0*([0-9a-fA-F]{1,2}|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])(?![0-9a-fA-F])"
    r"|0*([0-9]{1,2}|5[5-7][0-9]{3}|6553[45])(?![0-9]));?"
)


def _legal_ref(m: re.Match[str]) -> str:
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    return "" if code > 0x10FFFF or XML_ILLEGAL.match(chr(code)) else m.group(0)


# The C0 controls XML_ILLEGAL names, as bytes: in UTF-8 they stand for themselves only.
_CONTROL_BYTES = bytes(c for c in range(32) if chr(c) not in "\t\n\r")


def _holds_illegal(text: str) -> bool:
    """Whether XML_ILLEGAL would match, tested in C: the regex's scan of a real page (143,000
    characters on average) took 0.8 ms, encoding it and deleting its control bytes 0.2."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return True  # a lone surrogate
    return (
        len(raw.translate(None, _CONTROL_BYTES)) != len(raw) or "\ufffe" in text or "\uffff" in text
    )


def drop_illegal(text: str) -> str:
    """`text` without the code points (raw or as references) that no XML document may hold."""
    if "&#" in text:
        text = _REFS.sub(_legal_ref, text)
    return XML_ILLEGAL.sub("", text) if _holds_illegal(text) else text


def decode(body: bytes, header_charset: str | None = None) -> str:
    """The page as text, in the charset it is really in, without XML-illegal code points."""
    if len(body) > DECODE_CACHE_BYTES:
        return _decode_text(body, header_charset)
    return _decode(body, header_charset)


# validate.check and extract_article decode the same bytes one after the other: the second
# is answered from a cache (bytes cache their hash, so a hit costs a comparison). Only pages
# up to this size are kept there: eight bodies at the fetch cap (10 MB, and up to 1 GB) with
# their text would hold hundreds of megabytes in a service that runs for months.
DECODE_CACHE_BYTES = 2 * 1024 * 1024


def _decode_text(body: bytes, header_charset: str | None) -> str:
    charset = detect_charset(body, header_charset)
    text = drop_soft_hyphens(drop_illegal(body.decode(charset, errors="replace")))
    return text[1:] if text.startswith("\ufeff") else text


_decode = functools.lru_cache(maxsize=8)(_decode_text)


# Soft hyphens (U+00AD, `&shy;`) are hyphenation hints for one layout: in a feed reader's they
# split words for search and copy, and some readers show them. The normal form already
# ignores them (`core.identity`), so dropping them changes no stored identity.
_SOFT_REF = re.compile(r"&(?:shy|#173|#[xX]0*[aA][dD]);")


def drop_soft_hyphens(text: str) -> str:
    # The references and the raw character apart: a pattern for both has no literal prefix,
    # and its scan of a whole page took eight times as long as these two.
    if "&" in text and _SOFT_REF.search(text):
        text = _SOFT_REF.sub("", text)
    return text.replace("\xad", "") if "\xad" in text else text


# libxml2's HTML parser checks each attribute of an element against all the ones before it:
# 50,000 attributes on one tag (a 600 KB page) kept it busy for minutes, on each of the
# parses of a page. No page needs a fraction of this many on one element.
MAX_ATTRIBUTES = 2_000
_ATTRIBUTE = re.compile(r"""[\s"'][^\s"'=<>/]+\s*=""")


def crowded_element(text: str) -> int:
    """The attributes of the first element in `text` that has more than MAX_ATTRIBUTES, else
    0. Linear and cheap: only a page with that many `=` at all is split at its `>`s, and only a
    tag as long as that many attributes need is counted."""
    if text.count("=") <= MAX_ATTRIBUTES:
        return 0
    for segment in text.split(">"):
        if len(segment) < 3 * MAX_ATTRIBUTES:
            continue
        tag = segment[max(segment.rfind("<"), 0) :]
        if (
            tag[:1] == "<"
            and tag[1:2].isalpha()
            and len(tag) >= 3 * MAX_ATTRIBUTES
            and (n := len(_ATTRIBUTE.findall(tag))) > MAX_ATTRIBUTES
        ):
            return n
    return 0


# Bytes that are no page at all: a body compressed twice (a server's or CDN's gzip over one
# already compressed), an image or a PDF where an article was linked. Decoded, they make a
# title and a body of mojibake that would be published as an article. Such bytes hold C0
# control bytes about one in ten; the 1,357 real pages, feeds and sitemaps of the quality sets
# and the corpus hold none (NUL aside: a UTF-16 page without a byte order mark is every other
# byte NUL, and reads right once they are dropped).
BINARY_SHARE = 0.01
BINARY_SAMPLE = 65_536
# Fewer control bytes than this are a few stray characters in a page, whatever its size.
BINARY_MIN = 32
_CONTROL_BYTES_BUT_NUL = bytes(c for c in range(1, 32) if chr(c) not in "\t\n\x0c\r")
_SIGNATURES = (
    (b"\x1f\x8b", "gzip data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
)


def binary_kind(body: bytes) -> str | None:
    """What a body that is not text is ("gzip data", "a PDF document", "binary data"); None
    for text. Control bytes are control characters in every ASCII-based charset (the trail
    bytes of UTF-8, Shift-JIS, GBK or Big5 are never below 0x40); UTF-16 and UTF-32 with a
    byte order mark are text."""
    for magic, name in _SIGNATURES:
        if body.startswith(magic):
            return name
    sample = body[:BINARY_SAMPLE]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return None
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES_BUT_NUL))
    return "binary data" if controls >= max(BINARY_MIN, BINARY_SHARE * len(sample)) else None


def parse_page(body: bytes, url: str, header_charset: str | None = None) -> etree._Element:
    if what := binary_kind(body):
        raise ExtractError(url, f"{what}, not an HTML page", kind="binary")
    text = decode(body, header_charset)
    if crowded := crowded_element(text):
        raise ExtractError(
            url, f"an element with {crowded:,} attributes: not parsed", kind="hostile-markup"
        )
    # lxml refuses str input that carries an encoding declaration; drop the XML one.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    if not text.strip():
        raise ExtractError(url, "empty page")
    try:
        return parse_html(text, url)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(url, f"not an HTML page: {exc}") from None


def parse_html(text: str, url: str | None = None) -> etree._Element:
    """The tree of a decoded HTML document, nested as deep as it goes (see FLAT_DEPTH).
    Raises lxml's ParserError or ValueError for text that is no document."""
    root = lxml.html.document_fromstring(text, parser=clean.HTML_PARSER, base_url=url)
    if _NEAR_DEPTH_LIMIT(root):
        root = _parse_deep(text, url)
    return root


# libxml2's HTML parser stops at 256 levels of nesting without an error: a listing whose
# items never close their <div> lost every link past the 253rd. A tree that comes near it is
# parsed again with the limit at 2,048 (`huge_tree`), and what lies deeper than FLAT_DEPTH
# is laid flat, in document order: the product's tree walks, and trafilatura's, recurse,
# and no real page of the 1,170 public ones nests deeper than 200. Subtrees at most
# WHOLE_HEIGHT high (a link with its headline, a paragraph) move whole; only the deep ones
# are opened, so the tree stays under FLAT_DEPTH + WHOLE_HEIGHT.
_NEAR_DEPTH_LIMIT = etree.XPath("/*" + "/*" * 250)
FLAT_DEPTH = 180
WHOLE_HEIGHT = 40
_AT_FLAT_DEPTH = etree.XPath("/*" + "/*" * (FLAT_DEPTH - 1))
_BELOW_FLAT_DEPTH = etree.XPath("*" + "/*" * (FLAT_DEPTH - 2))  # from a fragment's <div>


def parse_fragment(text: str) -> etree._Element:
    """A `<div>` holding the elements of an HTML fragment (a feed entry's content), read as
    deep as parse_html reads a document."""
    container = lxml.html.fragment_fromstring(text, create_parent="div", parser=clean.HTML_PARSER)
    if _NEAR_DEPTH_LIMIT(container.getroottree().getroot()):
        container = lxml.html.fragment_fromstring(
            text, create_parent="div", parser=clean.DEEP_HTML_PARSER
        )
        for element in _BELOW_FLAT_DEPTH(container):
            _lay_flat(element)
    return container


def _parse_deep(text: str, url: str | None) -> etree._Element:
    root = lxml.html.document_fromstring(text, parser=clean.DEEP_HTML_PARSER, base_url=url)
    for element in _AT_FLAT_DEPTH(root):
        _lay_flat(element)
    return root


def _lay_flat(parent: etree._Element) -> None:
    """Lay what is under `parent` out as its children, in document order: a subtree at most
    WHOLE_HEIGHT high moves whole; a deeper one is opened (its element first, emptied, then
    what it held, laid out the same way). Text and tails keep their order: an opened
    element's tail, which follows all it held, moves onto the last of that."""
    height: dict[etree._Element, int] = {}
    for _event, element in etree.iterwalk(parent, events=("end",)):
        height[element] = 1 + max((height[child] for child in element), default=0)
    flat: list[etree._Element] = []
    stack: list[tuple[bool, etree._Element]] = [(False, c) for c in reversed(parent)]
    while stack:
        closing, element = stack.pop()
        if closing:
            if element.tail and flat[-1] is not element:
                last = flat[-1]
                last.tail = (last.tail or "") + element.tail
                element.tail = None
            continue
        flat.append(element)
        if height[element] > WHOLE_HEIGHT:
            stack.append((True, element))
            stack.extend((False, child) for child in reversed(element))
    for element in flat:
        holder = element.getparent()
        if holder is not None:
            holder.remove(element)
    parent.extend(flat)


# --- feeds -------------------------------------------------------------------------------


def _legal(text: str | None) -> str | None:
    return drop_illegal(text) if text else text


def _feed_time(entry: Any, key: str) -> datetime | None:
    """An entry's time: the text as `dates.parse_date` reads it (the zone abbreviations
    publishers write, which feedparser reads as UTC), else as feedparser read it (its own
    formats: Korean, Greek, asctime...), else None when it is none a datetime can hold: a
    CMS's zero date (`0000-00-00 00:00:00`, read as year -1) or one past 9999 in UTC raised
    ValueError, and that one entry cost the whole feed, on every mirror."""
    text = dict.get(entry, key)
    if (moment := parse_date(text)) is not None:
        return moment
    parsed = dict.get(entry, f"{key}_parsed")
    if not parsed or empty_date(text):
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return None if too_early(moment) else moment


_SUBSET_END = re.compile(r"\]\s*>")
# The root element's start tag: the first tag that is no declaration, instruction or end tag.
_ROOT = re.compile(r"<(?![!?/])")


def declares_entities(body: bytes) -> bool:
    """The document declares XML entities in its DTD's internal subset (`<!DOCTYPE rss
    [<!ENTITY ...>]>`): what a billion-laughs bomb, a quadratic blow-up or an external entity
    is made of, and no feed needs. feedparser does not expand them, but keeps the references
    as text: a bomb's title was published as "&lol9;" after 1.6 s of expat's parsing, a
    blow-up's description as 120 KB of "&amp;a". An external DTD (`<!DOCTYPE rss PUBLIC
    ...>`) is no declaration, nor is one in the content (an XML lesson in CDATA)."""
    utf16 = body.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"<!ENTITY" not in body and not utf16:
        return False  # the usual case: one scan of the bytes
    text = body.decode("utf-16", errors="replace") if utf16 else body.decode("latin-1")
    doctype = text.find("<!DOCTYPE")
    root = _ROOT.search(text)
    if doctype < 0 or (root is not None and root.start() < doctype):
        return False  # none, or one inside the content
    opening, closing = text.find("[", doctype), text.find(">", doctype)
    if opening < 0 or 0 <= closing < opening:
        return False  # no internal subset
    found = text.find("<!ENTITY", opening)
    subset_end = _SUBSET_END.search(text, opening)
    return found >= 0 and (subset_end is None or found < subset_end.start())


# More entries than any feed carries (the sitemaps protocol caps a sitemap at as many URLs):
# a million empty `<item/>` fit in 7 MB, under max_body, and took feedparser 23 s and 170 MB.
MAX_FEED_ENTRIES = 50_000
_ENTRY_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")


def _too_many_entries(url: str, count: int) -> ExtractError:
    return ExtractError(
        url,
        f"{count:,} entries, more than any feed carries (at most {MAX_FEED_ENTRIES:,}): not parsed",
        kind="hostile-markup",
    )


def _entries_in(body: bytes) -> int:
    """How many entry start tags (`<item>`, `<entry>`, with a prefix or none) the bytes hold,
    counted only when a plain count of the names passes MAX_FEED_ENTRIES."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        body = body.decode("utf-16", errors="replace").encode()
    if body.count(b"<item") + body.count(b"entry") <= MAX_FEED_ENTRIES:
        return 0
    return sum(1 for _ in _ENTRY_TAG.finditer(body))


def _entry_link(feed_url: str, written: str | None) -> str | None:
    """A feed entry's link made absolute; None when it is missing, no URL, or the feed itself
    (`<link>#</link>` or an empty one made absolute: fetched as an article, the channel's
    title was published as one)."""
    if not written or (link := identity.join_url(feed_url, written)) is None:
        return None
    return None if link.split("#", 1)[0] == feed_url.split("#", 1)[0] else link


# What feedparser says a text construct holds when it is markup, not text.
_MARKUP_TYPES = ("text/html", "application/xhtml+xml")


def _entry_title(entry: Any) -> str | None:
    """An entry's headline as text. An Atom title of `type="html"` or `"xhtml"` holds markup
    (WordPress writes its Atom titles so), and feedparser takes an RSS title for HTML when it
    holds tags or entity references (a CMS that escapes its headlines once more, `AT&amp;amp;T`):
    read as a reader reads them, their text is the headline. Kept as feedparser gave it, the
    markup and references were published as text ("AT&amp;T", "<em>buys</em>") in the items
    made from the feed, and a listed headline never matched its page's."""
    title = entry.get("title")
    detail = entry.get("title_detail") or {}
    if title and detail.get("type") in _MARKUP_TYPES:
        return _text_of_html(title) or None
    return title


def _as_html(detail: Any, value: str | None) -> str | None:
    """An entry's content or summary as HTML. An Atom text construct of `type="text"`
    (Atom's default) is plain text: read as HTML, "x<y held" began a tag that swallowed the
    rest of the article, and its lines ran into one paragraph. It is written as HTML, a
    paragraph a line, as a JSON Feed's `content_text` is."""
    if value and (detail or {}).get("type") == "text/plain":
        return text_as_html(value)
    return value


def text_as_html(plain: str) -> str:
    """Plain text as HTML: each line that holds text a paragraph, escaped."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in plain.splitlines() if line.strip())


# Entries that all give one time, at least this many: the moment the feed was generated.
GENERATED_ENTRIES = 3


def _undated_if_generated(entries: list[FeedEntry]) -> list[FeedEntry]:
    """The entries without their published (or updated) time when every entry gives the
    same one: some CMSs write the moment the feed was generated as every item's pubDate. It
    dates none of them, and, newer on every pull, it read as "changed since stored": every
    article page was fetched again on every pull."""
    if len(entries) < GENERATED_ENTRIES:
        return entries
    if len({e.published for e in entries} - {None}) == 1 and all(e.published for e in entries):
        entries = [dataclasses.replace(e, published=None) for e in entries]
    if len({e.updated for e in entries} - {None}) == 1 and all(e.updated for e in entries):
        entries = [dataclasses.replace(e, updated=None) for e in entries]
    return entries


def ends_whole(body: bytes) -> bool:
    """The feed's end tag is in the body, followed by no feed markup: what servers write after
    it (WordPress cache plugins' `<!-- Performance optimized by W3 Total Cache ... -->`, a
    PHP notice) is no sign of a body cut short. Such a comment after an ill-formed feed (an
    HTML entity XML does not define, `&nbsp;`, in a headline) had the feed refused as
    truncated, on every mirror. A UTF-16 feed's tail is read as text: its bytes never
    matched, and any ill-formed UTF-16 feed was refused so."""
    tail = body[-_FEED_TAIL:]
    for bom, codec in _BOMS[1:]:
        if body.startswith(bom):
            # From a whole code unit: an even number of bytes after the mark.
            tail = body[max(2, len(body) - _FEED_TAIL) // 2 * 2 :]
            tail = tail.decode(codec, errors="replace").encode("utf-8")
    ends = [m.end() for m in _FEED_END.finditer(tail)]
    return bool(ends) and not _FEED_MARKUP.search(tail, ends[-1])


def parse_feed(body: bytes, url: str, header_charset: str | None = None) -> list[FeedEntry]:
    """RSS, Atom or JSON Feed bytes to entries; anything that is not a feed raises
    ExtractError. Entries that all give one time give none (`_undated_if_generated`)."""
    return _undated_if_generated(_feed_entries(body, url, header_charset))


def _feed_entries(body: bytes, url: str, header_charset: str | None) -> list[FeedEntry]:
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _json_feed(body, url)
    head = body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise ExtractError(url, "an HTML page where a feed was expected", kind="not-a-feed")
    if declares_entities(body):
        raise ExtractError(
            url,
            "the feed declares XML entities (what an XML bomb or an external entity is made "
            "of): refused",
            kind="hostile-markup",
        )
    # The charset the bytes are really in, as for a page (`detect_charset`): a declaration
    # is believed only when the body agrees. Given the header's charset as it came,
    # feedparser believed it over the bytes (RFC 3023): a mirror that labelled its UTF-8
    # feed windows-1256 had every headline, and a feed's full text, published as mojibake.
    if (count := _entries_in(body)) > MAX_FEED_ENTRIES:
        raise _too_many_entries(url, count)
    charset = detect_charset(body, header_charset)
    # feedparser looks each attribute of an element up among all the others (20,000 on one
    # took 12 s, 80,000 took 103 s, in a thread no deadline stops): refused unparsed, as a
    # page's are.
    if body.count(b"=") > MAX_ATTRIBUTES and (crowded := crowded_element(decode(body, charset))):
        raise ExtractError(
            url, f"an element with {crowded:,} attributes: not parsed", kind="hostile-markup"
        )
    try:
        parsed = feedparser.parse(
            body, response_headers={"content-type": f"application/xml; charset={charset}"}
        )
    except Exception as exc:
        # feedparser itself fails on some broken feeds (a reference to a lone surrogate,
        # `&#xD800;`; bytes in the XML declaration that are no charset's; an end tag its
        # lenient parser has no state for): that feed is refused like any broken one, and
        # the next mirror is asked, never the pull lost.
        raise ExtractError(
            url, f"not an RSS or Atom feed: {type(exc).__name__}: {exc}", kind="not-a-feed"
        ) from None
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise ExtractError(url, f"not an RSS or Atom feed: {reason}", kind="not-a-feed")
    if parsed.get("bozo") and not parsed.entries:
        raise ExtractError(url, f"broken feed: {parsed.get('bozo_exception')}", kind="not-a-feed")
    if parsed.get("bozo") and not ends_whole(body):
        # feedparser salvages what it can from a cut-off body; a cut-off feed may have lost
        # entries or half an entry, so it is refused and the next mirror is asked instead.
        raise ExtractError(url, f"truncated feed: {parsed.get('bozo_exception')}", kind="truncated")
    entries = []
    guid_links = _permalink_guids(parsed, body)
    for entry in parsed.entries:
        written = _alternate_link(entry) or guid_links.get(entry.get("id") or "")
        if (link := _entry_link(url, written)) is None:
            continue
        content = entry.get("content")
        # feedparser turns `&#8;` into the control character itself: no text of a feed keeps
        # a code point no XML document may hold (the parser of a body and the feeds we write
        # refuse them).
        entries.append(
            FeedEntry(
                link=link,
                guid=_legal(entry.get("id")),
                title=_legal(_entry_title(entry)),
                summary=_legal(_as_html(entry.get("summary_detail"), entry.get("summary"))),
                content_html=_legal(_as_html(content[0], content[0].get("value")))
                if content
                else None,
                published=_feed_time(entry, "published"),
                updated=_feed_time(entry, "updated"),
                author=_legal(_entry_author(entry)),
            )
        )
    return entries


def _alternate_link(entry: Any) -> str | None:
    """The page an entry stands for: its first `rel="alternate"` link of type text/html (a
    link of no type is one), else its first XHTML one, as feedparser documents the link.
    feedparser's own `link` is the last of them: an entry that also linked its French or AMP
    copy had that copy fetched as the article. Else feedparser's `link` (an RSS permalink
    guid, say)."""
    alternates = [
        link
        for link in entry.get("links") or ()
        if link.get("rel") == "alternate" and link.get("href")
    ]
    for wanted in _MARKUP_TYPES:
        for link in alternates:
            if str(link.get("type")).split(";")[0].strip().lower() == wanted:
                return str(link["href"])
    link = entry.get("link")
    return link if isinstance(link, str) else None


# An RSS `<guid isPermaLink="false">` and its text: a guid said to be no link.
_NOT_PERMALINK = re.compile(
    rb"<guid\b[^>]*\bisPermaLink\s*=\s*[\"']false[\"'][^>]*>([^<]*)</guid>", re.IGNORECASE
)


def _permalink_guids(parsed: Any, body: bytes) -> dict[str, str]:
    """The guids that stand for their RSS items' links, for items whose `<link>` is there but
    empty: a guid that is an http(s) URL and a permalink (RSS 2.0: `isPermaLink` is true
    unless it says false). feedparser takes the guid for the link only when an item has no
    `<link>` at all, so items a CMS wrote with `<link></link>` and their URL in the guid
    were dropped, while readers open the guid."""
    if not str(parsed.get("version", "")).startswith("rss"):
        return {}
    guids = {
        guid
        for entry in parsed.entries
        if not entry.get("link")
        and (guid := entry.get("id") or "").startswith(("http://", "https://"))
    }
    if not guids:
        return {}
    marked = {
        html.unescape(m.decode("utf-8", "replace")).strip() for m in _NOT_PERMALINK.findall(body)
    }
    return {guid: guid for guid in guids - marked}


# RSS 2.0's `<author>`: "email (Name)", or as mail headers write it, "Name <email>".
_EMAIL_THEN_NAME = re.compile(r"^\s*[^\s@()<>]+@[^\s()<>]+\s*\((.+)\)\s*$")
# Longer than any byline: read as it is (the patterns backtrack over a hostile one).
_AUTHOR_MAX = 500
_NAME_THEN_EMAIL = re.compile(r"^\s*(\S.*?)\s*<[^\s@<>]+@[^\s<>]+>\s*$")


def _entry_author(entry: Any) -> str | None:
    """An entry's author by name. RSS 2.0 writes `<author>` as "email (Name)" (or "Name
    <email>"): kept whole, the reporter's address was published as the byline. The name is
    taken from it here (feedparser's own reading cuts an address on a top-level domain of
    more than four letters: "ple (Jane Doe" of "j.doe@news.example (Jane Doe)"); an author
    given by address alone keeps the address."""
    author = entry.get("author")
    if not isinstance(author, str) or len(author) > _AUTHOR_MAX:
        return author if isinstance(author, str) else None
    found = _EMAIL_THEN_NAME.match(author) or _NAME_THEN_EMAIL.match(author)
    return (found.group(1).strip() or author) if found else author


# JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) name their version so.
JSON_FEED_VERSION = "https://jsonfeed.org/version/"


def _json_text(value: object) -> str | None:
    """A JSON Feed text member, without what XML forbids; None when it is no text."""
    return _legal(value) if isinstance(value, str) and value.strip() else None


def _json_author(holder: Mapping[str, Any]) -> str | None:
    """The names in `authors` (1.1) or `author` (1.0), joined."""
    authors = holder.get("authors")
    people = authors if isinstance(authors, list) else [holder.get("author")]
    names = [n for p in people if isinstance(p, dict) and (n := _json_text(p.get("name")))]
    return ", ".join(names) or None


def _id_url(ident: object) -> str | None:
    """A JSON Feed item's `id` when it is an absolute http(s) URL: the spec's "ideally, the id
    is the full URL of the resource", which an item without `url` is linked by (it was
    skipped as linking to nothing)."""
    if isinstance(ident, str) and ident.strip().lower().startswith(("http://", "https://")):
        return ident.strip()
    return None


def _json_feed(body: bytes, url: str) -> list[FeedEntry]:
    """A JSON Feed's items as entries: `url` (else an `id` that is a URL, else `external_url`,
    a page elsewhere) is the article's link,
    `content_html` (else `content_text`, a paragraph a line) its full text when given. A
    member of the wrong type counts as absent, an item of the wrong type is skipped."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise ExtractError(url, f"not a JSON Feed: {reason}", kind="not-a-feed") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION):
        raise ExtractError(url, "JSON, but no JSON Feed version", kind="not-a-feed")
    items = data.get("items")
    if not isinstance(items, list):
        raise ExtractError(url, "a JSON Feed without its items", kind="not-a-feed")
    if len(items) > MAX_FEED_ENTRIES:
        raise _too_many_entries(url, len(items))
    feed_author = _json_author(data)
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ident = item.get("id")  # a text in 1.1, a number too in 1.0
        written = (
            _json_text(item.get("url")) or _id_url(ident) or _json_text(item.get("external_url"))
        )
        if (link := _entry_link(url, written)) is None:
            continue
        content = _json_text(item.get("content_html"))
        if content is None and (plain := _json_text(item.get("content_text"))):
            content = text_as_html(plain)
        summary = _json_text(item.get("summary"))
        # Read as HTML by libxml2, which compares each attribute with every one before it.
        if crowded := max(crowded_element(content or ""), crowded_element(summary or "")):
            raise ExtractError(
                url,
                f"an element with {crowded:,} attributes in the item {link}: not parsed",
                kind="hostile-markup",
            )
        entries.append(
            FeedEntry(
                link=link,
                guid=str(ident) if isinstance(ident, int) else _json_text(ident),
                title=_json_text(item.get("title")),
                summary=summary,
                content_html=content,
                published=parse_date(_json_text(item.get("date_published"))),
                updated=parse_date(_json_text(item.get("date_modified"))),
                author=_json_author(item) or feed_author,
            )
        )
    return entries


# --- listing pages -----------------------------------------------------------------------


def listing_links(
    body: bytes, url: str, site_origins: set[str], pattern: str, header_charset: str | None = None
) -> list[str]:
    """Links to article pages of this site, in page order, each once."""
    return list(listing_entries(body, url, site_origins, pattern, header_charset))


def listing_entries(
    body: bytes, url: str, site_origins: set[str], pattern: str, header_charset: str | None = None
) -> dict[str, str]:
    """Article links of this site in page order, each once, with the text of their first
    link (usually the headline). Relative links are resolved as a browser resolves them:
    against the page's `<base href>` when it has one (a listing at /Section/10104 with
    `<base href="/">` links `Detail/...` at /Detail/..., not /Section/Detail/...)."""
    root = parse_page(body, url, header_charset)
    matcher = clean.rule(pattern, "article_links")
    own = identity.origin(url)
    base = page_base(root, url)
    seen: dict[str, str] = {}
    for a in root.iter("a"):
        href = a.get("href")
        if not href:
            continue
        if (joined := identity.join_url(base, href)) is None:
            continue
        absolute = joined.split("#", 1)[0]
        if identity.known_origin(absolute, {own, *site_origins}) is None:
            continue
        try:
            matched = matcher.search(urlsplit(absolute).path)
        except clean.RuleTimeout as exc:
            # Which links are articles is not known for this page: it fails, named, and the
            # next pull tries again (a mirror is not to blame for the pattern).
            raise ExtractError(url, f"{exc}: no links taken", kind="rule-timeout") from None
        if matched:
            text = clean.line_text(a)
            if not seen.get(absolute):
                seen[absolute] = text
    return seen


# --- article pages -----------------------------------------------------------------------

SELECTOR_FIELDS = ("body", "title", "author", "published", "updated", "image", "caption", "section")


@dataclass(frozen=True)
class ArticleRules:
    """A source's own extraction rules: selectors that override the heuristics for a field,
    selectors of blocks to strip, and text patterns of blocks to strip."""

    selectors: Mapping[str, str] = field(default_factory=dict)
    strip: tuple[str, ...] = ()
    strip_text: tuple[clean.Searcher, ...] = ()
    # Normalised texts of the blocks this source repeats on its pages (`templates`).
    site_blocks: frozenset[str] = frozenset()

    @classmethod
    def of(cls, source: Source) -> ArticleRules:
        selectors = source.selectors.model_dump(exclude_none=True) if source.selectors else {}
        return cls(
            selectors=selectors,
            strip=tuple(source.strip),
            strip_text=tuple(
                clean.rule(p, f"strip_text[{i}]") for i, p in enumerate(source.strip_text)
            ),
        )


# trafilatura's settings for the article body, chosen with bench/extract_quality.py on the
# public real-page sets (mean F1 readability/trafilatura sets): fast=True, which skips the
# fallback extractors and picked a sidebar box on some pages, 0.786/0.889; fast=False with
# favor_recall 0.795/0.894, without 0.793/0.899 but then mirror copies in tests/corpus no
# longer collapse to one hash (82%): favor_recall stays.
TRAFILATURA_OPTIONS: dict[str, Any] = {"fast": False, "favor_recall": True}
# The safety net's second opinion (see `_safety_net`): trafilatura's own defaults.
SECOND_OPTIONS: dict[str, Any] = {"fast": False}
# The safety net: a body with less than this share of the text of the article block (as
# decided before cleaning) may have lost the article to a cleaning rule; then trafilatura
# runs on the untouched page, and when it finds that much more, its body is published.
SAFETY_SHARE = 0.5
# A body shorter than this is compared with trafilatura's on the untouched page whatever the
# article block promised: on real pages most losses were short bodies taken from the wrong
# block (a teaser, a profile box), and a short page costs little to extract twice.
SHORT_BODY = 2500
# `_continues`: words of theirs without one of our word triples that end a run of ours.
GAP = 30


# trafilatura's own markup names inline styling `<hi rend="...">`; a page that carries such a
# tag itself (with a rend trafilatura has no HTML for, e.g. `uppercase`) made it raise
# KeyError, and the article was lost. The page's own `hi` elements are plain spans to us.
_OWN_TAGS = ("hi",)


# trafilatura's main pass takes time that grows with the square of the inline elements in a
# block: 8,000 `<span>`s (or `<b>`, `<em>`...) in one paragraph took 4.5 s, 40,000 three
# minutes. Its output carries no such formatting, so on a page with more than this many in
# all (the most in the 1,120 public pages of the quality bench was 2,504) they are unwrapped,
# their text kept, before it runs.
MAX_FORMATTING = 5_000
_FORMATTING = ("span", "font", "b", "strong", "i", "em", "small", "u", "big", "tt", "mark")


def clamp_spans(root: etree._Element) -> None:
    """Cut each table cell's `colspan` to the cells of its table's widest row and its
    `rowspan` to its table's rows: more spans only empty cells. trafilatura fills what a
    span claims with empty cells (up to 100 by 100): a page of one-cell tables with
    `colspan="1000000" rowspan="65534"` (670 KB, 29,000 elements) took 26 s to extract."""
    rows_of: dict[etree._Element, list[etree._Element]] = {}
    for row in root.iter("tr"):
        holder = row.getparent()
        while holder is not None and holder.tag != "table":
            holder = holder.getparent()
        if holder is not None:
            rows_of.setdefault(holder, []).append(row)
    for rows in rows_of.values():
        cells = [[c for c in row if c.tag in ("td", "th")] for row in rows]
        limits = {"colspan": max(1, *map(len, cells)), "rowspan": len(rows)}
        for cell in (c for row in cells for c in row):
            for name, limit in limits.items():
                try:
                    too_many = int((cell.get(name) or "1").strip() or "1") > limit
                except ValueError:
                    continue
                if too_many:
                    cell.set(name, str(limit))


def _trafilatura_body(
    root: etree._Element, url: str, options: Mapping[str, Any] = TRAFILATURA_OPTIONS
) -> etree._Element | None:
    clamp_spans(root)
    if sum(1 for _ in root.iter(*_FORMATTING)) > MAX_FORMATTING:
        etree.strip_tags(root, *_FORMATTING)
        clean.join_texts(root.iter())
    for el in root.iter(*_OWN_TAGS):
        el.tag = "span"
        el.attrib.pop("rend", None)
    try:
        # `bare_extraction` and the HTML serialiser are what `trafilatura.extract(...,
        # output_format="html")` runs, without the content fingerprint it adds for its own
        # deduplication (5% of an ingest on real pages; ours is `core.identity`).
        # No `url`: trafilatura resolves a relative link against the site's origin alone
        # (`details.html` on /news/2024/x became /details.html, `#fn1` the home page).
        # The links of the body are resolved by `resolve_links`, as a browser does.
        document = trafilatura.bare_extraction(
            root,
            output_format="html",
            include_images=False,
            include_links=True,
            include_tables=True,
            include_comments=False,
            deduplicate=False,
            as_dict=False,
            **options,
        )
        extracted = (
            unicodedata.normalize("NFC", build_html_output(document))
            if isinstance(document, Document)
            else None
        )
    except Exception as exc:
        # Any failure inside the library on one page: hostile or odd markup must cost that
        # page, as a failure the mirror's health counts, never the pull.
        raise ExtractError(url, f"extraction failed: {type(exc).__name__}: {exc}") from None
    if not extracted:
        return None
    body_root = lxml.html.fragment_fromstring(
        extracted, create_parent="div", parser=clean.HTML_PARSER
    )
    body = next(iter(body_root.iter("body")), body_root)
    spacing.repair(body, root, glued=spacing.GLUED.search(extracted) is not None)
    return body


def main_content(root: etree._Element, url: str, rules: ArticleRules) -> etree._Element:
    """The article body of a cleaned page, as a container element (not yet tidied).

    The source's `body` selector when it matches, else trafilatura."""
    if selector := rules.selectors.get("body"):
        found = clean.select_elements(root, selector)
        if found:
            container = lxml.html.fragment_fromstring("<div></div>", parser=clean.HTML_PARSER)
            for el in found:
                container.append(_detached_copy(el))
            return container
    body = _trafilatura_body(root, url)
    if body is None:
        raise ExtractError(url, "no article body found", kind="no-article")
    return body


def _detached_copy(el: etree._Element) -> etree._Element:
    clone = lxml.html.fragment_fromstring(
        lxml.html.tostring(el, encoding="unicode"), parser=clean.HTML_PARSER
    )
    clone.tail = None
    return clone


# More body than any article holds: a long report is 100-200 KB of HTML, a 500-page book
# about 1 MB. A body past it is a broken or hostile page's; stored, it would be published
# whole in every feed document that lists it, rendered and compressed again on every change.
MAX_BODY_CHARS = 1_000_000


def assemble(meta: PageMeta, container: etree._Element, url: str) -> Page:
    """The Page: metadata plus the tidied body as HTML and as plain text blocks."""
    if not meta.title:
        raise ExtractError(url, "no title found", kind="no-article")
    body_text = "\n\n".join(block_texts(container))
    if not body_text.strip():
        raise ExtractError(url, "no article body found", kind="no-article")
    body_html = clean.fragment_html(container)
    if len(body_html) > MAX_BODY_CHARS:
        raise ExtractError(
            url,
            f"an article body of {len(body_html):,} characters, more than any article holds "
            f"(at most {MAX_BODY_CHARS:,}): refused",
            kind="too-large",
        )
    return Page(
        url=url,
        title=meta.title,
        body_html=body_html,
        body_text=body_text,
        published=meta.published,
        updated=meta.updated,
        author=meta.author,
        image_url=meta.image_url,
        image_caption=meta.image_caption,
        section_trail=meta.section_trail,
        canonical_link=meta.canonical_link,
        language=meta.language,
        summary=meta.description or body_text.split("\n\n", 1)[0],
    )


def repeats(root: etree._Element, meta: PageMeta) -> tuple[str, ...]:
    """Texts a body line may only repeat, never be: the headline, the caption and images'
    descriptions (a line that says what an image's alt says is its caption)."""
    alts = [
        a for img in root.iter("img", "amp-img") if len((a := img.get("alt") or "").split()) > 2
    ]
    return (meta.title or "", meta.image_caption or "", *alts)


def extract_article(
    body: bytes,
    url: str,
    *,
    header_charset: str | None = None,
    rules: ArticleRules | None = None,
    entry: FeedEntry | None = None,
    trace: clean.RuleTrace | None = None,
) -> Page:
    """An article page to a clean Page; a page with no article body raises ExtractError.

    `entry` is the feed entry that linked to the page: its dates, author and title fill in
    what the page itself does not say. `trace` is told every cleaning rule that removed
    something."""
    with clean.tracing(trace), clean.on_page(url):
        return _extract_article(body, url, header_charset=header_charset, rules=rules, entry=entry)


# More elements (comments and processing instructions counted) than any article page holds:
# the 239 public pages of readability's and trafilatura's test sets hold at most 9,888 (a
# Wikipedia article of 1 MB). Extraction costs 40-90 us an element, and trafilatura's main
# pass grows with the square of the paragraphs: 1 MB of `<p>w` (200,000) took 170 s, 1 MB
# of `<br>` 14 s, before the body's size was refused.
MAX_ELEMENTS = 30_000
_NODES = etree.XPath("count(//*) + count(//comment()) + count(//processing-instruction())")


def refuse_crowded(root: etree._Element, url: str) -> None:
    """Raise ExtractError (`too-large`) when the tree of `root` holds more than MAX_ELEMENTS
    elements: no article page has that many, and extracting one would hold a worker for
    seconds to minutes."""
    if (count := int(_NODES(root))) > MAX_ELEMENTS:
        raise ExtractError(
            url,
            f"a page of {count:,} elements, more than any article page holds "
            f"(at most {MAX_ELEMENTS:,}): not extracted",
            kind="too-large",
        )


def _extract_article(
    body: bytes,
    url: str,
    *,
    header_charset: str | None,
    rules: ArticleRules | None,
    entry: FeedEntry | None,
) -> Page:
    rules = rules or ArticleRules()
    root = parse_page(body, url, header_charset)
    refuse_crowded(root, url)
    base = page_base(root, url)
    meta = read_metadata(root, url, rules.selectors, entry)
    clean.drop_hidden(root)
    echoes = repeats(root, meta)
    selected = bool(rules.selectors.get("body"))  # the operator's selector decides the body
    dek = None if selected else standfirst(root, meta)
    # The page as its readers see it, before any cleaning, for the safety net (which never
    # overrides an operator's selector): a copy of the tree costs a tenth of parsing it again.
    shown = None if selected else copy.copy(root)
    expected = clean.strip_boilerplate(
        root, rules.strip, rules.strip_text, site_blocks=rules.site_blocks
    )
    try:
        container: etree._Element | None = main_content(root, url, rules)
    except ExtractError:
        container = None
    if container is not None:
        clean.tidy_body(container, rules.strip_text, echoes=echoes, author=meta.author)
    our_chars = len(clean.text_of(container)) if container is not None else 0
    lost = not our_chars or our_chars < SAFETY_SHARE * expected
    if shown is not None and (lost or our_chars < SHORT_BODY):  # no selector decided it
        container = _safety_net(
            container, root, shown, url, rules, meta, echoes, elsewhere=not lost
        )
    ours = len(clean.text_of(container)) if container is not None else 0
    if (
        not selected
        and meta.article_body
        # the declared text is never longer than its source: most pages stop here
        and ours < SAFETY_SHARE * len(meta.article_body)
    ):
        declared = _declared_body(meta.article_body)
        if declared is not None and ours < SAFETY_SHARE * len(clean.text_of(declared)):
            clean.tidy_body(declared, rules.strip_text, echoes=echoes, author=meta.author)
            container, ours = declared, len(clean.text_of(declared))
    if container is None or not ours:
        raise ExtractError(url, "no article body found", kind="no-article")
    resolve_links(container, base)
    if not selected:
        restore_headings(container, root, echoes)
    if not meta.title:
        # A page without any headline still has an article: its first words name it.
        first = next(iter(block_texts(container)), "")
        meta = dataclasses.replace(meta, title=_first_words(first) or None)
    page = assemble(meta, container, url)
    if dek and _shared(dek, page.body_text) < 0.5:
        page = dataclasses.replace(page, standfirst=dek)
    return page


# A description shorter than this is a label, not a standfirst.
STANDFIRST_CHARS = 40
_NOT_SHOWN = frozenset({"script", "style", "noscript", "template", "textarea", "title"})


def standfirst(root: etree._Element, meta: PageMeta) -> str | None:
    """The page's standfirst (dek): the description its metadata gives, when the page also
    shows it as a block of its own. Extraction often leaves it out with the article's header
    (headline, dek, byline); unless the body holds it already, it is `Page.standfirst`,
    published before the body. On trafilatura's evaluation set this was 0.925 -> 0.934 F1,
    no page worse; its reference bodies count the standfirst as article text."""
    want = " ".join((meta.description or "").split())
    if len(want) < STANDFIRST_CHARS or want in (meta.title, meta.image_caption):
        return None
    body = root.find("body")
    if body is None:
        return None
    for el in body.iter():
        if (
            el.text
            and not len(el)
            and el.tag not in _NOT_SHOWN
            and " ".join(el.text.split()) == want
        ):
            return want
    return None


_MARKUP = re.compile(r"<(?:p|br|div|h[2-6]|ul|ol|blockquote)\b", re.I)


def _declared_body(text: str) -> etree._Element | None:
    """The body a page's JSON-LD declares (`articleBody`) as a container: its own markup
    (without scripts and styles) when it has some, else a paragraph per line; None when
    its markup does not parse."""
    if _MARKUP.search(text):
        try:
            container = lxml.html.fragment_fromstring(
                text, create_parent="div", parser=clean.HTML_PARSER
            )
        except (etree.ParserError, ValueError):
            return None
        for el in list(container.iter(*clean.INERT_TAGS)):
            clean.drop_element(el)
        return container
    container = lxml.html.fragment_fromstring("<div></div>", parser=clean.HTML_PARSER)
    for line in text.splitlines():
        if line := " ".join(html.unescape(line).split()):
            etree.SubElement(container, "p").text = line
    return container


def page_base(root: etree._Element, url: str) -> str:
    """The address a page's relative links start from: its `<base href>` when it has one
    (itself relative to the page), else the page's own URL. As in HTML, the first base
    element that has an href counts: one with only a target (`<base target="_self">`) before
    it sets where links open, not where they lead."""
    for el in root.iter("base"):
        if el.get("href") is None:
            continue
        if href := el.get("href", "").strip():
            try:
                base = urljoin(url, href)
            except ValueError:
                return url
            return base if urlsplit(base).scheme in ("http", "https", "file") else url
        break  # an empty href is the page's own address
    return url


_UNRESOLVED = ("mailto:", "data:", "javascript:", "tel:")


def resolve_links(container: etree._Element, base: str) -> None:
    """Make the body's link and image addresses absolute against the page's `base`, in
    place: a link read later, in a feed, has no page to be relative to. A link to a place
    in the page (`#fn1`) becomes that place in the article's own address. An address that
    is not a URL is left for `clean.rewrite_links` to drop."""
    for el in container.iter("a", "img"):
        attr = "href" if el.tag == "a" else "src"
        value = (el.get(attr) or "").strip()
        if not value or value.lower().startswith(_UNRESOLVED):
            continue
        try:
            el.set(attr, urljoin(base, value))
        except ValueError:
            continue


def _first_words(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _safety_net(
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
    our_text = clean.text_of(ours) if ours is not None else ""
    page_text = clean.text_of(cleaned)
    # `shown` is the page before cleaning, without its hidden elements. trafilatura works on
    # a copy of the tree it is given: one shown page serves both opinions.
    theirs = _trafilatura_body(shown, url)
    if theirs is not None:
        clean.tidy_body(theirs, rules.strip_text, echoes=echoes, author=meta.author)
        their_text = clean.text_of(theirs)
        if len(our_text) < SAFETY_SHARE * len(their_text) and (
            not elsewhere
            or _shared(our_text, their_text) < 0.5
            or _shared(_added(our_text, their_text), page_text) >= 0.5
        ):
            return theirs
    if len(page_text) * SAFETY_SHARE <= len(our_text):
        return ours  # the cleaned page holds too little text to add as much as ours
    theirs = _trafilatura_body(shown, url, SECOND_OPTIONS)
    if theirs is None:
        return ours
    clean.tidy_body(theirs, rules.strip_text, echoes=echoes, author=meta.author)
    their_text = clean.text_of(theirs)
    if (
        len(our_text) < SAFETY_SHARE * len(their_text)
        and _continues(our_text, their_text)
        and _shared(_added(our_text, their_text), page_text) >= 0.5
    ):
        return theirs
    return ours


_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_LEAVES = ("p", "li", "blockquote", "pre", "dd", "dt", "td", *_HEADINGS)
# A subheading longer than this is a paragraph set in a heading's type.
HEADING_CHARS = 150


def _key(el: etree._Element) -> str:
    return clean.text_of(el).casefold()[:60]


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
            text = clean.text_of(el)
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
    if len(mine & set(grams)) < 0.5 * len(mine):  # `_shared` below 0.5
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
    return _shared(short, long) >= 0.5


def _shared(ours: str, theirs: str) -> float:
    """The share of our word triples that theirs holds too."""
    mine = _triples(ours)
    return len(mine & _triples(theirs)) / len(mine) if mine else 1.0


def _triples(text: str) -> set[tuple[str, ...]]:
    words = text.casefold().split()
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 0))}


def carries_full_text(entry: FeedEntry) -> bool:
    """A feed entry carries the article itself, not a teaser: it has content (content:encoded,
    atom:content) of at least 50 words and half as long again as its summary."""
    if not entry.content_html:
        return False
    words = len(_text_of_html(entry.content_html).split())
    teaser = len(_text_of_html(entry.summary or "").split())
    return words >= 50 and words >= 1.5 * teaser


def _text_of_html(fragment: str) -> str:
    if not fragment.strip():
        return ""
    return clean.text_of(parse_fragment(fragment))


def page_from_entry(entry: FeedEntry, rules: ArticleRules | None = None) -> Page:
    """A Page from what the feed entry itself carries (content, else summary), cleaned the
    same way as an article page."""
    rules = rules or ArticleRules()
    fragment = drop_illegal(entry.content_html or entry.summary or "")
    if not fragment.strip():
        raise ExtractError(entry.link, "feed entry carries no text", kind="no-article")
    container = parse_fragment(fragment)
    refuse_crowded(container, entry.link)
    with clean.on_page(entry.link):
        clean.drop_hidden(container)
        clean.strip_boilerplate(container, rules.strip, rules.strip_text)
        clean.tidy_body(
            container, rules.strip_text, echoes=(entry.title or "",), author=entry.author
        )
    meta = PageMeta(
        title=" ".join((entry.title or "").split()) or None,
        # An Atom entry must say when it was updated, not when it was published (a JSON Feed
        # item may give either alone): the one time it gives is its publication too.
        published=entry.published or entry.updated,
        updated=entry.updated,
        author=entry.author,
        image_url=None,
        image_caption=None,
        section_trail=(),
        canonical_link=None,
        language=None,
        description=None,
    )
    return assemble(meta, container, entry.link)


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


def block_texts(container: etree._Element) -> list[str]:
    """The text of the body as blocks: paragraphs, headings, list items, cells, and any loose
    text between them, each once."""
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
            if isinstance(child.tag, str) and (
                child.tag in _CONTAINERS or child.tag in clean.BLOCK_TAGS
            ):
                flush()
                if child.tag in clean.BLOCK_TAGS and not _has_blocks(child):
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
        isinstance(d.tag, str) and (d.tag in clean.BLOCK_TAGS or d.tag in _CONTAINERS)
        for d in el.iterdescendants()
    )


# --- site templates ----------------------------------------------------------------------
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
    for el in root.iter(*clean.TEMPLATE_TAGS):
        text = clean.text_of(el)
        if TEMPLATE_MIN_CHARS <= len(text) <= boilerplate.MAX_BLOCK:
            found.add(boilerplate.normal_block(text))
    return frozenset(found)


def blocks_of(body: bytes, url: str, header_charset: str | None = None) -> frozenset[str]:
    """The block texts of one page's bytes; nothing for bytes that are not a page."""
    try:
        root = parse_page(body, url, header_charset)
    except ExtractError:  # a page that does not parse teaches nothing
        return frozenset()
    for el in list(root.iter("script", "style", "noscript", "template")):
        clean.drop_element(el)
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
