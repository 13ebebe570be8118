"""Schema versions: Alembic migrations shipped inside the package, and the check at start.

Owns upgrading a store to the code's schema (`syndicate db upgrade`), writing a new revision
from the difference between `schema.metadata` and a store at the newest revision
(`syndicate db revision`), and refusing to run against a schema that is older or newer than
the code. It knows the tables only through `schema.metadata` and the revision files.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from syndicator.core import identity
from syndicator.core.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision that matches a store created before migrations existed (by create_all).
FOUNDATION = "0001_foundation"
UPGRADE_HINT = "run `syndicate db upgrade` (with the same --config)"


def alembic_config(script_location: Path = MIGRATIONS) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def code_head() -> str:
    """The newest revision this code knows."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise StoreError(
            f"the migrations have several newest revisions ({', '.join(sorted(heads))}): "
            "give one of them the other as down_revision"
        )
    return heads[0]


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


@dataclass(frozen=True)
class SchemaState:
    """What a store holds: its revision (None when unversioned) and whether it has tables."""

    revision: str | None
    has_tables: bool

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.has_tables


def _state(conn: Connection) -> SchemaState:
    heads = MigrationContext.configure(conn).get_current_heads()
    has_tables = inspect(conn).has_table("articles")
    return SchemaState(heads[0] if heads else None, has_tables)


async def schema_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as conn:
        return await conn.run_sync(_state)


async def _lock(conn: Any) -> None:
    """Serialise migrations between nodes that start at once (PostgreSQL advisory lock, per
    schema; SQLite's write lock does the same by itself)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtext('syndicator-migrate:' || current_schema()))"
            )
        )


def _upgrade(conn: Connection, target: str) -> tuple[str | None, str]:
    state = _state(conn)
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    if state.revision is None and state.has_tables:
        command.stamp(cfg, FOUNDATION)
    command.upgrade(cfg, target)
    return state.revision, _state(conn).revision or ""


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str]:
    """Bring the store to `target`; returns (revision before, revision after)."""
    state = await schema_state(engine)
    if state.revision is not None and state.revision not in known_revisions():
        raise StoreError(_newer(state.revision))
    async with engine.begin() as conn:
        await _lock(conn)
        return await conn.run_sync(_upgrade, target)


def _newer(revision: str) -> str:
    return (
        f"the store's schema is at revision {revision}, which this syndicator does not know "
        f"(its newest is {code_head()}): the store was upgraded by a newer syndicator; "
        "run that version here too"
    )


async def ensure_current(
    engine: AsyncEngine, *, create_empty: bool, writer: AsyncEngine | None = None
) -> str:
    """Refuse a schema older or newer than the code; create it in a store that has none.
    Returns the revision the store is at (the code's newest).

    The first look reads through `engine`: on SQLite, one opened for writes (`writer`) takes
    the write lock when it begins, and a `syndicate status` run while a pull writes would
    wait for it, then fail with "database is locked". Only a store that is not current is
    looked at again, under the lock, through `writer`."""
    head = code_head()
    if (await schema_state(engine)).revision == head:
        return head
    # Decide under the migration lock: another node may be creating the schema right now,
    # and a look from outside could see its tables without its revision.
    async with (writer or engine).begin() as conn:
        await _lock(conn)
        state = await conn.run_sync(_state)
        if state.revision == head:
            return head
        if state.empty and create_empty:
            await conn.run_sync(_upgrade, "head")
            return head
    raise StoreError(refusal(state, head))


def refusal(state: SchemaState, head: str) -> str:
    """Why a store in `state` is refused by code whose newest revision is `head`: at start
    (`ensure_current`), and by a running node whose store moved on (`Store.schema_moved`)."""
    if state.empty:
        return f"the store has no tables yet: {UPGRADE_HINT}"
    if state.revision is None:
        return f"the store's schema predates versioned migrations: {UPGRADE_HINT}"
    if state.revision not in known_revisions():
        return _newer(state.revision)
    return (
        f"the store's schema is at revision {state.revision}, this syndicator needs {head}: "
        f"{UPGRADE_HINT}"
    )


def _autogenerate(conn: Connection, message: str, where: Path, out: list[Any]) -> None:
    cfg = alembic_config(where)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")

    def skip_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
        # A revision that changes nothing would still be a new head every store must reach.
        if directives and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    script = command.revision(
        cfg, message=message, autogenerate=True, process_revision_directives=skip_empty
    )
    out.extend(script if isinstance(script, list) else [script])


async def new_revision(message: str, where: Path = MIGRATIONS) -> Path | None:
    """Write a revision for what `schema.metadata` has and the newest revision lacks; None
    (nothing written) when they agree.

    The comparison runs against a scratch SQLite store brought to the newest revision, so it
    needs no database; the types in `schema.py` are the engine-neutral ones.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            out: list[Any] = []
            async with engine.begin() as conn:
                await conn.run_sync(_autogenerate, message, where, out)
        finally:
            await engine.dispose()
    return Path(out[0].path) if out and out[0] is not None else None


def _differences(conn: Connection) -> list[Any]:
    from alembic.autogenerate import compare_metadata

    from syndicator.store.schema import metadata

    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def tables_at(revision: str) -> set[str]:
    """The tables of a store at `revision` (one this code knows): the migrations up to it,
    run on a scratch SQLite store."""
    from sqlalchemy.ext.asyncio import create_async_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            await upgrade(engine, revision)
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        finally:
            await engine.dispose()
    return set(names) - {"alembic_version"}


async def differences(engine: AsyncEngine) -> list[Any]:
    """What `schema.metadata` has that the store lacks, or the other way round (empty when
    the migrations and the tables agree)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_differences)


def rehash_articles(conn: Connection, version: int, batch: int = 500) -> int:
    """Hash every stored article again with the code's normal form, recording `version`.

    For the migration that comes with a new identity.HASH_VERSION: it calls this from
    `upgrade()` with `op.get_bind()`. Each article's content hash and SimHash are computed
    again from what they were made of (title, hash_text, hash_hosts); the new hash is added
    to the article's known hashes and the new SimHash's bands to its bands, so the next pull
    finds the same pages duplicates. Nothing else moves: not `updated`, not the section
    change counters or archive numbers; no feed item gets a new date and no WebSub ping goes
    out. The old hashes stay known too. An article stored before its hash text was kept
    (hash_text NULL) keeps its hash and version. Returns how many articles were hashed."""
    from syndicator.store.schema import article_hashes, article_simhash_bands, articles

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    done, last = 0, 0
    while True:
        rows = conn.execute(
            select(
                articles.c.id,
                articles.c.source,
                articles.c.title,
                articles.c.published,
                articles.c.hash_text,
                articles.c.hash_hosts,
            )
            .where(
                articles.c.id > last,
                articles.c.hash_version < version,
                articles.c.hash_text.is_not(None),
            )
            .order_by(articles.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        for row in rows:
            hosts = (row.hash_hosts or "").split()
            content_hash, simhash, words = identity.fingerprint(row.title, row.hash_text, hosts)
            conn.execute(
                update(articles)
                .where(articles.c.id == row.id)
                .values(content_hash=content_hash, simhash=simhash, hash_version=version)
            )
            conn.execute(
                dialect.insert(article_hashes)
                .on_conflict_do_nothing()
                .values(hash=content_hash, article_id=row.id)
            )
            if words >= identity.NEAR_DUPLICATE_MIN_WORDS:
                conn.execute(
                    dialect.insert(article_simhash_bands).on_conflict_do_nothing(),
                    [
                        {
                            "article_id": row.id,
                            "simhash": simhash,
                            "band_key": key,
                            "source": row.source,
                            "published": row.published,
                        }
                        for key in identity.simhash_bands(simhash)
                    ],
                )
        done += len(rows)
        last = rows[-1].id
