"""One pull of one source, end to end: fetch every entry point on every mirror, collect the
article links, fetch and extract each article, build candidates and store them.

This is the only place that wires fetch -> extract -> candidate -> store. A mirror that fails
is recorded in the report and never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import extract
from .candidate import sections_for, to_candidate
from .config import Config, Mirror, Source
from .errors import ExtractError, FetchError, StoreError
from .fetch import Fetcher, Response
from .models import FeedEntry, Page
from .store import Store

log = logging.getLogger("syndicator.pull")

ProgressHook = Callable[[str, str], None]


@dataclass
class PullReport:
    source: str
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    fetched: int = 0
    not_modified: int = 0
    entry_points_ok: int = 0
    errors: list[str] = field(default_factory=list)
    changed_sections: set[str] = field(default_factory=set)
    guids: set[str] = field(default_factory=set)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)
        log.info("%s: %s", self.source, message)


@dataclass(frozen=True)
class ArticleRef:
    """An article link found on one mirror, with the sections that listed it."""

    mirror_index: int
    url: str
    sections: frozenset[str]


def on_mirror(mirror: Mirror, path_and_query: str) -> str:
    """The URL of a site path on this mirror (as the mirror's own links show it)."""
    return mirror.origin.rstrip("/") + path_and_query


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


class SourcePull:
    def __init__(
        self,
        name: str,
        source: Source,
        config: Config,
        fetcher: Fetcher,
        store: Store,
        progress: ProgressHook | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.config = config
        self.fetcher = fetcher
        self.store = store
        self.progress = progress or (lambda _kind, _url: None)
        self.mirrors = source.pull_from()
        self.origins = source.site_origins()
        self.report = PullReport(source=name)
        self.rules = extract.ArticleRules.of(source)
        # Feed entries by the article URL on the mirror whose feed listed them.
        self.entries: dict[str, FeedEntry] = {}

    def _file_root(self, mirror: Mirror) -> Path | None:
        return self.config.resolve_file(mirror.url) if mirror.is_file else None

    async def _get(self, mirror: Mirror, url: str) -> Response:
        self.report.fetched += 1
        try:
            return await self.fetcher.get(url, file_root=self._file_root(mirror))
        finally:
            self.progress("fetch", url)

    async def run(self) -> PullReport:
        refs = await self._collect_links()
        pages = await asyncio.gather(*(self._fetch_article(ref) for ref in refs))
        # Store in a fixed order (mirror order, then listing order) so that which copy of an
        # article is stored first never depends on which mirror answered first.
        for ref, page in zip(refs, pages, strict=True):
            if page is not None:
                await self._store(ref, page)
        return self.report

    async def _collect_links(self) -> list[ArticleRef]:
        jobs = [
            (i, section, entry)
            for i, _ in enumerate(self.mirrors)
            for section, entry in self.source.sections.items()
        ]
        found = await asyncio.gather(*(self._entry_links(i, s, e.kind, e.path) for i, s, e in jobs))
        merged: dict[tuple[int, str], set[str]] = {}
        for (i, section, _), links in zip(jobs, found, strict=True):
            for link in links:
                merged.setdefault((i, link), set()).add(section)
        return [ArticleRef(i, url, frozenset(s)) for (i, url), s in merged.items()]

    async def _entry_links(self, index: int, section: str, kind: str, path: str) -> list[str]:
        mirror = self.mirrors[index]
        url = on_mirror(mirror, path)
        try:
            response = await self._get(mirror, url)
            if kind == "feed":
                entries = extract.parse_feed(response.body, url, response.charset)
                links = [e.link for e in entries]
                for e in entries:
                    self.entries[on_mirror(mirror, _path_and_query(e.link))] = e
            else:
                links = extract.listing_links(
                    response.body,
                    url,
                    self.origins | {mirror.origin},
                    self.source.article_links,
                    response.charset,
                )
        except (FetchError, ExtractError) as exc:
            self.report.fail(f"{section} entry point on {mirror.origin}: {exc}")
            return []
        self.report.entry_points_ok += 1
        # Every link is fetched from the mirror that listed it: same paths, other domains.
        own = []
        for link in links:
            parts = urlsplit(link)
            origin = f"{parts.scheme}://{parts.netloc}".lower()
            if origin in self.origins or origin == mirror.origin:
                own.append(on_mirror(mirror, _path_and_query(link)))
            else:
                log.info("%s: skipping link to another site: %s", self.name, link)
        return own

    async def _fetch_article(self, ref: ArticleRef) -> Page | None:
        mirror = self.mirrors[ref.mirror_index]
        entry = self.entries.get(ref.url)
        entry = dataclasses.replace(entry, link=ref.url) if entry else None
        try:
            if entry and (not self.source.full_text or extract.carries_full_text(entry)):
                return extract.page_from_entry(entry, self.rules)
            response = await self._get(mirror, ref.url)
            return extract.extract_article(
                response.body,
                ref.url,
                header_charset=response.charset,
                rules=self.rules,
                entry=entry,
            )
        except (FetchError, ExtractError) as exc:
            self.report.fail(f"article on {mirror.origin}: {exc}")
            return None

    async def _store(self, ref: ArticleRef, page: Page) -> None:
        candidate = to_candidate(
            page,
            source=self.name,
            canonical_origin=self.source.canonical,
            site_origins=self.origins,
            sections=sections_for(page, ref.sections, self.source.section_rules),
            default_language=self.source.language,
        )
        try:
            result = await self.store.ingest(candidate, self.source.canonical)
        except StoreError as exc:
            self.report.fail(str(exc))
            return
        self.progress("article", ref.url)
        setattr(self.report, result.outcome, getattr(self.report, result.outcome) + 1)
        self.report.changed_sections |= result.changed_sections
        self.report.guids.add(result.guid)


async def pull_source(
    name: str, config: Config, fetcher: Fetcher, store: Store, progress: ProgressHook | None = None
) -> PullReport:
    """Pull one source from all its mirrors once and store what is new."""
    return await SourcePull(name, config.sources[name], config, fetcher, store, progress).run()


async def pull_all(
    config: Config, fetcher: Fetcher, store: Store, progress: ProgressHook | None = None
) -> list[PullReport]:
    return list(
        await asyncio.gather(
            *(pull_source(name, config, fetcher, store, progress) for name in config.sources)
        )
    )
