"""Retention on both engines: days and items per section, never an item a feed still shows."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import feedparser
import pytest

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.cluster import WorkerNode
from syndicator.serve.retention_job import RETENTION_LEASE, retention_loop
from syndicator.store import Store, open_store
from syndicator.store.health import MirrorStore
from syndicator.store.leases import Leases
from syndicator.store.link_records import ExpiredLink
from syndicator.store.retention import prune

from .engines import Schemas, candidate, postgres_base
from .sites import Site, SiteArticle

ORIGIN = "https://news.example"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    """n days before NOW."""
    return NOW - timedelta(days=n, minutes=1)


async def titles(store, section: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.title for a in await store.section_articles(section, 1000)]


async def test_days_rule_keeps_what_the_feeds_show(engine_store: Store) -> None:
    # "busy": 8 articles, 1..8 days old; "quiet": 2 articles, 40 and 50 days old
    for n in range(1, 9):
        await engine_store.ingest(candidate(n, sections=("busy",), published=day(n)), ORIGIN)
    for n in (40, 50):
        await engine_store.ingest(candidate(n, sections=("quiet",), published=day(n)), ORIGIN)
    before = await engine_store.section_versions()
    report = await prune(engine_store, days=5, items=None, keep=3, now=NOW)
    # busy: those more than 5 days old go (5..8); quiet: both are older, but its feed
    # (3 items) shows them
    assert await titles(engine_store, "busy") == [f"Article number {n}" for n in range(1, 5)]
    assert await titles(engine_store, "quiet") == ["Article number 40", "Article number 50"]
    assert report.articles == 4 and report.sections == {"busy"}
    after = await engine_store.section_versions()
    assert after["busy"] == before["busy"] + 1 and after["quiet"] == before["quiet"]
    # the hashes went with the articles: the same text would be new again
    again = await engine_store.ingest(candidate(8, sections=("busy",), published=day(8)), ORIGIN)
    assert again.outcome == "new"


async def test_items_rule_trims_each_section_and_keeps_shared_articles(engine_store: Store) -> None:
    for n in range(1, 11):  # a: ten articles, 1 newest
        await engine_store.ingest(candidate(n, sections=("a",), published=day(n)), ORIGIN)
    await engine_store.ingest(candidate(20, sections=("b",), published=day(20)), ORIGIN)
    # article 9 is also listed in b, where it is among the newest
    await engine_store.ingest(
        replace(candidate(9, published=day(9)), sections=frozenset({"b"})), ORIGIN
    )
    report = await prune(engine_store, days=None, items=4, keep=2, now=NOW)
    assert await titles(engine_store, "a") == [f"Article number {n}" for n in (1, 2, 3, 4)]
    assert await titles(engine_store, "b") == ["Article number 9", "Article number 20"]
    assert report.memberships == 6 and report.articles == 5
    assert (await engine_store.section_counts())["all"] == 6


async def test_items_rule_changes_only_the_sections_that_lost_items(engine_store: Store) -> None:
    """An article trimmed from one section but kept by another stays, and the section that
    keeps it is not reported or re-rendered as changed."""
    for n in range(1, 11):  # a: ten articles
        await engine_store.ingest(candidate(n, sections=("a",), published=day(n)), ORIGIN)
    await engine_store.ingest(candidate(20, sections=("b",), published=day(20)), ORIGIN)
    # article 9, trimmed from a, is also in b, which keeps it
    await engine_store.ingest(
        replace(candidate(9, published=day(9)), sections=frozenset({"b"})), ORIGIN
    )
    before = await engine_store.section_versions()
    report = await prune(engine_store, days=None, items=4, keep=2, now=NOW)
    assert await titles(engine_store, "b") == ["Article number 9", "Article number 20"]
    assert report.sections == {"a"}
    after = await engine_store.section_versions()
    assert after["b"] == before["b"]
    assert after["a"] == before["a"] + 1 and after["all"] == before["all"] + 1


async def test_items_below_max_items_never_shrink_a_feed(engine_store: Store) -> None:
    for n in range(1, 9):
        await engine_store.ingest(candidate(n, sections=("a",), published=day(n)), ORIGIN)
    await prune(engine_store, days=1, items=1, keep=6, now=NOW)
    assert await titles(engine_store, "a") == [f"Article number {n}" for n in range(1, 7)]


def test_db_prune_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from click.testing import CliRunner

    from syndicator.ops.cli import main

    url = f"sqlite:///{tmp_path / 'store.db'}"

    async def fill() -> None:
        store = await open_store(url)
        for n in range(1, 6):
            await store.ingest(candidate(n, sections=("world",), published=day(100 + n)), ORIGIN)
        await store.close()

    asyncio.run(fill())
    config = tmp_path / "syndicator.yaml"
    body = f"""service:\n  store: "{url}"\n  max_items: 2
sections:\n  world: {{title: World}}
sources:
  news:
    title: News
    canonical: https://news.example
    sections:
      world: {{page: /world}}
"""
    config.write_text(body, encoding="utf-8")
    off = CliRunner().invoke(main, ["--config", str(config), "db", "prune"])
    assert off.exit_code == 2 and "retention is off" in off.output
    config.write_text(body + "retention:\n  days: 30\n", encoding="utf-8")
    done = CliRunner().invoke(main, ["--config", str(config), "db", "prune"])
    assert done.exit_code == 0, done.output
    # all five are older than 30 days; the feed shows two, so three go
    assert "removed 3 articles" in done.output


async def test_a_store_that_cannot_answer_is_a_store_error_not_the_retention_jobs_end(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        for n in range(1, 4):
            await store.ingest(candidate(n, sections=("world",), published=day(n)), ORIGIN)
        # A damaged page gives back a date that is no date; the service's retention job
        # catches StoreError and runs again later, while any other error ended it for good.
        with sqlite3.connect(path) as db:
            db.execute("UPDATE article_sections SET published = 'the 3rd of May'")
        with pytest.raises(StoreError, match=r"retention could not finish: .*the 3rd of May"):
            await prune(store, days=None, items=1, keep=1, now=NOW)
    finally:
        await store.close()


async def every_id(book: FeedBook) -> dict[str, set[str]]:
    """The ids of every item a reader can reach per section: its feed and its archive pages."""
    found: dict[str, set[str]] = {}
    for section in book.section_names():
        docs = [await book.get(section, "atom")]
        for page in await book.archive_pages(section):
            docs.append(await book.archive(section, page, "atom"))
        ids = found.setdefault(section, set())
        for doc in docs:
            parsed = feedparser.parse(doc.body)
            assert not parsed.bozo, parsed.get("bozo_exception")
            ids.update(e.id for e in parsed.entries)
    return found


async def test_an_article_retention_removed_is_not_stored_again_while_still_listed(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[..., Config],
    store_url: str,
) -> None:
    # The publisher still lists articles older than retention.days (a sitemap of months, a
    # "most read" list). Each pull stored them anew and each retention run removed them
    # again; one edited before it was removed came back under a new GUID.
    yaml = site.config_yaml(store_url).replace("  max_items: 50\n", "  max_items: 2\n")
    config = write_config(yaml)
    assert (await pull_source("news", config, fetcher, store)).new == len(site.articles)
    oldest = site.articles[0]  # the oldest of North Africa's three: not among its 2 newest
    site.correct(oldest, "The ministry corrected the figures on Wednesday.")
    assert (await pull_source("news", config, fetcher, store)).updated == 1
    kept = await every_id(FeedBook(config, store))

    retained = write_config(yaml + "retention: {days: 30}\n", name="retention.yaml")
    assert retained.retention.days == 30  # every sample article is older than that
    removed = await prune(store, days=30, items=None, keep=2)
    assert removed.articles > 0 and "north-africa" in removed.sections
    after_prune = await every_id(FeedBook(retained, store))
    gone = set().union(*kept.values()) - set().union(*after_prune.values())
    assert gone

    for _ in range(2):
        report = await pull_source("news", retained, fetcher, store)
        assert (report.new, report.updated, report.failed) == (0, 0, 0)
        assert await every_id(FeedBook(retained, store)) == after_prune
        assert (await prune(store, days=30, items=None, keep=2)).articles == 0


async def test_an_article_retention_items_removed_is_not_stored_again_while_still_listed(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[..., Config],
    store_url: str,
) -> None:
    # The same with `items`: a section listing more articles than retention.items keeps (a
    # sitemap of 5,000 links, 1,000 kept) had the older ones stored and removed again.
    yaml = site.config_yaml(store_url).replace("  max_items: 50\n", "  max_items: 1\n")
    config = write_config(yaml)
    assert (await pull_source("news", config, fetcher, store)).new == len(site.articles)
    removed = await prune(store, days=None, items=1, keep=1)
    assert removed.articles > 0
    retained = write_config(yaml + "retention: {items: 1}\n", name="retention.yaml")
    after_prune = await every_id(FeedBook(retained, store))

    for _ in range(2):
        report = await pull_source("news", retained, fetcher, store)
        assert (report.new, report.updated, report.failed) == (0, 0, 0)
        assert await every_id(FeedBook(retained, store)) == after_prune
        assert (await prune(store, days=None, items=1, keep=1)).articles == 0


async def test_a_section_retention_items_left_is_not_given_the_article_again_by_its_listing(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[..., Config],
    store_url: str,
) -> None:
    # An article in two sections: the newest of one, too old for `items` in the other. The
    # rule took it out of the second while the first kept it, and the second's listing gave
    # it back at every pull: that section's feeds moved at every pull and every run.
    site.articles[3].extra_sections = ("north-africa",)  # Iran's older one, North Africa's newest
    yaml = site.config_yaml(store_url).replace("  max_items: 50\n", "  max_items: 1\n")
    config = write_config(yaml)
    assert (await pull_source("news", config, fetcher, store)).new == len(site.articles)
    removed = await prune(store, days=None, items=1, keep=1)
    assert removed.memberships > removed.articles  # one membership went, its article stayed
    retained = write_config(yaml + "retention: {items: 1}\n", name="retention.yaml")
    after_prune = await every_id(FeedBook(retained, store))

    for _ in range(2):
        report = await pull_source("news", retained, fetcher, store)
        assert (report.new, report.failed, report.changed_sections) == (0, 0, set())
        assert await every_id(FeedBook(retained, store)) == after_prune
        assert (await prune(store, days=None, items=1, keep=1)).memberships == 0


async def test_an_article_retention_deletes_while_a_node_stores_its_edit_is_stored_again() -> None:
    """PostgreSQL: retention on one node deletes an article (its chunk's transaction, here
    held open on a connection of its own) while another node stores an edit of it, having
    looked it up before the delete committed. The edit is stored (anew: the article is
    gone), not refused: it was "violates foreign key constraint", a failed article in the
    pull and a `partial` result. SQLite's one writer never interleaves them."""
    schemas = Schemas(postgres_base())
    url = schemas.url()
    try:
        store = await open_store(url)
        try:
            await store.ingest(candidate(1, published=day(400)), ORIGIN)
            edited = replace(
                candidate(1, published=day(400)),
                content_hash=hashlib.blake2b(b"edited", digest_size=32).hexdigest(),
                title="Edited",
            )
            retention = await asyncpg.connect(schemas.base)
            try:
                await retention.execute(f'SET search_path = "{schemas.made[0]}"')
                deleting = retention.transaction()
                await deleting.start()
                assert await retention.execute("DELETE FROM articles") == "DELETE 1"
                storing = asyncio.create_task(store.ingest(edited, ORIGIN))
                await asyncio.sleep(0.3)  # it looked the article up and waits for our rows
                await deleting.commit()
                result = await storing
            finally:
                await retention.close()
            assert result.outcome == "new"
            assert await titles(store, "world") == ["Edited"]
        finally:
            await store.close()
    finally:
        await schemas.drop()


RETENTION_CONFIG = """service:
  store: "{url}"
  max_items: 1
cluster: {{lease_timeout: 1s, poll: 100ms}}
retention: {{days: 30, every: 1h}}
sections:
  world: {{title: World}}
sources:
  news:
    title: News
    canonical: https://news.example
    sections:
      world: {{page: /world}}
"""


async def test_a_retention_round_longer_than_its_lease_runs_on_one_node(
    write_config: Callable[[str], Config],
) -> None:
    """A retention round that takes longer than `cluster.lease_timeout` (a large store's
    first round; here its deletes wait for a row lock another transaction holds) keeps its
    lease: the other workers do not start the same round beside it. Its lease was never
    renewed, and after each timeout one more node ran the round at once."""
    schemas = Schemas(postgres_base())
    url = schemas.url()
    try:
        config = write_config(RETENTION_CONFIG.format(url=url))
        store = await open_store(url)
        stop = asyncio.Event()
        holders: set[str | None] = set()
        try:
            for n in range(1, 6):
                await store.ingest(candidate(n, published=NOW - timedelta(days=400 - n)), ORIGIN)
            blocker = await asyncpg.connect(schemas.base)
            try:
                await blocker.execute(f'SET search_path = "{schemas.made[0]}"')
                holding = blocker.transaction()
                await holding.start()
                await blocker.execute("SELECT id FROM articles WHERE id = 1 FOR UPDATE")
                nodes = [
                    asyncio.create_task(retention_loop(config, store, stop, holder))
                    for holder in ("node-a", "node-b", "node-c")
                ]
                leases = Leases(store, "observer", 1.0)
                for _ in range(50):  # 2.5 s: more than twice the lease timeout
                    row = (await leases.rows()).get(RETENTION_LEASE)
                    holders.add(row.holder if row is not None else None)
                    await asyncio.sleep(0.05)
                await holding.rollback()
            finally:
                await blocker.close()
            for _ in range(100):
                if (await store.section_counts())["all"] == 1:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*nodes)
            assert len(holders - {None}) == 1, holders
            assert await titles(store, "world") == ["Article number 5"]
        finally:
            stop.set()
            await store.close()
    finally:
        await schemas.drop()


async def test_an_expired_article_still_listed_is_fetched_once_not_at_every_pull(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[..., Config],
    store_url: str,
) -> None:
    # A sitemap of months or a "most read" list keeps listing articles retention removed.
    # Each pull fetched every one of them from the mirrors and extracted it, only to leave it
    # out again: one fetch tells the pull it is expired, until its listing says it changed.
    yaml = site.config_yaml(store_url).replace("  max_items: 50\n", "  max_items: 2\n")
    config = write_config(yaml)
    assert (await pull_source("news", config, fetcher, store)).new == len(site.articles)
    retained = write_config(yaml + "retention: {days: 30}\n", name="retention.yaml")
    assert (await prune(store, days=30, items=None, keep=2)).articles > 0
    after_prune = await every_id(FeedBook(retained, store))
    stored = await MirrorStore(store).stored_state(
        [f"{site.canonical}{a.path}" for a in site.articles]
    )
    removed = [a for a in site.articles if f"{site.canonical}{a.path}" not in stored]
    assert removed

    def fetched(articles: list[SiteArticle]) -> list[str]:
        paths = {a.path for a in articles}
        return [r.path for r in site.all_requests() if r.path in paths]

    def clear_logs() -> None:
        for mirror in site.mirrors:
            mirror.requests.clear()

    clear_logs()
    first = await pull_source("news", retained, fetcher, store)
    assert (first.new, first.updated, first.failed) == (0, 0, 0)
    assert set(fetched(removed)) == {a.path for a in removed}  # found expired, once

    for _ in range(2):
        clear_logs()
        again = await pull_source("news", retained, fetcher, store)
        assert (again.new, again.updated, again.failed) == (0, 0, 0)
        assert again.skipped >= len(removed)
        assert fetched(removed) == []
        assert await every_id(FeedBook(retained, store)) == after_prune

    # The listing says one changed (a newer updated time): fetched again, still expired.
    edited = removed[0]
    site.correct(edited, "The ministry corrected the figures on Wednesday.")
    clear_logs()
    report = await pull_source("news", retained, fetcher, store)
    assert (report.new, report.updated, report.failed) == (0, 0, 0)
    assert set(fetched(removed)) == {edited.path}
    clear_logs()
    await pull_source("news", retained, fetcher, store)
    assert fetched(removed) == []

    # The operator keeps ten years now: the rules no longer remove them, and they are stored.
    decade = write_config(yaml + "retention: {days: 3650}\n", name="decade.yaml")
    clear_logs()
    back = await pull_source("news", decade, fetcher, store)
    assert back.new == len(removed)


async def test_expired_links_are_kept_while_listed_and_forgotten_after_a_month(
    engine_store: Store,
) -> None:
    mirrors = MirrorStore(engine_store)
    listed = "https://news.example/Detail/2024/01/01/1/listed"
    gone = "https://news.example/Detail/2024/01/01/2/gone"
    for url in (listed, gone):
        await mirrors.save_expired_link(url, ExpiredLink(day(90), day(89)), day(40))
    assert await mirrors.expired_links([listed, gone, ORIGIN]) == {
        listed: ExpiredLink(day(90), day(89)),
        gone: ExpiredLink(day(90), day(89)),
    }
    await mirrors.saw_expired_links([listed], day(1))  # still listed yesterday
    # The retention run forgets links no pull has seen listed for 30 days.
    await prune(engine_store, days=5, items=None, keep=3, now=NOW)
    assert list(await mirrors.expired_links([listed, gone])) == [listed]


@pytest.mark.parametrize("rule", ["{items: 1}", "{days: 30}"])
async def test_a_pull_stores_nothing_the_next_retention_run_removes(
    rule: str,
    site: Site,
    fetcher: Fetcher,
    write_config: Callable[..., Config],
    engine_url: str,
    engine_store: Store,
) -> None:
    # A first pull with retention on: each article was judged as it came in, before the
    # newer ones of the same pull were stored (articles are stored as their fetches end),
    # so all were stored, and the next retention run removed half of them again.
    yaml = site.config_yaml(engine_url).replace("  max_items: 50\n", "  max_items: 1\n")
    config = write_config(yaml + f"retention: {rule}\n")
    rules = config.retention
    paths = {a.path for a in site.articles}
    first = await pull_source("news", config, fetcher, engine_store)
    assert first.failed == 0 and 0 < first.new < len(site.articles)
    assert first.new + first.skipped >= len(site.articles)
    shown = await every_id(FeedBook(config, engine_store))
    removed = await prune(engine_store, days=rules.days, items=rules.items, keep=1)
    assert (removed.articles, removed.memberships) == (0, 0)
    assert await every_id(FeedBook(config, engine_store)) == shown

    # Those left out are remembered as expired: the next pull does not fetch them again.
    for mirror in site.mirrors:
        mirror.requests.clear()
    again = await pull_source("news", config, fetcher, engine_store)
    assert (again.new, again.updated, again.failed) == (0, 0, 0)
    assert [r.path for r in site.all_requests() if r.path in paths] == []
    assert await every_id(FeedBook(config, engine_store)) == shown


async def test_a_retention_lease_a_clock_ahead_wrote_is_taken_over_within_its_timeout(
    engine_url: str, engine_store: Store, write_config: Callable[[str], Config]
) -> None:
    # The worker that ran the retention job had a clock a day ahead and died in a round:
    # its lease expired a day later by that clock, and no worker ran the job for the day.
    config = write_config(RETENTION_CONFIG.format(url=engine_url))
    stop = asyncio.Event()
    try:
        for n in range(1, 6):
            await engine_store.ingest(candidate(n, published=NOW - timedelta(days=400 - n)), ORIGIN)
        ahead = datetime.now(UTC) + timedelta(days=1)
        dead = Leases(engine_store, "ahead:1:0a0b0c", 1.0)
        await dead.register([RETENTION_LEASE], now=ahead)
        assert await dead.claim_due([RETENTION_LEASE], 1, now=ahead) == [RETENTION_LEASE]
        node = asyncio.create_task(retention_loop(config, engine_store, stop, "node-a"))
        for _ in range(100):  # 5 s: the lease timeout is 1 s
            if (await engine_store.section_counts())["all"] == 1:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await node
        assert await titles(engine_store, "world") == ["Article number 5"]
        assert (await Leases(engine_store, "observer", 1.0).rows())[RETENTION_LEASE].holder is None
    finally:
        stop.set()


async def test_a_worker_stopped_in_a_long_retention_round_stops_at_once(
    write_config: Callable[[str], Config], fetcher: Fetcher
) -> None:
    # SIGTERM to a worker waited for the retention round under way to end: a large store's
    # first round, or one waiting for a lock, held the stop past systemd's TimeoutStopSec,
    # and the SIGKILL then left the job's lease held until its timeout.
    schemas = Schemas(postgres_base())
    url = schemas.url()
    try:
        config = write_config(RETENTION_CONFIG.format(url=url))
        store = await open_store(url)
        stop = asyncio.Event()
        try:
            for n in range(1, 6):
                await store.ingest(candidate(n, published=NOW - timedelta(days=400 - n)), ORIGIN)
            blocker = await asyncpg.connect(schemas.base)
            try:
                await blocker.execute(f'SET search_path = "{schemas.made[0]}"')
                holding = blocker.transaction()
                await holding.start()
                await blocker.execute("SELECT id FROM articles WHERE id = 1 FOR UPDATE")
                node = WorkerNode(config, store, fetcher)
                running = asyncio.create_task(node.run(stop))
                leases = Leases(store, "observer", 1.0)
                for _ in range(100):  # the round has begun: its lease is held
                    row = (await leases.rows()).get(RETENTION_LEASE)
                    if row is not None and row.holder == node.worker.holder:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # its deletes wait for our row lock
                stop.set()
                done, _ = await asyncio.wait({running}, timeout=3.0)
                assert running in done, "the worker waited for the retention round"
                await holding.rollback()
            finally:
                await blocker.close()
            await running
            row = (await leases.rows())[RETENTION_LEASE]
            # Freed, and due at once: the round was cut off and rolled back.
            assert row.holder is None and row.next_due <= datetime.now(UTC)
            assert len(await titles(store, "world")) == 5
        finally:
            stop.set()
            await store.close()
    finally:
        await schemas.drop()
