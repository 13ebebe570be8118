"""Source feeds to what they list: RSS, Atom and JSON Feed (read with feedparser) to
`FeedEntry`s (listing pages are `listing_pages`'). A feed cut off or stuffed with entries
fails, named; dates come from `dates`, one reader of every date. Pure: bytes in, models out,
no I/O.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.core.ingest import too_early
from syndicator.core.models import FeedEntry
from syndicator.extract import compressed, entry_links
from syndicator.extract.cdf import is_cdf
from syndicator.extract.dates import empty_date, parse_date
from syndicator.extract.decoding import (
    MAX_ATTRIBUTES,
    crowded_element,
    decode,
    detect_charset,
    drop_illegal,
    text_of_html,
    wide_encoding,
)
from syndicator.extract.doctypes import declares_entities, references_resolved, root_name

# A CDF channel's end, `</CHANNEL>` as CDF writes it: RSS's `</channel>` is not a feed's end.
_FEED_END = re.compile(rb"</(?:[A-Za-z0-9_]+:)?(?:rss|feed|RDF|CHANNEL)>")
# The root elements of RSS (2.0 and 0.9x; RSS 1.0's rdf:RDF) and Atom feeds.
_FEED_ROOTS = ("rss", "feed", "RDF")
# Feed markup: after the feed's end tag, it says that end tag was inside the feed's text.
_FEED_MARKUP = re.compile(rb"</?(?:[A-Za-z0-9_]+:)?(?:item|entry|channel)\b")
# How far from the end of the body the feed's end tag is looked for: past what servers
# write after it (a cache plugin's comment, a PHP notice or two).
_FEED_TAIL = 8192


def _legal(text: str | None) -> str | None:
    return drop_illegal(text) if text else text


def _feed_time(entry: Any, key: str) -> datetime | None:
    """An entry's time: the text as `dates.parse_date` reads it (the zone abbreviations
    publishers write, which feedparser reads as UTC), else as feedparser read it (its own
    formats: Greek, Hungarian...) when the year and day it read are written in the text
    (`_as_written`), else None when it is none a datetime can hold: a CMS's zero date
    (`0000-00-00 00:00:00`, read as year -1) or one past 9999 in UTC raised ValueError, and
    that one entry cost the whole feed, on every mirror."""
    text = dict.get(entry, key)
    if (moment := parse_date(text)) is not None:
        return moment
    parsed = dict.get(entry, f"{key}_parsed")
    if not parsed or empty_date(text) or not _as_written(text, parsed[0], parsed[2]):
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return None if too_early(moment) else moment


_NUMBER = re.compile(r"\d+")
_YEAR_MONTH = re.compile(r"\d{4}(?:-\d{2})?")


def _as_written(text: object, year: int, day: int) -> bool:
    """Whether feedparser's reading of `text` keeps the year and the day written in it (one
    off, either: it reads the time in UTC). Where the text gives no day or a garbled one,
    feedparser fills it in from the day it runs: `2013-xx-27` was the 1st of the month of the
    pull, a CMS's `07-12-2026` (7 December) was 20 December 2007, and the articles went into
    the feed dated so, months or years off. A W3C date of a year or a month alone (`2026`,
    `2026-07`) is its first day, as a sitemap's is."""
    if not isinstance(text, str):
        return False
    if _YEAR_MONTH.fullmatch(text.strip()):
        return day == 1
    numbers = [int(n) for n in _NUMBER.findall(text)]
    years = {n for n in numbers if 1000 <= n <= 9999}
    days = [n for n in numbers if 1 <= n <= 31]
    return bool(years & {year - 1, year, year + 1}) and any(
        abs(n - day) <= 1 or {n, day} <= {1, 28, 29, 30, 31} for n in days
    )


# More entries than any feed carries (the sitemaps protocol caps a sitemap at as many URLs):
# a million empty `<item/>` fit in 7 MB, under max_body, and took feedparser 23 s and 170 MB.
MAX_FEED_ENTRIES = 50_000
_ENTRY_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")


def _too_many_entries(url: str, count: int) -> ExtractError:
    return ExtractError(
        url,
        f"{count:,} entries, more than any feed carries (at most {MAX_FEED_ENTRIES:,}): not parsed",
        kind="hostile-markup",
    )


# What expat refuses a feed for that feedparser's lenient parser reads past, losing nothing:
# an HTML entity XML does not define, a namespace prefix the feed never declared.
_READ_PAST = ("undefined entity", "unbound prefix")


def _holds_entry_tags(body: bytes) -> bool:
    """Whether the bytes hold an entry's start tag (`<item>`, `<entry>`, with a prefix or
    none)."""
    if (wide := wide_encoding(body)) is not None:
        body = body.decode(wide[0], errors="replace").encode()
    return _ENTRY_TAG.search(body) is not None


def _entries_in(body: bytes) -> int:
    """How many entry start tags (`<item>`, `<entry>`, with a prefix or none) the bytes hold,
    counted only when a plain count of the names passes MAX_FEED_ENTRIES."""
    if (wide := wide_encoding(body)) is not None:
        body = body.decode(wide[0], errors="replace").encode()
    if body.count(b"<item") + body.count(b"entry") <= MAX_FEED_ENTRIES:
        return 0
    return sum(1 for _ in _ENTRY_TAG.finditer(body))


def _names_xml_base(body: bytes) -> bool:
    """Whether the bytes hold an `xml:base` attribute's name."""
    if (wide := wide_encoding(body)) is not None:
        return "xml:base" in body.decode(wide[0], errors="replace")
    return b"xml:base" in body


def _entry_link(feed_url: str, written: str | None) -> str | None:
    """A feed entry's link made absolute; None when it is missing, no URL, or the feed itself
    (`<link>#</link>` or an empty one made absolute: fetched as an article, the channel's
    title was published as one)."""
    if not written or (link := identity.join_url(feed_url, written)) is None:
        return None
    return None if link.split("#", 1)[0] == feed_url.split("#", 1)[0] else link


def _entry_title(entry: Any) -> str | None:
    """An entry's headline as text. An Atom title of `type="html"` or `"xhtml"` holds markup
    (WordPress writes its Atom titles so), and feedparser takes an RSS title for HTML when it
    holds tags or entity references (a CMS that escapes its headlines once more, `AT&amp;amp;T`):
    read as a reader reads them, their text is the headline. Kept as feedparser gave it, the
    markup and references were published as text ("AT&amp;T", "<em>buys</em>") in the items
    made from the feed, and a listed headline never matched its page's."""
    title = entry.get("title")
    detail = entry.get("title_detail") or {}
    if title and detail.get("type") in entry_links.MARKUP_TYPES:
        return text_of_html(title) or None
    return title


def _as_html(detail: Any, value: str | None) -> str | None:
    """An entry's content or summary as HTML. An Atom text construct of `type="text"`
    (Atom's default) is plain text: read as HTML, "x<y held" began a tag that swallowed the
    rest of the article, and its lines ran into one paragraph. It is written as HTML, a
    paragraph a line, as a JSON Feed's `content_text` is."""
    if value and (detail or {}).get("type") == "text/plain":
        return text_as_html(value)
    return value


def text_as_html(plain: str) -> str:
    """Plain text as HTML: each line that holds text a paragraph, escaped."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in plain.splitlines() if line.strip())


# Entries that all give one time, at least this many: the moment the feed was generated.
GENERATED_ENTRIES = 3


def _undated_if_generated(entries: list[FeedEntry]) -> list[FeedEntry]:
    """The entries without their published (or updated) time when every entry gives the
    same one: some CMSs write the moment the feed was generated as every item's pubDate. It
    dates none of them, and, newer on every pull, it read as "changed since stored": every
    article page was fetched again on every pull."""
    if len(entries) < GENERATED_ENTRIES:
        return entries
    if len({e.published for e in entries} - {None}) == 1 and all(e.published for e in entries):
        entries = [dataclasses.replace(e, published=None) for e in entries]
    if len({e.updated for e in entries} - {None}) == 1 and all(e.updated for e in entries):
        entries = [dataclasses.replace(e, updated=None) for e in entries]
    return entries


def ends_whole(body: bytes) -> bool:
    """The feed's end tag is in the body, followed by no feed markup: what servers write after
    it (WordPress cache plugins' `<!-- Performance optimized by W3 Total Cache ... -->`, a
    PHP notice) is no sign of a body cut short. Such a comment after an ill-formed feed (an
    HTML entity XML does not define, `&nbsp;`, in a headline) had the feed refused as
    truncated, on every mirror. A UTF-16 feed's tail is read as text: its bytes never
    matched, and any ill-formed UTF-16 feed was refused so; a UTF-32 one likewise."""
    tail = body[-_FEED_TAIL:]
    if (wide := wide_encoding(body)) is not None:
        codec, unit, mark = wide
        # From a whole code unit after the mark.
        start = max(mark, len(body) - _FEED_TAIL)
        tail = body[start - (start - mark) % unit :]
        tail = tail.decode(codec, errors="replace").encode("utf-8")
    ends = [m.end() for m in _FEED_END.finditer(tail)]
    return bool(ends) and not _FEED_MARKUP.search(tail, ends[-1])


def parse_feed(body: bytes, url: str, header_charset: str | None = None) -> list[FeedEntry]:
    """RSS, Atom or JSON Feed bytes to entries; anything that is not a feed raises
    ExtractError. Entries that all give one time give none (`_undated_if_generated`)."""
    return _undated_if_generated(_feed_entries(body, url, header_charset))


# A gzipped feed is inflated up to this: the fetch's own default body limit.
MAX_INFLATED_FEED = 10 * 1024 * 1024


def _feed_entries(body: bytes, url: str, header_charset: str | None) -> list[FeedEntry]:
    if body.startswith(compressed.GZIP_MAGIC):
        # Sent gzipped with no Content-Encoding to say so (a CDN that compressed it once
        # more, a `.xml.gz` feed): refused as "not well-formed" on every mirror before.
        try:
            body = compressed.inflate(body, MAX_INFLATED_FEED, "feed")
        except ExtractError as exc:
            raise ExtractError(url, exc.message, kind=exc.kind) from None
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _json_feed(body, url)
    head = body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) and root_name(body) not in _FEED_ROOTS:
        # (A feed a CMS put under XHTML's DOCTYPE is a feed: its root says so.)
        raise ExtractError(url, "an HTML page where a feed was expected", kind="not-a-feed")
    if declares_entities(body):
        raise ExtractError(
            url,
            "the feed declares XML entities (what an XML bomb or an external entity is made "
            "of): refused",
            kind="hostile-markup",
        )
    # The charset the bytes are really in, as for a page (`detect_charset`): a declaration
    # is believed only when the body agrees. Given the header's charset as it came,
    # feedparser believed it over the bytes (RFC 3023): a mirror that labelled its UTF-8
    # feed windows-1256 had every headline, and a feed's full text, published as mojibake.
    if (count := _entries_in(body)) > MAX_FEED_ENTRIES:
        raise _too_many_entries(url, count)
    charset = detect_charset(body, header_charset)
    if (resolved := references_resolved(body, charset)) is None:
        raise ExtractError(
            url,
            "the entities the feed declares would add more text to it than it holds (what an "
            "XML bomb is made of): refused",
            kind="hostile-markup",
        )
    body = resolved
    # feedparser looks each attribute of an element up among all the others (20,000 on one
    # took 12 s, 80,000 took 103 s, in a thread no deadline stops): refused unparsed, as a
    # page's are.
    if body.count(b"=") > MAX_ATTRIBUTES and (crowded := crowded_element(decode(body, charset))):
        raise ExtractError(
            url, f"an element with {crowded:,} attributes: not parsed", kind="hostile-markup"
        )
    headers = {"content-type": f"application/xml; charset={charset}"}
    written_ids: set[str] | None = None
    if _names_xml_base(body):
        # The feed's address, which a relative `xml:base` is relative to: without it,
        # feedparser dropped one's `..` and kept an entry's base for the entries after it,
        # whose links then led to no article. feedparser resolves a guid against the base
        # too, `3f2a-77` as well as a URL: the guids as written tell which were URLs.
        headers["content-location"] = url
        written_ids = entry_links.ids_as_written(decode(body, charset))
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except Exception as exc:
        # feedparser itself fails on some broken feeds (a reference to a lone surrogate,
        # `&#xD800;`; bytes in the XML declaration that are no charset's; an end tag its
        # lenient parser has no state for): that feed is refused like any broken one, and
        # the next mirror is asked, never the pull lost.
        raise ExtractError(
            url, f"not an RSS or Atom feed: {type(exc).__name__}: {exc}", kind="not-a-feed"
        ) from None
    if not parsed.get("version") and not is_cdf(body):
        # A CDF channel (`cdf`), which feedparser reads but names no version of, is a feed:
        # refused, it was every pull's failure on every mirror of a site that serves one.
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise ExtractError(url, f"not an RSS or Atom feed: {reason}", kind="not-a-feed")
    if parsed.get("bozo") and not parsed.entries:
        fault = str(parsed.get("bozo_exception"))
        if fault.endswith(_READ_PAST) and ends_whole(body) and not _holds_entry_tags(body):
            # A whole feed of no items (a section with nothing in it yet) whose channel
            # holds an HTML entity or a prefix it never declared (`&nbsp;`, `itunes:`),
            # which feedparser reads past: it lists nothing, as a well-formed empty one
            # does. It was refused as broken, and its mirror failed on every pull.
            return []
        raise ExtractError(url, f"broken feed: {parsed.get('bozo_exception')}", kind="not-a-feed")
    if parsed.get("bozo") and not ends_whole(body):
        # feedparser salvages what it can from a cut-off body; a cut-off feed may have lost
        # entries or half an entry, so it is refused and the next mirror is asked instead.
        raise ExtractError(url, f"truncated feed: {parsed.get('bozo_exception')}", kind="truncated")
    entries = []
    guid_links = entry_links.permalink_guids(parsed, body, written_ids)
    for entry in parsed.entries:
        written = entry_links.alternate_link(entry, written_ids) or guid_links.get(
            entry.get("id") or ""
        )
        if (link := _entry_link(url, written)) is None:
            continue
        content = entry.get("content")
        # feedparser turns `&#8;` into the control character itself: no text of a feed keeps
        # a code point no XML document may hold (the parser of a body and the feeds we write
        # refuse them).
        entries.append(
            FeedEntry(
                link=link,
                guid=_legal(entry.get("id")),
                title=_legal(_entry_title(entry)),
                summary=_legal(_as_html(entry.get("summary_detail"), entry.get("summary"))),
                content_html=_legal(_as_html(content[0], content[0].get("value")))
                if content
                else None,
                published=_feed_time(entry, "published"),
                updated=_feed_time(entry, "updated"),
                author=_legal(_entry_author(entry)),
            )
        )
    return entries


# RSS 2.0's `<author>`: "email (Name)", or as mail headers write it, "Name <email>".
_EMAIL_THEN_NAME = re.compile(r"^\s*[^\s@()<>]+@[^\s()<>]+\s*\((.+)\)\s*$")
# Longer than any byline: read as it is (the patterns backtrack over a hostile one).
_AUTHOR_MAX = 500
_NAME_THEN_EMAIL = re.compile(r"^\s*(\S.*?)\s*<[^\s@<>]+@[^\s<>]+>\s*$")


def _entry_author(entry: Any) -> str | None:
    """An entry's author by name. RSS 2.0 writes `<author>` as "email (Name)" (or "Name
    <email>"): kept whole, the reporter's address was published as the byline. The name is
    taken from it here (feedparser's own reading cuts an address on a top-level domain of
    more than four letters: "ple (Jane Doe" of "j.doe@news.example (Jane Doe)"); an author
    given by address alone keeps the address."""
    author = entry.get("author")
    if not isinstance(author, str) or len(author) > _AUTHOR_MAX:
        return author if isinstance(author, str) else None
    found = _EMAIL_THEN_NAME.match(author) or _NAME_THEN_EMAIL.match(author)
    return (found.group(1).strip() or author) if found else author


# JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) name their version so.
JSON_FEED_VERSION = "https://jsonfeed.org/version/"


def _json_text(value: object) -> str | None:
    """A JSON Feed text member, without what XML forbids; None when it is no text."""
    return _legal(value) if isinstance(value, str) and value.strip() else None


def _json_author(holder: Mapping[str, Any]) -> str | None:
    """The names in `authors` (1.1) or `author` (1.0), joined."""
    authors = holder.get("authors")
    people = authors if isinstance(authors, list) else [holder.get("author")]
    names = [n for p in people if isinstance(p, dict) and (n := _json_text(p.get("name")))]
    return ", ".join(names) or None


def _id_url(ident: object) -> str | None:
    """A JSON Feed item's `id` when it is an absolute http(s) URL: the spec's "ideally, the id
    is the full URL of the resource", which an item without `url` is linked by (it was
    skipped as linking to nothing)."""
    if isinstance(ident, str) and ident.strip().lower().startswith(("http://", "https://")):
        return ident.strip()
    return None


def _json_feed(body: bytes, url: str) -> list[FeedEntry]:
    """A JSON Feed's items as entries: `url` (else an `id` that is a URL, else `external_url`,
    a page elsewhere) is the article's link,
    `content_html` (else `content_text`, a paragraph a line) its full text when given. A
    member of the wrong type counts as absent, an item of the wrong type is skipped."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise ExtractError(url, f"not a JSON Feed: {reason}", kind="not-a-feed") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION):
        raise ExtractError(url, "JSON, but no JSON Feed version", kind="not-a-feed")
    items = data.get("items")
    if not isinstance(items, list):
        raise ExtractError(url, "a JSON Feed without its items", kind="not-a-feed")
    if len(items) > MAX_FEED_ENTRIES:
        raise _too_many_entries(url, len(items))
    feed_author = _json_author(data)
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ident = item.get("id")  # a text in 1.1, a number too in 1.0
        written = (
            _json_text(item.get("url")) or _id_url(ident) or _json_text(item.get("external_url"))
        )
        if (link := _entry_link(url, written)) is None:
            continue
        content = _json_text(item.get("content_html"))
        if content is None and (plain := _json_text(item.get("content_text"))):
            content = text_as_html(plain)
        summary = _json_text(item.get("summary"))
        # Read as HTML by libxml2, which compares each attribute with every one before it.
        if crowded := max(crowded_element(content or ""), crowded_element(summary or "")):
            raise ExtractError(
                url,
                f"an element with {crowded:,} attributes in the item {link}: not parsed",
                kind="hostile-markup",
            )
        entries.append(
            FeedEntry(
                link=link,
                guid=str(ident) if isinstance(ident, int) else _json_text(ident),
                title=_json_text(item.get("title")),
                summary=summary,
                content_html=content,
                published=parse_date(_json_text(item.get("date_published"))),
                updated=parse_date(_json_text(item.get("date_modified"))),
                author=_json_author(item) or feed_author,
            )
        )
    return entries
