"""Mirror bookkeeping in the store: health rows, the per-pull history the dashboard shows, and
discovered mirrors; on `link_records`, the links each entry point gave when last parsed and
the article lookups the pipeline needs to skip stored pages.

Kept apart from the article store (`engine.py`): it shares the connection, not the ingest
logic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, delete, func, select, update

from syndicator.mirrors.health import MirrorHealth, MirrorPull
from syndicator.store.access import utc
from syndicator.store.link_records import LinkRecords
from syndicator.store.schema import (
    discovered_mirrors,
    mirror_health,
    mirror_history,
)

# How long the per-pull mirror history is kept (the dashboard shows the last week).
HISTORY_DAYS = 14


@dataclass(frozen=True)
class DiscoveredMirror:
    source: str
    origin: str
    status: str  # candidate | adopted | retired (an adopted mirror no longer pulled)
    found_on: str
    first_seen: datetime
    last_seen: datetime
    adopted_at: datetime | None = None
    proof: str | None = None
    # The path prefix it serves the site's paths under ("/en"), learned when adopted.
    path_prefix: str = ""


def _health(row: Any) -> MirrorHealth:
    return MirrorHealth(
        source=row.source,
        mirror=row.mirror,
        state=row.state,
        consecutive_failures=row.consecutive_failures,
        opens=row.opens,
        error_rate=row.error_rate,
        latency=row.latency,
        last_success=utc(row.last_success),
        last_failure=utc(row.last_failure),
        last_error_kind=row.last_error_kind,
        last_error=row.last_error,
        retry_at=utc(row.retry_at),
        successes=row.successes,
        failures=row.failures,
    )


class MirrorStore(LinkRecords):
    """Mirror state on top of an open Store (same engine, same transactions rules)."""

    # --- health ----------------------------------------------------------------------

    async def health(self, source: str | None = None) -> list[MirrorHealth]:
        """Every mirror's health, by source and mirror in code point order: sorted here, as
        the database's collation would order them otherwise on PostgreSQL (en_US puts
        `127.0.0.1:8080` before `127.0.0.10:80`) than on SQLite."""
        query = select(mirror_health)
        if source is not None:
            query = query.where(mirror_health.c.source == source)
        async with self.store.reading("mirror health") as conn:
            rows = [_health(r) for r in await conn.execute(query)]
        return sorted(rows, key=lambda h: (h.source, h.mirror))

    async def save_health(self, rows: Iterable[MirrorHealth], now: datetime) -> None:
        statements = []
        for h in rows:
            values = {
                "state": h.state,
                "consecutive_failures": h.consecutive_failures,
                "opens": h.opens,
                "error_rate": h.error_rate,
                "latency": h.latency,
                "last_success": h.last_success,
                "last_failure": h.last_failure,
                "last_error_kind": h.last_error_kind,
                "last_error": h.last_error,
                "retry_at": h.retry_at,
                "successes": h.successes,
                "failures": h.failures,
                "updated_at": now,
            }
            stmt = self._insert(mirror_health).values(source=h.source, mirror=h.mirror, **values)
            statements.append(
                stmt.on_conflict_do_update(index_elements=["source", "mirror"], set_=values)
            )
        if statements:
            await self._write("mirror health", statements)

    # --- history ---------------------------------------------------------------------

    async def save_history(self, rows: Iterable[MirrorPull], now: datetime) -> None:
        """One row per mirror asked in a pull; rows older than HISTORY_DAYS go."""
        values = [
            {
                "source": r.source,
                "mirror": r.mirror,
                "at": now,
                "successes": r.successes,
                "failures": r.failures,
                "latency": r.latency,
                "state": r.state,
                "error": r.error[:500] if r.error else None,
            }
            for r in rows
        ]
        if not values:
            return
        cutoff = now - timedelta(days=HISTORY_DAYS)
        await self._write(
            "mirror history",
            [
                mirror_history.insert().values(values),
                delete(mirror_history).where(
                    (mirror_history.c.source == values[0]["source"])
                    & (mirror_history.c.at < cutoff)
                ),
            ],
        )

    async def hourly_history(self, since: datetime, hours: int) -> list[MirrorPull]:
        """Every mirror's pulls in the `hours` hours from `since`, summed per hour in the
        database: one MirrorPull per mirror and hour that holds a pull (requests answered and
        failed summed, latency the mean of those measured, `at` the hour's last failure or
        its middle, `state` empty). What the dashboard draws, in rows that stay at most
        mirrors times `hours` however often the sources are pulled: reading every pull of a
        week took seconds at `every: 1s`, on the serving loop. On SQLite an hour's edge is
        placed to the millisecond (its dates hold microseconds, which its date functions
        drop)."""
        since = since.astimezone(UTC)
        at = mirror_history.c.at
        hours_in: ColumnElement[Any]
        if self.store.is_postgres:
            hours_in = func.floor(func.extract("epoch", at - since) / 3600)
        else:
            # SQLite keeps the dates as text, which julianday() reads to the millisecond (as
            # a float of days): whole milliseconds since `since`, rounded, then whole hours by
            # integer division, so a pull on an hour's edge is in the hour it starts.
            start = since.replace(tzinfo=None).isoformat(sep=" ")
            ms = cast(
                func.round((func.julianday(at) - func.julianday(start)) * 86_400_000), Integer
            )
            hours_in = ms // 3_600_000
        hour = cast(hours_in, Integer).label("hour")
        failing = case((mirror_history.c.failures > 0, at))
        query = (
            select(
                mirror_history.c.source,
                mirror_history.c.mirror,
                hour,
                func.sum(mirror_history.c.successes).label("successes"),
                func.sum(mirror_history.c.failures).label("failures"),
                func.avg(mirror_history.c.latency).label("latency"),
                func.max(failing, type_=at.type).label("last_failure"),
            )
            .where(at >= since, at < since + timedelta(hours=hours))
            .group_by(mirror_history.c.source, mirror_history.c.mirror, hour)
        )
        async with self.store.reading("mirror history") as conn:
            rows = sorted(await conn.execute(query), key=lambda r: (r.hour, r.source, r.mirror))
            # By hour, then source and mirror in code point order (see `health`).
            return [
                MirrorPull(
                    source=r.source,
                    mirror=r.mirror,
                    successes=int(r.successes),
                    failures=int(r.failures),
                    latency=None if r.latency is None else float(r.latency),
                    state="",
                    # The latest failure's time, where one failed (the dashboard shows when
                    # the last error was), else the middle of the hour.
                    at=utc(r.last_failure)
                    or since + timedelta(hours=min(max(int(r.hour), 0), hours - 1) + 0.5),
                )
                for r in rows
            ]

    async def history(self, since: datetime) -> list[MirrorPull]:
        """Every mirror's pulls since `since`, oldest first."""
        query = (
            select(mirror_history)
            .where(mirror_history.c.at >= since)
            .order_by(mirror_history.c.at, mirror_history.c.id)
        )
        async with self.store.reading("mirror history") as conn:
            return [
                MirrorPull(
                    source=r.source,
                    mirror=r.mirror,
                    successes=r.successes,
                    failures=r.failures,
                    latency=r.latency,
                    state=r.state,
                    error=r.error,
                    at=utc(r.at),
                )
                for r in await conn.execute(query)
            ]

    # --- discovered mirrors ----------------------------------------------------------

    async def discovered(self, source: str | None = None) -> list[DiscoveredMirror]:
        query = select(discovered_mirrors)
        if source is not None:
            query = query.where(discovered_mirrors.c.source == source)
        async with self.store.reading("discovered mirrors") as conn:
            found = [
                DiscoveredMirror(
                    source=r.source,
                    origin=r.origin,
                    status=r.status,
                    found_on=r.found_on,
                    first_seen=utc(r.first_seen) or datetime.now(UTC),
                    last_seen=utc(r.last_seen) or datetime.now(UTC),
                    adopted_at=utc(r.adopted_at),
                    proof=r.proof,
                    path_prefix=r.path_prefix or "",
                )
                for r in await conn.execute(query)
            ]
        # In code point order on both engines (see `health`).
        return sorted(found, key=lambda d: (d.source, d.first_seen, d.origin))

    async def note_candidates(self, source: str, found: dict[str, str], now: datetime) -> None:
        """Record origins (-> the page that named them) as candidates, or refresh last_seen;
        a retired mirror named again is a candidate again (it has to prove itself anew)."""
        statements = []
        status = discovered_mirrors.c.status
        for origin, page in sorted(found.items()):
            stmt = self._insert(discovered_mirrors).values(
                source=source,
                origin=origin,
                status="candidate",
                found_on=page,
                first_seen=now,
                last_seen=now,
            )
            again = case((status == "retired", "candidate"), else_=status)
            statements.append(
                stmt.on_conflict_do_update(
                    index_elements=["source", "origin"],
                    set_={"last_seen": now, "status": again},
                )
            )
        if statements:
            await self._write("discovered mirrors", statements)

    async def adopt(
        self, source: str, origin: str, proof: str, now: datetime, path_prefix: str = ""
    ) -> None:
        await self._write(
            "adoption of a mirror",
            [
                update(discovered_mirrors)
                .where(
                    (discovered_mirrors.c.source == source)
                    & (discovered_mirrors.c.origin == origin)
                )
                .values(status="adopted", adopted_at=now, proof=proof, path_prefix=path_prefix)
            ],
        )

    async def retire(self, source: str, origin: str) -> None:
        """An adopted mirror is no longer pulled (`mirrors.health.adopted_retired`)."""
        await self._write(
            "retirement of a mirror",
            [
                update(discovered_mirrors)
                .where(
                    (discovered_mirrors.c.source == source)
                    & (discovered_mirrors.c.origin == origin)
                    & (discovered_mirrors.c.status == "adopted")
                )
                .values(status="retired")
            ],
        )
