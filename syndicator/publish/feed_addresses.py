"""Where each document of the feed book is and what it says of itself: the sections' names and
titles, the URLs of their feeds, archive pages, pages and OPML list under `public_url`, each
feed's Atom id, and the feed facts (`render.FeedInfo`) a section's documents are rendered
with. The first layer of `FeedBook`, which also holds the book's state; the renders are
`feed_renders`', the pages for people `documents`'. Pure: reads the config.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote, urlsplit

from syndicator.core import identity
from syndicator.core.config import ALL_SECTION, Config
from syndicator.core.events import RenderObserver
from syndicator.core.models import PullReport
from syndicator.core.source_config import source_sections
from syndicator.publish import render, xmlfeeds
from syndicator.publish.rendered import (
    ALL_TITLE,
    EXTENSIONS,
    ChangeListener,
    RenderedFeed,
    SectionDocuments,
)
from syndicator.store import Store


class FeedAddresses:
    """The feed book's state, and the address and facts of each of its documents."""

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
        # Each section's page with the feeds it was made with: kept while they are the
        # section's own (`documents`), and the one being made.
        self._section_pages: dict[str, tuple[SectionDocuments, RenderedFeed]] = {}
        self._page_renders: dict[str, tuple[SectionDocuments, asyncio.Future[RenderedFeed]]] = {}
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
        its ip6.arpa name, a host with a `_` by an email address (`identity.tag_authority`)."""
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
