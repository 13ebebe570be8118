"""Retention holds for a pull cut short: what it stored is judged before it ends, as for a
whole pull."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from syndicator.core.config import Config
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import run_pull
from syndicator.store import Store
from syndicator.store.pulls import last_pulls
from syndicator.store.retention import prune

from .sites import Site


async def test_a_cancelled_pull_leaves_nothing_the_next_retention_run_removes(
    site: Site,
    fetcher: Fetcher,
    write_config: Callable[..., Config],
    engine_url: str,
    engine_store: Store,
) -> None:
    # items: 1 keeps one article a section. North Africa's older article comes in first and
    # is stored; its newest comes a second later and is stored too, and the pull is stopped
    # right then (SIGTERM's drain, a worker that lost its lease): the older one stayed in the
    # store, beyond what retention promises, until a whole pull or the next retention run.
    north_africa = site.in_section("north-africa")
    newest = max(north_africa, key=lambda a: a.published)
    site.slow_paths = {newest.path}
    site.slow_seconds = 1.0
    yaml = site.config_yaml(engine_url, configured=1)
    yaml = yaml.replace("  max_items: 50\n", "  max_items: 1\n")
    config = write_config(yaml + "retention: {items: 1}\n")
    pulling: asyncio.Task[object] | None = None

    def progress(kind: str, url: str) -> None:
        if kind == "article" and url.endswith(newest.path) and pulling is not None:
            pulling.cancel()

    pulling = asyncio.create_task(
        run_pull("news", config, fetcher, engine_store, progress=progress)
    )
    with pytest.raises(asyncio.CancelledError):
        await pulling
    stored = await engine_store.section_articles("north-africa", 10)
    assert [a.title for a in stored] == [newest.title]
    removed = await prune(engine_store, days=None, items=1, keep=1)
    assert (removed.articles, removed.memberships) == (0, 0)
    # The record of the cancelled pull counts what it kept, not what retention took back.
    record = (await last_pulls(engine_store))["news"]
    assert record.result == "cancelled"
    assert record.new == len(await engine_store.section_articles("all", 10))
