"""A news site served by real aiohttp servers on 127.0.0.1, one server per mirror domain.

Every mirror serves the same articles at the same paths, but with its own navigation, share
block, tracking script, alternate-addresses footer naming the other mirrors, its own absolute
links and its own feed GUIDs, as real mirror domains do. A mirror's `mode` can be switched
while a test runs ("ok", "down", "error" for HTTP 500), and every request is logged (`log`;
`timed_log` adds when it arrived). Paths in `Site.slow_paths` are answered after
`Site.slow_seconds`, and `Site.in_flight` counts requests being answered.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

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

    @property
    def path(self) -> str:
        d = self.published
        slug = "-".join(self.title.split()[:6]).replace("’", "").replace("'", "")
        return f"/Detail/{d:%Y/%m/%d}/{self.id}/{slug}"

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mirror:
    site: Site
    index: int
    port: int
    mode: str = "ok"
    log: list[str] = field(default_factory=list)
    timed_log: list[tuple[float, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def go_down(self) -> None:
        """Connection refused from now on."""
        await self.stop()
        self.mode = "down"

    async def come_back(self) -> None:
        self.mode = "ok"
        if self.runner is None:
            await self.start()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.log.append(request.path_qs)
        self.timed_log.append((time.monotonic(), request.path_qs))
        self.site.in_flight += 1
        try:
            if request.path in self.site.slow_paths:
                await asyncio.sleep(self.site.slow_seconds)
            return self.answer(request)
        finally:
            self.site.in_flight -= 1

    def answer(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "error":
            return web.Response(status=500, text="Internal Server Error")
        path = request.path.rstrip("/") or "/"
        for section in self.site.sections:
            if path == f"/rss/{section}.xml":
                return web.Response(body=self.feed(section), content_type="application/rss+xml")
            if path == f"/Section/{section}":
                return web.Response(text=self.listing(section), content_type="text/html")
        for article in self.site.articles:
            if path == article.path:
                return web.Response(text=self.article_page(article), content_type="text/html")
        return web.Response(status=404, text="not found")

    # --- pages, each with this mirror's own boilerplate ---------------------------------

    def _nav(self) -> str:
        items = [
            f'<li><a href="{self.origin}/Section/{s}">{SECTION_TITLES[s]}</a></li>'
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
        url = self.origin + a.path
        token = next(self.site.tokens)
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
        related = "".join(
            f'<li><a href="{self.origin}{b.path}">{html.escape(b.title)}</a></li>'
            for b in self.site.articles[:3]
            if b is not a
        )
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(a.title)} | Mirror {self.index}</title>
<link rel="canonical" href="{self.site.canonical}{a.path}">
<meta property="og:url" content="{url}">
<meta property="og:title" content="{html.escape(a.title)}">
<meta property="article:published_time" content="{a.published.isoformat()}">
<meta name="author" content="Staff writer">
<script>var token = "{token}"; track("{url}");</script>
</head><body>
{self._nav()}
<div class="breadcrumb"><a href="{self.origin}/">News</a> /
<a href="{self.origin}/Section/{a.section}">{SECTION_TITLES[a.section]}</a></div>
<main><article>
<h1>{html.escape(a.title)}</h1>
<figure><img src="{self.origin}/images/{a.id}.jpg" alt="photo">
<figcaption>{html.escape(a.caption)}</figcaption></figure>
{paras}
{self._footer()}
<div class="share"><p>SHARE THIS ARTICLE</p><a href="https://facebook.example/sharer?u={url}">Facebook</a></div>
</article>
<aside class="related"><h3>Most viewed</h3><ul>{related}</ul></aside></main>
<input type="hidden" name="csrf" value="{token}">
<footer>Mirror {self.index} · {self.origin}</footer>
</body></html>"""

    def listing(self, section: str) -> str:
        links = "".join(
            f'<li><a href="{self.origin}{a.path}">{html.escape(a.title)}</a></li>'
            for a in self.site.in_section(section)
        )
        return (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{SECTION_TITLES[section]}</title></head><body>{self._nav()}<h1>"
            f"{SECTION_TITLES[section]}</h1><ul class='news'>{links}</ul></body></html>"
        )

    def feed(self, section: str) -> bytes:
        items = "".join(
            f"<item><title>{html.escape(a.title)}</title><link>{self.origin}{a.path}</link>"
            f'<guid isPermaLink="false">mirror{self.index}-{a.id}</guid>'
            f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
            f"<description>{html.escape(a.paragraphs[0])}</description></item>"
            for a in self.site.in_section(section)
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{SECTION_TITLES[section]}</title><link>{self.origin}/</link>"
            f"<description>x</description>{items}</channel></rss>"
        ).encode()


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
        self.slow_paths: set[str] = set()
        self.slow_seconds = 0.0
        self.in_flight = 0

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
    ) -> str:
        """A config whose canonical origin is the first mirror and the others are mirrors."""
        sections = sections or tuple(self.sections)
        paths = {s: f"/rss/{s}.xml" if entry == "feed" else f"/Section/{s}" for s in sections}
        entries = "\n".join(f"      {s}: {{{entry}: {paths[s]}}}" for s in sections)
        mirrors = "\n".join(f"      - {m.origin}" for m in self.mirrors[1:])
        section_defs = "\n".join(f"  {s}: {{title: {SECTION_TITLES[s]}}}" for s in sections)
        return f"""service:
  title: Test news
  public_url: http://feeds.example.test
  store: "{tmp_store}"
  max_items: 50
  connect_timeout: 2s
  read_timeout: 3s
sections:
{section_defs}
sources:
  news:
    title: Example News
    canonical: {self.mirrors[0].origin}
    every: 5m
    mirrors:
{mirrors}
    sections:
{entries}
{extra}"""
