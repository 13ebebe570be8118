"""What a feed's document type declaration may declare, and HTML's named characters in a feed
that names a DTD. A declaration of entities is what an XML bomb (billion laughs, a quadratic
blow-up) or an external entity is made of, and is refused (`declares_entities`), but for the
harmless ones old feeds make: characters by reference, XML's five predefined entities as the
XML specification declares them, and the W3C's public entity sets of characters (XHTML's,
HTML 4's), which are named and never fetched. A feed under a DTD (Netscape's RSS 0.91, an
entity set) writes HTML's entities by name (`&eacute;`): they are read as HTML's characters
(`references_resolved`). Also the name of the root element that follows the prolog
(`root_name`). Pure: bytes in, a verdict or bytes out; nothing is loaded or fetched.
"""

from __future__ import annotations

import html.entities
import re

from lxml import etree

from syndicator.extract.decoding import wide_encoding

# Where feedparser cuts the prolog it rewrites: before the first start tag, as it finds one.
_FEEDPARSER_HEAD_END = re.compile(r"<\w")
# A declaration a feed may make that expands to next to nothing and fetches nothing: an
# entity whose value is a character or a few by reference (`<!ENTITY nbsp "&#160;">`).
_CHARACTERS = r"(?:&#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});){1,4}"
# An internal entity of a short value, judged by `_harmless_value`.
_SHORT_TEXT = 64
_SHORT_ENTITY = re.compile(r"""<!ENTITY\s+([\w.:-]+)\s+(["'])([^"'<>%]{0,64})\2\s*>""")
_REFERENCE = re.compile(r"&#(x?)([0-9A-Fa-f]+);")
# Characters that, given by reference in an entity's value, make markup of its replacement
# text (`&#38;#38;` is `&#38;` again): no character entity of HTML's is one of them.
_MARKUP_CHARACTERS = frozenset("&<%")
# XML's predefined entities, which a document may declare again, as the XML specification
# does in section 4.6 (`<!ENTITY lt "&#38;#60;">`, `<!ENTITY gt "&#62;">`): the W3C's
# entity set for XHTML's special characters does, and feeds that copy it in with it.
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
# The W3C's (and ISO 8879's) public entity sets of characters, each named by a parameter
# entity and its reference, as XHTML's and HTML 4's DTDs name them:
# `<!ENTITY % HTMLlat1 PUBLIC "-//W3C//ENTITIES Latin 1 for XHTML//EN"
# "http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent"> %HTMLlat1;`. Nothing loads them (feedparser's
# parser loads no external entity; the check's parser neither loads nor fetches); their
# characters are HTML's, read as such (`references_resolved`).
_ENTITY_SET = re.compile(
    r"""<!ENTITY\s+%\s+([\w.:-]+)\s+PUBLIC\s+(["'])((?:-//W3C//|ISO 8879:1986//)ENTITIES """
    r"""[^"'<>]*)\2\s+(["'])(https?://[^"'<>\s]+)\4\s*>"""
)


def _characters(value: str) -> bool:
    """A value of a character or a few, each by reference, none that makes markup."""
    return re.fullmatch(_CHARACTERS, value) is not None and not any(
        chr(int(code, 16 if hexadecimal else 10)) in _MARKUP_CHARACTERS
        for hexadecimal, code in _REFERENCE.findall(value)
    )


def _predefined(name: str, value: str) -> bool:
    """One of XML's five predefined entities declared as the XML specification does: its
    character by reference, or for `<` and `&`, a reference to it by reference."""
    char = _PREDEFINED.get(name)
    if char is None:
        return False
    once = _REFERENCE.sub(lambda m: chr(int(m[2], 16 if m[1] else 10)), value)
    if once == char:
        return char not in "<&"
    found = _REFERENCE.fullmatch(once)
    return found is not None and chr(int(found[2], 16 if found[1] else 10)) == char


def _text(value: str) -> bool:
    """A short text (`_SHORT_ENTITY` bounds it), characters by reference among it, none that
    makes markup, and no other reference: no entity inside another, what a billion-laughs
    bomb nests."""
    try:
        codes = [
            int(code, 16 if hexadecimal else 10) for hexadecimal, code in _REFERENCE.findall(value)
        ]
        chars = [chr(code) for code in codes]
    except (ValueError, OverflowError):
        return False
    return (
        len(value) <= _SHORT_TEXT
        and "&" not in _REFERENCE.sub("", value)
        and not _MARKUP_CHARACTERS & set(chars)
    )


def _harmless_value(name: str, value: str) -> bool:
    if name in _PREDEFINED:
        return _predefined(name, value)
    return _characters(value) or _text(value)


def declares_entities(body: bytes) -> bool:
    """The document declares XML entities in its DTD (`<!DOCTYPE rss [<!ENTITY ...>]>`):
    what a billion-laughs bomb, a quadratic blow-up or an external entity is made of, and
    no feed needs. feedparser does not expand them, but keeps the references as text: a
    bomb's title was published as "&lol9;" after 1.6 s of expat's parsing, a blow-up's
    description as 120 KB of "&amp;a". An external DTD (`<!DOCTYPE rss PUBLIC ...>`) is no
    declaration, nor is one in the content (an XML lesson in CDATA), nor one of a character
    by reference, nor XML's predefined entities declared as the XML specification does, nor
    a W3C entity set of characters (`_ENTITY_SET`): feeds that declared `&nbsp;` or named
    XHTML's entity sets, as older CMSs do, were refused on every pull. Declarations are
    looked for where either parser takes them: anywhere in the prolog feedparser rewrites
    (it gathers them from there, wherever they stand, and declares them again: one after
    `<!DOCTYPE rss []>` expanded a 120 KB feed into a 100 MB description in 5 s), and in the
    internal subset as an XML parser reads it (`_subset_entities`): what it finds there
    must be what the prolog showed."""
    wide = wide_encoding(body)
    if b"<!ENTITY" not in body and wide is None:
        return False  # the usual case: one scan of the bytes
    text = body.decode(wide[0], errors="replace") if wide else body.decode("latin-1")
    if "<!ENTITY" not in text or "<!DOCTYPE" not in text:
        return False
    head_end = _FEEDPARSER_HEAD_END.search(text)
    head = text[: head_end.start() + 1] if head_end else text
    sets: list[tuple[str, str]] = []
    at = head.find("<!ENTITY")
    while at >= 0:
        if (declared := _SHORT_ENTITY.match(head, at)) is not None:
            if not _harmless_value(declared[1], declared[3]):
                return True
        elif (declared := _ENTITY_SET.match(head, at)) is not None:
            sets.append((declared[1], declared[5]))
        else:
            return True
        at = head.find("<!ENTITY", declared.end())
    entities = _subset_entities(body)
    if entities is None:
        return True
    external = sorted(
        (e.name, e.system_url or "")
        for e in entities
        if e.system_url is not None or e.orig is None or not _harmless_value(e.name, e.orig)
    )
    return external != sorted(sets)


def _subset_entities(body: bytes) -> list[etree._Entity] | None:
    """The entities the document's internal subset declares, as libxml2 reads them (nothing
    expanded, loaded or fetched), read up to the root element's start; None when the
    document is no XML that far."""
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, load_dtd=False, no_network=True
    )
    try:
        for at in range(0, len(body), 4096):
            parser.feed(body[at : at + 4096])
            for _event, element in parser.read_events():
                subset = element.getroottree().docinfo.internalDTD
                return list(subset.iterentities()) if subset is not None else []
    except etree.XMLSyntaxError:
        return None
    return None


# A reference by name outside CDATA, and the CDATA sections it is looked for outside of.
_NAMED = re.compile(rb"<!\[CDATA\[.*?\]\]>|&([A-Za-z_][\w.:-]{0,63});", re.S)
_DOCTYPE = re.compile(rb"<!DOCTYPE\s", re.I)
# Charsets in which an ASCII `&` byte may be part of another character.
_SHIFTING = ("iso2022", "iso-2022", "utf-7", "utf_7", "hz")


# How much the entities a feed declares may add to it: as much again as it holds, at least
# this much.
EXPANSION_ALLOWED = 1024 * 1024


def references_resolved(body: bytes, charset: str) -> bytes | None:
    """The feed with the entities it declares (`<!ENTITY site "Example News">`, text or
    characters that `declares_entities` let pass) written out where they are referred to,
    and HTML's named characters (`&eacute;`, `&rsquo;`, `&nbsp;`) written as character
    references, when it names a DTD (Netscape's RSS 0.91, XHTML's entity sets) before its
    root element; XML's five are kept, and so is text in CDATA. None when the declared
    entities would add more than the feed holds (and EXPANSION_ALLOWED): what a blow-up of
    short texts is. Under a DTD the parser does not load, an XML parser takes a name it does
    not know for one the DTD declares and skips it, without an error: a Netscape RSS 0.91
    feed whose DOCTYPE followed its XML declaration on the same line was read with every
    such character dropped ("Libyas", "Caf"); and feedparser declares a feed's entities
    again only where its DOCTYPE stands on a line of its own. Bytes in a charset where `&`
    may be part of another character are left as they are."""
    wide = wide_encoding(body)
    if wide is not None:
        codec, _unit, mark = wide
        try:
            data = body[mark:].decode(codec).encode("utf-8")
        except UnicodeError:
            return body
    elif charset.lower().replace("_", "-").startswith(_SHIFTING):
        return body
    else:
        data = body
    root = _FEEDPARSER_HEAD_BYTES.search(data)
    head_end = root.start() if root else len(data)
    if not _DOCTYPE.search(data, 0, head_end):
        return body
    declared = {
        m[1]: m[3]
        for m in _SHORT_ENTITY_BYTES.finditer(data, 0, head_end)
        if m[1].decode("ascii", "replace") not in _PREDEFINED
    }
    room = max(len(data), EXPANSION_ALLOWED)

    def resolved(found: re.Match[bytes]) -> bytes:
        nonlocal room
        name = found[1]
        if name is None:
            return found[0]
        if (value := declared.get(name)) is None:
            return _reference(found)
        room -= len(value)
        if room < 0:
            raise _TooLarge
        return value

    try:
        converted = _NAMED.sub(resolved, data[head_end:])
    except _TooLarge:
        return None
    converted = data[:head_end] + converted
    if converted == data:
        return body
    if wide is not None:
        return body[:mark] + converted.decode("utf-8").encode(codec)
    return converted


class _TooLarge(Exception):
    """The declared entities would add more than `references_resolved` allows."""


_SHORT_ENTITY_BYTES = re.compile(_SHORT_ENTITY.pattern.encode("ascii"))


_FEEDPARSER_HEAD_BYTES = re.compile(rb"<[A-Za-z_]")


def _reference(found: re.Match[bytes]) -> bytes:
    name = found[1]
    if name is None or name.decode("ascii", "replace") in _PREDEFINED:
        return found[0]
    chars = html.entities.html5.get(name.decode("ascii", "replace") + ";")
    if chars is None:
        return found[0]
    return "".join(f"&#{ord(c)};" for c in chars).encode("ascii")


# Before the root element: blanks, the XML declaration and other instructions, comments and
# a doctype (its internal subset in brackets); then the root's start tag, its name.
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S | re.I)
_ROOT_NAME = re.compile(r"<(?:[A-Za-z0-9_.-]+:)?([A-Za-z0-9_.-]+)[\s/>]")
# How far into the document its root element is looked for.
_ROOT_WITHIN = 8192


def root_name(body: bytes) -> str:
    """The local name of the document's root element, as written ("rss", "CHANNEL"), read
    past its prolog; "" when its first bytes hold none."""
    head = body[: 4 * _ROOT_WITHIN]
    wide = wide_encoding(head)
    text = head.decode(wide[0] if wide else "latin-1", errors="replace")[:_ROOT_WITHIN]
    text = text.removeprefix("\ufeff").removeprefix("ï»¿")
    prolog = _PROLOG.match(text)
    found = _ROOT_NAME.match(text, prolog.end() if prolog else 0)
    return found[1] if found else ""
