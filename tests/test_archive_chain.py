"""RFC 5005 archive chains after real pulls: a first pull of a few hundred articles (listed
newest first, as publishers list them) fills archive page 1 with the oldest, and paging back
from any section's feed, in every format, meets every item once, never going forward in time;
later pulls add pages and leave complete ones byte for byte as they were. On both engines."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import feedparser

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store

from .feedrules import atom_problems, json_feed_problems, rss_problems
from .sites import SECTION_TITLES, Site, SiteArticle

PAGE = """  max_items: 10
  archive: {page_size: 10}
"""
WORDS = [
    "council",
    "harbour",
    "budget",
    "water",
    "metro",
    "school",
    "clinic",
    "wheat",
    "market",
    "bridge",
    "court",
    "drought",
    "rail",
    "election",
    "station",
    "festival",
    "museum",
    "village",
    "trade",
    "power",
    "grid",
    "river",
    "desert",
    "port",
]


def made_up(n: int, published: datetime) -> SiteArticle:
    """Article n, with a text of its own (near-duplicates would be merged)."""
    rng = random.Random(n)
    section = list(SECTION_TITLES)[n % 3]
    words = [rng.choice(WORDS) for _ in range(6)]
    title = f"Report {n}: {' '.join(words)}"
    paragraphs = [
        " ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + f" (item {n})."
        for _ in range(4)
    ]
    return SiteArticle(
        id=700000 + n, section=section, title=title, paragraphs=paragraphs, published=published
    )


PROBLEMS = {"rss": rss_problems, "atom": atom_problems, "json": json_feed_problems}


def items_and_older(fmt: str, body: bytes) -> tuple[list[tuple[str, datetime]], str | None]:
    """(id, published) of each item in document order, and the URL of the older page."""
    if fmt == "json":
        doc = json.loads(body)
        items = [
            (i["id"], datetime.fromisoformat(i["date_published"].replace("Z", "+00:00")))
            for i in doc["items"]
        ]
        return items, doc.get("next_url")
    parsed = feedparser.parse(body)
    items = [(e.id, datetime(*e.published_parsed[:6], tzinfo=UTC)) for e in parsed.entries]
    older = [link.href for link in parsed.feed.get("links", []) if link.rel == "prev-archive"]
    return items, older[0] if older else None


async def chain(
    book: FeedBook, section: str, fmt: str
) -> tuple[list[tuple[str, datetime]], dict[str, bytes]]:
    """Walk from the section's feed back through prev-archive (next_url in JSON): the items
    in the order met (the feed's first, then each archive page's that the feed did not
    already show: RFC 5005 lets the feed repeat the newest archived ones), and the bytes of
    every archive page visited, by URL. Every document must be valid, and no archive page may
    repeat an item of another."""
    by_url = {
        url: page for page in range(1, 1000) for url in book.archive_urls(section, page).values()
    }
    feed = await book.get(section, fmt)
    assert PROBLEMS[fmt](feed.body) == [], (section, fmt)
    met, older = items_and_older(fmt, feed.body)
    in_feed = {guid for guid, _ in met}
    archived: set[str] = set()
    pages: dict[str, bytes] = {}
    while older is not None:
        assert older not in pages, f"{older} visited twice"
        doc = await book.archive(section, by_url[older], fmt)
        assert PROBLEMS[fmt](doc.body) == [], older
        pages[older] = doc.body
        items, older = items_and_older(fmt, doc.body)
        guids = [guid for guid, _ in items]
        assert not archived & set(guids), f"{older}: an item is on two archive pages"
        archived |= set(guids)
        met += [item for item in items if item[0] not in in_feed]
    return met, pages


async def check_every_chain(
    book: FeedBook, expected: dict[str, set[str]], *, in_date_order: bool
) -> dict[str, bytes]:
    pages: dict[str, bytes] = {}
    for section in book.section_names():
        for fmt in ("rss", "atom", "json"):
            met, visited = await chain(book, section, fmt)
            guids = [guid for guid, _ in met]
            assert len(guids) == len(set(guids)), (section, fmt, "an item met twice")
            assert set(guids) == expected[section], (section, fmt)
            if in_date_order:
                dates = [when for _, when in met]
                assert dates == sorted(dates, reverse=True), (section, fmt, "dates go forward")
            pages.update(visited)
    return pages


async def test_archive_chains_meet_every_item_once_in_date_order_and_pages_stay_put(
    engine_url: str, engine_store: Store, write_config: Callable[[str], Config], fetcher: Fetcher
) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    # Newest first, as the publisher's feeds list them: 240 articles over 18 days.
    first = [made_up(n, start + timedelta(minutes=107 * n)) for n in range(240)]
    site = Site(mirrors=2, articles=list(reversed(first)))
    await site.start()
    try:
        config = write_config(site.config_yaml(engine_url).replace("  max_items: 50\n", PAGE))
        report = await pull_source("news", config, fetcher, engine_store)
        assert report.new == 240, report.errors
        book = FeedBook(config, engine_store)

        def expected() -> dict[str, set[str]]:
            return {
                name: {a.guid for a in everything if name == "all" or name in a.sections}
                for name in book.section_names()
            }

        everything = await engine_store.section_articles("all", 10_000)
        assert len(everything) == 240
        assert len(await book.archive_pages("all")) == 24
        before = await check_every_chain(book, expected(), in_date_order=True)
        # Page 1 holds the oldest ten.
        page_one = json.loads((await book.archive("all", 1, "json")).body)
        oldest = {a.guid for a in sorted(everything, key=lambda a: a.published)[:10]}
        assert {item["id"] for item in page_one["items"]} == oldest

        # Two later pulls: newer articles, and one published before all the others.
        for batch in (range(240, 265), range(265, 290)):
            for n in batch:
                site.publish(made_up(n, start + timedelta(minutes=107 * n)))
            report = await pull_source("news", config, fetcher, engine_store)
            assert report.new == len(batch), report.errors
            book.invalidate()
            everything = await engine_store.section_articles("all", 10_000)
            after = await check_every_chain(book, expected(), in_date_order=False)
            for url, body in before.items():
                assert after[url] == body, f"{url} changed"
            before = after
        site.publish(made_up(290, start - timedelta(days=3)))
        await pull_source("news", config, fetcher, engine_store)
        book.invalidate()
        everything = await engine_store.section_articles("all", 10_000)
        after = await check_every_chain(book, expected(), in_date_order=False)
        assert all(after[url] == body for url, body in before.items())
    finally:
        await site.stop()
