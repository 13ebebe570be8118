"""Site discovery: from one URL of a news site to a ready-to-paste config block.

Reads the home page for feed autodiscovery links, feed-looking links and navigation links;
fetches each candidate once to keep what really is a feed with entries or a listing page with
article links; reads one article page for its canonical origin and the alternate addresses a
mirrored site lists. It proposes, the operator decides: the block it builds is plain config
that `syndicate check` validates like any other. At most `MAX_PROBES` requests per run.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import feedparser
import yaml
from lxml import etree

from syndicator.core import identity
from syndicator.core.errors import ExtractError, FetchError
from syndicator.core.source_config import Source
from syndicator.core.yaml_dialect import ConfigDumper
from syndicator.extract import decoding, listing_pages, listings, page_tree
from syndicator.mirrors.announced import announced_origins
from syndicator.pull.fetch import Fetcher

MAX_PROBES = 30
DEFAULT_ARTICLE_LINKS: str = Source.model_fields["article_links"].default
# JSON Feed 1.1 is announced as application/feed+json (not application/json: WordPress
# announces its REST API so on every page).
_FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+xml",
    "application/feed+json",
}
_FEED_PATH = re.compile(r"(?:\.(?:xml|rss|atom)$|/(?:rss|atom|feeds?)(?:/|$|[-_.]))", re.I)
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+(?::\d+)?$")


@dataclass(frozen=True)
class Found:
    """One section entry point that answered as what it claims to be."""

    name: str
    title: str
    kind: str  # "feed" or "page"
    path: str
    articles: int
    sample: str  # the first article link it lists


@dataclass
class Discovery:
    url: str
    origin: str
    canonical: str
    title: str
    language: str
    sections: list[Found] = field(default_factory=list)
    mirrors: list[str] = field(default_factory=list)
    article_links: str = DEFAULT_ARTICLE_LINKS
    skipped: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """'North Africa' -> 'north-africa' (a valid section or source name)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return out or "section"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _link(url: str, a: etree._Element) -> str | None:
    """Where a link points, joined as a browser joins it, without its fragment; None for a
    link that is no URL (`http://[::1/rss`)."""
    href = identity.join_url(url, (a.get("href") or "").strip())
    return href.split("#", 1)[0] if href is not None else None


def feed_candidates(root: etree._Element, url: str) -> list[tuple[str, str]]:
    """(feed URL, title) for autodiscovery links and feed-looking links on this origin."""
    own = identity.origin(url)
    found: dict[str, str] = {}
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and (link.get("type") or "").lower() in _FEED_TYPES:
            href = identity.join_url(url, link.get("href") or "")
            if href is not None and identity.origin(href) == own:
                found.setdefault(href, (link.get("title") or "").strip())
    for a in root.iter("a"):
        href = _link(url, a)
        if (
            href is not None
            and identity.origin(href) == own
            and _FEED_PATH.search(urlsplit(href).path)
        ):
            found.setdefault(href, page_tree.text_of(a))
    return list(found.items())


def page_candidates(
    root: etree._Element, url: str, article_links: str, feeds: set[str]
) -> list[tuple[str, str]]:
    """(URL, link text) of links on this origin that may be section listings: not articles,
    not feeds, not the home page. Links inside navigation come first."""
    own = identity.origin(url)
    matcher = re.compile(article_links)
    found: dict[str, str] = {}
    navigation = [el for el in root.iter("nav", "header")]
    for scope in [*navigation, root]:
        for a in scope.iter("a"):
            href = _link(url, a)
            if href is None:
                continue
            path = urlsplit(href).path
            text = page_tree.text_of(a)
            if (
                identity.origin(href) != own
                or path in ("", "/")
                or href in feeds
                or matcher.search(path)
                or not text
            ):
                continue
            found.setdefault(href, text)
    return list(found.items())


def _title(root: etree._Element) -> str:
    for meta in root.iter("meta"):
        if (meta.get("property") or "").lower() == "og:site_name" and meta.get("content"):
            return " ".join(meta.get("content", "").split())
    t = next(iter(root.iter("title")), None)
    text = page_tree.text_of(t) if t is not None else ""
    return re.split(r"\s+[|–—-]\s+", text)[0] if text else ""


class _Prober:
    """Fetches candidates within a request budget; a failure is just not a candidate."""

    def __init__(self, fetcher: Fetcher, budget: int) -> None:
        self.fetcher = fetcher
        self.left = budget

    async def get(self, url: str) -> tuple[bytes, str | None, str] | None:
        if self.left <= 0:
            return None
        self.left -= 1
        try:
            response = await self.fetcher.get(url)
        except FetchError:
            return None
        return response.body, response.charset, response.url


def _language(declared: str | None) -> str:
    """The home page's `lang` as the config takes it (`en_US` is `en-US`); `en` when it
    says none, or what it says is no language tag."""
    tag = (declared or "").strip().replace("_", "-")
    return tag if identity.is_language_code(tag) else "en"


async def _preferred_origin(prober: _Prober, host: str, scheme: str) -> str:
    """https://host when it answers there, else the scheme the site was given with: a mirror
    named by its host alone is proposed over TLS whenever it can be."""
    if scheme == "https" or await prober.get(f"https://{host}/") is None:
        return f"{scheme}://{host}"
    return f"https://{host}"


async def discover(url: str, fetcher: Fetcher) -> Discovery:
    """Find the feeds, section pages, canonical origin and mirrors of the site at `url`."""
    if not urlsplit(url).path:
        url += "/"
    prober = _Prober(fetcher, MAX_PROBES - 1)
    home = await fetcher.get(url)
    base = home.url
    root = decoding.parse_page(home.body, base, home.charset)
    origin = identity.origin(base)
    html_el = root if root.tag == "html" else next(iter(root.iter("html")), root)
    result = Discovery(
        url=url,
        origin=origin,
        canonical=origin,
        title=_title(root) or urlsplit(base).hostname or "site",
        language=_language(html_el.get("lang")),
    )
    feeds = feed_candidates(root, base)
    pages = page_candidates(root, base, result.article_links, {u for u, _ in feeds})
    sections: dict[str, Found] = {}

    async def probe_feed(feed_url: str, label: str) -> Found | None:
        got = await prober.get(feed_url)
        if got is None:
            return None
        body, charset, _ = got
        try:
            entries = listings.parse_feed(body, feed_url, charset)
        except ExtractError:
            return None
        own = [e.link for e in entries if identity.origin(e.link) == origin]
        if not own:
            return None
        title = label or feedparser.parse(body).feed.get("title") or _path(feed_url)
        return Found(slug(title), title, "feed", _path(feed_url), len(own), own[0])

    async def probe_page(page_url: str, label: str) -> Found | None:
        got = await prober.get(page_url)
        if got is None:
            return None
        body, charset, final = got
        try:
            links = listing_pages.listing_links(
                body, final, {origin}, result.article_links, charset
            )
        except ExtractError:
            return None
        if not links:
            return None
        return Found(slug(label), label, "page", _path(page_url), len(links), links[0])

    found = await asyncio.gather(
        *(probe_feed(u, t) for u, t in feeds), *(probe_page(u, t) for u, t in pages)
    )
    for entry in found:
        if entry is None:
            continue
        have = sections.get(entry.name)
        # A feed beats a listing page for the same section: fewer requests, richer dates.
        if have is None or (have.kind == "page" and entry.kind == "feed"):
            sections[entry.name] = entry
    result.sections = sorted(sections.values(), key=lambda f: f.name)
    result.skipped = [
        u for u, _ in [*feeds, *pages] if _path(u) not in {s.path for s in sections.values()}
    ]

    # The pipeline's own rule, so discover proposes the mirrors a pull would record.
    mirrors = announced_origins(home.body, base, home.charset)
    if result.sections:
        got = await prober.get(result.sections[0].sample)
        if got is not None:
            body, charset, final = got
            try:
                article = decoding.parse_page(body, final, charset)
            except ExtractError:
                article = None
            if article is not None:
                mirrors += announced_origins(body, final, charset)
                canonical = next(
                    (
                        identity.join_url(final, el.get("href") or "")
                        for el in article.iter("link")
                        if (el.get("rel") or "").lower() == "canonical" and el.get("href")
                    ),
                    None,
                )
                if canonical and identity.origin(canonical).startswith(("http://", "https://")):
                    result.canonical = identity.origin(canonical)
    mirrors = [
        await _preferred_origin(prober, urlsplit(m).netloc, urlsplit(m).scheme) for m in mirrors
    ]
    if origin != result.canonical:
        mirrors.insert(0, origin)
    # As the pipeline reads them: a host of the site under the other scheme, with or without
    # `www.` or in its own script, is the site (or the mirror already proposed), no mirror.
    result.mirrors = []
    for m in dict.fromkeys(mirrors):
        if identity.known_origin(m, {result.canonical, *result.mirrors}) is None:
            result.mirrors.append(m)
    return result


def source_name(d: Discovery) -> str:
    host = urlsplit(d.canonical).hostname or ""
    if host and not _IP.match(host) and host != "localhost":
        labels = [p for p in host.split(".") if p not in ("www", "m")]
        return slug(labels[0] if labels else host)
    return slug(d.title)


def config_block(d: Discovery, name: str | None = None) -> dict[str, Any]:
    """The `sections` and `sources` config a discovery proposes, as plain data."""
    source: dict[str, Any] = {"title": d.title, "canonical": d.canonical}
    if d.mirrors:
        source["mirrors"] = list(d.mirrors)
    source["every"] = "10m"
    source["language"] = d.language
    if d.article_links != DEFAULT_ARTICLE_LINKS:
        source["article_links"] = d.article_links
    source["sections"] = {s.name: {s.kind: s.path} for s in d.sections}
    return {
        "sections": {s.name: {"title": s.title} for s in d.sections},
        "sources": {name or source_name(d): source},
    }


def to_yaml(block: dict[str, Any]) -> str:
    return yaml.dump(
        block, Dumper=ConfigDumper, sort_keys=False, default_flow_style=None, allow_unicode=True
    )
