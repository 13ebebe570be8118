"""The statements that must stay flat as the store grows are served by indexes, on both
engines. Run with -s to read the plans; bench/store.py prints them at a million articles."""

from __future__ import annotations

import pytest

from syndicator.store import Store
from syndicator.store.leases import Leases
from syndicator.store.plans import explain, statements

from .engines import candidate

# What each plan must name: SQLite's EXPLAIN QUERY PLAN and PostgreSQL's EXPLAIN wording.
EXPECTED = {
    "sqlite": {
        "section feed": ["USING COVERING INDEX ix_article_sections_feed (section=?)"],
        "combined feed": ["SCAN articles USING INDEX ix_articles_published"],
        "dedupe lookup": [
            "SEARCH article_hashes USING INDEX sqlite_autoindex_article_hashes_1 (hash=?)",
            "SEARCH articles USING INTEGER PRIMARY KEY (rowid=?)",
        ],
        "lease claim": ["SEARCH source_leases USING INDEX sqlite_autoindex_source_leases_1"],
    },
    "postgresql": {
        "section feed": [
            "Index Only Scan Backward using ix_article_sections_feed on article_sections",
            "Index Scan using articles_pkey on articles",
        ],
        "combined feed": ["Index Scan Backward using ix_articles_published on articles"],
        "dedupe lookup": ["Index Scan using article_hashes_pkey on article_hashes"],
        "lease claim": ["LockRows", "using ix_source_leases_next_due on source_leases"],
    },
}


@pytest.mark.parametrize("name", list(EXPECTED["sqlite"]))
async def test_plan_uses_its_index(engine_store: Store, name: str) -> None:
    names = [f"source-{n}" for n in range(30)]
    await Leases(engine_store, "w", 60).register(names)
    for n in range(1, 8):
        await engine_store.ingest(candidate(n, sections=("world",)), "https://news.example")
    stmt = statements("world", candidate(7).content_hash, names, engine_store.is_postgres)[name]
    plan = await explain(engine_store, stmt, avoid_scans=True)
    print(f"\n{engine_store.engine.dialect.name} plan, {name}:\n{plan}")
    for fragment in EXPECTED[engine_store.engine.dialect.name][name]:
        assert fragment in plan, plan
