"""A reload or a pull in the serving process renders the changed sections again while readers
are still answered with the documents they had: no reader waits for a render."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.publish.rendered import RenderedFeed
from syndicator.pull.fetch import Fetcher
from syndicator.pull.scheduler import PullScheduler
from syndicator.store import Store, open_store
from syndicator.web.server import make_app

from .engines import candidate
from .sites import Site
from .test_http import service_config


async def watch(book: FeedBook, section: str, task: asyncio.Future[Any]) -> list[object]:
    """What a reader of `section`'s RSS feed would be handed at each turn of the loop while
    `task` runs, and once it is done (None: it would wait for a render)."""
    seen: list[object] = []
    while not task.done():
        seen.append(book.cached(section, "rss"))
        await asyncio.sleep(0)
    await task
    seen.append(book.cached(section, "rss"))
    return seen


@pytest.fixture
async def iran(
    site: Site, engine_url: str, engine_store: Store, write_config: Callable[[str], Config]
) -> AsyncIterator[tuple[str, FeedBook]]:
    """The test config's text, and a feed book over a store holding three Iran articles."""
    text = service_config(site, engine_url)
    for n in range(1, 4):
        await engine_store.ingest(candidate(n, sections=("iran",)), "https://news.example")
    yield text, FeedBook(write_config(text), engine_store)


# The `inline` fixture: what `serve --pull-inline` runs, after its first pull.
Inline = tuple[Config, FeedBook, PullScheduler]


@pytest.fixture
async def inline(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> Inline:
    """`serve --pull-inline`: the process that answers readers also pulls. The site's
    service config, a feed book over the test's store, and the scheduler that pulls into
    it, once `news` was pulled."""
    config = write_config(service_config(site, store_url))
    book = FeedBook(config, store)
    scheduler = PullScheduler(config, fetcher, store, book)
    await scheduler.pull("news")
    return config, book, scheduler


async def test_a_reload_serves_the_old_documents_until_the_new_ones_are_rendered(
    iran: tuple[str, FeedBook], write_config: Callable[[str], Config]
) -> None:
    text, book = iran
    old = await book.get("iran", "rss")
    assert b"Test news: Iran</title>" in old.body
    await book.get("all", "rss")
    heard: list[set[str]] = []
    seen_by_hub: list[RenderedFeed | None] = []

    def hub_told(changed: set[str]) -> None:
        # What a hub would fetch once told: the new document, already in place.
        heard.append(changed)
        seen_by_hub.append(book.cached("iran", "rss"))

    book.listeners.append(hub_told)

    book.config = write_config(text.replace("{title: Iran}", "{title: Iran and Iraq}"))
    renders = book.renders
    seen = await watch(book, "iran", asyncio.ensure_future(book.config_changed({"iran"})))

    assert len(seen) > 2, "the render finished without the loop turning"
    assert None not in seen, "a reader would have waited for the render"
    assert seen[0] is old
    new = seen[-1]
    assert isinstance(new, RenderedFeed)
    assert b"Test news: Iran and Iraq</title>" in new.body
    assert book.renders == renders + 2  # iran and all, without a reader asking
    assert heard == [{"iran", "all"}]
    assert seen_by_hub == [new]


async def test_a_reload_drops_a_removed_section_at_once(
    iran: tuple[str, FeedBook], write_config: Callable[[str], Config]
) -> None:
    text, book = iran
    await book.get("iran", "rss")
    await book.get("west-asia", "rss")
    assert book.cached("west-asia", "rss") is not None

    kept = "\n".join(line for line in text.splitlines() if "west-asia" not in line)
    book.config = write_config(kept + "\n")
    assert "west-asia" not in book.config.sections
    await book.config_changed({"west-asia"})

    assert book.cached("west-asia", "rss") is None
    assert book.cached("iran", "rss") is not None


async def test_a_pull_in_the_serving_process_keeps_the_feed_answered_while_it_renders(
    site: Site, inline: Inline
) -> None:
    _, book, scheduler = inline
    before = await book.get("iran", "rss")
    iran = next(a for a in site.articles if "iran" in a.sections)

    site.correct(iran, "A correction was added on Tuesday.")
    pull = asyncio.ensure_future(scheduler.pull("news"))
    seen = await watch(book, "iran", pull)

    assert pull.result().updated == 1
    assert None not in seen, "a reader would have waited for the render"
    assert seen[0] is before
    after = seen[-1]
    assert isinstance(after, RenderedFeed) and after is not before
    assert b"A correction was added on Tuesday." in after.body


async def test_a_reload_is_recorded_once_by_the_serving_processes_that_all_reload_it(
    iran: tuple[str, FeedBook], engine_url: str, write_config: Callable[[str], Config]
) -> None:
    # `serve --workers 2`: two serving processes, each with its own book, reload one config.
    text, first = iran
    store = await open_store(engine_url)
    try:
        second = FeedBook(first.config, store)
        for book in (first, second):
            await book.get("iran", "rss")
            await book.get("all", "rss")
        before = await store.section_versions()
        new = write_config(text.replace("{title: Iran}", "{title: Iran and Iraq}"))
        renders = second.renders
        for book in (first, second):
            book.config = new
            await book.config_changed({"iran"})
        after = await store.section_versions()
        assert {s: after[s] - before[s] for s in ("iran", "all")} == {"iran": 1, "all": 1}
        # The second rendered at the first's record: hearing of it renders nothing more.
        await second.sync_versions()
        await second.sync_versions()
        assert second.renders == renders + 2
        # Back to the old config: a change again, recorded (once).
        for book in (first, second):
            book.config = write_config(text)
            await book.config_changed({"iran"})
        assert (await store.section_versions())["iran"] == after["iran"] + 1
    finally:
        await store.close()


async def test_a_reload_to_a_config_recorded_before_a_restart_is_recorded_again(
    iran: tuple[str, FeedBook], write_config: Callable[[str], Config]
) -> None:
    text, book = iran
    old, new = book.config, write_config(text.replace("{title: Iran}", "{title: Iran and Iraq}"))
    book.config = new
    await book.config_changed({"iran"})
    recorded = (await book.store.section_versions())["iran"]
    # The service restarts on the old config, then reloads the new one once more.
    await book.store.config_in_force(old.digest())
    await book.config_changed({"iran"})
    assert (await book.store.section_versions())["iran"] == recorded + 1


async def test_a_look_at_the_counters_while_a_reload_renders_renders_nothing_more(
    iran: tuple[str, FeedBook], write_config: Callable[[str], Config]
) -> None:
    # The serving process polls the counters (or hears a NOTIFY) while it renders the change
    # it just recorded: the counter moved past the documents it is replacing.
    text, book = iran
    await book.get("iran", "rss")
    await book.get("all", "rss")
    book.config = write_config(text.replace("{title: Iran}", "{title: Iran and Iraq}"))
    renders = book.renders
    reload = asyncio.ensure_future(book.config_changed({"iran"}))
    looks = 0
    while not reload.done():
        await book.sync_versions()
        looks += 1
    await reload
    await book.sync_versions()
    assert looks > 1
    assert book.renders == renders + 2  # iran and all, once each


class Statements:
    """Every statement a real store's engine sends to its database, counted."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self._engine = store.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)

    async def during(self, *requests: Any) -> int:
        before = self.count
        await asyncio.gather(*requests)
        return self.count - before


async def test_a_burst_of_section_page_readers_reads_the_store_once_per_change(
    site: Site, store: Store, inline: Inline
) -> None:
    # Section pages read the section's articles, counts, dates and archive pages from the
    # store at every request, where the feeds are rendered once per change: a burst of
    # readers of a page was a burst of queries.
    config, book, scheduler = inline
    statements = Statements(store)
    client = TestClient(TestServer(make_app(book)))
    await client.start_server()

    async def page() -> str:
        response = await client.get("/feeds/iran/")
        assert response.status == 200
        return await response.text()

    try:
        first = await statements.during(page())
        assert first > 0
        # The first readers at once wait for one render, the next ones read nothing.
        burst = await statements.during(*(page() for _ in range(20)))
        assert burst == 0, f"{burst} statements for 20 readers of a page rendered already"
        iran = next(a for a in site.articles if "iran" in a.sections)
        headline = "Talks on the Gulf resume, a correction says"
        modified = site.modified + timedelta(minutes=1)
        site.edit(iran.id, range(len(site.mirrors)), title=headline, modified=modified)
        await scheduler.pull("news")  # renders the changed section again, its page too
        burst = await statements.during(*(page() for _ in range(20)))
        assert burst == 0, f"{burst} statements for 20 readers after the change"
        assert headline in await page(), "the page was not made again after the change"
        # A burst of first readers waits for one render.
        fresh = FeedBook(config, store)
        fresh_client = TestClient(TestServer(make_app(fresh)))
        await fresh_client.start_server()
        try:

            async def cold() -> None:
                assert (await fresh_client.get("/feeds/iran/")).status == 200

            assert await statements.during(*(cold() for _ in range(20))) <= first
        finally:
            await fresh_client.close()
    finally:
        statements.close()
        await client.close()
