"""Source leases: which worker pulls which source, so that across every worker of a cluster a
source is pulled by one worker once per interval.

A worker claims a due source by writing its name and an expiry into the source's row, in one
statement that only matches a row nobody holds (or whose holder let it expire); the database
decides between workers that claim at the same instant. While it pulls it renews the expiry;
when it is done it frees the row and sets when the source is next due. A worker that dies
stops renewing, and once the expiry passes any other worker may claim the source.

Times come from the workers' clocks (keep them in sync, as NTP does); a lease timeout of
minutes leaves room for ordinary skew, and times a worker brings back as written by a clock
that ran ahead (`bound`) are only those beyond that skew. Knows nothing of pulling itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from syndicator.store.access import utc
from syndicator.store.engine import Store
from syndicator.store.schema import source_leases


@dataclass(frozen=True)
class LeaseRow:
    name: str
    holder: str | None
    expires_at: datetime | None
    next_due: datetime
    last_started: datetime | None
    last_finished: datetime | None


def _free(now: datetime) -> Any:
    return or_(source_leases.c.holder.is_(None), source_leases.c.expires_at < now)


def claim_statement(
    names: Sequence[str], holder: str, now: datetime, timeout: float, limit: int, postgres: bool
) -> Any:
    """UPDATE ... RETURNING that takes up to `limit` due, free sources, the most overdue first.

    On PostgreSQL the candidate rows are locked with SKIP LOCKED, so two workers claiming at
    once split the due sources between them instead of queueing on the same rows; SQLite has
    one writer at a time anyway.
    """
    due = and_(
        source_leases.c.name.in_(list(names)),
        source_leases.c.next_due <= now,
        _free(now),
    )
    candidates = select(source_leases.c.name).where(due).order_by(source_leases.c.next_due)
    candidates = candidates.limit(limit)
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    # The subquery has checked and locked the rows: the outer statement only names them.
    return (
        update(source_leases)
        .where(source_leases.c.name.in_(candidates.scalar_subquery()))
        .values(holder=holder, expires_at=now + timedelta(seconds=timeout), last_started=now)
        .returning(source_leases.c.name)
    )


class Leases:
    """The leases one worker (`holder`) takes, renews and frees."""

    def __init__(self, store: Store, holder: str, timeout: float) -> None:
        self.store = store
        self.holder = holder
        self.timeout = timeout

    async def register(self, names: Iterable[str], now: datetime | None = None) -> None:
        """Make sure each source has a row; a new source is due at once."""
        now = now or datetime.now(UTC)
        rows = [{"name": n, "next_due": now} for n in sorted(set(names))]
        if not rows:
            return
        dialect = postgresql if self.store.is_postgres else sqlite
        async with self.store.answering("register sources"), self.store.writing() as conn:
            await conn.execute(dialect.insert(source_leases).on_conflict_do_nothing(), rows)

    async def due_now(self, names: Iterable[str], now: datetime | None = None) -> None:
        """Make these sources due at once (a new config changed them), those nobody holds:
        a source being pulled is made due by whoever pulls it, when its pull ends."""
        names = sorted(set(names))
        if not names:
            return
        now = now or datetime.now(UTC)
        async with self.store.answering("make sources due"), self.store.writing() as conn:
            await conn.execute(
                update(source_leases)
                .where(
                    source_leases.c.name.in_(names),
                    source_leases.c.holder.is_(None),
                    source_leases.c.next_due > now,
                )
                .values(next_due=now)
            )

    async def claim_due(
        self, names: Sequence[str], limit: int, now: datetime | None = None
    ) -> list[str]:
        if not names or limit <= 0:
            return []
        now = now or datetime.now(UTC)
        stmt = claim_statement(names, self.holder, now, self.timeout, limit, self.store.is_postgres)
        async with self.store.answering("claim sources"), self.store.writing() as conn:
            return sorted((await conn.execute(stmt)).scalars())

    async def renew(self, names: Iterable[str], now: datetime | None = None) -> set[str]:
        """Push the expiry of these leases on; returns those still held by this worker."""
        names = sorted(set(names))
        if not names:
            return set()
        now = now or datetime.now(UTC)
        async with self.store.answering("renew leases"), self.store.writing() as conn:
            result = await conn.execute(
                update(source_leases)
                .where(source_leases.c.name.in_(names), source_leases.c.holder == self.holder)
                .values(expires_at=now + timedelta(seconds=self.timeout))
                .returning(source_leases.c.name)
            )
            return set(result.scalars())

    async def bound(
        self, latest_due: Mapping[str, float], now: datetime | None = None
    ) -> list[str]:
        """Bring back the times no clock within the lease timeout of this one (the skew the
        leases allow) could have set: a free source's next due time more than
        `latest_due[name]` seconds (its `every` and jitter window) and the lease timeout
        away (it is due `latest_due[name]` from now, as if pulled now), a held source's
        next due time more than the lease timeout after now (it was due when claimed: due
        now, once its lease is free), and a lease's expiry more than twice the lease
        timeout away (it expires one lease timeout from now). A worker whose clock ran
        ahead wrote them: once NTP stepped it back, or another worker took over, the
        source waited out the step as well (a day ahead, a day more), and a lease such a
        worker held when it died stayed held as long.

        Bounds of this clock alone cut what workers in step wrote when this clock was
        behind theirs: the lease a worker held then expired early, for a third worker to
        take while its holder still pulled, and a source freed was due again before its
        `every` had passed. Returns the sources whose times were brought back."""
        names = sorted(latest_due)
        if not names:
            return []
        now = now or datetime.now(UTC)
        skew = timedelta(seconds=self.timeout)
        c = source_leases.c
        moved: set[str] = set()
        async with self.store.answering("bound lease times"), self.store.writing() as conn:
            for name in names:
                latest = now + timedelta(seconds=latest_due[name])
                result = await conn.execute(
                    update(source_leases)
                    .where(c.name == name, c.holder.is_(None), c.next_due > latest + skew)
                    .values(next_due=latest)
                    .returning(c.name)
                )
                moved.update(result.scalars())
            held = await conn.execute(
                update(source_leases)
                .where(c.name.in_(names), c.holder.is_not(None), c.next_due > now + skew)
                .values(next_due=now)
                .returning(c.name)
            )
            moved.update(held.scalars())
            expiry = now + timedelta(seconds=self.timeout)
            result = await conn.execute(
                update(source_leases)
                .where(c.name.in_(names), c.expires_at > expiry + skew)
                .values(expires_at=expiry)
                .returning(c.name)
            )
            moved.update(result.scalars())
        return sorted(moved)

    async def release(self, name: str, next_due: datetime, now: datetime | None = None) -> bool:
        """Free a lease this worker holds and say when the source is next due."""
        now = now or datetime.now(UTC)
        async with self.store.answering(f"free the lease of {name}"), self.store.writing() as conn:
            result = await conn.execute(
                update(source_leases)
                .where(source_leases.c.name == name, source_leases.c.holder == self.holder)
                .values(holder=None, expires_at=None, next_due=next_due, last_finished=now)
                .returning(source_leases.c.name)
            )
            return result.first() is not None

    async def next_due(self, names: Sequence[str]) -> datetime | None:
        """The earliest time one of these sources is due (held ones count at their expiry)."""
        if not names:
            return None
        async with self.store.reading("when sources are due") as conn:
            due = (
                await conn.execute(
                    select(func.min(source_leases.c.next_due)).where(
                        source_leases.c.name.in_(list(names))
                    )
                )
            ).scalar_one_or_none()
        return utc(due)

    async def rows(self) -> dict[str, LeaseRow]:
        async with self.store.reading("leases") as conn:
            result = await conn.execute(select(source_leases))
            return {
                r.name: LeaseRow(
                    name=r.name,
                    holder=r.holder,
                    expires_at=utc(r.expires_at),
                    next_due=utc(r.next_due) or datetime.now(UTC),
                    last_started=utc(r.last_started),
                    last_finished=utc(r.last_finished),
                )
                for r in result
            }
