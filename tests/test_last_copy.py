"""The last copy of an article is worth a retry: with the canonical mirror seized, one mirror
lagging (it lacks the newest fifth), one truncating every body and one flaky (a 503 for every
third request), the newest articles exist only on the flaky mirror, whose breaker opens. Every
article some mirror serves must still reach the feeds within two pulls."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from syndicator.core.config import Config
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import limits_of
from syndicator.store.engine import open_store

from .sites import SECTION_TITLES, FakeClock, Site, SiteArticle
from .test_sitemaps import generated_articles


def across_sections(articles: list[SiteArticle]) -> list[SiteArticle]:
    sections = list(SECTION_TITLES)
    for n, article in enumerate(articles):
        article.section = sections[n % len(sections)]
    return articles


async def test_with_every_fault_at_once_every_served_article_is_published_after_two_pulls(
    write_config: Callable[[str], Config], store_url: str
) -> None:
    now = datetime(2024, 6, 22, 12, 0, tzinfo=UTC)
    articles = across_sections(generated_articles(45, days=3, end=now - timedelta(hours=1)))
    site = Site(mirrors=4, articles=articles)
    seized, lagging, truncating, flaky = site.mirrors
    seized.mode, lagging.mode, truncating.mode, flaky.mode = (
        "seized",
        "lagging",
        "truncated",
        "flaky",
    )
    lagging.lag = len(articles) // 5
    await site.start()
    config = write_config(site.config_yaml(store_url, read_timeout="2s"))
    store = await open_store(store_url)
    clock = FakeClock(now)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            for _ in range(2):
                await pull_source("news", config, fetcher, store, clock=clock, rng=random.Random(1))
                clock.advance(config.sources["news"].every)
        stored = [a.url for a in await store.section_articles("all", limit=1000)]
    finally:
        await store.close()
        await site.stop()
    newest = sorted(articles, key=lambda a: a.published)[-lagging.lag :]
    # The newest fifth was served by the flaky mirror alone, and it was asked for them.
    assert all(any(r.path == a.path for r in flaky.requests) for a in newest)
    expected = {site.canonical + a.path for a in articles}
    assert len(stored) == len(set(stored))
    missing = expected - set(stored)
    assert not missing, f"{len(missing)} of {len(expected)} articles missing"


async def test_a_mirror_asking_for_a_long_wait_keeps_no_other_mirror_from_a_retry(
    write_config: Callable[[str], Config], store_url: str
) -> None:
    # One mirror answers an article page 503 in passing; the other rate-limits article pages
    # with 429 and `Retry-After: 120`. The retries of the last copy gave up at once, waiting
    # for no mirror: the article was left out of the feeds though the first mirror served it
    # a second later. And a mirror whose long wait is still running is not asked meanwhile.
    site = Site(mirrors=2)
    canonical, limiting = site.mirrors
    article = site.articles[0]
    canonical.fail_first = {article.path: 1}
    limiting.throttle_articles = 120
    await site.start()
    config = write_config(site.config_yaml(store_url, extra="    robots: false"))
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            report = await pull_source(
                "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
            )
    finally:
        await store.close()
        await site.stop()
    assert report.new == len(site.articles)
    assert [r.status for r in canonical.requests if r.path == article.path] == [503, 200]
    assert [r.status for r in limiting.requests if r.path == article.path] in ([], [429])
