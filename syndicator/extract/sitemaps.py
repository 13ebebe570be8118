"""Sitemaps as entry points: the article URLs a site lists in `sitemap.xml` (sitemaps.org),
in a sitemap index, in a Google News sitemap (`news:` publication date and title), gzipped
or not.

A sitemap can list 50,000 URLs: it is read as a stream of elements (each dropped once read),
never built into one tree, and a gzipped one is inflated up to a limit. Entities are never
expanded and nothing is fetched while parsing, so an XML bomb or an external entity is
refused like in a feed.

Pure: bytes in, URLs and dates out.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from syndicator.core import identity
from syndicator.core.errors import ExtractError

# The sitemaps.org protocol caps a sitemap at 50 MB uncompressed.
MAX_INFLATED = 50 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SitemapUrl:
    """One `<url>` of a sitemap: where, and when it was published or last changed."""

    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None  # news:publication_date
    title: str | None = None  # news:title

    @property
    def stamp(self) -> datetime | None:
        """The date that says how new the article is: its publication, else its change."""
        return self.published or self.lastmod


@dataclass
class Sitemap:
    """What one sitemap document lists: article URLs (a urlset) or other sitemaps (an index)."""

    urls: list[SitemapUrl] = field(default_factory=list)
    children: list[SitemapUrl] = field(default_factory=list)

    @property
    def is_index(self) -> bool:
        return bool(self.children) and not self.urls


def inflate(body: bytes, limit: int = MAX_INFLATED) -> bytes:
    """A gzipped sitemap's bytes, inflated up to `limit`; anything else as it is."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ExtractError("", f"broken gzip sitemap: {exc}", kind="not-sitemap") from None
    if len(out) > limit:
        raise ExtractError(
            "", f"gzip sitemap inflates past {limit // (1024 * 1024)} MB", kind="too-large"
        )
    return out


def parse_date(text: str | None) -> datetime | None:
    """A W3C datetime (`2024-03-05`, `2024-03-05T10:00:00+01:00`, `...Z`) in UTC; None when
    it is missing or not a date."""
    if not text:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None  # not a date, or one past the range of UTC times (9999-12-31T23:00-14:00)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _elements(data: bytes) -> Iterator[etree._Element]:
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        load_dtd=False,
    )
    try:
        for _event, element in events:
            yield element
    except etree.XMLSyntaxError as exc:
        raise ExtractError("", f"not a sitemap: {exc}", kind="not-sitemap") from None


def parse_sitemap(body: bytes, url: str) -> Sitemap:
    """The URLs or child sitemaps one sitemap document lists, in its order, made absolute
    against `url`. Raises ExtractError when the bytes are not a sitemap."""
    try:
        data = inflate(body)
    except ExtractError as exc:
        raise ExtractError(url, exc.message, kind=exc.kind) from None
    out = Sitemap()
    root_seen = ""
    try:
        for element in _elements(data):
            name = _local(element.tag)
            if name not in ("url", "sitemap"):
                if name in ("urlset", "sitemapindex"):
                    root_seen = name
                continue
            # loc and lastmod are the element's own children (an image:loc inside is not the
            # page's); news:publication_date and news:title live deeper, in <news:news>.
            fields = {_local(c.tag): (c.text or "").strip() for c in element}
            for child in element.iter():
                child_name = _local(child.tag)
                if child_name in ("publication_date", "title") and child.text:
                    fields.setdefault(child_name, child.text.strip())
            loc = fields.get("loc")
            if loc and (absolute := identity.join_url(url, loc)) is not None:
                entry = SitemapUrl(
                    loc=absolute,
                    lastmod=parse_date(fields.get("lastmod")),
                    published=parse_date(fields.get("publication_date")),
                    title=fields.get("title") or None,
                )
                (out.urls if name == "url" else out.children).append(entry)
            # Done with this element: drop it and the siblings read before it.
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except ExtractError as exc:
        raise ExtractError(url, exc.message, kind=exc.kind) from None
    if root_seen not in ("urlset", "sitemapindex"):
        raise ExtractError(url, "not a sitemap (no urlset or sitemapindex)", kind="not-sitemap")
    return out


def recent(entries: list[SitemapUrl], since: datetime | None) -> list[SitemapUrl]:
    """The entries dated at or after `since` (all of them when it is None), newest first;
    undated entries are kept, after the dated ones, in the sitemap's order."""
    dated = [e for e in entries if e.stamp is not None]
    undated = [e for e in entries if e.stamp is None]
    if since is not None:
        dated = [e for e in dated if e.stamp is not None and e.stamp >= since]
    dated.sort(key=lambda e: e.stamp or datetime.min.replace(tzinfo=UTC), reverse=True)
    return dated + undated
