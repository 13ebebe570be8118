"""The feed book: rendered bytes of every section feed, built from the store once per change
of the section and shared by the server and the exporter (so both give the same bytes).

Edge module: it reads the store; rendering itself is done by `render` and `pages`.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from . import render
from .config import ALL_SECTION, Config
from .mirrorstatus import health_line, mirror_rows, relink_articles
from .pages import SectionSummary, index_page
from .store import Store

EXTENSIONS = {"rss": "rss", "atom": "atom", "json": "json"}


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime


class FeedBook:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self._cache: dict[str, dict[str, RenderedFeed]] = {}
        self._versions: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.renders = 0

    def section_names(self) -> list[str]:
        return [*self.config.sections, ALL_SECTION]

    def feed_url(self, section: str, fmt: str) -> str:
        return f"{self.config.service.public_url}/feeds/{section}.{EXTENSIONS[fmt]}"

    def feed_urls(self, section: str) -> dict[str, str]:
        return {fmt: self.feed_url(section, fmt) for fmt in render.FORMATS}

    def info(self, section: str) -> render.FeedInfo:
        service = self.config.service
        feeding = [
            s
            for s in self.config.sources.values()
            if section == ALL_SECTION or section in s.sections
        ]
        if section == ALL_SECTION:
            title, description = f"{service.title}: all sections", "Every section in one feed."
        else:
            sec = self.config.sections[section]
            title, description = f"{service.title}: {sec.title}", sec.description or sec.title
        every = min((s.every for s in feeding), default=600.0)
        host = urlsplit(service.public_url).hostname or "localhost"
        return render.FeedInfo(
            section=section,
            title=title,
            description=description,
            home_url=f"{service.public_url}/",
            feed_urls=self.feed_urls(section),
            language=feeding[0].language if feeding else "en",
            ttl_minutes=max(1, round(every / 60)),
            feed_id=f"tag:{host},2026:syndicator/{section}",
        )

    def invalidate(self, sections: set[str] | None = None) -> None:
        """Forget rendered bytes of these sections (all when None); `all` always goes too."""
        if sections is None:
            self._cache.clear()
            return
        for name in {*sections, ALL_SECTION}:
            self._cache.pop(name, None)

    async def sync_versions(self) -> set[str]:
        """Drop sections whose change counter moved in the store (another process wrote)."""
        versions = await self.store.section_versions()
        moved = {s for s, v in versions.items() if self._versions.get(s) != v}
        self._versions = versions
        if moved:
            self.invalidate(moved)
        return moved

    async def get(self, section: str, fmt: str) -> RenderedFeed:
        """Rendered feed; KeyError for an unknown section or format."""
        if section not in self.section_names() or fmt not in render.FORMATS:
            raise KeyError(section)
        cached = self._cache.get(section)
        if cached is None:
            async with self._lock:
                cached = self._cache.get(section)
                if cached is None:
                    cached = await self._render(section)
                    self._cache[section] = cached
        return cached[fmt]

    async def _render(self, section: str) -> dict[str, RenderedFeed]:
        articles = await self.store.section_articles(section, self.config.service.max_items)
        articles = await relink_articles(self.config, self.store, articles)
        info = self.info(section)
        modified = render.newest_update(articles).replace(microsecond=0)
        out = {}
        for fmt in render.FORMATS:
            body = render.render(fmt, info, articles)
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            out[fmt] = RenderedFeed(body, render.CONTENT_TYPES[fmt], etag, modified)
        self.renders += 1
        return out

    async def index_html(self) -> str:
        counts = await self.store.section_counts()
        changed = await self.store.section_changed_at()
        summaries = []
        for name in self.section_names():
            title = "All sections" if name == ALL_SECTION else self.config.sections[name].title
            summaries.append(
                SectionSummary(
                    name, title, self.feed_urls(name), counts.get(name, 0), changed.get(name)
                )
            )
        health = health_line(await mirror_rows(self.config, self.store))
        return index_page(self.config.service.title, summaries, health=health)
