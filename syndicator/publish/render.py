"""Feeds out of stored articles: RSS 2.0 and Atom 1.0 (in `xmlfeeds`, through feedgen) and
JSON Feed 1.1 (written here: no maintained writer exists and the format is a small JSON object).

Pure: articles and feed facts in, bytes out. The same article carries the same id (its GUID)
in all three formats. Rendering is deterministic: the same input gives the same bytes, so every
process of a service, and the exporter, produce the same bytes and the same ETags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from syndicator.core.models import Article

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
# An IETF language tag, loosely (RFC 5646 shape): what xml:lang and JSON Feed accept.
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def xml_safe(text: str | None) -> str:
    return _XML_INVALID.sub("", text or "")


def language_tag(value: str | None) -> str | None:
    """`value` when it is shaped like a language tag, else None."""
    return value if value and _LANGUAGE_TAG.match(value) else None


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
    # The feed's own date when it has no items (the newest item's date otherwise).
    updated: datetime | None = None

    @property
    def id(self) -> str:
        return self.feed_id or self.feed_urls["atom"]


def newest_update(articles: Sequence[Article]) -> datetime:
    return max((a.updated for a in articles), default=EPOCH)


def feed_updated(info: FeedInfo, articles: Sequence[Article]) -> datetime:
    """A feed's date: its newest item's, or for an empty feed the date it was given."""
    if articles:
        return newest_update(articles)
    return info.updated or EPOCH


def publishable(article: Article) -> Article:
    """The article with every text made safe for XML and a title that is never blank."""
    title = " ".join(xml_safe(article.title).split())
    return replace(
        article,
        title=title or UNTITLED,
        summary=xml_safe(article.summary),
        content_html=xml_safe(article.content_html),
        author=xml_safe(article.author).strip() or None,
        image_caption=xml_safe(article.image_caption).strip() or None,
    )


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


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_json(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    items = []
    for a in map(publishable, articles):
        item: dict[str, object] = {
            "id": a.guid,
            "url": a.url,
            "title": a.title,
            "content_html": a.content_html,
        }
        if a.summary:
            item["summary"] = a.summary
        if a.image_url:
            item["image"] = a.image_url
        item["date_published"] = rfc3339(a.published)
        item["date_modified"] = rfc3339(a.updated)
        if a.author:
            item["authors"] = [{"name": a.author}]
        if a.sections:
            item["tags"] = [info.section_titles.get(s, s) for s in a.sections]
        if (lang := language_tag(a.language)) and lang != info.language:
            item["language"] = lang
        items.append(item)
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": xml_safe(info.title),
        "home_page_url": info.home_url,
        "feed_url": info.feed_urls["json"],
        "description": xml_safe(info.description) or xml_safe(info.title),
        "language": info.language,
        "authors": [{"name": xml_safe(info.author)}],
    }
    if info.prev_archive_urls:
        # JSON Feed pages backwards: next_url is the page of older items.
        feed["next_url"] = info.prev_archive_urls["json"]
    if info.hub_url:
        feed["hubs"] = [{"type": "WebSub", "url": info.hub_url}]
    feed["items"] = items
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_rss(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    from syndicator.publish.xmlfeeds import render_rss as rss

    return rss(info, [publishable(a) for a in articles])


def render_atom(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    from syndicator.publish.xmlfeeds import render_atom as atom

    return atom(info, [publishable(a) for a in articles])


RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


def render(fmt: str, info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return RENDERERS[fmt](info, articles)
