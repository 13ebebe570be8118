"""The publisher's sister sites as real aiohttp servers on 127.0.0.1: Al-Alam (Arabic, right to
left) and HispanTV (Spanish), each page and the feed linking them written by the test, each
mirror serving the same article in its own letter forms, labels and boilerplate."""

from __future__ import annotations

import html
import socket
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SisterPage:
    """One article as one mirror writes it."""

    path: str
    title: str
    paragraphs: list[str]
    published: datetime
    language: str
    breadcrumb: tuple[str, ...] = ()
    byline: str = ""
    # The page's <title> when not the headline (a site name after it, say); no h1 then.
    head_title: str | None = None
    site_name: str = ""
    # Blocks put after the second paragraph as the page writes them (HTML).
    inserted: str = ""
    # What stands between the breadcrumb's links (HTML).
    crumb_separator: str = " / "

    def render(self, base: str) -> str:
        rtl = ' dir="rtl"' if self.language in ("ar", "fa") else ""
        crumbs = self.crumb_separator.join(
            f'<a href="{base}/section/{n}">{html.escape(label)}</a>'
            for n, label in enumerate(self.breadcrumb)
        )
        paras = [f"<p>{html.escape(p)}</p>" for p in self.paragraphs]
        paras.insert(2, self.inserted)
        headline = "" if self.head_title else f"<h1>{html.escape(self.title)}</h1>"
        byline = f'<p class="byline">{html.escape(self.byline)}</p>' if self.byline else ""
        site = (
            f'<meta property="og:site_name" content="{html.escape(self.site_name)}">'
            if self.site_name
            else ""
        )
        return f"""<!DOCTYPE html>
<html lang="{self.language}"{rtl}><head><meta charset="utf-8">
<title>{html.escape(self.head_title or self.title)}</title>{site}
<meta property="article:published_time" content="{self.published.isoformat()}">
</head><body>
<div class="breadcrumb">{crumbs}</div>
<article>{headline}{byline}
{"".join(paras)}
</article></body></html>"""


@dataclass
class SisterMirror:
    pages: list[SisterPage]
    port: int = field(default_factory=free_port)
    runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{html.escape(p.title)}</title><link>{self.origin}{p.path}</link>"
            f"<pubDate>{format_datetime(p.published)}</pubDate></item>"
            for p in self.pages
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>News</title><link>{self.origin}/</link>{items}</channel></rss>"
        )

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/rss.xml":
            return web.Response(text=self.feed(), content_type="application/rss+xml")
        for page in self.pages:
            if page.path == request.path:
                return web.Response(text=page.render(self.origin), content_type="text/html")
        return web.Response(status=404, text="not found")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def sister_config(store: str, mirrors: list[SisterMirror], language: str, extra: str = "") -> str:
    """One source, the first mirror its canonical origin, one section `news` fed by its RSS
    feed; `extra` is YAML added to the source (indented four spaces)."""
    others = "\n".join(f"      - {m.origin}" for m in mirrors[1:]) or "      []"
    return f"""service:
  title: Test news
  public_url: http://feeds.example.test
  store: "{store}"
  connect_timeout: 2s
  read_timeout: 3s
sections:
  news: {{title: News}}
  iran: {{title: Iran}}
sources:
  sister:
    title: Sister site
    canonical: {mirrors[0].origin}
    language: {language}
    every: 5m
    mirrors:
{others}
    sections:
      news: {{feed: /rss.xml}}
{extra}"""
