"""The store's connection: its engine and write lock, the SQLite file it was opened on and
the schema revision it was checked at (both watched for a change under a running process),
and the transactions every read and write of the store goes through."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from syndicator.core.errors import StoreError, StoreFull
from syndicator.core.ingest import as_utc
from syndicator.store import migrate
from syndicator.store.connect import (
    BEGIN_LATER_OPTION,
    DISK_FULL,
    PG_DISK_FULL,
    WRITE_OPTION,
    driver_said,
    first_schema,
)
from syndicator.store.reading import FileState, file_state
from syndicator.store.schema import (
    article_aliases,
    article_hashes,
    article_sections,
    articles,
    section_versions,
)

log = logging.getLogger("syndicator.store")


# The store's schema revision, as Alembic keeps it: one small read per look.
_SCHEMA_REVISION = text("SELECT version_num FROM alembic_version")


# Timestamps go in as UTC and come out aware (SQLite keeps no zone).
utc = as_utc


SECTIONS_OF = select(article_sections.c.section).where(
    article_sections.c.article_id == bindparam("p_article")
)


_PUBLISHED_OF = (
    select(articles.c.published).where(articles.c.id == bindparam("p_article")).scalar_subquery()
)


# The longest URL the store keeps as a key (article aliases, fetch validators).
MAX_URL = 2048


class StoreAccess:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Same pool; on SQLite its transactions take the write lock when they begin.
        self.writer = engine.execution_options(**{WRITE_OPTION: True})
        self._writer_begun_later = engine.execution_options(
            **{WRITE_OPTION: True, BEGIN_LATER_OPTION: True}
        )
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
        # The SQLite file's state when it was opened as a file no one changes (see
        # `store.reading`), which takes no lock; None when opened with the store's locks.
        self.unlocked_at: FileState | None = None
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

    def changed_under_read(self) -> bool:
        """Whether a process wrote into a store opened as a file no one changes since it
        was opened: what was read of it may mix pages from before and after, and is read
        again. Never for a store opened with its locks."""
        if self.unlocked_at is None or self.file is None:
            return False
        try:
            return file_state(self.file) != self.unlocked_at
        except OSError:
            return True

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

    def writing(self, *, begin_later: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction (committed at the end, rolled back on error). Raises
        StoreError, before anything is written, when the store's file was deleted or replaced
        since it was opened. `begin_later`: on SQLite the write lock is taken with the first
        statement, in its trip to the connection's thread (see `connect.BEGIN_LATER_OPTION`),
        and a failure to take it is that statement's error."""
        self.check_file()
        return (self._writer_begun_later if begin_later else self.writer).begin()

    @asynccontextmanager
    async def reading(self, what: str) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; a store that cannot answer raises StoreError naming
        `what`, so a pull records it as failed instead of crashing."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store could not read {what}: {driver_said(exc)}") from None
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
            raise StoreError(f"store could not {what}: {driver_said(exc)}") from None
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
