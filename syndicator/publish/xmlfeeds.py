"""RSS 2.0 and Atom 1.0 documents, built with feedgen and finished by a feedgen extension.

feedgen writes the core of both formats. What it does not write, the `_Finish` extensions add
while feedgen builds the tree (no second parse): `rel="hub"`, RFC 5005 archive links and
`fh:archive`, `atom:link` elements in RSS beyond `rel="self"`, `media:content` with its caption,
entry `xml:lang`, and the `rel`/`type` of Atom entry links, which feedgen 1.0 drops (its
`atom_entry` rebinds the loop variable before reading them).

Pure: articles already made `publishable` in, bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator import __version__
from syndicator.core.models import Article
from syndicator.publish.render import (
    MEDIA_TYPES,
    FeedInfo,
    feed_updated,
    image_type,
    language_tag,
)

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EXTENSION = "syndicator"


class _Finish(BaseExtension):
    """Feed-level additions: hub and archive links, the archive marker."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str, str | None]] = []
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS, "fh": HISTORY_NS}

    def _add(self, parent: etree._Element, tag: str) -> None:
        for rel, href, media_type in self.links:
            link = etree.SubElement(parent, tag, rel=rel, href=href)
            if media_type:
                link.set("type", media_type)
        if self.archive:
            etree.SubElement(parent, f"{{{HISTORY_NS}}}archive")

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        # feedgen writes Atom elements without a namespace under an xmlns attribute.
        self._add(feed, "link")
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        self._add(feed[0], f"{{{ATOM_NS}}}link")
        return feed


class _FinishEntry(BaseEntryExtension):
    """Entry-level additions: link attributes, lead image with caption, language."""

    def __init__(self) -> None:
        self.url = ""
        self.image: tuple[str, str, str | None] | None = None
        self.language: str | None = None

    def _media(self, entry: etree._Element) -> None:
        if self.image is None:
            return
        url, media_type, caption = self.image
        content = etree.SubElement(
            entry, f"{{{MEDIA_NS}}}content", url=url, medium="image", type=media_type
        )
        if caption:
            description = etree.SubElement(content, f"{{{MEDIA_NS}}}description", type="plain")
            description.text = caption

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in entry.iterchildren("link"):
            if link.get("href") == self.url and link.get("rel") is None:
                link.set("rel", "alternate")
                link.set("type", "text/html")
        if self.image is not None:
            url, media_type, _ = self.image
            etree.SubElement(entry, "link", rel="enclosure", type=media_type, href=url)
        if self.language:
            entry.set(XML_LANG, self.language)
        self._media(entry)
        return entry

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        self._media(entry)
        return entry


def _generator(info: FeedInfo, articles: Sequence[Article], fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension(EXTENSION, _Finish, _FinishEntry)
    finish: _Finish = getattr(fg, EXTENSION)
    fg.id(info.id)
    fg.title(info.title)
    fg.subtitle(info.description or info.title)
    fg.author(name=info.author)
    fg.language(info.language)
    fg.generator(info.generator, version=__version__)
    # feedgen takes the RSS channel link from the last link given: the alternate one.
    fg.link(href=info.feed_urls[fmt], rel="self", type=MEDIA_TYPES[fmt])
    fg.link(href=info.home_url, rel="alternate", type="text/html")
    if info.hub_url:
        finish.links.append(("hub", info.hub_url, None))
    for rel, urls in (
        ("current", info.current_urls),
        ("prev-archive", info.prev_archive_urls),
        ("next-archive", info.next_archive_urls),
    ):
        if urls:
            finish.links.append((rel, urls[fmt], MEDIA_TYPES[fmt]))
    finish.archive = info.archive
    updated = feed_updated(info, articles)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    fg.ttl(info.ttl_minutes)
    # feedgen prepends entries; add oldest first so the newest stands first.
    for article in reversed(articles):
        _entry(fg, info, article, fmt)
    return fg


def _entry(fg: FeedGenerator, info: FeedInfo, article: Article, fmt: str) -> None:
    fe = fg.add_entry()
    extra: _FinishEntry = getattr(fe, EXTENSION)
    fe.id(article.guid)
    # A tag: URI names the article but is not a link to it.
    fe.guid(article.guid, permalink=False)
    fe.title(article.title)
    fe.link(href=article.url, rel="alternate")
    extra.url = article.url
    fe.published(article.published)
    fe.updated(article.updated)
    if article.author:
        fe.author(name=article.author)
        if fmt == "rss":
            fe.dc.dc_creator(article.author)
    for section in article.sections:
        fe.category(
            term=section,
            label=info.section_titles.get(section, section),
            scheme=info.category_scheme or None,
        )
    summary = article.summary or article.title
    if fmt == "rss":
        # The summary is plain text; RSS readers read description as HTML.
        fe.description(escape(summary, quote=False))
    else:
        fe.summary(summary)
    fe.content(article.content_html, type="html" if fmt == "atom" else None)
    if article.image_url:
        media_type = image_type(article.image_url)
        extra.image = (article.image_url, media_type, article.image_caption)
        if fmt == "rss":
            fe.enclosure(article.image_url, "0", media_type)
    lang = language_tag(article.language)
    if lang and lang != info.language:
        extra.language = lang


def render_rss(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return bytes(_generator(info, articles, "rss").rss_str(pretty=True))


def render_atom(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return bytes(_generator(info, articles, "atom").atom_str(pretty=True))
