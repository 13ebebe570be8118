"""Sitemaps as entry points: the parser on its own, then a section filled from a sitemap
index of gzipped Google News sitemaps served by a loopback site."""

from __future__ import annotations

import gzip
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.core.config import Config
from syndicator.core.errors import ExtractError
from syndicator.extract.sitemaps import (
    MAX_ENTRY_ELEMENTS,
    SitemapUrl,
    newest_pages_first,
    parse_date,
    parse_sitemap,
    recent,
)
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport, pull_source
from syndicator.pull.remembered import Remembered
from syndicator.pull.sitemap_reading import MAX_CHILD_SITEMAPS
from syndicator.store import Store
from syndicator.store.health import MirrorStore

from .sites import SEIZED_FEED, FakeClock, Mirror, Site, SiteArticle

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
IMAGE = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'


def test_a_urlset_gives_each_url_with_its_dates_and_news_title() -> None:
    body = (
        f'<?xml version="1.0"?><urlset {NS} {NEWS} {IMAGE}>'
        "<url><loc>/Detail/2024/03/04/1/a</loc><lastmod>2024-03-04T10:00:00+01:00</lastmod>"
        "<image:image><image:loc>https://cdn.example.test/a.jpg</image:loc></image:image>"
        "<news:news><news:publication><news:name>X</news:name></news:publication>"
        "<news:publication_date>2024-03-04T08:30:00Z</news:publication_date>"
        "<news:title>Harbour wall &amp; pier</news:title></news:news></url>"
        "<url><loc>https://www.news.example/Detail/2024/03/05/2/b</loc></url>"
        "</urlset>"
    ).encode()
    sitemap = parse_sitemap(body, "https://www.news.example/sitemap.xml")
    assert not sitemap.is_index and sitemap.children == []
    first, second = sitemap.urls
    # A relative loc is made absolute; the image's loc is not taken for the page's.
    assert first.loc == "https://www.news.example/Detail/2024/03/04/1/a"
    assert first.lastmod == datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    assert first.published == datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
    assert first.title == "Harbour wall & pier"
    assert first.stamp == first.published
    assert second.loc == "https://www.news.example/Detail/2024/03/05/2/b"
    assert second.lastmod is None and second.stamp is None


def test_a_gzipped_sitemap_index_names_its_sitemaps() -> None:
    body = gzip.compress(
        (
            f"<sitemapindex {NS}><sitemap><loc>https://n.example/s/1.xml.gz</loc>"
            "<lastmod>2024-03-01</lastmod></sitemap>"
            "<sitemap><loc>https://n.example/s/2.xml.gz</loc></sitemap></sitemapindex>"
        ).encode()
    )
    sitemap = parse_sitemap(body, "https://n.example/sitemap.xml")
    assert sitemap.is_index and sitemap.urls == []
    assert [c.loc for c in sitemap.children] == [
        "https://n.example/s/1.xml.gz",
        "https://n.example/s/2.xml.gz",
    ]
    assert sitemap.children[0].lastmod == datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"<!DOCTYPE html><html><body><p>Seized</p></body></html>", "not-sitemap"),
        (b'<opml version="2.0"><body><outline text="x"/></body></opml>', "not-sitemap"),
        (b"<urlset><url><loc>https://x.example/a</loc>", "not-sitemap"),  # cut short
        (b"\x1f\x8b\x08\x00 not really gzip", "not-sitemap"),
    ],
    ids=["html", "opml", "truncated", "broken-gzip"],
)
def test_what_is_not_a_sitemap_is_refused_by_name(body: bytes, kind: str) -> None:
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/sitemap.xml")
    assert caught.value.kind == kind and caught.value.url == "https://n.example/sitemap.xml"


@pytest.mark.parametrize("label", ["UTF-16", "utf-16le", "UTF-32", "ucs-2"])
def test_a_sitemap_in_ascii_bytes_that_declares_utf16_is_read(label: str) -> None:
    # A CMS copying its page encoding into the declaration: libxml2 refused the whole
    # document ("labelled UTF-16 but has UTF-8 content"), and every article link was lost.
    body = (
        f'<?xml version="1.0" encoding="{label}"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://news.example/a/1</loc><lastmod>2024-03-01</lastmod></url>"
        "</urlset>"
    ).encode("ascii")
    found = parse_sitemap(body, "https://news.example/sitemap.xml")
    assert [u.loc for u in found.urls] == ["https://news.example/a/1"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_sitemap_really_in_utf16_or_utf32_is_read(codec: str) -> None:
    # The guard of the test above: real two- and four-byte text keeps its declaration.
    label = "UTF-32" if "32" in codec else "UTF-16"
    body = (
        f'<?xml version="1.0" encoding="{label}"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://news.example/a/é</loc></url>"
        "</urlset>"
    ).encode(codec)
    found = parse_sitemap(body, "https://news.example/sitemap.xml")
    assert [u.loc for u in found.urls] == ["https://news.example/a/é"]


def test_entities_are_not_expanded_in_a_sitemap() -> None:
    # A billion-laughs sitemap: the entity stays unexpanded (or the parser refuses it); it
    # never turns into gigabytes of loc text.
    lol = "".join(
        f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};">' for i in range(1, 12)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY l0 "lol">{lol}]>'
        f"<urlset {NS}><url><loc>https://n.example/&l11;</loc></url></urlset>"
    ).encode()
    try:
        sitemap = parse_sitemap(body, "https://n.example/sitemap.xml")
    except ExtractError:
        return
    assert all(len(u.loc) < 1000 for u in sitemap.urls)


def test_a_gzip_bomb_is_refused_at_the_inflate_limit() -> None:
    body = gzip.compress(b"<urlset>" + b" " * (60 * 1024 * 1024) + b"</urlset>")
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/big.xml.gz")
    assert caught.value.kind == "too-large"


def test_fifty_thousand_urls_are_all_read() -> None:
    items = "".join(
        f"<url><loc>https://n.example/Detail/2024/01/01/{n}/x</loc></url>" for n in range(50_000)
    )
    sitemap = parse_sitemap(f"<urlset {NS}>{items}</urlset>".encode(), "https://n.example/s")
    assert len(sitemap.urls) == 50_000
    assert sitemap.urls[-1].loc == "https://n.example/Detail/2024/01/01/49999/x"


@pytest.mark.parametrize("plain", [False, True], ids=["xml", "text"])
def test_a_sitemap_of_more_urls_than_the_protocol_allows_gives_its_first_fifty_thousand(
    plain: bool,
) -> None:
    # The protocol caps a sitemap at 50,000 URLs; 450,000 (a 1.2 MB gzip, under every size
    # limit) took 33 s of a pull's parsing, on every pull. The first 50,000 are read, and
    # the sitemap says it lists more.
    locs = [f"https://n.example/Detail/2024/01/01/{n}/x" for n in range(60_000)]
    if plain:
        body = "\n".join(locs).encode()
    else:
        items = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
        body = f"<urlset {NS}>{items}</urlset>".encode()
    sitemap = parse_sitemap(gzip.compress(body), "https://n.example/s.xml.gz")
    assert [u.loc for u in sitemap.urls] == locs[:50_000]
    assert sitemap.over_limit and not sitemap.truncated


def test_a_gzipped_sitemap_gzipped_again_is_read() -> None:
    # A `.xml.gz` compressed once more on its way (no Content-Encoding to say so) was refused
    # as "not a sitemap: Start tag expected".
    body = f"<urlset {NS}><url><loc>https://n.example/Detail/1</loc></url></urlset>".encode()
    sitemap = parse_sitemap(gzip.compress(gzip.compress(body)), "https://n.example/s.xml.gz")
    assert [u.loc for u in sitemap.urls] == ["https://n.example/Detail/1"]


def test_dates_and_the_backfill_window() -> None:
    assert parse_date("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)
    assert parse_date("2024-03-05T10:00:00-02:00") == datetime(2024, 3, 5, 12, tzinfo=UTC)
    assert parse_date("yesterday") is None and parse_date(None) is None
    # Past the last UTC time Python has: no date, not an OverflowError that cost the sitemap.
    assert parse_date("9999-12-31T23:59:59-14:00") is None
    assert parse_date("0001-01-01T00:00:00+14:00") is None
    body = (
        f"<urlset {NS}>"
        "<url><loc>https://n.example/old</loc><lastmod>2024-02-01</lastmod></url>"
        "<url><loc>https://n.example/undated</loc></url>"
        "<url><loc>https://n.example/mid</loc><lastmod>2024-03-02</lastmod></url>"
        "<url><loc>https://n.example/new</loc><lastmod>2024-03-04</lastmod></url>"
        "</urlset>"
    ).encode()
    urls = parse_sitemap(body, "https://n.example/s").urls
    since = datetime(2024, 3, 1, tzinfo=UTC)
    # Newest first, too old dropped, undated kept after the dated ones.
    assert [u.loc.rsplit("/", 1)[1] for u in recent(urls, since)] == ["new", "mid", "undated"]
    assert len(recent(urls, None)) == 4


VIDEO = 'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"'


def test_an_images_or_videos_title_and_date_are_not_the_articles() -> None:
    body = (
        f"<urlset {NS} {NEWS} {IMAGE} {VIDEO}><url><loc>https://n.example/a</loc>"
        "<image:image><image:loc>https://n.example/a.jpg</image:loc>"
        "<image:title>Photo of the pier</image:title></image:image>"
        "<video:video><video:title>Clip</video:title>"
        "<video:publication_date>2020-01-01</video:publication_date></video:video>"
        "<news:news><news:publication_date>2024-03-04</news:publication_date>"
        "<news:title>Harbour wall reopens</news:title></news:news></url>"
        "<url><loc>https://n.example/b</loc><image:image><image:title>Only a photo"
        "</image:title></image:image></url></urlset>"
    ).encode()
    first, second = parse_sitemap(body, "https://n.example/s").urls
    assert (first.title, first.published) == (
        "Harbour wall reopens",
        datetime(2024, 3, 4, tzinfo=UTC),
    )
    assert (second.title, second.published) == (None, None)


@pytest.mark.parametrize(
    "namespace",
    [
        "http://www.google.com/schemas/sitemap-news/0.9",
        "http://www.google.com/schemas/sitemap-news/0.84",  # an older one, still served
        "https://www.google.com/schemas/sitemap-news/0.9",
    ],
)
def test_a_google_news_title_and_date_are_read_in_each_of_its_namespaces(namespace: str) -> None:
    body = (
        f'<urlset {NS} xmlns:n="{namespace}"><url><loc>https://n.example/a</loc><n:news>'
        "<n:publication_date>2024-03-04</n:publication_date><n:title>Quay</n:title>"
        "</n:news></url></urlset>"
    ).encode()
    (entry,) = parse_sitemap(body, "https://n.example/s").urls
    assert (entry.title, entry.published) == ("Quay", datetime(2024, 3, 4, tzinfo=UTC))


def test_an_entry_holding_junk_past_any_real_one_is_refused() -> None:
    junk = "<x/>" * (MAX_ENTRY_ELEMENTS + 1)
    body = f"<urlset {NS}><url><loc>https://n.example/a</loc>{junk}</url></urlset>".encode()
    with pytest.raises(ExtractError) as info:
        parse_sitemap(gzip.compress(body), "https://n.example/s.xml.gz")
    assert info.value.kind == "hostile-markup"
    # Images as Google reads them, 1,000 to a page, are no junk.
    images = "".join(
        f"<image:image><image:loc>https://n.example/{n}.jpg</image:loc></image:image>"
        for n in range(1000)
    )
    body = f"<urlset {NS} {IMAGE}><url><loc>https://n.example/a</loc>{images}</url></urlset>"
    assert len(parse_sitemap(body.encode(), "https://n.example/s").urls) == 1


def test_locs_that_are_no_web_address_or_not_plain_text_are_skipped() -> None:
    body = (
        f"<!DOCTYPE urlset [<!ENTITY e 'x'>]><urlset {NS}>"
        "<url><loc>https://n.example/2024/&e;/story</loc></url>"  # never expanded: cut short
        "<url><loc>https://n.example/a<b>x</b>/c</loc></url>"
        "<url><loc>javascript:alert(1)</loc></url>"
        "<url><loc>file:///etc/passwd</loc></url>"
        "<url><loc>mailto:desk@n.example</loc></url>"
        "<url><loc>https://n.example/outer</loc><url><loc>https://n.example/inner</loc></url>"
        "</url>"
        "<url><loc>https://n.example/kept</loc></url></urlset>"
    ).encode()
    assert [u.loc for u in parse_sitemap(body, "https://n.example/s").urls] == [
        "https://n.example/outer",
        "https://n.example/kept",
    ]


def test_w3c_short_dates_and_gzip_members_are_read() -> None:
    assert parse_date("2024") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_date("2024-05") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_date("2024-13") is None
    # `cat a.gz b.gz`: one document in two gzip members.
    half = len(body := f"<urlset {NS}><url><loc>https://n.example/a</loc></url></urlset>") // 2
    members = gzip.compress(body[:half].encode()) + gzip.compress(body[half:].encode())
    assert [u.loc for u in parse_sitemap(members, "https://n.example/s.xml.gz").urls] == [
        "https://n.example/a"
    ]


def test_a_date_far_in_the_future_does_not_put_a_sitemap_first() -> None:
    body = (
        f"<sitemapindex {NS}>"
        "<sitemap><loc>https://n.example/s/2999.xml</loc><lastmod>2999-01-01</lastmod></sitemap>"
        "<sitemap><loc>https://n.example/s/today.xml</loc><lastmod>2024-03-04</lastmod></sitemap>"
        "</sitemapindex>"
    ).encode()
    children = parse_sitemap(body, "https://n.example/s").children
    now = datetime(2024, 3, 4, 12, tzinfo=UTC)
    assert [c.loc[-9:] for c in recent(children, None, now)] == ["today.xml", "/2999.xml"]


# --- a section filled from a sitemap --------------------------------------------------------

SYLLABLES = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ai", "ou")]


# When the pulls of a section filled from a sitemap run (a FakeClock's time), and the entry
# point those pulls read unless a test names another.
NOW = datetime(2024, 6, 22, 12, 0, tzinfo=UTC)
SITEMAP_ENTRY = "{sitemap: /sitemap/north-africa.xml, backfill: 3d}"


def generated_articles(
    count: int, days: int, end: datetime = NOW - timedelta(minutes=5), seed: int = 7
) -> list[SiteArticle]:
    """`count` articles of one section spread evenly over `days` days up to `end`, each with
    its own words (so that no two are near-duplicates of each other)."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))

    def sentence(n: int) -> str:
        return " ".join(word() for _ in range(n)).capitalize() + "."

    step = timedelta(days=days) / count
    return [
        SiteArticle(
            id=800000 + n,
            section="north-africa",
            title=f"{sentence(6)[:-1]} {n}",
            paragraphs=[sentence(14) + " " + sentence(12) for _ in range(3)],
            published=end - step * (count - n),
        )
        for n in range(count)
    ]


async def _stored_urls(store: Store) -> list[str]:
    rows = await store.section_articles("north-africa", limit=100_000)
    return [row.url for row in rows]


async def stored_urls(store: Store) -> list[str]:
    """The addresses of the section's stored articles, sorted."""
    return sorted(await _stored_urls(store))


def urls_of(site: Site, articles: list[SiteArticle]) -> list[str]:
    """The canonical addresses of `articles` on `site`, sorted."""
    return sorted(site.canonical + a.path for a in articles)


def rewrite_day_sitemaps(mirror: Mirror, change: Callable[[str], str]) -> None:
    """Serve each of the mirror's day sitemaps passed through `change`."""
    day_sitemap = mirror.day_sitemap

    def changed(section: str, day: str) -> str | None:
        text = day_sitemap(section, day)
        return None if text is None else change(text)

    mirror.day_sitemap = changed  # type: ignore[method-assign]


def rewrite_sitemap_index(mirror: Mirror, change: Callable[[str], str]) -> None:
    """Serve the mirror's sitemap index passed through `change`."""
    index = mirror.sitemap_index
    mirror.sitemap_index = lambda section: change(index(section))  # type: ignore[method-assign]


async def started_site(
    sites: Callable[..., Site], count: int = 12, days: int = 2
) -> tuple[Site, Mirror, list[SiteArticle]]:
    """A site of one mirror, started, serving `count` generated articles over `days` days:
    the site, its mirror and the articles."""
    articles = generated_articles(count, days=days)
    site = sites(1, articles=articles)
    await site.start()
    return site, site.mirrors[0], articles


PullSitemap = Callable[..., Awaitable[PullReport]]


@pytest.fixture
def pull_sitemap(
    write_config: Callable[[str], Config], store_url: str, fetcher: Fetcher, store: Store
) -> PullSitemap:
    """Pull a site's north-africa section from `entry` (its sitemap index by default) into
    the test's store, at NOW unless a clock is given; `extra` is YAML added to the source."""

    async def pull(
        site: Site, entry: str = SITEMAP_ENTRY, *, extra: str = "", clock: FakeClock | None = None
    ) -> PullReport:
        yaml = site.config_yaml(store_url, sections=("north-africa",)).replace(
            "north-africa: {feed: /rss/north-africa.xml}", f"north-africa: {entry}"
        )
        assert f"north-africa: {entry}" in yaml  # the section reads `entry`, not its feed
        config = write_config(yaml + extra)
        return await pull_source("news", config, fetcher, store, clock=clock or FakeClock(NOW))

    return pull


async def test_a_sitemap_backfills_a_section_once_merged_with_its_feed(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    articles = generated_articles(2000, days=28)
    site = sites(1, articles=articles)
    site.feed_window = 30  # the feed shows the newest 30, as a publisher's feed does
    await site.start()
    entry = "{feed: /rss/north-africa.xml, sitemap: /sitemap/north-africa.xml, backfill: 3d}"
    clock = FakeClock(NOW)
    report = await pull_sitemap(site, entry, clock=clock)
    assert report.failed == 0, report.errors
    window = [a for a in articles if a.published >= NOW - timedelta(days=3)]
    assert 200 < len(window) < 230
    stored = await _stored_urls(store)
    expected = {site.canonical + a.path for a in window}
    # Every article of the backfill window once; the feed's 30 are among them, not twice.
    assert len(stored) == len(set(stored)) == len(expected)
    assert set(stored) == expected
    assert report.new == len(expected)
    # Day sitemaps older than the window were not even asked for.
    asked = {r.path for r in site.mirrors[0].requests}
    oldest_day = f"{(NOW - timedelta(days=4)):%Y-%m-%d}"
    assert f"/sitemap/north-africa/{oldest_day}.xml.gz" not in asked

    # Second pull: the day sitemaps answer 304, nothing new is fetched.
    site.mirrors[0].requests.clear()
    clock.advance(600)
    again = await pull_sitemap(site, entry, clock=clock)
    assert again.new == 0 and again.failed == 0, again.errors
    requests = site.mirrors[0].requests
    day_maps = [r for r in requests if r.path.endswith(".xml.gz")]
    assert day_maps and all(r.status == 304 for r in day_maps)
    assert not [r for r in requests if r.path.startswith("/Detail/")]


async def test_an_index_is_read_on_the_mirror_that_answered_and_never_off_the_site(
    sites: Callable[..., Site],
    store: Store,
    pull_sitemap: PullSitemap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    articles = generated_articles(40, days=2)
    site = sites(2, articles=articles)
    elsewhere = sites(1, articles=[])  # another site: its server only counts requests
    await site.start()
    await elsewhere.start()
    canonical, mirror = site.mirrors
    canonical.mode = "error"  # the canonical origin is down: the mirror answers the index
    foreign = (
        f"<sitemap><loc>{elsewhere.mirrors[0].origin}/sitemap/north-africa/x.xml</loc>"
        "<lastmod>2999-01-01</lastmod></sitemap>"
    )
    # The mirror serves the index as it was copied from the canonical origin: every sitemap
    # named on the canonical host; and one more, on another host, dated far ahead.
    rewrite_sitemap_index(
        mirror,
        lambda text: text.replace(mirror.origin, canonical.origin).replace(
            "</sitemapindex>", foreign + "</sitemapindex>"
        ),
    )
    report = await pull_sitemap(site)
    assert report.new == len(articles), report.errors
    assert not elsewhere.mirrors[0].requests
    day_maps = [r.path for r in mirror.requests if r.path.endswith(".xml.gz")]
    assert len(day_maps) == 3
    assert any("skipping 1 sitemap on a host not the source's in" in m for m in caplog.messages)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{backfill: 7d, feed: /rss.xml}",
            "'backfill' and 'sitemap_max_links' apply to a 'sitemap'",
        ),
        ("{sitemap: sitemap.xml}", "write the path on the site, '/sitemap.xml'"),
        ("{sitemap: /s.xml, backfill: 0s}", "greater than zero"),
        ("{}", "give 'feed'"),
    ],
)
def test_sitemap_entry_points_are_checked(
    entry: str, message: str, write_config: Callable[[str], Config]
) -> None:
    from syndicator.core.errors import ConfigError

    site = Site(mirrors=1)
    yaml = site.config_yaml("sqlite:///x.db", sections=("north-africa",)).replace(
        "north-africa: {feed: /rss/north-africa.xml}", f"north-africa: {entry}"
    )
    with pytest.raises(ConfigError) as caught:
        write_config(yaml)
    assert message in str(caught.value)


async def test_a_url_dated_at_an_offset_no_zone_has_costs_the_sitemap_nothing(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # One `<lastmod>` whose offset is a day or more (`-99:99`, a CMS's broken zone field)
    # raised ValueError out of the sitemap's reading: no ExtractError, so the whole pull of
    # the source failed, every section with it, on every pull.
    site, mirror, articles = await started_site(sites)
    rewrite_day_sitemaps(
        mirror, lambda text: text.replace("+00:00</lastmod>", "-99:99</lastmod>", 1)
    )
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


def test_a_lastmod_at_an_offset_no_zone_has_is_no_date() -> None:
    body = (
        f"<urlset {NS}><url><loc>https://n.example/a</loc>"
        "<lastmod>2024-03-01T10:00:00-99:99</lastmod></url>"
        "<url><loc>https://n.example/b</loc><lastmod>2024-03-01T10:00:00Z</lastmod></url>"
        "</urlset>"
    ).encode()
    first, second = parse_sitemap(body, "https://n.example/sitemap.xml").urls
    assert (first.loc, first.lastmod) == ("https://n.example/a", None)
    assert second.lastmod == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("before", ["\n", "\r\n\r\n", "  \n", "\ufeff\n"], ids=repr)
async def test_a_sitemap_with_blank_lines_before_its_xml_declaration_is_read(
    before: str, sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A PHP site whose theme or a plugin prints a blank line before the sitemap (WordPress's
    # "XML declaration allowed only at the start of the document"): libxml2 refused the
    # index and every sitemap it names, and the section got nothing from its sitemap.
    site, mirror, articles = await started_site(sites)
    rewrite_sitemap_index(mirror, lambda text: before + text)
    rewrite_day_sitemaps(mirror, lambda text: before + text)
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


async def test_a_news_sitemap_with_html_entities_in_its_titles_is_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A CMS that writes its headlines into `news:title` as it writes them into HTML
    # (`&nbsp;`, `&rsquo;`: entities XML does not define) had the sitemap refused whole,
    # and the section got nothing from it.
    site, mirror, articles = await started_site(sites)
    rewrite_day_sitemaps(
        mirror, lambda text: text.replace("</news:title>", "&nbsp;&rsquo;</news:title>")
    )
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


async def test_a_news_sitemap_that_never_declares_its_news_prefix_is_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A generator that writes `<news:news>` without declaring `xmlns:news` had the sitemap
    # refused whole ("Namespace prefix news on news is not defined"), which feed readers
    # read past: the section got nothing from it.
    site, mirror, articles = await started_site(sites)
    rewrite_day_sitemaps(mirror, lambda text: re.sub(r' xmlns:news="[^"]+"', "", text))
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


def test_undeclared_prefixes_in_a_sitemap_are_read_past() -> None:
    body = (
        f'<urlset {NS} xsi:schemaLocation="x y"><url><loc>https://n.example/a</loc>'
        "<image:image><image:loc>https://n.example/a.jpg</image:loc></image:image>"
        "<news:news><news:publication_date>2024-03-01T10:00:00Z</news:publication_date>"
        "<news:title>Port reopens</news:title></news:news><my:views>3</my:views></url></urlset>"
    ).encode()
    (url,) = parse_sitemap(body, "https://n.example/sitemap.xml").urls
    assert (url.loc, url.published, url.title) == (
        "https://n.example/a",
        datetime(2024, 3, 1, 10, tzinfo=UTC),
        "Port reopens",
    )


def test_html_entities_in_a_sitemap_are_read_as_their_characters() -> None:
    body = (
        f"<urlset {NS} {NEWS}><url><loc>https://n.example/a?x=1&amp;y=2</loc><news:news>"
        "<news:title>Q&amp;A:&nbsp;Egypt&rsquo;s talks &lt;live&gt; &eacute;t&eacute;"
        "</news:title></news:news></url></urlset>"
    ).encode()
    (url,) = parse_sitemap(body, "https://n.example/sitemap.xml").urls
    assert url.loc == "https://n.example/a?x=1&y=2"
    assert url.title == "Q&A:\xa0Egypt\u2019s talks <live> \u00e9t\u00e9"


async def test_a_news_sitemap_with_windows_1252_titles_declared_utf8_is_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A CMS whose database holds its headlines in windows-1252 writes their curly quotes
    # (byte 0x92) into a sitemap that says UTF-8: libxml2 refused it whole ("Invalid bytes
    # in character encoding") and the section got nothing from it, where the same bytes in
    # a feed are read by the charset the body is really in.
    site, mirror, articles = await started_site(sites)
    rewrite_day_sitemaps(mirror, lambda text: text.replace("</news:title>", "\u2019s</news:title>"))
    resource = mirror._resource

    def in_cp1252(path: str) -> tuple[bytes, str] | None:
        found = resource(path)
        if found is None or not path.endswith(".xml.gz"):
            return found
        text = gzip.decompress(found[0]).decode("utf-8")
        return gzip.compress(text.encode("cp1252")), found[1]

    mirror._resource = in_cp1252  # type: ignore[method-assign]
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


@pytest.mark.parametrize(
    ("declared", "codec"),
    [
        ("UTF-8", "cp1252"),  # a legacy CMS's bytes in a sitemap that says UTF-8
        ("ISO-8859-1", "utf-8"),  # a template's declaration over a UTF-8 body
        ("windows-1256", "cp1256"),  # a declaration that is right
    ],
)
def test_a_sitemap_is_read_in_the_charset_its_bytes_are_in(declared: str, codec: str) -> None:
    body = (
        f'<?xml version="1.0" encoding="{declared}"?><urlset {NS} {NEWS}><url>'
        "<loc>https://n.example/ar/\u0645\u0635\u0631-\u062a\u0648\u0646\u0633</loc>"
        "<news:news><news:title>\u0645\u0635\u0631 \u2019 \u062a\u0648\u0646\u0633"
        "</news:title></news:news></url></urlset>"
    )
    if codec == "cp1252":
        body = body.replace("\u0645\u0635\u0631-\u062a\u0648\u0646\u0633", "caf\u00e9")
        body = body.replace("\u0645\u0635\u0631 \u2019 \u062a\u0648\u0646\u0633", "Egypt\u2019s")
    (url,) = parse_sitemap(body.encode(codec), "https://n.example/sitemap.xml").urls
    written = ET.fromstring(body.split("?>", 1)[1])
    assert url.loc == written.findtext(".//{*}loc")
    assert url.title == written.findtext(".//{*}title")


async def test_a_sitemap_after_a_php_warning_is_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # PHP with display_errors on prints its notices before the document: the sitemap index
    # and every sitemap it names were refused ("Extra content at the end of the document"),
    # where a feed so served is read.
    warning = (
        "<br />\n<b>Deprecated</b>:  Function create_function() is deprecated in "
        "<b>/var/www/html/wp-content/plugins/news-sitemap/sitemap.php</b> on line <b>12</b>"
        "<br />\n"
    )
    site, mirror, articles = await started_site(sites)
    rewrite_sitemap_index(mirror, lambda text: warning + text)
    rewrite_day_sitemaps(mirror, lambda text: warning + text)
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


def test_an_html_page_that_quotes_a_sitemap_is_still_refused() -> None:
    # A page about sitemaps that shows one (`<?xml` in its text) is no sitemap.
    body = (
        b"<!DOCTYPE html><html><body><h1>Our sitemap</h1><pre>&lt;?xml version=1.0?&gt;"
        b"<?xml version='1.0'?><urlset><url><loc>https://n.example/a</loc></url></urlset>"
    )
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/sitemap.xml")
    assert caught.value.kind == "not-sitemap"


async def test_the_sitemaps_of_an_index_named_by_an_index_are_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A site's top index that names its sections' indexes (and one sitemap of its own, and
    # itself): the sitemaps the inner index named were never asked, without a word, and the
    # section got only what the top index named directly.
    site, mirror, articles = await started_site(sites)
    resource = mirror._resource
    first_day = f"{min(a.published for a in articles):%Y-%m-%d}"

    def with_top_index(path: str) -> tuple[bytes, str] | None:
        if path != "/sitemap.xml":
            return resource(path)
        named = (
            "/sitemap.xml",
            "/sitemap/north-africa.xml",
            f"/sitemap/north-africa/{first_day}.xml.gz",
        )
        entries = "".join(f"<sitemap><loc>{mirror.base}{p}</loc></sitemap>" for p in named)
        return f"<sitemapindex {NS}>{entries}</sitemapindex>".encode(), "application/xml"

    mirror._resource = with_top_index  # type: ignore[method-assign]
    report = await pull_sitemap(site, "{sitemap: /sitemap.xml, backfill: 3d}")
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)
    asked = [r.path for r in mirror.requests if r.path.startswith("/sitemap")]
    assert len(asked) == len(set(asked))  # each sitemap once, the top index not again


async def test_a_sitemap_followed_by_a_php_notice_is_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # WordPress with display_errors on ends its answers with PHP's notice of a buffer it
    # could not flush: the sitemap index and every sitemap it names were refused ("Extra
    # content at the end of the document"), where a feed so served is read.
    notice = (
        "<br />\n<b>Notice</b>:  ob_end_flush(): Failed to send buffer of zlib output "
        "compression (1) in <b>/var/www/html/wp-includes/functions.php</b> on line "
        "<b>5427</b><br />\n"
    )
    site, mirror, articles = await started_site(sites)
    rewrite_sitemap_index(mirror, lambda text: text + notice)
    rewrite_day_sitemaps(mirror, lambda text: text + notice)
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


def test_a_sitemap_cut_off_inside_an_inner_urlset_is_still_refused() -> None:
    body = (
        f"<urlset {NS}><url><loc>https://n.example/a</loc></url>"
        "<x><urlset><url><loc>https://n.example/b</loc></url></urlset></x><url><lo"
    ).encode()
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/sitemap.xml")
    assert caught.value.kind == "not-sitemap"


CUT_URLSET = (
    f'<?xml version="1.0"?><urlset {NS} {NEWS}>'
    "<url><loc>https://n.example/a/1</loc><lastmod>2024-03-04T10:00:00Z</lastmod></url>"
    "<url><loc>https://n.example/a/2</loc><news:news><news:title>Two</news:title></news:news>"
    "</url><url><loc>https://n.example/a/3</loc><news:news><news:ti"
)


@pytest.mark.parametrize(
    ("body", "listed"),
    [
        (CUT_URLSET.encode(), ["https://n.example/a/1", "https://n.example/a/2"]),
        (gzip.compress(CUT_URLSET.encode()), ["https://n.example/a/1", "https://n.example/a/2"]),
        (
            b'<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<sm:sitemap><sm:loc>https://n.example/s/1.xml</sm:loc></sm:sitemap>\n"
            b"<sm:sitemap><sm:loc>https://n.exa",
            ["https://n.example/s/1.xml"],
        ),
    ],
    ids=["urlset", "gzipped", "prefixed-index"],
)
def test_a_sitemap_cut_off_mid_file_gives_the_entries_before_the_cut(
    body: bytes, listed: list[str]
) -> None:
    # A generator that died mid-file, a copy saved half-way: the whole sitemap was refused
    # for its lost end, and the section got none of the entries before the cut.
    sitemap = parse_sitemap(body, "https://n.example/sitemap.xml")
    assert sitemap.truncated
    assert [u.loc for u in sitemap.urls or sitemap.children] == listed


@pytest.mark.parametrize(
    "body",
    [
        # A fault before the cut is a fault: the document is refused, as a whole one is.
        f"<urlset {NS}><url><loc>https://n.example/a</lc></url><url><loc>https://n.example/b"
        "</loc></url><url>",
        # An element left open before the cut.
        f"<urlset {NS}><url><loc>https://n.example/a</loc></url><x><url>"
        "<loc>https://n.example/b</loc></url><url><lo",
        # A seizure notice cut off is no sitemap, whatever it holds.
        "<!DOCTYPE html><html><body><h1>This domain has been seized</h1><urlset><url>"
        "<loc>https://n.example/a</loc></url><p>",
        f"<?xml version='1.0'?><opml><body><urlset {NS}><url><loc>https://n.example/a</loc>"
        "</url><url>",
    ],
    ids=["fault-before-the-cut", "open-element", "seizure-page", "other-root"],
)
def test_a_cut_off_document_that_is_no_sitemap_before_the_cut_is_refused(body: str) -> None:
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body.encode(), "https://n.example/sitemap.xml")
    assert caught.value.kind == "not-sitemap"


async def test_a_sitemap_cut_off_mid_file_fills_the_section_and_is_reported(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    site, mirror, articles = await started_site(sites)
    day_sitemap = mirror.day_sitemap
    served: list[str] = []  # what each day's sitemap holds before the cut
    cut_off: list[str] = []

    def cut(section: str, day: str) -> str | None:
        text = day_sitemap(section, day)
        if text is None or text.count("<url>") < 3:
            served.extend([] if text is None else [text])
            return text
        # Cut in the third entry, as a generator that died there leaves it.
        kept = text[: text.index("<url>", text.index("<url>", text.index("<url>") + 1) + 1)]
        served.append(kept)
        cut_off.append(day)
        return kept + "<url><loc>https://n.exa"

    mirror.day_sitemap = cut  # type: ignore[method-assign]
    report = await pull_sitemap(site)
    before_the_cut = sorted(
        site.canonical + a.path
        for a in articles
        if any(f"{mirror.base}{a.path}</loc>" in text for text in served)
    )
    assert len(cut_off) >= 2 and len(before_the_cut) < len(articles)
    assert await stored_urls(store) == before_the_cut
    # The operator sees each sitemap cut off, and nothing else; the mirror is not failed
    # for it, and the sitemap is read whole again next time (no validators kept for a 304).
    assert len(report.errors) == len(cut_off), report.errors
    assert all("truncated sitemap" in e for e in report.errors), report.errors
    (health,) = await MirrorStore(store).health("news")
    assert health.state == "healthy" and health.consecutive_failures == 0
    days = re.findall(r"<loc>([^<]+\.xml\.gz)</loc>", mirror.sitemap_index("north-africa"))
    kept = {url for url in days if not any(f"/{day}.xml" in url for day in cut_off)}
    remembered = Remembered("news", store, MirrorStore(store))
    assert set(await remembered.validators(days)) == kept


async def test_a_sitemap_past_the_protocols_fifty_thousand_urls_is_read_and_reported(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    site, mirror, articles = await started_site(sites, 6, days=1)
    day_sitemap = mirror.day_sitemap
    padded: list[str] = []

    def crowded(section: str, day: str) -> str | None:
        # The day's articles, then 60,000 tag pages: past the protocol's 50,000 URLs.
        text = day_sitemap(section, day)
        if text is None or "<url>" not in text:
            return text
        padded.append(day)
        tags = "".join(f"<url><loc>{mirror.base}/tag/{n}</loc></url>" for n in range(60_000))
        return text.replace("</urlset>", f"{tags}</urlset>")

    mirror.day_sitemap = crowded  # type: ignore[method-assign]
    report = await pull_sitemap(site)
    listed = [a for a in articles if "north-africa" in a.sections]
    assert padded and listed
    assert await stored_urls(store) == urls_of(site, listed)
    assert len(report.errors) == len(padded), report.errors
    assert all("lists more than 50,000 URLs" in e for e in report.errors), report.errors
    (health,) = await MirrorStore(store).health("news")
    assert health.state == "healthy" and health.consecutive_failures == 0


async def test_failover_asks_the_next_mirror_for_a_sitemap_cut_off_mid_file(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # With `strategy: failover`, the first mirror's sitemaps cut off mid-file gave their
    # entries before the cut, and the next mirror, which serves them whole, was not asked.
    articles = generated_articles(12, days=2)
    site = sites(2, articles=articles)
    await site.start()
    first = site.mirrors[0]
    day_sitemap = first.day_sitemap

    def cut(section: str, day: str) -> str | None:
        text = day_sitemap(section, day)
        if text is None or text.count("<url>") < 2:
            return text
        return text[: text.index("<url>", text.index("<url>") + 1)] + "<url><loc>https://n.exa"

    first.day_sitemap = cut  # type: ignore[method-assign]
    report = await pull_sitemap(site, extra="    strategy: failover\n")
    assert report.errors and all("truncated sitemap" in e for e in report.errors)
    assert await stored_urls(store) == urls_of(site, articles)


async def test_a_news_sitemap_with_unescaped_ampersands_is_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A generator that does not escape `&` in its headlines (`Trade & tariffs`) or query
    # strings had the sitemap refused whole ("EntityRef: expecting ';'"): the section got
    # nothing from it.
    site, mirror, articles = await started_site(sites)
    rewrite_day_sitemaps(
        mirror, lambda text: text.replace("</news:title>", " & tariffs</news:title>")
    )
    report = await pull_sitemap(site)
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


def test_unescaped_ampersands_in_a_sitemap_are_read_as_written() -> None:
    body = (
        f"<urlset {NS} {NEWS}><url><loc>https://n.example/news.php?id=12&cat=4&amp;p=1</loc>"
        "<news:news><news:title>Trade & tariffs &#8212; AT&amp;T</news:title></news:news></url>"
        "<url><loc><![CDATA[https://n.example/news.php?id=13&cat=4]]></loc></url></urlset>"
    ).encode()
    first, second = parse_sitemap(body, "https://n.example/sitemap.xml").urls
    assert (first.loc, first.title) == (
        "https://n.example/news.php?id=12&cat=4&p=1",
        "Trade & tariffs \u2014 AT&T",
    )
    assert second.loc == "https://n.example/news.php?id=13&cat=4"


@pytest.mark.parametrize("control", ["\x0b", "\x08", "&#11;", "&#x1F;", "&#8;"], ids=repr)
def test_control_characters_xml_forbids_cost_a_sitemap_nothing(control: str) -> None:
    # A headline pasted from a word processor holds a vertical tab: libxml2 refused the
    # whole sitemap ("PCDATA invalid Char value 11"), and the section got nothing from it.
    body = (
        f"<urlset {NS} {NEWS}><url><loc>https://n.example/a</loc><news:news>"
        f"<news:title>Port{control} reopens &#10;&#9;today</news:title></news:news></url></urlset>"
    ).encode()
    (url,) = parse_sitemap(body, "https://n.example/sitemap.xml").urls
    assert url.title == "Port reopens \n\ttoday"


async def test_a_sitemap_dating_every_url_when_generated_is_not_fetched_again_each_pull(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # A generator that writes the moment it ran as every URL's `lastmod`: newer on every
    # pull, it read as "changed since stored", and every article the sitemap lists was
    # fetched again on every pull, unchanged. (Each day sitemap lists at least 3 URLs: with
    # fewer, one time for all may be true.)
    site, mirror, articles = await started_site(sites, 20, days=2)
    clock = FakeClock(NOW)
    rewrite_day_sitemaps(
        mirror,
        lambda text: re.sub(
            r"<lastmod>[^<]*</lastmod>", f"<lastmod>{clock.now.isoformat()}</lastmod>", text
        ),
    )
    first = await pull_sitemap(site, clock=clock)
    assert first.new == len(articles) and first.failed == 0, first.errors
    mirror.requests.clear()
    clock.advance(600)
    again = await pull_sitemap(site, clock=clock)
    assert again.failed == 0, again.errors
    assert not [r.path for r in mirror.requests if r.path.startswith("/Detail/")]


def test_urls_that_all_give_one_lastmod_give_none() -> None:
    def urlset(stamps: list[str]) -> bytes:
        urls = "".join(
            f"<url><loc>https://n.example/{i}</loc><lastmod>{s}</lastmod></url>"
            for i, s in enumerate(stamps)
        )
        return f"<urlset {NS}>{urls}</urlset>".encode()

    generated = parse_sitemap(urlset(["2024-06-22T12:00:00Z"] * 3), "https://n.example/s.xml")
    assert [u.lastmod for u in generated.urls] == [None, None, None]
    two = parse_sitemap(urlset(["2024-06-22T12:00:00Z"] * 2), "https://n.example/s.xml")
    assert all(u.lastmod for u in two.urls)  # too few to tell
    dated = parse_sitemap(
        urlset(["2024-06-22T12:00:00Z", "2024-06-22T12:00:00Z", "2024-06-21T09:00:00Z"]),
        "https://n.example/s.xml",
    )
    assert all(u.lastmod for u in dated.urls)


def test_a_sitemap_in_iso_2022_jp_keeps_its_escape_sequences() -> None:
    title = "\u6771\u4eac\u306e\u30cb\u30e5\u30fc\u30b9"  # 東京のニュース
    body = (
        f'<?xml version="1.0" encoding="ISO-2022-JP"?><urlset {NS} {NEWS}><url>'
        f"<loc>https://n.example/a</loc><news:news><news:title>{title}</news:title>"
        "</news:news></url></urlset>"
    ).encode("iso-2022-jp")
    (url,) = parse_sitemap(body, "https://n.example/sitemap.xml").urls
    assert url.title == title


async def test_sitemaps_an_index_names_that_are_gone_cost_the_mirror_nothing(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # An index that names sitemaps no longer there (Yoast's author sitemap with author
    # archives off, a deleted month): each 404 was counted against the mirror, three in a
    # row opened its breaker, and neither the index's other sitemaps nor any article were
    # asked of it. Every mirror serves the same index: the section got nothing.
    articles = generated_articles(20, days=2)
    site = sites(2, articles=articles)
    await site.start()
    for mirror in site.mirrors:
        gone = "".join(
            f"<sitemap><loc>{mirror.base}/sitemap/north-africa/author-{i}.xml</loc>"
            f"<lastmod>{NOW.isoformat()}</lastmod></sitemap>"
            for i in range(4)
        )
        rewrite_sitemap_index(
            mirror,
            lambda text, gone=gone: text.replace("</sitemapindex>", gone + "</sitemapindex>"),
        )
    report = await pull_sitemap(site)
    assert report.new == len(articles), report.errors
    # The operator still sees each sitemap that is gone.
    gone_sitemaps = [e for e in report.errors if "/author-" in e]
    assert len(gone_sitemaps) >= 4 and all("http-404" in e for e in gone_sitemaps)


ARABIC = "\u0645\u0635\u0631-\u062a\u0648\u0646\u0633"  # مصر-تونس


@pytest.mark.parametrize(
    "declaration",
    ['<?xml version="1.0" encoding="ISO-8859-1"?>', '<?xml version="1.0"?>', ""],
    ids=["declared-latin-1", "declared-none", "no-declaration"],
)
def test_a_sitemap_is_read_in_the_charset_its_http_header_names(declaration: str) -> None:
    # windows-1256 bytes whose charset only the Content-Type names (under a template's
    # ISO-8859-1 declaration, or none): a feed so served is read right, a sitemap was read
    # as windows-1252 and every Arabic address was mojibake, fetched and never found.
    body = (
        f"{declaration}<urlset {NS} {NEWS}><url><loc>https://n.example/ar/{ARABIC}</loc>"
        f"<news:news><news:title>{ARABIC}</news:title></news:news></url></urlset>"
    ).encode("cp1256")
    (url,) = parse_sitemap(body, "https://n.example/sitemap.xml", "windows-1256").urls
    assert url.loc == f"https://n.example/ar/{ARABIC}"
    assert url.title == ARABIC


async def test_a_sitemap_whose_charset_only_its_http_header_names_fills_the_section(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    articles = generated_articles(4, days=1)
    for n, article in enumerate(articles):
        article.slug = f"{ARABIC}-{n}"
    site = sites(1, articles=articles)
    await site.start()
    (mirror,) = site.mirrors
    resource = mirror._resource

    def in_cp1256(path: str) -> tuple[bytes, str] | None:
        if path != "/sitemap/north-africa-urls.xml":
            return resource(path)
        urls = "".join(f"<url><loc>{mirror.base}{a.path}</loc></url>" for a in articles)
        text = f'<?xml version="1.0" encoding="ISO-8859-1"?><urlset {NS}>{urls}</urlset>'
        return text.encode("cp1256"), "application/xml; charset=windows-1256"

    mirror._resource = in_cp1256  # type: ignore[method-assign]
    report = await pull_sitemap(site, "{sitemap: /sitemap/north-africa-urls.xml, backfill: 3d}")
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


@pytest.mark.parametrize(
    "body",
    [
        b"https://n.example/a/1\nhttps://n.example/a/2\n",
        b"\xef\xbb\xbf\r\n  https://n.example/a/1  \r\n\r\nHTTPS://n.example/a/2",  # BOM, CRLF
        gzip.compress(b"https://n.example/a/1\n\n\nhttps://n.example/a/2\n"),
    ],
    ids=["plain", "bom-crlf-blank-lines", "gzipped"],
)
def test_a_plain_text_sitemap_gives_one_url_a_line(body: bytes) -> None:
    # sitemaps.org allows a UTF-8 text file of one URL a line: it was refused as no XML,
    # so an entry point `sitemap: /sitemap.txt` never gave a link.
    sitemap = parse_sitemap(body, "https://n.example/sitemap.txt")
    assert not sitemap.is_index
    assert [(u.loc, u.stamp) for u in sitemap.urls] == [
        ("https://n.example/a/1", None),
        ("https://n.example/a/2", None),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"https://n.example/a/1\nSome other stuff which is no URL\nhttps://n.example/a/2\n",
        b"https://n.example/a/1\nhttps://n.example/a/2 https://n.example/a/3\nhttps://n.example/a/2",
        b"https://n.example/a/1\n/a/9\nhttps://n.example/a/2\n",  # relative: the protocol
        # wants absolute URLs
        b"https://n.example/a/1\nftp://n.example/a/9\nhttps://n.example/a/2\n",
    ],
    ids=["prose-line", "two-on-a-line", "relative", "ftp"],
)
def test_a_plain_text_sitemap_skips_the_lines_that_are_not_urls(body: bytes) -> None:
    # One stray line (a generator's note, two URLs run together) cost the whole sitemap: it
    # was refused, and the section got nothing from it. The other lines are its URLs, and
    # the lines skipped are counted for the pull's log.
    sitemap = parse_sitemap(body, "https://n.example/sitemap.txt")
    assert [u.loc for u in sitemap.urls] == ["https://n.example/a/1", "https://n.example/a/2"]
    assert sitemap.skipped == 1


@pytest.mark.parametrize(
    "body",
    [
        b"Service temporarily unavailable. Please try again later.\n",
        b"https://n.example/a/1\nThis domain has been seized.\nContact the authorities.\n",
        b"https://n.example/a/1\n<!DOCTYPE html><html><body><a href='/a/2'>2</a></body></html>",
        b"User-agent: *\nSitemap: https://n.example/sitemap.xml\n",
        b"https://n.example/ is unavailable\n",
    ],
    ids=["notice", "mostly-prose", "html-after", "robots", "address-in-prose"],
)
def test_a_text_that_is_not_all_urls_is_no_sitemap(body: bytes) -> None:
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/sitemap.txt")
    assert caught.value.kind == "not-sitemap"


def test_a_url_a_server_printed_before_an_xml_sitemap_is_no_plain_text_sitemap() -> None:
    # What a server printed before the XML declaration is dropped, as before plain-text
    # sitemaps were read: the sitemap's URLs, not the printed one.
    body = (
        f'https://n.example/debug\n<?xml version="1.0"?><urlset {NS}>'
        "<url><loc>https://n.example/a/1</loc></url></urlset>"
    ).encode()
    assert [u.loc for u in parse_sitemap(body, "https://n.example/s.xml").urls] == [
        "https://n.example/a/1"
    ]


async def test_a_plain_text_sitemap_fills_a_section(
    sites: Callable[..., Site],
    store: Store,
    pull_sitemap: PullSitemap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site, mirror, articles = await started_site(sites, 6, days=1)
    resource = mirror._resource

    def with_text_sitemap(path: str) -> tuple[bytes, str] | None:
        if path != "/sitemap.txt":
            return resource(path)
        lines = "".join(f"{mirror.base}{a.path}\n" for a in articles)
        # A line that is no URL is skipped, and said so in the log.
        body = f"{mirror.base}/about\n{lines}Generated by SitemapGen 2.1\n"
        return body.encode(), "text/plain; charset=utf-8"

    mirror._resource = with_text_sitemap  # type: ignore[method-assign]
    report = await pull_sitemap(site, "{sitemap: /sitemap.txt}")
    assert report.failed == 0, report.errors
    # Its article links, by `article_links`; not /about.
    assert await stored_urls(store) == urls_of(site, articles)
    assert f"news: skipping 1 line of {mirror.base}/sitemap.txt that is not an http(s) URL" in (
        caplog.messages
    )


RSS_SITEMAP = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>News</title>'
    "<link>https://n.example/</link>"
    "<item><title>One</title><link>https://n.example/a/1</link>"
    "<pubDate>Thu, 17 Dec 2009 12:04:56 +0200</pubDate></item>"
    "<item><title>Two</title><link>/a/2</link></item>"
    "</channel></rss>"
)
ATOM_SITEMAP = (
    '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>News</title><id>https://n.example/</id><updated>2009-12-17T12:04:56+02:00</updated>"
    '<entry><title>One</title><link href="https://n.example/a/1"/><id>urn:one</id>'
    "<published>2009-12-01T08:00:00Z</published><updated>2009-12-17T12:04:56+02:00</updated>"
    "</entry>"
    '<entry><title>Two</title><link href="https://n.example/a/2"/><id>urn:two</id></entry>'
    "</feed>"
)


@pytest.mark.parametrize(
    "body",
    [RSS_SITEMAP.encode(), ATOM_SITEMAP.encode(), gzip.compress(RSS_SITEMAP.encode())],
    ids=["rss-2.0", "atom-1.0", "gzipped-rss"],
)
def test_an_rss_or_atom_feed_served_as_a_sitemap_gives_its_entries_links(body: bytes) -> None:
    # sitemaps.org allows an RSS 2.0 or Atom 1.0 feed as a sitemap (and an index may name
    # one): it was refused ("no urlset or sitemapindex") and the section got nothing.
    sitemap = parse_sitemap(body, "https://n.example/sitemap-feed.xml")
    assert not sitemap.is_index
    # Each entry's link, dated by its update, else its publication, in UTC.
    assert [(u.loc, u.lastmod) for u in sitemap.urls] == [
        ("https://n.example/a/1", datetime(2009, 12, 17, 10, 4, 56, tzinfo=UTC)),
        ("https://n.example/a/2", None),
    ]


def test_a_feed_broken_past_its_root_is_read_as_a_feed_is() -> None:
    # feedparser reads past an unescaped `<` in a headline, as for a feed entry point.
    body = (
        b'<rss version="2.0"><channel><item><title>a < b</title>'
        b"<link>https://n.example/a</link></item></channel></rss>"
    )
    assert [u.loc for u in parse_sitemap(body, "https://n.example/s.xml").urls] == [
        "https://n.example/a"
    ]


def test_a_feed_of_seizure_notices_served_as_a_sitemap_is_refused() -> None:
    # As where a feed is expected: its notice's link is no article of the site's.
    body = SEIZED_FEED.format(origin="https://n.example", link="https://n.example/").encode()
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/sitemap.xml")
    assert caught.value.kind == "seized"


def test_a_feed_with_no_entry_is_a_sitemap_with_no_url() -> None:
    body = b'<rss version="2.0"><channel><title>x</title></channel></rss>'
    assert parse_sitemap(body, "https://n.example/sitemap.xml").urls == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'<rss version="2.0"><channel><item><link>https://n.example/a</link>', "truncated"),
        (b'<rss version="2.0"><channel><title>x</titl></channel></rss>', "not-sitemap"),
    ],
    ids=["cut-short", "broken-no-entry"],
)
def test_a_broken_feed_served_as_a_sitemap_is_refused(body: bytes, kind: str) -> None:
    with pytest.raises(ExtractError) as caught:
        parse_sitemap(body, "https://n.example/sitemap.xml")
    assert caught.value.kind == kind and caught.value.url == "https://n.example/sitemap.xml"


async def test_a_feed_an_index_names_as_a_sitemap_fills_the_section(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    site, mirror, articles = await started_site(sites, 8, days=2)
    resource = mirror._resource

    def with_feed_index(path: str) -> tuple[bytes, str] | None:
        if path != "/sitemap.xml":
            return resource(path)
        named = f"<sitemap><loc>{mirror.base}/rss/north-africa.xml</loc></sitemap>"
        return f"<sitemapindex {NS}>{named}</sitemapindex>".encode(), "application/xml"

    mirror._resource = with_feed_index  # type: ignore[method-assign]
    report = await pull_sitemap(site, "{sitemap: /sitemap.xml, backfill: 3d}")
    assert report.failed == 0, report.errors
    assert await stored_urls(store) == urls_of(site, articles)


@pytest.mark.parametrize(
    ("named", "read"),
    [
        (
            # WordPress core's index: each post type's pages, oldest posts first, undated.
            [
                "/wp-sitemap-posts-post-1.xml",
                "/wp-sitemap-posts-post-2.xml",
                "/wp-sitemap-posts-post-10.xml",
                "/wp-sitemap-posts-page-1.xml",
                "/wp-sitemap-posts-page-2.xml",
                "/wp-sitemap-taxonomies-category-1.xml",
                "/wp-sitemap-users-1.xml",
            ],
            [
                "/wp-sitemap-posts-post-10.xml",
                "/wp-sitemap-posts-post-2.xml",
                "/wp-sitemap-posts-post-1.xml",
                "/wp-sitemap-posts-page-2.xml",
                "/wp-sitemap-posts-page-1.xml",
                "/wp-sitemap-taxonomies-category-1.xml",
                "/wp-sitemap-users-1.xml",
            ],
        ),
        (
            # Without pretty permalinks, in a folder, a post type with a dash in its name.
            [
                "/blog/?sitemap=posts&sitemap-subtype=news-item&paged=1",
                "/blog/?sitemap=posts&sitemap-subtype=news-item&paged=2",
                "/blog/wp-sitemap-posts-news-item-3.xml",
            ],
            [
                "/blog/wp-sitemap-posts-news-item-3.xml",
                "/blog/?sitemap=posts&sitemap-subtype=news-item&paged=2",
                "/blog/?sitemap=posts&sitemap-subtype=news-item&paged=1",
            ],
        ),
        (
            # Other numbered series keep the index's order: some number their newest first.
            ["/sitemap-1.xml", "/sitemap-2.xml", "/post-sitemap.xml", "/post-sitemap2.xml"],
            ["/sitemap-1.xml", "/sitemap-2.xml", "/post-sitemap.xml", "/post-sitemap2.xml"],
        ),
    ],
    ids=["wordpress-core", "no-permalinks", "other-series"],
)
def test_wordpress_cores_post_sitemaps_are_read_highest_page_first(
    named: list[str], read: list[str]
) -> None:
    children = [SitemapUrl(loc=f"https://n.example{path}") for path in named]
    assert [c.loc for c in newest_pages_first(children)] == [
        f"https://n.example{path}" for path in read
    ]


async def test_the_newest_posts_of_a_wordpress_index_of_many_pages_are_read(
    sites: Callable[..., Site], store: Store, pull_sitemap: PullSitemap
) -> None:
    # WordPress core's /wp-sitemap.xml names wp-sitemap-posts-post-1.xml, -2.xml, ... with
    # its oldest posts first and no lastmod: read in that order, at most 50 a pull, a site
    # of more pages never had its newest posts read.
    articles = generated_articles(MAX_CHILD_SITEMAPS + 2, days=2)
    site = sites(1, articles=articles)
    await site.start()
    (mirror,) = site.mirrors
    resource = mirror._resource
    pages = {f"/wp-sitemap-posts-post-{n}.xml": a for n, a in enumerate(articles, start=1)}

    def wordpress(path: str) -> tuple[bytes, str] | None:
        if path == "/wp-sitemap.xml":
            named = "".join(f"<sitemap><loc>{mirror.base}{p}</loc></sitemap>" for p in pages)
            return f"<sitemapindex {NS}>{named}</sitemapindex>".encode(), "application/xml"
        if (article := pages.get(path)) is not None:
            listed = f"<url><loc>{mirror.base}{article.path}</loc></url>"
            return f"<urlset {NS}>{listed}</urlset>".encode(), "application/xml"
        return resource(path)

    mirror._resource = wordpress  # type: ignore[method-assign]
    report = await pull_sitemap(site, "{sitemap: /wp-sitemap.xml}")
    assert report.failed == 0, report.errors
    stored = set(await _stored_urls(store))
    newest = articles[-MAX_CHILD_SITEMAPS:]
    assert stored == {site.canonical + a.path for a in newest}
