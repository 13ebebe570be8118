"""Retention: remove what the store need not keep, never what a feed still shows.

Two rules, each optional: articles published more than `days` ago go; a section keeps its
`items` newest and lets go of the older ones (an article listed in several sections stays
while any of them keeps it). An item among a section's `keep` newest (the feed's max_items) is
never removed by either rule, nor is one among the newest `keep` of all sections.

Work is done in chunks, each its own short transaction, so that ingests go on meanwhile.
Sections that lost items get their change counters moved (and, on PostgreSQL, a notification).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select, tuple_
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from syndicator.core.errors import StoreError
from syndicator.core.models import ALL_SECTION
from syndicator.store.engine import Store
from syndicator.store.schema import article_sections, articles, expired_links, section_versions

CHUNK = 2000
# An expired link (`schema.expired_links`) no pull has seen listed for this long is forgotten.
EXPIRED_LINK_DAYS = 30


@dataclass(frozen=True)
class PruneReport:
    articles: int
    memberships: int
    sections: frozenset[str]


async def _sections(conn: AsyncConnection) -> list[str]:
    # Every section that ever had an article has a change counter: cheaper than DISTINCT.
    names = await conn.execute(select(section_versions.c.section).order_by("section"))
    return [n for n in names.scalars() if n != ALL_SECTION]


async def _newest(conn: AsyncConnection, section: str, count: int) -> list[int]:
    if section == ALL_SECTION:
        query = select(articles.c.id).order_by(articles.c.published.desc(), articles.c.id.desc())
    else:
        query = (
            select(article_sections.c.article_id)
            .where(article_sections.c.section == section)
            .order_by(article_sections.c.published.desc(), article_sections.c.article_id.desc())
        )
    return list((await conn.execute(query.limit(count))).scalars())


async def _trim_section(store: Store, section: str, items: int) -> list[int]:
    """Drop the section's memberships beyond its `items` newest; returns their articles."""
    async with store.engine.connect() as conn:
        boundary = (
            await conn.execute(
                select(article_sections.c.published, article_sections.c.article_id)
                .where(article_sections.c.section == section)
                .order_by(article_sections.c.published.desc(), article_sections.c.article_id.desc())
                .offset(items - 1)
                .limit(1)
            )
        ).first()
    if boundary is None:
        return []
    older = tuple_(article_sections.c.published, article_sections.c.article_id) < tuple_(
        boundary.published, boundary.article_id
    )
    dropped: list[int] = []
    while True:
        async with store.writing() as conn:
            chunk = (
                select(article_sections.c.article_id)
                .where(article_sections.c.section == section, older)
                .limit(CHUNK)
                .scalar_subquery()
            )
            result = await conn.execute(
                delete(article_sections)
                .where(article_sections.c.section == section)
                .where(article_sections.c.article_id.in_(chunk))
                .returning(article_sections.c.article_id)
            )
            ids = list(result.scalars())
        dropped.extend(ids)
        if len(ids) < CHUNK:
            return dropped


async def _delete_articles(
    store: Store, ids: Sequence[int], only_orphans: bool
) -> tuple[list[int], set[str]]:
    """Delete these articles (their hashes, URLs and sections go with them); returns those
    that went and the sections they were in. With `only_orphans`, an article still in a
    section stays, and its sections are not counted as changed."""
    touched: set[str] = set()
    deleted: list[int] = []
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        async with store.writing() as conn:
            rows = await conn.execute(
                select(article_sections.c.article_id, article_sections.c.section).where(
                    article_sections.c.article_id.in_(chunk)
                )
            )
            sections_of: dict[int, set[str]] = {}
            for row in rows:
                sections_of.setdefault(row.article_id, set()).add(row.section)
            query = delete(articles).where(articles.c.id.in_(chunk))
            if only_orphans:
                query = query.where(~exists().where(article_sections.c.article_id == articles.c.id))
            gone = list((await conn.execute(query.returning(articles.c.id))).scalars())
            deleted.extend(gone)
            for article_id in gone:
                touched |= sections_of.get(article_id, set())
    return deleted, touched


async def expire_arrivals(
    store: Store,
    guids: Sequence[str],
    *,
    days: int | None,
    items: int | None,
    keep: int,
    now: datetime,
) -> tuple[set[str], set[str]]:
    """Of these articles (those a pull stored new), remove now what the rules would remove at
    their next run (`prune`, restricted to them): the memberships of sections where they are
    not among the newest max(items, keep), then those left in no section, then, with `days`,
    those published before the limit and among the `keep` newest of none of their sections
    nor of `all`. A pull judges each article as it comes in, before the newer ones of the same
    pull are stored: a first pull stored them all, and the next run removed them again.
    Returns the GUIDs of the articles removed and the sections that changed; a store that
    cannot answer raises StoreError."""
    try:
        return await _expire_arrivals(store, guids, days=days, items=items, keep=keep, now=now)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        raise StoreError(f"retention could not judge this pull's articles: {detail}") from None


async def _expire_arrivals(
    store: Store,
    guids: Sequence[str],
    *,
    days: int | None,
    items: int | None,
    keep: int,
    now: datetime,
) -> tuple[set[str], set[str]]:
    if not guids or (days is None and items is None):
        return set(), set()
    async with store.engine.connect() as conn:
        ids: dict[int, str] = {}
        for start in range(0, len(guids), CHUNK):
            rows = await conn.execute(
                select(articles.c.id, articles.c.guid).where(
                    articles.c.guid.in_(list(guids[start : start + CHUNK]))
                )
            )
            ids.update((row.id, row.guid) for row in rows)
    touched: set[str] = set()
    doomed: set[int] = set()
    if items is not None:
        limit = max(items, keep)
        async with store.engine.connect() as conn:
            member = await conn.execute(
                select(article_sections.c.article_id, article_sections.c.section).where(
                    article_sections.c.article_id.in_(list(ids))
                )
            )
            by_section: dict[str, set[int]] = {}
            for row in member:
                by_section.setdefault(row.section, set()).add(row.article_id)
            beyond = {
                section: sorted(held - set(await _newest(conn, section, limit)))
                for section, held in sorted(by_section.items())
            }
        dropped: set[int] = set()
        for section, out in beyond.items():
            if not out:
                continue
            async with store.writing() as conn:
                await conn.execute(
                    delete(article_sections).where(
                        article_sections.c.section == section,
                        article_sections.c.article_id.in_(out),
                    )
                )
            touched.add(section)
            dropped.update(out)
        async with store.engine.connect() as conn:
            still = await conn.execute(
                select(article_sections.c.article_id)
                .where(article_sections.c.article_id.in_(sorted(dropped)))
                .distinct()
            )
            doomed |= dropped - set(still.scalars())
    if days is not None:
        async with store.engine.connect() as conn:
            member = await conn.execute(
                select(article_sections.c.section)
                .where(article_sections.c.article_id.in_(list(ids)))
                .distinct()
            )
            protected: set[int] = set()
            for section in [*sorted(member.scalars()), ALL_SECTION]:
                protected.update(await _newest(conn, section, keep))
            old = await conn.execute(
                select(articles.c.id).where(
                    articles.c.id.in_(list(ids)),
                    articles.c.published < now - timedelta(days=days),
                )
            )
            doomed |= {i for i in old.scalars() if i not in protected}
    gone, sections_hit = await _delete_articles(store, sorted(doomed), only_orphans=False)
    touched |= sections_hit
    if touched:
        await store.mark_changed(touched, now)
    return {ids[i] for i in gone}, touched


async def prune(
    store: Store,
    *,
    days: int | None,
    items: int | None,
    keep: int,
    now: datetime | None = None,
) -> PruneReport:
    """Apply the retention rules; `keep` is the feeds' max_items. A store that cannot answer
    (locked past the busy timeout, its server gone, a damaged value) raises StoreError: the
    service's retention job says so and tries again at its next run, instead of ending."""
    try:
        return await _prune(store, days=days, items=items, keep=keep, now=now)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        raise StoreError(f"retention could not finish: {detail}") from None


async def _prune(
    store: Store,
    *,
    days: int | None,
    items: int | None,
    keep: int,
    now: datetime | None,
) -> PruneReport:
    now = now or datetime.now(UTC)
    touched: set[str] = set()
    memberships = 0
    removed_articles = 0
    async with store.engine.connect() as conn:
        sections = await _sections(conn)
    if items is not None:
        limit = max(items, keep)
        orphans: set[int] = set()
        for section in sections:
            dropped = await _trim_section(store, section, limit)
            if dropped:
                touched.add(section)
                memberships += len(dropped)
                orphans.update(dropped)
        # An article no section keeps any more goes too.
        deleted, sections_hit = await _delete_articles(store, sorted(orphans), only_orphans=True)
        removed_articles += len(deleted)
        touched |= sections_hit
    if days is not None:
        async with store.engine.connect() as conn:
            protected: set[int] = set()
            for section in [*sections, ALL_SECTION]:
                protected.update(await _newest(conn, section, keep))
            old = await conn.execute(
                select(articles.c.id)
                .where(articles.c.published < now - timedelta(days=days))
                .order_by(articles.c.published)
            )
            doomed = [i for i in old.scalars() if i not in protected]
        deleted, sections_hit = await _delete_articles(store, doomed, only_orphans=False)
        removed_articles += len(deleted)
        touched |= sections_hit
    if touched:
        await store.mark_changed(touched, now)
    # Links left unstored as expired that no listing gave for a while: forgotten (one that
    # comes back is fetched once more, and remembered again).
    async with store.writing() as conn:
        await conn.execute(
            delete(expired_links).where(
                expired_links.c.seen_at < now - timedelta(days=EXPIRED_LINK_DAYS)
            )
        )
    return PruneReport(removed_articles, memberships, frozenset(touched))
