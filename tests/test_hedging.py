"""Hedged fetches: with the mirror asked first answering article pages in 8 s and the other
in milliseconds, a pull of 300 articles takes about as long as with no slow mirror, every
article is stored once, and the slow mirror stays healthy (slow, not failing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.core.config import Config
from syndicator.core.models import PullReport
from syndicator.mirrors.health import MirrorHealth, Policy, hedge_delay, slowed
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import limits_of
from syndicator.store.engine import open_store
from syndicator.store.health import MirrorStore
from syndicator.web.metrics import Metrics

from .sites import FakeClock, Site
from .test_misfiled_pages import canal_story
from .test_sitemaps import generated_articles

ARTICLES = 300
SLOW = 8.0
NOW = datetime(2024, 6, 22, 12, 0, tzinfo=UTC)


@dataclass
class Pulled:
    seconds: float
    report: PullReport
    stored: list[str]
    health: dict[str, MirrorHealth]
    site: Site


async def pull_once(
    tmp_path: Path,
    write_config: Callable[[str, str], Config],
    label: str,
    *,
    slow: float,
    strategy: str,
    hedge: bool = True,
) -> Pulled:
    """One pull of a fresh store from a fresh two-mirror site whose canonical mirror (asked
    first) answers article pages after `slow` seconds."""
    site = Site(mirrors=2, articles=generated_articles(ARTICLES, days=3, end=NOW))
    site.mirrors[0].article_seconds = slow
    await site.start()
    url = f"sqlite:///{tmp_path / f'{label}.db'}"
    yaml = site.config_yaml(
        url,
        sections=("north-africa",),
        # An 8 s answer is an answer: within the read timeout and the request deadline; a
        # pull that waited for every slow page would end at the pull deadline instead.
        read_timeout="20s",
        service_extra="  request_deadline: 20s\n  pull_deadline: 90s",
        extra=f"    strategy: {strategy}\n    hedge: {'true' if hedge else 'false'}",
    )
    config = write_config(yaml, f"{label}.yaml")
    store = await open_store(url)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            loop = asyncio.get_running_loop()
            started = loop.time()
            report = await pull_source("news", config, fetcher, store, clock=FakeClock(NOW))
            seconds = loop.time() - started
        stored = [a.url for a in await store.section_articles("north-africa", limit=1000)]
        health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    finally:
        await store.close()
        await site.stop()
    return Pulled(seconds, report, stored, health, site)


@pytest.mark.parametrize("strategy", ["all", "failover"])
async def test_a_slow_first_mirror_costs_a_pull_little_time_and_stays_healthy(
    tmp_path: Path, write_config: Callable[[str, str], Config], strategy: str
) -> None:
    fast = await pull_once(tmp_path, write_config, "fast", slow=0.0, strategy=strategy)
    slow = await pull_once(tmp_path, write_config, "slow", slow=SLOW, strategy=strategy)
    canonical, other = (m.origin for m in slow.site.mirrors)
    for pulled in (fast, slow):
        assert pulled.report.failed == 0, pulled.report.errors[:5]
        # Every article once, with its canonical link.
        assert len(pulled.stored) == len(set(pulled.stored)) == ARTICLES
        assert set(pulled.stored) == {pulled.site.canonical + a.path for a in pulled.site.articles}
    assert fast.report.hedged == 0
    assert slow.report.hedged >= ARTICLES // 2
    # About as long as with no slow mirror: within 1.5x, plus a few seconds for a loaded
    # machine (one hedge delay is at most 2 s); waiting for the slow pages, two at a time,
    # would take 300 * 8 s / 2.
    assert slow.seconds <= 1.5 * fast.seconds + 10.0, (slow.seconds, fast.seconds)
    # The slow mirror was asked, its answers given up for the other's: healthy, but slow.
    assert any(r.path.startswith("/Detail/") for r in slow.site.mirrors[0].requests)
    slowest, quick = slow.health[canonical], slow.health[other]
    assert slowest.state == "healthy", slowest
    assert slowest.failures == 0
    assert slowest.latency is not None and quick.latency is not None
    assert slowest.latency > quick.latency
    # The hedged articles are counted in /metrics.
    metrics = Metrics(write_config(slow.site.config_yaml("sqlite:///unused.db"), "m.yaml"))
    metrics.on_pull("news", "ok", slow.seconds, slow.report)
    line = f'syndicator_hedged_articles_total{{source="news"}} {float(slow.report.hedged)}'
    assert line in metrics.exposition().decode()


@pytest.mark.parametrize(("latency", "delay"), [(None, 2.0), (0.01, 0.5), (0.4, 1.2), (5.0, 2.0)])
def test_the_hedge_delay_is_a_few_times_the_usual_latency_within_bounds(
    latency: float | None, delay: float
) -> None:
    assert hedge_delay(MirrorHealth("news", "m", latency=latency)) == pytest.approx(delay)


def test_a_request_given_up_slows_its_mirror_without_failing_it() -> None:
    before = MirrorHealth("news", "m", latency=0.1, successes=4)
    after = slowed(before, 2.0, Policy())
    assert (after.state, after.failures, after.consecutive_failures) == ("healthy", 0, 0)
    assert after.latency == pytest.approx(0.3 * 2.0 + 0.7 * 0.1)
    # Quicker than it usually answers: nothing learnt.
    assert slowed(after, 0.05, Policy()) is after


async def test_a_hedge_to_a_mirror_serving_its_home_page_everywhere_does_not_win(
    sites: Callable[..., Site], tmp_path: Path, write_config: Callable[..., Config]
) -> None:
    # With `failover`, the article listed by the slow canonical mirror was hedged to a mirror
    # serving its home page at every URL: that page came first and was stored as the article,
    # an item titled "Example News", and the pull said nothing was wrong.
    site = sites(2)
    await site.start()
    yaml = site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", extra="    strategy: failover\n")
    config = write_config(yaml)
    store = await open_store(config.service.store)
    clock = FakeClock()
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            await pull_source("news", config, fetcher, store, clock=clock)  # latencies known
            new = canal_story(site.articles[0])
            site.publish(new)
            site.mirrors[0].article_seconds = 2.5  # past the hedge delay, within the timeout
            site.mirrors[1].mode = "catch-all"
            clock.advance(600)
            report = await pull_source("news", config, fetcher, store, clock=clock)
        titles = [a.title for a in await store.section_articles("all", 50)]
    finally:
        await store.close()
    assert (report.new, report.hedged, report.failed) == (1, 1, 0), report.errors
    assert new.title in titles and "Example News" not in titles
