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
