"""Hearing about changes other processes wrote: PostgreSQL LISTEN on the store's channel.

Every write that moves a section's change counter also sends NOTIFY on the store's channel
(one channel per schema), delivered when it commits. `listening` holds one connection that
listens and sets an event on each notification. SQLite has no such thing: its readers poll
the change counters, which is one small query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from syndicator.core.errors import StoreError
from syndicator.store.engine import Store

_DRIVER_ERRORS = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass
class Subscription:
    """Set when a notification arrives; `lost` when the listening connection went away."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    sections: set[str] = field(default_factory=set)


@asynccontextmanager
async def listening(store: Store) -> AsyncIterator[Subscription]:
    """LISTEN for the store's change notifications while the block runs (PostgreSQL only)."""
    if not store.is_postgres:
        raise ValueError("change notifications need a PostgreSQL store")
    sub = Subscription()

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        sub.sections.update(s for s in payload.split(",") if s)
        sub.changed.set()

    def gone(_conn: Any) -> None:
        sub.lost.set()
        sub.changed.set()

    try:
        async with store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.add_listener(store.channel, heard)
            driver.add_termination_listener(gone)
            try:
                yield sub
            finally:
                driver.remove_termination_listener(gone)
                if not driver.is_closed():
                    await driver.remove_listener(store.channel, heard)
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"listening for changes: {exc}") from None
