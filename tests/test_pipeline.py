"""End to end through the pipeline: three mirrors of one site, pulled into one store."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import feedparser
import pytest

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source, together
from syndicator.store import Store

from .conftest import PullSite
from .sites import Site


async def feed_items(config: Config, store: Store, section: str) -> dict[str, list[tuple]]:
    """(id, link, title) of every item of a section in each format."""
    book = FeedBook(config, store)
    out: dict[str, list[tuple]] = {}
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse((await book.get(section, fmt)).body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        out[fmt] = [(e.id, e.link, e.title) for e in parsed.entries]
    data = json.loads((await book.get(section, "json")).body)
    out["json"] = [(i["id"], i["url"], i["title"]) for i in data["items"]]
    return out


async def atom_links(config: Config, store: Store) -> list[str]:
    """The links of the Atom feed of every section, sorted."""
    return sorted(link for _, link, _ in (await feed_items(config, store, "all"))["atom"])


def canonical_links(site: Site) -> list[str]:
    """Every article of the site at its canonical origin, sorted."""
    return sorted(site.canonical + a.path for a in site.articles)


async def test_same_article_on_three_mirrors_is_one_item_per_format(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    config, report = await pull_site(site)
    assert report.failed == 0
    assert report.new == len(site.articles)
    # every other copy of every article was recognised as the same article
    assert report.duplicate == 2 * len(site.articles)
    for section in site.sections:
        expected = {(a.title, site.canonical + a.path) for a in site.in_section(section)}
        items = await feed_items(config, store, section)
        for fmt, rows in items.items():
            assert len(rows) == len(expected), fmt
            assert {(title, link) for _, link, title in rows} == expected, fmt
        # the same id in all three formats
        assert (
            {r[0] for r in items["rss"]}
            == {r[0] for r in items["atom"]}
            == {r[0] for r in items["json"]}
        )


async def test_links_point_to_the_canonical_origin(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config = write_config(site.config_yaml(store_url, entry="page"))
    await site.mirrors[0].go_down()  # the canonical origin itself is down
    await pull_source("news", config, fetcher, store)
    book = FeedBook(config, store)
    body = (await book.get("all", "json")).body.decode()
    data = json.loads(body)
    assert len(data["items"]) == len(site.articles)
    for item in data["items"]:
        assert item["url"].startswith(site.canonical + "/Detail/")
    for mirror in site.mirrors[1:]:
        # no link or image inside the content points at the mirror that served it
        assert mirror.origin not in body


async def test_guid_is_stable_across_pulls_and_mirror_changes(
    site: Site, store_url: str, fetcher: Fetcher, write_config: Callable[[str], Config]
) -> None:
    """Separate stores filled from different sets of live mirrors agree on every GUID."""
    from syndicator.store import open_store

    config = write_config(site.config_yaml(store_url))
    store = await open_store(store_url)
    await pull_source("news", config, fetcher, store)
    first = await feed_items(config, store, "all")
    await pull_source("news", config, fetcher, store)
    assert await feed_items(config, store, "all") == first

    await site.mirrors[0].go_down()
    site.mirrors[1].mode = "error"
    report = await pull_source("news", config, fetcher, store)
    assert report.new == 0 and report.failed > 0
    assert await feed_items(config, store, "all") == first
    await store.close()

    # A fresh store that only ever saw the last mirror gives the same GUIDs and links.
    other = write_config(
        site.config_yaml(store_url.replace("store.db", "other.db")), name="other.yaml"
    )
    fresh = await open_store(other.service.store)
    await pull_source("news", other, fetcher, fresh)
    assert await feed_items(other, fresh, "all") == first
    await fresh.close()


async def test_a_page_dated_0001_01_01_is_dated_by_its_feed_entry_in_every_format(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # An ASP.NET page with no date writes DateTime.MinValue. Taken as the publication date, the
    # article went to the end of its feeds, dated the year 1 in Atom and JSON Feed and, since
    # an RFC 822 date has four digits, 2001 in RSS as feedparser reads "Mon, 01 Jan 1".
    article = site.articles[2]
    article.page_published = "0001-01-01T00:00:00"
    config, report = await pull_site(site)
    assert report.new == len(site.articles) and report.failed == 0
    book = FeedBook(config, store)
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse((await book.get(article.section, fmt)).body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        entry = next(e for e in parsed.entries if e.title == article.title)
        assert entry.published_parsed[:4] == article.published.timetuple()[:4], fmt
        # Its feed entry's date puts it where it belongs: the newest of its section.
        assert parsed.entries[0].title == article.title, fmt
    data = json.loads((await book.get(article.section, "json")).body)
    item = next(i for i in data["items"] if i["title"] == article.title)
    assert item["date_published"] == "2024-03-01T11:00:00Z"
    assert ",2024-03-01:news/" in item["id"]


async def test_failing_mirrors_do_not_stop_the_others(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config = write_config(site.config_yaml(store_url))
    await site.mirrors[0].go_down()
    site.mirrors[1].mode = "error"
    report = await pull_source("news", config, fetcher, store)
    assert report.new == len(site.articles)
    kinds = " ".join(report.errors)
    assert "connect" in kinds and "http-500" in kinds
    items = await feed_items(config, store, "all")
    assert len(items["rss"]) == len(site.articles)


async def test_articles_are_routed_to_the_sections_that_list_them(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    site.articles[3].extra_sections = ("north-africa",)  # listed in two sections
    config, _ = await pull_site(site, entry="page")
    for section in site.sections:
        items = await feed_items(config, store, section)
        titles = {t for _, _, t in items["rss"]}
        assert titles == {a.title for a in site.in_section(section)}
    na = await feed_items(config, store, "north-africa")
    iran = await feed_items(config, store, "iran")
    shared = site.articles[3].title
    assert [r[0] for r in na["rss"] if r[2] == shared] == [
        r[0] for r in iran["rss"] if r[2] == shared
    ]


async def test_an_article_listed_under_a_redirecting_link_is_fetched_once(
    store: Store, fetcher: Fetcher, pull_site: PullSite
) -> None:
    """Listings link to short links that answer 301 to the article: the listed URL is kept
    as one of the article's URLs, so the next pull knows it and fetches no article again."""
    site = Site(mirrors=1)
    for article in site.articles:
        article.listed_path = f"/Detail/{article.id}/short"
    await site.start()
    try:
        config, first = await pull_site(site, entry="page")
        assert first.new == len(site.articles)
        asked = [r.path for r in site.mirrors[0].pages_requested()]
        assert asked.count(site.articles[0].listed_path) == 1
        site.mirrors[0].requests.clear()
        second = await pull_source("news", config, fetcher, store)
        asked = [r.path for r in site.mirrors[0].pages_requested()]
    finally:
        await site.stop()
    assert (second.new, second.updated, second.duplicate, second.failed) == (0, 0, 0, 0)
    assert not [p for p in asked if p.startswith("/Detail/")], asked
    article = site.articles[0]
    guid = next(
        a.guid for a in await store.section_articles("all", 100) if a.title == article.title
    )
    assert site.canonical + article.listed_path in await store.aliases_of(guid)


@pytest.mark.parametrize("entry", ["feed", "page"])
async def test_an_entry_point_is_followed_for_its_first_max_links_articles_only(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    entry: str,
) -> None:
    config = write_config(site.config_yaml(store_url, entry=entry, extra="    max_links: 1"))
    assert config.sources["news"].max_links == 1
    report = await pull_source("news", config, fetcher, store)
    assert report.failed == 0
    firsts = {site.in_section(s)[0].title for s in site.sections}  # listed first, each section
    stored = {a.title for a in await store.section_articles("all", 100)}
    assert stored == firsts
    fetched = {p for m in site.mirrors for p in m.log if p.startswith("/Detail/")}
    assert len(fetched) <= len(firsts)


async def test_a_listing_page_is_read_no_further_than_its_max_links_articles(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A listing page of tens of thousands of links (13 MB) was read to its end, each link
    # made absolute, matched and moved onto its mirror, for the max_links a pull takes of
    # them: seconds on every mirror at every pull. Reading ends past the first max_links
    # (and one more, which says there are more): a link after them is not even matched
    # against `article_links`, here one on which the pattern gives up, failing the page.
    runaway = "/Detail/" + "a" * 5000 + "!"
    for mirror in site.mirrors:
        listing = mirror.listing
        mirror.listing = lambda section, listing=listing: listing(section).replace(  # type: ignore[method-assign]
            "</ul></body>", f'</ul><a href="{runaway}">More</a></body>'
        )
    pattern = r"^/Detail/(?:[^/]+/)*(?:[\w-]+)+$"
    extra = f"    max_links: 2\n    article_links: '{pattern}'"
    config = write_config(
        site.config_yaml(store_url, entry="page", sections=("north-africa",), extra=extra)
    )
    report = await pull_source("news", config, fetcher, store)
    assert report.errors == []
    listed = site.in_section("north-africa")
    assert len(listed) == 3
    stored = {a.title for a in await store.section_articles("north-africa", 100)}
    assert stored == {a.title for a in listed[:2]}
    assert any("lists more than 2 article links" in m for m in caplog.messages)


async def test_a_failed_step_of_a_pull_leaves_none_of_its_siblings_running() -> None:
    started = asyncio.Event()
    sibling: list[asyncio.Task[object]] = []

    async def still_writing() -> None:
        sibling.append(asyncio.current_task())  # type: ignore[arg-type]
        started.set()
        await asyncio.sleep(3600)  # a store write that would outlive the failed pull

    async def fails() -> None:
        await started.wait()
        raise StoreError("store refused entry point links: the connection was lost")

    with pytest.raises(StoreError):
        await together(still_writing(), fails())
    # The sibling was stopped before the error reached the pull, not left to run on.
    assert sibling and sibling[0].done() and sibling[0].cancelled()


@pytest.mark.parametrize("entry", ["feed", "page", "sitemap"])
async def test_links_written_with_the_other_scheme_are_the_sites_own(
    sites: Callable[..., Site],
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    entry: str,
) -> None:
    # A site behind a proxy that ends TLS writes its own links with the other scheme: here
    # served over http, its feeds, listings and sitemaps link https://. Taken for another
    # site's links, every one was skipped: the pull said ok and stored nothing.
    site = sites(2)
    for mirror in site.mirrors:
        mirror.links_scheme = "https"
    await site.start()
    text = site.config_yaml(store_url, entry="page" if entry == "page" else "feed")
    if entry == "sitemap":
        for section in site.sections:
            text = text.replace(
                f"{{feed: /rss/{section}.xml}}", f"{{sitemap: /sitemap/{section}.xml}}"
            )
    config = write_config(text)
    report = await pull_source("news", config, fetcher, store)
    assert report.errors == []
    assert report.new == len(site.articles)
    assert await atom_links(config, store) == canonical_links(site)


async def test_a_listing_pages_relative_links_follow_its_base_href(
    sites: Callable[..., Site],
    store: Store,
    pull_site: PullSite,
) -> None:
    # The listing at /Section/north-africa says `<base href="/">` and links `Detail/...`:
    # resolved against the page's own address instead, every link was /Section/Detail/...,
    # a 404 on every mirror, and the mirrors were marked failing for it.
    site = sites(2)
    for mirror in site.mirrors:
        mirror.base_href = True
    await site.start()
    config, report = await pull_site(site, entry="page")
    assert report.errors == []
    assert report.new == len(site.articles)
    assert not [r.path for r in site.all_requests() if r.path.startswith("/Section/Detail")]
    assert await atom_links(config, store) == canonical_links(site)


async def test_a_listing_of_cards_linked_only_by_data_href_gives_their_articles(
    sites: Callable[..., Site],
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # A listing whose cards are clickable by script, `<article data-href="/Detail/...">`,
    # with no `<a href>` to the article: no link was read, and every pull of the section
    # failed with "no article links on the page" on every mirror.
    site = sites(2)

    def cards(mirror: Any, section: str) -> str:
        listed = "".join(
            f'<article class="card" data-href="{a.link_path}"><h3>{html.escape(a.title)}</h3>'
            f"<p>Analysis of what it means</p></article>"
            for a in mirror._listed(section)
        )
        # A sponsored card of another site, which is not fetched.
        listed += (
            '<article data-href="https://sponsor.example/Detail/2024/03/01/1/Ad"><h3>Ad</h3>'
            "</article>"
        )
        return f"<!DOCTYPE html><html><body><h1>News</h1><main>{listed}</main></body></html>"

    for mirror in site.mirrors:
        mirror.listing = lambda section, mirror=mirror: cards(mirror, section)  # type: ignore[method-assign]
    await site.start()
    config = write_config(site.config_yaml(store_url, entry="page"))
    report = await pull_source("news", config, fetcher, store)
    assert report.errors == []
    assert report.new == len(site.articles)
    items = await feed_items(config, store, "all")
    assert sorted(link for _, link, _ in items["atom"]) == sorted(
        site.canonical + a.path for a in site.articles
    )


async def test_a_base_element_without_href_leaves_the_next_ones_href_in_force(
    sites: Callable[..., Site],
    store: Store,
    pull_site: PullSite,
) -> None:
    # `<base target="_self"><base href="/">`: HTML takes the first base element that has an
    # href. Only the first one was read, and having none, the links were resolved against
    # the listing's own address: /Section/Detail/..., no article link, on every mirror.
    site = sites(2)
    for mirror in site.mirrors:
        mirror.base_href = mirror.base_target = True
    await site.start()
    config, report = await pull_site(site, entry="page")
    assert report.errors == []
    assert report.new == len(site.articles)
    assert await atom_links(config, store) == canonical_links(site)


async def test_an_article_listed_again_with_tracking_parameters_is_fetched_once_a_mirror(
    sites: Callable[..., Site],
    store: Store,
    pull_site: PullSite,
) -> None:
    # A "Most read" box linking each article again with `?utm_source=mostread`: both links are
    # the one article (its canonical URL drops tracking parameters, and it was stored once),
    # but each mirror was asked for it twice at every pull.
    site = sites(2)
    for mirror in site.mirrors:
        mirror.most_read = mirror.most_read_encoded = True
    await site.start()
    config, report = await pull_site(site, entry="page")
    assert report.errors == []
    assert report.new == len(site.articles)
    for mirror in site.mirrors:
        asked = [p.split("?")[0] for p in mirror.log if p.startswith("/Detail/")]
        assert sorted(asked) == sorted(a.path for a in site.articles), mirror.origin
    assert await atom_links(config, store) == canonical_links(site)


async def test_an_article_linked_raw_and_percent_encoded_is_fetched_once_a_mirror(
    sites: Callable[..., Site],
    store: Store,
    fetcher: Fetcher,
    pull_site: PullSite,
) -> None:
    # An Arabic slug written as its letters in the listing and percent-encoded in the "Most
    # read" box (two templates of one CMS): one URL to a browser and to the mirror, but two
    # to the pull, which asked each mirror for the article twice at every pull.
    site = sites(2)
    for n, article in enumerate(site.articles):
        article.slug = f"خبر-{n}"
    for mirror in site.mirrors:
        mirror.most_read = mirror.most_read_encoded = True
    await site.start()
    config, report = await pull_site(site, entry="page")
    assert report.errors == []
    assert report.new == len(site.articles)
    for mirror in site.mirrors:
        asked = [unquote(p.split("?")[0]) for p in mirror.log if p.startswith("/Detail/")]
        assert sorted(asked) == sorted(a.path for a in site.articles), mirror.origin
    items = await feed_items(config, store, "all")
    assert len(items["atom"]) == len(site.articles)
    for mirror in site.mirrors:
        mirror.log.clear()
    again = await pull_source("news", config, fetcher, store)
    assert again.errors == [] and again.new == again.updated == 0
    assert not [p for m in site.mirrors for p in m.log if p.startswith("/Detail/")]


async def test_articles_a_section_page_lists_with_a_teaser_are_fetched_once_until_it_changes(
    store: Store, fetcher: Fetcher, pull_site: PullSite
) -> None:
    """A section page whose links hold a teaser after the headline (a card) gives a listed
    headline that is never the stored one: every article it lists was taken for edited and
    fetched again at every pull. The headline it gave when each page was fetched is kept;
    a change of it is still an edit, fetched once."""
    site = Site(mirrors=1)
    for a in site.articles:
        a.listing_teaser = f"Analysis: what {a.title.split()[0]} means for the region"
    await site.start()
    try:
        config, first = await pull_site(site, entry="page")
        assert first.new == len(site.articles) and first.failed == 0

        async def pages_fetched() -> list[str]:
            site.mirrors[0].requests.clear()
            report = await pull_source("news", config, fetcher, store)
            assert report.failed == 0, report.errors
            asked = [r.path for r in site.mirrors[0].pages_requested()]
            return [p for p in asked if p.startswith("/Detail/")]

        # A new article changes the listings: the next pull reads them, and fetches it only.
        newest = dataclasses.replace(
            site.articles[1],
            id=660199,
            title="Egypt opens a new bridge over the Nile in Cairo",
            published=site.articles[1].published + timedelta(days=1),
            slug="",
            listing_teaser="Analysis: traffic in the capital",
        )
        site.publish(newest)
        assert await pages_fetched() == [newest.path]
        assert await pages_fetched() == []
        # The listing's text of one article changes (its headline edited, say): that one is
        # fetched again, once.
        edited = site.articles[0]
        edited.listing_teaser = "Updated: talks resume on Monday"
        site.touch()
        assert await pages_fetched() == [edited.path]
        assert await pages_fetched() == []
    finally:
        await site.stop()


@pytest.mark.parametrize("entry", ["feed", "page"])
async def test_an_article_with_a_headline_past_the_stored_length_is_fetched_once(
    store: Store,
    fetcher: Fetcher,
    entry: str,
    pull_site: PullSite,
) -> None:
    """A headline longer than the store keeps (TITLE_CHARS) is cut when stored: the next
    pull compared the listing's whole headline with the cut one, took the article for
    edited, and fetched it again at every pull."""
    site = Site(mirrors=1)
    long = site.articles[0]
    long.title = " ".join(["Libya’s rival governments agree to talks on a unified budget"] * 12)
    assert len(long.title) > 600
    await site.start()
    try:
        config, first = await pull_site(site, entry=entry)
        assert first.new == len(site.articles) and first.failed == 0
        # A new article changes the listings: the next pull reads them again.
        newest = dataclasses.replace(
            site.articles[1],
            id=660199,
            title="Egypt opens a new bridge over the Nile in Cairo",
            published=site.articles[1].published + timedelta(days=1),
            slug="",
        )
        site.publish(newest)
        site.mirrors[0].requests.clear()
        second = await pull_source("news", config, fetcher, store)
        asked = [r.path for r in site.mirrors[0].pages_requested()]
    finally:
        await site.stop()
    assert (second.new, second.updated, second.failed) == (1, 0, 0)
    assert [p for p in asked if p.startswith("/Detail/")] == [newest.path], asked
