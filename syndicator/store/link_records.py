"""The links each entry point gave when last parsed, the links a pull fetched and did not
store (expired, or refused as no article), and the lookups of stored articles a pull makes to
skip pages it has: the store's records a pull reads before it fetches. The bottom layer of
`MirrorStore` (`health`), with the connection both share."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from syndicator.core.errors import StoreError
from syndicator.store.access import MAX_URL, utc
from syndicator.store.engine import Store
from syndicator.store.schema import (
    article_aliases,
    article_hashes,
    articles,
    entry_links,
    expired_links,
)

Listed = tuple[str, datetime | None]

# The date an expired link is given when its page was refused as no article (a listing
# page, a feed, a JSON document: `ExpiredLink.refused`); no page's date is ever believed to
# be this early (`ingest.EARLIEST`).
REFUSED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExpiredLink:
    """An article a pull fetched and did not store, the retention rules removing it at once:
    its page's date, and the updated time its listing gave then (`expired_links`). One
    dated `REFUSED` is a page the pull refused as no article."""

    published: datetime
    listed_updated: datetime | None

    @property
    def refused(self) -> bool:
        return self.published == REFUSED


class StoredState(NamedTuple):
    """A stored article as a pull sees it under one of its URLs (`stored_state`)."""

    updated: datetime
    title: str
    # Whether its link is backed by evidence of the canonical URL (see schema).
    link_confirmed: bool
    # The headline a listing gave for this URL when the page was last fetched, where it
    # was not the stored one (`save_listed_title`).
    listed_title: str | None


class LinkRecords:
    """A pull's link records on top of an open Store (same engine, same transaction rules)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    async def _write(self, what: str, statements: Sequence[Any]) -> None:
        self.store.check_file()
        try:
            async with self.engine.begin() as conn:
                for stmt in statements:
                    await conn.execute(stmt)
        except DBAPIError as exc:
            if (full := self.store.full_disk(exc)) is not None:
                raise full from None  # a pull that meets it ends its storing (run_pull)
            raise StoreError(f"store refused {what}: {exc.orig}") from None

    # --- entry points and stored articles --------------------------------------------

    async def entry_links(self, urls: Sequence[str]) -> dict[str, list[Listed]]:
        if not urls:
            return {}
        async with self.store.reading("entry point links") as conn:
            result = await conn.execute(
                select(entry_links).where(entry_links.c.url.in_(list(urls)))
            )
            out: dict[str, list[Listed]] = {}
            for r in result:
                out[r.url] = [
                    (link, datetime.fromisoformat(stamp) if stamp else None)
                    for link, stamp in json.loads(r.links)
                ]
            return out

    async def save_entry_links(self, url: str, links: Sequence[Listed], now: datetime) -> None:
        """Remember the links an entry point gave. An entry point whose URL is longer than
        the store keeps as a key (a sitemap index may name any) is not remembered: it is
        asked unconditionally each pull, alike on both engines. PostgreSQL refused it, and
        its error ended every pull of the source, while SQLite kept it."""
        if len(url) > MAX_URL:
            return
        data = json.dumps([[link, stamp.isoformat() if stamp else None] for link, stamp in links])
        stmt = self._insert(entry_links).values(url=url, links=data, checked_at=now)
        await self._write(
            "entry point links",
            [
                stmt.on_conflict_do_update(
                    index_elements=["url"], set_={"links": data, "checked_at": now}
                )
            ],
        )

    async def expired_links(self, urls: Sequence[str]) -> dict[str, ExpiredLink]:
        """For each URL a pull left unstored as expired (`save_expired_link`): the page's date
        and the updated time its listing gave then."""
        out: dict[str, ExpiredLink] = {}
        async with self.store.reading("expired links") as conn:
            for start in range(0, len(urls), 500):
                chunk = list(urls[start : start + 500])
                result = await conn.execute(
                    select(expired_links).where(expired_links.c.url.in_(chunk))
                )
                for r in result:
                    out[r.url] = ExpiredLink(
                        utc(r.published) or datetime.now(UTC),
                        utc(r.listed_updated),
                    )
        return out

    async def save_expired_link(self, url: str, link: ExpiredLink, now: datetime) -> None:
        """Remember an article a pull did not store because retention would remove it."""
        if len(url) > MAX_URL:
            return  # not kept, on either engine (see save_entry_links): fetched each pull
        values = {
            "published": link.published,
            "listed_updated": link.listed_updated,
            "seen_at": now,
        }
        stmt = self._insert(expired_links).values(url=url, **values)
        await self._write(
            "expired links",
            [stmt.on_conflict_do_update(index_elements=["url"], set_=values)],
        )

    async def saw_expired_links(self, urls: Sequence[str], now: datetime) -> None:
        """The expired links a pull found listed again (and did not fetch): still seen."""
        await self._write(
            "expired links",
            [
                update(expired_links)
                .where(expired_links.c.url.in_(list(urls[start : start + 500])))
                .values(seen_at=now)
                for start in range(0, len(urls), 500)
            ],
        )

    async def stored_state(self, urls: Sequence[str]) -> dict[str, StoredState]:
        """For each URL some stored article was seen under: what a pull needs to know of
        that article to decide whether to fetch it again (`StoredState`)."""
        if not urls:
            return {}
        out: dict[str, StoredState] = {}
        async with self.store.reading("stored articles") as conn:
            for start in range(0, len(urls), 500):
                chunk = list(urls[start : start + 500])
                result = await conn.execute(
                    select(
                        article_aliases.c.url,
                        articles.c.updated,
                        articles.c.title,
                        articles.c.link_confirmed,
                        article_aliases.c.listed_title,
                    )
                    .join(articles, articles.c.id == article_aliases.c.article_id)
                    .where(article_aliases.c.url.in_(chunk))
                )
                for r in result:
                    out[r.url] = StoredState(
                        utc(r.updated) or datetime.now(UTC),
                        r.title,
                        bool(r.link_confirmed),
                        r.listed_title,
                    )
        return out

    async def save_listed_title(self, urls: Sequence[str], title: str | None) -> None:
        """Remember the headline a listing gave for the URLs of a stored article whose page
        was just fetched (None: the listing's headline is the stored one)."""
        await self._write(
            "listed headline",
            [
                update(article_aliases)
                .where(article_aliases.c.url.in_(list(urls)))
                .values(listed_title=title)
            ],
        )

    async def add_sections(
        self, by_url: dict[str, set[str]], now: datetime, *, trim: int | None = None
    ) -> set[str]:
        """Add sections to stored articles (by any URL they were seen under), without a
        fetch; returns the sections that gained an article (`trim`: see `Store.ingest`)."""
        return await self.store.add_sections(by_url, now, trim=trim)

    async def hash_stored(self, source: str, content_hash: str) -> bool:
        async with self.store.reading("article hashes") as conn:
            row = (
                await conn.execute(
                    select(articles.c.id)
                    .join(article_hashes, article_hashes.c.article_id == articles.c.id)
                    .where((article_hashes.c.hash == content_hash) & (articles.c.source == source))
                )
            ).first()
        return row is not None

    async def recent_article_urls(self, source: str, limit: int) -> list[str]:
        async with self.store.reading("recent articles") as conn:
            result = await conn.execute(
                select(articles.c.url)
                .where(articles.c.source == source)
                .order_by(articles.c.published.desc(), articles.c.id.desc())
                .limit(limit)
            )
            return list(result.scalars())

    async def bump_sections(
        self, sections: Iterable[str], now: datetime, *, changed_at: bool = False
    ) -> None:
        """Tell feed caches, here and on every web node, that these sections must be rendered
        again; `changed_at` also moves their Last-Modified."""
        await self.store.mark_changed(sections, now, changed_at=changed_at)
