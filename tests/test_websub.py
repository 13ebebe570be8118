"""WebSub: a small hub on 127.0.0.1 (tests/hubs.py) records the pings; one ping per section
change."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from lxml import etree

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.scheduler import PullScheduler
from syndicator.store import Store
from syndicator.store.changes import unannounced
from syndicator.web.websub import HubAnnouncer, announce_once, announcing

from .conftest import REPO
from .hubs import Hub, SilentHub
from .served import Served
from .sites import Site, SiteArticle, free_port


def hub_config(site: Site, store_url: str, hub: Hub, delay: str = "50ms") -> str:
    websub = f'  websub: {{hub: "{hub.url}", delay: {delay}}}\n'
    return site.config_yaml(store_url).replace("  max_items: 50\n", "  max_items: 50\n" + websub)


BookForHub = Callable[..., tuple[Config, FeedBook]]


@pytest.fixture
def book_for_hub(
    site: Site, store: Store, write_config: Callable[[str], Config], store_url: str
) -> BookForHub:
    """The site's config announcing to a hub (`book_for_hub(hub, delay="1h")`), and a book
    of its feeds on the store."""

    def make(hub: Hub, delay: str = "50ms") -> tuple[Config, FeedBook]:
        config = write_config(hub_config(site, store_url, hub, delay))
        return config, FeedBook(config, store)

    return make


async def test_exactly_one_ping_per_section_change(
    site: Site,
    hub: Hub,
    store: Store,
    fetcher: Fetcher,
    book_for_hub: BookForHub,
) -> None:
    config, book = book_for_hub(hub)
    scheduler = PullScheduler(config, fetcher, store, book)
    async with announcing(config.service, book):
        # The first pull fills every section: one ping each, and one for `all`.
        await scheduler.pull("news")
        await hub.wait_for(4)
        await asyncio.sleep(0.2)
        assert hub.sections_pinged() == ["all", "iran", "north-africa", "west-asia"]
        feeds = book.feed_urls("iran")
        assert ("publish", list(feeds.values())) in hub.pings

        # Nothing changed upstream: no ping.
        await scheduler.pull("news")
        await asyncio.sleep(0.3)
        assert len(hub.pings) == 4

        # One Iran article is edited: Iran changed once, and so did `all`.
        site.correct(site.articles[4], "A correction was added on Tuesday.")
        await scheduler.pull("news")
        await hub.wait_for(6)
        await asyncio.sleep(0.2)
        assert hub.sections_pinged(since=4) == ["all", "iran"]

        # The feeds name the hub and themselves.
        atom = etree.fromstring((await book.get("iran", "atom")).body)
        links = {link.get("rel"): link.get("href") for link in atom.iter("{*}link")}
        assert links["hub"] == hub.url and links["self"] == feeds["atom"]


async def test_pings_still_waiting_are_sent_when_the_service_stops(
    hub: Hub,
    store: Store,
    fetcher: Fetcher,
    book_for_hub: BookForHub,
) -> None:
    config, book = book_for_hub(hub, delay="1h")
    async with announcing(config.service, book) as announcer:
        assert announcer is not None
        await store.mark_changed({"iran"})  # a writer records its change
        book.invalidate({"iran"})
        await asyncio.sleep(0.1)
        assert hub.pings == []
    assert hub.sections_pinged() == ["all", "iran"]
    assert announcer.sent == 2 and announcer.failed == 0


async def test_pings_waiting_at_stop_to_a_silent_hub_end_within_the_drain_and_name_the_hub(
    site: Site, silent_hub: SilentHub, store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    service = (
        f"  listen: 127.0.0.1:{port}\n  jitter: 100ms\n  drain_timeout: 1s\n"
        "  watch_config: false\n  log_level: info\n"
        f'  websub: {{hub: "{silent_hub.url}", delay: 1h}}\n'
    )
    path = tmp_path / "syndicator.yaml"
    path.write_text(site.config_yaml(store_url, service_extra=service), encoding="utf-8")
    served = Served(path, port)
    await served.start()
    try:
        # The first pull changes every section: their pings wait for the hour's delay.
        pulled = await served.wait_event(lambda e: e.get("event") == "pull")
        assert pulled["result"] == "ok" and pulled["new"] > 0
    finally:
        code = await served.stop()
    log = "\n".join(served.raw)
    # Before the stop's deadline (30s, then SIGKILL): one try per ping, in what the drain left.
    assert code == 0, log
    assert silent_hub.pings, "no ping reached the hub"
    unsent = await served.wait_event(lambda e: e.get("event") == "WebSub pings not sent")
    assert unsent["hub"] == silent_hub.url
    assert unsent["sections"] == ["all", "iran", "north-africa", "west-asia"]
    assert served.events[-1]["event"] == "stopped" and "Traceback" not in log


@dataclass
class FailingHub(Hub):
    """A hub that answers every ping with 500 (and remembers it)."""

    async def publish(self, request: web.Request) -> web.Response:
        await super().publish(request)
        return web.Response(status=500)


async def test_a_ping_the_hub_failed_or_the_stop_cut_off_is_sent_at_the_next_start(
    hub: Hub,
    store: Store,
    book_for_hub: BookForHub,
) -> None:
    """The change is claimed in the store before its ping: a ping that failed, or that the
    stop cut off between its tries, left the change claimed and never announced."""
    failing = FailingHub()
    await failing.start()
    try:
        config, book = book_for_hub(failing)
        async with announcing(config.service, book):
            await store.mark_changed({"iran"})
            book.invalidate({"iran"})
            await failing.wait_for(1)  # the first try of the first ping failed: a retry waits
        # The stop cut the first ping off between its tries and sent the rest once (each
        # failed): every change is unannounced again in the store.
        assert await unannounced(store) == {"all": 1, "iran": 1}
    finally:
        assert failing.runner is not None
        await failing.runner.cleanup()
    # The next start, with the hub answering, announces both.
    config, book = book_for_hub(hub)
    async with announcing(config.service, book):
        await hub.wait_for(2)
        await asyncio.sleep(0.2)
    assert hub.sections_pinged() == ["all", "iran"]
    assert await unannounced(store) == {}


async def test_a_change_pulled_by_another_process_is_announced_once_per_section(
    site: Site, hub: Hub, store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    service = (
        f"  listen: 127.0.0.1:{port}\n  watch_config: false\n  log_level: info\n"
        f'  websub: {{hub: "{hub.url}", delay: 100ms}}\n'
    )
    path = tmp_path / "syndicator.yaml"
    path.write_text(site.config_yaml(store_url, service_extra=service), encoding="utf-8")
    served = Served(path, port)
    await served.start()
    try:
        # The service's own first pull: one ping per section.
        await hub.wait_for(4)
        await asyncio.sleep(0.5)
        assert hub.sections_pinged() == ["all", "iran", "north-africa", "west-asia"]
        # An Iran article is corrected upstream and `syndicate pull` (another process, the
        # service's next pull is minutes away) stores it.
        site.correct(site.in_section("iran")[0], "A correction was added on Tuesday.")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
        env["PYTHONPATH"] = str(REPO)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "syndicator",
            "--config",
            str(path),
            "pull",
            "news",
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert json.loads(out)["updated"] == 1, out
        # The service learns of it (its poll, every 2 s) and pings: Iran and `all`, once.
        await hub.wait_for(6)
        await asyncio.sleep(3)
        assert hub.sections_pinged(since=4) == ["all", "iran"]
    finally:
        assert await served.stop() == 0
    assert len(hub.pings) == 6


async def test_two_processes_that_learn_of_the_same_change_ping_once(
    hub: Hub,
    store: Store,
    book_for_hub: BookForHub,
) -> None:
    config, book = book_for_hub(hub)
    books = [book, FeedBook(config, store)]  # two web processes
    for book in books:
        await book.sync_versions()
    async with announcing(config.service, books[0]), announcing(config.service, books[1]):
        await store.mark_changed({"iran"})  # a third process (a pull) records its change
        for book in books:
            assert await book.sync_versions() >= {"iran", "all"}
        await hub.wait_for(2)
        await asyncio.sleep(0.3)
    assert hub.sections_pinged() == ["all", "iran"]


async def test_a_change_made_before_the_books_first_look_is_announced(
    hub: Hub,
    store: Store,
    book_for_hub: BookForHub,
) -> None:
    """The serving process's first poll of the change counters only sets what the next one
    compares with: a change another process stored between the announcer's start and that
    first poll was never announced."""
    config, book = book_for_hub(hub)
    async with announcing(config.service, book):
        await asyncio.sleep(0.3)  # the announcer's look at start: nothing to announce
        assert hub.pings == []
        await store.mark_changed({"iran"})  # a `syndicate pull` beside the service
        await book.sync_versions()  # the first poll
        await hub.wait_for(2)
        await asyncio.sleep(0.2)
        assert hub.sections_pinged() == ["all", "iran"]


async def test_what_a_running_pull_stores_is_announced_once_at_its_end(
    hub: Hub,
    store: Store,
    book_for_hub: BookForHub,
) -> None:
    """A pull stores each article as it is extracted, and the serving side's poll sees the
    counters move mid-pull: the pulling process still pings each section once, at the end."""
    config, book = book_for_hub(hub)
    await book.sync_versions()
    pulling = True
    announcer = HubAnnouncer(config.service, book, pulling=lambda: pulling)
    book.listeners.append(announcer.section_changed)
    try:
        await store.mark_changed({"iran"})  # the pull's first article
        await book.sync_versions()  # the poll sees it
        await asyncio.sleep(0.3)  # six times websub.delay
        assert hub.pings == []
        await store.mark_changed({"iran", "west-asia"})  # its last ones
        await book.sync_versions()
        pulling = False
        book.invalidate({"iran", "west-asia"})  # the pull's end
        await hub.wait_for(3)
        await asyncio.sleep(0.3)
    finally:
        book.listeners.remove(announcer.section_changed)
        await announcer.close()
    assert hub.sections_pinged() == ["all", "iran", "west-asia"]


async def test_a_change_heard_while_pings_are_sent_is_announced_after_them(
    silent_hub: SilentHub,
    store: Store,
    book_for_hub: BookForHub,
) -> None:
    """The look at the store is taken before the first ping: a change stored while the hub
    keeps that ping waiting is announced in a look of its own, not left for the next event."""
    config, book = book_for_hub(silent_hub)
    await book.sync_versions()
    async with announcing(config.service, book):
        await store.mark_changed({"iran"})
        await book.sync_versions()
        await silent_hub.wait_for(1)  # `all` is being pinged; the hub does not answer yet
        await store.mark_changed({"west-asia"})
        await book.sync_versions()
        silent_hub.release.set()
        await silent_hub.wait_for(4)
        await asyncio.sleep(0.3)
    assert silent_hub.sections_in_order() == ["all", "iran", "all", "west-asia"]


@dataclass
class SlowHub(Hub):
    """A hub that takes a while over each ping (a loaded machine, a far hub)."""

    async def publish(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return await super().publish(request)


async def test_a_one_shot_announcement_to_a_slow_hub_pings_each_change_once(
    store: Store,
    book_for_hub: BookForHub,
) -> None:
    """`announce_once` (export's pings) looks at the store itself; the announcer's own look
    after `websub.delay` ran beside it while the slow hub held its pings, the two shared one
    queue, and the export crashed (IndexError) or left a section unannounced."""
    slow = SlowHub()
    await slow.start()
    try:
        config, book = book_for_hub(slow, delay="20ms")
        await store.mark_changed({"iran", "north-africa", "west-asia"})
        announcer = await announce_once(config.service, book)
        await asyncio.sleep(0.3)  # a look still under way would ping now
    finally:
        assert slow.runner is not None
        await slow.runner.cleanup()
    assert slow.sections_in_order() == ["all", "iran", "north-africa", "west-asia"]
    assert announcer.sent == 4 and announcer.failed == 0
    assert await unannounced(store) == {}


async def _export(config: Path, out: Path) -> tuple[int, str]:
    """`syndicate export` in a process of its own, the hub and the site answering meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "syndicator", "--config", str(config), "export"),
        *("--out", str(out)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=config.parent,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, stderr.decode()


async def test_export_pings_the_hub_for_the_sections_it_changed(
    site: Site, hub: Hub, tmp_path: Path
) -> None:
    # The feeds name the hub, but only `serve` pinged it: subscribers of an exported feed
    # heard of nothing until their next poll.
    config = tmp_path / "syndicator.yaml"
    config.write_text(hub_config(site, f"sqlite:///{tmp_path / 'store.db'}", hub), "utf-8")
    out = tmp_path / "feeds"
    code, said = await _export(config, out)
    assert code == 0, said
    # When the export ends, the hub has heard of every section it filled, once each.
    assert hub.sections_pinged() == ["all", "iran", "north-africa", "west-asia"], said
    urls = [f"http://feeds.example.test/feeds/iran.{ext}" for ext in ("rss", "atom", "json")]
    assert ("publish", urls) in hub.pings
    assert all((out / f"{section}.rss").is_file() for section in hub.sections_pinged())

    # Nothing new: nothing to tell.
    code, said = await _export(config, out)
    assert code == 0, said
    assert len(hub.pings) == 4, (hub.sections_in_order(), said)

    # A new article in one section, the hub down: the export still succeeds, says so, and
    # the next export tells the hub.
    newest = site.articles[0]
    site.publish(
        SiteArticle(
            id=660998,
            section="iran",
            title="Isfahan restores the old bridge after two years of work",
            paragraphs=[p.replace("Libya", "Isfahan") for p in newest.paragraphs],
            published=newest.published,
        )
    )
    hub.down = True
    code, said = await _export(config, out)
    assert code == 0, said
    assert "WebSub ping failed" in said and "Traceback" not in said, said
    assert "Isfahan" in (out / "iran.rss").read_text(encoding="utf-8")
    hub.down = False
    code, said = await _export(config, out)
    assert code == 0, said
    assert hub.sections_pinged(since=4) == ["all", "iran"], (hub.sections_in_order(), said)
