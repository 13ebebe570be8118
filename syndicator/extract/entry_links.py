"""Which page a feed entry stands for, of what feedparser read: its first alternate link
of HTML, else its link, else its guid (an Atom id) when that is written as a URL and is a
permalink. Pure: feedparser's entries and the feed's bytes in, links out, no I/O.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# What feedparser says a text construct (or a link) holds when it is markup, not text.
MARKUP_TYPES = ("text/html", "application/xhtml+xml")


def alternate_link(entry: Any, written_ids: set[str] | None) -> str | None:
    """The page an entry stands for: its first `rel="alternate"` link of type text/html (a
    link of no type is one), else its first XHTML one, as feedparser documents the link.
    feedparser's own `link` is the last of them: an entry that also linked its French or AMP
    copy had that copy fetched as the article. Else feedparser's `link`, unless feedparser
    took it from a guid (an Atom id) that is no URL (`_id_is_url`)."""
    alternates = [
        link
        for link in entry.get("links") or ()
        if link.get("rel") == "alternate" and link.get("href")
    ]
    for wanted in MARKUP_TYPES:
        for link in alternates:
            if str(link.get("type")).split(";")[0].strip().lower() == wanted:
                return str(link["href"])
    link = entry.get("link")
    if not isinstance(link, str):
        return None
    if entry.get("guidislink") and link == entry.get("id"):
        return link if _id_is_url(link, written_ids) else None
    return link


# A guid's (an Atom id's) text as written, whatever its prefix, in a CDATA section or not.
_ID_TEXT = re.compile(
    r"<(?:[\w.-]+:)?(?:guid|id)\b[^>]*>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))", re.DOTALL
)


def ids_as_written(text: str) -> set[str]:
    """The guids and ids of a feed's text as written, before an `xml:base` resolves them."""
    return {html.unescape(cdata or plain).strip() for cdata, plain in _ID_TEXT.findall(text)}


def _id_is_url(ident: str, written_ids: set[str] | None) -> bool:
    """Whether a guid (an Atom id) that stands for its entry's link is written as a URL:
    absolute (`https://...`) or from the site's root (`/Detail/...`, `//host/...`). A token
    (`3f2a-77`) is none: made absolute against the feed's address (or against its `xml:base`,
    as feedparser resolves every guid not said to be no permalink), it was fetched as an
    article, a 404 on every mirror. `written_ids`: the guids as written, when feedparser
    resolved them against an `xml:base` (`ids_as_written`)."""
    ident = ident.strip()
    if written_ids is not None and ident not in written_ids:
        # Resolved: written from the root, it is its path (and host) as they are now.
        parts = urlsplit(ident)
        rest = (parts.path, parts.query, parts.fragment)
        return bool(
            parts.path.startswith("/")
            and {urlunsplit(("", "", *rest)), urlunsplit(("", parts.netloc, *rest))} & written_ids
        )
    return ident.lower().startswith(("http://", "https://", "/"))


# An RSS `<guid isPermaLink="false">` and its text: a guid said to be no link.
_NOT_PERMALINK = re.compile(
    rb"<guid\b[^>]*\bisPermaLink\s*=\s*[\"']false[\"'][^>]*>([^<]*)</guid>", re.IGNORECASE
)


def permalink_guids(parsed: Any, body: bytes, written_ids: set[str] | None) -> dict[str, str]:
    """The guids that stand for their RSS items' links, for items whose `<link>` is there but
    empty: a guid that is a URL (`_id_is_url`) and a permalink (RSS 2.0: `isPermaLink` is
    true unless it says false). feedparser takes the guid for the link only when an item has
    no `<link>` at all, so items a CMS wrote with `<link></link>` and their URL in the guid
    were dropped, while readers open the guid."""
    if not str(parsed.get("version", "")).startswith("rss"):
        return {}
    guids = {
        guid
        for entry in parsed.entries
        if not entry.get("link")
        and (guid := entry.get("id") or "")
        and _id_is_url(guid, written_ids)
    }
    if not guids:
        return {}
    marked = {
        html.unescape(m.decode("utf-8", "replace")).strip() for m in _NOT_PERMALINK.findall(body)
    }
    return {guid: guid for guid in guids - marked}
