"""The feed book: every feed document ready to send, shared by the server and the exporter (so
both give the same bytes).

A section's three formats are rendered once per change of the section, together with their
gzip and brotli forms and a strong ETag for each, and kept until the section changes again;
serving one is a dictionary look-up. RFC 5005 archive pages are rendered on first request and
kept the same way. Rendering and compressing run in a thread, so the event loop keeps
answering other requests meanwhile.

Edge module: it reads the store; rendering itself is done by `render`, `pages` and `opml`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import brotli

from syndicator.core import identity
from syndicator.core.config import ALL_SECTION, Config
from syndicator.core.errors import StoreError
from syndicator.core.events import RenderObserver
from syndicator.core.models import Article, PullReport
from syndicator.extract.candidate import source_sections
from syndicator.publish import render, xmlfeeds
from syndicator.publish.mirror_report import health_line, mirror_rows, relink_articles
from syndicator.publish.opml import opml_document
from syndicator.publish.pages import SectionSummary, SourceHealth, index_page, section_page
from syndicator.store import Store
from syndicator.store.pulls import last_pulls

log = logging.getLogger("syndicator.publish")
EXTENSIONS = {"rss": "rss", "atom": "atom", "json": "json"}
ENCODINGS = ("br", "gzip", "identity")
ALL_TITLE = "All sections"
# Archive pages kept ready at once, the most recently asked for; a crawler walking every page
# of a large archive must not hold them all in memory.
ARCHIVE_PAGES_KEPT = 64
ChangeListener = Callable[[set[str]], None]


@dataclass
class RenderedFeed:
    """One document in every encoding, with what HTTP needs to say about it.

    `prepared` is the server's own slot: it keeps its ready-made answers for this document
    there, so they too are built once per change.
    """

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    gzip: bytes = b""
    br: bytes = b""
    etags: dict[str, str] = field(default_factory=dict)
    self_url: str = ""
    prepared: object = None

    def encoded(self, encoding: str) -> bytes:
        return {"br": self.br, "gzip": self.gzip}.get(encoding, self.body)


# Brotli quality 8: near the smallest output for feed text at about gzip -9's cost; 10 and 11
# save a few percent more for thirty times the time.
BROTLI_QUALITY = 8


def compressed(body: bytes) -> tuple[bytes, bytes]:
    """gzip (with a zero timestamp, so the same body gives the same bytes everywhere) and
    brotli forms of `body`."""
    return (
        gzip.compress(body, compresslevel=9, mtime=0),
        brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY),
    )


def prepare(
    body: bytes, content_type: str, last_modified: datetime, self_url: str = ""
) -> RenderedFeed:
    """Bytes plus their compressed forms and strong ETags, made once."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    zipped, brotlied = compressed(body)
    return RenderedFeed(
        body=body,
        content_type=content_type,
        etag=f'"{digest}"',
        last_modified=last_modified,
        gzip=zipped,
        br=brotlied,
        etags={"identity": f'"{digest}"', "gzip": f'"{digest}.gz"', "br": f'"{digest}.br"'},
        self_url=self_url,
    )


@dataclass
class SectionDocuments:
    version: int | None
    feeds: dict[str, RenderedFeed]
    pages: range  # the archive pages that exist (retention may have emptied the first ones)


class FeedBook:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        observer: RenderObserver | None = None,
        static: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        # The pages are for a static host (`syndicate export`): they link nothing only the
        # server answers (the mirror dashboard at /mirrors, which would be a 404 there) and
        # have no search box (`?q=` needs the server).
        self.static = static
        # Told the time of every section render (the metrics), without the cache knowing who.
        self.observer = observer
        self._cache: dict[str, SectionDocuments] = {}
        self._pending: dict[str, asyncio.Future[SectionDocuments]] = {}
        self._generation: dict[str, int] = {}
        self._archives: OrderedDict[tuple[str, int], dict[str, RenderedFeed]] = OrderedDict()
        self.renders = 0
        self._counts: tuple[dict[str, int], dict[str, int]] | None = None  # versions, counts
        # What each document was last rendered as (a digest of its ETags) and its date.
        self._dated: dict[str, tuple[str, datetime]] = {}
        # The HTML pages and the OPML list, as last made.
        self._pages: dict[str, RenderedFeed] = {}
        self.archive_renders = 0
        # Called with the changed sections after `invalidate` (the WebSub announcer listens).
        self.listeners: list[ChangeListener] = []
        # The store's change counters at the last `sync_versions` (None before the first).
        self._versions: dict[str, int] | None = None
        # One render of changed sections at a time: a look at the counters (`sync_versions`)
        # while this process renders what it recorded itself (a reload, a pull) would see
        # the counter moved past the documents not yet replaced and render them once more.
        self._rendering = asyncio.Lock()
        # The last pull of each source as the pulling process saw it (the pages read the
        # pull journal in the store instead, the same for every process).
        self.reports: Mapping[str, PullReport] = {}

    # --- names and URLs --------------------------------------------------------------

    def section_names(self) -> list[str]:
        return [*self.config.sections, ALL_SECTION]

    def section_title(self, section: str) -> str:
        return ALL_TITLE if section == ALL_SECTION else self.config.sections[section].title

    @property
    def base_url(self) -> str:
        return f"{self.config.service.public_url}/feeds"

    def feed_url(self, section: str, fmt: str) -> str:
        return f"{self.base_url}/{section}.{EXTENSIONS[fmt]}"

    def feed_urls(self, section: str) -> dict[str, str]:
        return {fmt: self.feed_url(section, fmt) for fmt in render.FORMATS}

    def archive_urls(self, section: str, page: int) -> dict[str, str]:
        return {
            fmt: f"{self.base_url}/{section}/archive/{page}.{EXTENSIONS[fmt]}"
            for fmt in render.FORMATS
        }

    def feed_id(self, section: str) -> str:
        """The Atom id of a section's feed (and of its archive pages, parts of that feed): a
        tag: URI of the public host and, when the site is served under a path, that path.

        An id of the host alone was the same for two services on one host under their own
        paths (https://h/news and https://h/sport, each with a section `world`): readers and
        aggregators that key a feed on its id took one for the other. A site at the host's
        root keeps the id it always had; the port is left out for that reason, since the
        default public_url (http://localhost:8080) names one. An IPv6 address is named by
        its ip6.arpa name (`identity.tag_authority`)."""
        parts = urlsplit(self.config.service.public_url)
        host = identity.tag_authority(parts.hostname)
        # public_url is a URI already; quoted again only for what a tag: URI may not hold.
        path = quote(parts.path, safe="/%!$&'()*+,;=:@")
        return f"tag:{host},2026:syndicator{path}/{section}"

    def page_url(self, section: str) -> str:
        return f"{self.base_url}/{section}/"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/"

    @property
    def opml_url(self) -> str:
        return f"{self.base_url}/opml.xml"

    def info(
        self, section: str, pages: range = range(0), page: int | None = None
    ) -> render.FeedInfo:
        """Feed facts of a section's subscription document (`page` None) or archive page."""
        service = self.config.service
        feeding = [
            s
            for s in self.config.sources.values()
            if section == ALL_SECTION or section in source_sections(s)
        ]
        if section == ALL_SECTION:
            title, description = f"{service.title}: all sections", "Every section in one feed."
        else:
            sec = self.config.sections[section]
            title, description = f"{service.title}: {sec.title}", sec.description or sec.title
        # Titles come from the config: keep characters XML cannot carry out of every format.
        title, description = render.xml_safe(title), render.xml_safe(description)
        every = min((s.every for s in feeding), default=600.0)
        archive: dict[str, object] = {}
        if page is None:
            urls = self.feed_urls(section)
            if pages:
                archive["prev_archive_urls"] = self.archive_urls(section, pages[-1])
        else:
            urls = self.archive_urls(section, page)
            archive["archive"] = True
            archive["current_urls"] = self.feed_urls(section)
            if page - 1 in pages:
                archive["prev_archive_urls"] = self.archive_urls(section, page - 1)
            # No next-archive link (RFC 5005 makes it optional): the newest page would gain
            # one when the next page fills, and a complete archive page never changes.
        return render.FeedInfo(
            section=section,
            title=title,
            description=description,
            home_url=self.page_url(section),
            feed_urls=urls,
            language=(render.language_tag(feeding[0].language) if feeding else None) or "en",
            ttl_minutes=max(1, round(every / 60)),
            feed_id=self.feed_id(section),
            author=render.xml_safe(service.title),
            hub_url=service.websub.hub,
            category_scheme=f"{self.base_url}/",
            # Relative: a browser applies it only from the feed's own origin (or folder).
            stylesheet=xmlfeeds.STYLESHEET_NAME
            if page is None
            else f"../../{xmlfeeds.STYLESHEET_NAME}",
            section_titles={
                name: render.xml_safe(s.title) for name, s in self.config.sections.items()
            },
            **archive,  # type: ignore[arg-type]
        )

    # --- change tracking -------------------------------------------------------------

    def _forget(self, sections: set[str] | None) -> None:
        names = set(self.section_names()) if sections is None else {*sections, ALL_SECTION}
        self._drop(names)

    def _drop(self, names: set[str]) -> None:
        for name in names:
            self._cache.pop(name, None)
        self._outdate(names)

    def _outdate(self, names: set[str]) -> None:
        """A render of these sections under way is stale (its result is not kept), and their
        archive pages are rendered again when next asked for."""
        for name in names:
            self._generation[name] = self._generation.get(name, 0) + 1
        for key in [key for key in self._archives if key[0] in names]:
            del self._archives[key]

    async def _revalidate(self, names: set[str]) -> None:
        """Render these sections again while readers are still served their documents as
        they were, and put the new ones in place when ready.

        Rendering a section takes from milliseconds to half a second (50 long articles in
        three formats, each compressed twice), and dating it writes to the store,
        which waits while a pull in another process holds the write lock: readers polling a
        feed would otherwise all wait for it, each time a pull changes the section. The
        listeners (the WebSub announcer) hear of the change only after this returns, so a
        hub fetching the feed after a ping gets the new document. A section that fails to
        render is dropped: the next request renders it and reports the error.
        """
        if not names:
            return
        order = sorted(names)
        self._outdate(names)
        results = await asyncio.gather(
            *(self._observed_render(name) for name in order), return_exceptions=True
        )
        for name, result in zip(order, results, strict=True):
            if isinstance(result, BaseException):
                self._drop({name})
                if not isinstance(result, Exception):
                    raise result
                log.warning("section %s not rendered again: %s", name, result)

    def invalidate(self, sections: set[str] | None = None) -> None:
        """Forget rendered bytes of these sections (all when None; `all` always goes too) and
        tell the listeners which sections changed."""
        self._forget(sections)
        self._tell(sections)

    def _tell(self, sections: set[str] | None) -> None:
        """Tell the listeners these sections changed (all when None), and `all` with them."""
        changed = set(sections) if sections is not None else set(self.config.sections)
        if changed:
            changed.add(ALL_SECTION)
            for listener in self.listeners:
                listener(changed)

    async def refresh(self, sections: set[str] | None = None) -> None:
        """Render these sections again (all when None; `all` always too) while readers are
        still served the documents they had, then tell the listeners which changed.

        What a reload or a pull in this process does: `invalidate` would make every reader
        of a changed section wait for its render (from milliseconds to half a second), and
        measured with `bench/serve.py --while-pulling`, the 32 requests in flight at a reload
        waited 172 ms. Sections no longer in the config go at once; those not held here are
        rendered at their next request, as before.
        """
        async with self._rendering:
            await self._refresh(sections)

    async def _refresh(self, sections: set[str] | None) -> None:
        names = set(self.section_names()) if sections is None else {*sections, ALL_SECTION}
        self._drop({name for name in self._cache if name not in self.section_names()})
        held = {name for name in names if name in self._cache}
        # A render of the others under way is of the old config: it is not kept.
        self._outdate(names - held)
        await self._revalidate(held)
        self._tell(sections)

    async def config_changed(self, sections: set[str]) -> None:
        """A new config changes these sections' documents: record it in the store as a change
        (other processes render again, the WebSub hub hears of it once) and render them
        again here, serving the documents as they were meanwhile. The record is keyed by
        the config's digest: every serving process reloads, the first one records it.

        Recorded before the render: a process whose record is a no-op renders after the
        first one's landed, at its counter, and does not render again when it hears of it."""
        async with self._rendering:
            try:
                await self.store.record_config_change(sections, self.config.digest())
            except StoreError as exc:
                log.warning("config change not recorded in the store: %s", exc)
            await self._refresh(sections)

    async def sync_versions(self) -> set[str]:
        """Render again the sections held here whose change counter moved in the store
        (another process wrote), serving the old documents meanwhile, then tell the listeners
        of every section whose counter moved since the last look (rendered here or not): the
        WebSub announcer hears of changes any process made."""
        async with self._rendering:
            return await self._sync_versions()

    async def _sync_versions(self) -> set[str]:
        versions = await self.store.section_versions()
        moved = {name for name, entry in self._cache.items() if entry.version != versions.get(name)}
        await self._revalidate(moved)
        seen, self._versions = self._versions, versions
        if seen is None:
            # The first look has nothing to compare with, yet another process may have
            # changed a section since the listeners started: the announcer is woken to look
            # in the store for what the hub was not told of.
            for listener in self.listeners:
                listener(set())
            return moved
        changed = {name for name in {*versions, *seen} if versions.get(name) != seen.get(name)}
        if changed:
            for listener in self.listeners:
                listener(changed)
        return moved | changed

    # --- documents -------------------------------------------------------------------

    def cached(self, section: str, fmt: str) -> RenderedFeed | None:
        """The ready document, or None when it must be rendered first (the fast path)."""
        entry = self._cache.get(section)
        return entry.feeds.get(fmt) if entry is not None else None

    async def get(self, section: str, fmt: str) -> RenderedFeed:
        """Rendered feed; KeyError for an unknown section or format."""
        if fmt not in render.FORMATS:
            raise KeyError(fmt)
        return (await self._section(section)).feeds[fmt]

    async def archive_pages(self, section: str) -> range:
        """The section's archive page numbers: complete pages only, 1 the oldest; pages whose
        items retention removed are left out."""
        return (await self._section(section)).pages

    async def archive(self, section: str, page: int, fmt: str) -> RenderedFeed:
        """Archive page `page` (1 is the oldest); KeyError when there is no such page."""
        if fmt not in render.FORMATS:
            raise KeyError(fmt)
        entry = await self._section(section)
        if page not in entry.pages:
            raise KeyError(page)
        key = (section, page)
        docs = self._archives.get(key)
        if docs is not None:
            self._archives.move_to_end(key)
        else:
            size = self.config.service.page_size
            articles = await self.store.section_slice(section, (page - 1) * size + 1, page * size)
            articles.sort(key=lambda a: (a.published, a.id), reverse=True)
            articles = await relink_articles(self.config, self.store, articles)
            info = self.info(section, entry.pages, page)
            name = f"{section}/archive/{page}"
            docs = await self._render_dated(name, info, articles, _data_date(articles, None))
            if self._cache.get(section) is entry:
                self._archives[key] = docs
                while len(self._archives) > ARCHIVE_PAGES_KEPT:
                    self._archives.popitem(last=False)
            self.archive_renders += 1
        return docs[fmt]

    async def _render_dated(
        self,
        name: str,
        info: render.FeedInfo,
        articles: Sequence[Article],
        floor: datetime | None,
    ) -> dict[str, RenderedFeed]:
        """Render a document (`name`: its path under /feeds/) in every format, dated by
        `dated`: `floor`, the date its data gives, unless its bytes changed without it.

        A document dated otherwise than its data says (later: an older item joined it, or
        one left it; an empty document with no date of its own is dated when it was first
        published; earlier: its newest item is dated ahead of the clock) is rendered again,
        saying so in its own date (RSS lastBuildDate, Atom's feed updated): readers that
        stop at an unchanged feed date (Brief, node-feedsub, feed-io) did not show an older
        item that joined a feed, nor any change before the time an item was dated ahead.
        Its first bytes, made of its data alone, are what `dated` keeps the date of, so
        every process makes the same bytes again.
        """
        docs = await asyncio.to_thread(_render_all, info, articles, floor or _PLACEHOLDER)
        modified = await self.dated(name, [doc.etag for doc in docs.values()], floor)
        if modified != render.feed_updated(info, articles).replace(microsecond=0):
            info = dataclasses.replace(info, updated=modified)
            docs = await asyncio.to_thread(_render_all, info, articles, modified)
        for doc in docs.values():
            doc.last_modified = modified
        return docs

    async def dated(self, name: str, etags: Sequence[str], floor: datetime | None) -> datetime:
        """Last-Modified of a document whose bytes have these ETags: kept in the store
        (`Store.document_modified`), so it moves whenever the bytes do, across restarts and
        config changes, and every process (the server's, an export) gives the same one."""
        digest = hashlib.blake2b("\n".join(sorted(etags)).encode(), digest_size=16).hexdigest()
        known = self._dated.get(name)
        if known is not None and known[0] == digest:
            return known[1]
        try:
            modified = await self.store.document_modified(name, digest, floor)
        except StoreError as exc:
            # The document is still served, dated as well as this process can: its data's
            # date, or later than what it last gave.
            log.warning("document date not recorded: %s", exc)
            modified = floor or _second(datetime.now(UTC))
            if known is not None and modified <= known[1]:
                modified = known[1] + timedelta(seconds=1)
        self._dated[name] = (digest, modified)
        return modified

    async def _section(self, section: str) -> SectionDocuments:
        if section not in self.section_names():
            raise KeyError(section)
        entry = self._cache.get(section)
        if entry is not None:
            return entry
        pending = self._pending.get(section)
        if pending is None:
            pending = asyncio.ensure_future(self._observed_render(section))
            self._pending[section] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(section, None))
        return await asyncio.shield(pending)

    async def _observed_render(self, section: str) -> SectionDocuments:
        observer = self.observer
        if observer is None:
            return await self._render(section)
        started = time.monotonic()
        rendered = await self._render(section)
        observer.on_render(section, time.monotonic() - started)
        return rendered

    async def _render(self, section: str) -> SectionDocuments:
        generation = self._generation.get(section, 0)
        # The version is read first: a change that lands while rendering moves it again and
        # the next poll renders once more, so a document is never kept past its change.
        version = (await self.store.section_versions()).get(section)
        changed = (await self.store.section_changed_at()).get(section)
        articles = await self.store.section_articles(section, self.config.service.max_items)
        archive, size = self.config.service.archive, self.config.service.page_size
        pages = range(0)
        if archive.enabled:
            lowest, highest = await self.store.archive_extent(section)
            if lowest:
                pages = range((lowest - 1) // size + 1, highest // size + 1)
                # The items after the last complete page are on no archive page yet: the feed
                # carries them all, even one published before the newest max_items (a late
                # arrival), so that every item is in some document.
                shown = {a.id for a in articles}
                tail = await self.store.section_slice(
                    section, (highest // size) * size + 1, highest
                )
                if any(a.id not in shown for a in tail):
                    articles += [a for a in tail if a.id not in shown]
                    articles.sort(key=lambda a: (a.published, a.id), reverse=True)
        articles = await relink_articles(self.config, self.store, articles)
        info = self.info(section, pages)
        # Dated by its items; an empty feed by the section's last change (retention emptied
        # it, say); one that never had anything by when it was first published.
        if changed and not articles:
            info = dataclasses.replace(info, updated=_second(changed))
        feeds = await self._render_dated(section, info, articles, _data_date(articles, changed))
        entry = SectionDocuments(version, feeds, pages)
        self.renders += 1
        if self._generation.get(section, 0) == generation:
            self._cache[section] = entry
        return entry

    # --- pages for people ------------------------------------------------------------

    async def summaries(self) -> list[SectionSummary]:
        # Counting a section's items reads all its rows: count again only after a change
        # (every change, retention's included, moves the section's version).
        versions = await self.store.section_versions()
        if self._counts is None or self._counts[0] != versions:
            self._counts = (versions, await self.store.section_counts())
        counts = self._counts[1]
        changed = await self.store.section_changed_at()
        return [
            SectionSummary(
                name=name,
                title=self.section_title(name),
                feed_urls=self.feed_urls(name),
                items=counts.get(name, 0),
                changed_at=changed.get(name),
                page_url=self.page_url(name),
                description=self.info(name).description,
            )
            for name in self.section_names()
        ]

    async def health(self) -> list[SourceHealth]:
        """One line per source: its mirrors' states and its last pull's result, both from the
        store, so that every process (the server's, an export) writes the same line, and the
        same line again after a pull that changed nothing."""
        rows = await mirror_rows(self.config, self.store)
        last = await last_pulls(self.store)
        lines = []
        for name, source in self.config.sources.items():
            summary = health_line([r for r in rows if r.source == name])
            if not self.static:
                # An export pulls when its cron job runs, whatever the source's `every`.
                summary += f"; pulled every {_duration(source.every)}"
            report = last.get(name)
            if report is not None:
                # Its result, not its counts: a pull that finds nothing new must leave the
                # page (and an export's index.html) as it was. What changed when is in the
                # sections' dates; the counts are in `syndicate status`.
                summary += f"; last pull {report.result}"
            lines.append(SourceHealth(name, source.title, summary))
        return lines

    def _linked(self, url: str, depth: int) -> str:
        """How a page `depth` folders down the feeds' folder links `url`: as it is for the
        server, relative to the page for a static host when `url` is in the folder, so that
        the exported pages lead to the files beside them wherever the folder is served (a
        GitHub Pages project site under /repo/, a public_url not set or not yet right)."""
        base = self.index_url
        if not self.static or not url.startswith(base):
            return url
        return "../" * depth + url[len(base) :] or "./"

    def _linked_summary(self, summary: SectionSummary, depth: int) -> SectionSummary:
        return dataclasses.replace(
            summary,
            feed_urls={f: self._linked(u, depth) for f, u in summary.feed_urls.items()},
            page_url=self._linked(summary.page_url, depth),
        )

    async def index_html(self, query: str = "") -> str:
        # Pages are rendered in a thread, as feeds are: a section page of 50 long articles
        # took 10-40 ms, at every request, on the loop every reader of the process waits on.
        return await asyncio.to_thread(
            index_page,
            self.config.service.title,
            [self._linked_summary(s, 0) for s in await self.summaries()],
            await self.health(),
            query=query,
            index_url=self._linked(self.index_url, 0),
            opml_url=self._linked(self.opml_url, 0),
            mirrors_url="" if self.static else f"{self.config.service.public_url}/mirrors",
            searchable=not self.static,
        )

    async def section_html(self, section: str, query: str = "") -> str:
        """KeyError for an unknown section."""
        if section not in self.section_names():
            raise KeyError(section)
        summary = next(s for s in await self.summaries() if s.name == section)
        articles = await self.store.section_articles(section, self.config.service.max_items)
        articles = await relink_articles(self.config, self.store, articles)
        pages = await self.archive_pages(section)
        return await asyncio.to_thread(
            section_page,
            self.config.service.title,
            self._linked_summary(summary, 1),
            articles,
            query=query,
            index_url=self._linked(self.index_url, 1),
            archive_pages=[
                (n, self._linked(self.archive_urls(section, n)["atom"], 1)) for n in pages
            ],
            searchable=not self.static,
        )

    def page_names(self) -> list[str]:
        """The pages for people and the OPML list, by their path under /feeds/."""
        return ["index.html", "opml.xml", *(f"{s}/index.html" for s in self.section_names())]

    async def page(self, name: str) -> RenderedFeed:
        """An HTML page or the OPML list (a name of `page_names`) ready to send, in every
        encoding, dated like the feeds: the server sends these bytes and export writes them.
        KeyError for another name."""
        changed = await self.store.section_changed_at()
        if name == "opml.xml":
            body, content_type = await self.opml(), "text/x-opml; charset=utf-8"
            floor = max(changed.values(), default=None)
        elif name == "index.html":
            body, content_type = (await self.index_html()).encode(), "text/html; charset=utf-8"
            floor = max(changed.values(), default=None)
        else:
            section = name.removesuffix("/index.html")
            if name == section:
                raise KeyError(name)
            body = (await self.section_html(section)).encode()
            content_type = "text/html; charset=utf-8"
            floor = changed.get(section)
        before = self._pages.get(name)
        if before is not None and before.body == body:
            return before
        doc = await asyncio.to_thread(prepare, body, content_type, render.EPOCH)
        # A static host dates a file by its own means. The store keeps the date of the
        # server's page: a static page's other bytes recorded under its name would move
        # the date the server gives its readers.
        if not self.static:
            doc.last_modified = await self.dated(
                name, [doc.etag], _second(floor) if floor is not None else None
            )
        self._pages[name] = doc
        return doc

    async def opml(self) -> bytes:
        summaries = [s for s in await self.summaries() if s.name != ALL_SECTION]
        newest = max((s.changed_at for s in summaries if s.changed_at), default=None)
        return opml_document(
            f"{self.config.service.title}: every section",
            summaries,
            newest,
            self.index_url,
        )


def _render_all(
    info: render.FeedInfo, articles: Sequence[Article], modified: datetime
) -> dict[str, RenderedFeed]:
    return {
        fmt: prepare(
            render.render(fmt, info, articles),
            render.CONTENT_TYPES[fmt],
            modified,
            info.feed_urls[fmt],
        )
        for fmt in render.FORMATS
    }


# Stands for the date of an empty document until it has one (never published as such).
_PLACEHOLDER = render.EPOCH


def _data_date(articles: Sequence[Article], changed: datetime | None) -> datetime | None:
    """The date a document's data gives: its newest item's, else its section's last change."""
    if articles:
        return _second(render.newest_update(articles))
    return _second(changed) if changed is not None else None


def _second(moment: datetime) -> datetime:
    """HTTP dates have whole seconds; never claim a time later than now."""
    return min(moment, datetime.now(UTC)).replace(microsecond=0)


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
