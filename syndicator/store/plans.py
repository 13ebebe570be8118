"""Query plans of the statements that must stay flat as the store grows: the section feed,
the combined feed, the dedupe lookup by content hash and the lease claim.

`explain` asks the engine itself (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL) and
returns its lines; nothing is changed (an EXPLAIN ANALYZE of the claim is rolled back).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from syndicator.store.engine import Store, section_feed_query
from syndicator.store.leases import claim_statement
from syndicator.store.schema import article_hashes, articles


def dedupe_lookup(content_hash: str) -> Any:
    """The first question an ingest asks (the same statement `Store.ingest` runs)."""
    return (
        select(articles.c.id, articles.c.guid)
        .join(article_hashes, article_hashes.c.article_id == articles.c.id)
        .where(article_hashes.c.hash == content_hash)
    )


def statements(
    section: str, content_hash: str, sources: list[str], postgres: bool
) -> dict[str, Any]:
    return {
        "section feed": section_feed_query(section, 50),
        "combined feed": section_feed_query("all", 50),
        "dedupe lookup": dedupe_lookup(content_hash),
        "lease claim": claim_statement(
            sources, "explain", datetime.now(UTC), 120, 4, postgres=postgres
        ),
    }


async def explain(
    store: Store, stmt: Any, *, analyze: bool = False, avoid_scans: bool = False
) -> str:
    """The engine's plan for `stmt`. `avoid_scans` (PostgreSQL) asks the planner to read in
    index order wherever an index fits, as it does by itself on a large table (where a scan
    and a sort cost more): it shows which index serves a statement on a small store."""
    async with store.engine.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        args = tuple(params[k] for k in compiled.positiontup or [])
        if store.is_postgres:
            if avoid_scans:
                for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                    await conn.exec_driver_sql(f"SET LOCAL {setting} = off")
            options = "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "COSTS OFF"
            result = await conn.exec_driver_sql(f"EXPLAIN ({options}) {compiled}", args)
            rows: list[Any] = list(result)
            lines = [row[0] for row in rows]
        else:
            args = tuple(
                a.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(a, datetime) else a for a in args
            )
            result = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args)
            rows = list(result)
            lines = [row[3] for row in rows]  # (id, parent, unused, detail)
        await conn.rollback()
    # A long list of source names says nothing about the plan: keep its first two.
    return re.sub(r"\{([^,{}]+,[^,{}]+),[^{}]*\}", r"{\1,...}", "\n".join(lines))
