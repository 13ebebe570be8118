"""A web node learns that another process wrote: NOTIFY on PostgreSQL, polling on SQLite."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.serve.cluster import ChangeWatcher
from syndicator.store import open_store
from syndicator.store.changes import listening
from syndicator.store.health import MirrorStore

from .engines import Schemas, candidate, postgres_base
from .proxies import Relay

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


async def test_readers_get_the_last_document_while_a_changed_section_renders_again(
    tmp_path: Path, write_config: Callable[[str], Config]
) -> None:
    """A pull in another process holds the SQLite write lock while it stores; dating the
    section's new document waits for that lock. Readers are meanwhile served the document
    as it was, at once, and the new one when it is ready."""
    db = tmp_path / "store.db"
    config = write_config(CONFIG.format(url=f"sqlite:///{db}"))
    store = await open_store(config.service.store)
    try:
        book = FeedBook(config, store)
        await store.ingest(candidate(1), ORIGIN)
        await book.sync_versions()
        before = await book.get("world", "json")
        await store.ingest(candidate(2), ORIGIN)  # another process's pull stores one
        puller = sqlite3.connect(db, isolation_level=None)
        try:
            puller.execute("BEGIN IMMEDIATE")  # ... and is storing the next
            sync = asyncio.create_task(book.sync_versions())
            await asyncio.sleep(0.5)
            served = await asyncio.wait_for(book.get("world", "json"), timeout=0.2)
            assert served is before
            assert not sync.done()  # the new document waits for the write lock
        finally:
            puller.execute("ROLLBACK")
            puller.close()
        assert "world" in await asyncio.wait_for(sync, timeout=10)
        assert await titles(book) == ["Article number 2", "Article number 1"]
    finally:
        await store.close()


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


async def test_a_mirror_change_bumps_sections_and_is_heard_by_web_nodes(engine_url: str) -> None:
    """A pull that moves a source's links to another mirror bumps its sections: the counters
    move, Last-Modified only when asked, and on PostgreSQL the web nodes are told."""
    store = await open_store(engine_url)
    other = await open_store(engine_url)
    first = datetime(2024, 3, 1, tzinfo=UTC)
    try:
        await store.ingest(candidate(1, sections=("world",)), ORIGIN, first)
        before = await store.section_versions()
        await MirrorStore(other).bump_sections(["world"], first + timedelta(hours=1))
        after = await store.section_versions()
        assert after["world"] == before["world"] + 1 and after["all"] == before["all"] + 1
        assert (await store.section_changed_at())["world"] == first
        await MirrorStore(other).bump_sections(
            ["world"], first + timedelta(hours=2), changed_at=True
        )
        assert (await store.section_changed_at())["world"] == first + timedelta(hours=2)
        if not store.is_postgres:
            return
        async with listening(store) as sub:
            await MirrorStore(other).bump_sections(["world"], first + timedelta(hours=3))
            for _ in range(100):
                if sub.changed.is_set():
                    break
                await asyncio.sleep(0.05)
            assert sub.changed.is_set(), "no notification: web nodes wait for their next poll"
            assert sub.sections == {"world", "all"}
    finally:
        await store.close()
        await other.close()


async def test_a_change_that_lands_while_the_web_node_looks_is_not_missed(
    engine_url: str, write_config: Callable[[str], Config]
) -> None:
    """A write committed while the web node is still busy with its last look (rendering
    the sections that moved, refreshing its status: `after_sync`) is followed too, at once.
    On PostgreSQL its notification was dropped with the next wait's reset, and the node
    showed the old feed until its fallback look a minute later."""
    config = write_config(CONFIG.format(url=engine_url))
    web_store = await open_store(engine_url)
    writer = await open_store(engine_url)
    stop = asyncio.Event()
    looks = 0

    async def busy_look() -> None:
        nonlocal looks
        looks += 1
        if looks == 2:
            # The first change is being shown; the pull's next write lands meanwhile.
            await writer.ingest(candidate(2), ORIGIN)
            await asyncio.sleep(0.3)

    book = FeedBook(config, web_store)
    poll = 3600.0 if web_store.is_postgres else 0.05
    watcher = asyncio.create_task(
        ChangeWatcher(book, web_store, poll, after_sync=busy_look).run(stop)
    )
    try:
        assert await titles(book) == []
        await asyncio.sleep(0.2)  # the watcher is listening
        await writer.ingest(candidate(1), ORIGIN)
        for _ in range(100):
            if len(await titles(book)) == 2:
                break
            await asyncio.sleep(0.05)
        assert await titles(book) == ["Article number 2", "Article number 1"]
    finally:
        stop.set()
        await watcher
        await web_store.close()
        await writer.close()


async def test_a_change_of_hundreds_of_sections_is_recorded_and_heard(engine_url: str) -> None:
    """Retention or a new feed title changes every section at once. With hundreds of them
    the names passed PostgreSQL's 8,000-byte limit of a notification: the change failed
    ("payload string too long"), so the counters stayed put, web nodes kept serving the
    removed articles and the old titles, and retention said it could not finish."""
    names = {f"section-{n:03d}-{'x' * 40}" for n in range(300)}
    store = await open_store(engine_url)
    other = await open_store(engine_url)
    try:
        before = await store.section_versions()
        if store.is_postgres:
            async with listening(store) as sub:
                await other.mark_changed(names)
                for _ in range(100):
                    if sub.sections >= names:
                        break
                    sub.changed.clear()
                    await asyncio.wait_for(sub.changed.wait(), timeout=10)
                assert sub.sections == {*names, "all"}
        else:
            await other.mark_changed(names)
        after = await store.section_versions()
        assert all(after[name] == before.get(name, 0) + 1 for name in names)
    finally:
        await store.close()
        await other.close()


async def test_a_listening_connection_gone_silent_is_replaced(
    write_config: Callable[[str], Config],
) -> None:
    """PostgreSQL: the web node's listening connection stops carrying anything without
    being closed (a failover behind the same address, a network partition). At its first
    quiet look the node finds it does not answer and listens again on a new one, so it
    follows changes at once again. It used to wait on the dead connection for good, and
    learned of changes only at its look once a minute."""
    schemas = Schemas(postgres_base())
    direct = schemas.url()
    server = make_url(schemas.base)
    relay = Relay(server.host or "127.0.0.1", server.port or 5432)
    await relay.start()
    relayed = direct.replace(f"{server.host}:{server.port}", f"127.0.0.1:{relay.port}")
    config = write_config(CONFIG.format(url=relayed))
    writer = await open_store(direct)
    web_store = await open_store(relayed)
    stop = asyncio.Event()
    book = FeedBook(config, web_store)
    watcher = ChangeWatcher(book, web_store, poll=0.05)
    watcher.fallback, watcher.probe_timeout = 1.0, 0.5
    watching = asyncio.create_task(watcher.run(stop))
    try:
        assert await titles(book) == []
        await asyncio.sleep(0.3)  # the watcher is listening
        # The connections idle in the pool are closed first: only the listening connection
        # is on the path that goes silent, and the others are new ones.
        await web_store.engine.dispose()
        relay.freeze()
        await asyncio.sleep(2.5)  # a quiet look, its probe, and a new listening connection
        await writer.ingest(candidate(1), ORIGIN)
        for _ in range(20):  # within a second: notified, not found at the next look
            if await titles(book) == ["Article number 1"]:
                break
            await asyncio.sleep(0.05)
        assert await titles(book) == ["Article number 1"]
    finally:
        stop.set()
        # A watcher still on the silent connection waits on it to stop listening: closing
        # the relay's connections ends that wait.
        await asyncio.wait({watching}, timeout=5)
        await relay.stop()
        await watching
        await web_store.close()
        await writer.close()
        await schemas.drop()
