"""The article store: open it (`open_store`), and the operations the pipeline and the
renderers need: ingest and identity lookups, sections and their change counters, feed
slices, HTTP validators. `Store` is built in layers: `access` (the connection, its file and
schema watched, the transactions), `section_writes` (sections, change counters, arrival
numbers, notifications), `article_writes` (ingest, with the statements of `statements`), and
here the reads. Connecting and the driver's errors are `connect`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    SQLAlchemyError,
)

from syndicator.core import identity
from syndicator.core.errors import StoreError
from syndicator.core.models import ALL_SECTION, Article
from syndicator.store import migrate
from syndicator.store.access import MAX_URL, utc
from syndicator.store.article_writes import ArticleWrites
from syndicator.store.connect import (
    access_problem,
    command_timeout,
    driver_said,
    make_engine,
    no_store_at,
    not_a_store_path,
    sqlite_file,
)
from syndicator.store.reading import UNLOCKED, FileState, file_state, readable_as
from syndicator.store.schema import (
    article_aliases,
    article_sections,
    articles,
    fetch_validators,
    published_documents,
    section_versions,
)


class Validators(NamedTuple):
    """The validators an answer gave for a URL, where that URL's redirects ended then (None:
    at the URL itself), and when that answer came (a 304 later leaves it as it is)."""

    etag: str | None
    last_modified: str | None
    final_url: str | None = None
    checked_at: datetime | None = None


async def open_store(
    url: str,
    base_dir: Path | None = None,
    *,
    create_empty: bool = True,
    check: bool = True,
    existing: bool = False,
    bounded: bool = True,
    read_only: bool = False,
) -> Store:
    """Connect and check that the schema is the code's.

    A store with no tables gets the schema when `create_empty` (the default config needs no
    set-up step); one at an older or newer revision is refused with what to run. `existing`
    (for commands that only read) refuses a store that is not there or has no tables, and
    creates nothing: a mistyped path is an error, not a new empty store. A store that is not
    `bounded` lets PostgreSQL statements take as long as they take (a schema upgrade).
    `read_only` (for commands that only read, `existing` too): a SQLite store is opened as
    `store.reading` says, so that a store this user may only read is read, and nothing is
    left beside it.
    """
    try:
        shown = make_url(url).render_as_string()
    except (SQLAlchemyError, ValueError) as exc:
        # Its password hidden, as everywhere the store URL is shown.
        shown = identity.without_credentials(url)
        raise StoreError(f"cannot read the store URL {shown!r}: {exc}") from None
    if (in_the_way := not_a_store_path(url, base_dir)) is not None:
        raise StoreError(in_the_way)
    existing = existing or read_only
    if existing:
        create_empty = False
        if (missing := no_store_at(url, base_dir)) is not None:
            raise StoreError(missing)
    path = sqlite_file(url, base_dir)
    reading: str | None = None
    unlocked_at: FileState | None = None
    if read_only and path is not None:
        with contextlib.suppress(OSError):  # gone meanwhile: the driver says it
            before = file_state(path)
            reading = await asyncio.to_thread(readable_as, path)
            unlocked_at = before if UNLOCKED in reading else None
    try:
        engine = make_engine(url, base_dir, bounded=bounded, reading=reading)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        # A folder that cannot be made (its parent is a file), a NUL in the path.
        raise StoreError(f"cannot open store {shown}: {exc}") from None
    store = Store(engine)
    store.unlocked_at = unlocked_at
    try:
        if not existing:
            await store.create_search_path_schema()
        if check:
            store.schema_head = await migrate.ensure_current(
                store.engine, create_empty=create_empty, writer=store.writer
            )
        await store.prepare()
        if path is not None:
            if not check and not path.exists():
                # Nothing has connected yet (`db upgrade` checks nothing before it migrates):
                # the first connection makes the file, which is then the one watched.
                async with store.engine.connect():
                    pass
            store.watch_file(path)
    except StoreError as exc:
        await engine.dispose()
        raise StoreError(f"store {shown}: {exc}") from None
    except (SQLAlchemyError, OSError, ValueError) as exc:
        # ValueError: text of the schema that is not UTF-8 (a damaged file's first pages).
        await engine.dispose()
        if path is not None and (problem := access_problem(path, exc, read_only=read_only)):
            raise StoreError(problem) from None
        bound = command_timeout(make_url(url)) if store.is_postgres else None
        raise StoreError(f"cannot open store {shown}: {driver_said(exc, bound)}") from None
    return store


def _next_modified(row: Any, floor: datetime | None, now: datetime) -> datetime:
    """The date of a document's new bytes, after the date `row` gave its bytes before."""
    before = utc(row.modified) if row is not None else None
    if floor is not None and (before is None or floor > before):
        return floor
    if before is None:
        return now
    return max(now, before + timedelta(seconds=1))


class Store(ArticleWrites):
    # --- reading ---------------------------------------------------------------------

    async def section_versions(self) -> dict[str, int]:
        async with self.reading("section versions") as conn:
            result = await conn.execute(
                select(section_versions.c.section, section_versions.c.version)
            )
            return {row.section: int(row.version) for row in result}

    async def section_changed_at(self) -> dict[str, datetime]:
        async with self.reading("section change times") as conn:
            result = await conn.execute(
                select(section_versions.c.section, section_versions.c.changed_at)
            )
            return {row.section: utc(row.changed_at) or datetime.now(UTC) for row in result}

    async def section_articles(self, section: str, limit: int) -> list[Article]:
        """Newest first (by publication date), at most `limit`; `all` is every section."""
        query = section_feed_query(section, limit)
        async with self.reading("a section's articles") as conn:
            rows = (await conn.execute(query)).all()
            ids = [r.id for r in rows]
            sections: dict[int, list[str]] = {i: [] for i in ids}
            if ids:
                for r in await conn.execute(
                    select(article_sections.c.article_id, article_sections.c.section).where(
                        article_sections.c.article_id.in_(ids)
                    )
                ):
                    sections[r.article_id].append(r.section)
        return [_article(r, sorted(sections.get(r.id, []))) for r in rows]

    async def section_counts(self) -> dict[str, int]:
        async with self.reading("section counts") as conn:
            result = await conn.execute(
                select(article_sections.c.section, func.count()).group_by(
                    article_sections.c.section
                )
            )
            counts = {row[0]: int(row[1]) for row in result}
            counts[ALL_SECTION] = int(
                (await conn.execute(select(func.count()).select_from(articles))).scalar_one()
            )
        return counts

    async def archive_extent(self, section: str) -> tuple[int, int]:
        """(lowest, highest) archive sequence number a section holds; (0, 0) when empty.

        Sections number their articles in the order they joined, `all` in the order they
        were first stored (see schema)."""
        if section == ALL_SECTION:
            lowest = select(func.min(articles.c.all_seq))
        else:
            lowest = select(func.min(article_sections.c.seq)).where(
                article_sections.c.section == section
            )
        highest = select(section_versions.c.last_seq).where(section_versions.c.section == section)
        async with self.reading("archive pages") as conn:
            low = (await conn.execute(lowest)).scalar()
            high = (await conn.execute(highest)).scalar()
        return (int(low), int(high or 0)) if low is not None else (0, 0)

    async def section_slice(self, section: str, first: int, last: int) -> list[Article]:
        """Articles of a section with archive sequence numbers first..last, in that order.

        Archive page n is the slice ((n-1)*size+1, n*size): it keeps its items as the section
        grows, whatever joins it late or is pruned.
        """
        if section == ALL_SECTION:
            query = select(articles).where(articles.c.all_seq.between(first, last))
            query = query.order_by(articles.c.all_seq)
        else:
            query = (
                select(articles)
                .join(article_sections, article_sections.c.article_id == articles.c.id)
                .where(
                    article_sections.c.section == section,
                    article_sections.c.seq.between(first, last),
                )
                .order_by(article_sections.c.seq)
            )
        async with self.reading("an archive page's articles") as conn:
            rows = (await conn.execute(query)).all()
            sections: dict[int, list[str]] = {r.id: [] for r in rows}
            if rows:
                for r in await conn.execute(
                    select(article_sections.c.article_id, article_sections.c.section).where(
                        article_sections.c.article_id.in_(list(sections))
                    )
                ):
                    sections[r.article_id].append(r.section)
        return [_article(r, sorted(sections[r.id])) for r in rows]

    async def aliases_of(self, guid: str) -> list[str]:
        async with self.reading("an article's URLs") as conn:
            result = await conn.execute(
                select(article_aliases.c.url)
                .join(articles, articles.c.id == article_aliases.c.article_id)
                .where(articles.c.guid == guid)
            )
            # Sorted here, by code point: a database's collation (en_US on many PostgreSQL
            # servers) would order them otherwise than SQLite.
            return sorted(result.scalars())

    # --- dates of published documents ----------------------------------------------

    async def document_modified(self, name: str, digest: str, floor: datetime | None) -> datetime:
        """The Last-Modified of document `name` whose bytes have `digest`: the date it was
        given when it last had these bytes; for new bytes, `floor` (the date its data gives)
        when that is later than the date before, else now (never less than a second after
        the date before), so the date moves whenever the bytes do, in every process."""
        now = datetime.now(UTC).replace(microsecond=0)
        dialect = postgresql if self.is_postgres else sqlite
        row_of = select(published_documents.c.digest, published_documents.c.modified).where(
            published_documents.c.name == name
        )
        try:
            # Bytes already dated (a render after a pull that changed nothing in them, or
            # another process first) are answered by a read: a serving process then never
            # waits for a pull's write lock on SQLite to answer a reader.
            async with self.engine.connect() as conn:
                row = (await conn.execute(row_of)).first()
            if row is not None and row.digest == digest:
                return utc(row.modified) or now
            if await self.schema_moved(quiet=True) is not None:
                # A newer syndicator's schema: the document is served, dated here only.
                return _next_modified(row, floor, now)
            async with self.writing() as conn:
                row = (await conn.execute(row_of)).first()
                if row is not None and row.digest == digest:
                    return utc(row.modified) or now
                modified = _next_modified(row, floor, now)
                stmt = dialect.insert(published_documents).values(
                    name=name, digest=digest, modified=modified
                )
                # Another process that saw the same bytes first has dated them: keep its date.
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["name"],
                        set_={"digest": stmt.excluded.digest, "modified": stmt.excluded.modified},
                        where=published_documents.c.digest != stmt.excluded.digest,
                    )
                )
                row = (await conn.execute(row_of)).one()
                return utc(row.modified) or modified
        except DBAPIError as exc:
            raise StoreError(f"store refused the date of {name}: {exc.orig}") from None

    # --- HTTP validators -------------------------------------------------------------

    async def validators(self, urls: Sequence[str]) -> dict[str, Validators]:
        if not urls:
            return {}
        async with self.reading("fetch validators") as conn:
            result = await conn.execute(
                select(fetch_validators).where(fetch_validators.c.url.in_(list(urls)))
            )
            return {
                r.url: Validators(r.etag, r.last_modified, r.final_url, utc(r.checked_at))
                for r in result
            }

    async def save_validators(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        now: datetime | None = None,
        final_url: str | None = None,
    ) -> None:
        """Keep the validators the answer of `url` gave; `final_url`, where its redirects
        ended, when not at `url` (they are sent there again only if they end there again)."""
        if len(url) > MAX_URL:
            return  # not kept, on either engine (see MirrorStore.save_entry_links)
        now = now or datetime.now(UTC)
        final = final_url if final_url != url and final_url and len(final_url) <= MAX_URL else None
        values = {
            "etag": etag,
            "last_modified": last_modified,
            "checked_at": now,
            "final_url": final,
        }
        dialect = postgresql if self.is_postgres else sqlite
        stmt = dialect.insert(fetch_validators).values(url=url, **values)
        try:
            async with self.writing() as conn:
                await conn.execute(stmt.on_conflict_do_update(index_elements=["url"], set_=values))
        except DBAPIError as exc:
            raise StoreError(f"store refused fetch validators of {url}: {exc.orig}") from None


def section_feed_query(section: str, limit: int) -> Any:
    """The newest `limit` articles of a section (or of all): one index range read either way."""
    if section == ALL_SECTION:
        return (
            select(articles)
            .order_by(articles.c.published.desc(), articles.c.id.desc())
            .limit(limit)
        )
    return (
        select(articles)
        .join(article_sections, article_sections.c.article_id == articles.c.id)
        .where(article_sections.c.section == section)
        .order_by(article_sections.c.published.desc(), article_sections.c.article_id.desc())
        .limit(limit)
    )


def _article(row: Any, sections: list[str]) -> Article:
    return Article(
        id=row.id,
        guid=row.guid,
        source=row.source,
        url=row.url,
        title=row.title,
        summary=row.summary,
        content_html=row.content_html,
        published=utc(row.published) or datetime.now(UTC),
        updated=utc(row.updated) or datetime.now(UTC),
        author=row.author,
        image_url=row.image_url,
        image_caption=row.image_caption,
        language=row.language,
        sections=tuple(sections),
    )
