"""Validators for the three formats, used by the tests: each returns the problems it found.

- Atom: the RFC 4287 RELAX NG grammar (tests/schemas/atom-rfc4287.rng, Appendix B) plus the
  rules the RFC states in its text and the grammar cannot capture (exactly one id/title/updated,
  an author for every entry, RFC 3339 dates with upper-case T and Z and at most three digits of
  a fraction of a second, absolute IRIs, tag: ids as RFC 4151 writes them, one alternate link
  per type and language, a self link, unique entry ids).
- RSS 2.0: the RSS Advisory Board specification's rules (required channel and item elements,
  RFC 822 dates, unique guids, permalink guids that are URLs, absolute ASCII URLs, enclosure
  attributes, integer ttl) and RFC 5005's use of atom:link in RSS.
- JSON Feed 1.1: a JSON Schema written from https://www.jsonfeed.org/version/1.1/
  (tests/schemas/jsonfeed-1.1.json), and absolute ASCII URLs.
- RSS and Atom: feedparser reads them without setting bozo (feedparser 6 does not read JSON
  Feed; JSON documents are checked by the schema and by `json.loads`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import jsonschema
from lxml import etree

SCHEMAS = Path(__file__).parent / "schemas"
ATOM = "{http://www.w3.org/2005/Atom}"
# At most three digits of a fraction: valid RFC 3339 allows more, but readers that parse
# three (NetNewsWire's before 2024) took the rest for a zone.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT|UT)$"
)


@cache
def atom_grammar() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMAS / "atom-rfc4287.rng")))


@cache
def json_feed_schema() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "jsonfeed-1.1.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def absolute(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def absolute_url(url: str | None) -> bool:
    """An absolute http(s) URL, ASCII only: where RSS and JSON Feed want a URL, an IRI is an
    error (the W3C validator's `UriNotIri`)."""
    return absolute(url) and (url or "").isascii()


def absolute_iri(value: str | None) -> bool:
    return bool(value) and bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value or ""))


# RFC 4151: tag:{DNS name or email address},{date}:{specific}, the specific part of pchars,
# "/" and "?", an optional fragment.
_DNS_NAME = (
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
TAG_URI = re.compile(
    rf"^tag:(?:[A-Za-z0-9\-._]+@)?{_DNS_NAME},\d{{4}}(?:-\d{{2}}(?:-\d{{2}})?)?:"
    rf"(?:{_PCHAR}|[/?])*(?:#(?:{_PCHAR}|[/?])*)?$"
)


def tag_uri_problem(value: str | None, where: str) -> list[str]:
    """A `tag:` id that is not one by RFC 4151's grammar (its authority not a DNS name or an
    email address: an IPv6 address's colons)."""
    if value and value.startswith("tag:") and not TAG_URI.match(value):
        return [f"{where}: id {value!r} is not a tag: URI (RFC 4151)"]
    return []


def feedparser_problems(data: bytes) -> list[str]:
    parsed = feedparser.parse(data)
    return [f"feedparser: {parsed.get('bozo_exception')!r}"] if parsed.bozo else []


def atom_problems(data: bytes) -> list[str]:
    doc = etree.fromstring(data)
    grammar = atom_grammar()
    problems = [] if grammar.validate(doc) else [f"RELAX NG: {e}" for e in grammar.error_log]
    if doc.tag != f"{ATOM}feed":
        return [*problems, f"root is {doc.tag}"]

    def one(parent: etree._Element, name: str, where: str) -> etree._Element | None:
        found = parent.findall(f"{ATOM}{name}")
        if len(found) != 1:
            problems.append(f"{where}: {len(found)} atom:{name} elements, exactly one needed")
            return None
        return found[0]

    def date(element: etree._Element | None, where: str) -> None:
        if element is not None and not RFC3339.match(element.text or ""):
            problems.append(f"{where}: {element.text!r} is not an RFC 3339 date-time")

    def links(parent: etree._Element, where: str) -> list[etree._Element]:
        found = parent.findall(f"{ATOM}link")
        alternates = Counter(
            (link.get("type"), link.get("hreflang"))
            for link in found
            if link.get("rel", "alternate") == "alternate"
        )
        for key, count in alternates.items():
            if count > 1:
                problems.append(f"{where}: {count} alternate links with type/hreflang {key}")
        for link in found:
            if not absolute(link.get("href")):
                problems.append(f"{where}: link href {link.get('href')!r} is not absolute")
        return found

    feed_id = one(doc, "id", "feed")
    if feed_id is not None and not absolute_iri(feed_id.text):
        problems.append(f"feed: id {feed_id.text!r} is not an absolute IRI")
    if feed_id is not None:
        problems += tag_uri_problem(feed_id.text, "feed")
    one(doc, "title", "feed")
    date(one(doc, "updated", "feed"), "feed updated")
    feed_links = links(doc, "feed")
    if not any(link.get("rel") == "self" for link in feed_links):
        problems.append("feed: no rel=self link")
    feed_has_author = doc.find(f"{ATOM}author") is not None
    ids = []
    for n, entry in enumerate(doc.findall(f"{ATOM}entry")):
        where = f"entry {n}"
        entry_id = one(entry, "id", where)
        if entry_id is not None:
            ids.append(entry_id.text)
            if not absolute_iri(entry_id.text):
                problems.append(f"{where}: id {entry_id.text!r} is not an absolute IRI")
            problems += tag_uri_problem(entry_id.text, where)
        one(entry, "title", where)
        date(one(entry, "updated", where), f"{where} updated")
        for published in entry.findall(f"{ATOM}published"):
            date(published, f"{where} published")
        entry_links = links(entry, where)
        content = entry.find(f"{ATOM}content")
        if content is None and not any(
            link.get("rel", "alternate") == "alternate" for link in entry_links
        ):
            problems.append(f"{where}: neither content nor an alternate link")
        if content is not None and content.get("src") and entry.find(f"{ATOM}summary") is None:
            problems.append(f"{where}: out-of-line content needs a summary")
        if not feed_has_author and entry.find(f"{ATOM}author") is None:
            problems.append(f"{where}: no author and the feed has none")
        for author in entry.findall(f"{ATOM}author"):
            if author.find(f"{ATOM}name") is None:
                problems.append(f"{where}: author without a name")
    for entry_id, count in Counter(ids).items():
        if count > 1:
            problems.append(f"entry id {entry_id!r} appears {count} times")
    return problems + feedparser_problems(data)


def rss_problems(data: bytes) -> list[str]:
    problems: list[str] = []
    doc = etree.fromstring(data)
    if doc.tag != "rss" or doc.get("version") != "2.0":
        return [f"root is {doc.tag} version {doc.get('version')}"]
    channels = doc.findall("channel")
    if len(channels) != 1:
        return [f"{len(channels)} channel elements"]
    channel = channels[0]
    for name in ("title", "link", "description"):
        if len(channel.findall(name)) != 1:
            problems.append(f"channel: needs exactly one {name}")
    if not absolute_url(channel.findtext("link")):
        problems.append(f"channel link {channel.findtext('link')!r} is not absolute")
    for name in ("pubDate", "lastBuildDate"):
        value = channel.findtext(name)
        if value is not None and not RFC822.match(value):
            problems.append(f"channel {name} {value!r} is not an RFC 822 date")
    ttl = channel.findtext("ttl")
    if ttl is not None and not ttl.isdigit():
        problems.append(f"ttl {ttl!r} is not a number of minutes")
    atom_links = channel.findall(f"{ATOM}link")
    if not any(link.get("rel") == "self" for link in atom_links):
        problems.append("channel: no atom:link rel=self")
    for link in atom_links:
        if not absolute_url(link.get("href")):
            problems.append(f"atom:link href {link.get('href')!r} is not absolute")
    guids = []
    for n, item in enumerate(channel.findall("item")):
        where = f"item {n}"
        if item.find("title") is None and item.find("description") is None:
            problems.append(f"{where}: needs a title or a description")
        link = item.findtext("link")
        if link is not None and not absolute_url(link):
            problems.append(f"{where}: link {link!r} is not absolute")
        pub_date = item.findtext("pubDate")
        if pub_date is not None:
            if not RFC822.match(pub_date):
                problems.append(f"{where}: pubDate {pub_date!r} is not an RFC 822 date")
            else:
                parsedate_to_datetime(pub_date)
        for updated in item.findall(f"{ATOM}updated"):
            if not RFC3339.match(updated.text or ""):
                problems.append(f"{where}: atom:updated {updated.text!r} is not RFC 3339")
        guid = item.find("guid")
        if guid is not None:
            guids.append(guid.text)
            if guid.get("isPermaLink", "true") == "true" and not absolute_url(guid.text):
                problems.append(f"{where}: permalink guid {guid.text!r} is not a URL")
        for enclosure in item.findall("enclosure"):
            if not absolute_url(enclosure.get("url")):
                problems.append(f"{where}: enclosure url is not absolute")
            if not (enclosure.get("length") or "").isdigit() or not enclosure.get("type"):
                problems.append(f"{where}: enclosure needs length in bytes and a type")
        for media in item.iter("{http://search.yahoo.com/mrss/}content"):
            if not absolute_url(media.get("url")):
                problems.append(f"{where}: media:content url is not absolute")
    for guid, count in Counter(guids).items():
        if count > 1:
            problems.append(f"guid {guid!r} appears {count} times")
    return problems + feedparser_problems(data)


def json_feed_problems(data: bytes) -> list[str]:
    feed = json.loads(data)
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in json_feed_schema().iter_errors(feed)
    ]
    for item in feed.get("items", []):
        for key in ("date_published", "date_modified"):
            if key in item and not RFC3339.match(item[key]):
                problems.append(f"{key} {item[key]!r} is not an RFC 3339 date-time")
    urls = [feed.get("home_page_url"), feed.get("feed_url"), feed.get("next_url")]
    for item in feed.get("items", []):
        urls += [item.get("url"), item.get("external_url"), item.get("image")]
    problems += [f"{u!r} is not an absolute URL" for u in urls if u and not absolute_url(u)]
    ids = Counter(item.get("id") for item in feed.get("items", []))
    problems += [f"item id {i!r} appears {n} times" for i, n in ids.items() if n > 1]
    return problems


# Explicit direction formatting (UAX #9): embeddings and overrides end at PDF, isolates at PDI.
EMBEDDINGS = "\u202a\u202b\u202d\u202e"
ISOLATES = "\u2066\u2067\u2068"


def open_directions(text: str) -> str:
    """The direction controls `text` leaves open at its end: what a reader would carry into
    the words it shows after it (the next title in a list, the date beside it)."""
    stack: list[str] = []
    for char in text:
        if char in EMBEDDINGS or char in ISOLATES:
            stack.append(char)
        elif char == "\u202c" and stack and stack[-1] in EMBEDDINGS:
            stack.pop()
        elif char == "\u2069" and any(c in ISOLATES for c in stack):
            while stack.pop() not in ISOLATES:
                pass
    return "".join(stack)


PROBLEMS = {"atom": atom_problems, "rss": rss_problems, "json": json_feed_problems}
