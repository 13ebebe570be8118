"""RFC 5005 archive pages stay put: an article that joins a section late goes to the newest
page, and retention empties old pages without renumbering the others. On both engines."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import timedelta

from lxml import html

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store, open_store
from syndicator.store.retention import prune

from .engines import candidate
from .sites import Site
from .test_http import service_config


async def pages_of(book: FeedBook, section: str) -> dict[int, list[str]]:
    """Archive page number -> the ids on it, oldest first."""
    pages = {}
    for page in await book.archive_pages(section):
        doc = await book.archive(section, page, "json")
        pages[page] = [item["id"] for item in reversed(json.loads(doc.body)["items"])]
    return pages


async def walk(book: FeedBook, section: str) -> list[str]:
    """Every id reachable from the subscription document through prev-archive links."""
    seen = [item["id"] for item in json.loads((await book.get(section, "json")).body)["items"]]
    page_urls = {book.archive_urls(section, p)["json"]: p for p in range(1, 100)}
    doc = json.loads((await book.get(section, "json")).body)
    while "next_url" in doc:
        page = page_urls[doc["next_url"]]
        doc = json.loads((await book.archive(section, page, "json")).body)
        seen += [item["id"] for item in doc["items"]]
    return seen


async def test_archive_pages_keep_their_items_through_late_joins_and_retention(
    site: Site, engine_url: str, engine_store: Store, write_config: Callable[[str], Config]
) -> None:
    # pages of two, and the subscription document shows the two newest (test_http's config)
    config = write_config(service_config(site, engine_url))
    book = FeedBook(config, engine_store)
    base = candidate(1).published
    # Stored first, in another section: its article id is lower than all the others'.
    other = candidate(8, sections=("west-asia",), published=base)
    moved = await engine_store.ingest(other, "https://news.example")
    guids = []
    for n in range(1, 7):
        stored = await engine_store.ingest(
            candidate(n, sections=("iran",), published=base + timedelta(hours=n)),
            "https://news.example",
        )
        guids.append(stored.guid)
    before = await pages_of(book, "iran")
    assert before == {1: guids[0:2], 2: guids[2:4], 3: guids[4:6]}

    # Late joins: an article published before all the others, and the one stored first,
    # in another section, that the publisher now lists in this one too.
    old = await engine_store.ingest(
        candidate(7, sections=("iran",), published=base - timedelta(days=3)),
        "https://news.example",
    )
    again = await engine_store.ingest(
        candidate(8, sections=("west-asia", "iran"), published=base), "https://news.example"
    )
    assert (again.outcome, again.guid) == ("duplicate", moved.guid)
    book.invalidate()
    after = await pages_of(book, "iran")
    assert {p: after[p] for p in before} == before  # the served pages did not move
    assert after[4] == [old.guid, moved.guid]
    # Every item is reachable (the subscription document repeats the newest ones) and on
    # exactly one archive page.
    assert set(await walk(book, "iran")) == {*guids, old.guid, moved.guid}
    on_pages = [g for ids in after.values() for g in ids]
    assert len(on_pages) == len(set(on_pages)) == 8

    # Retention keeps the section's three newest (by publication): the others go, each
    # page keeps its number and whatever of its items remain.
    report = await prune(engine_store, days=None, items=3, keep=2)
    assert "iran" in report.sections
    book.invalidate()
    pruned = await pages_of(book, "iran")
    kept = set(guids[3:6])
    # Page 1 lost all its items: the walk stops at page 2. Page 4 (the late joins, both
    # published long ago) is emptied too but stays, an empty link in the chain.
    assert pruned == {p: [g for g in ids if g in kept] for p, ids in after.items() if p >= 2}
    assert pruned[2] == [guids[3]] and pruned[3] == guids[4:6] and pruned[4] == []
    assert set(await walk(book, "iran")) == kept
    # The section's HTML page links each page under its own number.
    page = html.fromstring(await book.section_html("iran"))
    links = [(a.text, a.get("href")) for a in page.xpath("//a[contains(@href, '/archive/')]")]
    assert links == [(str(n), book.archive_urls("iran", n)["atom"]) for n in (2, 3, 4)]


async def test_the_all_feed_pages_keep_their_items_when_an_id_is_given_again(
    site: Site, engine_url: str, engine_store: Store, write_config: Callable[[str], Config]
) -> None:
    config = write_config(service_config(site, engine_url))
    book = FeedBook(config, engine_store)
    base = candidate(1).published
    guids = []
    for n in range(1, 4):
        stored = await engine_store.ingest(
            candidate(n, sections=("iran",), published=base + timedelta(days=n)),
            "https://news.example",
        )
        guids.append(stored.guid)
    # The last stored is a backfill from long ago: retention by age removes it, and
    # SQLite gives its id, the highest, to the next article stored.
    old = await engine_store.ingest(
        candidate(4, sections=("iran",), published=base - timedelta(days=400)),
        "https://news.example",
    )
    before = await pages_of(book, "all")
    assert before == {1: guids[0:2], 2: [old.guid, guids[2]]}  # oldest published first
    report = await prune(engine_store, days=300, items=None, keep=2, now=base + timedelta(days=5))
    assert report.articles == 1
    new = await engine_store.ingest(
        candidate(5, sections=("iran",), published=base + timedelta(days=5)),
        "https://news.example",
    )
    book.invalidate()
    after = await pages_of(book, "all")
    assert after == {1: guids[0:2], 2: [guids[2]]}  # the new article is not on page 2
    assert new.guid in await walk(book, "all")


async def test_two_nodes_ending_pulls_at_once_number_each_article_once(
    site: Site, engine_url: str, write_config: Callable[[str], Config]
) -> None:
    """Two workers' pulls that end together each number the articles that arrived: the
    numbers of `all` (which every pull touches) run 1..n with no hole, so every complete
    archive page keeps its items. On PostgreSQL the second writer read the unnumbered
    articles before it waited for the first's lock, then numbered them again: `all` had
    holes, and items left pages already complete."""
    config = write_config(service_config(site, engine_url))
    nodes = [await open_store(engine_url), await open_store(engine_url)]
    try:
        n = 0
        for _ in range(10):
            for node in nodes:
                for _ in range(3):  # a pull stores its articles unnumbered, then numbers them
                    n += 1
                    await node.ingest(
                        candidate(n, sections=("iran",)), "https://news.example", number=False
                    )
            await asyncio.gather(*(node.number_arrivals({"iran"}) for node in nodes))
        for section in ("all", "iran"):
            assert await nodes[0].archive_extent(section) == (1, n)
            numbered = await nodes[0].section_slice(section, 1, n)
            assert len(numbered) == n  # each number given once, none skipped
        book = FeedBook(config, nodes[0])
        pages = await pages_of(book, "all")
        assert list(pages) == list(range(1, n // 2 + 1))
        assert all(len(ids) == 2 for ids in pages.values())
        assert len({guid for ids in pages.values() for guid in ids}) == n
    finally:
        for node in nodes:
            await node.close()


async def test_a_pull_cut_off_leaves_no_article_out_of_every_document(
    site: Site, engine_url: str, fetcher: Fetcher, write_config: Callable[[str], Config]
) -> None:
    """A pull stopped midway (SIGTERM's drain, a worker that lost its lease or was killed)
    has stored some articles without their archive numbers, which the end of a pull gives.
    The next pull finds those articles stored, nothing new: it numbers them all the same,
    so each is on an archive page or in the feed. Left without numbers, an article older
    than the feed's newest items was in no document at all."""
    config = write_config(service_config(site, engine_url))
    store = await open_store(engine_url)
    try:
        newest = max(site.articles, key=lambda a: a.published)
        site.slow_paths, site.slow_seconds = {newest.path}, 30.0
        pull = asyncio.create_task(pull_source("news", config, fetcher, store))
        for _ in range(200):
            if (await store.section_counts()).get("all") == len(site.articles) - 1:
                break
            await asyncio.sleep(0.05)
        assert (await store.section_counts())["all"] == len(site.articles) - 1
        pull.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pull
        # The slow page is gone from the site (withdrawn, or it fails again): the next pull
        # finds nothing new.
        site.slow_paths = set()
        site.articles.remove(newest)
        report = await pull_source("news", config, fetcher, store)
        assert (report.new, report.failed) == (0, 0), (report.new, report.failed, report.errors)
        count = len(site.articles)
        assert await store.archive_extent("all") == (1, count)
        book = FeedBook(config, store)
        assert len(set(await walk(book, "all"))) == count
    finally:
        await store.close()
        # A cancellation that reaches SQLAlchemy while it closes a connection of the
        # aiosqlite adapter stops that connection's thread (its force close) and leaves its
        # shielded graceful close waiting on the stopped thread: an orphan of the cancelled
        # pull with nothing left to do, which `no_leftover_tasks` saw pending one run in six.
        for task in asyncio.all_tasks():
            if getattr(task.get_coro(), "__qualname__", "").endswith("_terminate_graceful_close"):
                task.cancel()
