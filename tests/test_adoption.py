"""Adopting a mirror that only pages' "alternate addresses" footers name, whose paths carry a
prefix (`/en/Detail/...` for the canonical `/Detail/...`), on real loopback servers: its
articles are published with canonical links, and a link published wrong is repaired."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from syndicator.core.config import Config
from syndicator.ops.cli import main
from syndicator.publish.documents import FeedBook
from syndicator.publish.mirror_report import health_line, mirror_rows
from syndicator.publish.pages import breaker
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport, pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import Store, open_store
from syndicator.store.health import MirrorStore
from syndicator.store.schema import articles, section_versions

from .sites import FakeClock, Site, SiteArticle, sample_articles

WriteConfig = Callable[..., Config]
OPT_IN = "    adopt_discovered: true\n    allow_private_discovered: true"


async def pull(config: Config, fetcher: Fetcher, store: Store, clock: FakeClock) -> PullReport:
    return await pull_source("news", config, fetcher, store, clock=clock, rng=random.Random(0))


def more_articles() -> list[SiteArticle]:
    """The sample articles and as many again, a day later: enough for a newest fifth."""
    base = sample_articles()
    later = [
        SiteArticle(
            id=a.id + 100,
            section=a.section,
            title=f"Follow-up: {a.title}",
            paragraphs=[f"A day later. {p}" for p in a.paragraphs],
            published=a.published + timedelta(days=1),
        )
        for a in base
    ]
    return base + later


async def published_links(config: Config, store: Store) -> dict[str, list[tuple[str, str]]]:
    """(title, link) of every item of the `all` feed, in each format."""
    book = FeedBook(config, store)
    out: dict[str, list[tuple[str, str]]] = {}
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse((await book.get("all", fmt)).body)
        out[fmt] = [(e.title, e.link) for e in parsed.entries]
    feed = json.loads((await book.get("all", "json")).body)
    out["json"] = [(i["title"], i["url"]) for i in feed["items"]]
    return out


@pytest.mark.parametrize("canonical_mode", ["seized", "lagging"])
async def test_the_newest_articles_only_a_footer_announced_prefixed_mirror_has_are_published(
    canonical_mode: str, sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    site = sites(3, articles=more_articles())
    canonical, lagging, newcomer = site.mirrors
    canonical.mode, lagging.mode = canonical_mode, "lagging"
    canonical.lag = lagging.lag = 3  # the newest fourth of the articles
    # Not in the config; the others' footers name its host, and it serves the site under /en/.
    newcomer.prefix = "/en"
    await site.start()
    config = write_config(
        site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", configured=2, extra=OPT_IN)
    )
    store = await open_store(config.service.store)
    clock = FakeClock()
    async with Fetcher(limits_of(config)) as fetcher:
        first = await pull(config, fetcher, store, clock)
        clock.advance(600)
        second = await pull(config, fetcher, store, clock)
    expected = sorted((a.title, site.canonical + a.path) for a in site.articles)
    links = await published_links(config, store)
    found = {d.origin: d for d in await MirrorStore(store).discovered("news")}
    await store.close()
    assert first.adopted == [newcomer.origin]
    assert found[newcomer.origin].status == "adopted"
    for fmt, items in links.items():
        # every article once, with the canonical path, never the mirror's /en/ one
        assert sorted(items) == expected, fmt
    # adopted and pulled in the pull that found it: the second had nothing new
    assert first.new == len(site.articles) and second.new == 0
    # the newcomer was asked for paths it serves
    asked = [r.path for r in newcomer.pages_requested()]
    assert asked and all(p.startswith("/en/") or p == "/" for p in asked), asked
    assert found[newcomer.origin].path_prefix == "/en"


async def test_a_wrong_link_is_repaired_without_a_new_date_or_guid(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    site = sites(2)
    await site.start()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", configured=2))
    store = await open_store(config.service.store)
    clock = FakeClock()
    async with Fetcher(limits_of(config)) as fetcher:
        await pull(config, fetcher, store, clock)
        # As an earlier version published them: the links of a mirror's /en/ paths.
        async with store.writing() as conn:
            rows = (await conn.execute(select(articles.c.id, articles.c.url))).all()
            for row in rows:
                wrong = row.url.replace("/Detail/", "/en/Detail/")
                await conn.execute(
                    update(articles)
                    .where(articles.c.id == row.id)
                    .values(url=wrong, link_confirmed=False)
                )
            await conn.execute(
                update(section_versions).values(version=section_versions.c.version + 1)
            )
        before = {(a.guid, a.title): a for a in await store.section_articles("all", 50)}
        assert all("/en/Detail/" in a.url for a in before.values())
        clock.advance(600)
        report = await pull(config, fetcher, store, clock)
        after = {(a.guid, a.title): a for a in await store.section_articles("all", 50)}
        links = await published_links(config, store)
        # repaired once: the next pull fetches no article again
        site.mirrors[0].requests.clear()
        clock.advance(600)
        third = await pull(config, fetcher, store, clock)
    await store.close()
    assert report.new == 0 and report.updated == 0
    assert report.relinked == len(site.articles)
    assert third.relinked == 0
    assert not [r for r in site.mirrors[0].pages_requested() if "/Detail/" in r.path]
    assert set(after) == set(before)  # the same GUIDs
    for key, article in after.items():
        assert article.url == site.canonical + article.url.removeprefix(site.canonical).replace(
            "/en/", "/"
        )
        assert "/en/" not in article.url
        assert article.updated == before[key].updated  # not an update to readers
        assert article.published == before[key].published
    expected = sorted((a.title, site.canonical + a.path) for a in site.articles)
    for fmt, items in links.items():
        assert sorted(items) == expected, fmt


@pytest.mark.parametrize(("mode", "entry"), [("moved", "page"), ("moved-articles", "feed")])
async def test_a_squatters_moved_to_page_names_no_candidate(
    mode: str, entry: str, sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A squatter on a lapsed mirror answers 200 at every URL with "our website has moved to"
    # a host of its own: no notice, so the page was read for the addresses it announces
    # before it was refused (no article links on a listing, no article body), and the
    # squatter's host was recorded as a candidate mirror of the site, on its word.
    site = sites(2)
    squatted = site.mirrors[1]
    squatted.mode, squatted.moved_to = mode, "presstv-new.example"
    await site.start()
    config = write_config(
        site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", entry=entry, extra=OPT_IN)
    )
    store = await open_store(config.service.store)
    clock = FakeClock()
    async with Fetcher(limits_of(config)) as fetcher:
        report = await pull(config, fetcher, store, clock)
    found = [d.origin for d in await MirrorStore(store).discovered("news")]
    health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    await store.close()
    assert report.new == len(site.articles)
    assert health[squatted.origin].failures > 0  # it was asked, and refused
    assert not [o for o in found if "presstv-new" in o], found
    assert not [o for o in report.discovered if "presstv-new" in o]


async def test_healthiest_links_never_point_at_an_adopted_mirror(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # An adopted mirror is a host a page named, proven by serving one stored article's text
    # (as a scraper copying the site does), that no operator chose: with `link_policy:
    # healthiest` the feeds sent every reader there once it answered fastest, and their links
    # died with it. Links go to the mirrors in the config; the adopted one is only pulled.
    site = sites(3)
    canonical, configured, newcomer = site.mirrors
    canonical.mode = "seized"
    configured.article_seconds = 0.4  # slower than the newcomer, but healthy
    await site.start()
    extra = OPT_IN + "\n    link_policy: healthiest\n    hedge: false"
    config = write_config(
        site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", configured=2, extra=extra)
    )
    store = await open_store(config.service.store)
    clock = FakeClock()
    async with Fetcher(limits_of(config)) as fetcher:
        first = await pull(config, fetcher, store, clock)
        clock.advance(600)
        await pull(config, fetcher, store, clock)
    health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    links = await published_links(config, store)
    await store.close()
    assert first.adopted == [newcomer.origin]
    assert health[newcomer.origin].state == "healthy"
    assert health[newcomer.origin].latency < health[configured.origin].latency
    for fmt, items in links.items():
        hosts = {link.split("/Detail/")[0] for _, link in items}
        assert items and hosts == {configured.origin}, fmt


@pytest.mark.parametrize("canonical_dies", [False, True])
async def test_an_adopted_mirror_dead_for_a_month_is_retired_unless_no_mirror_works(
    canonical_dies: bool, sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # An adopted mirror was pulled for good: dead for months (or a squatter's), it was asked
    # in every pull and shown `down` for ever. A configured mirror dead as long is the
    # operator's to remove; and with every mirror failing (the service's own network), the
    # adopted one may be the first to come back.
    site = sites(3)
    canonical, configured, newcomer = site.mirrors
    await site.start()
    config = write_config(
        site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", configured=2, extra=OPT_IN)
    )
    store = await open_store(config.service.store)
    mirrors = MirrorStore(store)
    clock = FakeClock()
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            first = await pull(config, fetcher, store, clock)
            assert first.adopted == [newcomer.origin]
            await newcomer.go_down()
            await configured.go_down()
            if canonical_dies:
                await canonical.go_down()
            for _ in range(9):  # past the longest backoff each time: one more failure
                clock.advance(2 * 3600)
                await pull(config, fetcher, store, clock)
            clock.advance(31 * 86400)
            await pull(config, fetcher, store, clock)
            clock.advance(2 * 3600)
            await pull(config, fetcher, store, clock)
            health = {h.mirror: h for h in await mirrors.health("news")}
            status = {d.origin: d.status for d in await mirrors.discovered("news")}
            rows = {r.mirror: r for r in await mirror_rows(config, store)}
            # the configured mirror, as dead, is still asked
            assert health[configured.origin].last_failure == clock.now
            if canonical_dies:
                assert status[newcomer.origin] == "adopted"
                assert health[newcomer.origin].last_failure == clock.now
                return
            assert status[newcomer.origin] == "retired"
            assert health[newcomer.origin].last_failure < clock.now  # not asked
            assert rows[newcomer.origin].state == "retired"
            assert rows[configured.origin].state == "down"
            # Back, and named again on a new article's page: a candidate that proves itself.
            await newcomer.come_back()
            site.publish(
                SiteArticle(
                    id=900,
                    section=site.sections[0],
                    title="Harbour reopens after the storm",
                    paragraphs=[
                        "The harbour reopened on Monday after a week of repairs to its wall.",
                        "Fishing boats were the first to leave, followed by two ferries.",
                        "The port authority said container traffic would resume on Thursday.",
                    ],
                    published=site.articles[-1].published + timedelta(hours=1),
                )
            )
            clock.advance(2 * 3600)
            back = await pull(config, fetcher, store, clock)
    finally:
        await store.close()
    assert back.adopted == [newcomer.origin]


async def test_a_retired_mirror_named_again_is_a_candidate_again_on_every_engine(
    engine_store: Store,
) -> None:
    mirrors = MirrorStore(engine_store)
    clock = FakeClock()
    retired, adopted = "https://old.example", "https://kept.example"
    await mirrors.note_candidates("news", {retired: "/a", adopted: "/a"}, clock())
    for origin in (retired, adopted):
        await mirrors.adopt("news", origin, origin + "/Detail/1", clock())
    await mirrors.retire("news", retired)
    assert {d.origin: d.status for d in await mirrors.discovered("news")} == {
        retired: "retired",
        adopted: "adopted",
    }
    clock.advance(3600)
    await mirrors.note_candidates("news", {retired: "/b", adopted: "/b"}, clock())
    found = {d.origin: d for d in await mirrors.discovered("news")}
    assert found[retired].status == "candidate" and found[retired].last_seen == clock()
    assert found[adopted].status == "adopted"


async def test_a_month_stopped_retires_no_candidate_still_named_nor_an_adopted_mirror(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # Retirement is judged against the clock: after the service was stopped for a month,
    # `syndicate mirrors` showed every candidate retired before any pull had read a page,
    # and an adopted mirror failing once on the way back had "no valid answer for 30 days".
    site = sites(4)
    candidate, newcomer = site.mirrors[2:]
    await site.start()
    await candidate.go_down()  # named in the footers, never answering
    config = write_config(
        site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", configured=2, extra=OPT_IN)
    )
    store = await open_store(config.service.store)
    mirrors = MirrorStore(store)
    # `syndicate mirrors` reads the time of day: the restart is an hour ago.
    clock = FakeClock(datetime.now(UTC) - timedelta(days=31, hours=1))
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            first = await pull(config, fetcher, store, clock)
            assert first.adopted == [newcomer.origin]
            # Stopped for a month; meanwhile the site published, and the mirror went down.
            clock.advance(31 * 86400)
            site.publish(
                SiteArticle(
                    id=901,
                    section=site.sections[0],
                    title="Ferry service resumes between the islands",
                    paragraphs=[
                        "The ferry between the two islands sailed again on Tuesday morning.",
                        "It had been laid up for a month while its engines were overhauled.",
                        "Islanders said the crossing was calm and the ferry was on time.",
                    ],
                    published=site.articles[-1].published + timedelta(hours=1),
                )
            )
            await newcomer.go_down()
            shown = {r.mirror: r.state for r in await mirror_rows(config, store)}
            back = await pull(config, fetcher, store, clock)
            clock.advance(2 * 3600)
            again = await pull(config, fetcher, store, clock)
        health = {h.mirror: h for h in await mirrors.health("news")}
        status = {d.origin: d.status for d in await mirrors.discovered("news")}
    finally:
        await store.close()
    assert shown[candidate.origin] == "candidate", shown
    assert back.new == 1 and again.new == 0
    # the first pull back read the new page, which named the candidate: it was asked
    assert health[candidate.origin].last_failure is not None
    assert health[candidate.origin].last_failure >= clock.now - timedelta(hours=2)
    # the adopted mirror failed on the way back, and is still pulled
    assert status[newcomer.origin] == "adopted"
    assert health[newcomer.origin].last_failure == clock.now


async def test_a_squatters_moved_to_page_is_no_article_when_it_is_the_only_copy(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # With the canonical origin down, a squatter's "our website has moved to" page at the
    # article URLs of the one mirror left was stored as an article headlined with the site's
    # name, and the squatter's host became a candidate mirror on its word.
    site = sites(2)
    canonical, squatted = site.mirrors
    squatted.mode, squatted.moved_to = "moved-articles", "presstv-new.example"
    await site.start()
    await canonical.go_down()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", extra=OPT_IN))
    store = await open_store(config.service.store)
    async with Fetcher(limits_of(config)) as fetcher:
        report = await pull(config, fetcher, store, FakeClock())
    stored = await store.section_articles("all", 50)
    found = [d.origin for d in await MirrorStore(store).discovered("news")]
    health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    await store.close()
    assert report.new == 0 and stored == []
    assert health[squatted.origin].last_error_kind == "moved"
    assert not [o for o in found if "presstv-new" in o], found


async def test_turning_adoption_off_stops_pulling_the_mirrors_adopted_before(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # An operator who turns `adopt_discovered` off wants the mirrors of the config pulled,
    # and no other: a mirror adopted while it was on was still asked at every pull.
    site = sites(3)
    newcomer = site.mirrors[2]
    await site.start()
    db = f"sqlite:///{tmp_path / 's.db'}"
    config = write_config(site.config_yaml(db, configured=2, extra=OPT_IN))
    store = await open_store(config.service.store)
    clock = FakeClock()
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            first = await pull(config, fetcher, store, clock)
            assert first.adopted == [newcomer.origin]
            private = "    allow_private_discovered: true"
            off = write_config(site.config_yaml(db, configured=2, extra=private))
            assert not off.sources["news"].adopt_discovered
            newcomer.requests.clear()
            clock.advance(600)
            second = await pull(off, fetcher, store, clock)
            rows = {r.mirror: r for r in await mirror_rows(off, store)}
    finally:
        await store.close()
    assert newcomer.pages_requested() == []
    assert second.adopted == [] and not second.failed
    # Shown as not in use, not as the healthy mirror it was when last pulled: `paused`, with
    # no next try, and not counted among the mirrors the index says are pulled.
    paused = rows[newcomer.origin]
    assert (paused.role, paused.state, paused.retry_at) == ("adopted", "paused", None)
    assert paused.last_success is not None
    assert breaker(paused, datetime.now(UTC)) == "not pulled"
    assert health_line(list(rows.values())) == "Mirrors: 2 healthy; 1 paused"
    # `syndicate mirrors` says why (in a thread: the command runs a loop of its own).
    shown = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["--config", str(tmp_path / "syndicator.yaml"), "mirrors"],
        env={"COLUMNS": "200"},
    )
    line = next(x for x in shown.output.splitlines() if newcomer.host in x)
    assert "paused (adopted), not pulled: adopt_discovered is off" in line, shown.output
