"""A compromised mirror (a seized domain answering 200 with whatever its new owner likes),
against real loopback servers: what it serves never reaches a feed reader as anything but the
article's own text and pictures."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from syndicator.core.config import Config
from syndicator.core.errors import ExtractError
from syndicator.extract import extraction, listings
from syndicator.mirrors import announced
from syndicator.publish.documents import FeedBook
from syndicator.pull import adoption, article_storing
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport, pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import open_store
from syndicator.store.health import MirrorStore

from .conftest import REPO, seeded_pull, store_and_fetcher
from .feedrules import PROBLEMS, open_directions
from .sites import FakeClock, Site, sample_articles

WriteConfig = Callable[..., Config]


async def pulled_feeds(site: Site, tmp_path: Path, write_config: WriteConfig) -> dict[str, bytes]:
    """The `all` feed in every format after one pull of the site's first mirror."""
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            await pull_source(
                "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
            )
        book = FeedBook(config, store)
        feeds = {fmt: (await book.get("all", fmt)).body for fmt in ("rss", "atom", "json")}
    finally:
        await store.close()
    for fmt, body in feeds.items():
        assert PROBLEMS[fmt](body) == [], fmt
    return feeds


async def pulled_before_and_after(
    site: Site, config: Config, change: Callable[[], object]
) -> tuple[PullReport, bytes, bytes]:
    """Pull the site, make `change` to what it serves, pull it again ten minutes later: the
    second pull's report, and the `all` JSON feed after the first pull and after the second."""
    async with store_and_fetcher(config) as (store, fetcher):
        clock = FakeClock()
        await seeded_pull(config, fetcher, store, clock)
        before = (await FeedBook(config, store).get("all", "json")).body
        change()
        clock.advance(600)
        report = await seeded_pull(config, fetcher, store, clock)
        after = (await FeedBook(config, store).get("all", "json")).body
    return report, before, after


async def first_article_rewritten(
    site: Site, config: Config, paragraphs: list[str]
) -> tuple[str, PullReport, bytes, bytes]:
    """`pulled_before_and_after` with the first mirror's copy of the first article given
    `paragraphs` (and a later modified time) between the pulls: that copy's URL, the second
    pull's report, and the `all` JSON feed before and after."""
    first = site.articles[0]
    report, before, after = await pulled_before_and_after(
        site,
        config,
        lambda: site.edit(
            first.id, [0], paragraphs=paragraphs, modified=first.published.replace(hour=23)
        ),
    )
    return site.mirrors[0].base + first.path, report, before, after


async def test_a_tracking_pixel_is_never_an_articles_picture(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A 1x1 image in a figure before the article's photo: taken for the lead picture, it was
    # published as every item's image (enclosure, media:content, JSON Feed `image`), without
    # its size, so that every reader that shows pictures told the tracker it read the item.
    site = sites(1)
    site.mirrors[0].markup = (
        '<figure><img src="http://tracker.example/t.gif?u=1" width="1" height="1" alt="">'
        "</figure>"
        '<figure><img src="http://tracker.example/s.gif" style="width:1px;height:1px" alt="">'
        "</figure>"
        '<figure><img src="http://tracker.example/z.gif" width="0" height="0"></figure>'
    )
    await site.start()
    feeds = await pulled_feeds(site, tmp_path, write_config)
    for fmt, body in feeds.items():
        assert b"tracker.example" not in body, fmt
    items = json.loads(feeds["json"])["items"]
    assert items
    base = site.mirrors[0].base
    for item in items:
        assert item["image"].startswith(f"{base}/images/"), item["image"]


async def test_a_right_to_left_override_in_a_title_ends_with_the_title(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # U+202E left open in a headline reversed, in a reader's list, whatever it shows after
    # the headline: "Port reopens\u202e" made the next line's date and source read backwards.
    article = sample_articles()[0]
    article.title = "Port reopens \u202egnp.exe and \u2067more"
    article.caption = "The quay \u202b at \u202c\u202cdawn \u2067(Photo by a staff photographer)"
    article.paragraphs[0] = "\u202d" + article.paragraphs[0]
    site = sites(1, articles=[article])
    await site.start()
    feeds = await pulled_feeds(site, tmp_path, write_config)
    item = json.loads(feeds["json"])["items"][0]
    texts = [item["title"], item["summary"], *(a["name"] for a in item["authors"])]
    # The plain-text elements of RSS and Atom (HTML content ends them at its blocks).
    plain = ("title", "summary", "description", "name", "creator", "credit")
    for fmt in ("atom", "rss"):
        for el in etree.fromstring(feeds[fmt]).iter():
            if etree.QName(el).localname in plain and el.text:
                texts.append(el.text)
    assert "gnp.exe" in item["title"]
    assert [t for t in texts if "dawn" in t]  # the caption, in media:description
    for text in texts:
        assert open_directions(text) == "", repr(text)


async def test_an_article_larger_than_any_is_refused_and_the_stored_copy_stays(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # Within max_body, a page of megabytes of paragraphs was stored as the article's
    # update, and published whole in every feed document that listed it, on every change:
    # ten such pages made each feed 45 MB and took a minute to compress per section.
    site = sites(1)
    await site.start()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))
    words = [
        "harbour",
        "council",
        "wall",
        "storm",
        "spring",
        "quay",
        "ship",
        "port",
        "mayor",
        "budget",
        "crane",
    ]
    rng = random.Random(1)
    huge = [
        f"Part {n}: " + " ".join(rng.choice(words) for _ in range(70)) + "." for n in range(3000)
    ]
    url, report, before, after = await first_article_rewritten(site, config, huge)
    refused = [e for e in report.errors if url in e and "more than any article holds" in e]
    assert refused, report.errors
    assert site.mirrors[0].origin in refused[0]
    assert report.updated == 0
    assert after == before


async def test_a_seizure_notice_nested_past_256_levels_is_refused_as_seized(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A seized mirror that kept the site's feeds answered every article with its notice inside
    # 300 unclosed <div>s: the notice check read the page only 256 levels deep (libxml2's
    # limit), found no words and passed it, and extraction, which reads deeper, published
    # "This domain has been seized" as the article. The check now reads extraction's tree.
    site = sites(1)
    notice = "<p>This domain has been seized by the Federal Bureau of Investigation.</p>"
    site.mirrors[0].articles_page = (
        "<!DOCTYPE html><html><head><title>News</title></head><body>"
        + "<div>" * 300
        + notice
        + "</div>" * 300
        + "</body></html>"
    )
    await site.start()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))
    feeds = await pulled_feeds(site, tmp_path, write_config)
    assert json.loads(feeds["json"])["items"] == []
    async with store_and_fetcher(config) as (store, _):
        (health,) = await MirrorStore(store).health("news")
    assert health.last_error_kind == "seized"


async def test_a_page_of_more_elements_than_any_article_is_a_named_error_and_the_stored_copy_stays(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # Within max_body, an article page of tiny elements held the pull's extraction thread
    # for minutes (1 MB of unclosed `<p>` took 170 s) before being refused for its size.
    site = sites(1)
    await site.start()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))
    first = site.articles[0]
    crowded = [*first.paragraphs, *(["Quay."] * extraction.MAX_ELEMENTS)]
    url, report, before, after = await first_article_rewritten(site, config, crowded)
    refused = [e for e in report.errors if url in e and "elements" in e]
    assert refused, report.errors
    assert site.mirrors[0].origin in refused[0]
    assert report.updated == 0
    assert after == before


PROSE = (
    "The harbour authority opened the new quay on Tuesday after three years of work, and the "
    "first container ship tied up there before noon. Dock workers said the longer berth would "
    "let two ships unload at once, which had never been possible in the old port."
)


def crowded_tag(count: int) -> str:
    return "<p " + " ".join(f"a{n}='x'" for n in range(count)) + ">x</p>"


async def test_a_feed_with_an_element_of_thousands_of_attributes_is_refused_unparsed(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # feedparser looks each attribute up among all the others: 20,000 on one element (a
    # 200 KB feed) held the pull's parsing thread for 12 s, 80,000 for 103 s; within
    # max_body, for hours, and no deadline stops a thread.
    site = sites(1)
    mirror = site.mirrors[0]
    mirror.feed_extra = (
        f"<item><title>x</title><link>{mirror.base}/Detail/x</link>"
        f"<description>{crowded_tag(10_000)}</description></item>"
    )
    await site.start()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            report = await pull_source(
                "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
            )
    finally:
        await store.close()
    feed = f"{mirror.base}/rss/north-africa.xml"
    refused = [e for e in report.errors if feed in e]
    assert refused, report.errors
    assert mirror.origin in refused[0] and "10,000 attributes" in refused[0]
    assert not any("/Detail/" in path for path in mirror.log)


def test_a_json_feed_item_with_thousands_of_attributes_is_refused_unparsed() -> None:
    # Its content_html went to libxml2, which compares each attribute with every one before
    # it: 40,000 on one element (a 430 KB feed) took 8 s, and quadratically more past that.
    prose = "<p>" + "The quay opened on Tuesday after three years of work. " * 10 + "</p>"
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "News",
        "items": [
            {"id": "1", "url": "/a", "title": "A", "content_html": prose},
            {"id": "2", "url": "/b", "title": "B", "content_html": crowded_tag(3_000) + prose},
        ],
    }
    with pytest.raises(ExtractError) as refused:
        listings.parse_feed(json.dumps(feed).encode(), "http://m.example/feed.json")
    assert refused.value.kind == "hostile-markup"
    assert "3,000 attributes" in refused.value.message
    assert "http://m.example/b" in str(refused.value)


async def test_an_announced_host_name_no_browser_would_reach_is_not_a_candidate(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A link's host with a right-to-left override showed in `syndicate mirrors` and the
    # dashboard as "www.presstv.ir" (it is "ri.vtsserp.www" reversed), and one with a zero
    # width space as the canonical host itself: candidates no one could tell from the site.
    site = sites(1)
    site.mirrors[0].markup = (
        "<p>Our website can also be accessed at the following alternate addresses: "
        '<a href="https://\u202eri.vtsserp.www/">one</a>, '
        '<a href="https://www.presstv\u200b.ir/">two</a>, '
        '<a href="https://alt.presstv.example/">three</a></p>'
    )
    await site.start()
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            report = await pull_source(
                "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
            )
    finally:
        await store.close()
    # The second is where a browser goes.
    assert report.discovered == {"https://www.presstv.ir", "https://alt.presstv.example"}


def syndicate(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), *args],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "1000"},
    )


async def test_a_mirrors_words_are_shown_to_the_operator_as_written(
    sites: Callable[..., Site], tmp_path: Path
) -> None:
    # A reason phrase with `[/x]` in it was read as rich markup: `pull`, then `mirrors` and
    # `status` (which show the stored error) ended with a MarkupError traceback, every time
    # until the mirror said something else; `[link=...]` made a hidden terminal hyperlink.
    site = sites(1)
    mirror = site.mirrors[0]
    mirror.mode = "error"
    mirror.reason = "Oops [/x] [link=http://evil.example/]see[/link] \u009b2J"
    await site.start()
    config = tmp_path / "syndicator.yaml"
    config.write_text(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}"), encoding="utf-8")
    for args in (("pull", "news"), ("mirrors",), ("status",)):
        done = await asyncio.to_thread(syndicate, config, *args)
        shown = done.stdout + done.stderr
        assert "Traceback" not in shown, shown
        assert done.returncode == (0 if args == ("mirrors",) else 1), shown
        assert "Oops [/x] [link=http://evil.example/]see[/link]" in " ".join(shown.split())
        assert "\u009b" not in shown and "\x1b]8;" not in shown


async def test_a_feed_of_more_entries_than_any_feed_has_is_refused_unparsed(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A million empty `<item/>` fit in 7 MB, under max_body: feedparser spent 23 s and 170 MB
    # on them in the pull's parsing thread, every pull, and the feed counted as read.
    site = sites(1)
    await site.start()
    mirror = site.mirrors[0]
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", configured=1))

    def sixty_thousand_items_more() -> None:
        mirror.feed_extra = "<item/>" * 60_000
        site.touch()

    report, before, after = await pulled_before_and_after(site, config, sixty_thousand_items_more)
    feed = f"{mirror.base}/rss/north-africa.xml"
    refused = [e for e in report.errors if feed in e]
    assert refused, report.errors
    assert mirror.origin in refused[0] and "60,00" in refused[0] and "entries" in refused[0]
    assert after == before


@pytest.mark.parametrize(
    "head",
    [
        '<meta property="og:image" content="http://tracker.example/t.gif?u=1">'
        '<meta property="og:image:width" content="1">'
        '<meta property="og:image:height" content="1">',
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Quay",'
        ' "image": {"@type": "ImageObject", "url": "http://tracker.example/t.gif?u=1",'
        ' "width": 1, "height": {"@type": "QuantitativeValue", "value": "1"}}}</script>',
    ],
    ids=["og:image", "json-ld"],
)
def test_a_tracking_pixel_the_metadata_names_is_no_picture(head: str) -> None:
    # A page with no figure falls back on its metadata's picture: one that says it is a
    # pixel was published as every item's image, as a figure's was.
    body = (
        f"<!DOCTYPE html><html lang='en'><head><title>Quay opens</title>{head}</head><body>"
        f"<article><h1>Quay opens</h1><p>{PROSE}</p><p>{PROSE}</p></article></body></html>"
    ).encode()
    page = extraction.extract_article(body, "http://m.example/2024/03/09/quay")
    assert page.image_url is None


def on_threads(
    monkeypatch: pytest.MonkeyPatch, *targets: tuple[object, str]
) -> list[tuple[str, int]]:
    """Record, for each call of the product functions named, the thread it ran on: a call
    on the event loop's thread holds the pull's deadlines and (pulling inline) the readers
    for as long as it takes, which grows with what a mirror serves."""
    calls: list[tuple[str, int]] = []
    for owner, name in targets:
        original = getattr(owner, name)

        def spy(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            calls.append((_name, threading.get_ident()))
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    return calls


async def test_a_candidates_pages_are_read_without_holding_the_pull(
    sites: Callable[..., Site],
    tmp_path: Path,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Any page can announce a host, and a candidate's pages were extracted on the event
    # loop: a candidate serving big pages (a 6,000-row table stalled it 1.5 s a page) held
    # the pull (and, pulling inline, the readers) for as long as each took, its timeouts
    # and deadlines included.
    site = sites(2)
    await site.start()
    candidate = site.mirrors[1]  # not in the config: the first mirror's footer names it
    extra = "    adopt_discovered: true\n    allow_private_discovered: true"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = write_config(site.config_yaml(store_url, configured=1, extra=extra))
    calls = on_threads(
        monkeypatch,
        (announced, "path_prefixes"),
        (adoption.extraction, "extract_article"),
        (adoption, "to_candidate"),
    )
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            report = await pull_source(
                "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
            )
    finally:
        await store.close()
    assert candidate.origin in report.discovered
    assert [p for p in candidate.log if p.startswith("/Detail/")]  # its articles were read
    loop_thread = threading.get_ident()
    assert {"path_prefixes", "extract_article", "to_candidate"} <= {n for n, _ in calls}
    assert [n for n, t in calls if t == loop_thread] == []


async def test_a_mirrors_long_articles_are_fingerprinted_without_holding_the_pull(
    site: Site,
    tmp_path: Path,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each page was extracted in a thread, then made a candidate (sanitised, hashed and
    # SimHashed) on the event loop: 0.4 s for an article of 0.9 MB, under the size cap,
    # during which the pull's deadlines could not fire and, pulling inline, no reader was
    # answered.
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}"))
    calls = on_threads(monkeypatch, (article_storing, "to_candidate"))
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            report = await pull_source(
                "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
            )
    finally:
        await store.close()
    assert report.failed == 0 and report.new == len(site.articles), report.errors
    assert len(calls) >= len(site.articles)
    assert [n for n, t in calls if t == threading.get_ident()] == []
