"""A news site served by real aiohttp servers on 127.0.0.1, one server per mirror domain.

Every mirror serves the same articles at the same paths, but with its own navigation, share
block, tracking script, alternate-addresses footer naming the other mirrors, its own absolute
links and its own feed GUIDs, as real mirror domains do. A mirror's `mode` can be switched
while a test runs ("ok", "down", "error" for HTTP 500), and every request is logged. A mirror
serves its pages in its own `charset`, declared in the HTTP header, the page, or both; an
article can be edited on one mirror at a time (`Site.edit`); a mirror's feed can carry the
full text (`feed_content`).
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import socket
from collections.abc import Iterable
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
    language: str = "en"
    modified: datetime | None = None
    # Fixed when the article is first published: an edited headline keeps its URL.
    slug: str = ""

    def __post_init__(self) -> None:
        if not self.slug:
            words = self.title.split()[:6]
            self.slug = "-".join(words).replace("’", "").replace("'", "")

    @property
    def path(self) -> str:
        return f"/Detail/{self.published:%Y/%m/%d}/{self.id}/{self.slug}"

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
    runner: web.AppRunner | None = None
    charset: str = "utf-8"
    charset_in: str = "both"  # where the charset is declared: "header", "meta" or "both"
    feed_content: bool = False  # feed items carry the full text in content:encoded
    edits: dict[int, SiteArticle] = field(default_factory=dict)

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
        if self.mode == "error":
            return web.Response(status=500, text="Internal Server Error")
        path = request.path.rstrip("/") or "/"
        for section in self.site.sections:
            if path == f"/rss/{section}.xml":
                return self._respond(self.feed(section), "application/rss+xml")
            if path == f"/Section/{section}":
                return self._respond(self.listing(section), "text/html")
        for article in self.site.articles:
            if path == article.path:
                return self._respond(self.article_page(self.version(article)), "text/html")
        return web.Response(status=404, text="not found")

    def version(self, article: SiteArticle) -> SiteArticle:
        """The article as this mirror serves it: edited here, or as first published."""
        return self.edits.get(article.id, article)

    def _respond(self, text: str, content_type: str) -> web.Response:
        # What the charset cannot hold is sent as character references, as CMSs do.
        body = text.encode(self.charset, errors="xmlcharrefreplace")
        header = content_type
        if self.charset_in in ("header", "both"):
            header += f"; charset={self.charset}"
        return web.Response(body=body, headers={"Content-Type": header})

    def _meta_charset(self) -> str:
        return f'<meta charset="{self.charset}">' if self.charset_in in ("meta", "both") else ""

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
            f'<li><a href="{self.origin}{b.path}">{html.escape(self.version(b).title)}</a></li>'
            for b in self.site.articles[:3]
            if b.id != a.id
        )
        rtl = ' dir="rtl"' if a.language in ("ar", "fa") else ""
        modified = (
            f'<meta property="article:modified_time" content="{a.modified.isoformat()}">'
            if a.modified
            else ""
        )
        return f"""<!DOCTYPE html>
<html lang="{a.language}"{rtl}><head>{self._meta_charset()}
<title>{html.escape(a.title)} | Mirror {self.index}</title>
<link rel="canonical" href="{self.site.canonical}{a.path}">
<meta property="og:url" content="{url}">
<meta property="og:title" content="{html.escape(a.title)}">
<meta property="article:published_time" content="{a.published.isoformat()}">
{modified}
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
            f'<li><a href="{self.origin}{a.path}">{html.escape(self.version(a).title)}</a></li>'
            for a in self.site.in_section(section)
        )
        return (
            f"<!DOCTYPE html><html lang='en'><head>{self._meta_charset()}<title>"
            f"{SECTION_TITLES[section]}</title></head><body>{self._nav()}<h1>"
            f"{SECTION_TITLES[section]}</h1><ul class='news'>{links}</ul></body></html>"
        )

    def feed(self, section: str) -> str:
        def content(a: SiteArticle) -> str:
            if not self.feed_content:
                return ""
            body = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
            return f"<content:encoded>{html.escape(body)}</content:encoded>"

        items = "".join(
            f"<item><title>{html.escape(a.title)}</title><link>{self.origin}{a.path}</link>"
            f'<guid isPermaLink="false">mirror{self.index}-{a.id}</guid>'
            f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
            f"<description>{html.escape(a.paragraphs[0])}</description>{content(a)}</item>"
            for a in map(self.version, self.site.in_section(section))
        )
        return (
            f'<?xml version="1.0" encoding="{self.charset}"?><rss version="2.0" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{SECTION_TITLES[section]}</title><link>{self.origin}/</link>"
            f"<description>x</description>{items}</channel></rss>"
        )


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

    def in_section(self, section: str) -> list[SiteArticle]:
        return [a for a in self.articles if section in a.sections]

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
            modified=modified,
        )
        for index in mirrors:
            self.mirrors[index].edits[article_id] = edited
        return edited

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
        language: str = "en",
        entry_sections: tuple[str, ...] | None = None,
    ) -> str:
        """A config whose canonical origin is the first mirror and the others are mirrors.

        `sections` are the feeds defined; `entry_sections` (default: all of them) are those
        with an entry point; `extra` is YAML added to the source (indented four spaces)."""
        sections = sections or tuple(self.sections)
        listed = entry_sections or sections
        paths = {s: f"/rss/{s}.xml" if entry == "feed" else f"/Section/{s}" for s in listed}
        entries = "\n".join(f"      {s}: {{{entry}: {paths[s]}}}" for s in listed)
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
    language: {language}
    every: 5m
    mirrors:
{mirrors}
    sections:
{entries}
{extra}"""
