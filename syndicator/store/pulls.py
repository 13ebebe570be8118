"""The pull journal in the store: one row per finished pull of a source, and the questions an
operator asks of it (how did each source's last pull go, when did it last succeed, which
sections have been pulled at all).

Only reads and writes the `pulls` table; it knows nothing of how a pull is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from syndicator.core.errors import StoreError
from syndicator.store.connect import driver_said
from syndicator.store.engine import Store
from syndicator.store.schema import pulls

# Results of a pull that reached at least one entry point: its sections count as pulled.
GOOD_RESULTS = ("ok", "partial")
KEEP_PER_SOURCE = 200
# The result of a pull a stop (or a lost lease) cut off.
CANCELLED = "cancelled"


@dataclass(frozen=True)
class PullRecord:
    source: str
    started_at: datetime
    finished_at: datetime
    result: str
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    fetched: int = 0
    sections: tuple[str, ...] = ()
    error: str | None = None

    @property
    def duration(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _record(row: Any) -> PullRecord:
    return PullRecord(
        source=row.source,
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        result=row.result,
        new=row.new,
        updated=row.updated,
        duplicate=row.duplicate,
        failed=row.failed,
        fetched=row.fetched,
        sections=tuple(s for s in row.sections.split(",") if s),
        error=row.error,
    )


async def record_pull(store: Store, record: PullRecord) -> None:
    """Write one finished pull and forget the oldest rows past the last few hundred."""
    store.check_file()
    try:
        async with store.engine.begin() as conn:
            result = await conn.execute(
                pulls.insert().values(
                    source=record.source,
                    started_at=record.started_at,
                    finished_at=record.finished_at,
                    result=record.result,
                    new=record.new,
                    updated=record.updated,
                    duplicate=record.duplicate,
                    failed=record.failed,
                    fetched=record.fetched,
                    sections=",".join(record.sections),
                    error=record.error,
                )
            )
            newest = result.inserted_primary_key[0] if result.inserted_primary_key else None
            if newest is not None and newest % 50 == 0:
                cutoff = (
                    select(pulls.c.id)
                    .where(pulls.c.source == record.source)
                    .order_by(pulls.c.id.desc())
                    .offset(KEEP_PER_SOURCE)
                    .limit(1)
                    .scalar_subquery()
                )
                await conn.execute(
                    delete(pulls).where(pulls.c.source == record.source, pulls.c.id <= cutoff)
                )
    except SQLAlchemyError as exc:
        # The driver's message: SQLAlchemy's adds the statement and its parameters.
        reason = driver_said(exc)
        raise StoreError(f"cannot record the pull of {record.source}: {reason}") from None


async def last_pulls(store: Store) -> dict[str, PullRecord]:
    """The latest pull of every source that was ever pulled: the one started last. A pull
    recorded late (cancelled on a worker that lost its lease, while another worker pulled
    the source again and finished first) is older news than the one that took over."""
    return await _latest_pulls(store)


async def last_completed_pulls(store: Store) -> dict[str, PullRecord]:
    """The latest pull of every source that ran its course (`ok`, `partial` or `failed`):
    the one a restarted schedule counts the source's interval from. A pull a stop cut off
    (`cancelled`) is not: a restart during a pull, as an upgrade makes, then waited a whole
    `every` for the next one, and a new store's /readyz answered 503 all that time."""
    return await _latest_pulls(store, pulls.c.result != CANCELLED)


async def last_good_pulls(store: Store) -> dict[str, PullRecord]:
    """The latest pull of every source that reached at least one entry point."""
    return await _latest_pulls(store, pulls.c.result.in_(GOOD_RESULTS))


async def _latest_pulls(
    store: Store, where: ColumnElement[bool] | None = None
) -> dict[str, PullRecord]:
    """For each source, its pull (among those `where` picks) that started last.

    A pull dated after now was timed by a clock since stepped back (one that ran ahead,
    fixed by NTP): every pull after it is dated before it, and for as long as the clock had
    run ahead (a day) it stayed the last, its `ok` shown over the pulls failing since. It
    counts only when no pull is dated before now."""
    ahead = case((pulls.c.started_at > datetime.now(UTC), 1), else_=0)
    ranked = select(
        pulls.c.id,
        func.row_number()
        .over(
            partition_by=pulls.c.source,
            order_by=(ahead, pulls.c.started_at.desc(), pulls.c.id.desc()),
        )
        .label("rank"),
    )
    if where is not None:
        ranked = ranked.where(where)
    latest = ranked.subquery()
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(pulls).where(pulls.c.id.in_(select(latest.c.id).where(latest.c.rank == 1)))
            )
            return {r.source: _record(r) for r in rows}
    except (SQLAlchemyError, ValueError) as exc:  # ValueError: a damaged stored value
        raise StoreError(f"cannot read pulls: {getattr(exc, 'orig', None) or exc}") from None


async def pulled_sections(store: Store) -> set[str]:
    """Every section some pull that reached an entry point has covered."""
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(pulls.c.sections).where(pulls.c.result.in_(GOOD_RESULTS)).distinct()
            )
            return {s for (text,) in rows for s in text.split(",") if s}
    except (SQLAlchemyError, ValueError) as exc:  # ValueError: a damaged stored value
        raise StoreError(f"cannot read pulls: {getattr(exc, 'orig', None) or exc}") from None
