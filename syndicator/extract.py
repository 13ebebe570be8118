"""Bytes to data: source feeds to entries, listing pages to article links, article pages to
clean articles.

Owns character-set detection, feedparser and trafilatura calls and the page metadata we read
(OpenGraph, article:* meta, breadcrumb, lead figure). Pure: bytes in, models out, no I/O.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html
import trafilatura
from lxml import etree

from . import clean
from .errors import ExtractError
from .models import FeedEntry, Page

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
_FEED_END = re.compile(rb"</(?:[A-Za-z0-9_]+:)?(?:rss|feed|RDF)>\s*$")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def detect_charset(body: bytes, header_charset: str | None = None) -> str:
    """Charset from the HTTP header, the BOM, the XML declaration, the meta tag, in that order."""
    if charset := _known(header_charset):
        return charset
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    head = body[:4096]
    for pattern in (_XML_DECL, _META_CHARSET):
        if (m := pattern.search(head)) and (charset := _known(m.group(1).decode("ascii"))):
            return charset
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "windows-1252"
    return "utf-8"


def decode(body: bytes, header_charset: str | None = None) -> str:
    charset = detect_charset(body, header_charset)
    text = body.decode(charset, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def _parse_html(body: bytes, url: str, header_charset: str | None) -> etree._Element:
    text = decode(body, header_charset)
    # lxml refuses str input that carries an encoding declaration; drop the XML one.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    if not text.strip():
        raise ExtractError(url, "empty page")
    try:
        return lxml.html.document_fromstring(text, base_url=url)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(url, f"not an HTML page: {exc}") from None


# --- feeds -------------------------------------------------------------------------------


def _feed_time(entry: Any, key: str) -> datetime | None:
    parsed = dict.get(entry, f"{key}_parsed")
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def parse_feed(body: bytes, url: str, header_charset: str | None = None) -> list[FeedEntry]:
    """RSS or Atom bytes to entries; anything that is not a feed raises ExtractError."""
    head = body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise ExtractError(url, "an HTML page where a feed was expected", kind="not-a-feed")
    parsed = feedparser.parse(
        body,
        response_headers=(
            {"content-type": f"application/xml; charset={header_charset}"} if header_charset else {}
        ),
    )
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise ExtractError(url, f"not an RSS or Atom feed: {reason}", kind="not-a-feed")
    if parsed.get("bozo") and not parsed.entries:
        raise ExtractError(url, f"broken feed: {parsed.get('bozo_exception')}", kind="not-a-feed")
    if parsed.get("bozo") and not _FEED_END.search(body[-512:]):
        # feedparser salvages what it can from a cut-off body; a cut-off feed may have lost
        # entries or half an entry, so it is refused and the next mirror is asked instead.
        raise ExtractError(url, f"truncated feed: {parsed.get('bozo_exception')}", kind="truncated")
    entries = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        content = entry.get("content")
        entries.append(
            FeedEntry(
                link=urljoin(url, link),
                guid=entry.get("id"),
                title=entry.get("title"),
                summary=entry.get("summary"),
                content_html=content[0].get("value") if content else None,
                published=_feed_time(entry, "published"),
                updated=_feed_time(entry, "updated"),
                author=entry.get("author"),
            )
        )
    return entries


# --- listing pages -----------------------------------------------------------------------


def listing_links(
    body: bytes, url: str, site_origins: set[str], pattern: str, header_charset: str | None = None
) -> list[str]:
    """Links to article pages of this site, in page order, each once."""
    root = _parse_html(body, url, header_charset)
    matcher = re.compile(pattern)
    own = _origin(url)
    seen: dict[str, None] = {}
    for a in root.iter("a"):
        href = a.get("href")
        if not href:
            continue
        absolute = urljoin(url, href.strip()).split("#", 1)[0]
        origin = _origin(absolute)
        if origin != own and origin not in site_origins:
            continue
        if matcher.search(urlsplit(absolute).path):
            seen.setdefault(absolute, None)
    return list(seen)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


# --- article pages -----------------------------------------------------------------------


def _meta(root: etree._Element, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            for el in root.iter("meta"):
                if (el.get(attr) or "").lower() == name and (el.get("content") or "").strip():
                    return " ".join(el.get("content", "").split())
    return None


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _breadcrumb(root: etree._Element) -> tuple[str, ...]:
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        marks = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('aria-label') or ''}".lower()
        if "breadcrumb" in marks:
            links = [clean.text_of(a) for a in el.iter("a", "li", "span") if clean.text_of(a)]
            parts = links or [p.strip() for p in clean.text_of(el).split("/")]
            # A trail's items can nest (li > a): keep each label once, in order.
            return tuple(dict.fromkeys(p for p in parts if p and p not in ("/", ">", "»")))
    return ()


def _lead_figure(root: etree._Element, url: str) -> tuple[str | None, str | None]:
    scope = next(iter(root.iter("article")), None)
    if scope is None:
        scope = next(iter(root.iter("main")), None)
    if scope is None:
        scope = root
    for fig in scope.iter("figure"):
        img = next(iter(fig.iter("img")), None)
        if img is not None and img.get("src"):
            cap = next(iter(fig.iter("figcaption")), None)
            caption = clean.text_of(cap) if cap is not None else (img.get("alt") or None)
            return urljoin(url, img.get("src", "")), caption or None
    image = _meta(root, "og:image", "twitter:image")
    return (urljoin(url, image) if image else None), None


def _title(root: etree._Element) -> str | None:
    h1 = next(iter(root.iter("h1")), None)
    if h1 is not None and clean.text_of(h1):
        return clean.text_of(h1)
    if title := _meta(root, "og:title", "twitter:title"):
        return title
    t = next(iter(root.iter("title")), None)
    return clean.text_of(t) if t is not None and clean.text_of(t) else None


def extract_article(
    body: bytes,
    url: str,
    *,
    header_charset: str | None = None,
    strip_selectors: tuple[str, ...] = (),
    trace: clean.RuleTrace | None = None,
) -> Page:
    """An article page to a clean Page; a page with no article body raises ExtractError.

    `trace` is told the name of every cleaning rule that removed something."""
    root = _parse_html(body, url, header_charset)
    title = _title(root)
    if not title:
        raise ExtractError(url, "no title found", kind="no-article")
    canonical = next(
        (
            el.get("href")
            for el in root.iter("link")
            if (el.get("rel") or "").lower() == "canonical" and el.get("href")
        ),
        None,
    )
    published = parse_date(
        _meta(root, "article:published_time", "datepublished", "date", "dc.date", "pubdate")
    )
    if published is None:
        t = next((el for el in root.iter("time") if el.get("datetime")), None)
        published = parse_date(t.get("datetime")) if t is not None else None
    updated = parse_date(_meta(root, "article:modified_time", "datemodified", "og:updated_time"))
    author = _meta(root, "author", "article:author", "dc.creator")
    image_url, image_caption = _lead_figure(root, url)
    trail = _breadcrumb(root)
    html_el = root if root.tag == "html" else next(iter(root.iter("html")), root)
    language = (html_el.get("lang") or "").strip() or _meta(root, "og:locale", "language")

    clean.strip_boilerplate(root, strip_selectors, trace)
    extracted = trafilatura.extract(
        lxml.html.tostring(root, encoding="unicode"),
        url=url,
        output_format="html",
        include_images=False,
        include_links=True,
        include_tables=True,
        include_comments=False,
        deduplicate=False,
    )
    if not extracted:
        raise ExtractError(url, "no article body found", kind="no-article")
    body_root = lxml.html.fragment_fromstring(extracted, create_parent="div")
    container = next(iter(body_root.iter("body")), body_root)
    clean.drop_paragraph_boilerplate(container, trace)
    # The headline and the lead figure are published as their own fields.
    for el in list(container.iter("h1", "figure", "img")):
        clean.drop_element(el)
    body_text = "\n\n".join(t for p in _blocks(container) if (t := clean.text_of(p)))
    if not body_text.strip():
        raise ExtractError(url, "no article body found", kind="no-article")
    summary = _meta(root, "og:description", "description") or body_text.split("\n\n", 1)[0]
    return Page(
        url=url,
        title=title,
        body_html=clean.fragment_html(container),
        body_text=body_text,
        published=published,
        updated=updated,
        author=author,
        image_url=image_url,
        image_caption=image_caption,
        section_trail=trail,
        canonical_link=urljoin(url, canonical) if canonical else None,
        language=language or None,
        summary=summary,
    )


_BLOCK_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "td",
    "th",
    "figcaption",
    "dd",
    "dt",
}


def _blocks(container: etree._Element) -> list[etree._Element]:
    """Innermost text blocks, so nested lists or quotes are not counted twice."""
    found = []
    for el in container.iter():
        if el.tag in _BLOCK_TAGS and not any(d.tag in _BLOCK_TAGS for d in el.iterdescendants()):
            found.append(el)
    if not found and clean.text_of(container):
        found.append(container)
    return found
