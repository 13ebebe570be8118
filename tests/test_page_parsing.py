"""Each article page a pull fetches is parsed into a tree once: extraction and the check that
the page is no listing (`index_pages.listing_of`) read the same tree."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from lxml import etree

from syndicator.core.config import Config
from syndicator.extract import decoding
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store

from .sites import Site


async def test_each_article_page_is_parsed_once(
    site: Site,
    fetcher: Fetcher,
    store: Store,
    store_url: str,
    write_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With `article_links` not matching the article paths, every page is checked for being a
    # listing of the pull's articles: that check parsed the page a second time (about 2 ms a
    # page), after extraction had parsed it.
    parsed: Counter[str] = Counter()
    parse = decoding.parse_html

    def counted(text: str, url: str | None = None) -> etree._Element:
        if url is not None:
            parsed[url] = parsed[url] + 1
        return parse(text, url)

    monkeypatch.setattr(decoding, "parse_html", counted)
    yaml = site.config_yaml(store_url, configured=1, extra='    article_links: "^/never/"\n')
    report = await pull_source("news", write_config(yaml), fetcher, store)
    assert (report.new, report.failed) == (len(site.articles), 0), report.errors
    pages = {site.canonical + a.path: parsed[site.canonical + a.path] for a in site.articles}
    assert pages == {url: 1 for url in pages}
