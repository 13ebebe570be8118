"""What servers get wrong in the sitemaps they send, mended before libxml2 reads them.

libxml2 refuses a document whole for faults feed readers read past: what a PHP theme or
plugin printed before the XML declaration or after the end tag, control characters XML
forbids, bytes in another charset than the declared one, bare `&`s, HTML's entity
references (`&nbsp;`), namespace prefixes never declared (`news:`). A sitemap refused so
gave its section nothing from that mirror.
`mend` gives libxml2 the bytes it can read; `sitemaps.parse_sitemap` reads them.

Pure: bytes in, bytes out.
"""

from __future__ import annotations

import codecs
import re
from html.entities import name2codepoint

from syndicator.extract import decoding

# How far into a sitemap its XML declaration is looked for, after what a server printed first.
BEFORE_DECLARATION = 4096
# A sitemap's end tag, and how far from the end of the body it is looked for: past what a
# server printed after it.
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex)\s*>")
_AFTER_ROOT = 8192
# An XML declaration that names a two- or four-byte encoding (UTF-16, UTF-32, UCS-2, UCS-4).
_WIDE_DECLARATION = re.compile(
    rb"""(<\?xml[^>]{0,200}?encoding\s*=\s*["'])(?:utf|ucs)-?(?:16|32|2|4)[a-z]*(["'])""",
    re.IGNORECASE,
)


def mend(data: bytes, header_charset: str | None = None) -> bytes:
    """The bytes, as UTF-8 when they are UTF-32 with a byte order mark; and on a document
    that holds no NUL, a declaration of UTF-16 or UTF-32 taken for UTF-8: ASCII text is
    neither (a CMS copies its page encoding into the declaration), and libxml2 refuses the
    document whole. Browsers do the same for pages. What libxml2 refused the document whole
    for, and feed readers read past, is mended: what a server printed before the declaration
    or after the end tag, control characters XML forbids, bytes in another charset than the
    declared one, bare `&`s and HTML's entity references."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        # libxml2 reads UTF-32 whole but not as a stream: give it UTF-8.
        try:
            data = data.decode("utf-32").encode("utf-8")
        except UnicodeDecodeError:
            return data
    if b"\0" in data[:4096]:
        return data
    # Blank lines before the XML declaration (a PHP theme or plugin that prints one: "XML
    # declaration allowed only at the start of the document"), as feed readers read them;
    # and PHP's notices and warnings printed there (`<b>Deprecated</b>: ... on line <b>12
    # </b><br />`): nothing before the declaration is the document.
    unpadded = data.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    if unpadded.startswith(b"<?xml") and len(unpadded) < len(data):
        data = unpadded
    elif (declaration := data.find(b"<?xml", 0, BEFORE_DECLARATION)) > 0 and not any(
        tag in data[:declaration].lower() for tag in (b"<html", b"<urlset", b"<sitemapindex")
    ):
        data = data[declaration:]
    # What a server printed after the document's end (PHP's "Notice: ob_end_flush(): Failed
    # to send buffer" under a WordPress sitemap) is no part of it: libxml2 refused the
    # sitemap whole for it ("Extra content at the end of the document").
    ends = [m.end() for m in _ROOT_END.finditer(data, max(0, len(data) - _AFTER_ROOT))]
    if ends and data[ends[-1] :].strip():
        data = data[: ends[-1]]
    # Control characters XML forbids, raw or as references (a headline pasted from a word
    # processor holds a vertical tab): libxml2 refused the sitemap whole for one. They carry
    # no text (`decoding.drop_illegal` drops them from a feed's). An escape byte is kept: in
    # ISO-2022-JP it switches the character set.
    if b"\x1b" not in data:
        data = data.translate(None, _ILLEGAL_BYTES)
    data = _ILLEGAL_REF.sub(b"", data)
    data = _ampersands_escaped(_in_utf8(data, header_charset))
    data = _HTML_ENTITY.sub(_as_character_reference, data)
    data = _WIDE_DECLARATION.sub(rb"\1utf-8\2", data[:300], count=1) + data[300:]
    return _prefixes_declared(data)


_DECLARED = re.compile(rb"""<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")


def _same_codec(label: str, codec: str) -> bool:
    try:
        return codecs.lookup(label).name == codecs.lookup(codec).name
    except LookupError:
        return False


def _in_utf8(data: bytes, header_charset: str | None = None) -> bytes:
    """The bytes as libxml2 must read them: when they are not in the charset their XML
    declaration names (UTF-8 when it names none), they are given in UTF-8, read in the
    charset they are really in (`decoding.detect_charset`, given the HTTP header's charset,
    as a feed's are). A legacy CMS's windows-1252 headline in a sitemap that says UTF-8 had
    it refused whole ("Invalid bytes in character encoding"); a template's ISO-8859-1 over
    UTF-8 bytes made every Persian or Arabic address mojibake, fetched and never found; and
    so did windows-1256 bytes the header named, under a declaration that names another
    charset or none."""
    if data.isascii():
        return data
    declared = _DECLARED.match(data)
    label = declared[1].decode("ascii") if declared else "utf-8"
    charset = decoding.detect_charset(data, header_charset)
    if _same_codec(label, charset) and (charset != "utf-8" or _valid_utf8(data)):
        return data
    text = data.decode(charset, errors="replace").encode("utf-8")
    if declared is None:
        return text
    return _DECLARED.sub(lambda m: m[0].replace(m[1], b"utf-8"), text[:300], count=1) + text[300:]


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# A reference to an entity XML does not define (all but its five), by a name HTML gives.
_HTML_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")
# An `&` that begins no reference: a generator that did not escape a query string's
# (`?id=12&cat=4`) or a headline's (`Trade & tariffs`), and libxml2 refused the sitemap whole.
# C0 controls but tab, newline and carriage return: in UTF-8 and the legacy charsets but
# ISO-2022's (its escape sequences), a byte below 0x20 is always one of them.
_ILLEGAL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_ILLEGAL_REF = re.compile(
    rb"&#(?:0*(?:[0-8]|1[1-24-9]|2[0-9]|3[01])|[xX]0*(?:[0-8bcefBCEF]|1[0-9a-fA-F]));"
)
_BARE_AMPERSAND = re.compile(rb"&(?![A-Za-z][A-Za-z0-9._-]*;|#[0-9]+;|#[xX][0-9a-fA-F]+;)")


def _ampersands_escaped(data: bytes) -> bytes:
    """The bytes with each bare `&` written `&amp;`, but in CDATA sections, where `&` is
    itself (found with `find`, in one pass: a pattern for them took time on the square of
    a body of unclosed ones)."""
    if b"&" not in data:
        return data
    parts, at = [], 0
    while (start := data.find(b"<![CDATA[", at)) >= 0:
        parts.append(_BARE_AMPERSAND.sub(b"&amp;", data[at:start]))
        end = data.find(b"]]>", start)
        at = len(data) if end < 0 else end + 3
        parts.append(data[start:at])
    parts.append(_BARE_AMPERSAND.sub(b"&amp;", data[at:]))
    return b"".join(parts)


def _as_character_reference(found: re.Match[bytes]) -> bytes:
    """An HTML entity reference (`&nbsp;`, `&rsquo;`: a CMS writes its headlines into a news
    sitemap as into its pages) as the character reference XML reads: libxml2 refused the
    sitemap whole for one. Any other name is left to be refused as it was."""
    code = name2codepoint.get(found[1].decode("ascii"))
    return found[0] if code is None else b"&#%d;" % code


# The namespaces of the sitemaps protocol's extensions, by the prefixes their documentation
# writes them with; any other prefix a sitemap leaves undeclared is given one of its own
# (what it prefixes is not read: only these extensions' elements are).
_EXTENSIONS = {
    b"news": b"http://www.google.com/schemas/sitemap-news/0.9",
    b"image": b"http://www.google.com/schemas/sitemap-image/1.1",
    b"video": b"http://www.google.com/schemas/sitemap-video/1.1",
    b"mobile": b"http://www.google.com/schemas/sitemap-mobile/1.0",
    b"xhtml": b"http://www.w3.org/1999/xhtml",
    b"xsi": b"http://www.w3.org/2001/XMLSchema-instance",
}
# A prefixed name in a start tag (an element's, or an attribute's within one), a namespace
# declaration, and the root element's start tag, up to the end of its name.
_PREFIXED = re.compile(rb"<([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=")
_DECLARATION = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_ROOT_NAME = re.compile(rb"<(?:[\w.-]+:)?(?:urlset|sitemapindex)(?=[\s/>])")
# How much of a sitemap its prefixes are gathered from: its first entries use them all.
_PREFIXES_WITHIN = 1024 * 1024


def _prefixes_declared(data: bytes) -> bytes:
    """The bytes with each namespace prefix the sitemap uses but never declares declared on
    its root element (`<news:news>` with no `xmlns:news`, `xsi:schemaLocation` with no
    `xmlns:xsi`): libxml2 refused the sitemap whole for one ("Namespace prefix news on news
    is not defined"), which feed readers read past, and the section got nothing from it."""
    head = data[:_PREFIXES_WITHIN]
    used = {m[1] or m[2] for m in _PREFIXED.finditer(head)}
    missing = used - set(_DECLARATION.findall(head)) - {b"xml", b"xmlns"}
    if missing and len(data) > len(head):
        missing -= set(_DECLARATION.findall(data, len(head)))
    if not missing or (root := _ROOT_NAME.search(data, 0, _PREFIXES_WITHIN)) is None:
        return data
    declared = b"".join(
        b' xmlns:%s="%s"' % (p, _EXTENSIONS.get(p, b"urn:x-undeclared:" + p))
        for p in sorted(missing)
    )
    return data[: root.end()] + declared + data[root.end() :]
