"""PostgreSQL connections killed under running pulls (a failover, an operator's
pg_terminate_backend, a proxy restart): each pull either works or fails with a StoreError that
says so, never with a connection two tasks were using at once, and a clean pull afterwards
leaves every article stored exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import func, select

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import open_store
from syndicator.store.schema import article_aliases, article_sections, articles

from .engines import Schemas, postgres_base
from .sites import Site, SiteArticle

ROUNDS = 12
BUSY = "another operation"  # asyncpg: "another operation (2) is in progress"


def pull_tasks() -> list[asyncio.Task[object]]:
    """Tasks running a step of a pull (SourcePull's own coroutines), still not done."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t.get_coro().__qualname__.startswith("SourcePull.")  # type: ignore[union-attr]
    ]


async def kill_storm(base: str, name: str, stop: asyncio.Event) -> int:
    """Terminate every connection named `name` again and again until told to stop."""
    killed = 0
    conn = await asyncpg.connect(base)
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                name,
            )
            killed += sum(1 for r in rows if r[0])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.03)
    finally:
        await conn.close()
    return killed


async def test_pulls_through_a_storm_of_killed_connections_lose_and_duplicate_nothing(
    site: Site, fetcher: Fetcher, write_config: Callable[[str], Config]
) -> None:
    base = postgres_base()
    schemas = Schemas(base)
    name = f"storm-{secrets.token_hex(4)}"
    url = f"{schemas.url()}&application_name={name}"
    config = write_config(site.config_yaml(url))
    store = await open_store(url)
    stop = asyncio.Event()
    storm = asyncio.create_task(kill_storm(base, name, stop))
    outcomes: list[str] = []
    try:
        published = datetime(2024, 6, 1, 9, tzinfo=UTC)
        for n in range(ROUNDS):
            # Something new on the site every round, so that every pull writes.
            site.publish(
                SiteArticle(
                    id=1000 + n,
                    section=site.sections[0],
                    title=f"Storm round {n}: ministers meet again over the budget",
                    paragraphs=[f"Round {n} of talks opened with a statement on the budget."] * 3,
                    published=published + timedelta(hours=n),
                )
            )
            try:
                report = await pull_source("news", config, fetcher, store)
            except StoreError as exc:
                if "another operation" in str(exc):
                    import traceback

                    traceback.print_exception(exc.__context__)
                outcomes.append(f"store error: {exc}")
                continue
            outcomes.append("; ".join(report.errors) or "ok")
        stop.set()
        killed = await storm
        assert killed > 0, "the storm killed no connection: the test tested nothing"
        assert not any(BUSY in o for o in outcomes), outcomes

        # Calm again: one clean pull stores whatever the storm kept out.
        final = await pull_source("news", config, fetcher, store)
        assert final.failed == 0, final.errors
        async with store.engine.connect() as conn:
            stored = (await conn.execute(select(articles.c.url))).scalars().all()
            sections = (
                await conn.execute(select(func.count()).select_from(article_sections))
            ).scalar_one()
            aliases = (
                await conn.execute(select(func.count()).select_from(article_aliases))
            ).scalar_one()
        expected = {site.canonical + a.path for a in site.articles}
        assert sorted(stored) == sorted(expected)  # each once: nothing lost, nothing twice
        assert sections == sum(len(a.sections) for a in site.articles)
        assert aliases >= len(expected)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await storm
        await store.close()
        await schemas.drop()
