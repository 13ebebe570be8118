"""A web node learns that another process wrote: NOTIFY on PostgreSQL, polling on SQLite."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from syndicator.cluster import ChangeWatcher
from syndicator.config import Config
from syndicator.feeds import FeedBook
from syndicator.store import open_store
from syndicator.store.changes import listening

from .engines import candidate

ORIGIN = "https://news.example"
CONFIG = """service:
  store: "{url}"
sections:
  world: {{title: World}}
sources:
  news:
    title: News
    canonical: https://news.example
    sections:
      world: {{page: /world}}
"""


async def titles(book: FeedBook) -> list[str]:
    return [i["title"] for i in json.loads((await book.get("world", "json")).body)["items"]]


async def test_web_node_rerenders_after_another_process_writes(
    engine_url: str, write_config: Callable[[str], Config]
) -> None:
    config = write_config(CONFIG.format(url=engine_url))
    web_store = await open_store(engine_url)
    writer = await open_store(engine_url)
    stop = asyncio.Event()
    try:
        book = FeedBook(config, web_store)
        # On PostgreSQL the web node never polls here: only a notification can wake it.
        poll = 3600.0 if web_store.is_postgres else 0.05
        watcher = asyncio.create_task(ChangeWatcher(book, web_store, poll).run(stop))
        assert await titles(book) == []
        await asyncio.sleep(0.2)  # the watcher is listening
        await writer.ingest(candidate(1), ORIGIN)
        for _ in range(100):
            if await titles(book) == ["Article number 1"]:
                break
            await asyncio.sleep(0.05)
        assert await titles(book) == ["Article number 1"]
        stop.set()
        await watcher
    finally:
        await web_store.close()
        await writer.close()


async def test_notifications_name_the_changed_sections(engine_url: str) -> None:
    store = await open_store(engine_url)
    try:
        if not store.is_postgres:
            try:
                async with listening(store):
                    raise AssertionError("SQLite cannot listen")
            except ValueError as exc:
                assert "PostgreSQL" in str(exc)
            return
        other = await open_store(engine_url)
        try:
            async with listening(store) as sub:
                await other.ingest(candidate(1, sections=("world", "africa")), ORIGIN)
                await asyncio.wait_for(sub.changed.wait(), timeout=10)
                assert sub.sections == {"world", "africa", "all"}
        finally:
            await other.close()
    finally:
        await store.close()
