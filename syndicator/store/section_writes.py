"""Writing what readers' feeds are built from besides the articles themselves: the sections an
article is in, the sections' change counters and last-changed times (feeds re-render, web
nodes and the WebSub hub hear of it), archive arrival numbers, the notifications other
processes wait on, and which config the sections' documents are rendered under.

The layer under `article_writes`, which ingests articles and calls these; it runs inside
`StoreAccess`'s transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.exc import (
    DBAPIError,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from syndicator.core.errors import StoreError
from syndicator.core.models import ALL_SECTION
from syndicator.store.access import SECTIONS_OF, StoreAccess
from syndicator.store.schema import (
    article_aliases,
    article_sections,
    articles,
    section_versions,
)
from syndicator.store.statements import (
    CLAIM_CONFIG,
    NOTIFY,
    bump_versions,
    notify_payloads,
)


class SectionWrites(StoreAccess):
    async def _add_sections(
        self,
        conn: AsyncConnection,
        article_id: int,
        sections: Iterable[str],
        have: set[str] | None = None,
        *,
        trim: int | None = None,
    ) -> set[str]:
        """Add the article to these sections; returns those it was not in. `have`: its
        sections, when the caller knows them. With `trim`, a section where it would not be
        among the `trim` newest is left out: retention.items would take it out again at its
        next run, and a listing of it there would add it back at every pull, moving that
        section's feeds each time."""
        if have is None:
            have = await self._sections_of(conn, article_id)
        new = set(sections) - have
        if new and trim is not None:
            published = (
                await conn.execute(select(articles.c.published).where(articles.c.id == article_id))
            ).scalar_one()
            for section in sorted(new):
                newer = (
                    select(article_sections.c.article_id)
                    .where(
                        article_sections.c.section == section,
                        article_sections.c.published > published,
                    )
                    .limit(trim)
                )
                counted = select(func.count()).select_from(newer.subquery())
                if (await conn.execute(counted)).scalar_one() >= trim:
                    new.discard(section)
        if new:
            await conn.execute(
                self._add_section,
                [
                    {"article_id": article_id, "section": s, "p_article": article_id}
                    for s in sorted(new)
                ],
            )
        return new

    async def add_sections(
        self, by_url: Mapping[str, set[str]], now: datetime, *, trim: int | None = None
    ) -> set[str]:
        """Add sections to stored articles, found by any URL they were seen under (a listing
        names a known article in one more section); returns the sections that gained one.
        `trim`: as `ingest`'s."""
        changed: set[str] = set()
        try:
            async with self.writing() as conn:
                for url, sections in sorted(by_url.items()):
                    article_id = (
                        await conn.execute(
                            select(article_aliases.c.article_id).where(article_aliases.c.url == url)
                        )
                    ).scalar_one_or_none()
                    if article_id is not None:
                        changed |= await self._add_sections(conn, article_id, sections, trim=trim)
                if changed:
                    await self._bump(conn, changed, now)
        except DBAPIError as exc:
            raise StoreError(f"store refused article sections: {exc.orig}") from None
        return changed

    async def _sections_of(self, conn: AsyncConnection, article_id: int) -> set[str]:
        result = await conn.execute(SECTIONS_OF, {"p_article": article_id})
        return set(result.scalars())

    async def _bump(
        self,
        conn: AsyncConnection,
        sections: Iterable[str],
        now: datetime,
        *,
        changed_at: bool = True,
        number: bool = True,
    ) -> None:
        names = sorted(set(sections) | {ALL_SECTION})
        if names == [ALL_SECTION]:
            return
        await bump_versions(
            conn,
            self._versions_insert,
            names,
            now,
            changed_at=changed_at,
            number=number,
        )
        await self._notify(conn, names)

    async def _notify(self, conn: AsyncConnection, names: Sequence[str]) -> None:
        if self.is_postgres and names:
            # Delivered at commit to every web node listening (see store.changes).
            params = [
                {"channel": self.channel, "sections": payload} for payload in notify_payloads(names)
            ]
            await conn.execute(NOTIFY, params if len(params) > 1 else params[0])

    async def mark_changed(
        self, sections: Iterable[str], now: datetime | None = None, *, changed_at: bool = True
    ) -> None:
        """Move the change counters of these sections (feeds re-render, web nodes hear it),
        and their last-changed time (the feeds' Last-Modified) unless `changed_at` is false."""
        try:
            async with self.writing() as conn:
                await self._bump(conn, sections, now or datetime.now(UTC), changed_at=changed_at)
        except DBAPIError as exc:
            raise StoreError(f"store refused section versions: {exc.orig}") from None

    async def record_config_change(
        self, sections: Iterable[str], digest: str, now: datetime | None = None
    ) -> list[str]:
        """Record that the config of digest `digest` changes these sections' documents (and
        `all`'s): their change counters move (web nodes render again, the WebSub hub hears
        of it), their Last-Modified does not. A section whose change by this very config is
        recorded already is left alone: each serving process reloads on its own, and the
        first to record a config's change makes the others' records no-ops. The sections
        recorded now."""
        names = sorted(set(sections) | {ALL_SECTION})
        at = now or datetime.now(UTC)
        recorded = []
        try:
            async with self.writing() as conn:
                # One section at a time, in name order, as every writer of the counters.
                for name in names:
                    params = {"p_section": name, "p_digest": digest}
                    if (await conn.execute(CLAIM_CONFIG, params)).first() is None:
                        row = {"section": name, "version": 0, "changed_at": at}
                        made = await conn.execute(
                            self._versions_insert, {**row, "config_digest": digest}
                        )
                        if made.rowcount != 1:
                            continue  # recorded by another process
                    recorded.append(name)
                if recorded:
                    await bump_versions(conn, self._versions_insert, recorded, at, changed_at=False)
                    await self._notify(conn, recorded)
        except DBAPIError as exc:
            raise StoreError(f"store refused section versions: {exc.orig}") from None
        return recorded

    async def config_in_force(self, digest: str) -> None:
        """Say that the config of digest `digest` is the one the sections' documents are
        rendered under now (a serving process starting): a reload to another config that
        was recorded before (the service restarted on an older config meanwhile) is then
        recorded again. Writes only when a section's recorded config is another."""
        try:
            async with self.reading("section versions") as conn:
                query = select(section_versions.c.section).where(
                    section_versions.c.config_digest.is_distinct_from(digest)
                )
                names = sorted((await conn.execute(query)).scalars())
            if not names:
                return
            async with self.writing() as conn:
                for name in names:  # in name order, as every writer of the counters
                    await conn.execute(
                        update(section_versions)
                        .where(section_versions.c.section == name)
                        .values(config_digest=digest)
                    )
        except DBAPIError as exc:
            raise StoreError(f"store refused section versions: {exc.orig}") from None

    async def number_arrivals(self, sections: Iterable[str], now: datetime | None = None) -> None:
        """Give the articles that joined these sections (and `all`) without an archive number
        theirs, oldest publication first (ties in the order they were stored), and move the
        sections' change counters: the end of a pull, so that one pull's articles fill the
        archive pages in date order, and pages already complete never change."""
        try:
            names = sorted(set(sections) | {ALL_SECTION})
            async with self.writing() as conn:
                await bump_versions(
                    conn,
                    self._versions_insert,
                    names,
                    now or datetime.now(UTC),
                    changed_at=False,
                )
                await self._notify(conn, names)
        except DBAPIError as exc:
            raise StoreError(f"store refused archive numbers: {exc.orig}") from None

    async def unnumbered_sections(self, sections: Iterable[str]) -> set[str]:
        """Those of these sections that hold articles with no archive number yet (one index
        read): what a pull stopped before its end (`number_arrivals`) left."""
        names = sorted(set(sections) - {ALL_SECTION})
        if not names:
            return set()
        query = (
            select(article_sections.c.section)
            .where(article_sections.c.section.in_(names), article_sections.c.seq.is_(None))
            .distinct()
        )
        async with self.reading("articles without archive numbers") as conn:
            return set((await conn.execute(query)).scalars())
