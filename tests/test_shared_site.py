"""Two sources of one config reading the same site: what one remembers of a URL (its HTTP
validators, the links it listed) never stands for the other's answer."""

from __future__ import annotations

from collections.abc import Callable

from syndicator.core.config import Config
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store

from .sites import Site


def two_sources(site: Site, store_url: str) -> str:
    """`libya` and `algeria` read the same listing page of the site, each keeping only its
    own articles (`article_links`), into a section of its own."""
    canonical = site.mirrors[0].origin
    sources = "".join(
        f"""  {name}:
    title: {title}
    canonical: {canonical}
    language: en
    every: 5m
    article_links: "{pattern}"
    sections:
      {section}: {{page: /Section/north-africa}}
"""
        for name, title, pattern, section in (
            ("libya", "Libya desk", "/66010[01]/", "north-africa"),
            ("algeria", "Algeria desk", "/660102/", "west-asia"),
        )
    )
    return f"""service:
  title: Test news
  public_url: http://feeds.example.test
  store: "{store_url}"
  connect_timeout: 2s
  read_timeout: 3s
sections:
  north-africa: {{title: North Africa}}
  west-asia: {{title: West Asia}}
sources:
{sources}"""


async def titles(store: Store, section: str) -> set[str]:
    return {a.title for a in await store.section_articles(section, 50)}


async def test_a_source_is_not_answered_304_for_what_another_source_fetched(
    site: Site,
    fetcher: Fetcher,
    store: Store,
    store_url: str,
    write_config: Callable[..., Config],
) -> None:
    # The second source sent the validators the first one's answer gave for the same URL,
    # got 304, and took the links the first one kept (its own articles): its own article
    # was never fetched, and its section was given the other source's articles.
    config = write_config(two_sources(site, store_url))
    libya = {a.title for a in site.articles if a.id in (660100, 660101)}
    algeria = {a.title for a in site.articles if a.id == 660102}
    first = await pull_source("libya", config, fetcher, store)
    assert (first.new, first.failed) == (2, 0)
    second = await pull_source("algeria", config, fetcher, store)
    assert (second.new, second.failed) == (1, 0)
    assert await titles(store, "north-africa") == libya
    assert await titles(store, "west-asia") == algeria
    listing = [r for r in site.mirrors[0].requests if r.path == "/Section/north-africa"]
    assert [r.conditional for r in listing] == [False, False]

    # Each source still asks conditionally what it fetched itself: 304, nothing lost.
    again = await pull_source("algeria", config, fetcher, store)
    assert (again.new, again.failed) == (0, 0)
    listing = [r for r in site.mirrors[0].requests if r.path == "/Section/north-africa"]
    assert (listing[-1].conditional, listing[-1].status) == (True, 304)
    assert await titles(store, "west-asia") == algeria
    assert await titles(store, "north-africa") == libya
