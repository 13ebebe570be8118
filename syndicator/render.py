"""Feeds out of stored articles: RSS 2.0 and Atom 1.0 through feedgen, JSON Feed 1.1 written
here (no maintained writer exists; the format is a small JSON object).

Pure: articles and feed facts in, bytes out. The same article carries the same id (its GUID)
in all three formats. Rendering is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from . import __version__
from .models import Article

FORMATS = ("rss", "atom", "json")
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Characters XML 1.0 forbids; they are dropped from every text we put in a feed.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str | None) -> str:
    return _XML_INVALID.sub("", text or "")


@dataclass(frozen=True)
class FeedInfo:
    """Facts about one section feed that are not in its articles."""

    section: str
    title: str
    description: str
    home_url: str
    feed_urls: dict[str, str]
    language: str = "en"
    ttl_minutes: int = 10
    generator: str = "syndicator"
    feed_id: str = ""


def newest_update(articles: Sequence[Article]) -> datetime:
    return max((a.updated for a in articles), default=EPOCH)


def _generator(info: FeedInfo, articles: Sequence[Article], fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.load_extension("media")
    fg.id(info.feed_id or info.feed_urls[fmt])
    fg.title(xml_safe(info.title))
    fg.subtitle(xml_safe(info.description) or xml_safe(info.title))
    fg.language(info.language)
    fg.generator(info.generator, version=__version__)
    fg.link(href=info.home_url, rel="alternate", type="text/html")
    fg.link(href=info.feed_urls[fmt], rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    updated = newest_update(articles)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    fg.ttl(info.ttl_minutes)
    # feedgen prepends entries; add oldest first so the newest stands first.
    for article in reversed(articles):
        fe = fg.add_entry()
        fe.id(article.guid)
        fe.guid(article.guid, permalink=False)
        fe.title(xml_safe(article.title))
        fe.link(href=article.url, rel="alternate")
        fe.published(article.published)
        fe.updated(article.updated)
        if article.author:
            fe.author(name=xml_safe(article.author))
            fe.dc.dc_creator(xml_safe(article.author))
        for section in article.sections:
            fe.category(term=section)
        if fmt == "rss":
            fe.description(xml_safe(article.summary) or xml_safe(article.title))
            fe.content(xml_safe(article.content_html), type="CDATA")
            if article.image_url:
                fe.enclosure(article.image_url, "0", _image_type(article.image_url))
        else:
            fe.summary(xml_safe(article.summary) or xml_safe(article.title))
            fe.content(xml_safe(article.content_html), type="html")
        if article.image_url:
            fe.media.content(
                {
                    "url": article.image_url,
                    "medium": "image",
                    "type": _image_type(article.image_url),
                }
            )
    return fg


def _image_type(url: str) -> str:
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


def render_rss(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return bytes(_generator(info, articles, "rss").rss_str(pretty=True))


def render_atom(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return bytes(_generator(info, articles, "atom").atom_str(pretty=True))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_json(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    items = []
    for a in articles:
        item: dict[str, object] = {
            "id": a.guid,
            "url": a.url,
            "title": a.title,
            "content_html": a.content_html,
            "summary": a.summary,
            "date_published": _rfc3339(a.published),
            "date_modified": _rfc3339(a.updated),
        }
        if a.image_url:
            item["image"] = a.image_url
        if a.author:
            item["authors"] = [{"name": a.author}]
        if a.sections:
            item["tags"] = list(a.sections)
        if a.language:
            item["language"] = a.language
        items.append(item)
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": info.home_url,
        "feed_url": info.feed_urls["json"],
        "description": info.description or info.title,
        "language": info.language,
        "items": items,
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


def render(fmt: str, info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return RENDERERS[fmt](info, articles)
