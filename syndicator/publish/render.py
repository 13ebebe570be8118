"""Feeds out of stored articles: RSS 2.0 and Atom 1.0 (in `xmlfeeds`, through feedgen) and
JSON Feed 1.1 (written here: no maintained writer exists and the format is a small JSON object).

Pure: articles and feed facts in, bytes out. The same article carries the same id (its GUID)
in all three formats. Rendering is deterministic: the same input gives the same bytes, so every
process of a service, and the exporter, produce the same bytes and the same ETags.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from syndicator.core.models import Article
from syndicator.publish import xmlfeeds
from syndicator.publish.feedinfo import (
    CONTENT_TYPES,
    EPOCH,
    FORMATS,
    MEDIA_TYPES,
    UNTITLED,
    FeedInfo,
    feed_updated,
    image_type,
    iso_time,
    language_tag,
    newest_update,
    publishable,
    xml_safe,
)

# The shared names are part of this module's face: callers say `render.FeedInfo`.
__all__ = [
    "CONTENT_TYPES",
    "EPOCH",
    "FORMATS",
    "MEDIA_TYPES",
    "RENDERERS",
    "UNTITLED",
    "FeedInfo",
    "feed_updated",
    "image_type",
    "iso_time",
    "language_tag",
    "newest_update",
    "publishable",
    "render",
    "render_atom",
    "render_json",
    "render_rss",
    "rfc3339",
    "xml_safe",
]


def rfc3339(moment: datetime) -> str:
    return iso_time(moment).replace("+00:00", "Z")


def render_json(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    feed_author = xml_safe(info.author)
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
        # An item naming nobody is by the feed's author, as an Atom entry is; the feed names
        # no authors of its own, since Miniflux adds them to every item's.
        if name := a.author or feed_author:
            item["authors"] = [{"name": name}]
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
    }
    if info.prev_archive_urls:
        # JSON Feed pages backwards: next_url is the page of older items.
        feed["next_url"] = info.prev_archive_urls["json"]
    if info.hub_url:
        feed["hubs"] = [{"type": "WebSub", "url": info.hub_url}]
    feed["items"] = items
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_rss(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return xmlfeeds.render_rss(info, [publishable(a) for a in articles])


def render_atom(info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return xmlfeeds.render_atom(info, [publishable(a) for a in articles])


RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


def render(fmt: str, info: FeedInfo, articles: Sequence[Article]) -> bytes:
    return RENDERERS[fmt](info, articles)
