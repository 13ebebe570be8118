"""How the PostgreSQL store's connections are kept: each asked within a bound before it is
handed out (`pinger`), one the server ended or stopped answering thrown away
(`connection_lost`), a checkout that finds none answering raised as a lost connection
(`PingedPool`), and each closed within a bound (`QuicklyClosed`). Knows no table.
"""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
from sqlalchemy.exc import DisconnectionError, InvalidRequestError, OperationalError
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection
from sqlalchemy.util import await_only

# How long a connection being closed may take to hear the server's goodbye. PostgreSQL
# closes at once; asyncpg waited the whole command timeout (30 s by default) for a server
# that had stopped answering, for each connection of the pool in turn, and SQLAlchemy
# logged each "Exception closing connection" with its traceback.
CLOSE_TIMEOUT = 1.0


class QuicklyClosed(asyncpg.Connection):
    """An asyncpg connection whose close waits at most CLOSE_TIMEOUT for the server's
    goodbye, then drops the connection without a word, as libpq's close does without
    waiting at all: what was committed is committed, and a server that does not answer a
    goodbye has nothing more to say. A store that stopped answering is said by the call
    that met it; its close says nothing more."""

    async def close(self, *, timeout: float | None = None) -> None:
        bound = CLOSE_TIMEOUT if timeout is None else min(timeout, CLOSE_TIMEOUT)
        # On either, asyncpg has dropped the connection (its transport aborted).
        with contextlib.suppress(TimeoutError, OSError):
            await super().close(timeout=bound)


class ConnectionLost(Exception):
    """The PostgreSQL server ended the connection (it was terminated, or the server restarted)."""


def connection_lost(ctx: Any) -> Exception | None:
    """A connection the server ended is thrown away, and the error says so.

    When PostgreSQL terminates a connection (pg_terminate_backend, a restart, a failover) it
    first sends a FATAL error, then closes. Arriving between two statements, the error puts
    asyncpg's connection into "consuming an error" for good, and the next statement on it
    fails with "another operation is in progress": as if two tasks shared the connection,
    though only one holds it (the pool gives each connection to one task at a time). That
    connection is dead: marked as disconnected, the pool discards it (and checks the others
    before handing them out) instead of handing it out again."""
    original = ctx.original_exception
    if "another operation" in str(original) and "is in progress" in str(original):
        ctx.is_disconnect = True
        lost = ConnectionLost("the server closed the connection mid-transaction")
        return OperationalError(ctx.statement, ctx.parameters, lost, connection_invalidated=True)
    if isinstance(original, TimeoutError):
        # asyncpg's command_timeout: the server (or a relay on the way) did not answer. The
        # connection may never answer again: thrown away, not handed out again, and the
        # error is a store error as any other (asyncpg raises a bare TimeoutError).
        ctx.is_disconnect = True
        if ctx.connection is not None and not ctx.connection.invalidated:
            # Closed here at once: the pool's own close would wait for a goodbye.
            ctx.connection.connection.driver_connection.terminate()
        silent = ConnectionLost("no answer from the server within the command timeout")
        return OperationalError(ctx.statement, ctx.parameters, silent, connection_invalidated=True)
    return None


# What a pooled connection's answer to the ping can be when it cannot serve: silent, closed,
# refused by a server shutting down, or left "consuming an error" by the server's FATAL
# message (see `connection_lost`).
_PING_ERRORS = (
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def pinger(timeout: float) -> Any:
    def ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_conn.driver_connection
        try:
            await_only(driver.fetchval("SELECT 1", timeout=timeout))
        except _PING_ERRORS as exc:
            # Closed here at once: the pool's own close would wait for a goodbye.
            driver.terminate()
            raise DisconnectionError(f"no answer within {timeout:g} s: {exc!r}") from exc

    return ping


class PingedPool(AsyncAdaptedQueuePool):
    """The PostgreSQL pool, whose checkout gives up as a lost connection does.

    When the connection it holds does not answer the ping, and neither does the one made to
    replace it (a server killing each connection as it is made, a failover under way),
    SQLAlchemy gives up with "This connection is closed", an InvalidRequestError: to the
    store's callers, who take a DBAPIError for the store failing, that was a crash (a pull
    ended with a traceback instead of a store error in its report). It is raised here as
    the OperationalError of a lost connection, and so is a new connection asyncpg could not
    open (no answer, or refused)."""

    # SQLAlchemy names a pool's logger after its class: this one's module put its notes
    # ("Pool disposed. Pool size: 5 ...", "Pool recreating") in the service's log at info
    # whenever the database could not be reached. They go where the library's own pool's
    # go, which is nowhere unless asked for.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"

    def connect(self) -> PoolProxiedConnection:
        try:
            return super().connect()
        except InvalidRequestError as exc:
            lost = ConnectionLost(f"no connection to the server answered: {exc}")
            raise OperationalError(None, None, lost, connection_invalidated=True) from exc
        except (TimeoutError, OSError) as exc:
            # asyncpg's own, opening a connection to a server that takes it and says
            # nothing (TimeoutError) or that is gone, stopped or restarting (refused): bare,
            # they passed by every store call's handling of the driver's errors, and a pull
            # whose store stopped answering, or went away, ended in a crash.
            raise OperationalError(None, None, exc, connection_invalidated=True) from exc
