"""A news site served by real aiohttp servers on 127.0.0.1 (or another loopback address, see
`Site.add_mirror`), one server per mirror domain.

Every mirror serves the same articles at the same paths, but with its own navigation, share
block, tracking script, alternate-addresses footer naming the other mirrors, its own absolute
links and its own feed GUIDs, as real mirror domains do. Feeds, listings and articles carry
ETag and Last-Modified and answer conditional requests with 304.

A mirror's `mode` can be switched while a test runs:
  ok         the site as it is
  down       connection refused (use go_down / come_back)
  error      HTTP 500 for everything
  slow       every answer waits `slow_seconds` (longer than a test's read timeout)
  drip       every answer sends its headers at once, then its body one byte every
             `drip_seconds` (each byte well within the read timeout)
  flaky      every `flaky_every`-th request is a 503 (with Retry-After if `retry_after` is set)
  seized     every URL answers 200 with a "This website has been seized" notice page
  seized-feed  as seized, but its feed URLs answer an RSS feed under the site's own title
             whose one item is the notice, its legal text in content:encoded, linked to
             `notice_link` (a path of its own)
  garbage    200 with junk bytes for every URL
  breaking   200 with an RSS feed that feedparser itself fails on (a reference to a lone
             surrogate in a title) for every URL
  gzipped    article pages gzipped twice: 200, text/html, the body gzip bytes with no
             Content-Encoding to say so (a CDN compressing what the origin compressed);
             listings and feeds as they are
  truncated  200 with the body cut in half (the Content-Length says so: nothing to notice
             at the HTTP level)
  gzip-cut   article pages sent with Content-Encoding: gzip, the gzip stream cut where it
             was flushed after the article's last-but-one paragraph (a cache that kept a
             cut-off object): the Content-Length says so, the inflated bytes end on `</p>`
  redirect   302 to the same path on `redirect_to` (another mirror; under the origin
             `redirect_origin` when set), for the paths under `redirect_under` (all of them
             unless set); the others are served
  moved      every URL answers 200 with a squatter's page saying the site "has moved to"
             `moved_to` (a host of the squatter's), linked; `moved-articles` only its
             article pages (a squatter behind a CDN that still has the site's feeds)
  challenge  every URL answers a CDN's bot challenge: 503, "Just a moment...",
             `cf-mitigated: challenge` (a mirror behind Cloudflare that challenges us)
  banner     every URL answers 302 to /seized/, a seizure notice that says it in a picture
             only (`SEIZURE_BANNERS[banner]`)
  lagging    lacks the `lag` newest articles (listings, feeds and their pages)
  legacy     pages and feeds in windows-1256, the charset declared only in a meta tag or
             the XML declaration, never in the Content-Type header
Each section also has a sitemap index, `/sitemap/{section}.xml`, naming one gzipped Google
News sitemap a day (`/sitemap/{section}/{YYYY-MM-DD}.xml.gz`); `Site.feed_window` makes feeds
and listings show only a section's newest articles, as a publisher's feed does.
Every request is logged with its conditional headers and the status it got, and the most
requests in flight at once is tracked. The home page links the sections in its navigation and
announces the feeds with autodiscovery links, as a publisher's home page does.

Outside the legacy mode a mirror serves its pages in its own `charset`, declared in the HTTP
header, the page, or both (`charset_in`); an article can be edited on some mirrors only
(`Site.edit`), or corrected everywhere (`Site.correct`); a mirror's feed can carry the full
text (`feed_content`); an article's `listed_path` (a short link or an old slug) is what
listings and feeds link to, and it answers 301 to the article's own path. `timed_log` adds
when each request arrived; paths in `Site.slow_paths` are answered after `Site.slow_seconds`,
and `Site.in_flight` counts requests being answered on all mirrors; a mirror's
`article_seconds` delays its article pages only. A mirror's `prefix`
("/en") serves the site's paths under it (its links, feeds and listings say so, `/`
redirects there), while its pages' rel=canonical still name the canonical paths.

Publishers' oddities a mirror can show: `links_scheme` writes its own links in feeds, listings
and sitemaps under another scheme; `base_href` makes its listings' links relative to a
`<base href>`; `header_charset` names another charset in the Content-Type than its bytes are
in; `dropped` redirects a section's listing and feed elsewhere, `misfiled` serves another section's
at their URLs (200, no redirect). A compromised mirror's:
`markup` puts raw markup of its own in every article, after the headline; `articles_page`
serves a page of its own at every article's URL.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import gzip
import hashlib
import html
import itertools
import json
import random
import socket
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web


@dataclass
class SiteArticle:
    id: int
    section: str
    title: str
    paragraphs: list[str]
    published: datetime
    caption: str = "A street in the city centre. (Photo by a staff photographer)"
    extra_sections: tuple[str, ...] = ()
    # The page's article:modified_time and the feed item's atom:updated, when set.
    updated: datetime | None = None
    # Fixed when the article is first published: an edited headline keeps its URL.
    slug: str = ""
    language: str = "en"
    # The path listings and feeds link to when it is not the article's own: a short link or an
    # old slug, which answers 301 to the article's path.
    listed_path: str | None = None
    # What the page's article:published_time says when not the publication date (a CMS
    # with no date for it writes 0001-01-01, say); feeds and listings keep `published`.
    page_published: str | None = None
    # A JSON-LD block the page carries in its head, as written (a CMS's NewsArticle).
    page_json_ld: str | None = None
    # Text the section listing's link holds after the headline (a card: kicker, teaser).
    listing_teaser: str = ""

    def __post_init__(self) -> None:
        if not self.slug:
            words = self.title.split()[:6]
            self.slug = "-".join(words).replace("’", "").replace("'", "")

    @property
    def path(self) -> str:
        return f"/Detail/{self.published:%Y/%m/%d}/{self.id}/{self.slug}"

    @property
    def link_path(self) -> str:
        """The path listings and feeds link to."""
        return self.listed_path or self.path

    @property
    def sections(self) -> tuple[str, ...]:
        return (self.section, *self.extra_sections)


SECTION_TITLES = {"north-africa": "North Africa", "iran": "Iran", "west-asia": "West Asia"}


def sample_articles() -> list[SiteArticle]:
    base = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    topics = [
        ("north-africa", "Libya’s rival governments agree to talks on a unified budget"),
        ("north-africa", "Tunisia opens a desalination plant to ease the summer water shortage"),
        ("north-africa", "Algeria and Morocco reopen a border crossing for trade after years"),
        ("iran", "Tehran metro adds a line to the western suburbs after six years of work"),
        ("iran", "Iranian scientists report a new method for cleaning lake water"),
        ("west-asia", "Port of Aden resumes container traffic after the harbour is dredged"),
    ]
    articles = []
    for n, (section, title) in enumerate(topics):
        paras = [
            f"{title}, officials said on {(base + timedelta(hours=n)):%A}, in a statement "
            f"carried by local media. The announcement followed weeks of talks.",
            f"The project, number {n + 1} this year, is expected to cost about {120 + n * 7} "
            "million dollars and to employ several hundred local workers.",
            "Critics said the plan came too late and asked for an independent audit of the "
            "money spent so far, while supporters called it a turning point.",
            f"“We will see the first results within {n + 2} months,” a spokesperson said.",
        ]
        articles.append(
            SiteArticle(
                id=660100 + n,
                section=section,
                title=title,
                paragraphs=paras,
                published=base + timedelta(hours=n),
            )
        )
    return articles


def arabic_articles() -> list[SiteArticle]:
    """Arabic articles (right-to-left text) for the legacy-encoding mode."""
    base = datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    topics = [
        ("north-africa", "ليبيا تفتح ميناء طرابلس أمام السفن التجارية بعد أعمال الصيانة"),
        ("iran", "طهران تفتتح خطا جديدا للمترو يربط الضواحي الغربية بوسط المدينة"),
        ("west-asia", "ميناء عدن يستأنف حركة الحاويات بعد تعميق الممر الملاحي"),
    ]
    out = []
    for n, (section, title) in enumerate(topics):
        paras = [
            f"{title}، وقال مسؤولون في بيان نقلته وسائل الإعلام المحلية إن العمل استمر أشهرا.",
            f"ومن المتوقع أن تبلغ تكلفة المشروع رقم {n + 1} نحو {150 + n * 9} مليون دولار.",
            "وقال منتقدون إن الخطة جاءت متأخرة وطالبوا بتدقيق مستقل في الأموال التي أنفقت.",
        ]
        out.append(
            SiteArticle(
                id=770200 + n,
                section=section,
                title=title,
                paragraphs=paras,
                published=base + timedelta(hours=n),
                caption="صورة من وسط المدينة",
                slug=f"arabic-story-{n + 1}",
                language="ar",
            )
        )
    return out


PLAIN_NOTICE = (
    "Service temporarily unavailable. The server is overloaded; please try again later.\n"
)
SEIZED_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>This website has been seized</title></head>
<body><div class="notice">
<img src="/seals/fbi.png" alt="Federal Bureau of Investigation seal">
<img src="/seals/doc.png" alt="Department of Commerce seal">
<h1>This website has been seized</h1>
<p>This domain has been seized by the United States Government in accordance with a seizure
warrant issued by a United States District Court as part of a law enforcement action.</p>
</div></body></html>"""
# What a squatter on a lapsed or seized domain puts at every URL: no notice of any kind, a
# "moved to" announcement of a host of its own.
MOVED_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Example News</title></head>
<body><h1>Example News</h1>
<p>Our website has moved to <a href="http://{host}/">{host}</a>. Please update your
bookmarks.</p></body></html>"""
# A seized domain's notice as a feed item, its legal text in content:encoded (long enough to be
# taken for the article itself); and as its feed: the site's own channel title, that one item.
SEIZED_ITEM = """<item><title>This website has been seized</title>
<link>{link}</link><guid>{link}</guid>
<pubDate>Sat, 22 Jun 2024 11:00:00 GMT</pubDate>
<description>This domain has been seized by the United States Government.</description>
<content:encoded><![CDATA[<p>This domain has been seized by the Federal Bureau of
Investigation pursuant to a seizure warrant issued by a United States District Court under
the authority of 18 U.S.C. 981 and 50 U.S.C. 1702, as part of a law enforcement action against
the operators of this site and its affiliated outlets acting in violation of United States
sanctions. Persons with information about this domain may contact the Federal Bureau of
Investigation at the address given on this page.</p>]]></content:encoded></item>"""
SEIZED_FEED = (
    """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Example News</title><link>{origin}/</link><description>Example News</description>
"""
    + SEIZED_ITEM
    + """
</channel></rss>"""
)
# Seizure notices that say it in a picture only (what law enforcement puts up on a seized
# domain): a title naming the banner and the banner; or no title, a block of class "seized"
# holding the banner as its background and the domain written in by a script.
SEIZURE_BANNERS = {
    "titled": """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Police - Seizure Banner</title></head>
<body style="background-color:#8a9acb"><table><tr><td style="text-align:center">
<img src="banner.jpg" alt="" style="width:100%"></td></tr></table></body></html>""",
    "untitled": """<html><style>.seized { background-image: url("seized.png");
background-size: contain; color: white; }</style>
<div class="seized"><script>document.write(window.location.hostname)</script></div></html>""",
}

# feedparser raises UnicodeEncodeError on this one, rather than flagging the feed as broken.
BREAKING_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
    b"<item><title>Harbour &#xD800; wall</title><link>/Detail/1</link></item></channel></rss>"
)


@dataclass
class Logged:
    """One request a mirror received."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    status: int = 0

    @property
    def conditional(self) -> bool:
        return bool(self.if_none_match or self.if_modified_since)


def second_publisher_articles(published: datetime | None = None) -> list[SiteArticle]:
    """Another publisher's articles: other titles, ids and text than `sample_articles`."""
    return [
        SiteArticle(
            id=770000 + n,
            section=a.section,
            title=f"Second publisher: {a.title}",
            paragraphs=[f"From the second publisher. {p}" for p in a.paragraphs],
            published=published or a.published,
        )
        for n, a in enumerate(sample_articles())
    ]


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes the local port of every outgoing connection from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


_PORTS = random.SystemRandom()
_HANDED_OUT: set[int] = set()


def free_port(address: str = "127.0.0.1") -> int:
    """A port on `address` that nothing listens on, for a server a test starts later.

    It is taken outside the kernel's ephemeral range: a port from there (what binding port 0
    gives) can be taken by any outgoing connection opened between this pick and the server's
    bind, which failed a full run about once in ten with "address already in use".

    A port is handed out once per test run: a site picks the ports of all its mirrors (and a
    test those of its hub and service) before it starts any, and two picks of one free port
    (about one site in 7,500 with three mirrors, of some 22,000 ports) failed one full run in
    fifteen with "address already in use"."""
    low, high = _ephemeral_ports()
    first, last = (10000, low - 1) if low > 12000 else (high + 1, 65535)
    if len(_HANDED_OUT) > (last - first) // 2:
        _HANDED_OUT.clear()  # a very long run: the oldest servers are long gone
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(100):
        port = _PORTS.randint(first, last)
        if port in _HANDED_OUT:
            continue
        with socket.socket(family) as s:
            try:
                s.bind((address, port))
            except OSError:
                continue  # taken (or lingering): try another
            _HANDED_OUT.add(port)
            return port
    with socket.socket(family) as s:  # every pick was taken: let the kernel choose
        s.bind((address, 0))
        return int(s.getsockname()[1])


@dataclass
class Mirror:
    site: Site
    index: int
    port: int
    mode: str = "ok"
    log: list[str] = field(default_factory=list)
    timed_log: list[tuple[float, str]] = field(default_factory=list)
    requests: list[Logged] = field(default_factory=list)
    runner: web.AppRunner | None = None
    slow_seconds: float = 5.0
    # Every article page (/Detail/...) of this mirror answers after this long, its feeds and
    # listings at once: a mirror merely slow at the pages that matter (hedged fetches).
    article_seconds: float = 0.0
    drip_seconds: float = 1.0
    flaky_every: int = 3
    retry_after: int | None = None
    # Paths answered 503 (no Retry-After) this many times more before they are served: a
    # page that fails once in passing.
    fail_first: dict[str, int] = field(default_factory=dict)
    # Every article page (/Detail/...) answers 429 with this Retry-After when set; its feeds
    # and listings are served (a mirror rate-limiting the pages that cost it most).
    throttle_articles: int | None = None
    redirect_to: Mirror | None = None
    redirect_under: str = "/"
    # The origin its redirects name, when not `redirect_to`'s own: that mirror's server under
    # another name (without `www.`, say).
    redirect_origin: str = ""
    lag: int = 2
    robots: str | None = None
    robots_status: int = 200  # another status: robots.txt answers it, with no rules
    in_flight: int = 0
    max_in_flight: int = 0
    served: int = 0
    charset: str = "utf-8"
    charset_in: str = "both"  # where the charset is declared: "header", "meta" or "both"
    # The charset its Content-Type header names instead of `charset` (the one its bytes are
    # in): a mirror whose web server was configured by other hands.
    header_charset: str = ""
    feed_content: bool = False  # feed items carry the full text in content:encoded
    feed_extra: str = ""  # raw items added to each of its feeds (a publisher's odd entries)
    # Where the one item of its feed of notices (the seized-feed mode) links to.
    notice_link: str = "/"
    # Its seizure notice in the banner mode (a key of SEIZURE_BANNERS).
    banner: str = "titled"
    # The host its squatter's page says the site moved to (the moved modes).
    moved_to: str = "new-home.example"
    # Its feeds are Atom 1.0 carrying each article as plain text, `<content type="text">`, a
    # paragraph a line (Atom's default type), with its paragraphs' words as the publisher
    # wrote them ("x<y" included).
    atom_text: bool = False
    # The UTF-16 its RSS feeds are sent in ("utf-16-be" or "utf-16-le"), with a byte order mark
    # and `charset=utf-16` in the header, as some Windows CMSs write them; "" for `charset`.
    feed_utf16: str = ""
    # The `<author>` of every item of its RSS feeds, as written (RSS 2.0 wants "email (Name)").
    feed_author: str = ""
    # Its RSS titles are HTML escaped once more (`AT&amp;amp;T`), as some CMSs write them.
    feed_titles_html: bool = False
    # How its RSS feeds write an item's pubDate, when not RFC 822 in GMT (a publisher's local
    # time with its zone abbreviation, `Tue, 03 Dec 2024 14:05:00 IRST`); "" leaves it out.
    feed_dates: Callable[[datetime], str] | None = None
    inject: str = ""  # a paragraph of its own in every article, after the first (a banner)
    # Raw markup of its own in every article, after the headline (a compromised mirror's).
    markup: str = ""
    # A page of its own served (200) at every article's URL in place of the article, its
    # feeds and listings left as they were (a seized domain's notice).
    articles_page: str = ""
    reason: str = "Internal Server Error"  # the reason phrase of its `error` mode's 500
    edits: dict[int, SiteArticle] = field(default_factory=dict)
    # Held in every handler of a `slow` mirror: keeps requests in flight for as long as a
    # test wants, and lets stop() release them.
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    # Where it listens: any address of 127.0.0.0/8; and the host name its own links use, when
    # not that address (a made-up name that a test's resolver answers with the address).
    address: str = "127.0.0.1"
    name: str | None = None
    # Answer only connections from this address (a proxy's); others get 403 and are logged
    # in `refused`, so a test sees anything that went around the proxy.
    only_from: str | None = None
    refused: list[str] = field(default_factory=list)
    # Where the site's paths live on this mirror: "/en" serves /Detail/... at /en/Detail/...
    # (its own links, feeds and listings say so; "/" redirects to "/en/"), while its pages'
    # rel=canonical still names the canonical path.
    prefix: str = ""
    # The scheme its feeds, listings and sitemaps write its own links with, when not the one
    # it is served over: "https" is a site behind a proxy that ends TLS, seen the other way.
    links_scheme: str = ""
    # Its listing pages link articles relative to a `<base href>` of its home page
    # (`<base href="/">`, then `href="Detail/..."`), as some CMS templates do.
    base_href: bool = False
    # A `<base target="_self">` with no href before that `<base href>` (a template saying where
    # links open): the first base element with an href is the one that counts.
    base_target: bool = False
    # Its listing pages also list every article in a "Most read" box, each link tagged for the
    # site's analytics (`?utm_source=mostread`), as news sites' section pages do.
    most_read: bool = False
    # Its "Most read" box writes each link percent-encoded (`%D8%A7...`) where the listing
    # writes the path's letters as they are, as two templates of one CMS can.
    most_read_encoded: bool = False
    # Sections it dropped: their listing and feed answer 302 to this path of its own (its
    # home page "/", or another section's listing), by section.
    dropped: dict[str, str] = field(default_factory=dict)
    # Sections whose listing and feed URLs answer 200 with another section's, by section: a
    # mirror whose CMS maps one section's URL onto another's.
    misfiled: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"http://{self.name or self.address}:{self.port}"

    @property
    def base(self) -> str:
        """Where the site's paths start on this mirror: the origin and any path prefix."""
        return self.origin + self.prefix

    @property
    def host(self) -> str:
        return self.origin.removeprefix("http://")

    def pages_requested(self) -> list[Logged]:
        return [r for r in self.requests if r.path != "/robots.txt"]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        # A handler stops when its client gives up, so `in_flight` counts what the client
        # really has outstanding (a slow answer is abandoned at the read timeout).
        self.runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self.runner.setup()
        await web.TCPSite(self.runner, self.address, self.port, reuse_address=True).start()

    async def stop(self) -> None:
        self._release.set()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        self._release = asyncio.Event()

    async def go_down(self) -> None:
        """Connection refused from now on."""
        await self.stop()
        self.mode = "down"

    async def come_back(self) -> None:
        self.mode = "ok"
        if self.runner is None:
            await self.start()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.only_from is not None and request.remote != self.only_from:
            self.refused.append(f"{request.remote} {request.path_qs}")
            return web.Response(status=403, text="direct connections are refused")
        self.log.append(request.path_qs)
        self.timed_log.append((time.monotonic(), request.path_qs))
        entry = Logged(
            request.path_qs,
            request.headers.get("If-None-Match"),
            request.headers.get("If-Modified-Since"),
            request.headers.get("User-Agent"),
        )
        self.requests.append(entry)
        self.in_flight += 1
        self.site.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if request.path in self.site.slow_paths:
                await asyncio.sleep(self.site.slow_seconds)
            if self.article_seconds and request.path.startswith("/Detail/"):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), timeout=self.article_seconds)
            response = await self._answer(request)
        finally:
            self.in_flight -= 1
            self.site.in_flight -= 1
        entry.status = response.status
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.served += 1
        if self.fail_first.get(request.path, 0) > 0:
            self.fail_first[request.path] -= 1
            return web.Response(status=503, text="Service Unavailable")
        if self.throttle_articles is not None and request.path.startswith("/Detail/"):
            headers = {"Retry-After": str(self.throttle_articles)}
            return web.Response(status=429, text="Too Many Requests", headers=headers)
        if self.mode == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=self.slow_seconds)
        elif self.mode == "error":
            return web.Response(status=500, reason=self.reason, text="Internal Server Error")
        elif self.mode == "flaky" and self.served % self.flaky_every == 0:
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after else {}
            return web.Response(status=503, text="Service Unavailable", headers=headers)
        elif self.mode == "seized-feed" and request.path.startswith("/rss/"):
            feed = SEIZED_FEED.format(origin=self.origin, link=self.origin + self.notice_link)
            return web.Response(text=feed, content_type="application/rss+xml")
        elif self.mode in ("seized", "seized-feed"):
            return web.Response(text=SEIZED_PAGE, content_type="text/html")
        elif self.mode == "moved" or (
            self.mode == "moved-articles" and request.path.startswith("/Detail/")
        ):
            page = MOVED_PAGE.format(host=self.moved_to)
            return web.Response(text=page, content_type="text/html")
        elif self.articles_page and request.path.startswith("/Detail/"):
            return web.Response(text=self.articles_page, content_type="text/html")
        elif self.mode == "garbage":
            junk = hashlib.sha512(request.path.encode()).digest() * 64
            return web.Response(body=junk, content_type="application/octet-stream")
        elif self.mode == "breaking":
            return web.Response(body=BREAKING_FEED, content_type="application/rss+xml")
        elif self.mode == "challenge":
            return web.Response(
                status=503,
                text="<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
                content_type="text/html",
                headers={"cf-mitigated": "challenge"},
            )
        elif self.mode == "banner" and request.path != "/robots.txt":
            if request.path != "/seized/":
                raise web.HTTPFound("/seized/")
            return web.Response(text=SEIZURE_BANNERS[self.banner], content_type="text/html")
        elif (
            self.mode == "redirect"
            and self.redirect_to is not None
            and request.path.startswith(self.redirect_under)
        ):
            raise web.HTTPFound((self.redirect_origin or self.redirect_to.origin) + request.path_qs)
        path = request.path
        if self.prefix and path != "/robots.txt":
            if path == "/":
                raise web.HTTPFound(self.prefix + "/")
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                return web.Response(status=404, text="not found")
            path = path.removeprefix(self.prefix) or "/"
        if path == "/robots.txt":
            if self.robots_status != 200:
                return web.Response(status=self.robots_status, text="robots.txt unavailable")
            if self.robots is None:
                return web.Response(status=404, text="not found")
            return web.Response(text=self.robots, content_type="text/plain")
        for section, target in self.dropped.items():
            if path in (f"/Section/{section}", f"/rss/{section}.xml"):
                raise web.HTTPFound(self.base + target)
        moved = next((a for a in self._visible() if a.listed_path == path), None)
        if moved is not None:
            raise web.HTTPMovedPermanently(self.base + moved.path)
        found = self._resource(path.rstrip("/") or "/")
        if found is None:
            return web.Response(status=404, text="not found")
        body, content_type = found
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        validators = {"ETag": etag, "Last-Modified": format_datetime(self.site.modified, True)}
        if self.mode == "truncated":
            return web.Response(body=body[: len(body) // 2], headers={"Content-Type": content_type})
        if self.mode == "gzipped" and path.startswith("/Detail/"):
            return web.Response(body=gzip.compress(body), headers={"Content-Type": content_type})
        if self.mode == "gzip-cut" and path.startswith("/Detail/"):
            article = next(a for a in self._visible() if a.path == path)
            last_but_one = html.escape(self.version(article).paragraphs[-2]).encode()
            cut = body.index(b"</p>", body.index(last_but_one)) + len(b"</p>")
            stream = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
            flushed = stream.compress(body[:cut]) + stream.flush(zlib.Z_SYNC_FLUSH)
            headers = {"Content-Type": content_type, "Content-Encoding": "gzip"}
            return web.Response(body=flushed, headers=headers)
        if self.mode == "moved-home" and path.startswith("/Detail/"):
            # Every article sent to the home page (what some mirrors do with what they block).
            raise web.HTTPFound(self.base + "/")
        if self.mode == "moved-section" and path.startswith("/Detail/"):
            raise web.HTTPFound(f"{self.base}/Section/{self.site.sections[0]}")
        if self.mode == "catch-all" and path.startswith("/Detail/"):
            # Its home page at every path, with 200 (a single-page app, a blocking mirror).
            return web.Response(text=self.home(), content_type="text/html")
        if self.mode == "plaintext" and path.startswith("/Detail/"):
            # A notice in plain text where article pages were (an overloaded origin's).
            return web.Response(text=PLAIN_NOTICE, content_type="text/plain")
        if _not_modified(request, etag, self.site.modified):
            return web.Response(status=304, headers=validators)
        if self.mode == "drip":
            return await self._drip(request, body, {**validators, "Content-Type": content_type})
        return web.Response(body=body, headers={**validators, "Content-Type": content_type})

    async def _drip(
        self, request: web.Request, body: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        """The whole answer, one byte every `drip_seconds`, until stop() releases it."""
        response = web.StreamResponse(headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        for offset in range(len(body)):
            try:
                await response.write(body[offset : offset + 1])
            except ConnectionResetError:
                break  # the client gave up on it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=self.drip_seconds)
            if self._release.is_set():
                break
        return response

    def _visible(self) -> list[SiteArticle]:
        if self.mode != "lagging":
            return self.site.articles
        newest = sorted(self.site.articles, key=lambda a: a.published)[-self.lag :]
        return [a for a in self.site.articles if a not in newest]

    def version(self, article: SiteArticle) -> SiteArticle:
        """The article as this mirror serves it: edited here, or as the site has it."""
        return self.edits.get(article.id, article)

    @property
    def _encoding(self) -> str:
        return "windows-1256" if self.mode == "legacy" else self.charset

    def _typed(self, text: str, content_type: str) -> tuple[bytes, str]:
        # What the charset cannot hold is sent as character references, as CMSs do.
        body = text.encode(self._encoding, errors="xmlcharrefreplace")
        if self.mode != "legacy" and self.charset_in in ("header", "both"):
            content_type += f"; charset={self.header_charset or self.charset}"
        return body, content_type

    def _resource(self, path: str) -> tuple[bytes, str] | None:
        """Bytes and content type of a path on this mirror (with or without a charset)."""
        if path == "/":
            return self._typed(self.home(), "text/html")
        if path in self.site.sitemap_aliases:
            text = self.day_sitemap(*self.site.sitemap_aliases[path])
            return (text.encode("utf-8"), "application/xml") if text is not None else None
        for section, other in self.misfiled.items():
            if path in (f"/rss/{section}.xml", f"/Section/{section}"):
                path = path.replace(section, other)
        for section in self.site.sections:
            if path == f"/sitemap/{section}.xml":
                return self._typed(self._linked(self.sitemap_index(section)), "application/xml")
            if path.startswith(f"/sitemap/{section}/") and path.endswith(".xml.gz"):
                day = path.removeprefix(f"/sitemap/{section}/").removesuffix(".xml.gz")
                text = self.day_sitemap(section, day)
                if text is None:
                    return None
                text = self._linked(text)
                return gzip.compress(text.encode("utf-8"), mtime=0), "application/gzip"
            if path == f"/rss/{section}.xml" and self.atom_text:
                return self._linked(self.atom_feed(section)).encode(), "application/atom+xml"
            if path == f"/rss/{section}.xml" and self.feed_utf16:
                text = self._linked(self.feed(section))
                text = text.replace(f'encoding="{self._encoding}"', 'encoding="utf-16"', 1)
                bom = codecs.BOM_UTF16_BE if self.feed_utf16.endswith("be") else codecs.BOM_UTF16_LE
                return bom + text.encode(self.feed_utf16), "application/rss+xml; charset=utf-16"
            if path == f"/rss/{section}.xml":
                return self._typed(self._linked(self.feed(section)), "application/rss+xml")
            if path == f"/feeds/{section}.json":
                text = self._linked(self.json_feed(section))
                return text.encode("utf-8"), "application/feed+json"
            if path == f"/Section/{section}":
                return self._typed(self._linked(self.listing(section)), "text/html")
        for article in self._visible():
            if path == article.path:
                return self._typed(self.article_page(self.version(article)), "text/html")
        return None

    def _linked(self, text: str) -> str:
        """A listing's text with its own links under `links_scheme`, if set."""
        if not self.links_scheme:
            return text
        return text.replace(self.origin, f"{self.links_scheme}://{self.host}")

    # --- pages, each with this mirror's own boilerplate ---------------------------------

    def _nav(self) -> str:
        items = [
            f'<li><a href="{self.base}/Section/{s}">{SECTION_TITLES[s]}</a></li>'
            for s in self.site.sections
        ]
        if self.index % 2:
            items.reverse()
        return f'<header class="site-header"><nav><ul>{"".join(items)}</ul></nav></header>'

    def _footer(self) -> str:
        others = [m.origin.removeprefix("http://") for m in self.site.mirrors if m is not self]
        hosts = "".join(f"<p>{h}</p>" for h in others)
        return (
            f'<div class="alternate-addresses"><p>This site can also be accessed at the '
            f"following alternate addresses:</p>{hosts}</div>"
        )

    def article_page(self, a: SiteArticle) -> str:
        url = self.base + a.path
        token = f"tok{self.index}{a.id}{self.site.version}"
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
        if self.inject:
            first = paras.index("</p>") + len("</p>")
            paras = paras[:first] + f"<p>{html.escape(self.inject)}</p>" + paras[first:]
        modified = (
            f'\n<meta property="article:modified_time" content="{a.updated.isoformat()}">'
            if a.updated
            else ""
        )
        related = "".join(
            f'<li><a href="{self.base}{b.path}">{html.escape(self.version(b).title)}</a></li>'
            for b in self.site.articles[:3]
            if b.id != a.id
        )
        rtl = ' dir="rtl"' if a.language in ("ar", "fa") else ""
        published = a.page_published or a.published.isoformat()
        ld = (
            f'\n<script type="application/ld+json">{a.page_json_ld}</script>'
            if a.page_json_ld
            else ""
        )
        return f"""<!DOCTYPE html>
<html lang="{a.language}"{rtl}><head>{self._charset_meta()}
<title>{html.escape(a.title)} | Mirror {self.index}</title>
<link rel="canonical" href="{self.site.canonical}{a.path}">
<meta property="og:url" content="{url}">
<meta property="og:title" content="{html.escape(a.title)}">
<meta property="article:published_time" content="{published}">{modified}
<meta name="author" content="Staff writer">{ld}
<script>var token = "{token}"; track("{url}");</script>
</head><body>
{self._nav()}
<div class="breadcrumb"><a href="{self.base}/">News</a> /
<a href="{self.base}/Section/{a.section}">{SECTION_TITLES[a.section]}</a></div>
<main><article>
<h1>{html.escape(a.title)}</h1>{self.markup}
<figure><img src="{self.base}/images/{a.id}.jpg" alt="photo">
<figcaption>{html.escape(a.caption)}</figcaption></figure>
{paras}
{self._footer()}
<div class="share"><p>SHARE THIS ARTICLE</p><a href="https://facebook.example/sharer?u={url}">Facebook</a></div>
</article>
<aside class="related"><h3>Most viewed</h3><ul>{related}</ul></aside></main>
<input type="hidden" name="csrf" value="{token}">
<footer>Mirror {self.index} · {self.origin}</footer>
</body></html>"""

    def home(self) -> str:
        if not self.site.announce_feeds:
            alternates = ""
        else:
            alternates = "".join(
                f'<link rel="alternate" type="application/feed+json" title="{SECTION_TITLES[s]}" '
                f'href="{self.base}/feeds/{s}.json">'
                if self.site.announce_feeds == "json"
                else f'<link rel="alternate" type="application/rss+xml" '
                f'title="{SECTION_TITLES[s]}" href="{self.base}/rss/{s}.xml">'
                for s in self.site.sections
            )
        latest = "".join(
            f'<li><a href="{self.base}{a.path}">{html.escape(a.title)}</a></li>'
            for a in self.site.articles[-3:]
        )
        return (
            f"<!DOCTYPE html><html lang='{html.escape(self.site.home_language)}'><head>"
            f"<meta charset='utf-8'><title>Example News | Mirror {self.index}</title>"
            f"{alternates}</head><body>"
            f"{self._nav()}<h1>Example News</h1><ul class='latest'>{latest}</ul>"
            f"<p><a href='{self.base}/about'>About us</a></p>{self._footer()}</body></html>"
        )

    def _charset_meta(self) -> str:
        if self.mode == "legacy":
            return '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'
        return f'<meta charset="{self.charset}">' if self.charset_in in ("meta", "both") else ""

    def _in_section(self, section: str) -> list[SiteArticle]:
        visible = {a.id for a in self._visible()}
        return [self.version(a) for a in self.site.in_section(section) if a.id in visible]

    def _listed(self, section: str) -> list[SiteArticle]:
        listed = self._in_section(section)
        if self.site.feed_window is None:
            return listed
        by_date = sorted(listed, key=lambda a: a.published, reverse=True)
        newest = {a.id for a in by_date[: self.site.feed_window]}
        return [a for a in listed if a.id in newest]

    def _days(self, section: str) -> dict[str, list[SiteArticle]]:
        days: dict[str, list[SiteArticle]] = {}
        for a in self._in_section(section):
            days.setdefault(f"{a.published:%Y-%m-%d}", []).append(a)
        return days

    def sitemap_index(self, section: str) -> str:
        items = "".join(
            f"<sitemap><loc>{self.base}/sitemap/{section}/{day}.xml.gz</loc><lastmod>"
            f"{max((a.updated or a.published) for a in day_articles).isoformat()}</lastmod>"
            "</sitemap>"
            for day, day_articles in sorted(self._days(section).items())
        )
        items += "".join(
            f"<sitemap><loc>{self.base}{path}</loc></sitemap>"
            for path, (of, _day) in self.site.sitemap_aliases.items()
            if of == section
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}'
            "</sitemapindex>"
        )

    def day_sitemap(self, section: str, day: str) -> str | None:
        day_articles = self._days(section).get(day)
        if day_articles is None:
            return None
        items = "".join(
            f"<url><loc>{self.base}{a.path}</loc>"
            f"<lastmod>{(a.updated or a.published).isoformat()}</lastmod>"
            "<news:news><news:publication><news:name>Example News</news:name>"
            "<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
            f"<news:title>{html.escape(a.title)}</news:title></news:news></url>"
            for a in day_articles
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{items}</urlset>"
        )

    def listing(self, section: str) -> str:
        def href(a: SiteArticle) -> str:
            return a.link_path.lstrip("/") if self.base_href else self.base + a.link_path

        def card(a: SiteArticle) -> str:
            if not a.listing_teaser:
                return html.escape(a.title)
            return f"<h3>{html.escape(a.title)}</h3><p>{html.escape(a.listing_teaser)}</p>"

        links = "".join(
            f'<li><a href="{href(a)}">{card(a)}</a></li>' for a in self._listed(section)
        )

        def read_href(a: SiteArticle) -> str:
            link = href(a)
            return quote(link, safe=":/") if self.most_read_encoded else link

        if self.most_read:
            links += (
                "<li><h2>Most read</h2><ol>"
                + "".join(
                    f'<li><a href="{read_href(a)}?utm_source=mostread">'
                    f"{html.escape(a.title)}</a></li>"
                    for a in self._listed(section)
                )
                + "</ol></li>"
            )
        base = f'<base href="{self.prefix}/">' if self.base_href else ""
        if self.base_target:
            base = '<base target="_self">' + base
        return (
            f"<!DOCTYPE html><html lang='en'><head>{base}{self._charset_meta()}<title>"
            f"{SECTION_TITLES[section]}</title></head><body>{self._nav()}<h1>"
            f"{SECTION_TITLES[section]}</h1><ul class='news'>{links}</ul></body></html>"
        )

    def feed(self, section: str) -> str:
        def content(a: SiteArticle) -> str:
            if not self.feed_content:
                return ""
            body = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
            return f"<content:encoded>{html.escape(body)}</content:encoded>"

        def title(a: SiteArticle) -> str:
            text = html.escape(a.title)
            return html.escape(text) if self.feed_titles_html else text

        items = "".join(
            f"<item><title>{title(a)}</title><link>{self.base}{a.link_path}</link>"
            f'<guid isPermaLink="false">mirror{self.index}-{a.id}</guid>'
            + (f"<pubDate>{pub}</pubDate>" if (pub := self._pub_date(a.published)) else "")
            + (f"<atom:updated>{a.updated.isoformat()}</atom:updated>" if a.updated else "")
            + (f"<author>{html.escape(self.feed_author)}</author>" if self.feed_author else "")
            + f"<description>{html.escape(a.paragraphs[0])}</description>{content(a)}</item>"
            for a in self._listed(section)
        )
        return (
            f'<?xml version="1.0" encoding="{self._encoding}"?>'
            f'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{SECTION_TITLES[section]}</title><link>{self.base}/</link>"
            f"<description>x</description>{items}{self.feed_extra}</channel></rss>"
        )

    def atom_feed(self, section: str) -> str:
        """The section as Atom 1.0, each entry's content the article's text (`atom_text`)."""
        entries = "".join(
            f"<entry><title>{html.escape(a.title)}</title>"
            f'<link href="{self.base}{a.link_path}"/><id>tag:mirror{self.index},2024:{a.id}</id>'
            f"<updated>{a.published.isoformat()}</updated>"
            f"<content>{html.escape(chr(10).join(a.paragraphs))}</content></entry>"
            for a in self._listed(section)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{SECTION_TITLES[section]}</title><id>tag:mirror{self.index},2024:{section}</id>"
            f"<updated>{self.site.modified.isoformat()}</updated>{entries}</feed>"
        )

    def _pub_date(self, moment: datetime) -> str:
        if self.feed_dates is not None:
            return self.feed_dates(moment)
        return format_datetime(moment, usegmt=True)

    def json_feed(self, section: str) -> str:
        """The section as a JSON Feed 1.1, full text in `content_html` when `feed_content`."""
        items = [
            {
                "id": f"mirror{self.index}-{a.id}",
                "url": f"{self.base}{a.link_path}",
                "title": a.title,
                "summary": a.paragraphs[0],
                "date_published": a.published.isoformat(),
                **({"date_modified": a.updated.isoformat()} if a.updated else {}),
                **(
                    {"content_html": "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)}
                    if self.feed_content
                    else {}
                ),
            }
            for a in self._listed(section)
        ]
        return json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": SECTION_TITLES[section],
                "home_page_url": f"{self.base}/",
                "items": items,
            }
        )


def _not_modified(request: web.Request, etag: str, modified: datetime) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        return etag in {t.strip() for t in inm.split(",")}
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


class Site:
    """One site, several mirrors; the first mirror's origin is the canonical one."""

    def __init__(
        self,
        mirrors: int = 3,
        articles: list[SiteArticle] | None = None,
    ) -> None:
        self.articles = articles if articles is not None else sample_articles()
        self.sections = list(SECTION_TITLES)
        self.tokens = (f"tok{n:08d}" for n in itertools.count())
        self.mirrors = [Mirror(self, i, free_port()) for i in range(mirrors)]
        self.canonical = self.mirrors[0].origin
        self.version = 0
        self.modified = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
        # Which feeds the home page announces: RSS (True), JSON Feeds ("json"), none.
        self.announce_feeds: bool | str = True
        # The `lang` of the home page.
        self.home_language = "en"
        self.slow_paths: set[str] = set()
        self.slow_seconds = 0.0
        self.in_flight = 0
        # More sitemaps the sitemap indexes name: path -> (section, day), each served as the
        # section's sitemap of that day is.
        self.sitemap_aliases: dict[str, tuple[str, str]] = {}
        # Feeds and listings show only a section's newest articles when set.
        self.feed_window: int | None = None

    def add_mirror(self, address: str, name: str | None = None) -> Mirror:
        """One more mirror of the site, listening on another loopback address (before
        `start`), under a host name of its own if given: the other mirrors' footers name it."""
        mirror = Mirror(self, len(self.mirrors), free_port(address), address=address, name=name)
        self.mirrors.append(mirror)
        return mirror

    def touch(self) -> None:
        """The site changed: new validators everywhere."""
        self.version += 1
        self.modified += timedelta(minutes=1)

    def correct(self, article: SiteArticle, paragraph: str) -> None:
        """A correction on every mirror: the article gains a paragraph and says when it was
        modified."""
        article.paragraphs.append(paragraph)
        article.updated = self.modified + timedelta(minutes=1)
        self.touch()

    def edit(
        self,
        article_id: int,
        mirrors: Iterable[int],
        *,
        title: str | None = None,
        paragraphs: list[str] | None = None,
        modified: datetime | None = None,
    ) -> SiteArticle:
        """Serve an edited version of an article from these mirrors (same URL); the others
        keep serving the version they had."""
        original = next(a for a in self.articles if a.id == article_id)
        edited = dataclasses.replace(
            original,
            title=title if title is not None else original.title,
            paragraphs=paragraphs if paragraphs is not None else list(original.paragraphs),
            updated=modified,
        )
        for index in mirrors:
            self.mirrors[index].edits[article_id] = edited
        self.touch()
        return edited

    def publish(self, article: SiteArticle) -> None:
        self.articles.append(article)
        self.touch()

    def all_requests(self) -> list[Logged]:
        return [r for m in self.mirrors for r in m.requests]

    def in_section(self, section: str) -> list[SiteArticle]:
        return [a for a in self.articles if section in a.sections]

    async def start(self) -> None:
        for m in self.mirrors:
            await m.start()

    async def stop(self) -> None:
        for m in self.mirrors:
            await m.stop()

    def config_yaml(
        self,
        tmp_store: str,
        *,
        entry: str = "feed",
        sections: tuple[str, ...] | None = None,
        extra: str = "",
        configured: int | None = None,
        read_timeout: str = "3s",
        service_extra: str = "",
        language: str = "en",
        entry_sections: tuple[str, ...] | None = None,
    ) -> str:
        """A config whose canonical origin is the first mirror and the others are mirrors
        (only the first `configured` mirrors of the site, when given).

        `sections` are the feeds defined; `entry_sections` (default: all of them) are those
        with an entry point; `extra` is YAML added to the source (indented four spaces)."""
        sections = sections or tuple(self.sections)
        listed_sections = entry_sections or sections
        paths = {
            s: f"/rss/{s}.xml" if entry == "feed" else f"/Section/{s}" for s in listed_sections
        }
        entries = "\n".join(f"      {s}: {{{entry}: {paths[s]}}}" for s in listed_sections)
        listed = self.mirrors[1:configured]
        mirrors = "\n".join(f"      - {m.origin}" for m in listed) or "      []"
        section_defs = "\n".join(f"  {s}: {{title: {SECTION_TITLES[s]}}}" for s in sections)
        return f"""service:
  title: Test news
  public_url: http://feeds.example.test
  store: "{tmp_store}"
  max_items: 50
  connect_timeout: 2s
  read_timeout: {read_timeout}
{service_extra}
sections:
{section_defs}
sources:
  news:
    title: Example News
    canonical: {self.mirrors[0].origin}
    language: {language}
    every: 5m
    mirrors:
{mirrors}
    sections:
{entries}
{extra}"""


class FakeClock:
    """A clock for pulls: time moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 6, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
