"""Connecting to the store: a store URL (`sqlite:///...` or `postgresql://...`) to an async
SQLAlchemy engine with the driver options syndicator relies on (SQLite in WAL mode with a busy
timeout and bounded pool; PostgreSQL with a command timeout, a search path and pings that
find a dropped connection), and the driver's errors said for an operator: a store that cannot
be opened or written, a full disk, a lost connection. Knows no table.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import (
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from syndicator.core.config_addresses import store_command_timeout
from syndicator.core.errors import StoreError
from syndicator.store.postgres_pool import (
    PingedPool,
    QuicklyClosed,
    connection_lost,
    pinger,
)
from syndicator.store.reading import cut_short, file_uri, not_sqlite


def async_url(url: str, base_dir: Path | None = None) -> str:
    """sqlite:///x.db -> sqlite+aiosqlite:///x.db; postgresql:// -> postgresql+asyncpg://."""
    return _driver_url(url, base_dir).render_as_string(hide_password=False)


def sqlite_file(url: str, base_dir: Path | None = None) -> Path | None:
    """The file of a SQLite store URL (relative paths against `base_dir`); None for others."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.drivername not in ("sqlite", "sqlite+aiosqlite") or database in ("", ":memory:"):
        return None
    path = Path(database)
    return path if path.is_absolute() or base_dir is None else base_dir / path


def not_a_store_path(url: str, base_dir: Path | None) -> str | None:
    """What stands where a SQLite store URL names its file: a folder (`sqlite:///data`,
    which `status` called "no store" and `pull` "unable to open database file"), or a file
    where one of its folders should be (`[Errno 17] File exists`). None when nothing does."""
    path = sqlite_file(url, base_dir)
    if path is None:
        return None
    shown = os.path.abspath(path)
    try:
        if path.is_dir():
            return (
                f"{shown} is a folder (service.store {url!r}): name the store's file in it,"
                f" as in sqlite:///{Path(shown) / 'syndicator.db'}"
            )
        if path.is_file() and (what := not_sqlite(path)) is not None:
            return (
                f"{shown} is not a SQLite database at all: {what} (service.store {url!r}):"
                " check that service.store names the store's file; nothing was changed"
            )
        for folder in path.parents:
            if folder.exists():
                if not folder.is_dir():
                    return (
                        f"{os.path.abspath(folder)} is a file, where service.store {url!r}"
                        f" needs the folder of {shown}"
                    )
                break
    except OSError:  # a name too long, a loop of links: the driver says it
        return None
    return None


def no_store_at(url: str, base_dir: Path | None) -> str | None:
    """What to say when a SQLite store URL names a file that is not there (a mistyped
    `service.store`), for a command that only reads the store: where it was sought and what
    the config says. None when the file is there, or the store is no SQLite file."""
    path = sqlite_file(url, base_dir)
    if path is None or path.is_file():
        return None
    return (
        f"no store at {os.path.abspath(path)} (service.store {url!r}): check the path, "
        "or fill it first with `syndicate pull SOURCE` or `syndicate db upgrade`"
    )


# The options of a SQLite URL that SQLite's Python driver takes; without `uri`, SQLAlchemy
# ignores any other, with only a warning.
_SQLITE_DRIVER_OPTIONS = frozenset(
    {"uri", "timeout", "isolation_level", "detect_types", "check_same_thread", "cached_statements"}
)


def _driver_url(url: str, base_dir: Path | None = None) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+aiosqlite"):
        uri = str(parsed.query.get("uri", "")).lower() in ("1", "true", "yes", "on")
        given = url.partition("?")[2]
        ignored = sorted(set(parsed.query) - _SQLITE_DRIVER_OPTIONS)
        if given and not uri and (ignored or not parsed.query):
            # `sqlite:///x.db?mode=ro` printed a warning with a line of SQLAlchemy's source
            # and opened x.db for writing; `sqlite:///feeds?.db` made a store named `feeds`.
            raise StoreError(
                f"the store URL {url!r} gives the option {ignored[0] if ignored else given!r},"
                " which SQLite's driver does not take: a SQLite store URL names its file (a"
                " `?` in the file's name is written %3F)"
            )
        database = parsed.database or ""
        if database and database != ":memory:":
            path = Path(database)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            path.parent.mkdir(parents=True, exist_ok=True)
            database = str(path)
        return parsed.set(drivername="sqlite+aiosqlite", database=database)
    if parsed.drivername in ("postgresql", "postgresql+asyncpg", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(f"unsupported store URL {url!r}: use sqlite:/// or postgresql://")


# How long a SQLite connection waits for another's lock before "database is locked".
SQLITE_BUSY_MS = 10_000


# Connections a SQLite store keeps open for reuse (see make_engine).
SQLITE_POOL_SIZE = 12


# How long a PostgreSQL statement (or the opening of a connection) may go unanswered before
# the store call fails and its connection is thrown away, unless the store URL says
# otherwise (`?command_timeout=SECONDS`): a connection the server or a relay stopped
# answering without closing it waited until the kernel gave up, a quarter of an hour.
COMMAND_TIMEOUT = 30.0
# How long a pooled PostgreSQL connection may take to answer the question it is asked
# before it is handed out (at most the command timeout): one that does not is replaced.
PING_TIMEOUT = 5.0


def command_timeout(url: URL) -> float:
    """The statement bound a PostgreSQL store URL asks for (`?command_timeout=SECONDS`)."""
    given = url.query.get("command_timeout")
    return COMMAND_TIMEOUT if given is None else store_command_timeout(str(given))


# What asyncpg's connect() takes from a store URL's query (`?ssl=require`), and SQLAlchemy's
# own option for it; the URL's host, user and database, and what make_engine sets, aside.
_DRIVER_OPTIONS = frozenset(
    set(inspect.signature(asyncpg.connect).parameters)
    - {"dsn", "host", "port", "user", "password", "database", "loop", "timeout"}
    - {"command_timeout", "connection_class", "record_class", "server_settings"}
) | {"prepared_statement_cache_size"}


def _driver_options(url: URL) -> URL:
    """A PostgreSQL store URL's query as asyncpg takes it. libpq's `sslmode` (in most
    DATABASE_URLs a provider hands out: `?sslmode=require`) is asyncpg's `ssl`, which takes
    the same values; any other key asyncpg does not take is a StoreError that names it.
    Both ended every command, `serve` too, in a traceback (`connect() got an unexpected
    keyword argument 'sslmode'`), though `check` found nothing wrong."""
    if "sslmode" in url.query:
        mode = url.query["sslmode"]
        url = url.difference_update_query(["sslmode"])
        if "ssl" not in url.query:
            url = url.update_query_dict({"ssl": mode})
    unknown = sorted(set(url.query) - _DRIVER_OPTIONS)
    if unknown:
        raise StoreError(
            f"the store URL's option {unknown[0]!r} is not one a PostgreSQL store takes: "
            "give search_path, application_name, command_timeout, sslmode (or ssl) or "
            f"another of asyncpg's connect() options ({', '.join(sorted(_DRIVER_OPTIONS))})"
        )
    return url


def make_engine(
    url: str, base_dir: Path | None = None, *, bounded: bool = True, reading: str | None = None
) -> AsyncEngine:
    """An engine for a store URL. `?search_path=NAME` on a PostgreSQL URL keeps the tables in
    that schema (created if missing), so several stores can share one database;
    `?application_name=NAME` names its connections in pg_stat_activity;
    `?command_timeout=SECONDS` bounds each statement (COMMAND_TIMEOUT when not given), unless
    the engine is not `bounded` (a schema upgrade, whose statements may take long).
    `reading`: how a SQLite store's file is opened by a command that only reads it (SQLite's
    URI query, from `store.reading`)."""
    driver_url = _driver_url(url, base_dir)
    connect_args: dict[str, Any] = {}
    ping: float | None = None
    if driver_url.get_backend_name() == "postgresql":
        bound = command_timeout(driver_url)
        driver_url = driver_url.difference_update_query(["command_timeout"])
        # asyncpg's own bounds: every statement, and the opening of a connection.
        connect_args["timeout"] = bound
        connect_args["command_timeout"] = bound if bounded else None
        connect_args["connection_class"] = QuicklyClosed
        ping = min(PING_TIMEOUT, bound)
        # Session settings the URL may carry: `search_path` (the schema of the tables) and
        # `application_name` (how pg_stat_activity names this process's connections).
        settings = {
            key: str(driver_url.query[key])
            for key in ("search_path", "application_name")
            if driver_url.query.get(key)
        }
        if settings:
            driver_url = driver_url.difference_update_query(list(settings))
            connect_args["server_settings"] = settings
        driver_url = _driver_options(driver_url)
    pool: dict[str, Any] = {}
    if ping is not None:
        pool["poolclass"] = PingedPool
    if driver_url.get_backend_name() == "sqlite" and driver_url.database not in (
        None,
        "",
        ":memory:",
    ):
        # A pull holds up to about nine connections at once (the writer, lookups, health and
        # pull rows); with SQLAlchemy's 5 kept, four more were opened and closed on every
        # pull (a thread and the pragmas each, and a cold page cache). An in-memory store
        # has one connection (StaticPool), which takes no size.
        pool["pool_size"] = SQLITE_POOL_SIZE
    engine = create_async_engine(driver_url, connect_args=connect_args, **pool)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["async_creator_fn"] = _open_sqlite
            if reading is not None and cargs:
                cargs[0] = file_uri(Path(cargs[0]), reading)
                cparams["uri"] = True

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # First, so that switching to WAL waits for a process that holds the lock.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            if reading is None:  # not by a reader: see store.reading
                _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # Transactions are begun below, not by the driver, so that SAVEPOINT works and a
            # writer takes the write lock when it begins (BEGIN IMMEDIATE): two writers that
            # read the same row then both write would otherwise fail with "database is locked".
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            options = conn.get_execution_options()
            begin = "BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN"
            if options.get(BEGIN_LATER_OPTION):
                conn.connection.driver_connection.begin_later(begin)
            else:
                conn.exec_driver_sql(begin)

    else:
        event.listen(engine.sync_engine, "handle_error", connection_lost)
        if ping is not None:
            # A PostgreSQL connection can die with its server or the network (a SQLite file
            # cannot, and checking it would cost every read a round trip to the driver's
            # thread). SQLAlchemy's pool_pre_ping asks without a time limit: a connection
            # gone silent without closing held the call for a quarter of an hour. Asked here
            # within `ping`, one that does not answer is replaced with a new one (the
            # pool's DisconnectionError), and the call goes on.
            event.listen(engine.sync_engine, "checkout", pinger(ping))
    return engine


def _switch_to_wal(cursor: Any) -> None:
    """Put the store file in WAL mode, waiting for other processes that open it at once.

    Switching a new file to WAL needs a moment of exclusive access, and SQLite answers
    "database is locked" at once, without its busy wait, when another connection is opening
    the same file: nodes started together on an empty store would fail now and then. The
    switch is retried (the wait yields to the event loop) until the busy timeout; a file
    another connection has already switched needs no switch.
    """
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        await_only(asyncio.sleep(pause))
        pause = min(pause * 2, 0.2)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def first_schema(search_path: str) -> str:
    """The schema a PostgreSQL search_path names first, as PostgreSQL reads it: a name in
    double quotes as written (`""` is one quote), any other folded to lower case (ASCII
    letters only, as PostgreSQL folds), so `?search_path=Syndicator` is schema
    `syndicator`. Creating `Syndicator` instead left the path naming no schema that
    exists, and the store would not open ("no schema has been selected to create in")."""
    path = search_path.lstrip()
    if not path.startswith('"'):
        return re.split(r"[,\s]", path, maxsplit=1)[0].translate(_ASCII_LOWER)
    name, i = [], 1
    while i < len(path):
        if path[i] == '"':
            if path[i + 1 : i + 2] != '"':
                break
            i += 1
        name.append(path[i])
        i += 1
    return "".join(name)


WRITE_OPTION = "syndicator_write"


# On SQLite, a transaction begun with this option sends its BEGIN with its first statement
# (`store.sqlite.Connection.begin_later`): for transactions whose first statement comes at
# once and that raise any error of theirs as their statements' (an ingest).
BEGIN_LATER_OPTION = "syndicator_begin_later"


async def _open_sqlite(*args: Any, **kwargs: Any) -> Any:
    """aiosqlite's connect (with `store.sqlite`'s cursors: one trip to the connection's
    thread a statement), waiting for the connection's thread to end when it fails.

    After a failed connect (a folder where the file should be, a file it may not read)
    aiosqlite tells its thread to stop but does not wait for it; a thread still stopping when
    the event loop closes fails on the closed loop, in whatever runs next.
    """
    from syndicator.store import sqlite

    connection = sqlite.connect(*args, **kwargs)
    thread = connection._thread
    thread.daemon = True  # as SQLAlchemy's own connect does: never hold the interpreter's exit
    try:
        return await connection
    except BaseException:
        for _ in range(5000):  # at most 5 s; it takes microseconds
            if not thread.is_alive():
                break
            await asyncio.sleep(0.001)
        raise


def driver_said(exc: BaseException, timeout: float | None = None) -> str:
    """What the database said, without SQLAlchemy's wrapping: its class in parentheses
    before, and a second line, "(Background on this error at: https://sqlalche.me/...)",
    after, which broke a message an operator reads in one line (and a log event's text).

    A server that took the connection and never answered says nothing: asyncpg's connect
    gives up with a bare TimeoutError, whose text is empty, and the operator read
    `cannot open store URL: ` and nothing after it. That is said as what it is, within
    `timeout` seconds when the caller knows them."""
    orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else None
    cause = orig if orig is not None else exc
    if isinstance(cause, TimeoutError) and not str(cause):
        within = f"{timeout:g} s" if timeout is not None else "the command timeout"
        return f"the server did not answer within {within}"
    return str(orig) if orig is not None and str(orig) else str(exc)


# What SQLite says when it may not write what a reader must write too: in WAL mode, every
# connection writes the `-shm` file beside the store (and makes it, and the `-wal` file,
# when no other connection has).
_NO_ACCESS = ("attempt to write a readonly database", "unable to open database file")
# What SQLite says when its disk is full: "database or disk is full" on a write, and "disk
# I/O error" when it cannot grow the `-shm` file it maps as it opens the store.
_DISK_FULL = ("database or disk is full", "disk I/O error")
# Less room than this on the store's disk, and a write that failed: the disk is full.
_ROOM = 1024 * 1024
# How a full disk is named, by every command and by a pull that meets one.
DISK_FULL = "the disk that holds the store is full"
# PostgreSQL's SQLSTATE for a full disk (disk_full).
PG_DISK_FULL = "53100"


def access_problem(path: Path, error: BaseException, *, read_only: bool = False) -> str | None:
    """One line naming a SQLite store this user may not read or write, when `error` is what
    SQLite said of it; None when the error is another one, or the file and folder look
    writable. A user without write access to the store's folder cannot even read a store no
    other process holds open, and SQLite's "attempt to write a readonly database" said
    neither which file nor why. A disk mounted read-only (as the kernel remounts one it
    found errors on) or full is named as such: "read-only to this user" sent the operator
    to chmod, "disk I/O error" to the disk's health. `read_only`: the store was opened only
    to be read (as `store.reading` says), which needs no write access."""
    said = str(error)
    if not any(words in said for words in (*_NO_ACCESS, *_DISK_FULL)):
        return None
    if (left := cut_short(path)) is not None:
        return left
    where = os.path.abspath(path)
    try:
        disk = os.statvfs(os.path.dirname(where))
    except OSError:
        disk = None
    if disk is not None and disk.f_flag & os.ST_RDONLY:
        return (
            f"{where}: the disk that holds the store is mounted read-only (the store needs"
            " to write the file and the -wal and -shm files beside it)"
        )
    if any(words in said for words in _DISK_FULL):
        if disk is not None and disk.f_bavail * disk.f_frsize < _ROOM:
            return f"{where}: {DISK_FULL} (no space left on device)"
        return None
    if not os.access(path, os.R_OK):
        needs = (
            "read access to the file and its folder"
            if read_only
            else "read and write access to the file, and write access to its folder"
        )
        return f"{where}: store is unreadable to this user (needs {needs})"
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        return (
            f"{where}: store is read-only to this user (needs write access to the file and"
            " its folder)"
        )
    return None
