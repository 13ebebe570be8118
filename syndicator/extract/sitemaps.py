"""Sitemaps as entry points: the article URLs a site lists in `sitemap.xml` (sitemaps.org),
in a sitemap index, in a Google News sitemap (`news:` publication date and title), in a
plain-text sitemap (one URL a line), in an RSS or Atom feed served as a sitemap (read by
`listings.parse_feed`), gzipped or not.

A sitemap can list 50,000 URLs: it is read as a stream of elements (each dropped once read),
never built into one tree, and a gzipped one is inflated up to a limit. Entities are never
expanded and nothing is fetched while parsing, so an XML bomb or an external entity is
refused like in a feed; HTML's entity references (`&nbsp;`) are read as their characters.

Pure: bytes in, URLs and dates out.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.extract import (
    compressed,
    dates,
    decoding,
    listings,
    sitemap_mending,
    validate,
)

# The sitemaps.org protocol caps a sitemap at 50 MB uncompressed.
MAX_INFLATED = 50 * 1024 * 1024
# ... and at 50,000 URLs: past them, no more are read. 450,000 short ones fit in 50 MB (a
# 1.2 MB gzip) and took 33 s of a pull's parsing, on every pull.
MAX_SITEMAP_URLS = 50_000


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
    # Lines of a plain-text sitemap that were no http(s) URL, left out.
    skipped: int = 0
    # Cut off mid-file: what it lists are the entries before the cut.
    truncated: bool = False
    # Lists more than MAX_SITEMAP_URLS entries: what it lists are the first of them.
    over_limit: bool = False

    @property
    def is_index(self) -> bool:
        return bool(self.children) and not self.urls


def inflate(body: bytes, limit: int = MAX_INFLATED) -> bytes:
    """A gzipped sitemap's bytes, inflated up to `limit`; anything else as it is."""
    return compressed.inflate(body, limit, "sitemap")


def parse_date(text: str | None) -> datetime | None:
    """A W3C datetime (`2024-03-05`, `2024-03-05T10:00:00+01:00`, `...Z`) in UTC, read as a
    feed's or a page's date is (`dates.parse_date`); None when it is missing or not a date."""
    if not text:
        return None
    value = text.strip()
    if year_month := _YEAR_MONTH.fullmatch(value):
        # W3C datetime's shorter forms: a year, a year and month.
        try:
            return datetime(int(year_month[1]), int(year_month[2] or 1), 1, tzinfo=UTC)
        except ValueError:
            return None
    moment = dates.parse_date(value)
    if moment is None or moment.tzinfo is dates.NO_ZONE:
        return moment  # a source's time_zone may place it
    return moment.astimezone(UTC)


_YEAR_MONTH = re.compile(r"(\d{4})(?:-(\d{2}))?")
# Google News sitemaps' namespace (`http://www.google.com/schemas/sitemap-news/0.9`, older
# sitemaps 0.84, some https): its `title` and `publication_date` are the article's; an
# image's or a video's (`image:title`, `video:publication_date`) are not.
_NEWS_NAMESPACE = "/schemas/sitemap-news/"
_ENTRIES = ("url", "sitemap")
# Elements one entry may hold: a page's `<url>` with its 1,000 images (the most Google reads)
# holds a few thousand. More is junk, kept in memory until the entry ends: refused.
MAX_ENTRY_ELEMENTS = 20_000


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


# What every parse of a sitemap is held to: no entity expanded, nothing fetched, no DTD
# loaded, libxml2's size limits kept (an XML bomb or an external entity is refused).
_SAFE: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
}


def _root(data: bytes) -> str:
    """The local name of the document's root element, read from its first bytes with a
    parser that reads past errors (a feed broken further on is still a feed, for the feed
    parser to salvage or refuse); "" when they hold none."""
    parser = etree.XMLPullParser(events=("start",), recover=True, **_SAFE)
    for at in range(0, min(len(data), _ROOT_WITHIN), 4096):
        parser.feed(data[at : at + 4096])
        for _event, element in parser.read_events():
            return _local(element.tag)
    return ""


# How far into a document its root element is looked for.
_ROOT_WITHIN = 65_536


def _elements(data: bytes) -> Iterator[etree._Element]:
    events = etree.iterparse(
        io.BytesIO(data), events=("end",), remove_comments=True, remove_pis=True, **_SAFE
    )
    try:
        for _event, element in events:
            yield element
    except etree.XMLSyntaxError as exc:
        raise ExtractError("", f"not a sitemap: {exc}", kind="not-sitemap") from None


def _drop(element: etree._Element) -> None:
    """Done with this element: free it and the siblings read before it, so that a sitemap's
    memory stays that of one entry, whatever it holds."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _entry(element: etree._Element, url: str) -> SitemapUrl | None:
    """A `<url>` or `<sitemap>` element as a SitemapUrl; None without a web address."""
    # loc and lastmod are the element's own children (an image:loc inside is not the page's),
    # and only plain text: a loc holding an element or an entity reference (never expanded)
    # would be read cut short.
    fields = {_local(c.tag): (c.text or "").strip() for c in element if not len(c)}
    # news:publication_date and news:title live deeper, in <news:news>.
    for child in element.iter("{*}publication_date", "{*}title"):
        if _NEWS_NAMESPACE in child.tag and child.text and not len(child):
            fields.setdefault(_local(child.tag), child.text.strip())
    loc = fields.get("loc")
    absolute = identity.join_url(url, loc) if loc else None
    if absolute is None or not absolute.startswith(("http://", "https://")):
        return None  # no loc, or a javascript:, data:, mailto: or file: one
    return SitemapUrl(
        loc=absolute,
        lastmod=parse_date(fields.get("lastmod")),
        published=parse_date(fields.get("publication_date")),
        title=fields.get("title") or None,
    )


# A line of a plain-text sitemap: one absolute http(s) URL, nothing else on it.
_URL_LINE = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


def _plain_text(data: bytes, url: str, header_charset: str | None) -> Sitemap | None:
    """The URLs of a plain-text sitemap (sitemaps.org: a text file of one absolute URL a
    line, up to 50,000), in its order; None when the bytes do not begin with an http(s) URL,
    or go on with markup, so that they are read as XML (which reads a sitemap after what a
    server printed, and refuses a page). A line that is not one absolute http(s) URL (a
    generator's note, two URLs run together, a relative path) is skipped and counted: one
    such line had the whole sitemap refused, and the section got nothing from it. A text
    with more such lines than URLs is refused: an error message or a notice that begins with
    an address is no sitemap."""
    start = (
        data[: sitemap_mending.BEFORE_DECLARATION].removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    )
    if not start[:8].lower().startswith((b"http://", b"https://")):
        return None
    text = data.decode(decoding.detect_charset(data, header_charset), errors="replace")
    urls: list[SitemapUrl] = []
    skipped = 0
    for line in text.removeprefix("\ufeff").splitlines():
        if not (line := line.strip()):
            continue
        if line.startswith("<"):
            return None
        # One that is no URL all the same ("http://[::1") is skipped as any other line.
        if _URL_LINE.fullmatch(line) and (absolute := identity.join_url(url, line)) is not None:
            if len(urls) == MAX_SITEMAP_URLS:
                return Sitemap(urls=urls, skipped=skipped, over_limit=True)
            urls.append(SitemapUrl(loc=absolute))
        else:
            skipped += 1
    if skipped > len(urls):
        raise ExtractError(
            url,
            f"not a sitemap: a text of which {skipped:,} lines are not http(s) URLs, and "
            f"{len(urls):,} are",
            kind="not-sitemap",
        )
    return Sitemap(urls=urls, skipped=skipped)


# The root elements of RSS (2.0 and 0.9x; RSS 1.0's rdf:RDF) and Atom feeds.
_FEED_ROOTS = ("rss", "feed", "RDF")


def _feed_sitemap(data: bytes, url: str, header_charset: str | None) -> Sitemap:
    """An RSS or Atom feed where a sitemap was expected (sitemaps.org allows either as a
    sitemap, and an index may name one), read as the feed of an entry point is
    (`listings.parse_feed`): its entries' links, each dated by its update, else its
    publication, as `lastmod`. It was refused ("no urlset or sitemapindex"), and the section
    got nothing from it. A feed of seizure notices is refused as where a feed is expected."""
    try:
        entries = listings.parse_feed(data, url, header_charset)
    except ExtractError as exc:
        refused = "not-sitemap" if exc.kind == "not-a-feed" else exc.kind
        raise ExtractError(url, exc.message, kind=refused) from None
    if notice := validate.feed_notice(entries):
        raise validate.feed_rejected(url, notice)
    return Sitemap(
        urls=[SitemapUrl(loc=e.link, lastmod=_in_utc(e.updated or e.published)) for e in entries]
    )


def _in_utc(moment: datetime | None) -> datetime | None:
    """A time in UTC, as a `lastmod` is read (`parse_date`); one given with no zone as it is
    (a source's time_zone may place it)."""
    if moment is None or moment.tzinfo is dates.NO_ZONE:
        return moment
    return moment.astimezone(UTC)


def parse_sitemap(body: bytes, url: str, header_charset: str | None = None) -> Sitemap:
    """The URLs or child sitemaps one sitemap document lists, in its order, made absolute
    against `url`; `header_charset` is the charset the HTTP header names, weighed as a
    feed's is (`decoding.detect_charset`). Raises ExtractError when the bytes are not a
    sitemap."""
    try:
        data = inflate(body)
    except ExtractError as exc:
        raise ExtractError(url, exc.message, kind=exc.kind) from None
    if (listed := _plain_text(data, url, header_charset)) is not None:
        return listed
    mended = sitemap_mending.mend(data, header_charset)
    root = _root(mended)
    if root in _FEED_ROOTS:
        return _feed_sitemap(data, url, header_charset)
    try:
        out = _entries(mended, url)
    except ExtractError as exc:
        refused = ExtractError(url, exc.message, kind=exc.kind)
        if exc.kind != "not-sitemap" or root not in _ROOTS:
            raise refused from None
        out = _salvaged(mended, url, refused)
    out.urls = _undated_if_generated(out.urls)
    return out


def _salvaged(mended: bytes, url: str, refused: ExtractError) -> Sitemap:
    """The entries of a sitemap cut off mid-file before the cut, marked `truncated`; else
    `refused`, raised (saying so when the cut came before its first entry ended: no sitemap,
    as it was)."""
    whole = _before_the_cut(mended)
    if whole is None:
        raise refused
    if not whole:
        raise ExtractError(
            url, "truncated sitemap: cut off before its first entry ended", kind="not-sitemap"
        )
    try:
        out = _entries(whole, url)
    except ExtractError:
        raise refused from None
    out.truncated = True
    return out


_ROOTS = ("urlset", "sitemapindex")
# The root's start tag as written (a prefix and all), the end of an entry, and the root's
# end tag.
_ROOT_START = re.compile(rb"<((?:[\w.-]+:)?(?:urlset|sitemapindex))[\s/>]")
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:url|sitemap)\s*>")
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex)\s*>")


def _before_the_cut(data: bytes) -> bytes | None:
    """A sitemap cut off mid-file (a generator that died while writing it, a copy saved
    half-way) up to the end of its last whole entry, and closed: the entries before the cut
    are as good as any, and refusing the document for its lost end lost them all. None when
    the document has its end (its fault is elsewhere, and it is refused); b"" when it was
    cut before its first entry ended. What is given back is parsed as strictly as any
    sitemap: an element left open before the cut, or a fault before it, still refuses it."""
    if _ROOT_END.search(data) or (root := _ROOT_START.search(data, 0, _ROOT_WITHIN)) is None:
        return None
    end = len(data)
    while (at := data.rfind(b"</", root.end(), end)) >= 0:
        if entry := _ENTRY_END.match(data, at):
            return data[: entry.end()] + b"</" + root[1] + b">"
        end = at
    return b""


def _entries(mended: bytes, url: str) -> Sitemap:
    """The entries of a sitemap's (mended) XML, read as a stream, made absolute against
    `url`; ExtractError (with no URL: the caller names it) when it is no sitemap."""
    out = Sitemap()
    root_seen = ""
    held = 0  # elements read inside the entry not yet ended
    for element in _elements(mended):
        name = _local(element.tag)
        inside = any(_local(a.tag) in _ENTRIES for a in element.iterancestors())
        if inside:
            held += 1
            if held > MAX_ENTRY_ELEMENTS:
                raise ExtractError(
                    "",
                    f"one sitemap entry holds more than {MAX_ENTRY_ELEMENTS:,} elements",
                    kind="hostile-markup",
                )
        if name not in _ENTRIES or inside:
            if name in _ROOTS:
                root_seen = name
            elif not inside:
                # Not an entry nor in one (another namespace's element, junk): read, so
                # dropped now; an entry's own children go with it.
                _drop(element)
            continue
        if entry := _entry(element, url):
            if len(out.urls) + len(out.children) == MAX_SITEMAP_URLS:
                out.over_limit = True
                parent = element.getparent()
                root_seen = _local(parent.tag) if parent is not None else ""
                break
            (out.urls if name == "url" else out.children).append(entry)
        _drop(element)
        held = 0
    if root_seen not in _ROOTS:
        raise ExtractError("", "not a sitemap (no urlset or sitemapindex)", kind="not-sitemap")
    return out


def _undated_if_generated(urls: list[SitemapUrl]) -> list[SitemapUrl]:
    """The URLs without their `lastmod` when every one gives the same: a generator that
    writes the moment it ran as each URL's (as some CMSs do in a feed, `listings.
    GENERATED_ENTRIES`). It dates none of them, and, newer on every pull, it read as
    "changed since stored": every article the sitemap lists was fetched again on every
    pull."""
    if len(urls) < listings.GENERATED_ENTRIES:
        return urls
    stamps = {u.lastmod for u in urls}
    if len(stamps) != 1 or None in stamps:
        return urls
    return [dataclasses.replace(u, lastmod=None) for u in urls]


# A date more than this after now is not believed (a broken CMS, a hostile mirror: a child
# sitemap dated 2999 must not push the day's sitemaps out of those read).
FUTURE_SKEW = timedelta(days=1)


def recent(
    entries: list[SitemapUrl], since: datetime | None, now: datetime | None = None
) -> list[SitemapUrl]:
    """The entries dated at or after `since` (all of them when it is None), newest first;
    undated entries are kept, after the dated ones, in the sitemap's order. With `now`, an
    entry dated more than a day after it counts as undated."""

    def believed(e: SitemapUrl) -> bool:
        return e.stamp is not None and (now is None or e.stamp <= now + FUTURE_SKEW)

    dated = [e for e in entries if believed(e)]
    undated = [e for e in entries if not believed(e)]
    if since is not None:
        dated = [e for e in dated if e.stamp is not None and e.stamp >= since]
    dated.sort(key=lambda e: e.stamp or datetime.min.replace(tzinfo=UTC), reverse=True)
    return dated + undated


# WordPress core's sitemaps (since 5.5) of one post type, page by page:
# `/wp-sitemap-posts-{post type}-{page}.xml`, or without pretty permalinks
# `/?sitemap=posts&sitemap-subtype={post type}&paged={page}`. Each page lists its posts by
# ID, oldest first (`WP_Sitemaps_Posts`: orderby ID, order ASC), and the index
# `/wp-sitemap.xml` dates none of its pages.
_WP_POSTS_PAGE = re.compile(r"/wp-sitemap-posts-([a-z0-9_-]+)-([0-9]{1,9})\.xml\Z")


def _wp_posts_page(loc: str) -> tuple[str, int] | None:
    """The post type and page number of one of WordPress core's post sitemaps, else None."""
    parts = urlsplit(loc)
    if found := _WP_POSTS_PAGE.search(parts.path):  # WordPress may live in a folder
        return found[1], int(found[2])
    query = parse_qs(parts.query)
    if query.get("sitemap") == ["posts"] and len(kind := query.get("sitemap-subtype", [])) == 1:
        page = query.get("paged", ["1"])
        if len(page) == 1 and page[0].isdigit() and len(page[0]) < 10:
            return kind[0], int(page[0])
    return None


def newest_pages_first(children: list[SitemapUrl]) -> list[SitemapUrl]:
    """The sitemaps an index names, the pages of each post type of WordPress core's sitemaps
    (`wp-sitemap-posts-post-1.xml`, `-2.xml`, ...) highest page first, in the places the
    series held; any other as it is. WordPress lists a type's oldest posts on its first
    page and dates no page: read in the index's order, within the sitemaps read a pull
    (`recent` keeps undated ones in that order) and the links taken from them, a site of
    more pages than that never had its newest posts read."""
    pages = {at: page for at, child in enumerate(children) if (page := _wp_posts_page(child.loc))}
    series: dict[str, list[int]] = {}
    for at, (post_type, _number) in pages.items():
        series.setdefault(post_type, []).append(at)
    ordered = list(children)
    for places in series.values():
        newest = sorted(places, key=lambda at: pages[at][1], reverse=True)
        for place, at in zip(places, newest, strict=True):
            ordered[place] = children[at]
    return ordered
