"""What the store holds per section, for status, metrics and readiness: item counts, the
newest item's date and the last change; and a cheap check that the store answers at all.

Read-only queries over the article tables; it never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from syndicator.core.errors import StoreError
from syndicator.core.models import ALL_SECTION
from syndicator.store.connect import driver_said
from syndicator.store.engine import Store
from syndicator.store.schema import article_sections, articles, section_versions


@dataclass(frozen=True)
class SectionStats:
    section: str
    items: int
    # When the newest item appeared: its publication date, but never later than when it was
    # first seen (a publisher's date in the future must not hide a stale section).
    newest: datetime | None
    changed_at: datetime | None


def _utc(moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite returns aggregates of dates as text
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def ping(store: Store) -> None:
    """Raise StoreError unless the store answers a trivial query, from the file it was
    opened on."""
    store.check_file()
    try:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"store does not answer: {getattr(exc, 'orig', None) or exc}") from None


async def section_stats(store: Store) -> dict[str, SectionStats]:
    """Stats of every section that holds an item, plus `all`."""
    seen = case(
        (articles.c.published < articles.c.first_seen, articles.c.published),
        else_=articles.c.first_seen,
    )
    per_section = (
        select(article_sections.c.section, func.count(), func.max(seen))
        .join(articles, articles.c.id == article_sections.c.article_id)
        .group_by(article_sections.c.section)
    )
    try:
        async with store.engine.connect() as conn:
            changed = {
                r.section: _utc(r.changed_at)
                for r in await conn.execute(
                    select(section_versions.c.section, section_versions.c.changed_at)
                )
            }
            out = {
                name: SectionStats(name, int(count), _utc(newest), changed.get(name))
                for name, count, newest in await conn.execute(per_section)
            }
            count, newest = (await conn.execute(select(func.count(), func.max(seen)))).one()
    except (SQLAlchemyError, ValueError) as exc:  # ValueError: a damaged stored value
        reason = driver_said(exc)  # not SQLAlchemy's statement
        raise StoreError(f"cannot read section stats: {reason}") from None
    out[ALL_SECTION] = SectionStats(ALL_SECTION, int(count), _utc(newest), changed.get(ALL_SECTION))
    return out
