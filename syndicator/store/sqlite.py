"""aiosqlite, with one trip to the connection's thread a statement.

aiosqlite runs every sqlite3 call on the connection's own thread and waits for it: a trip of
about 0.12 ms on a small machine. SQLAlchemy's async adapter makes four trips a statement
(open a cursor, execute, fetch the rows, close the cursor), so that a statement SQLite runs
in 15 µs cost the store 0.45 ms, and storing one new article (17 statements) 8 ms: a fifth
of a real-page ingest. Here the cursor is opened on the thread in the same trip as the
statement, whose rows come back with it (SQLAlchemy's adapter fetches them all at once
anyway), and its closing is queued without waiting. Every statement still runs on the
connection's thread, so a statement that waits for another process's write lock never holds
up the event loop. A streamed result (SQLAlchemy's `stream()`) is read whole too: the store
reads at most a feed's worth of rows at once and never streams.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager


class Cursor(aiosqlite.Cursor):
    """A cursor whose sqlite3 cursor is made on the connection's thread by its first
    statement, and whose rows are fetched in the same trip."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn, None)  # type: ignore[arg-type]
        self._owner = conn
        self._rows: list[Any] = []
        self._closed = False

    def _run(self, begin: str | None, method: str, sql: str, parameters: Any) -> list[Any]:
        """On the connection's thread: the transaction's deferred BEGIN if any (see
        `Connection.begin_later`), the statement, and all its rows."""
        if self._cursor is None:
            self._cursor = self._conn._conn.cursor()
        if begin is not None:
            self._cursor.execute(begin)
        getattr(self._cursor, method)(sql, parameters)
        return self._cursor.fetchall() if self._cursor.description else []

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        begin = self._owner.take_begin()
        self._rows = await self._execute(self._run, begin, "execute", sql, parameters or ())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        begin = self._owner.take_begin()
        self._rows = await self._execute(self._run, begin, "executemany", sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        """Queued on the connection's thread without waiting: nothing is left to read."""
        if self._cursor is not None and not self._closed and self._conn._running:
            self._conn._tx.put_nowait((None, self._cursor.close))
        self._closed = True

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._cursor is not None else -1

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid if self._cursor is not None else None

    @property
    def description(self) -> Any:
        return self._cursor.description if self._cursor is not None else None


class Connection(aiosqlite.Connection):
    # The BEGIN the next statement runs first, in that statement's trip (see `begin_later`).
    _begin: str | None = None

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return Cursor(self)

    def begin_later(self, begin: str) -> None:
        """Run `begin` (BEGIN IMMEDIATE) on the thread in the trip of the next statement,
        not in a trip of its own: one trip fewer a transaction. Its error (the write lock
        still held by another process at the busy timeout) is then that statement's. A
        transaction that runs no statement begins nothing and commits nothing."""
        self._begin = begin

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    async def commit(self) -> None:
        if self.take_begin() is None:
            await super().commit()

    async def rollback(self) -> None:
        """No trip to the connection's thread when no transaction is open, where sqlite3's
        rollback does nothing: SQLAlchemy's pool rolls back every connection returned to it
        after a commit, a trip of every write transaction (asyncpg's adapter skips it too)."""
        self.take_begin()
        try:
            idle = not self._conn.in_transaction
        except (ValueError, sqlite3.Error):  # closed: the trip says so, as before
            idle = False
        if not idle:
            await super().rollback()


def connect(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> Connection:
    """As `aiosqlite.connect`, with this module's cursors."""
    return Connection(lambda: sqlite3.connect(database, **kwargs), iter_chunk_size)
