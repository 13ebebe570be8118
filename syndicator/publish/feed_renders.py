"""The feed book's documents, rendered once per change: a section's three formats with their
gzip and brotli forms and strong ETags, kept until the section changes again (serving one
is a dictionary look-up), RFC 5005 archive pages rendered on first request and kept the
same way, and the store's change counters watched so that every process renders what
another recorded. Rendering and compressing run in a thread, so the event loop keeps
answering other requests meanwhile.

The layer of `FeedBook` over `feed_addresses`; the pages for people are `documents`'. Edge
module: it reads the store; rendering itself is done by `render`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from syndicator.core.config import ALL_SECTION
from syndicator.core.errors import StoreError
from syndicator.core.models import Article
from syndicator.publish import render
from syndicator.publish.feed_addresses import FeedAddresses
from syndicator.publish.mirror_report import relink_articles
from syndicator.publish.rendered import (
    ARCHIVE_PAGES_KEPT,
    UNDATED,
    RenderedFeed,
    SectionDocuments,
    data_date,
    render_all,
    whole_second,
)

log = logging.getLogger("syndicator.publish")


class FeedRenders(FeedAddresses):
    """The feed book's documents, rendered once per change and kept."""

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
            docs = await self._render_dated(name, info, articles, data_date(articles, None))
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
        docs = await asyncio.to_thread(render_all, info, articles, floor or UNDATED)
        modified = await self.dated(name, [doc.etag for doc in docs.values()], floor)
        if modified != render.feed_updated(info, articles).replace(microsecond=0):
            info = dataclasses.replace(info, updated=modified)
            docs = await asyncio.to_thread(render_all, info, articles, modified)
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
            modified = floor or whole_second(datetime.now(UTC))
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
            info = dataclasses.replace(info, updated=whole_second(changed))
        feeds = await self._render_dated(section, info, articles, data_date(articles, changed))
        entry = SectionDocuments(version, feeds, pages)
        self.renders += 1
        if self._generation.get(section, 0) == generation:
            self._cache[section] = entry
        return entry
