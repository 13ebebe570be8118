"""The SQLite store's driver: one trip to the connection's thread a statement, the same rows and
counts as aiosqlite's own cursor, and a wait for another process's lock off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import open_store
from syndicator.store.backup import backup_sqlite
from syndicator.store.connect import make_engine

from .engines import candidate
from .sites import Site


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    await engine.dispose()


async def _trips(conn: AsyncConnection) -> list[Any]:
    """Count the trips to the connection's thread from now on: every call that waits for it."""
    raw = (await conn.get_raw_connection()).driver_connection
    trips: list[Any] = []
    wait = raw._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await wait(fn, *args, **kwargs)

    raw._execute = counted
    return trips


async def test_a_statement_is_one_trip_to_the_connections_thread(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        trips = await _trips(conn)
        await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')"))
        assert len(trips) == 1
        rows = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).all()
        assert [r.name for r in rows] == ["a", "b", "c"]
        assert len(trips) == 2
        returned = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id"))
        assert returned.scalar_one() == 4
        assert len(trips) == 3


async def test_rows_and_counts_are_those_of_the_statement(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        many = await conn.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": n} for n in "abcde"]
        )
        assert many.rowcount == 5
        changed = await conn.execute(text("UPDATE t SET name = upper(name) WHERE id > 2"))
        assert changed.rowcount == 3
        result = await conn.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert result.fetchone() == (1, "a")
        assert result.fetchmany(2) == [(2, "b"), (3, "C")]
        assert result.fetchall() == [(4, "D"), (5, "E")]
        inserted = await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('f')")
        assert inserted.lastrowid == 6
        assert (await conn.execute(text("SELECT count(*) FROM t WHERE 0"))).scalar_one() == 0
        with pytest.raises(Exception, match="UNIQUE constraint failed"):
            await conn.execute(text("INSERT INTO t (id, name) VALUES (1, 'again')"))


async def test_waiting_for_another_writer_leaves_the_event_loop_free(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await open_store(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        ingest = asyncio.create_task(store.ingest(candidate(1), "https://news.example"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(20):
            await asyncio.sleep(0.01)
        # The loop ran on at its pace while the ingest waited for the lock (a driver that
        # waited on the loop's thread would hold it for the whole busy timeout, 10 s).
        assert loop.time() - started < 2
        assert not ingest.done()
        other.execute("COMMIT")
        assert (await asyncio.wait_for(ingest, 5)).outcome == "new"
    finally:
        other.close()
        await store.close()


async def test_pulls_of_an_unchanged_site_open_no_new_store_connection(
    site: Site, write_config: Callable[[str], Config], tmp_path: Path
) -> None:
    """A pull holds up to about nine connections at once; with SQLAlchemy's 5 kept, four
    more were opened (a thread, the pragmas, a cold cache) and closed on every pull."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    config = write_config(site.config_yaml(url))
    store = await open_store(url)
    opened: list[int] = []
    event.listen(store.engine.sync_engine, "connect", lambda *_: opened.append(1))
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            await pull_source("news", config, fetcher, store)
            await pull_source("news", config, fetcher, store)
            opened.clear()
            for _ in range(3):
                report = await pull_source("news", config, fetcher, store)
                assert report.new == 0
        assert opened == []
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
async def test_an_in_memory_store_opens_and_keeps_what_it_is_given(url: str) -> None:
    store = await open_store(url)
    try:
        assert (await store.ingest(candidate(1), "https://news.example")).outcome == "new"
        assert [a.title for a in await store.section_articles("all", 10)] == ["Article number 1"]
    finally:
        await store.close()


async def test_db_backup_reads_a_path_with_a_hash_and_never_writes_the_stores_own_files(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "feeds #2"
    folder.mkdir()
    source = folder / "store#1.db"
    store = await open_store(f"sqlite:///{source}")
    try:
        await store.ingest(candidate(1), "https://news.example")
        # A `#` in the path cut the URI short: SQLite opened (and made) `store` instead.
        report = backup_sqlite(source, tmp_path / "copy.db")
        assert report.articles == 1
        assert not (folder / "store").exists()
        for own in ("store#1.db-wal", "store#1.db-shm", "store#1.db-journal"):
            with pytest.raises(StoreError, match="is the store itself, or one of its files"):
                backup_sqlite(source, folder / own, replace=True)
        (tmp_path / "link.db").symlink_to(source)
        with pytest.raises(StoreError, match="is the store itself"):
            backup_sqlite(source, tmp_path / "link.db", replace=True)
        assert (await store.section_articles("all", 10))[0].title == "Article number 1"
    finally:
        await store.close()


async def test_db_backup_of_a_store_no_one_holds_leaves_no_log_files_beside_it(
    tmp_path: Path,
) -> None:
    """A backup taken while the service is stopped: the store's folder holds the store file
    alone afterwards, as before, and the store still opens with what it held."""
    source = tmp_path / "data" / "store.db"
    source.parent.mkdir()
    store = await open_store(f"sqlite:///{source}")
    await store.ingest(candidate(1), "https://news.example")
    await store.close()
    assert sorted(p.name for p in source.parent.iterdir()) == ["store.db"]
    report = backup_sqlite(source, tmp_path / "copy.db")
    assert report.articles == 1
    # A read-only connection made the write-ahead log and its index and could not remove
    # them: `store.db-wal` and `store.db-shm` were left behind after every backup.
    assert sorted(p.name for p in source.parent.iterdir()) == ["store.db"]
    store = await open_store(f"sqlite:///{source}")
    try:
        assert (await store.section_articles("all", 10))[0].title == "Article number 1"
    finally:
        await store.close()
