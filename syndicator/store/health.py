"""Mirror bookkeeping in the store: health rows, discovered mirrors, the links each entry point
gave when last parsed, and the article lookups the pipeline needs to skip stored pages.

Kept apart from the article store (`engine.py`): it shares the connection, not the ingest
logic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, case, cast, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from syndicator.core.errors import StoreError
from syndicator.mirrors.health import MirrorHealth, MirrorPull
from syndicator.store.access import MAX_URL, utc
from syndicator.store.engine import Store
from syndicator.store.schema import (
    article_aliases,
    article_hashes,
    articles,
    discovered_mirrors,
    entry_links,
    expired_links,
    mirror_health,
    mirror_history,
)

# How long the per-pull mirror history is kept (the dashboard shows the last week).
HISTORY_DAYS = 14

Listed = tuple[str, datetime | None]


@dataclass(frozen=True)
class DiscoveredMirror:
    source: str
    origin: str
    status: str  # candidate | adopted | retired (an adopted mirror no longer pulled)
    found_on: str
    first_seen: datetime
    last_seen: datetime
    adopted_at: datetime | None = None
    proof: str | None = None
    # The path prefix it serves the site's paths under ("/en"), learned when adopted.
    path_prefix: str = ""


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


def _health(row: Any) -> MirrorHealth:
    return MirrorHealth(
        source=row.source,
        mirror=row.mirror,
        state=row.state,
        consecutive_failures=row.consecutive_failures,
        opens=row.opens,
        error_rate=row.error_rate,
        latency=row.latency,
        last_success=utc(row.last_success),
        last_failure=utc(row.last_failure),
        last_error_kind=row.last_error_kind,
        last_error=row.last_error,
        retry_at=utc(row.retry_at),
        successes=row.successes,
        failures=row.failures,
    )


class MirrorStore:
    """Mirror state on top of an open Store (same engine, same transactions rules)."""

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

    # --- health ----------------------------------------------------------------------

    async def health(self, source: str | None = None) -> list[MirrorHealth]:
        """Every mirror's health, by source and mirror in code point order: sorted here, as
        the database's collation would order them otherwise on PostgreSQL (en_US puts
        `127.0.0.1:8080` before `127.0.0.10:80`) than on SQLite."""
        query = select(mirror_health)
        if source is not None:
            query = query.where(mirror_health.c.source == source)
        async with self.store.reading("mirror health") as conn:
            rows = [_health(r) for r in await conn.execute(query)]
        return sorted(rows, key=lambda h: (h.source, h.mirror))

    async def save_health(self, rows: Iterable[MirrorHealth], now: datetime) -> None:
        statements = []
        for h in rows:
            values = {
                "state": h.state,
                "consecutive_failures": h.consecutive_failures,
                "opens": h.opens,
                "error_rate": h.error_rate,
                "latency": h.latency,
                "last_success": h.last_success,
                "last_failure": h.last_failure,
                "last_error_kind": h.last_error_kind,
                "last_error": h.last_error,
                "retry_at": h.retry_at,
                "successes": h.successes,
                "failures": h.failures,
                "updated_at": now,
            }
            stmt = self._insert(mirror_health).values(source=h.source, mirror=h.mirror, **values)
            statements.append(
                stmt.on_conflict_do_update(index_elements=["source", "mirror"], set_=values)
            )
        if statements:
            await self._write("mirror health", statements)

    # --- history ---------------------------------------------------------------------

    async def save_history(self, rows: Iterable[MirrorPull], now: datetime) -> None:
        """One row per mirror asked in a pull; rows older than HISTORY_DAYS go."""
        values = [
            {
                "source": r.source,
                "mirror": r.mirror,
                "at": now,
                "successes": r.successes,
                "failures": r.failures,
                "latency": r.latency,
                "state": r.state,
                "error": r.error[:500] if r.error else None,
            }
            for r in rows
        ]
        if not values:
            return
        cutoff = now - timedelta(days=HISTORY_DAYS)
        await self._write(
            "mirror history",
            [
                mirror_history.insert().values(values),
                delete(mirror_history).where(
                    (mirror_history.c.source == values[0]["source"])
                    & (mirror_history.c.at < cutoff)
                ),
            ],
        )

    async def hourly_history(self, since: datetime, hours: int) -> list[MirrorPull]:
        """Every mirror's pulls in the `hours` hours from `since`, summed per hour in the
        database: one MirrorPull per mirror and hour that holds a pull (requests answered and
        failed summed, latency the mean of those measured, `at` the hour's last failure or
        its middle, `state` empty). What the dashboard draws, in rows that stay at most
        mirrors times `hours` however often the sources are pulled: reading every pull of a
        week took seconds at `every: 1s`, on the serving loop. On SQLite an hour's edge is
        placed to the millisecond (its dates hold microseconds, which its date functions
        drop)."""
        since = since.astimezone(UTC)
        at = mirror_history.c.at
        hours_in: ColumnElement[Any]
        if self.store.is_postgres:
            hours_in = func.floor(func.extract("epoch", at - since) / 3600)
        else:
            # SQLite keeps the dates as text, which julianday() reads to the millisecond (as
            # a float of days): whole milliseconds since `since`, rounded, then whole hours by
            # integer division, so a pull on an hour's edge is in the hour it starts.
            start = since.replace(tzinfo=None).isoformat(sep=" ")
            ms = cast(
                func.round((func.julianday(at) - func.julianday(start)) * 86_400_000), Integer
            )
            hours_in = ms // 3_600_000
        hour = cast(hours_in, Integer).label("hour")
        failing = case((mirror_history.c.failures > 0, at))
        query = (
            select(
                mirror_history.c.source,
                mirror_history.c.mirror,
                hour,
                func.sum(mirror_history.c.successes).label("successes"),
                func.sum(mirror_history.c.failures).label("failures"),
                func.avg(mirror_history.c.latency).label("latency"),
                func.max(failing, type_=at.type).label("last_failure"),
            )
            .where(at >= since, at < since + timedelta(hours=hours))
            .group_by(mirror_history.c.source, mirror_history.c.mirror, hour)
        )
        async with self.store.reading("mirror history") as conn:
            rows = sorted(await conn.execute(query), key=lambda r: (r.hour, r.source, r.mirror))
            # By hour, then source and mirror in code point order (see `health`).
            return [
                MirrorPull(
                    source=r.source,
                    mirror=r.mirror,
                    successes=int(r.successes),
                    failures=int(r.failures),
                    latency=None if r.latency is None else float(r.latency),
                    state="",
                    # The latest failure's time, where one failed (the dashboard shows when
                    # the last error was), else the middle of the hour.
                    at=utc(r.last_failure)
                    or since + timedelta(hours=min(max(int(r.hour), 0), hours - 1) + 0.5),
                )
                for r in rows
            ]

    async def history(self, since: datetime) -> list[MirrorPull]:
        """Every mirror's pulls since `since`, oldest first."""
        query = (
            select(mirror_history)
            .where(mirror_history.c.at >= since)
            .order_by(mirror_history.c.at, mirror_history.c.id)
        )
        async with self.store.reading("mirror history") as conn:
            return [
                MirrorPull(
                    source=r.source,
                    mirror=r.mirror,
                    successes=r.successes,
                    failures=r.failures,
                    latency=r.latency,
                    state=r.state,
                    error=r.error,
                    at=utc(r.at),
                )
                for r in await conn.execute(query)
            ]

    # --- discovered mirrors ----------------------------------------------------------

    async def discovered(self, source: str | None = None) -> list[DiscoveredMirror]:
        query = select(discovered_mirrors)
        if source is not None:
            query = query.where(discovered_mirrors.c.source == source)
        async with self.store.reading("discovered mirrors") as conn:
            found = [
                DiscoveredMirror(
                    source=r.source,
                    origin=r.origin,
                    status=r.status,
                    found_on=r.found_on,
                    first_seen=utc(r.first_seen) or datetime.now(UTC),
                    last_seen=utc(r.last_seen) or datetime.now(UTC),
                    adopted_at=utc(r.adopted_at),
                    proof=r.proof,
                    path_prefix=r.path_prefix or "",
                )
                for r in await conn.execute(query)
            ]
        # In code point order on both engines (see `health`).
        return sorted(found, key=lambda d: (d.source, d.first_seen, d.origin))

    async def note_candidates(self, source: str, found: dict[str, str], now: datetime) -> None:
        """Record origins (-> the page that named them) as candidates, or refresh last_seen;
        a retired mirror named again is a candidate again (it has to prove itself anew)."""
        statements = []
        status = discovered_mirrors.c.status
        for origin, page in sorted(found.items()):
            stmt = self._insert(discovered_mirrors).values(
                source=source,
                origin=origin,
                status="candidate",
                found_on=page,
                first_seen=now,
                last_seen=now,
            )
            again = case((status == "retired", "candidate"), else_=status)
            statements.append(
                stmt.on_conflict_do_update(
                    index_elements=["source", "origin"],
                    set_={"last_seen": now, "status": again},
                )
            )
        if statements:
            await self._write("discovered mirrors", statements)

    async def adopt(
        self, source: str, origin: str, proof: str, now: datetime, path_prefix: str = ""
    ) -> None:
        await self._write(
            "adoption of a mirror",
            [
                update(discovered_mirrors)
                .where(
                    (discovered_mirrors.c.source == source)
                    & (discovered_mirrors.c.origin == origin)
                )
                .values(status="adopted", adopted_at=now, proof=proof, path_prefix=path_prefix)
            ],
        )

    async def retire(self, source: str, origin: str) -> None:
        """An adopted mirror is no longer pulled (`mirrors.health.adopted_retired`)."""
        await self._write(
            "retirement of a mirror",
            [
                update(discovered_mirrors)
                .where(
                    (discovered_mirrors.c.source == source)
                    & (discovered_mirrors.c.origin == origin)
                    & (discovered_mirrors.c.status == "adopted")
                )
                .values(status="retired")
            ],
        )

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
