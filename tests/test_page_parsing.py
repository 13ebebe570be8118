"""Each article page a pull fetches is parsed into a tree once: extraction, the check that
the page is no listing (`index_pages.listing_of`) and the reading of its alternate-addresses
footer (`announced.announced_origins`) read the same tree, and the footer names the same
addresses as when it was read from a parse of its own."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from syndicator.extract import decoding, extraction
from syndicator.mirrors import announced

from .conftest import REPO, PullSite
from .sites import Site


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every parse of a page's text into a tree, whoever asks for it: the text and the URL
    it was parsed for (None where the caller gave none)."""
    calls: list[tuple[str, str | None]] = []
    parse = decoding.parse_html

    def counted(text: str, url: str | None = None) -> etree._Element:
        calls.append((text, url))
        return parse(text, url)

    monkeypatch.setattr(decoding, "parse_html", counted)
    monkeypatch.setattr(announced, "parse_html", counted)
    return calls


async def test_each_article_page_is_parsed_once(
    site: Site, pull_site: PullSite, parses: list[tuple[str, str | None]]
) -> None:
    # With `article_links` not matching the article paths, every page is checked for being a
    # listing of the pull's articles: that check parsed the page a second time (about 2 ms a
    # page), after extraction had parsed it.
    _, report = await pull_site(site, configured=1, extra='    article_links: "^/never/"\n')
    assert (report.new, report.failed) == (len(site.articles), 0), report.errors
    parsed = Counter(url for _, url in parses if url is not None)
    pages = {site.canonical + a.path: parsed[site.canonical + a.path] for a in site.articles}
    assert pages == {url: 1 for url in pages}


async def test_the_alternate_addresses_footer_is_read_from_the_one_tree(
    site: Site, pull_site: PullSite, parses: list[tuple[str, str | None]]
) -> None:
    # Every article page ends with a footer naming the site's other addresses; reading it
    # parsed the page once more, after extraction had parsed it.
    # The third mirror is not configured: only the pages' footers name it.
    _, report = await pull_site(site, configured=2)
    assert (report.new, report.failed) == (len(site.articles), 0), report.errors
    assert report.discovered == {site.mirrors[2].origin}
    # Each page of the two mirrors asked for it, parsed once.
    parsed = Counter(
        a.path
        for text, _ in parses
        for a in site.articles
        if f'rel="canonical" href="{site.canonical}{a.path}"' in text
    )
    assert parsed == {a.path: 2 for a in site.articles}


PAGES = sorted(
    [*(REPO / "tests" / "corpus" / "pages").glob("*.html"), *(REPO / "seeds").rglob("*.html")]
)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_footer_read_from_the_extraction_tree_names_what_a_parse_of_its_own_did(
    path: Path,
) -> None:
    body, url = path.read_bytes(), "https://www.presstv.ir/Detail/a"
    tree = extraction.article_tree(body, url)
    assert announced.announced_origins(body, url, tree=tree) == announced.announced_origins(
        body, url
    )
