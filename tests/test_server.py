"""The HTTP face, against a real aiohttp test server and a real SQLite store."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest
from aiohttp.test_utils import TestClient, TestServer
from lxml import html
from sqlalchemy import event

from syndicator.core.config import Config
from syndicator.publish import documents
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store
from syndicator.web.server import make_app

from .conftest import PullSite
from .feedrules import PROBLEMS
from .sites import Site, SiteArticle
from .test_hostile_mirror import on_threads


async def client_for(book: FeedBook) -> TestClient:
    client = TestClient(TestServer(make_app(book)))
    await client.start_server()
    return client


# The `serve` fixture: a FeedBook in, a started test client of the app serving it out.
Serve = Callable[[FeedBook], Awaitable[TestClient]]


@pytest.fixture
async def serve(store: Store) -> AsyncIterator[Serve]:
    """Start a test client of the app serving a book (of the test's `store`); each client
    started is closed when the test ends, before the store is."""
    clients: list[TestClient] = []

    async def start(book: FeedBook) -> TestClient:
        clients.append(await client_for(book))
        return clients[-1]

    yield start
    for client in clients:
        await client.close()


async def test_feeds_have_their_content_types_and_unknown_sections_are_404(
    site: Site,
    store: Store,
    serve: Serve,
    pull_site: PullSite,
) -> None:
    config, _ = await pull_site(site)
    client = await serve(FeedBook(config, store))
    for ext, ctype in (
        ("rss", "application/rss+xml"),
        ("atom", "application/atom+xml"),
        ("json", "application/feed+json"),
    ):
        resp = await client.get(f"/feeds/north-africa.{ext}")
        assert resp.status == 200
        assert resp.content_type == ctype
        assert resp.charset == "utf-8"
    parsed = feedparser.parse(await (await client.get("/feeds/north-africa.atom")).read())
    assert len(parsed.entries) == len(site.in_section("north-africa"))
    for path in ("/feeds/nowhere.rss", "/feeds/north-africa.xml", "/feeds/nowhere"):
        assert (await client.get(path)).status == 404, path
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_index_lists_sections_with_subscribe_and_autodiscovery_links(
    site: Site, store: Store, serve: Serve, write_config: Callable[[str], Config], store_url: str
) -> None:
    config = write_config(site.config_yaml(store_url))
    client = await serve(FeedBook(config, store))
    resp = await client.get("/")
    assert resp.status == 200 and resp.content_type == "text/html"
    doc = html.fromstring(await resp.text())
    alternates = {link.get("href") for link in doc.iter("link") if link.get("rel") == "alternate"}
    for section in [*site.sections, "all"]:
        for ext in ("rss", "atom", "json"):
            url = f"http://feeds.example.test/feeds/{section}.{ext}"
            assert url in alternates
            assert doc.xpath(f'//a[@href="{url}"]'), url


async def test_feed_is_rendered_once_per_change_and_answers_conditional_requests(
    site: Site,
    store: Store,
    serve: Serve,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config = write_config(site.config_yaml(store_url))
    book = FeedBook(config, store)
    client = await serve(book)
    await pull_source("news", config, fetcher, store)
    first = await client.get("/feeds/iran.rss")
    etag = first.headers["ETag"]
    for _ in range(20):
        again = await client.get("/feeds/iran.rss")
        assert again.headers["ETag"] == etag
    assert book.renders == 1
    cached = await client.get("/feeds/iran.rss", headers={"If-None-Match": etag})
    assert cached.status == 304 and await cached.read() == b""
    since = first.headers["Last-Modified"]
    cached = await client.get("/feeds/iran.rss", headers={"If-Modified-Since": since})
    assert cached.status == 304
    # a new article changes the section; the next request re-renders it
    site.correct(site.articles[4], "A correction was added on Tuesday.")
    report = await pull_source("news", config, fetcher, store)
    assert "iran" in report.changed_sections
    book.invalidate(report.changed_sections)
    changed = await client.get("/feeds/iran.rss", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert b"A correction was added on Tuesday." in await changed.read()


async def test_index_counts_items_again_only_after_a_section_changes(
    site: Site,
    store: Store,
    pull_site: PullSite,
    fetcher: Fetcher,
) -> None:
    config, _ = await pull_site(site)
    counted: list[str] = []

    def count_queries(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "count(" in statement.lower():
            counted.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", count_queries)

    async def items_column() -> dict[str, str]:
        doc = html.fromstring(await (await client.get("/")).text())
        return {
            row.xpath("string(td[1])"): row.xpath("string(td[2])") for row in doc.xpath("//tr[td]")
        }

    client = await client_for(FeedBook(config, store))
    try:
        first = await items_column()
        assert first["Iran"] == str(len(site.in_section("iran")))
        for _ in range(5):
            assert await items_column() == first
        assert len(counted) == 2  # one count per section and one of all articles, once
        newest = site.articles[-1]
        site.publish(
            SiteArticle(
                id=660998,
                section="iran",
                title="Iran and Oman sign a fisheries agreement for the Gulf of Oman",
                paragraphs=[p.replace("Libya", "Oman") for p in newest.paragraphs],
                published=newest.published + timedelta(hours=1),
            )
        )
        await pull_source("news", config, fetcher, store)
        assert (await items_column())["Iran"] == str(len(site.in_section("iran")))
        assert len(counted) == 4
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count_queries)
        await client.close()


async def test_section_pages_link_where_the_feeds_link_under_the_healthiest_policy(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    site.mirrors[0].mode = "seized"  # the canonical origin
    config, _ = await pull_site(site, extra="    link_policy: healthiest")
    book = FeedBook(config, store)
    feed_links = {
        item["url"] for item in json.loads((await book.get("iran", "json")).body)["items"]
    }
    page = html.fromstring(await book.section_html("iran"))
    page_links = {
        a.get("href") for a in page.xpath("//ol[@class='items']//a") if "/Detail/" in a.get("href")
    }
    assert feed_links and page_links == feed_links
    assert not any(link.startswith(site.canonical + "/") for link in page_links)


async def test_a_control_character_in_a_config_title_leaves_every_format_valid(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    text = site.config_yaml(store_url).replace("{title: Iran}", '{title: "Ir\\fan"}')
    config = write_config(text.replace("  title: Test news", '  title: "Test\\u0001 news"'))
    assert config.sections["iran"].title == "Ir\fan"
    await pull_source("news", config, fetcher, store)
    book = FeedBook(config, store)
    for section in ("iran", "all"):
        for fmt in ("rss", "atom"):
            parsed = feedparser.parse((await book.get(section, fmt)).body)
            assert not parsed.bozo, (section, fmt, parsed.get("bozo_exception"))
        data = json.loads((await book.get(section, "json")).body)
        assert "\f" not in data["title"] and "\x01" not in data["title"]
    assert feedparser.parse((await book.get("iran", "atom")).body).feed.title == "Test news: Iran"


async def test_new_bytes_with_no_newer_date_still_move_last_modified(
    site: Site,
    store: Store,
    serve: Serve,
    pull_site: PullSite,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    config, _ = await pull_site(site)
    book = FeedBook(config, store)
    client = await serve(book)
    first = await client.get("/feeds/iran.rss")
    modified, etag = first.headers["Last-Modified"], first.headers["ETag"]
    # A reload renames the section: new bytes, but no article and no store change.
    renamed = write_config(
        site.config_yaml(store_url).replace("{title: Iran}", "{title: Iran and the Gulf}"),
        name="renamed.yaml",
    )
    book.config = renamed
    book.invalidate()
    again = await client.get("/feeds/iran.rss", headers={"If-Modified-Since": modified})
    assert again.status == 200 and "Iran and the Gulf" in await again.text()
    assert again.headers["ETag"] != etag
    assert parsedate_to_datetime(again.headers["Last-Modified"]) > parsedate_to_datetime(modified)
    # Rendered again with nothing changed, the date stays: still 304 for the new copy.
    book.invalidate()
    same = await client.get(
        "/feeds/iran.rss", headers={"If-Modified-Since": again.headers["Last-Modified"]}
    )
    assert same.status == 304


async def test_a_link_stored_by_an_older_version_with_a_control_character_is_served_valid(
    site: Site,
    store: Store,
    serve: Serve,
    pull_site: PullSite,
    tmp_path: Path,
) -> None:
    # Before links were joined as browsers join them, a feed's `<link>` with `&#0;` or a
    # space reached a SQLite store as written. After an upgrade, lxml refused the NUL: the
    # RSS and Atom documents of the article's sections and of `all` answered 500 to every
    # reader; the space made the JSON Feed invalid.
    config, _ = await pull_site(site)
    article = site.in_section("iran")[0]
    with sqlite3.connect(tmp_path / "store.db") as db:
        changed = db.execute(
            "UPDATE articles SET url = url || ? WHERE title = ?", ("/a b\x00c", article.title)
        ).rowcount
    assert changed == 1
    client = await serve(FeedBook(config, store))
    for section in ("iran", "all"):
        for fmt in ("rss", "atom", "json"):
            answer = await client.get(f"/feeds/{section}.{fmt}")
            assert answer.status == 200, (section, fmt)
            body = await answer.read()
            assert PROBLEMS[fmt](body) == [], (section, fmt)
            assert b"/a%20b%00c" in body, (section, fmt)


async def test_an_older_item_joining_a_feed_moves_the_feeds_own_date(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # The feed's date (RSS lastBuildDate, Atom's feed updated) was its newest item's: an
    # older item joining the feed (a backfill, an article listed in one more section) left
    # it as it was, and readers that read no further than an unchanged feed date (Brief,
    # node-feedsub, feed-io) never showed the item.
    config, _ = await pull_site(site)
    for fmt in ("rss", "atom"):  # served (and so dated) before the older item joins
        await FeedBook(config, store).get("iran", fmt)
    older = site.in_section("north-africa")[-1]
    assert older.published < min(a.published for a in site.in_section("iran"))
    joined = datetime.now(UTC)
    url = next(a.url for a in await store.section_articles("all", 50) if a.title == older.title)
    assert await store.add_sections({url: {"iran"}}, joined) == {"iran"}
    book = FeedBook(config, store)
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse((await book.get("iran", fmt)).body)
        assert older.title in [e.title for e in parsed.entries], fmt
        dated = datetime(*parsed.feed.updated_parsed[:6], tzinfo=UTC)
        assert dated >= joined.replace(microsecond=0), fmt
        newest = max(
            datetime(*(dict.get(e, "updated_parsed") or e.published_parsed)[:6], tzinfo=UTC)
            for e in parsed.entries
        )
        assert dated >= newest, fmt


async def test_a_feed_whose_newest_item_is_dated_ahead_is_dated_by_its_last_change(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # A page's modified time up to a day ahead is believed (a local time written as UTC),
    # and the feed's own date (RSS lastBuildDate, Atom's feed updated) was its newest item's:
    # dated hours ahead, it stayed put through every change until then (an older item
    # joining, an edit of another item), and readers that read no further than an unchanged
    # feed date (Brief, node-feedsub, feed-io) showed none of them.
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3, minutes=30)
    newest = max(site.in_section("iran"), key=lambda a: a.published)
    site.edit(newest.id, range(len(site.mirrors)), modified=ahead)
    config, _ = await pull_site(site)

    async def feed_dates() -> dict[str, tuple[datetime, datetime]]:
        """Each format's own date and its Last-Modified."""
        book = FeedBook(config, store)
        dates = {}
        for fmt in ("rss", "atom"):
            doc = await book.get("iran", fmt)
            parsed = feedparser.parse(doc.body)
            dates[fmt] = (datetime(*parsed.feed.updated_parsed[:6], tzinfo=UTC), doc.last_modified)
        return dates

    before = await feed_dates()
    for fmt, (dated, modified) in before.items():
        assert dated <= modified, fmt
    older = site.in_section("north-africa")[-1]
    url = next(a.url for a in await store.section_articles("all", 50) if a.title == older.title)
    assert await store.add_sections({url: {"iran"}}, datetime.now(UTC)) == {"iran"}
    for fmt, (dated, modified) in (await feed_dates()).items():
        assert modified > before[fmt][1], fmt
        assert before[fmt][0] < dated <= modified, fmt


async def test_the_feeds_folder_and_a_section_named_without_a_slash_lead_to_their_pages(
    site: Site,
    store: Store,
    serve: Serve,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # A reader who cuts a feed's address back to /feeds got a bare 404; /feeds/north-africa
    # was already sent on to its page. Behind a proxy serving the site under a path (public_url
    # https://h/news), a Location of /feeds/north-africa/ sent readers out of the site.
    config = write_config(site.config_yaml(store_url))
    client = await serve(FeedBook(config, store))
    for path in ("/feeds", "/feeds/north-africa"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 301, path
        proxied = f"https://h.example.test/news{path}"
        assert urljoin(proxied, resp.headers["Location"]) == proxied + "/", path
        page = await client.get(path)
        assert page.status == 200 and page.content_type == "text/html", path
    listed = html.fromstring(await (await client.get("/feeds")).read())
    assert "/feeds/north-africa.rss" in " ".join(listed.xpath("//a/@href"))


async def test_a_missing_archive_page_is_the_styled_404_that_lists_the_sections(
    site: Site,
    store: Store,
    serve: Serve,
    pull_site: PullSite,
) -> None:
    # An archive page of a section that is not there (renamed, a mistyped link) answered a
    # bare text/plain 404, where an unknown feed gets the page listing the sections.
    config, _ = await pull_site(site, service_extra="  archive: {page_size: 1}\n")
    client = await serve(FeedBook(config, store))
    assert (await client.get("/feeds/north-africa/archive/1.atom")).status == 200
    for path, what in (
        ("/feeds/nowhere/archive/1.rss", "There is no section &#x27;nowhere&#x27;."),
        ("/feeds/north-africa/archive/999.json", "There is no archive page 999 of section"),
        ("/feeds/north-africa/archive/0.rss", "Archive pages are /feeds/{section}/archive/"),
        ("/feeds/north-africa/archive/1.xml", "Archive pages are /feeds/{section}/archive/"),
    ):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert resp.content_type == "text/html", path
        page = await resp.text()
        assert "<h1>Not found</h1>" in page and what in page, path
        assert "http://feeds.example.test/feeds/north-africa/" in page, path


async def test_a_store_that_cannot_be_read_gives_readers_503_with_retry_after(
    site: Site,
    store: Store,
    pull_site: PullSite,
    store_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A PostgreSQL failover, a store file the process can no longer open: every document
    # not rendered yet was a 500, an unknown section's 404 too (its page lists the
    # sections), each with a traceback in the log. Readers are told to come back.
    config, _ = await pull_site(site)
    client = await client_for(FeedBook(config, store))
    path = Path(store_url.removeprefix("sqlite:///"))
    try:
        assert (await client.get("/feeds/iran.rss")).status == 200
        await store.engine.dispose()
        path.unlink()
        path.mkdir()  # no SQLite opens a folder
        for uncached in ("/feeds/all.atom", "/feeds/iran/", "/feeds/"):
            resp = await client.get(uncached)
            assert resp.status == 503, uncached
            assert resp.headers["Retry-After"].isdigit()
            assert resp.headers["Access-Control-Allow-Origin"] == "*"  # a script may read it
        unknown = await client.get("/feeds/nowhere.rss")
        assert unknown.status == 404
        listed = html.fromstring(await unknown.text()).xpath("//ul[@class='sections']//a/@href")
        assert "http://feeds.example.test/feeds/iran.rss" in listed
        assert (await client.get("/feeds/iran.atom")).status == 200  # rendered already
    finally:
        await client.close()
        if path.is_dir():
            path.rmdir()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warned = [r for r in caplog.records if "store cannot be read" in r.getMessage()]
    assert len(warned) == 1  # one line a minute, however many readers asked


async def test_section_pages_and_the_index_are_rendered_off_the_event_loop(
    site: Site,
    store: Store,
    serve: Serve,
    pull_site: PullSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A section page (50 long articles: 10-15 ms, 40 ms on a loaded machine) was rendered on
    # the serving process's loop at every request, and the index at every request too:
    # each held every feed reader for as long, where a feed's p99 is to stay within 10 ms.
    config, _ = await pull_site(site)
    calls = on_threads(monkeypatch, (documents, "section_page"), (documents, "index_page"))
    client = await serve(FeedBook(config, store))
    for path in ("/feeds/north-africa/", "/feeds/north-africa/?q=city", "/", "/?q=city"):
        assert (await client.get(path)).status == 200, path
    assert {"section_page", "index_page"} <= {n for n, _ in calls}
    assert [n for n, t in calls if t == threading.get_ident()] == []
