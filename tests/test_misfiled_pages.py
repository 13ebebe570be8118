"""A mirror serving another stored article's page at a new article's URL (a CMS that maps
ids wrongly, a cache keyed on the wrong path): the article is taken from the mirrors that
serve it, and the other article's item does not take its URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from syndicator.publish.mirror_report import mirror_rows

from .conftest import WriteConfig, seeded_pull, store_and_fetcher
from .sites import FakeClock, Mirror, Site, SiteArticle


def canal_story(after: SiteArticle) -> SiteArticle:
    return SiteArticle(
        id=660200,
        section=after.section,
        title="Egypt opens a new canal lock for container ships",
        paragraphs=[
            "Egypt opened a new lock on the canal on Monday, officials said in a statement "
            "carried by local media.",
            "The lock, built over four years, is expected to shorten waits for the largest "
            "container ships.",
            "Shipping companies welcomed the move, though some said fees would have to come "
            "down as well.",
            "“Traffic will grow again within months,” the canal authority's chairman said.",
        ],
        published=after.published + timedelta(days=2),
    )


def misfile(mirror: Mirror, older: SiteArticle, new: SiteArticle) -> Callable[[SiteArticle], str]:
    """Make `mirror` serve the older article's page at the new one's URL; the mirror's own
    way of writing pages is returned, to put back."""
    page = mirror.article_page
    mirror.article_page = lambda a: page(older) if a.id == new.id else page(a)  # type: ignore[method-assign]
    return page


async def misfiling_site(
    sites: Callable[..., Site], mirrors: int
) -> tuple[Site, SiteArticle, SiteArticle, Mirror, Callable[[SiteArticle], str]]:
    """A started site whose second mirror serves its first article's page at the URL of a
    new article (`canal_story`, not yet published): the site, the older article, the new
    one, the misfiling mirror and its own way of writing pages (to put back)."""
    site = sites(mirrors)
    older = site.articles[0]
    new = canal_story(older)
    misfiling = site.mirrors[1]
    page = misfile(misfiling, older, new)
    await site.start()
    return site, older, new, misfiling, page


async def test_a_mirror_serving_a_stored_articles_page_at_a_new_url_takes_no_article(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # The copy giving the stored article's text was taken for "the text already stored": the
    # two mirrors serving the new article were failed as serving another page, the new
    # article was never stored, and its URL became one of the older item's.
    site, older, new, misfiling, _page = await misfiling_site(sites, 3)
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 's.db'}"))
    clock = FakeClock()
    async with store_and_fetcher(config) as (store, fetcher):
        first = await seeded_pull(config, fetcher, store, clock)
        assert first.new == len(site.articles)
        site.publish(new)
        clock.advance(600)
        second = await seeded_pull(config, fetcher, store, clock)
        titles = [a.title for a in await store.section_articles(new.section, 50)]
        item = next(
            a for a in await store.section_articles(older.section, 50) if a.title == older.title
        )
        older_urls = await store.aliases_of(item.guid)
        health = {r.mirror: r for r in await mirror_rows(config, store)}
    assert second.new == 1 and new.title in titles, second.errors
    assert not [u for u in older_urls if "/660200/" in u]
    odd = [e for e in second.errors if "another page than the article" in e]
    assert len(odd) == 1 and misfiling.origin in odd[0], second.errors
    assert health[site.mirrors[0].origin].state == "healthy"
    assert health[site.mirrors[2].origin].state == "healthy"
    assert health[misfiling.origin].last_error_kind == "odd-copy"


async def test_a_lone_mirror_misfiling_a_new_article_does_not_replace_the_stored_one(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # The one mirror answering served the older article's page at the new one's URL: stored
    # as a duplicate, the new URL became one of the older item's. Once the mirror served the
    # new article, its headline, listed again, made it an update of that item: the older
    # article left the feeds, its item holding the new one's text.
    site, older, new, misfiling, page = await misfiling_site(sites, 2)
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 's.db'}"))
    clock = FakeClock()
    async with store_and_fetcher(config) as (store, fetcher):
        await seeded_pull(config, fetcher, store, clock)
        site.publish(new)
        await site.mirrors[0].go_down()
        clock.advance(600)
        misfiled = await seeded_pull(config, fetcher, store, clock)
        assert (misfiled.new, misfiled.duplicate) == (0, 0)
        assert any("another article's page" in e for e in misfiled.errors), misfiled.errors
        await site.mirrors[0].come_back()
        misfiling.article_page = page  # type: ignore[method-assign]
        clock.advance(600)
        mended = await seeded_pull(config, fetcher, store, clock)
        titles = [a.title for a in await store.section_articles(new.section, 50)]
    assert (mended.new, mended.updated) == (1, 0)
    assert older.title in titles and new.title in titles


async def test_a_fallback_copy_of_a_stored_articles_page_takes_no_article(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # The mirror listing the new article failed for its page, and the article was asked of
    # the other mirror, which served the older article's page at its URL. That copy was not
    # checked against the headline the listing gave (a copy from the listing mirror is): it
    # was stored as a duplicate, and the new article's URL became one of the older item's.
    site, older, new, misfiling, _page = await misfiling_site(sites, 2)
    yaml = site.config_yaml(f"sqlite:///{tmp_path / 's.db'}", extra="    strategy: failover\n")
    config = write_config(yaml)
    clock = FakeClock()
    async with store_and_fetcher(config) as (store, fetcher):
        await seeded_pull(config, fetcher, store, clock)
        site.publish(new)
        # Only the listing mirror lists it (failover), and it fails for its page.
        site.mirrors[0].fail_first[new.path] = 10
        clock.advance(600)
        misfiled = await seeded_pull(config, fetcher, store, clock)
        item = next(
            a for a in await store.section_articles(older.section, 50) if a.title == older.title
        )
        older_urls = await store.aliases_of(item.guid)
    assert any(new.path in u for u in misfiling.log), "the fallback was not asked"
    assert (misfiled.new, misfiled.duplicate) == (0, 0), misfiled.errors
    assert any("another article's page" in e for e in misfiled.errors), misfiled.errors
    assert not [u for u in older_urls if "/660200/" in u]
