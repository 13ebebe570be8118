"""The article store: open it (`open_store`), and the operations the pipeline and the
renderers need: ingest and identity lookups, sections and their change counters, feed
slices, HTTP validators. Connecting and the driver's errors are `connect`'s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from syndicator.core import identity
from syndicator.core.errors import StoreError, StoreFull
from syndicator.core.identity import (
    NEAR_DUPLICATE_BITS,
    NEAR_DUPLICATE_MIN_WORDS,
    NEAR_DUPLICATE_WINDOW,
    hamming,
    simhash_bands,
)
from syndicator.core.ingest import Duplicate, How, Match, Update, as_utc, decide
from syndicator.core.models import ALL_SECTION, Article, Candidate
from syndicator.store import migrate
from syndicator.store.connect import (
    DISK_FULL,
    PG_DISK_FULL,
    WRITE_OPTION,
    access_problem,
    driver_said,
    first_schema,
    make_engine,
    not_a_store_path,
    sqlite_file,
)
from syndicator.store.schema import (
    article_aliases,
    article_hashes,
    article_sections,
    article_simhash_bands,
    articles,
    fetch_validators,
    published_documents,
    section_versions,
)

log = logging.getLogger("syndicator.store")

Outcome = Literal["new", "updated", "duplicate"]
# The store's schema revision, as Alembic keeps it: one small read per look.
_SCHEMA_REVISION = text("SELECT version_num FROM alembic_version")


class Validators(NamedTuple):
    """The validators an answer gave for a URL, and where that URL's redirects ended then
    (None: at the URL itself)."""

    etag: str | None
    last_modified: str | None
    final_url: str | None = None


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    guid: str
    changed_sections: frozenset[str]
    # The stored link was replaced by the candidate's confirmed one (see `_relink`).
    relinked: bool = False


# Timestamps go in as UTC and come out aware (SQLite keeps no zone).
_utc = as_utc


def _hash_inputs(cand: Candidate) -> dict[str, object]:
    """The stored record of how the candidate's hash was made (see migrate.rehash_articles)."""
    return {
        "hash_version": identity.HASH_VERSION,
        "hash_text": cand.hash_text or None,
        "hash_hosts": " ".join(cand.hash_hosts),
    }


async def open_store(
    url: str,
    base_dir: Path | None = None,
    *,
    create_empty: bool = True,
    check: bool = True,
    existing: bool = False,
    bounded: bool = True,
) -> Store:
    """Connect and check that the schema is the code's.

    A store with no tables gets the schema when `create_empty` (the default config needs no
    set-up step); one at an older or newer revision is refused with what to run. `existing`
    (for commands that only read) refuses a store that is not there or has no tables, and
    creates nothing: a mistyped path is an error, not a new empty store. A store that is not
    `bounded` lets PostgreSQL statements take as long as they take (a schema upgrade).
    """
    try:
        shown = make_url(url).render_as_string()
    except (SQLAlchemyError, ValueError) as exc:
        # Its password hidden, as everywhere the store URL is shown.
        shown = identity.without_credentials(url)
        raise StoreError(f"cannot read the store URL {shown!r}: {exc}") from None
    if (in_the_way := not_a_store_path(url, base_dir)) is not None:
        raise StoreError(in_the_way)
    if existing:
        create_empty = False
        path = sqlite_file(url, base_dir)
        if path is not None and not path.is_file():
            raise StoreError(
                f"no store at {os.path.abspath(path)} (service.store {url!r}): check the path, "
                "or fill it first with `syndicate pull SOURCE` or `syndicate db upgrade`"
            )
    try:
        engine = make_engine(url, base_dir, bounded=bounded)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        # A folder that cannot be made (its parent is a file), a NUL in the path.
        raise StoreError(f"cannot open store {shown}: {exc}") from None
    store = Store(engine)
    try:
        if not existing:
            await store.create_search_path_schema()
        if check:
            store.schema_head = await migrate.ensure_current(
                store.engine, create_empty=create_empty, writer=store.writer
            )
        await store.prepare()
        path = sqlite_file(url, base_dir)
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
        path = sqlite_file(url, base_dir)
        if path is not None and (problem := access_problem(path, exc)) is not None:
            raise StoreError(problem) from None
        raise StoreError(f"cannot open store {shown}: {driver_said(exc)}") from None
    return store


# The statements of an ingest, built once: building SQLAlchemy expressions on every ingest
# was most of `Store.ingest`'s own time on real pages. Bound parameters are named `p_*`,
# apart from the columns an INSERT or UPDATE sets.
_MATCH_COLS = (
    articles.c.id,
    articles.c.guid,
    articles.c.updated,
    articles.c.published,
    articles.c.url,
    articles.c.link_confirmed,
    articles.c.content_hash,
    articles.c.page_updated,
    articles.c.summary,
    articles.c.author,
    articles.c.image_url,
    articles.c.image_caption,
)
_BY_HASH = (
    select(*_MATCH_COLS, literal_column("0", Integer).label("rank"), articles.c.simhash)
    .join(article_hashes, article_hashes.c.article_id == articles.c.id)
    .where(article_hashes.c.hash == bindparam("p_hash"))
)
_BY_URL = (
    select(*_MATCH_COLS, literal_column("1", Integer).label("rank"), articles.c.simhash)
    .join(article_aliases, article_aliases.c.article_id == articles.c.id)
    .where(article_aliases.c.url.in_(bindparam("p_urls", expanding=True)))
)
_WHEN = article_simhash_bands.c.published.type
_BY_BAND = (
    select(
        *_MATCH_COLS, literal_column("2", Integer).label("rank"), article_simhash_bands.c.simhash
    )
    .join(article_simhash_bands, article_simhash_bands.c.article_id == articles.c.id)
    .where(
        article_simhash_bands.c.source == bindparam("p_source"),
        article_simhash_bands.c.band_key.in_(bindparam("p_bands", expanding=True)),
        article_simhash_bands.c.published.between(
            bindparam("p_from", type_=_WHEN), bindparam("p_to", type_=_WHEN)
        ),
    )
)
_MATCH = union_all(_BY_HASH, _BY_URL)
_MATCH_NEAR = union_all(_BY_HASH, _BY_URL, _BY_BAND)
_SECTIONS_OF = select(article_sections.c.section).where(
    article_sections.c.article_id == bindparam("p_article")
)
_PUBLISHED_OF = (
    select(articles.c.published).where(articles.c.id == bindparam("p_article")).scalar_subquery()
)
_RELINK = (
    update(articles)
    .where((articles.c.id == bindparam("p_article")) & (articles.c.url != bindparam("p_url")))
    .values(url=bindparam("p_url"), link_confirmed=True)
)
_CONFIRM_LINK = (
    update(articles)
    .where((articles.c.id == bindparam("p_article")) & articles.c.link_confirmed.is_(False))
    .values(link_confirmed=True)
)


def _next_modified(row: Any, floor: datetime | None, now: datetime) -> datetime:
    """The date of a document's new bytes, after the date `row` gave its bytes before."""
    before = _utc(row.modified) if row is not None else None
    if floor is not None and (before is None or floor > before):
        return floor
    if before is None:
        return now
    return max(now, before + timedelta(seconds=1))


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Same pool; on SQLite its transactions take the write lock when they begin.
        self.writer = engine.execution_options(**{WRITE_OPTION: True})
        self.is_postgres = engine.dialect.name == "postgresql"
        self._ignores: dict[str, Any] = {}
        self._versions_insert = self._insert_ignore(section_versions)
        self._new_article = self._insert_ignore(articles).returning(articles.c.id)
        self._claim_hash = self._insert_ignore(article_hashes).returning(article_hashes.c.hash)
        self._claim_url = self._insert_ignore(article_aliases).returning(article_aliases.c.url)
        self._add_section = self._insert_ignore(article_sections).values(published=_PUBLISHED_OF)
        self.channel = "syndicator"
        # A SQLite store's file, and which file it was when opened (device, inode).
        self.file: Path | None = None
        self._file_id: tuple[int, int] | None = None
        # The schema revision the store was checked at when opened (None: not checked), and
        # the last revisions a look found there with what they meant (see `schema_moved`).
        self.schema_head: str | None = None
        self._schema_seen: tuple[tuple[str, ...], str | None] | None = None
        self._schema_said: str | None = None

    def watch_file(self, path: Path) -> None:
        """Remember which file the store is, to notice it deleted or replaced later."""
        found = path.stat()
        self.file, self._file_id = path, (found.st_dev, found.st_ino)

    def check_file(self) -> None:
        """Raise StoreError when the SQLite file was deleted or replaced since the store was
        opened: the open connections still write to the old one, which is gone for good when
        the process ends, and a new connection would make a new, empty file. A stat call."""
        if self.file is None:
            return
        try:
            found = self.file.stat()
        except OSError:
            found = None
        if found is None or (found.st_dev, found.st_ino) != self._file_id:
            what = "deleted" if found is None else "replaced by another file"
            raise StoreError(
                f"the store file {self.file} was {what} while this process ran; nothing more "
                "is written to it: restore the file and restart"
            )

    async def schema_moved(self, *, quiet: bool = False) -> str | None:
        """Why this process must not write to the store any more: its schema revision is no
        longer the one it was opened at (a newer syndicator's `db upgrade` ran meanwhile), in
        the words a start against that store is refused with. None while it is the same, or
        when it cannot be read now (what the process does next meets that itself).

        One small read: a pulling process looks before each pull, a worker before it claims
        sources, `/readyz` at each request. The first look that finds the schema moved logs
        it (unless `quiet`), and so does the first that finds it back."""
        if self.schema_head is None:
            return None
        try:
            async with self.reading("the schema revision") as conn:
                found = tuple(sorted(str(r[0]) for r in await conn.execute(_SCHEMA_REVISION)))
        except StoreError:
            return None
        if self._schema_seen is None or self._schema_seen[0] != found:
            problem = None
            if found != (self.schema_head,):
                state = migrate.SchemaState(found[0] if len(found) == 1 else None, True)
                problem = migrate.refusal(state, self.schema_head)
            self._schema_seen = (found, problem)
        problem = self._schema_seen[1]
        if not quiet and problem != self._schema_said:
            if problem is not None:
                log.error(
                    "store schema moved: this node writes no more; upgrade it",
                    extra={
                        "store_revision": ", ".join(found) or None,
                        "code_head": self.schema_head,
                        "error": problem,
                    },
                )
            else:
                log.info(
                    "store schema is this node's again: writing resumes",
                    extra={"store_revision": self.schema_head},
                )
            self._schema_said = problem
        return problem

    def full_disk(self, error: DBAPIError) -> StoreFull | None:
        """The error naming a full disk, when `error` is the database saying its disk is
        full (SQLite's SQLITE_FULL, PostgreSQL's disk_full); None for any other error."""
        said = str(error.orig)
        if getattr(error.orig, "sqlstate", None) == PG_DISK_FULL:
            return StoreFull(f"{DISK_FULL} (PostgreSQL said: {said})")
        if "database or disk is full" not in said:
            return None
        where = f"{os.path.abspath(self.file)}: " if self.file is not None else ""
        return StoreFull(f"{where}{DISK_FULL} (no space left on device)")

    def writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction (committed at the end, rolled back on error). Raises
        StoreError, before anything is written, when the store's file was deleted or replaced
        since it was opened."""
        self.check_file()
        return self.writer.begin()

    @asynccontextmanager
    async def reading(self, what: str) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; a store that cannot answer raises StoreError naming
        `what`, so a pull records it as failed instead of crashing."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            detail = exc.orig if isinstance(exc, DBAPIError) else exc
            raise StoreError(f"store could not read {what}: {detail}") from None
        except ValueError as exc:
            # A value a damaged SQLite file gives back: a date of NULs, text not UTF-8.
            raise StoreError(f"store could not read {what}: a damaged value: {exc}") from None

    @asynccontextmanager
    async def answering(self, what: str) -> AsyncIterator[None]:
        """Around a store call a long-running loop makes (the leases of the lease worker and
        the retention job): a store that cannot answer now (locked past the busy timeout, a
        PostgreSQL server restarting, a damaged value) raises StoreError naming `what`, which
        the loop logs before it tries again, rather than an error that ends the loop."""
        try:
            yield
        except (SQLAlchemyError, OSError) as exc:
            detail = exc.orig if isinstance(exc, DBAPIError) else exc
            raise StoreError(f"store could not {what}: {detail}") from None
        except ValueError as exc:
            raise StoreError(f"store could not {what}: a damaged value: {exc}") from None

    async def create_search_path_schema(self) -> None:
        """On PostgreSQL, create the schema the URL's search_path names if it is missing."""
        if not self.is_postgres:
            return
        async with self.engine.begin() as conn:
            path = (await conn.execute(text("SHOW search_path"))).scalar_one()
            first = first_schema(path)
            if first and first != "$user":
                # Nodes starting at once would race CREATE SCHEMA IF NOT EXISTS (one fails on
                # the catalogue's unique key): take turns.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext('syndicator-schema:' || :name))"),
                    {"name": first},
                )
                quoted = first.replace('"', '""')
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{quoted}"'))

    async def prepare(self) -> None:
        """Learn the notification channel: one per schema, so stores sharing a database do not
        hear each other."""
        if self.is_postgres:
            async with self.engine.connect() as conn:
                schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
            self.channel = f"syndicator:{schema}"

    async def close(self) -> None:
        await self.engine.dispose()

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING in the engine's own dialect (built once a table)."""
        stmt = self._ignores.get(table.name)
        if stmt is None:
            dialect = postgresql if self.is_postgres else sqlite
            stmt = self._ignores[table.name] = dialect.insert(table).on_conflict_do_nothing()
        return stmt

    # --- ingest ----------------------------------------------------------------------

    async def ingest(
        self,
        cand: Candidate,
        canonical_origin: str,
        now: datetime | None = None,
        *,
        number: bool = True,
        trim: int | None = None,
    ) -> IngestResult:
        """Store a candidate once. A known text is a duplicate; a known URL or a near-duplicate
        text with other content is an update (content replaced, GUID kept); else new.

        `number` false leaves a new article's archive sequence numbers to `number_arrivals`,
        so that the articles of one pull are numbered together, in publication order.
        `trim` (retention.items, or max_items if more): a stored article is not added to a
        section where it would not be among that many newest (see `_add_sections`)."""
        now = now or datetime.now(UTC)
        if len(cand.canonical_url) > MAX_URL:
            # Its URLs are keys of 2,048 characters (the sitemaps.org limit): PostgreSQL refused
            # a longer one while SQLite kept it. Refused alike on both.
            raise StoreError(
                f"store refused article {cand.canonical_url[:100]}...: a link longer than"
                f" {MAX_URL} characters"
            )
        if any(len(alias) > MAX_URL for alias in cand.aliases):
            cand = replace(cand, aliases=frozenset(a for a in cand.aliases if len(a) <= MAX_URL))
        looked_again = False
        while True:
            try:
                async with self.writing() as conn:
                    return await self._ingest(conn, cand, canonical_origin, now, number, trim)
            except IntegrityError as exc:
                if looked_again or getattr(exc.orig, "sqlstate", None) != FOREIGN_KEY_GONE:
                    raise StoreError(
                        f"store refused article {cand.canonical_url}: {exc.orig}"
                    ) from None
                # PostgreSQL: the article this copy matched was deleted (by retention, on
                # another node) after our lookup and before our rows that point at it were
                # written. Looked up again it is not there, and the copy is stored anew, as
                # it would have been a moment later. (SQLite's one writer never interleaves.)
                looked_again = True
            except DBAPIError as exc:
                if (full := self.full_disk(exc)) is not None:
                    # Every later write would fail alike: the pull stops storing here.
                    raise full from None
                raise StoreError(
                    f"store refused article {cand.canonical_url}: {exc.orig}"
                ) from None
            except (UnicodeError, OverflowError) as exc:
                # A value the driver cannot send (a lone surrogate to SQLite, a number past 64
                # bits): PostgreSQL's driver says so as a DBAPIError; SQLite's raised it bare,
                # which ended the whole pull. Either way it costs this article only.
                raise StoreError(f"store refused article {cand.canonical_url}: {exc}") from None

    async def match(self, cand: Candidate, now: datetime | None = None) -> Match | None:
        """The stored article this candidate is, if any (read only)."""
        now = now or datetime.now(UTC)
        async with self.reading("the article a copy matches") as conn:
            return await self._match(conn, cand, now)

    async def retention_removes(
        self,
        cand: Candidate | None,
        published: datetime,
        *,
        sections: frozenset[str] | None = None,
        keep: int,
        before: datetime | None,
        items: int | None,
        now: datetime | None = None,
    ) -> bool:
        """Whether the retention rules (`retention.prune`) would remove this candidate,
        published at `published`, at their next run were it stored: it is no stored article,
        and either `days` would (published before `before` and not among the `keep` newest of
        any of its sections or of `all`, which that rule spares) or `items` would (not among
        the max(items, keep) newest of any of its sections). Without a candidate (a link a
        pull found expired before, not fetched again), `sections` are the ones it is listed
        in, and the caller knows no stored article is it."""
        now = now or datetime.now(UTC)
        by_days = before is not None and published < before
        if not by_days and items is None:
            return False
        listed = cand.sections if cand is not None else sections or frozenset()
        most = max(keep, items or 0)
        async with self.reading("whether retention would remove an article") as conn:
            if cand is not None and await self._match(conn, cand, now) is not None:
                return False  # stored: an edit or a copy of it goes on as ever
            newer: dict[str, int] = {}
            for section in sorted({*listed, ALL_SECTION}):
                if section == ALL_SECTION:
                    found = select(articles.c.id).where(articles.c.published > published)
                else:
                    found = select(article_sections.c.article_id).where(
                        article_sections.c.section == section,
                        article_sections.c.published > published,
                    )
                counted = select(func.count()).select_from(found.limit(most).subquery())
                newer[section] = int((await conn.execute(counted)).scalar_one())
        by_days = by_days and all(count >= keep for count in newer.values())
        by_items = (
            items is not None and bool(listed) and all(newer[s] >= max(items, keep) for s in listed)
        )
        return by_days or by_items

    async def _match(self, conn: AsyncConnection, cand: Candidate, now: datetime) -> Match | None:
        """Same content hash, else same URL (canonical or alias), else a near-duplicate text
        from the same source published within the window. One round trip: the three index
        lookups are one UNION ALL, ranked here."""
        params: dict[str, object] = {
            "p_hash": cand.content_hash,
            "p_urls": sorted({cand.canonical_url, *cand.aliases}),
        }
        query = _MATCH
        if cand.words >= NEAR_DUPLICATE_MIN_WORDS:
            published = _utc(cand.published) or now
            query = _MATCH_NEAR
            since, until = near_window(published)
            params |= {
                "p_source": cand.source,
                "p_bands": simhash_bands(cand.simhash),
                "p_from": since,
                "p_to": until,
            }
        found = []
        for row in await conn.execute(query, params):
            distance = hamming(row.simhash, cand.simhash) if row.rank == 2 else 0
            if distance <= NEAR_DUPLICATE_BITS:
                found.append((row.rank, distance, row.id, row))
        if not found:
            return None
        rank, _, _, row = min(found, key=lambda f: f[:3])
        return _match(("hash", "url", "near")[rank], row, now, cand.content_hash)

    async def _ingest(
        self,
        conn: AsyncConnection,
        cand: Candidate,
        canonical_origin: str,
        now: datetime,
        number: bool = True,
        trim: int | None = None,
        again: bool = False,
    ) -> IngestResult:
        """`again`: a second look, after losing a URL to another writer (at most one)."""
        urls = sorted({cand.canonical_url, *cand.aliases})
        found = await self._match(conn, cand, now)
        decision = decide(cand, found, canonical_origin=canonical_origin, now=now)
        relinked = False
        if found is not None:
            await self._add_aliases(conn, found.article_id, urls)
            added = await self._add_sections(conn, found.article_id, cand.sections, trim=trim)
            relinked = await self._relink(conn, found, cand)
        if isinstance(decision, Duplicate):
            assert found is not None
            if decision.remember_text:
                await self._remember_text(conn, found.article_id, cand, found.published)
            if relinked:
                # The feeds holding it change (its link), its dates do not.
                added |= await self._sections_of(conn, found.article_id)
            await self._bump(conn, added, now, number=number)
            return IngestResult("duplicate", found.guid, frozenset(added), relinked)
        if isinstance(decision, Update):
            assert found is not None
            await conn.execute(
                update(articles)
                .where(articles.c.id == found.article_id)
                .values(
                    title=cand.title,
                    summary=cand.summary,
                    content_html=cand.content_html,
                    content_hash=cand.content_hash,
                    simhash=cand.simhash,
                    **_hash_inputs(cand),
                    updated=decision.updated,
                    page_updated=decision.page_updated,
                    author=cand.author,
                    image_url=cand.image_url,
                    image_caption=cand.image_caption,
                )
            )
            await self._remember_text(conn, found.article_id, cand, found.published)
            sections = await self._sections_of(conn, found.article_id)
            await self._bump(conn, sections, now, number=number)
            return IngestResult("updated", found.guid, frozenset(sections), relinked)

        guid, published = decision.guid, decision.published
        result = await conn.execute(
            self._new_article,
            {
                "guid": guid,
                "source": cand.source,
                "url": cand.canonical_url,
                "title": cand.title,
                "summary": cand.summary,
                "content_html": cand.content_html,
                "content_hash": cand.content_hash,
                "simhash": cand.simhash,
                **_hash_inputs(cand),
                "published": published,
                "updated": decision.updated,
                "page_updated": decision.page_updated,
                "first_seen": now,
                "author": cand.author,
                "image_url": cand.image_url,
                "image_caption": cand.image_caption,
                "language": cand.language,
                "link_confirmed": cand.link_confirmed,
            },
        )
        article_id = result.scalar_one_or_none()
        if article_id is None:  # another writer stored the same article a moment ago
            article_id = (
                await conn.execute(select(articles.c.id).where(articles.c.guid == guid))
            ).scalar_one()
            return await self._duplicate(conn, article_id, guid, urls, cand.sections, now, number)
        claimed = await conn.execute(
            self._claim_hash, {"hash": cand.content_hash, "article_id": article_id}
        )
        if claimed.first() is None:
            # Another writer stored the same text under another GUID (a mirror that gave
            # another date) and committed first: the hash's unique key decides, ours goes.
            await conn.execute(delete(articles).where(articles.c.id == article_id))
            winner = (
                await conn.execute(
                    select(articles.c.id, articles.c.guid)
                    .join(article_hashes, article_hashes.c.article_id == articles.c.id)
                    .where(article_hashes.c.hash == cand.content_hash)
                )
            ).one()
            return await self._duplicate(
                conn, winner.id, winner.guid, urls, cand.sections, now, number
            )
        claimed_urls = await conn.execute(
            self._claim_url, [{"url": u, "article_id": article_id} for u in urls]
        )
        if len(claimed_urls.all()) < len(urls) and not again:
            # Another writer stored an article under one of these URLs and committed after
            # our lookup: another version of its text (an edit, from another mirror or
            # source) that another node was storing at the same moment. Ours goes, and the
            # candidate is looked up again: it now finds that article and updates it, as
            # it would had the other been stored first. Without this, PostgreSQL kept both,
            # two items with two GUIDs for one link.
            await conn.execute(delete(articles).where(articles.c.id == article_id))
            return await self._ingest(conn, cand, canonical_origin, now, number, trim, again=True)
        # The hash and URLs are claimed and the article has no section yet: statements fewer.
        await self._remember_text(conn, article_id, cand, published, hash_stored=True)
        added = await self._add_sections(conn, article_id, cand.sections, have=set())
        await self._bump(conn, added, now, number=number)
        return IngestResult("new", guid, frozenset(added))

    async def _relink(self, conn: AsyncConnection, found: Match, cand: Candidate) -> bool:
        """Repair a stored article's link from a candidate whose link is confirmed (its page's
        rel=canonical, or the canonical origin served it): only the link changes, never the
        GUID or the dates. True when the link changed. A link stored and confirmed already
        (the common case: the same article pulled again) costs no statement."""
        if not cand.link_confirmed or (found.url == cand.canonical_url and found.link_confirmed):
            return False
        changed = await conn.execute(
            _RELINK, {"p_article": found.article_id, "p_url": cand.canonical_url}
        )
        if changed.rowcount:
            return True
        await conn.execute(_CONFIRM_LINK, {"p_article": found.article_id})
        return False

    async def _duplicate(
        self,
        conn: AsyncConnection,
        article_id: int,
        guid: str,
        urls: Iterable[str],
        sections: Iterable[str],
        now: datetime,
        number: bool = True,
    ) -> IngestResult:
        await self._add_aliases(conn, article_id, urls)
        added = await self._add_sections(conn, article_id, sections)
        await self._bump(conn, added, now, number=number)
        return IngestResult("duplicate", guid, frozenset(added))

    async def _remember_text(
        self,
        conn: AsyncConnection,
        article_id: int,
        cand: Candidate,
        published: datetime,
        *,
        hash_stored: bool = False,
    ) -> None:
        """Keep this text's hash (unless `hash_stored`), and its SimHash bands when it is long
        enough to compare."""
        if not hash_stored:
            await conn.execute(
                self._insert_ignore(article_hashes),
                {"hash": cand.content_hash, "article_id": article_id},
            )
        if cand.words < NEAR_DUPLICATE_MIN_WORDS:
            return
        await conn.execute(
            self._insert_ignore(article_simhash_bands),
            [
                {
                    "article_id": article_id,
                    "simhash": cand.simhash,
                    "band_key": key,
                    "source": cand.source,
                    "published": published,
                }
                for key in simhash_bands(cand.simhash)
            ],
        )

    async def _add_aliases(
        self, conn: AsyncConnection, article_id: int, urls: Iterable[str]
    ) -> None:
        rows = [{"url": u, "article_id": article_id} for u in urls]
        if rows:
            await conn.execute(self._insert_ignore(article_aliases), rows)

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
        result = await conn.execute(_SECTIONS_OF, {"p_article": article_id})
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
            await conn.execute(_NOTIFY, params if len(params) > 1 else params[0])

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
                    if (await conn.execute(_CLAIM_CONFIG, params)).first() is None:
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
            return {row.section: _utc(row.changed_at) or datetime.now(UTC) for row in result}

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
                return _utc(row.modified) or now
            if await self.schema_moved(quiet=True) is not None:
                # A newer syndicator's schema: the document is served, dated here only.
                return _next_modified(row, floor, now)
            async with self.writing() as conn:
                row = (await conn.execute(row_of)).first()
                if row is not None and row.digest == digest:
                    return _utc(row.modified) or now
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
                return _utc(row.modified) or modified
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
            return {r.url: Validators(r.etag, r.last_modified, r.final_url) for r in result}

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


_NOTIFY = text("SELECT pg_notify(:channel, :sections)")
# PostgreSQL refuses a notification whose payload is 8,000 bytes or more.
NOTIFY_PAYLOAD_MAX = 7999


def notify_payloads(names: Sequence[str]) -> list[str]:
    """The section names, comma-separated, in as few notification payloads as fit under
    PostgreSQL's limit. A change of hundreds of sections at once (retention, a new feed
    title) in one payload failed with "payload string too long", and with it the change."""
    payloads: list[str] = []
    current = ""
    for name in names:
        joined = f"{current},{name}" if current else name
        if current and len(joined.encode()) > NOTIFY_PAYLOAD_MAX:
            payloads.append(current)
            joined = name
        current = joined
    return [*payloads, current] if current else payloads


# PostgreSQL's SQLSTATE for a row that points at a row that is not there (foreign_key_violation).
FOREIGN_KEY_GONE = "23503"
# The longest URL the store keeps as a key (article aliases, fetch validators).
MAX_URL = 2048
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def near_window(published: datetime) -> tuple[datetime, datetime]:
    """The publication times a near-duplicate of an article published at `published` may
    have: NEAR_DUPLICATE_WINDOW either side, within the times Python has (a page dated
    0001-01-01 raised OverflowError here, which ended the whole pull on every retry)."""
    try:
        since = published - NEAR_DUPLICATE_WINDOW
    except OverflowError:
        since = _EARLIEST
    try:
        until = published + NEAR_DUPLICATE_WINDOW
    except OverflowError:
        until = _LATEST
    return since, until


def _match(how: How, row: Any, now: datetime, content_hash: str) -> Match:
    return Match(
        how,
        row.id,
        row.guid,
        _utc(row.updated) or now,
        _utc(row.published) or now,
        row.url,
        bool(row.link_confirmed),
        current_text=row.content_hash == content_hash,
        page_updated=_utc(row.page_updated),
        shown=(row.summary, row.author, row.image_url, row.image_caption),
    )


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


# The statements of `bump_versions`, built once: building them on every ingest (SQLAlchemy's
# expression objects) was 40% of `Store.ingest` on real pages. Bound parameters are named
# `p_*`, apart from the columns they set.
_UNNUMBERED_ALL = (
    select(articles.c.id)
    .where(articles.c.all_seq.is_(None))
    .order_by(articles.c.published, articles.c.id)
)
_UNNUMBERED_IN = (
    select(article_sections.c.article_id)
    .where(article_sections.c.section == bindparam("p_section"), article_sections.c.seq.is_(None))
    .order_by(article_sections.c.published, article_sections.c.article_id)
)
_NOW = bindparam("p_now", type_=section_versions.c.changed_at.type)
_COUNT = (
    update(section_versions)
    .where(section_versions.c.section == bindparam("p_section"))
    .values(version=section_versions.c.version + 1)
    .returning(section_versions.c.last_seq)
)
# The config of digest p_digest is the last to change the section (see record_config_change).
_CLAIM_CONFIG = (
    update(section_versions)
    .where(
        section_versions.c.section == bindparam("p_section"),
        section_versions.c.config_digest.is_distinct_from(bindparam("p_digest")),
    )
    .values(config_digest=bindparam("p_digest"))
    .returning(section_versions.c.section)
)
# Never back in time (writers' clocks differ a little): Last-Modified of the section's feeds
# must not go backwards.
_COUNT_AND_TIME = _COUNT.values(
    changed_at=case(
        (section_versions.c.changed_at > _NOW, section_versions.c.changed_at), else_=_NOW
    )
)
# The numbers of the articles that joined, taken under the lock the count took.
_TAKE_NUMBERS = (
    update(section_versions)
    .where(section_versions.c.section == bindparam("p_section"))
    .values(last_seq=section_versions.c.last_seq + bindparam("p_joined", type_=BigInteger))
    .returning(section_versions.c.last_seq)
)
_NUMBER_ALL = (
    update(articles)
    .where(articles.c.id == bindparam("p_article"))
    .values(all_seq=bindparam("p_seq"))
)
_NUMBER_IN = (
    update(article_sections)
    .where(
        article_sections.c.section == bindparam("p_section"),
        article_sections.c.article_id == bindparam("p_article"),
    )
    .values(seq=bindparam("p_seq"))
)


async def bump_versions(
    conn: AsyncConnection,
    insert_ignore: Any,
    names: Sequence[str],
    now: datetime,
    *,
    changed_at: bool = True,
    number: bool = True,
) -> None:
    """Move the change counter of each section (in name order, so writers never deadlock),
    and its last-changed time when `changed_at`, and, when `number`, number the articles
    that joined it without a number (archive sequence, see schema): oldest publication
    first, ties in the order they were stored.

    The section's counter row is locked (by the update that counts the change) before the
    articles without a number are read, so two writers never number the same articles:
    on PostgreSQL each statement reads what was committed when it began, and a writer
    that read them before it waited for the lock would number again, under new numbers,
    what the other had just numbered, leaving holes in archive pages already complete
    (SQLite has one writer at a time anyway). `insert_ignore` is the dialect's
    INSERT ... ON CONFLICT DO NOTHING of section_versions."""
    for name in names:
        count = _COUNT_AND_TIME if changed_at else _COUNT
        params = {"p_section": name, "p_now": now}
        last = (await conn.execute(count, params)).scalar_one_or_none()
        if last is None:
            # The section's first change: its counter row is made, then counted. (Made only
            # then, not before every count: one statement a section fewer on every ingest.)
            await conn.execute(insert_ignore, {"section": name, "version": 0, "changed_at": now})
            last = (await conn.execute(count, params)).scalar_one()
        if not number:
            continue
        unnumbered = _UNNUMBERED_ALL if name == ALL_SECTION else _UNNUMBERED_IN
        joined = list((await conn.execute(unnumbered, {"p_section": name})).scalars())
        if not joined:
            continue
        last = (
            await conn.execute(_TAKE_NUMBERS, {"p_section": name, "p_joined": len(joined)})
        ).scalar_one()
        first = last - len(joined) + 1
        await conn.execute(
            _NUMBER_ALL if name == ALL_SECTION else _NUMBER_IN,
            [
                {"p_section": name, "p_article": article_id, "p_seq": seq}
                for seq, article_id in enumerate(joined, start=first)
            ],
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
        published=_utc(row.published) or datetime.now(UTC),
        updated=_utc(row.updated) or datetime.now(UTC),
        author=row.author,
        image_url=row.image_url,
        image_caption=row.image_caption,
        language=row.language,
        sections=tuple(sections),
    )
