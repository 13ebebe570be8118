"""Bytes to text to trees: character-set detection (the HTTP header, a byte-order mark, the
document's own declaration, then a guess), characters XML cannot carry dropped, the HTML
parse every page goes through (a tree nested past `FLAT_DEPTH` is laid flat), a page's base
URL, and the cheap checks a hostile or binary body meets first (`crowded_element`,
`binary_kind`). Pure: bytes in, text and lxml trees out, no I/O.
"""

from __future__ import annotations

import codecs
import functools
import re
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import lxml.html
from lxml import etree

from syndicator.core.errors import ExtractError
from syndicator.extract import page_tree

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
# Each mark names its byte order: given "utf-16" alone, feedparser read a big-endian feed as
# little-endian and refused it as not well-formed. Decoded here, the mark is dropped from
# the text (`_decode_text`).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The two- and four-byte encodings: by their marks (UTF-32's first, its little-endian one
# begins with UTF-16's), else by where an XML document's first character, ASCII, leaves its
# NULs, as the XML spec's appendix F reads them.
_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32-le", 4),
    (codecs.BOM_UTF32_BE, "utf-32-be", 4),
    (codecs.BOM_UTF16_LE, "utf-16-le", 2),
    (codecs.BOM_UTF16_BE, "utf-16-be", 2),
)
_UNMARKED_WIDE = (
    (re.compile(rb"[\x01-\x7f]\0\0\0"), "utf-32-le", 4),
    (re.compile(rb"\0\0\0[\x01-\x7f]"), "utf-32-be", 4),
    (re.compile(rb"[\x01-\x7f]\0[^\0]"), "utf-16-le", 2),
    (re.compile(rb"\0[\x01-\x7f]"), "utf-16-be", 2),
)


def wide_encoding(body: bytes) -> tuple[str, int, int] | None:
    """The UTF-16 or UTF-32 codec of its byte order the body is in, the size of its code
    unit and how many bytes its mark takes (0 for none); None for any other encoding."""
    for bom, codec, unit in _WIDE:
        if body.startswith(bom):
            return codec, unit, len(bom)
    for pattern, codec, unit in _UNMARKED_WIDE:
        if pattern.match(body):
            return codec, unit, 0
    return None


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

    A byte-order mark decides (UTF-32's before UTF-16's), and so do the NULs of a body that
    a declaration calls UTF-16 or UTF-32 without a byte order (`wide_encoding`). Otherwise
    the declarations are read in the order browsers read them (HTTP header, XML declaration,
    meta tag), but believed only when the body agrees: mirrors of one site are often
    configured by different hands, and one that sends UTF-8 as Latin-1 or windows-1256 as
    UTF-8 must not make a second, garbled copy of an article. A body with non-ASCII bytes
    that is valid UTF-8, or nearly (`_mostly_utf8`), is UTF-8 (text in a legacy code page is
    practically never valid UTF-8 by chance); a declaration that the bytes cannot be decoded
    with is passed over; with none left, charset-normalizer weighs the legacy code pages.
    """
    if (wide := wide_encoding(body)) is not None and (wide[2] or _says_wide(body, header_charset)):
        return wide[0]
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    head = body[:4096]
    declared = [_known(header_charset)]
    for pattern in (_XML_DECL, _META_CHARSET):
        if m := pattern.search(head):
            declared.append(_known(m.group(1).decode("ascii", "replace")))
    if _server_default(header_charset) and _XML_DECL.search(head):
        # The XML declaration first: what the header says is the server's default.
        declared[:2] = declared[1::-1]
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


# What a header says when it is the server's default rather than the document's charset:
# HTTP/1.1's own default (RFC 2616), and what Apache's `AddDefaultCharset On` sends.
_SERVER_DEFAULTS = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "iso_8859-1"})


def _server_default(header_charset: str | None) -> bool:
    """The header names ISO-8859-1, which a server sends for any document it is not told
    the charset of: an XML document's own declaration (a feed's, written by the program
    that wrote its bytes) says better. Latin-1 decodes any bytes, so believed, it passed
    for the charset of a feed in windows-1256 or windows-1251 whose XML declaration said
    so, and every headline was published as mojibake ("ÇáÍßæãÉ"). An HTML page's meta tag
    is not preferred so: browsers read such a page as the header says, and so does this."""
    return (header_charset or "").strip().strip("'\"").lower() in _SERVER_DEFAULTS


def _says_wide(body: bytes, header_charset: str | None) -> bool:
    """The header or the XML declaration names UTF-16 or UTF-32 (by any of its labels:
    `utf16`, `UTF_32`, `ucs-2`) without its byte order: bytes of no mark are then in the
    order their NULs show (read in this machine's order, a big-endian feed was refused as
    no XML)."""
    labels = [header_charset or ""]
    if m := _XML_DECL.search(body[:400].replace(b"\0", b"")):
        labels.append(m.group(1).decode("ascii", "replace"))
    return any(
        (_known(label) or label.strip().lower()).startswith(_WIDE_LABELS) for label in labels
    )


_WIDE_LABELS = ("utf-16", "utf-32", "ucs-2", "ucs-4", "iso-10646-ucs")


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
    # validate.check and parse_page ask this of one page one after the other, of the very
    # text `decode`'s cache returns: the answer for the last text is kept, that text known
    # by identity (hashing it would cost what counting does).
    last, count = _last_crowded[0]
    if text is last:
        return count
    count = _crowded_element(text)
    if len(text) <= DECODE_CACHE_BYTES:
        _last_crowded[0] = (text, count)
    return count


_last_crowded: list[tuple[str, int]] = [("", 0)]


def _crowded_element(text: str) -> int:
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
    root = lxml.html.document_fromstring(text, parser=page_tree.HTML_PARSER, base_url=url)
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
    container = lxml.html.fragment_fromstring(
        text, create_parent="div", parser=page_tree.HTML_PARSER
    )
    if _NEAR_DEPTH_LIMIT(container.getroottree().getroot()):
        container = lxml.html.fragment_fromstring(
            text, create_parent="div", parser=page_tree.DEEP_HTML_PARSER
        )
        for element in _BELOW_FLAT_DEPTH(container):
            _lay_flat(element)
    return container


def _parse_deep(text: str, url: str | None) -> etree._Element:
    root = lxml.html.document_fromstring(text, parser=page_tree.DEEP_HTML_PARSER, base_url=url)
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


def text_of_html(fragment: str) -> str:
    if not fragment.strip():
        return ""
    return page_tree.text_of(parse_fragment(fragment))
