"""HTTP on every feed URL, archives, the index, section pages and OPML, against a real aiohttp
test server, a real SQLite store and the mirror site fixture."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import brotli
import feedparser
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree, html
from multidict import CIMultiDict

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import sections_to_render
from syndicator.store import Store
from syndicator.web.feed_runner import FeedRunner
from syndicator.web.metrics import Metrics
from syndicator.web.request_fields import negotiate
from syndicator.web.server import BOOK, hot_answers, make_app

from .sites import Site

PUBLIC = "http://feeds.example.test"
SERVICE = """  max_items: 2
  cache_max_age: 2m
  archive: {page_size: 2}
  websub: {hub: "http://hub.example.test/publish"}
"""


def service_config(site: Site, store_url: str, extra: str = SERVICE) -> str:
    return site.config_yaml(store_url).replace("  max_items: 50\n", extra)


class HotServer(TestServer):
    """aiohttp's test server run by the service's runner: rendered feeds are answered on the
    connection (`syndicator.hotpath`), as `syndicate serve` answers them."""

    def __init__(self, app: web.Application, counts: dict[tuple[str, int], int]) -> None:
        super().__init__(app)
        self.counts = counts

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return FeedRunner(self.app, hot=hot_answers(self.app[BOOK], self.counts), **kwargs)


# Every test here runs twice: answers from the hot path, and from the aiohttp handlers alone
# (what an aiohttp without the internals the hot path needs would give). Both must agree.
@pytest.fixture(params=["hot path", "handlers"])
async def pulled(
    request: pytest.FixtureRequest,
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> AsyncIterator[tuple[FeedBook, TestClient]]:
    config = write_config(service_config(site, store_url))
    await pull_source("news", config, fetcher, store)
    book = FeedBook(config, store)
    app = make_app(book)
    server = HotServer(app, {}) if request.param == "hot path" else TestServer(app)
    client = TestClient(server, auto_decompress=False, headers=PLAIN)
    await client.start_server()
    yield book, client
    await client.close()


def hot_answered(client: TestClient) -> int:
    """Requests the hot path answered; -1 when the test server has none."""
    server = client.server
    return sum(server.counts.values()) if isinstance(server, HotServer) else -1


# aiohttp's client asks for every coding it can read unless told otherwise.
PLAIN = {"Accept-Encoding": "identity"}


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC + "/"), url
    return url.removeprefix(PUBLIC)


async def test_if_modified_since_in_every_http_date_form_and_never_from_the_future(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # RFC 9110 5.6.7: a recipient accepts the obsolete forms of an HTTP-date too (RFC 850's
    # and asctime's, which names no zone and is GMT); asctime's was ignored, a full answer.
    # 13.1.3: a date later than the server's clock is invalid, and ignored; it got a 304.
    _, client = pulled
    first = await client.get("/feeds/iran.rss", headers=PLAIN)
    modified = parsedate_to_datetime(first.headers["Last-Modified"])
    for form in ("%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"):
        since = {**PLAIN, "If-Modified-Since": modified.strftime(form)}
        assert (await client.get("/feeds/iran.rss", headers=since)).status == 304, since
    ahead = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    future = {**PLAIN, "If-Modified-Since": ahead}
    assert (await client.get("/feeds/iran.rss", headers=future)).status == 200


async def test_conditional_requests_compression_and_no_rendering_per_request(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    book, client = pulled
    first = await client.get("/feeds/iran.rss", headers=PLAIN)
    body = await first.read()
    assert (
        first.status == 200
        and first.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    )
    assert "Content-Encoding" not in first.headers
    assert first.headers["Cache-Control"] == "public, max-age=120"
    assert first.headers["Vary"] == "Accept-Encoding, Accept"
    # A reader running in a web page may read it from another site.
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert first.headers.getall("Link") == [
        '<http://hub.example.test/publish>; rel="hub"',
        f'<{PUBLIC}/feeds/iran.rss>; rel="self"',
    ]
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert book.renders == 1

    # If-None-Match, strong or weak, and If-Modified-Since each give 304 with no body.
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"x", W/{etag}'},
        {"If-Modified-Since": modified},
    ):
        cached = await client.get("/feeds/iran.rss", headers={**PLAIN, **headers})
        assert cached.status == 304, headers
        assert await cached.read() == b""
        assert (
            cached.headers["ETag"] == etag and cached.headers["Vary"] == "Accept-Encoding, Accept"
        )
        assert cached.headers["Access-Control-Allow-Origin"] == "*"
    older = format_datetime(parsedate_to_datetime(modified) - timedelta(seconds=1), usegmt=True)
    late = {**PLAIN, "If-Modified-Since": older}
    assert (await client.get("/feeds/iran.rss", headers=late)).status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3).
    both = {**PLAIN, "If-None-Match": '"other"', "If-Modified-Since": modified}
    assert (await client.get("/feeds/iran.rss", headers=both)).status == 200

    # gzip and brotli bodies decompress to exactly the full body, each with its own ETag.
    zipped = await client.get("/feeds/iran.rss", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.read()) == body
    brotlied = await client.get("/feeds/iran.rss", headers={"Accept-Encoding": "gzip, br"})
    assert brotlied.headers["Content-Encoding"] == "br"
    assert brotli.decompress(await brotlied.read()) == body
    assert len({etag, zipped.headers["ETag"], brotlied.headers["ETag"]}) == 3
    again = await client.get(
        "/feeds/iran.rss",
        headers={"Accept-Encoding": "br", "If-None-Match": brotlied.headers["ETag"]},
    )
    assert again.status == 304 and again.headers["ETag"] == brotlied.headers["ETag"]

    # HEAD: the headers of GET, no body.
    head = await client.head("/feeds/iran.rss", headers={"Accept-Encoding": "gzip"})
    assert head.status == 200 and await head.read() == b""
    assert head.headers["ETag"] == zipped.headers["ETag"]

    # Query strings readers add change nothing.
    tagged = await client.get(
        "/feeds/iran.rss?utm_source=newsletter&utm_medium=email", headers=PLAIN
    )
    assert tagged.headers["ETag"] == etag and await tagged.read() == body
    conditional = {**PLAIN, "If-None-Match": etag}
    tagged = await client.get("/feeds/iran.rss?utm_source=x", headers=conditional)
    assert tagged.status == 304

    # 10,000 requests to the unchanged feed, in every variant, render it zero more times.
    variants = [
        PLAIN,
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "br;q=1, gzip;q=0.5"},
        {**PLAIN, "If-None-Match": etag},
        {**PLAIN, "If-Modified-Since": modified},
    ]
    statuses: list[int] = []

    async def one(n: int) -> None:
        query = f"?utm_source={n}" if n % 3 == 0 else ""
        async with client.get(f"/feeds/iran.rss{query}", headers=variants[n % 5]) as resp:
            await resp.read()
            statuses.append(resp.status)

    renders = book.renders
    for start in range(0, 10_000, 200):
        await asyncio.gather(*(one(n) for n in range(start, start + 200)))
    assert len(statuses) == 10_000
    assert statuses.count(304) == 4_000 and statuses.count(200) == 6_000
    assert book.renders == renders
    # On the hot path, at most the first request of each connection goes to the handlers.
    answered = hot_answered(client)
    assert answered == -1 or answered >= 9_000, answered


async def test_validators_and_codings_sent_on_several_header_lines_count_as_one_list(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # RFC 9110 5.3: several lines of a list field are one list, as if joined by commas (a
    # proxy or a client library adding its own If-None-Match or Accept-Encoding line). Only
    # the first line was read: a reader whose ETag was on the second got the whole feed
    # again, and one whose gzip was on the second got it uncompressed.
    _, client = pulled
    body = await (await client.get("/feeds/iran.atom", headers=PLAIN)).read()
    etag = (await client.get("/feeds/iran.atom", headers=PLAIN)).headers["ETag"]
    zipped = (await client.get("/feeds/iran.atom", headers={"Accept-Encoding": "gzip"})).headers
    for codings, sent in (([("Accept-Encoding", "identity")], etag), (GZIP_LINES, zipped["ETag"])):
        lines = [*codings, ("If-None-Match", '"other"'), ("If-None-Match", sent)]
        cached = await client.get("/feeds/iran.atom", headers=CIMultiDict(lines))
        assert cached.status == 304 and cached.headers["ETag"] == sent
    full = await client.get("/feeds/iran.atom", headers=CIMultiDict(GZIP_LINES))
    assert full.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await full.read()) == body


GZIP_LINES = [("Accept-Encoding", "identity;q=0.5"), ("Accept-Encoding", "gzip")]


async def test_a_search_pages_etag_sent_on_a_second_header_line_is_matched(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # Search results and the other pages made per request read If-None-Match as feeds do:
    # every line of it (RFC 9110 5.3), not the first alone.
    _, client = pulled
    etag = (await client.get("/?q=IRAN")).headers["ETag"]
    lines = CIMultiDict([("If-None-Match", '"other"'), ("If-None-Match", etag)])
    assert (await client.get("/?q=IRAN", headers=lines)).status == 304
    assert (await client.get("/?q=IRAN", headers={"If-None-Match": '"other"'})).status == 200


async def test_a_change_renders_once_and_moves_the_etag(
    pulled: tuple[FeedBook, TestClient], site: Site, fetcher: Fetcher
) -> None:
    book, client = pulled
    etag = (await client.get("/feeds/iran.atom", headers=PLAIN)).headers["ETag"]
    site.correct(site.articles[4], "A correction was added on Tuesday.")
    report = await pull_source("news", book.config, fetcher, book.store)
    book.invalidate(report.changed_sections)
    renders = book.renders
    changed = await client.get("/feeds/iran.atom", headers={**PLAIN, "If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert b"A correction was added on Tuesday." in await changed.read()
    for _ in range(5):
        await client.get("/feeds/iran.atom")
    assert book.renders == renders + 1


# What readers and browsers send as Accept. SimplePie (FreshRSS, WordPress) and many other
# readers accept text/html too, at a lower q-value than the feed types.
SIMPLEPIE_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.8,"
    " text/xml;q=0.8, text/html;q=0.7, unknown/unknown;q=0.1, application/unknown;q=0.1, */*;q=0.1"
)
FIREFOX_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


async def test_a_reader_in_a_web_page_is_told_a_feed_is_not_there(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # The 404 had no Access-Control-Allow-Origin: the browser gave the script a CORS failure,
    # which looks like the network being down, not the feed's status.
    _, client = pulled
    origin = {**PLAIN, "Origin": "https://reader.example.test"}
    for path in ("/feeds/nowhere.json", "/feeds/iran/archive/999.rss", "/feeds/iran.xml"):
        missing = await client.get(path, headers=origin)
        assert missing.status == 404, path
        assert missing.headers["Access-Control-Allow-Origin"] == "*", path


async def test_a_reader_in_a_web_page_is_told_its_codings_are_refused(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # The 406 for `Accept-Encoding: identity;q=0` (a feed's, or one in place of a 404) had
    # no Access-Control-Allow-Origin, which the answer it stood for had: the browser gave
    # the script a CORS failure, which looks like the network being down.
    _, client = pulled
    refusing = {"Accept-Encoding": "identity;q=0", "Origin": "https://reader.example.test"}
    for path in (
        "/feeds/iran.json",
        "/feeds/iran.rss",
        "/feeds/opml.xml",
        "/",
        "/feeds/nowhere.json",
        "/feeds/iran/archive/999.rss",
    ):
        for method in ("GET", "HEAD"):
            refused = await client.request(method, path, headers=refusing)
            assert refused.status == 406, (path, method)
            assert refused.headers.get("Access-Control-Allow-Origin") == "*", (path, method)
    # An answer that carries none (a search page is made for the site's own pages) gains none.
    searched = await client.get("/?q=IRAN", headers=refusing)
    assert searched.status == 406 and "Access-Control-Allow-Origin" not in searched.headers


async def test_a_reader_in_a_web_page_may_poll_a_feed_conditionally_from_another_site(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # A script sending If-Modified-Since or If-None-Match makes the browser ask first
    # (OPTIONS, a CORS preflight): the 405 it got failed the script's request unsent. And
    # the ETag to send back, and the WebSub links, were hidden from it.
    _, client = pulled
    origin = {"Origin": "https://reader.example.test"}
    for path in ("/feeds/iran.json", "/feeds/iran.rss", "/feeds/opml.xml", "/opml"):
        asked = await client.options(
            path,
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "if-modified-since, if-none-match",
            },
        )
        assert asked.status in (200, 204), path
        assert asked.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in asked.headers["Access-Control-Allow-Methods"]
        allowed = asked.headers["Access-Control-Allow-Headers"].lower()
        assert "if-modified-since" in allowed and "if-none-match" in allowed
    first = await client.get("/feeds/iran.json", headers={**PLAIN, **origin})
    exposed = {h.strip().lower() for h in first.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "link"} <= exposed
    again = {**PLAIN, **origin, "If-None-Match": first.headers["ETag"]}
    cached = await client.get("/feeds/iran.json", headers=again)
    assert cached.status == 304 and cached.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (SIMPLEPIE_ACCEPT, None),
        ("application/rss+xml, application/atom+xml, text/html", None),  # a tie: the feed's
        ("text/html;q=0.5, */*;q=0.1", "application/xml"),
        (FIREFOX_ACCEPT, "application/xml"),
        (CHROMIUM_ACCEPT, "application/xml"),
    ],
    ids=["simplepie", "tie", "html-first", "firefox", "chromium"],
)
async def test_a_reader_that_also_accepts_html_gets_the_feed_type_and_a_browser_xml(
    pulled: tuple[FeedBook, TestClient], accept: str, media: str | None
) -> None:
    # FreshRSS and WordPress (SimplePie) send text/html;q=0.7 after the feed types: they were
    # answered as browsers, with application/xml, and never from the hot path.
    _book, client = pulled
    for ext, own in (("rss", "application/rss+xml"), ("atom", "application/atom+xml")):
        reader = await client.get(f"/feeds/iran.{ext}", headers=PLAIN)
        before = hot_answered(client)
        asked = await client.get(f"/feeds/iran.{ext}", headers={**PLAIN, "Accept": accept})
        assert asked.status == 200 and await asked.read() == await reader.read()
        assert asked.headers["Content-Type"] == f"{media or own}; charset=utf-8", ext
        assert asked.headers["ETag"] == reader.headers["ETag"]
        assert asked.headers["Vary"] == "Accept-Encoding, Accept"
        if media is None and before >= 0:
            assert hot_answered(client) == before + 1, "a reader's request left the hot path"


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("gzip;q=0, br;q=0", "identity"),
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("identity", "identity"),
        ("x-gzip", "gzip"),
        ("br;q=nonsense, gzip", "gzip"),
        # RFC 9110 12.5.3: the coding of the highest q-value, no coding (identity) among them;
        # a tie goes to the smaller body.
        ("identity, gzip;q=0.5", "identity"),
        ("gzip;q=0.5, identity;q=0.8", "identity"),
        ("*;q=0.5, identity;q=0.8", "identity"),
        ("gzip;q=0.5, identity;q=0.5", "gzip"),
        ("identity;q=0.8, *", "br"),
        ("gzip, identity;q=0", "gzip"),
        ("*;q=0, identity", "identity"),
        # No coding refused and none of ours accepted: nothing can be sent (None).
        ("identity;q=0", None),
        ("*;q=0", None),
        ("deflate, zstd, identity;q=0", None),
        ("gzip;q=0, br;q=0, identity;q=0", None),
    ],
)
def test_accept_encoding_negotiation_honours_q_values(accept: str, coding: str | None) -> None:
    assert negotiate(accept) == coding


async def test_a_request_refusing_every_coding_we_have_gets_406(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # `Accept-Encoding: identity;q=0` refuses an uncompressed body (RFC 9110 12.5.3), and it
    # names no coding we have: the whole feed was sent uncompressed all the same, which the
    # reader said it cannot take. It now gets 406, as actix-web's and tower-http's
    # compression answer, naming the codings it may ask for.
    _, client = pulled
    for path in ("/feeds/iran.rss", "/feeds/iran.atom", "/", "/feeds/opml.xml", "/?q=IRAN"):
        for accept in ("identity;q=0", "*;q=0", "deflate, identity;q=0"):
            for method in ("GET", "HEAD"):
                resp = await client.request(method, path, headers={"Accept-Encoding": accept})
                assert resp.status == 406, (path, accept, method)
                assert "Accept-Encoding" in resp.headers["Vary"]
                assert "Content-Encoding" not in resp.headers
                if method == "GET":
                    assert "gzip, identity" in await resp.text()
        # A coding of ours named beside it is sent.
        zipped = await client.get(path, headers={"Accept-Encoding": "gzip, identity;q=0"})
        assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
        # A coding refused is not sent: search results took any value holding "gzip" for it.
        plain = await client.get(path, headers={"Accept-Encoding": "gzip;q=0, deflate;q=0"})
        assert plain.status == 200 and "Content-Encoding" not in plain.headers


async def _ready() -> tuple[bool, dict[str, Any]]:
    return True, {}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/metrics", 200),
        ("/api/mirrors", 200),
        ("/mirrors", 200),
        ("/opml", 200),
        ("/feeds/nothing.rss", 404),
        ("/feeds/nothing/", 404),
        ("/nothing", 404),
    ],
)
async def test_every_answer_honours_accept_encoding_as_the_feeds_do(
    site: Site,
    store: Store,
    write_config: Callable[[str], Config],
    store_url: str,
    path: str,
    status: int,
) -> None:
    # /healthz, /readyz, /metrics, /api/mirrors and the 404 pages were sent uncompressed to
    # a request refusing that (`identity;q=0, *;q=0`), where a feed answers 406.
    config = write_config(service_config(site, store_url))
    app = make_app(FeedBook(config, store), metrics_of=Metrics(config), readiness=_ready)
    async with TestClient(TestServer(app), auto_decompress=False) as client:
        for accept in ("identity;q=0, *;q=0", "deflate, identity;q=0"):
            refused = await client.get(path, headers={"Accept-Encoding": accept})
            assert refused.status == 406, accept
            assert "Accept-Encoding" in refused.headers["Vary"]
            assert "Content-Encoding" not in refused.headers
        for accept in ("gzip;q=0", "gzip;q=0, br;q=0, deflate;q=0"):
            plain = await client.get(path, headers={"Accept-Encoding": accept})
            assert plain.status == status, accept
            assert "Content-Encoding" not in plain.headers, accept
        zipped = await client.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.status == status
        assert zipped.headers.get("Content-Encoding") == "gzip"
        assert "Accept-Encoding" in zipped.headers["Vary"]
        assert gzip.decompress(await zipped.read())


async def test_archive_pages_reach_every_item_through_prev_archive_links(
    pulled: tuple[FeedBook, TestClient], site: Site
) -> None:
    book, client = pulled
    every_guid: set[str] = set()
    for fmt in ("atom", "rss"):
        seen, url, pages = [], f"{PUBLIC}/feeds/all.{fmt}", 0
        while url:
            doc = await client.get(path_of(url))
            assert doc.status == 200, url
            data = await doc.read()
            parsed = feedparser.parse(data)
            assert not parsed.bozo
            seen += [e.id for e in parsed.entries]
            root = etree.fromstring(data)
            links = {
                link.get("rel"): link.get("href")
                for link in root.iter("{http://www.w3.org/2005/Atom}link")
            }
            archived = root.find(".//{http://purl.org/syndication/history/1.0}archive")
            if pages:
                assert archived is not None and links["current"] == f"{PUBLIC}/feeds/all.{fmt}"
            else:
                assert archived is None
            url, pages = links.get("prev-archive"), pages + 1
        # six articles, pages of two: the subscription document and three archive pages
        assert pages == 4
        assert len(set(seen)) == len(site.articles)
        every_guid |= set(seen)
    assert len(every_guid) == len(site.articles)
    # JSON Feed pages through next_url.
    url, json_ids = f"{PUBLIC}/feeds/all.json", set()
    while url:
        feed = await (await client.get(path_of(url))).json(content_type=None)
        json_ids |= {item["id"] for item in feed["items"]}
        url = feed.get("next_url")
    assert json_ids == every_guid
    # Each archive page was rendered once, in all three formats, for every request made of it.
    assert book.archive_renders == 3
    page_one = await (await client.get("/feeds/all/archive/1.atom")).read()
    rels = [link.get("rel") for link in etree.fromstring(page_one).iter("{*}link")]
    # No next-archive either: the page stays byte for byte the same when newer pages come.
    assert "prev-archive" not in rels and "next-archive" not in rels
    for missing in (
        "/feeds/all/archive/0.atom",
        "/feeds/all/archive/4.atom",
        "/feeds/all/archive/1.xml",
        "/feeds/nowhere/archive/1.rss",
    ):
        assert (await client.get(missing)).status == 404, missing


async def test_opml_lists_every_section_feed(
    pulled: tuple[FeedBook, TestClient], site: Site
) -> None:
    _, client = pulled
    response = await client.get("/opml")
    assert response.status == 200 and response.content_type == "text/x-opml"
    data = await response.read()
    assert data == await (await client.get("/feeds/opml.xml")).read()
    root = etree.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("body/outline")
    assert {o.get("xmlUrl") for o in outlines} == {f"{PUBLIC}/feeds/{s}.rss" for s in site.sections}
    for outline in outlines:
        assert outline.get("type") == "rss" and outline.get("text")
        feed = await client.get(path_of(outline.get("xmlUrl", "")))
        assert feed.status == 200
        assert feedparser.parse(await feed.read()).feed.title.endswith(outline.get("text", "-"))
        assert (await client.get(path_of(outline.get("htmlUrl", "")))).status == 200


async def test_every_link_on_the_index_and_section_pages_works(
    pulled: tuple[FeedBook, TestClient], site: Site
) -> None:
    _, client = pulled
    index = await client.get("/")
    assert index.status == 200 and index.content_type == "text/html"
    text = (await index.read()).decode()
    assert text == (await (await client.get("/feeds/")).read()).decode()
    doc = html.fromstring(text)
    followed: set[str] = set()
    pages = []
    for element in doc.xpath("//a[@href] | //link[@href]"):
        href = element.get("href")
        assert href.startswith(PUBLIC), href
        response = await client.get(path_of(href))
        assert response.status == 200, href
        followed.add(href)
        if response.content_type == "text/html":
            pages.append(await response.read())
    for section in [*site.sections, "all"]:
        for ext in ("rss", "atom", "json"):
            assert f"{PUBLIC}/feeds/{section}.{ext}" in followed
        assert f"{PUBLIC}/feeds/{section}/" in followed
    assert f"{PUBLIC}/feeds/opml.xml" in followed
    # Each section page (and the mirror dashboard): its own links work too, and its items
    # link to the canonical site.
    assert len(pages) == len(site.sections) + 2
    for page in pages:
        for href in html.fromstring(page).xpath("//a/@href | //link/@href"):
            if href.startswith(PUBLIC):
                assert (await client.get(path_of(href))).status == 200, href
            else:
                assert href.startswith(site.canonical + "/Detail/"), href
    assert "Example News" in text and "Mirrors: 3 healthy" in text


async def test_q_filters_sections_and_items_by_title(
    pulled: tuple[FeedBook, TestClient], site: Site
) -> None:
    _, client = pulled
    doc = html.fromstring(await (await client.get("/?q=IRAN")).read())
    rows = [row.text_content() for row in doc.xpath("//tbody/tr")]
    assert len(rows) == 1 and rows[0].startswith("Iran")
    assert doc.xpath("//input[@name='q']/@value") == ["IRAN"]
    page = html.fromstring(
        await (await client.get("/feeds/north-africa/?q=desalination plant")).read()
    )
    titles = page.xpath("//ol[@class='items']/li/a/text()")
    assert titles == [a.title for a in site.articles if "desalination" in a.title]
    everything = html.fromstring(await (await client.get("/feeds/north-africa/")).read())
    assert len(everything.xpath("//ol[@class='items']/li/a")) == 2  # max_items
    assert (await client.get("/feeds/nowhere/")).status == 404


async def test_pages_answer_conditional_requests_with_a_strong_etag_per_encoding(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # Pages are made once per change, like feeds, in every encoding: each encoding's bytes
    # are fixed, so each has a strong ETag of its own.
    _, client = pulled
    for path in ("/", "/feeds/iran/", "/opml"):
        first = await client.get(path, headers={"Accept-Encoding": "identity"})
        etag = first.headers["ETag"]
        assert not etag.startswith('W/"') and first.headers["Vary"] == "Accept-Encoding"
        assert "Last-Modified" in first.headers
        again = await client.get(
            path, headers={"If-None-Match": etag, "Accept-Encoding": "identity"}
        )
        assert again.status == 304, path
        zipped = await client.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["ETag"] != etag
        assert gzip.decompress(await zipped.read()) == await first.read()


@pytest.mark.parametrize("name", ["01.rss", "%C2%B2.rss", "%D9%A1.rss", "+1.rss", "1.5.rss"])
async def test_an_archive_page_answers_only_under_its_own_number(
    pulled: tuple[FeedBook, TestClient], name: str
) -> None:
    _, client = pulled
    assert (await client.get("/feeds/all/archive/1.rss")).status == 200
    assert (await client.get(f"/feeds/all/archive/{name}")).status == 404


async def test_a_section_name_without_a_slash_leads_to_its_page(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    _, client = pulled
    moved = await client.get("/feeds/iran", allow_redirects=False)
    assert moved.status == 301 and moved.headers["Location"] == "iran/"  # from /feeds/iran
    assert (await client.get("/feeds/iran")).status == 200  # followed: the section page
    assert (await client.get("/feeds/nowhere", allow_redirects=False)).status == 404


async def test_a_reloaded_cache_max_age_reaches_every_document(
    pulled: tuple[FeedBook, TestClient],
) -> None:
    # operating.md: a change of cache_max_age applies from the next request. The feeds were
    # rendered again and said so; the index, section pages, OPML list and the stylesheet,
    # whose bytes do not change with it, kept the answers prepared under the old config
    # (`Cache-Control: public, max-age=120` until their bodies changed, the stylesheet's
    # never).
    book, client = pulled
    paths = ["/feeds/iran.rss", "/", "/feeds/iran/", "/feeds/opml.xml", "/feeds/feed.xsl"]
    for path in paths:
        before = await client.get(path, headers=PLAIN)
        assert before.headers["Cache-Control"] == "public, max-age=120", path
    old = book.config
    service = old.service.model_copy(update={"cache_max_age": 600.0})
    book.config = old.model_copy(update={"service": service})
    await book.config_changed(sections_to_render(old, book.config))
    for path in paths:
        after = await client.get(path, headers=PLAIN)
        assert after.status == 200, path
        assert after.headers["Cache-Control"] == "public, max-age=600", path
