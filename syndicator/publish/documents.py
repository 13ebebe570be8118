"""The feed book: every document syndicator publishes, ready to send, shared by the server and
the exporter (so both give the same bytes).

`FeedBook` is built in layers: `feed_addresses` (the book's state, each document's URL and
feed facts), `feed_renders` (the feeds and archive pages, rendered once per change and kept)
and here the pages for people: the index and section pages, with each source's health, and
the OPML list of every section.

Edge module: it reads the store; rendering itself is done by `render`, `pages` and `opml`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime

from syndicator.core.config import ALL_SECTION
from syndicator.publish import render
from syndicator.publish.feed_renders import FeedRenders
from syndicator.publish.mirror_report import health_line, mirror_rows, relink_articles
from syndicator.publish.opml import opml_document
from syndicator.publish.pages import SectionSummary, SourceHealth, index_page, section_page
from syndicator.publish.rendered import (
    RenderedFeed,
    SectionDocuments,
    duration_text,
    prepare,
    whole_second,
)
from syndicator.store.pulls import last_pulls

log = logging.getLogger("syndicator.publish")


class FeedBook(FeedRenders):
    """Every document of the service: feeds, archive pages, pages for people, OPML."""

    async def _revalidate(self, names: set[str]) -> None:
        """The feeds' `_revalidate`, and then the pages readers asked for of these sections,
        made again now rather than at the next reader's request."""
        await super()._revalidate(names)
        for section in sorted(names):
            held = self._section_pages.get(section)
            if held is None or section not in self.section_names():
                continue
            try:
                await self.page(f"{section}/index.html")
            except Exception as exc:
                # As a feed that fails to render: the next reader's request makes it, and
                # reports the error.
                self._section_pages.pop(section, None)
                log.warning("section page %s not made again: %s", section, exc)

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
                summary += f"; pulled every {duration_text(source.every)}"
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
        KeyError for another name.

        A section page is kept with the section's feeds and made again once they are
        rendered again (its section changed): readers of a page already made read nothing
        from the store, and readers asking at once while it is made wait for that one
        render. The index and the OPML list, which show every source's health, are made
        at each request."""
        if name in ("opml.xml", "index.html"):
            changed = await self.store.section_changed_at()
            if name == "opml.xml":
                body, content_type = await self.opml(), "text/x-opml; charset=utf-8"
            else:
                body, content_type = (await self.index_html()).encode(), "text/html; charset=utf-8"
            return await self._page_document(
                name, body, content_type, max(changed.values(), default=None)
            )
        section = name.removesuffix("/index.html")
        if name == section:
            raise KeyError(name)
        entry = await self._section(section)
        held = self._section_pages.get(section)
        if held is not None and held[0] is entry:
            return held[1]
        pending = self._page_renders.get(section)
        if pending is None or pending[0] is not entry:
            future = asyncio.ensure_future(self._section_page(section, entry))
            self._page_renders[section] = pending = (entry, future)

            def done(_f: object, section: str = section, future: object = future) -> None:
                if self._page_renders.get(section, (None, None))[1] is future:
                    del self._page_renders[section]

            future.add_done_callback(done)
        return await asyncio.shield(pending[1])

    async def _section_page(self, section: str, entry: SectionDocuments) -> RenderedFeed:
        """Make a section's page, kept while `entry` (its feeds) is the section's own."""
        floor = (await self.store.section_changed_at()).get(section)
        body = (await self.section_html(section)).encode()
        doc = await self._page_document(
            f"{section}/index.html", body, "text/html; charset=utf-8", floor
        )
        if self._cache.get(section) is entry:
            self._section_pages[section] = (entry, doc)
        return doc

    async def _page_document(
        self, name: str, body: bytes, content_type: str, floor: datetime | None
    ) -> RenderedFeed:
        before = self._pages.get(name)
        if before is not None and before.body == body:
            return before
        doc = await asyncio.to_thread(prepare, body, content_type, render.EPOCH)
        # A static host dates a file by its own means. The store keeps the date of the
        # server's page: a static page's other bytes recorded under its name would move
        # the date the server gives its readers.
        if not self.static:
            doc.last_modified = await self.dated(
                name, [doc.etag], whole_second(floor) if floor is not None else None
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
