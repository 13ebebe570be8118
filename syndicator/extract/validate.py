"""Is this 200 answer what was asked for? Recognises the pages a broken, blocked or seized
mirror serves instead of content: seizure and block notices, captchas and bot challenges,
parked-domain pages, login walls, HTML cut short, plus a source's own `reject_if` markers.

Such a page counts as a mirror failure and never becomes an article. Feeds are checked by
`extract.parse_feed` too (HTML or truncated bytes where a feed was expected); this module adds
the notice checks that name what the page is. Pure: bytes in, a verdict (or RejectedPage) out.

Our own rules rather than a library: no maintained package recognises these pages. They
look only where a notice shows itself (title, first heading, or the whole text of a short
page), so an article that reports on a seizure is not taken for a seizure notice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from lxml import etree

from syndicator.core.errors import RejectedPage
from syndicator.core.models import FeedEntry
from syndicator.extract.decoding import binary_kind, crowded_element, decode

# A notice page is short; an article or a listing is not.
SHORT_PAGE = 2500
# Visible characters under which a challenge widget in the markup (a captcha, a parking
# service) makes the page a notice: challenge pages say a sentence or two.
MARKER_PAGE = 800

_NOTICES: dict[str, tuple[str, ...]] = {
    "seized": (
        r"this (?:web ?site|domain|site)(?: name)? has been seized",
        r"(?:web ?site|domain) (?:was|has been) seized by",
        r"seized (?:by|pursuant to) (?:the )?(?:united states|u\.s\.|fbi|federal|order|a )",
        r"seizure warrant",
    ),
    "blocked": (
        r"access to this (?:web ?site|site|page|domain|resource) (?:has been|is) "
        r"(?:blocked|restricted|denied|forbidden)",
        r"this (?:web ?site|site|domain|page) (?:has been|is) blocked",
        r"blocked (?:by|on the|in accordance with|pursuant to) (?:an? )?(?:court |legal )?order",
        r"unavailable for legal reasons",
        # The national block pages of Russia (Roskomnadzor's) and Turkey (BTK's).
        r"доступ к (?:информационному )?ресурсу (?:ограничен|заблокирован)",
        r"erişim engellenmiştir|erişim engellendi",
    ),
    "captcha": (
        r"\bcaptcha\b",
        r"verify (?:that )?you are (?:a )?human",
        r"are you a robot",
        r"attention required! \| cloudflare",
        r"checking (?:if the site connection is secure|your browser before accessing)",
        r"\bcf-challenge\b|\bg-recaptcha\b|\bh-captcha\b|challenges\.cloudflare\.com",
    ),
    "parked": (
        r"this domain (?:name )?(?:is|may be) for sale",
        r"buy this domain",
        r"domain (?:is )?parked",
        r"parked (?:free|domain)",
        r"sedoparking|parkingcrew|bodis\.com|dan\.com/buy-domain",
    ),
    "login-wall": (
        r"(?:sign|log) ?in to (?:continue|read|view|access)",
        r"please (?:sign|log) ?in",
        r"you must be (?:signed|logged) in",
        r"subscribe to (?:continue|keep) reading",
    ),
}
_PATTERNS = {kind: re.compile("|".join(ps), re.I) for kind, ps in _NOTICES.items()}
_HTML_OPEN = re.compile(rb"<html[\s>]", re.I)
_HTML_CLOSE = re.compile(rb"</html\s*>", re.I)
# HTML may leave </body> and </html> out, and many pages do: one that ends on a closing tag or
# a comment's end is whole. Cut at a random byte, a page ends in text or inside a tag. (Cuts
# the transport sees, a short Content-Length or chunked body, fail before this.)
_CLOSED_END = re.compile(rb"(?:</[a-zA-Z][a-zA-Z0-9]*\s*>|-->)\s*$")
# ... unless it ends with an `article` or `main` element still open: a page may leave out
# `</body></html>`, hardly ever those. Cut after a paragraph's `</p>` (a connection closed
# mid-body where no length or chunking told the end), the article's first paragraphs were
# stored as the whole article, and the mirror was `healthy`.
_OPENED = {
    name: (re.compile(rb"<" + name + rb"[\s>]", re.I), re.compile(rb"</" + name + rb"\s*>", re.I))
    for name in (b"article", b"main")
}


def _left_open(body: bytes) -> str | None:
    """The `article` or `main` element a page without `</html>` leaves open, if any."""
    for name, (opening, closing) in _OPENED.items():
        if len(opening.findall(body)) > len(closing.findall(body)):
            return name.decode()
    return None


def _text(el: etree._Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _visible_text(root: etree._Element, limit: int = SHORT_PAGE) -> str:
    """The page's visible text, read only until it is longer than `limit` characters
    (beyond that the page is not short, and the rest says nothing more)."""
    body = next(iter(root.iter("body")), root)
    parts = []
    size = 0
    for el in body.iter():
        if el.tag in ("script", "style", "noscript", "template") or not isinstance(el.tag, str):
            continue
        if el.text and el.getparent() is not None:
            parts.append(el.text)
            size += len(el.text.strip())
        if el.tail and el is not body:
            parts.append(el.tail)
            size += len(el.tail.strip())
        if size > limit:
            break
    return " ".join(" ".join(parts).split())


def notice_kind(body: bytes, header_charset: str | None = None) -> str | None:
    """The kind of notice an HTML page is (seized, blocked, captcha, parked, login-wall,
    moved)."""
    text = decode(body, header_charset)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    if not text.strip():
        return None
    read = _read(text)
    return None if read is None else _notice(*read)


def tree_notice(root: etree._Element) -> str | None:
    """`notice_kind` of a page read from its whole tree as extraction parses it
    (`decoding.parse_page`), before anything changed it: the same verdict, with no parse of
    its own. (`notice_kind` parses only as far as a verdict needs; where it stops early, the
    page is not short and the verdict is its title's and first heading's.)"""
    return _notice(root, next(root.iter("title"), None), next(root.iter("h1"), None), None)


def _notice(
    root: etree._Element,
    title: etree._Element | None,
    h1: etree._Element | None,
    visible: str | None,
) -> str | None:
    heads = " ".join(_text(el) for el in (title, h1))
    if visible is None:
        visible = _visible_text(root)
    short = len(visible) < SHORT_PAGE
    # Markup markers (challenge scripts, seal images, parking hosts) are looked for in the
    # tree's class, id and URL attributes and script text, never in the raw HTML: a regex
    # over a 300 KB page of markup took 60-90 ms. Both are cut to a bounded length.
    # A widget in the markup marks a challenge page only when the page says next to nothing:
    # a short blog post with reCAPTCHA on its comment form is an article.
    markup = _markup(root) if len(visible) < MARKER_PAGE else ""
    for kind, pattern in _PATTERNS.items():
        if pattern.search(heads):
            return kind
        # The wording counts anywhere on a short page only (an article may report on a
        # seizure); the markup's widgets only on a page of a sentence or two (`markup`).
        if (short and pattern.search(visible)) or any(m in markup for m in _MARKERS.get(kind, ())):
            return kind
    # A squatter on a lapsed domain answers every URL with a sentence or two saying the site
    # "has moved to" a host of its own: stored as an article, headlined with the site's name,
    # and its host taken for a mirror the site announced.
    if len(visible) < MARKER_PAGE and _MOVED.search(visible):
        return "moved"
    # A notice that says it in a picture only: no headline in words and next to no text (a
    # video page titled "Drugs seized at port" has its headline, a caption, more words).
    if (
        len(visible) < BANNER_PAGE
        and not _text(h1)
        and _SEIZURE.search(f"{_text(title)} {_names(root)}")
    ):
        return "seized"
    return None


# What a page that only says the site moved says (`notice_kind`), in the site's own words
# ("our website", "this domain", "we") and naming the host it moved to within the sentence: a
# brief reporting that a ministry's website moved is news, and so is an official saying "we
# have moved to secure the border".
_MOVED = re.compile(
    r"(?:\b(?:our|this|the) (?:web ?site|site|domain|blog) (?:has )?(?:been )?moved to"
    r"|\bwe(?: have|'ve)? moved to)"
    r"[^.!?]{0,60}?\b(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}\b",
    re.I,
)
# Visible characters under which a page without a headline is a picture at most (with the
# domain's name, say): what a seizure notice that says it in a banner image is.
BANNER_PAGE = 20
# What such a notice's title, heading or names say: "Seizure Banner", "seized.png", a block
# of class "seized", the German police's "beschlagnahmt".
_SEIZURE = re.compile(r"seiz(?:ed|ure)|beschlagnahm", re.I)


def _names(root: etree._Element) -> str:
    """The class and id names, picture sources and alternative texts of a page, lowercased:
    where a notice that shows its words in a picture says what it is. Link targets are left
    out (a short listing may link an article about a seizure)."""
    parts: list[str] = []
    for el in root.iter():
        if isinstance(el.tag, str):
            parts.extend(v for a in ("class", "id", "src", "alt") if (v := el.get(a)))
        if len(parts) > 500:
            break
    return " ".join(parts)[:MARKUP_CHARS].lower()


# The page is parsed in pieces of this many characters, and no further than a verdict needs;
# past PULL_CHARS without one, the whole page at once: libxml2's parser fed in pieces slows as
# the page grows (4 MB of `<br>` took 1.9 s that way, 0.3 s at once).
READ_CHUNK = 32_768
PULL_CHARS = 16 * READ_CHUNK


_WHOLE = etree.HTMLParser()


def _read(
    text: str,
) -> tuple[etree._Element, etree._Element | None, etree._Element | None, str | None] | None:
    """The page's tree with its first `title` and first `h1` (and its visible text when
    that was read), or None for text that is not HTML. Parsing stops once both are read and
    the visible text is past SHORT_PAGE: nothing later can change the verdict (the page is not
    short, and the markup is only looked at on a short one). An article's headline comes
    early, so most of a long page is never parsed.

    The visible text is read again each time the text parsed has doubled, not after every
    piece: read from the start after each one, a page of markup with no text after its
    headline (3 MB of `<br>`) took 11 s, and ten times as much at the size cap."""
    parser = etree.HTMLPullParser(events=("end",), tag=("title", "h1"))
    title: etree._Element | None = None
    h1: etree._Element | None = None
    look_at = 0  # where in the text the visible text is read again
    try:
        for start in range(0, min(len(text), PULL_CHARS), READ_CHUNK):
            parser.feed(text[start : start + READ_CHUNK])
            for _, el in parser.read_events():
                if el.tag == "title" and title is None:
                    title = el
                elif el.tag == "h1" and h1 is None:
                    h1 = el
            if title is not None and h1 is not None and start >= look_at:
                look_at = 2 * start
                root = h1.getroottree().getroot()
                if len(visible := _visible_text(root)) >= SHORT_PAGE:
                    return root, title, h1, visible
        if len(text) > PULL_CHARS:
            if (root := etree.fromstring(text, _WHOLE)) is None:
                return None
            return root, next(root.iter("title"), None), next(root.iter("h1"), None), None
        root = parser.close()
    except (etree.LxmlError, ValueError):
        return None
    if root is None:
        return None
    for _, el in parser.read_events():
        if el.tag == "title" and title is None:
            title = el
        elif el.tag == "h1" and h1 is None:
            h1 = el
    return root, title, h1, None


# What a notice's markup carries (a challenge widget, a parking service), as plain
# substrings of the lowercased attributes and scripts: one pass each, whatever the page.
_MARKERS: dict[str, tuple[str, ...]] = {
    "captcha": (
        "captcha",
        "cf-challenge",
        "challenges.cloudflare.com",
        "cf_chl_",
    ),
    # Parking services show their ad links through Google's AdSense for Domains script.
    "parked": (
        "sedoparking",
        "parkingcrew",
        "bodis.com",
        "dan.com/buy-domain",
        "google.com/adsense/domains/caf.js",
    ),
    # Iran's filter answers a blocked site with a frame of its block page and no words:
    # http://10.10.34.34 (or .35, .36), peyvandha.ir.
    "blocked": ("//10.10.34.34", "//10.10.34.35", "//10.10.34.36", "peyvandha.ir"),
}


_MARKUP_ATTRIBUTES = ("class", "id", "src", "href", "action", "data-sitekey")
MARKUP_CHARS = 200_000


def _markup(root: etree._Element) -> str:
    """Class, id and URL attributes and script text of a page, at most MARKUP_CHARS."""
    parts: list[str] = []
    size = 0
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in _MARKUP_ATTRIBUTES:
            if value := el.get(attr):
                parts.append(value)
                size += len(value)
        if el.tag == "script" and el.text:
            parts.append(el.text[:MARKUP_CHARS])
            size += len(parts[-1])
        if size > MARKUP_CHARS:
            break
    return " ".join(parts)[:MARKUP_CHARS].lower()


# The root element of an XML document that is no page: a feed or a sitemap.
_XML_ROOT = re.compile(rb"<((?:[a-z0-9_]+:)?(?:rss|feed|rdf|urlset|sitemapindex))[\s>/]", re.I)


def xml_document(body: bytes) -> str | None:
    """The root element's name when `body` is a feed or a sitemap rather than an HTML page
    (XHTML carries `<html` and is a page)."""
    if looks_html(body):
        return None
    head = body[:2048].lstrip()
    if not head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf", b"<RDF", b"<urlset", b"<sit")):
        return None
    found = _XML_ROOT.search(head)
    return found.group(1).decode("ascii").lower() if found else None


# Before a document's root element: blanks, the XML declaration and other instructions,
# comments and a doctype; then the root's start tag, its name.
_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S)
_ROOT_NAME = re.compile(rb"<(?:[A-Za-z0-9_.-]+:)?([A-Za-z0-9_.-]+)[\s/>]")
_XML_ROOTS = (b"rss", b"feed", b"rdf", b"urlset", b"sitemapindex")


def _xml_root(body: bytes) -> bool:
    """The document's root element is a feed's or a sitemap's (`<rss>`, `<feed>`,
    `<rdf:RDF>`, `<urlset>`, `<sitemapindex>`), whatever its text holds: a feed whose first
    item carries a whole HTML document in CDATA (`<![CDATA[<html><body>...`) was read as an
    HTML page, its short text as a notice's, and refused as a captcha where a feed was
    expected because an item mentioned one."""
    head = body[:4096].removeprefix(b"\xef\xbb\xbf")
    prolog = _PROLOG.match(head)
    root = _ROOT_NAME.match(head, prolog.end() if prolog else 0)
    return root is not None and root[1].lower() in _XML_ROOTS


def looks_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or bool(_HTML_OPEN.search(body[:2048]))


def check(
    body: bytes,
    url: str,
    expect: str,
    *,
    header_charset: str | None = None,
    reject_if: Sequence[str] = (),
) -> None:
    """Raise RejectedPage when a 200 answer for `expect` (feed, sitemap, page, article) is not
    it."""
    if check_bytes(body, url, expect, header_charset=header_charset, reject_if=reject_if):
        check_notice(body, url, expect, notice_kind(body, header_charset))


def check_bytes(
    body: bytes,
    url: str,
    expect: str,
    *,
    header_charset: str | None = None,
    reject_if: Sequence[str] = (),
) -> bool:
    """The checks of `check` made before the page is parsed (raising RejectedPage): True for
    a page whose notice `check_notice` judges next, an HTML one."""
    if reject_if:
        lowered = decode(body, header_charset).casefold()
        for marker in reject_if:
            if marker.casefold() in lowered:
                raise _rejected(url, "reject-if", f"contains the marker {marker!r} (reject_if)")
    if not body.strip():
        raise _rejected(url, "empty", "empty answer")
    if expect in ("feed", "sitemap") and (not looks_html(body) or _xml_root(body)):
        return False  # XML (or a gzipped sitemap): the parser decides whether it is whole
    if what := binary_kind(body):
        # A page compressed twice, an image, a PDF: mojibake if it were read as a page.
        raise _rejected(url, "binary", f"{what} where an HTML {expect} was expected")
    if expect not in ("feed", "sitemap") and (root := xml_document(body)):
        # A link to a feed or a sitemap: read as a page, its channel title became an article.
        raise _rejected(url, "not-html", f"an XML <{root}> where an HTML {expect} was expected")
    if expect not in ("feed", "sitemap") and not looks_html(body):
        _check_markup(body, url, expect, header_charset)
    if not looks_html(body):
        return False
    if crowded := crowded_element(decode(body, header_charset)):
        raise _rejected(
            url, "hostile-markup", f"an element with {crowded:,} attributes: not parsed"
        )
    return True


def check_notice(body: bytes, url: str, expect: str, kind: str | None) -> None:
    """The rest of `check` for an HTML page whose notice (`notice_kind`, `tree_notice`) is
    `kind`: raise RejectedPage for a notice or a page cut short."""
    if kind is not None:
        article = "an" if expect[0] in "aeiou" else "a"
        raise _rejected(url, kind, f"{kind} notice page where {article} {expect} was expected")
    if expect in ("feed", "sitemap") or not _HTML_OPEN.search(body[:2048]):
        return
    if _HTML_CLOSE.search(body):  # one search of the whole body: it ends whole
        return
    if not _CLOSED_END.search(body[-256:]):
        raise _rejected(url, "truncated", "HTML cut short (no closing </html>)")
    if element := _left_open(body):
        raise _rejected(
            url, "truncated", f"HTML cut short (no closing </html>, <{element}> left open)"
        )


def feed_notice(entries: Sequence[FeedEntry]) -> str | None:
    """The kind of notice a feed is when every one of its entries is one (a seized domain
    answering its feed URLs with a feed of its notice): an entry whose headline says so, or
    whose text is short and says so. A feed of news has entries that report on a seizure
    beside others; one whose entries are all notices is no listing of the site's articles.
    Read as one, its notice (with the text in `content:encoded`, no page fetched) was
    published as an article, and its mirror stayed `healthy`."""
    kinds: set[str] = set()
    for entry in entries:
        kind = _entry_notice(entry)
        if kind is None:
            return None
        kinds.add(kind)
    return min(kinds) if kinds else None


def _entry_notice(entry: FeedEntry) -> str | None:
    """The kind of notice an entry is: its short text says so, or it has no text and its
    headline says so. A headline alone is news when a text follows it: "Press TV's website
    has been seized by the US" heads a report, and read as a notice, the article was refused
    on every mirror."""
    title = " ".join((entry.title or "").split())
    text = " ".join(_fragment_text(f) for f in (entry.summary, entry.content_html) if f)
    for kind, pattern in _PATTERNS.items():
        if (pattern.search(text) if text else pattern.search(title)) and len(text) < SHORT_PAGE:
            return kind
    return None


def _fragment_text(fragment: str) -> str:
    """The words of an entry's HTML (or plain) text, read no further than SHORT_PAGE."""
    if "<" not in fragment:
        return " ".join(fragment[: 2 * SHORT_PAGE].split())
    try:
        root = etree.fromstring(f"<div>{fragment[: 8 * SHORT_PAGE]}</div>", _WHOLE)
    except (etree.LxmlError, ValueError):
        return ""
    return _visible_text(root) if root is not None else ""


def feed_rejected(url: str, kind: str) -> RejectedPage:
    """The failure of a feed that is a notice (`feed_notice`)."""
    return _rejected(url, kind, f"a feed of {kind} notices where the site's feed was expected")


def entry_rejected(url: str, kind: str) -> RejectedPage:
    """The failure of a feed entry carrying its text that is a notice (`feed_notice`)."""
    return _rejected(url, kind, f"a feed entry that is a {kind} notice, not an article")


# Any tag, comment, declaration or end tag: what no page is without, however broken (real
# pages start with a PHP warning's `<br />`, a `<script>` or a `<style>` before `<html>`).
_MARKUP = re.compile(r"<[A-Za-z!/?]")
MARKUP_WINDOW = 65536


def _check_markup(body: bytes, url: str, expect: str, header_charset: str | None) -> None:
    """Refuse, for a page or article, a JSON document (a link to a JSON Feed or an API's
    answer; like a feed, the publisher's link: `not-html`) and text with no markup at all (a
    notice or an error in plain text: `no-markup`). Read as a page, each was published as an
    article titled with its first words."""
    text = decode(body, header_charset)
    if text.lstrip().startswith(("{", "[")):
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            raise _rejected(url, "not-html", f"a JSON document where an HTML {expect} was expected")
    if not _MARKUP.search(text, 0, MARKUP_WINDOW):
        raise _rejected(
            url, "no-markup", f"text with no HTML markup where an HTML {expect} was expected"
        )


def _rejected(url: str, kind: str, reason: str) -> RejectedPage:
    error = RejectedPage(url, reason)
    error.kind = kind
    return error
