"""Hearing about changes other processes wrote: PostgreSQL LISTEN on the store's channel; and
claiming changes for the WebSub announcement, once whichever process made them.

Every write that moves a section's change counter also sends NOTIFY on the store's channel
(one channel per schema), delivered when it commits. `listening` holds one connection that
listens and sets an event on each notification, and can be asked whether it still answers.
SQLite has no such thing: its readers poll the change counters, which is one small query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from syndicator.core.errors import StoreError
from syndicator.store.engine import Store
from syndicator.store.schema import section_versions

_DRIVER_ERRORS = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def _no_probe(_timeout: float) -> bool:
    return True


@dataclass
class Subscription:
    """Set when a notification arrives; `lost` when the listening connection went away."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    sections: set[str] = field(default_factory=set)
    # Whether the listening connection still answers within a timeout (see `listening`).
    alive: Callable[[float], Awaitable[bool]] = _no_probe


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

            async def alive(timeout: float) -> bool:
                # A connection whose server vanished without closing it (a failover behind
                # the same address, a network partition) hears nothing and reports nothing:
                # only a question shows it. One that does not answer is closed (`lost`).
                try:
                    await asyncio.wait_for(driver.execute("SELECT 1"), timeout)
                    return True
                except (TimeoutError, *_DRIVER_ERRORS):
                    driver.terminate()
                    gone(driver)
                    return False

            sub.alive = alive
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


# --- announcing changes ---------------------------------------------------------------
#
# Every writer records its change by moving the section's counter (section_versions.version);
# `announced` is the value the WebSub hub was last told of. A process that announces claims a
# section's change with one conditional UPDATE before it pings: of several processes that
# learn of the same change (the one that made it, web nodes, a restarted service), exactly
# one wins the claim, so the hub hears of each change once, whoever made it.


async def unannounced(store: Store) -> dict[str, int]:
    """Sections whose change counter moved past what the hub was told: section -> counter."""
    query = select(section_versions.c.section, section_versions.c.version).where(
        section_versions.c.version > section_versions.c.announced
    )
    try:
        async with store.engine.connect() as conn:
            return {row.section: int(row.version) for row in await conn.execute(query)}
    except (*_DRIVER_ERRORS, ValueError) as exc:  # ValueError: a damaged counter
        raise StoreError(f"reading the changes to announce: {exc}") from None


async def claim_announcement(store: Store, section: str, version: int) -> bool:
    """Claim the section's changes up to `version` for announcing: true for the one process
    that moves `announced` there, false when another did already."""
    claim = (
        update(section_versions)
        .where(section_versions.c.section == section, section_versions.c.announced < version)
        .values(announced=version)
    )
    try:
        async with store.writing() as conn:
            return (await conn.execute(claim)).rowcount == 1
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"claiming the announcement of {section}: {exc}") from None


async def release_announcement(store: Store, section: str, version: int) -> None:
    """Undo this process's claim of the section's changes up to `version`: the ping was not
    sent (the hub failed, the service stopped mid-ping), so the change is unannounced again,
    for the next look at the store (the next change, or the next start). A claim another
    process has moved on since is left alone."""
    release = (
        update(section_versions)
        .where(section_versions.c.section == section, section_versions.c.announced == version)
        .values(announced=version - 1)
    )
    try:
        async with store.writing() as conn:
            await conn.execute(release)
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"releasing the announcement of {section}: {exc}") from None
