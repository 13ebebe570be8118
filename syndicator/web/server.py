"""The HTTP face: section feeds in three formats, RFC 5005 archive pages, the HTML index and
section pages, the OPML subscription list, mirror health as JSON, health and readiness checks
and the Prometheus metrics.

Wiring only: documents come prepared from the feed book. For each document the answers are
built once (`answers`: body per encoding and every header), so serving a feed is: pick the
encoding the client accepts, compare its validators, send prepared bytes. Query strings that
readers add (`?utm_source=...`) are not looked at on feed URLs, so they neither miss the cache
nor change the ETag.

URL layout, the same as the exported folder (served at `{public_url}/feeds/`):

    /feeds/                          index (also `/` and `/feeds/index.html`)
    /feeds/opml.xml                  OPML 2.0 list of every section feed (also `/opml`)
    /feeds/feed.xsl                  the stylesheet that shows RSS and Atom in a browser
    /mirrors                         the mirror dashboard (HTML)
    /feeds/{section}.rss|atom|json   a section's subscription documents
    /feeds/{section}/                the section's HTML page (also `.../index.html`)
    /feeds/{section}/archive/{n}.rss|atom|json   archive page n, 1 the oldest
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.web_response import ContentCoding
from multidict import CIMultiDictProxy

from syndicator.core.config import Service
from syndicator.core.errors import StoreError, SyndicatorError
from syndicator.publish import xmlfeeds
from syndicator.publish.documents import FeedBook
from syndicator.publish.mirror_report import mirror_rows
from syndicator.publish.pages import (
    DAYS,
    SectionSummary,
    SourceMirrors,
    mirrors_page,
    not_found_page,
)
from syndicator.publish.render import CONTENT_TYPES
from syndicator.publish.rendered import EXTENSIONS, prepare
from syndicator.store.health import MirrorStore
from syndicator.web.answers import (
    answer,
    coded_answers,
    etag_matches,
    not_acceptable,
    wire_answer,
)
from syndicator.web.feed_runner import FeedRunner, SelfTest
from syndicator.web.hotpath import (
    FD_RESERVE,
    ConnectionLimits,
    HotAnswer,
    Limits,
    connection_allowance,
)
from syndicator.web.metrics import CONTENT_TYPE, Metrics
from syndicator.web.request_fields import listed, negotiate, wants_page
from syndicator.web.unavailable import store_unavailable

log = logging.getLogger("syndicator.server")

# Answers (ready, checks): whether the service should get traffic, and why (or why not).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

BOOK: web.AppKey[FeedBook] = web.AppKey("book", FeedBook)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
_FORMAT_OF_EXT = {ext: fmt for fmt, ext in EXTENSIONS.items()}
# An archive page number as the links write it: ASCII digits, no leading zero. Longer than
# 18 digits it is no page of any section (and past 4,300 Python will not read it as a number).
_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,17}")


FEED_ROUTE = "/feeds/{name}"


def hot_answers(book: FeedBook, counts: dict[tuple[str, int], int] | None = None) -> HotAnswer:
    """What `hotpath` may answer without the router: a section feed that is rendered already.

    Anything else (an archive page, a feed not yet rendered, an unknown name) gives None and
    goes to the handlers. `counts` (route, status) -> requests, for the metrics.
    """

    def hot(path: str, headers: CIMultiDictProxy[str], head: bool) -> bytes | None:
        if not path.startswith("/feeds/"):
            return None
        section, _, ext = path[7:].rpartition(".")
        fmt = _FORMAT_OF_EXT.get(ext)
        doc = book.cached(section, fmt) if fmt is not None else None
        if doc is None or wants_page(headers):
            return None
        wired = wire_answer(doc, book, headers, head)
        if wired is None:
            return None
        not_modified, message = wired
        if counts is not None:  # counted once written: a failure goes to the handlers
            key = (FEED_ROUTE, 304 if not_modified else 200)
            counts[key] = counts.get(key, 0) + 1
        return message

    return hot


SELF_TEST_PATH = "/feeds/self-test.rss"
_SELF_TEST_RSS = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>hot path self-test</title><link>http://self-test.invalid/</link>"
    b"<description>compared at start</description></channel></rss>\n"
)


def self_test(book: FeedBook) -> SelfTest:
    """Canned feed requests for the runner's check at start: a small RSS document answered
    on the connection as a rendered section feed is (`hot_answers`) and by `answer`, as the
    feed handler answers it; with this config's headers (Cache-Control, WebSub links)."""
    doc = prepare(
        _SELF_TEST_RSS,
        CONTENT_TYPES["rss"],
        datetime(2026, 1, 1, tzinfo=UTC),
        self_url=book.feed_url("self-test", "rss"),
    )

    def hot(path: str, headers: CIMultiDictProxy[str], head: bool) -> bytes | None:
        wired = wire_answer(doc, book, headers, head) if path == SELF_TEST_PATH else None
        return wired[1] if wired is not None else None

    async def handler(request: web.Request) -> web.StreamResponse:
        return answer(request, doc, book)

    def request(method: str, *headers: str) -> bytes:
        lines = [f"{method} {SELF_TEST_PATH} HTTP/1.1", "Host: self-test", *headers, "", ""]
        return "\r\n".join(lines).encode("ascii")

    return SelfTest(
        requests=(
            request("GET"),
            request("GET", "Accept-Encoding: gzip, deflate"),
            request("HEAD", "Accept-Encoding: br"),
            request("GET", f"If-None-Match: {doc.etags['identity']}"),
        ),
        hot=hot,
        handler=handler,
    )


# Public answers, readable by a script running in a page of another site.
CROSS_ORIGIN = {"Access-Control-Allow-Origin": "*"}
# How long a browser keeps a preflight's answer (seconds): a day, the most Firefox keeps.
PREFLIGHT_MAX_AGE = 86400


async def preflight(request: web.Request) -> web.Response:
    """The CORS preflight a browser sends before a script's request that carries headers of
    its own (If-None-Match, If-Modified-Since to poll a feed conditionally): answered for the
    public documents under /feeds/ and /opml with GET and HEAD and the headers asked for. It
    got a 405, and the browser failed the script's request without sending it. No
    credentials are read, so any origin and header may come."""
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
    }
    if asked := request.headers.get("Access-Control-Request-Headers"):
        headers["Access-Control-Allow-Headers"] = asked
    return web.Response(status=204, headers=headers)


async def to_folder(request: web.Request) -> web.StreamResponse:
    """/feeds, typed or cut from a feed's address, is the folder of feeds /feeds/ (its page
    lists every section), as a web server answers for a folder named without its slash."""
    raise into_folder(request)


def into_folder(request: web.Request) -> web.HTTPMovedPermanently:
    """A 301 from a folder named without its slash (`/feeds/iran`) to the folder (`iran/`).

    The Location is relative to the request's own address: behind a proxy that serves the
    site under a path (public_url https://h/news), `/feeds/iran/` sent readers to
    https://h/feeds/iran/, outside the site."""
    return web.HTTPMovedPermanently(request.path.rpartition("/")[2] + "/")


async def feed(request: web.Request) -> web.StreamResponse:
    book = request.app[BOOK]
    section, _, ext = request.match_info["name"].rpartition(".")
    fmt = _FORMAT_OF_EXT.get(ext)
    if fmt is not None:
        doc = book.cached(section, fmt)
        if doc is not None:
            return answer(request, doc, book)
    if fmt is None:
        if request.match_info["name"] in book.section_names():
            # /feeds/iran: the section's page is /feeds/iran/
            raise into_folder(request)
        raise await not_found(
            request, f"No feed format {ext!r} here: feeds end in .rss, .atom or .json."
        )
    try:
        doc = await book.get(section, fmt)
    except KeyError:
        raise await not_found(request, f"There is no section {section!r}.") from None
    return answer(request, doc, book)


async def archive(request: web.Request) -> web.StreamResponse:
    book = request.app[BOOK]
    section = request.match_info["section"]
    number, _, ext = request.match_info["name"].partition(".")
    fmt = _FORMAT_OF_EXT.get(ext)
    # A broken archive link is followed in a browser as often as a feed's: the same styled
    # 404 as an unknown section's, listing the sections there are.
    if section not in book.section_names():
        raise await not_found(request, f"There is no section {section!r}.")
    if fmt is None or not _PAGE_NUMBER.fullmatch(number):
        raise await not_found(
            request, "Archive pages are /feeds/{section}/archive/{n}.rss, .atom or .json."
        )
    try:
        doc = await book.archive(section, int(number), fmt)
    except KeyError:
        raise await not_found(
            request, f"There is no archive page {number} of section {section!r}."
        ) from None
    return answer(request, doc, book)


def _dynamic(request: web.Request, body: bytes, content_type: str, book: FeedBook) -> web.Response:
    """A page made per request, compressed on the way out; its ETag is weak, since one tag
    names the page in every encoding."""
    etag = 'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={int(book.config.service.cache_max_age)}",
        "Vary": "Accept-Encoding",
    }
    # Compressed by aiohttp, which has gzip (and deflate) but no brotli. Left to choose,
    # it took any value holding "gzip" for gzip, `gzip;q=0` too.
    coding = negotiate(listed(request.headers, "Accept-Encoding") or "", ("gzip",))
    if coding is None:
        return not_acceptable("gzip, identity")
    inm = listed(request.headers, "If-None-Match")
    if inm is not None and etag_matches(inm, etag):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=body, headers={**headers, "Content-Type": content_type})
    if coding == "gzip":
        response.enable_compression(ContentCoding.gzip)
    return response


async def index(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    query = request.query.get("q", "").strip()
    if not query:
        return answer(request, await book.page("index.html"), book)
    html = await book.index_html(query)
    return _dynamic(request, html.encode("utf-8"), "text/html; charset=utf-8", book)


async def section_page(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    section = request.match_info["section"]
    if section not in book.section_names():
        raise await not_found(request, f"There is no section {section!r}.")
    query = request.query.get("q", "").strip()
    if not query:
        # The very document export writes: same bytes in every encoding, same validators.
        return answer(request, await book.page(f"{section}/index.html"), book)
    try:
        html = await book.section_html(section, query)
    except KeyError:
        raise await not_found(request, f"There is no section {section!r}.") from None
    return _dynamic(request, html.encode("utf-8"), "text/html; charset=utf-8", book)


async def not_found(request: web.Request, what: str) -> web.HTTPNotFound:
    """A 404 page for people: what is missing and the sections there are (from the config
    alone while the store cannot be read: an unknown address is still not found)."""
    book = request.app[BOOK]
    try:
        sections = await book.summaries()
    except StoreError:
        sections = [
            SectionSummary(n, book.section_title(n), book.feed_urls(n), 0, None, book.page_url(n))
            for n in book.section_names()
        ]
    html = not_found_page(book.config.service.title, what, sections, index_url=book.index_url)
    # Readable by a script on another site, as the documents are: it can tell a reader that
    # the feed is not there, where a CORS failure looks like the network being down.
    return web.HTTPNotFound(text=html, content_type="text/html", headers=CROSS_ORIGIN)


_STYLESHEET = prepare(xmlfeeds.STYLESHEET, xmlfeeds.STYLESHEET_TYPE, xmlfeeds.STYLESHEET_DATE)


async def stylesheet(request: web.Request) -> web.Response:
    """The XSLT that shows RSS and Atom feeds as a page in a browser: the bytes export writes,
    in every encoding."""
    return answer(request, _STYLESHEET, request.app[BOOK])


async def mirrors_dashboard(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    now = datetime.now(UTC)
    rows = await mirror_rows(book.config, book.store)
    history = await MirrorStore(book.store).hourly_history(now - timedelta(days=DAYS), DAYS * 24)
    sources = [SourceMirrors(name, s.title) for name, s in book.config.sources.items()]
    html = mirrors_page(
        book.config.service.title, sources, rows, history, now, index_url=book.index_url
    )
    return _dynamic(request, html.encode("utf-8"), "text/html; charset=utf-8", book)


async def opml(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    return answer(request, await book.page("opml.xml"), book)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def mirrors_api(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    rows = await mirror_rows(book.config, book.store)
    return web.json_response([r.as_dict() for r in rows])


async def readyz(request: web.Request) -> web.Response:
    ready, checks = await request.app[READINESS]()
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def connection_limits(book: FeedBook) -> Limits:
    """The `ConnectionLimits` of the book's config as it is now (a reload applies to the
    connections opened after it). `max_connections` is lowered, with a warning, to what the
    process's open-file limit leaves room for after the store, fetches and its own files."""
    last: list[tuple[Service, ConnectionLimits]] = []

    def limits() -> ConnectionLimits:
        service = book.config.service
        if last and last[0][0] is service:
            return last[0][1]
        cap = service.max_connections
        allowance = connection_allowance(FD_RESERVE + service.concurrency)
        if allowance is not None and cap > allowance:
            log.warning(
                "service.max_connections is %d, but the open-file limit leaves room for %d "
                "client connections: keeping at most %d (raise LimitNOFILE, or ulimit -n)",
                cap,
                allowance,
                allowance,
                extra={"max_connections": cap, "allowed": allowance},
            )
            cap = allowance
        value = ConnectionLimits(
            header_timeout=service.header_timeout,
            keepalive_timeout=service.keepalive_timeout,
            max_connections=cap,
        )
        last[:] = [(service, value)]
        return value

    return limits


def make_runner(app: web.Application, **kwargs: Any) -> FeedRunner:
    """The runner to serve `app` with: rendered section feeds answered by `hotpath` once it
    has shown at start that it answers as the handlers do, clients held to the config's
    connection limits, malformed requests and closed connections counted in the metrics."""
    metrics_of = app.get(METRICS)
    counts = metrics_of.hot_requests if metrics_of is not None else None
    closed = metrics_of.connections_closed if metrics_of is not None else None
    book = app[BOOK]
    return FeedRunner(
        app,
        hot=hot_answers(book, counts),
        limits=connection_limits(book),
        counts=counts,
        closed=closed,
        self_test=self_test(book),
        **kwargs,
    )


async def listen(
    runner: web.AppRunner,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    reuse_port: bool = False,
) -> int:
    """Serve the runner's app (set up) on HOST:PORT, or on `sock`; the port bound.
    SyndicatorError, naming the address, when it cannot be bound."""
    site: web.BaseSite
    if sock is not None:
        site = web.SockSite(runner, sock)
    else:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    try:
        await site.start()
    except OSError as exc:
        raise SyndicatorError(f"cannot listen on {host}:{port}: {exc}") from None
    return int(runner.addresses[0][1]) if runner.addresses else port


def make_app(
    book: FeedBook, *, metrics_of: Metrics | None = None, readiness: Readiness | None = None
) -> web.Application:
    # The metrics see the 503 the store's middleware gives.
    middlewares = [metrics_of.middleware] if metrics_of else []
    app = web.Application(middlewares=[*middlewares, coded_answers(), store_unavailable()])
    app[BOOK] = book
    add = app.router.add_get
    add("/", index)
    add("/healthz", healthz)
    add("/api/mirrors", mirrors_api)
    add("/mirrors", mirrors_dashboard)
    if readiness is not None:
        app[READINESS] = readiness
        add("/readyz", readyz)
    if metrics_of is not None:
        app[METRICS] = metrics_of
        add("/metrics", metrics)
    add("/opml", opml)
    add("/feeds", to_folder)
    add("/feeds/", index)
    add("/feeds/index.html", index)
    add("/feeds/opml.xml", opml)
    add(f"/feeds/{xmlfeeds.STYLESHEET_NAME}", stylesheet)
    add(FEED_ROUTE, feed)
    add("/feeds/{section}/", section_page)
    add("/feeds/{section}/index.html", section_page)
    add("/feeds/{section}/archive/{name}", archive)
    app.router.add_route("OPTIONS", "/feeds/{tail:.*}", preflight)
    app.router.add_route("OPTIONS", "/opml", preflight)
    return app
