"""What every feed format shares: the formats and their media types, the facts about one feed
document (`FeedInfo`), and the text rules every format applies to an article.

Its own module so that `render` (JSON Feed, and the choice of format) and `xmlfeeds` (RSS and
Atom) both build on it without importing each other. Pure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from syndicator.core import identity
from syndicator.core.directions import directions_closed
from syndicator.core.models import Article
from syndicator.extract.candidate import summarise
from syndicator.extract.decoding import parse_fragment
from syndicator.extract.published_html import fragment_html
from syndicator.extract.templates import block_texts

FORMATS = ("rss", "atom", "json")
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
CONTENT_TYPES = {fmt: f"{media}; charset=utf-8" for fmt, media in MEDIA_TYPES.items()}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNTITLED = "(untitled)"

# Characters XML 1.0 forbids (and lone surrogates, which UTF-8 cannot carry); they are dropped
# from every text we publish, in every format, so the three formats say the same thing.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# The C1 controls (U+0080-U+009F) are legal XML 1.0 but no text means them: they are
# windows-1252 bytes read as Latin-1 somewhere upstream (a CMS that stored "\x93quoted\x94"),
# shown by readers as nothing or as boxes, and U+009B (CSI) starts an escape sequence in a
# terminal reader such as newsboat. Feedparser alone mapped them, in titles and content only,
# so the JSON Feed and every other reader said something else. Each becomes the
# windows-1252 character it stands for; the five that stand for none are dropped.
_C1 = re.compile("[\x80-\x9f]")
_C1_TABLE = {
    code: (None if code in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([code]).decode("cp1252"))
    for code in range(0x80, 0xA0)
}


def xml_safe(text: str | None) -> str:
    """`text` without the code points XML cannot carry, its C1 controls read as the
    windows-1252 characters they stand for."""
    text = _XML_INVALID.sub("", text or "")
    return text.translate(_C1_TABLE) if _C1.search(text) else text


def language_tag(value: str | None) -> str | None:
    """`value` when it is a well-formed language tag (what xml:lang and JSON Feed accept),
    else None."""
    return value if identity.is_language_tag(value) else None


@dataclass(frozen=True)
class FeedInfo:
    """Facts about one feed document that are not in its articles.

    `feed_urls` are this document's own URLs, one per format. A section's subscription
    document links to its newest archive page (`prev_archive_urls`); an archive page
    (`archive=True`, RFC 5005) links to the subscription document (`current_urls`) and to the
    pages before and after it.
    """

    section: str
    title: str
    description: str
    home_url: str
    feed_urls: dict[str, str]
    language: str = "en"
    ttl_minutes: int = 10
    generator: str = "syndicator"
    feed_id: str = ""
    author: str = "syndicator"
    hub_url: str | None = None
    category_scheme: str = ""
    section_titles: Mapping[str, str] = field(default_factory=dict)
    archive: bool = False
    current_urls: dict[str, str] | None = None
    prev_archive_urls: dict[str, str] | None = None
    next_archive_urls: dict[str, str] | None = None
    # The XSLT stylesheet (relative href) that lets a browser show RSS and Atom as a page.
    stylesheet: str = ""
    # The document's own date when it is not its newest item's: later (an older item joined
    # it), earlier (its newest item is dated ahead of the clock), or it has no items.
    updated: datetime | None = None

    @property
    def id(self) -> str:
        return self.feed_id or self.feed_urls["atom"]


def iso_time(moment: datetime) -> str:
    """`moment` in UTC as RFC 3339 (`+00:00`), to the millisecond when it falls between two
    seconds, else to the second.

    Stored times of articles dated when first seen have microseconds. Six digits of a
    fraction are valid RFC 3339, but parsers that read three (NetNewsWire's before 2024,
    others written for JavaScript's dates) took the rest for a zone: each such item was
    shown hours off, by its own digits, and the list out of order."""
    utc = moment.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds" if utc.microsecond >= 1000 else "seconds")


def newest_update(articles: Sequence[Article]) -> datetime:
    return max((a.updated for a in articles), default=EPOCH)


def feed_updated(info: FeedInfo, articles: Sequence[Article]) -> datetime:
    """A feed's date (RSS lastBuildDate, Atom's feed updated): the date it was given
    (`info.updated`, its Last-Modified when that is not its newest item's date), else its
    newest item's.

    The newest item's date alone stayed put when an older item joined the feed (a
    backfill, an article listed in one more section), and through every change until then
    when that item was dated ahead of the clock (a modified time written in local time as
    UTC): readers that read no further than an unchanged feed date (Brief, node-feedsub,
    feed-io's readSince) never showed them."""
    if info.updated is not None:
        return info.updated
    return newest_update(articles) if articles else EPOCH


def publishable(article: Article) -> Article:
    """The article with every text made safe for XML, the direction controls of each line
    of text closed within it (`directions_closed`), a title that is never blank nor made of
    invisible characters alone (`_visible`), nor a byline or caption (`shown_text`), a
    summary that is never the title again (`_opening`), no link in its text to nowhere
    (`_without_empty_links`), and its links as URIs (`identity.as_uri`)."""
    title = directions_closed(" ".join(xml_safe(article.title).split()))
    if not _visible(title):
        title = UNTITLED
    content_html = _without_empty_links(xml_safe(article.content_html))
    summary = directions_closed(xml_safe(article.summary))
    if _same_words(summary, title):
        summary = _opening(content_html, title)
    return replace(
        article,
        title=title,
        summary=summary,
        content_html=content_html,
        url=_link_url(article.url),
        author=shown_text(article.author),
        image_caption=shown_text(article.image_caption),
        # Set as an attribute (enclosure, media:content): one NUL made lxml refuse the feed.
        image_url=_picture_url(article.url, xml_safe(article.image_url)),
    )


# A link with no address: `href=""` (or white space alone), as lxml writes the stored HTML.
_EMPTY_HREF = re.compile(r'<a\b[^>]*\shref="\s*"')


def _without_empty_links(content_html: str) -> str:
    """The HTML with each link that has no address made plain text, its words kept.

    trafilatura writes an anchor that had no href (an index term's or a footnote's target,
    `<a id="...">`) as `<a href="">`, and puts the text after it inside. An empty reference
    is the document it is read in (RFC 3986 5.2), so in every reader the words, often a whole
    paragraph, were a link to the feed itself. Articles stored so are mended here, when
    published; HTML holding no such link is returned as it is, not parsed."""
    if not _EMPTY_HREF.search(content_html):
        return content_html
    container = parse_fragment(content_html)
    for link in list(container.iter("a")):
        if not (link.get("href") or "").strip():
            link.drop_tag()
    return fragment_html(container)


def _visible(text: str) -> bool:
    """Whether `text` has a character to see: not white space alone, nor format characters
    alone (zero-width spaces and joiners, direction marks and isolates, byte-order marks,
    soft hyphens). A title of such characters (a right-to-left mark a CMS put around a
    headline it did not have) was listed by readers as an item with no headline to read or
    click."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


def shown_text(text: str | None) -> str | None:
    """A byline or a caption as published, None when there is nothing of it to see: a
    byline of a direction mark alone (a Persian page with an empty byline) was the item's
    author, "by" nobody in every reader, and hid the feed's author in JSON Feed; a caption
    of one (an empty figcaption) was the picture's media:description, an empty caption
    under it."""
    shown = directions_closed(xml_safe(text).strip())
    return shown if _visible(shown) else None


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _same_words(summary: str, title: str) -> bool:
    """A summary that says nothing the title does not: none, or the headline again (a page
    whose description is its headline, "Port reopens." under "Port reopens")."""
    return _words(summary) in ("", _words(title))


def _opening(content_html: str, title: str) -> str:
    """A summary of an item whose own says nothing but its title: the first paragraph of its
    text that is not the headline (pictures and their captions aside), cut as extraction
    cuts summaries; "" when its text holds none.

    Such an item's summary was its title: RSS description and Atom summary repeated the
    headline, and readers that show both (newsboat, Thunderbird, Miniflux's list) showed it
    twice, with nothing of the article."""
    if not content_html.strip():
        return ""
    container = parse_fragment(content_html)
    for figure in list(container.iter("figure")):
        figure.drop_tree()
    for block in block_texts(container):
        if not _same_words(block, title):
            return directions_closed(summarise(block))
    return ""


def _link_url(url: str) -> str:
    """The article's link as every format needs it: a URI (`identity.as_uri`), made so as
    a browser would make it of what was stored.

    A link with other scripts in it (a Persian slug, an IDN host) went out as written: RSS
    and JSON Feed carry URLs, the W3C validator calls an IRI there an error, and readers
    parsing links as URIs (NetNewsWire before 5.1, Ruby's URI) did not open the item. A
    link stored before `join_url` percent-encoded what no URL may hold kept it: a space
    made the JSON Feed invalid, and a NUL made lxml refuse the RSS and Atom documents of
    its sections and of `all`."""
    return identity.as_uri(identity.join_url(url, url) or xml_safe(url))


def _picture_url(page: str, url: str) -> str | None:
    """The picture's URL as every format needs it, absolute http(s) with no space, made so as
    a browser would (an article stored before `join_url` did so may hold `http:/host/x.jpg`
    or a space); None when no such URL can be made of it."""
    if not url:
        return None
    joined = identity.join_url(page, url)
    if joined is None or urlsplit(joined).scheme not in ("http", "https"):
        return None
    return identity.as_uri(joined)


def image_type(url: str) -> str:
    lower = url.lower().split("?", 1)[0]
    for ext, mime in (
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".svg", "image/svg+xml"),
        (".avif", "image/avif"),
    ):
        if lower.endswith(ext):
            return mime
    return "image/jpeg"
