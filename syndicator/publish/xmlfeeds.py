"""RSS 2.0 and Atom 1.0 documents, built with feedgen and finished by a feedgen extension.

feedgen writes the core of both formats. What it does not write, the `_Finish` extensions add
while feedgen builds the tree (no second parse): `rel="hub"`, RFC 5005 archive links and
`fh:archive`, `atom:link` elements in RSS beyond `rel="self"`, `atom:updated` of an edited
RSS item, `media:content` with its caption and photo credit, entry `xml:lang`, and the
`rel`/`type` of Atom entry links, which feedgen 1.0 drops (its `atom_entry` rebinds the loop
variable before reading them).

Both formats name the XSLT stylesheet kept here (STYLESHEET, served and exported as
`feed.xsl`) with `<?xml-stylesheet?>`, so that a browser shows a feed as a readable page while
readers get the same XML.

Pure: articles already made `publishable` in, bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator import __version__
from syndicator.core.models import Article
from syndicator.extract.candidate import split_credit
from syndicator.publish.feedinfo import (
    MEDIA_TYPES,
    FeedInfo,
    feed_updated,
    image_type,
    iso_time,
    language_tag,
    shown_text,
)

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EXTENSION = "syndicator"


class _Finish(BaseExtension):
    """Feed-level additions: hub and archive links, the archive marker."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str, str | None]] = []
        self.archive = False
        # The feed's date, written by `iso_time` (feedgen writes microseconds).
        self.updated: datetime | None = None

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
        _write_time(feed, "updated", self.updated)
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
        # Atom: when the item was published and last edited, written by `iso_time` (feedgen
        # writes microseconds). RSS: when it was last edited, if ever (`atom:updated`).
        self.published: datetime | None = None
        self.updated: datetime | None = None

    def _media(self, entry: etree._Element, summary_tag: str) -> None:
        """The lead image as `media:content` with its caption and credit; `summary_tag`
        names the entry's summary (RSS `description`, Atom `summary`)."""
        if self.image is None:
            return
        url, media_type, caption = self.image
        content = etree.SubElement(
            entry, f"{{{MEDIA_NS}}}content", url=url, medium="image", type=media_type
        )
        parts = split_credit(caption) if caption else ("", None)
        # Each a text of its own now: neither ends a direction the other opened, and either
        # may be invisible characters alone (a direction mark before a credit).
        shows, credit = shown_text(parts[0]), shown_text(parts[1])
        if shows:
            description = etree.SubElement(content, f"{{{MEDIA_NS}}}description", type="plain")
            description.text = shows
            # The item's own summary after the caption: feedparser keeps the first summary
            # in `summary` but the last one in `summary_detail`, which took the caption for
            # the item's summary (rss2email, Planet and others read summary_detail).
            summary = entry.find(summary_tag)
            if summary is not None:
                entry.append(summary)
        if credit:
            etree.SubElement(content, f"{{{MEDIA_NS}}}credit").text = credit

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
        _write_time(entry, "published", self.published)
        _write_time(entry, "updated", self.updated)
        self._media(entry, "summary")
        return entry

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        if self.language:
            # RSS has no language per item: Dublin Core's, as feedparser reads it.
            etree.SubElement(entry, f"{{{DC_NS}}}language").text = self.language
        if self.updated is not None:
            updated = etree.SubElement(entry, f"{{{ATOM_NS}}}updated")
            updated.text = iso_time(self.updated)
        self._media(entry, "description")
        return entry


def _write_time(parent: etree._Element, tag: str, moment: datetime | None) -> None:
    """The text of `parent`'s `tag` child as `iso_time` writes `moment`."""
    element = parent.find(tag)
    if element is not None and moment is not None:
        element.text = iso_time(moment)


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
    finish.updated = updated
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
    if fmt == "atom":
        extra.published, extra.updated = article.published, article.updated
    elif article.updated != article.published:
        # RSS has no element for an edit: its pubDate stays the publication. `atom:updated`
        # is what feedparser (and the readers built on it) read as the item's `updated`;
        # without it they reported the pubDate, and an edit showed nowhere.
        extra.updated = article.updated
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
    # None when its text says nothing but the title (`publishable`): never the title again.
    if article.summary and fmt == "rss":
        # The summary is plain text; RSS readers read description as HTML.
        fe.description(escape(article.summary, quote=False))
    elif article.summary:
        fe.summary(article.summary)
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
    xml = bytes(_generator(info, articles, "rss").rss_str(pretty=True))
    return with_stylesheet(xml, info.stylesheet)


def render_atom(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    xml = bytes(_generator(info, articles, "atom").atom_str(pretty=True))
    return with_stylesheet(xml, info.stylesheet)


# The XSLT stylesheet that lets a browser show an RSS or Atom feed as a page: the feed's
# title, what a feed is and how to subscribe (its address to copy, the RSS, Atom and JSON Feed
# links), then its items. A feed names it with <?xml-stylesheet?> before its root element;
# readers skip that instruction and get the very same XML. The href is relative (`feed.xsl`
# from a section feed, `../../feed.xsl` from an archive page): browsers apply a stylesheet
# only from the feed's own origin, and so it works for the server and an exported folder.
STYLESHEET_NAME = "feed.xsl"
STYLESHEET_TYPE = "text/xsl; charset=utf-8"
# When the stylesheet last changed: its Last-Modified wherever it is served.
STYLESHEET_DATE = datetime(2026, 12, 4, tzinfo=UTC)


def instruction(href: str) -> bytes:
    """The processing instruction that names the stylesheet, as it goes into a feed."""
    return f'<?xml-stylesheet type="text/xsl" href="{href}"?>\n'.encode()


def with_stylesheet(xml: bytes, href: str) -> bytes:
    """The feed with the stylesheet instruction after its XML declaration."""
    if not href:
        return xml
    if xml.startswith(b"<?xml"):
        end = xml.index(b"?>") + 2
        newline = 1 if xml[end : end + 1] == b"\n" else 0
        return xml[: end + newline] + instruction(href) + xml[end + newline :]
    return instruction(href) + xml


STYLESHEET = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <xsl:variable name="self"
      select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
  <xsl:variable name="kind">
    <xsl:choose>
      <xsl:when test="/rss">rss</xsl:when>
      <xsl:otherwise>atom</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <!-- The address without its format: .../north-africa. for .../north-africa.rss -->
  <xsl:variable name="stem"
      select="substring($self, 1, string-length($self) - string-length($kind))"/>
  <xsl:variable name="home"
      select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="/rss/channel/title | /atom:feed/atom:title"/> (feed)</title>
        <style>
          body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
                 padding: 0 1rem; line-height: 1.5; }
          .about { background: #eef4fb; border: 1px solid #c5d8ee; border-radius: .4rem;
                   padding: .8rem 1rem; }
          .about input { width: 100%; font: inherit; padding: .3rem; box-sizing: border-box; }
          .subscribe a { margin-right: .8rem; font-weight: 600; }
          .meta { color: #555; font-size: .9rem; }
          ol.items li { margin-bottom: 1rem; }
        </style>
      </head>
      <body>
        <nav><a class="home" href="{$home}">Section page</a></nav>
        <h1><xsl:value-of select="/rss/channel/title | /atom:feed/atom:title"/></h1>
        <p><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
        <div class="about">
          <p>This is a <strong>web feed</strong>. To follow it, copy this address into your
             feed reader (Thunderbird, NetNewsWire, Feedly, newsboat, ...):</p>
          <input class="address" type="text" readonly="readonly" value="{$self}"/>
          <p class="subscribe">Subscribe:
            <a class="rss" href="{$stem}rss" type="application/rss+xml">RSS</a>
            <a class="atom" href="{$stem}atom" type="application/atom+xml">Atom</a>
            <a class="json" href="{$stem}json" type="application/feed+json">JSON Feed</a>
          </p>
        </div>
        <h2>Latest items</h2>
        <ol class="items">
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
        </ol>
        <xsl:if test="not(/rss/channel/item | /atom:feed/atom:entry)">
          <p class="empty">No items yet.</p>
        </xsl:if>
      </body>
    </html>
  </xsl:template>

  <!-- An item in its language (the entry's own, else the feed's), laid out in the direction
       of its title: an Arabic item in this English page is right to left. -->
  <xsl:template match="item">
    <li class="item" lang="{dc:language | /rss/channel/language[not(current()/dc:language)]}"
        dir="auto">
      <a href="{link}"><xsl:value-of select="title"/></a><br/>
      <span class="meta"><xsl:value-of select="pubDate"/></span><br/>
      <!-- RSS readers read description as HTML, so the plain-text summary is escaped there
           once more: shown as text here, it is unescaped first (AT&amp;T, not AT&amp;amp;T),
           and stays text. -->
      <xsl:call-template name="unescape">
        <xsl:with-param name="text" select="description"/>
      </xsl:call-template>
    </li>
  </xsl:template>

  <!-- `text` with &lt; &gt; and then &amp; read back as < > and & (the reverse of
       html.escape(quote=False)): output as text, the characters are escaped again as HTML. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:param name="from" select="'&amp;lt;'"/>
    <xsl:choose>
      <xsl:when test="$from = '' or not(contains($text, '&amp;'))">
        <xsl:value-of select="$text"/>
      </xsl:when>
      <xsl:when test="contains($text, $from)">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="substring-before($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
        </xsl:call-template>
        <xsl:choose>
          <xsl:when test="$from = '&amp;lt;'">&lt;</xsl:when>
          <xsl:when test="$from = '&amp;gt;'">&gt;</xsl:when>
          <xsl:otherwise>&amp;</xsl:otherwise>
        </xsl:choose>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="$text"/>
          <xsl:with-param name="from">
            <xsl:choose>
              <xsl:when test="$from = '&amp;lt;'">&amp;gt;</xsl:when>
              <xsl:when test="$from = '&amp;gt;'">&amp;amp;</xsl:when>
            </xsl:choose>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li class="item" lang="{ancestor-or-self::*[@xml:lang][1]/@xml:lang}" dir="auto">
      <a href="{atom:link[@rel='alternate']/@href | atom:link[not(@rel)]/@href}">
        <xsl:value-of select="atom:title"/>
      </a><br/>
      <span class="meta"><xsl:value-of select="atom:published"/></span><br/>
      <xsl:value-of select="atom:summary"/>
    </li>
  </xsl:template>
</xsl:stylesheet>
"""
