"""Feed health: the pure assessment, the section stats it reads, and the schedule that
resumes from the store and takes a new config in place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import text

from syndicator.core.config import Config
from syndicator.core.models import Candidate
from syndicator.ops.terminal import sections
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import PullOutcome, run_pull
from syndicator.pull.scheduler import PullScheduler
from syndicator.serve.service import Service as RunningService
from syndicator.store import Store, open_store
from syndicator.store.pulls import PullRecord, last_pulls, pulled_sections, record_pull
from syndicator.store.stats import SectionStats, section_stats
from syndicator.store.status import FeedStatus, SectionStatus, assess, collect, human_age

from .sites import Site, sample_articles

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (40, "40s"),
        (61, "1m1s"),
        (3600, "1h"),
        (7213, "2h"),
        (7800, "2h10m"),
        (90000, "1d1h"),
    ],
)
def test_human_age(seconds: float, text: str) -> None:
    assert human_age(seconds) == text


def test_status_shows_a_time_older_than_a_week_as_its_date() -> None:
    # The sample corpus's article of 2020 was "2360d12h ago" under `newest item`.
    def row(newest: datetime) -> SectionStatus:
        return SectionStatus(
            "north-africa",
            "North Africa",
            1,
            newest,
            None,
            NOW - timedelta(days=7, seconds=-1),
            None,
            True,
            ("presstv",),
            False,
        )

    console = Console(width=200, record=True)
    console.print(sections(FeedStatus(NOW, [row(datetime(2020, 6, 20, 14, 32, tzinfo=UTC))])))
    console.print(sections(FeedStatus(NOW, [row(NOW - timedelta(days=3, hours=4))])))
    shown = console.export_text()
    assert "2020-06-20" in shown and "d12h" not in shown
    assert "3d4h ago" in shown  # newest item, three days old
    assert "6d23h ago" in shown  # last change, just within a week


def config_for(write_config: Callable[[str], Config], site: Site, store_url: str) -> Config:
    text = site.config_yaml(store_url).replace(
        "  max_items: 50\n", "  max_items: 50\n  stale_after: 1h\n"
    )
    text = text.replace("  iran: {title: Iran}", "  iran: {title: Iran, stale_after: 1d}")
    return write_config(text)


def test_assess_names_what_is_wrong_with_each_section_and_source(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    config = config_for(write_config, site, store_url)
    stats = {
        "north-africa": SectionStats("north-africa", 3, NOW - timedelta(hours=2), NOW),
        "iran": SectionStats("iran", 2, NOW - timedelta(hours=2), NOW),
    }
    pull = PullRecord("news", NOW, NOW, "failed", error="every mirror refused")
    report = assess(config, stats, {"news": pull}, {}, {"north-africa", "iran", "west-asia"}, NOW)
    by_name = {s.name: s for s in report.sections}
    assert by_name["north-africa"].stale and "older than stale_after 1h" in (
        by_name["north-africa"].problem or ""
    )
    # iran has its own, longer stale_after
    assert not by_name["iran"].stale and by_name["iran"].problem is None
    assert by_name["west-asia"].problem == "pulled, but holds no item"
    assert report.sources[0].problem == "last pull failed: every mirror refused"
    assert not report.healthy and len(report.problems) == 3

    never = assess(config, {}, {}, {}, set(), NOW)
    assert never.unpulled_sections == site.sections
    assert "source news: never pulled" in never.problems


def test_status_json_tells_a_section_never_stale_from_the_combined_feed(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    # Both gave `stale_after: null`: a monitor could not tell a section the operator said
    # never goes stale from `all`, which has no limit of its own (its sections are judged).
    text = site.config_yaml(store_url).replace(
        "  max_items: 50\n", "  max_items: 50\n  stale_after: 1h\n"
    )
    config = write_config(
        text.replace("  iran: {title: Iran}", "  iran: {title: Iran, stale_after: never}")
    )
    report = assess(config, {}, {}, {}, set(config.sections), NOW).to_json()["sections"]
    assert report["iran"]["stale_after"] == "never"
    assert report["all"]["stale_after"] is None
    assert report["north-africa"]["stale_after"] == 3600


async def test_newest_item_is_dated_no_later_than_first_seen(store: Store) -> None:
    """A publisher's date in the future cannot make a section look fresh."""
    seen = datetime.now(UTC) - timedelta(hours=3)
    for n, published in enumerate((seen - timedelta(days=1), seen + timedelta(days=30))):
        cand = Candidate(
            source="news",
            canonical_url=f"https://example.org/a/{n}",
            content_hash=f"{n:064x}",
            simhash=n,
            title=f"t{n}",
            summary="s",
            content_html="<p>x</p>",
            published=published,
            updated=None,
            author=None,
            image_url=None,
            image_caption=None,
            language="en",
            sections=frozenset({"iran"}),
        )
        await store.ingest(cand, "https://example.org", now=seen)
    stats = await section_stats(store)
    assert stats["iran"].items == 2
    assert stats["iran"].newest == seen
    assert stats["all"].newest == seen


async def test_schedule_resumes_from_the_store_and_a_new_config_keeps_unchanged_runs(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    base = site.config_yaml(store_url).replace(
        "  max_items: 50\n", "  max_items: 50\n  jitter: 1h\n"
    )
    base = base.replace("    every: 5m\n", "    every: 1h\n")
    second = (
        "  second:\n    title: Second\n    canonical: https://second.example.org\n"
        "    every: 1h\n    sections:\n      iran: {feed: /rss/iran.xml}\n"
    )
    config = write_config(base + second)
    scheduler = PullScheduler(config, fetcher, store, FeedBook(config, store))
    last = datetime.now(UTC) - timedelta(minutes=10)
    scheduler.start({"news": last, "second": last})
    try:
        runs = scheduler.next_runs()
        assert runs["news"] == runs["second"] == last + timedelta(hours=1)

        # news re-timed, second unchanged, third added
        third = second.replace("second", "third")
        changed = write_config(
            base.replace("every: 1h", "every: 2h") + second + third, name="b.yaml"
        )
        changes = scheduler.apply(changed)
        assert (changes.retimed, changes.added, changes.removed) == (["news"], ["third"], [])
        runs = scheduler.next_runs()
        assert runs["second"] == last + timedelta(hours=1)
        assert runs["news"] == last + timedelta(hours=2)
        now = datetime.now(UTC)
        assert now - timedelta(seconds=5) <= runs["third"] <= now + timedelta(hours=1)

        changes = scheduler.apply(write_config(base + third, name="c.yaml"))
        assert changes.removed == ["second"] and changes.retimed == ["news"]
        assert set(scheduler.next_runs()) == {"news", "third"}
        assert scheduler.next_runs()["news"] == last + timedelta(hours=1)
    finally:
        assert await scheduler.drain(1.0) == []


async def test_a_source_changed_while_its_pull_runs_is_pulled_again_once_that_pull_ends(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # A reload that adds a section to a source asks for a pull soon; when the source's pull
    # of the old config was still running, that pull was skipped and the next came an
    # interval later: the new section stayed empty (and /readyz at 503) for that long.
    def text(sections: tuple[str, ...]) -> str:
        yaml = site.config_yaml(store_url, sections=sections)
        return yaml.replace("  max_items: 50\n", "  max_items: 50\n  jitter: 100ms\n").replace(
            "    every: 5m\n", "    every: 1h\n"
        )

    config = write_config(text(("north-africa", "iran")))
    site.slow_paths, site.slow_seconds = {"/rss/iran.xml"}, 1.5
    scheduler = PullScheduler(config, fetcher, store, FeedBook(config, store))
    scheduler.start({})
    try:
        for _ in range(100):
            if scheduler.running:
                break
            await asyncio.sleep(0.02)
        assert scheduler.running == ["news"]
        changes = scheduler.apply(write_config(text(tuple(site.sections)), name="b.yaml"))
        assert changes.changed == ["news"]
        for _ in range(200):
            if "west-asia" in await pulled_sections(store):
                break
            await asyncio.sleep(0.05)
        assert "west-asia" in await pulled_sections(store)
        assert scheduler.next_runs()["news"] > datetime.now(UTC) + timedelta(minutes=59)
    finally:
        await scheduler.drain(5.0)


async def test_a_pull_that_overruns_its_interval_is_warned_of_and_the_next_waits_its_turn(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A pull longer than its source's `every` (a slow source) was said only by an info line
    # per skipped run: nothing told the operator the source cannot be pulled that often.
    text = site.config_yaml(store_url, sections=("north-africa",))
    text = text.replace("  max_items: 50\n", "  max_items: 50\n  jitter: 10ms\n")
    config = write_config(text.replace("    every: 5m\n", "    every: 1s\n"))
    site.slow_paths, site.slow_seconds = {"/rss/north-africa.xml"}, 1.6
    pulls: list[tuple[float, float]] = []

    def observe(outcome: PullOutcome) -> None:
        pulls.append((outcome.started_at.timestamp(), outcome.duration))

    scheduler = PullScheduler(config, fetcher, store, FeedBook(config, store), observe=observe)
    caplog.set_level(logging.INFO, logger="syndicator.scheduler")
    scheduler.start({})
    try:
        for _ in range(400):
            if len(pulls) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.drain(0.1)
    (started, took), (next_started, _) = pulls[0], pulls[1]
    assert took > 1.0
    # The next pull waits for the next run of the schedule after the overrun, none at once.
    assert started + took <= next_started <= started + took + 1.0 + 0.5  # every, and slack
    overran = [r for r in caplog.records if r.getMessage() == "pull overran its interval"]
    assert overran, "no warning of the pull that overran"
    assert {(r.levelno, getattr(r, "source", None)) for r in overran} == {(logging.WARNING, "news")}
    assert getattr(overran[0], "every_s", None) == 1.0


async def test_a_wall_clock_stepped_back_moves_the_next_pulls_with_it(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # APScheduler keeps its next runs on the wall clock: NTP stepping back a clock that ran a
    # day ahead put every next pull a day away, and nothing was pulled for that day.
    config = write_config(site.config_yaml(store_url).replace("every: 5m", "every: 1h"))
    clocks = {"wall": 1_000_000.0, "monotonic": 50.0}
    scheduler = PullScheduler(
        config,
        fetcher,
        store,
        FeedBook(config, store),
        wall=lambda: clocks["wall"],
        monotonic=lambda: clocks["monotonic"],
    )
    last = datetime.now(UTC) - timedelta(minutes=10)
    scheduler.start({"news": last})
    try:
        before = scheduler.next_runs()["news"]
        assert before == last + timedelta(hours=1)
        clocks["monotonic"] += 30
        clocks["wall"] += 30 - 600  # stepped back ten minutes
        assert scheduler.check_clock() == -600
        assert scheduler.next_runs()["news"] == before - timedelta(minutes=10)
        assert scheduler.last_finished["news"] == last - timedelta(minutes=10)
        # Drift NTP slews away, and a step forward (what became due runs at once): no move.
        clocks["monotonic"] += 30
        clocks["wall"] += 32
        assert scheduler.check_clock() == 0.0
        clocks["monotonic"] += 30
        clocks["wall"] += 30 + 3600
        assert scheduler.check_clock() == 0.0
        assert scheduler.next_runs()["news"] == before - timedelta(minutes=10)
    finally:
        assert await scheduler.drain(1.0) == []


async def test_a_section_filled_only_by_section_rules_is_pulled_and_fed(
    store: Store, fetcher: Fetcher, write_config: Callable[[str], Config], store_url: str
) -> None:
    """west-asia has no entry point: a section rule puts the North Africa articles there.
    After one pull it counts as pulled (for /readyz and status) and as fed by the source."""
    articles = sample_articles()
    for n, article in enumerate(articles):
        article.published = datetime.now(UTC) - timedelta(minutes=10 + n)
    site = Site(mirrors=1, articles=articles)
    await site.start()
    try:
        rules = """    section_rules:
      - {breadcrumb: "News / North Africa", section: west-asia}
"""
        config = write_config(
            site.config_yaml(
                store_url, entry="page", entry_sections=("north-africa", "iran"), extra=rules
            )
        )
        outcome = await run_pull("news", config, fetcher, store)
    finally:
        await site.stop()
    assert outcome.result == "ok"
    assert outcome.sections == ("north-africa", "iran", "west-asia")
    # what /readyz checks: every configured section was pulled
    assert await pulled_sections(store) == set(config.sections)
    status = await collect(config, store)
    west = next(s for s in status.sections if s.name == "west-asia")
    assert west.items == 3 and west.pulled and west.sources == ("news",)
    assert west.problem is None
    assert status.unpulled_sections == [] and status.healthy, status.problems


@pytest.mark.parametrize("table", ["fetch_validators", "mirror_health", "discovered_mirrors"])
async def test_a_pull_the_store_cannot_serve_is_recorded_as_failed(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    table: str,
) -> None:
    """A read the store refuses during a pull fails that pull, which is logged and recorded
    (status names it), instead of escaping as a driver error."""
    # The discovered mirrors are read by a source that adopts them.
    adopting = "    adopt_discovered: true" if table == "discovered_mirrors" else ""
    config = write_config(site.config_yaml(engine_url, entry="page", extra=adopting))
    async with engine_store.writing() as conn:
        await conn.execute(text(f"DROP TABLE {table}"))
    outcome = await run_pull("news", config, fetcher, engine_store)
    assert outcome.result == "failed"
    assert (outcome.error or "").startswith("store could not read"), outcome.error
    assert (await last_pulls(engine_store))["news"].result == "failed"
    status = await collect(config, engine_store)
    assert f"source news: last pull failed: {outcome.error}" in status.problems


async def test_a_pull_that_crashes_is_recorded_as_failed_with_its_error(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # An exception no one expected (a bug) escaped the pull unrecorded: `status` and
    # /readyz went on showing the good pull before it as the source's last.
    config = write_config(site.config_yaml(store_url))
    assert (await run_pull("news", config, fetcher, store)).result == "ok"

    def broken(_stage: str, _url: str) -> None:
        raise RuntimeError("a bug in the pull")

    with pytest.raises(RuntimeError, match="a bug in the pull"):
        await run_pull("news", config, fetcher, store, progress=broken)
    last = (await last_pulls(store))["news"]
    assert (last.result, last.error) == ("failed", "pull crashed: RuntimeError: a bug in the pull")
    status = await collect(config, store)
    assert f"source news: last pull failed: {last.error}" in status.problems, status.problems


async def test_a_pull_cancelled_late_on_a_worker_that_lost_its_lease_is_not_the_last_pull(
    site: Site, engine_url: str, engine_store: Store, write_config: Callable[[str], Config]
) -> None:
    # Worker A's pull outlived its lease; worker B took the source over, pulled it and
    # finished first. A's pull, cancelled, was recorded after B's: status said the last pull
    # was cancelled, for a source whose last pull went well.
    config = write_config(site.config_yaml(engine_url))
    start = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    took_over = PullRecord("news", start + timedelta(minutes=6), start + timedelta(minutes=7), "ok")
    cancelled = PullRecord("news", start, start + timedelta(minutes=8), "cancelled")
    await record_pull(engine_store, took_over)
    await record_pull(engine_store, cancelled)
    assert (await last_pulls(engine_store))["news"] == took_over
    status = await collect(config, engine_store, now=start + timedelta(minutes=9))
    assert not any("cancelled" in p for p in status.problems), status.problems
    # The next pull on either worker is the last one again, whatever it says.
    failed = PullRecord(
        "news", start + timedelta(minutes=20), start + timedelta(minutes=21), "failed"
    )
    await record_pull(engine_store, failed)
    assert (await last_pulls(engine_store))["news"] == failed


async def test_a_restart_after_the_clock_was_stepped_back_waits_no_more_than_every(
    site: Site, store_url: str, write_config: Callable[[str], Config]
) -> None:
    # The host's clock ran a day ahead (a clock in local time, a VM restored from a
    # snapshot) while the service pulled; NTP then stepped it back and the service was
    # restarted. Its last pull, recorded a day ahead, counted as "pulled less than every
    # ago": the next pull waited a day and an hour, not at most the hour `every` says.
    config = write_config(site.config_yaml(store_url).replace("every: 5m", "every: 1h"))
    store = await open_store(store_url)
    ahead = datetime.now(UTC) + timedelta(days=1)
    try:
        await record_pull(store, PullRecord("news", ahead, ahead + timedelta(seconds=2), "ok"))
    finally:
        await store.close()
    service = RunningService(config, http=False)
    await service.start()
    try:
        assert service.scheduler is not None
        next_run = service.scheduler.next_runs()["news"]
        assert next_run <= datetime.now(UTC) + timedelta(hours=1), next_run
    finally:
        await service.stop()


async def test_the_last_pull_after_a_clock_step_back_is_the_newest_not_one_dated_ahead(
    site: Site, engine_url: str, engine_store: Store, write_config: Callable[[str], Config]
) -> None:
    # A pull made while the clock ran a day ahead is dated a day ahead. Once NTP stepped
    # the clock back, every pull after it started "before" it: for a day status showed that
    # pull's `ok` as the last, over the pulls failing since.
    config = write_config(site.config_yaml(engine_url))
    now = datetime.now(UTC)
    ahead = PullRecord("news", now + timedelta(days=1), now + timedelta(days=1, seconds=2), "ok")
    since = PullRecord(
        "news", now - timedelta(seconds=5), now - timedelta(seconds=3), "failed", error="down"
    )
    await record_pull(engine_store, ahead)
    await record_pull(engine_store, since)
    assert (await last_pulls(engine_store))["news"] == since
    status = await collect(config, engine_store)
    assert "source news: last pull failed: down" in status.problems, status.problems
