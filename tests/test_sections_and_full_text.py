"""Sections from entry points and YAML rules, and `full_text`, through the real pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store

from .sites import Site


async def guids_by_title(config: Config, store: Store, section: str) -> dict[str, str]:
    data = json.loads((await FeedBook(config, store).get(section, "json")).body)
    return {item["title"]: item["id"] for item in data["items"]}


def article_requests(site: Site) -> list[str]:
    return [path for m in site.mirrors for path in m.log if path.startswith("/Detail/")]


async def test_section_rules_put_articles_in_more_feeds_with_the_same_guid(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    target = site.in_section("iran")[0]
    rules = f"""    section_rules:
      - {{breadcrumb: "News / North Africa", section: west-asia}}
      - {{path: "^/Detail/\\\\d{{4}}/\\\\d\\\\d/\\\\d\\\\d/{target.id}/", section: north-africa}}
"""
    config = write_config(
        site.config_yaml(
            store_url, entry="page", entry_sections=("north-africa", "iran"), extra=rules
        )
    )
    report = await pull_source("news", config, fetcher, store)
    assert report.failed == 0 and report.new == 5
    africa = await guids_by_title(config, store, "north-africa")
    west = await guids_by_title(config, store, "west-asia")
    iran = await guids_by_title(config, store, "iran")
    listed_in_africa = {a.title for a in site.in_section("north-africa")}
    # the breadcrumb rule: every North Africa article is in west-asia too, same GUID
    assert set(west) == listed_in_africa
    assert all(west[t] == africa[t] for t in west)
    # the path rule: one Iran article is in north-africa too, same GUID
    assert set(africa) == listed_in_africa | {target.title}
    assert africa[target.title] == iran[target.title]


async def test_full_text_fetches_the_article_page_when_the_feed_has_a_summary(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config = write_config(site.config_yaml(store_url, sections=("north-africa",)))
    await pull_source("news", config, fetcher, store)
    articles = site.in_section("north-africa")
    assert len(article_requests(site)) == len(articles) * len(site.mirrors)
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    for item in data["items"]:
        article = next(a for a in articles if a.title == item["title"])
        # the whole article, not the one-paragraph summary of the feed
        assert all(p.split(",")[0] in item["content_html"] for p in article.paragraphs[1:])


async def test_an_entry_that_carries_the_full_text_needs_no_page(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    for mirror in site.mirrors:
        mirror.feed_content = True
    # Long enough to be the article rather than a teaser.
    for article in site.articles:
        article.paragraphs = [*article.paragraphs, *article.paragraphs[:3]]
    config = write_config(site.config_yaml(store_url, sections=("north-africa",)))
    report = await pull_source("news", config, fetcher, store)
    assert report.failed == 0 and report.new == len(site.in_section("north-africa"))
    assert article_requests(site) == []
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    assert {i["title"] for i in data["items"]} == {a.title for a in site.in_section("north-africa")}
    assert all(i["url"].startswith(site.canonical + "/Detail/") for i in data["items"])


async def test_full_text_off_takes_what_the_feed_gives(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config = write_config(
        site.config_yaml(store_url, sections=("north-africa",), extra="    full_text: false\n")
    )
    report = await pull_source("news", config, fetcher, store)
    articles = site.in_section("north-africa")
    assert report.failed == 0 and report.new == len(articles)
    assert article_requests(site) == []
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    for item in data["items"]:
        article = next(a for a in articles if a.title == item["title"])
        assert article.paragraphs[0] in item["content_html"]
        assert article.paragraphs[2] not in item["content_html"]


async def test_a_stored_article_listed_later_in_another_section_joins_it_without_a_fetch(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config = write_config(site.config_yaml(store_url, entry="page"))
    first = await pull_source("news", config, fetcher, store)
    assert first.failed == 0 and first.new == len(site.articles)
    moved = site.in_section("iran")[0]
    assert "north-africa" not in moved.sections
    guid = (await guids_by_title(config, store, "iran"))[moved.title]
    moved.extra_sections = ("north-africa",)  # the publisher lists it there too, unchanged
    fetched = len(article_requests(site))
    report = await pull_source("news", config, fetcher, store)
    assert report.failed == 0 and report.new == 0 and report.updated == 0
    assert "north-africa" in report.changed_sections
    assert len(article_requests(site)) == fetched  # known already: no article page fetched
    africa = await guids_by_title(config, store, "north-africa")
    assert africa[moved.title] == guid  # one item, the same id in both sections


async def test_a_section_filled_by_rules_carries_its_sources_polling_interval(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    rules = '    section_rules:\n      - {breadcrumb: "News / North Africa", section: west-asia}\n'
    text = site.config_yaml(
        store_url, entry="page", entry_sections=("north-africa", "iran"), extra=rules
    ).replace("    every: 5m\n", "    every: 2h\n")
    config = write_config(text)
    assert "west-asia" not in config.sources["news"].sections
    await pull_source("news", config, fetcher, store)
    rss = (await FeedBook(config, store).get("west-asia", "rss")).body.decode()
    assert "<ttl>120</ttl>" in rss  # the source's 2h, not the 10 minutes of no source


def json_feed_config(site: Site, store_url: str) -> str:
    """The site's config with each section's entry point its JSON Feed."""
    return site.config_yaml(store_url, sections=("north-africa",)).replace(
        "{feed: /rss/north-africa.xml}", "{feed: /feeds/north-africa.json}"
    )


async def test_a_json_feed_is_an_entry_point_like_rss(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # JSON Feed 1.1 as a source's feed: every article once, its page fetched for the full
    # text, the feed's dates kept. It was refused as "not well-formed (invalid token)".
    config = write_config(json_feed_config(site, store_url))
    assert "/feeds/north-africa.json" in json_feed_config(site, store_url)
    report = await pull_source("news", config, fetcher, store)
    articles = site.in_section("north-africa")
    assert report.failed == 0 and report.new == len(articles)
    assert len(article_requests(site)) == len(articles) * len(site.mirrors)
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    assert sorted(i["title"] for i in data["items"]) == sorted(a.title for a in articles)
    for item in data["items"]:
        article = next(a for a in articles if a.title == item["title"])
        assert all(p.split(",")[0] in item["content_html"] for p in article.paragraphs[1:])


async def test_a_json_feed_that_carries_the_full_text_needs_no_page(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    for mirror in site.mirrors:
        mirror.feed_content = True
    for article in site.articles:
        article.paragraphs = [*article.paragraphs, *article.paragraphs[:3]]
    config = write_config(json_feed_config(site, store_url))
    report = await pull_source("news", config, fetcher, store)
    assert report.failed == 0 and report.new == len(site.in_section("north-africa"))
    assert article_requests(site) == []
