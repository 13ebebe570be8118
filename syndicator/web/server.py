"""The HTTP face: section feeds in three formats, RFC 5005 archive pages, the HTML index and
section pages, the OPML subscription list, mirror health as JSON, health and readiness checks
and the Prometheus metrics.

Wiring only: documents come prepared from the feed book. For each document the answers are
built once (body per encoding and every header), so serving a feed is: pick the encoding the
client accepts, compare its validators, send prepared bytes. Query strings that readers add
(`?utm_source=...`) are not looked at on feed URLs, so they neither miss the cache nor change
the ETag.

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
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict, CIMultiDictProxy

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
from syndicator.publish.rendered import ENCODINGS, EXTENSIONS, RenderedFeed, prepare
from syndicator.store.health import MirrorStore
from syndicator.web.hotpath import (
    FD_RESERVE,
    ConnectionLimits,
    FeedRunner,
    HotAnswer,
    Limits,
    SelfTest,
    connection_allowance,
    http_date,
)
from syndicator.web.metrics import CONTENT_TYPE, Metrics
from syndicator.web.request_fields import listed
from syndicator.web.unavailable import store_unavailable

log = logging.getLogger("syndicator.server")

# Answers (ready, checks): whether the service should get traffic, and why (or why not).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

BOOK: web.AppKey[FeedBook] = web.AppKey("book", FeedBook)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
_FORMAT_OF_EXT = {ext: fmt for fmt, ext in EXTENSIONS.items()}
_STYLED = ("application/rss+xml", "application/atom+xml")
_CODINGS = {"br": "br", "gzip": "gzip", "x-gzip": "gzip"}
# An archive page number as the links write it: ASCII digits, no leading zero. Longer than
# 18 digits it is no page of any section (and past 4,300 Python will not read it as a number).
_PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,17}")


class _Answers:
    """Everything one document's responses need, built on its first request: the body in each
    encoding and the headers of its 200 and 304 answers, as aiohttp headers for the handler and
    as ready HTTP/1.1 bytes for `hotpath` (the same headers; Date is filled in once a second)."""

    def __init__(self, doc: RenderedFeed, book: FeedBook) -> None:
        service = book.config.service
        # The settings the headers were made under: a reload replaces them (see `_prepared`).
        self.service = service
        styled = doc.content_type.startswith(_STYLED)
        common = CIMultiDict(
            {
                "Cache-Control": f"public, max-age={int(service.cache_max_age)}",
                # RSS and Atom go to browsers as application/xml (see `answer`).
                "Vary": "Accept-Encoding, Accept" if styled else "Accept-Encoding",
                # Public documents: a reader that runs in a web page (a JSON Feed is made
                # for scripts) may read them from any site, as it could through any proxy,
                # and their validators and WebSub links too (see `preflight`).
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Expose-Headers": EXPOSED,
            }
        )
        if service.websub.hub and doc.self_url:
            common.add("Link", f'<{service.websub.hub}>; rel="hub"')
            common.add("Link", f'<{doc.self_url}>; rel="self"')
        self.last_modified = format_datetime(doc.last_modified, usegmt=True)
        self.etags = dict(doc.etags)
        self.ok: dict[str, tuple[bytes, CIMultiDictProxy[str]]] = {}
        self.not_modified: dict[str, CIMultiDictProxy[str]] = {}
        for encoding in ENCODINGS:
            nm = CIMultiDict(common)
            nm["ETag"] = doc.etags[encoding]
            full = CIMultiDict(nm)
            full["Last-Modified"] = self.last_modified
            full["Content-Type"] = doc.content_type
            if encoding != "identity":
                full["Content-Encoding"] = encoding
            self.ok[encoding] = (doc.encoded(encoding), CIMultiDictProxy(full))
            self.not_modified[encoding] = CIMultiDictProxy(nm)
        # For a browser: the same bytes as XML it renders (with the feed's stylesheet); a
        # browser downloads or shows as text application/rss+xml and application/atom+xml.
        self.for_browser: dict[str, CIMultiDictProxy[str]] = {}
        if styled:
            for encoding, (_body, headers) in self.ok.items():
                browser = CIMultiDict(headers)
                browser["Content-Type"] = "application/xml; charset=utf-8"
                self.for_browser[encoding] = CIMultiDictProxy(browser)
        self._wire: dict[tuple[bool, str, bool], bytes] = {}
        self._wire_date = b""

    def wire(self, not_modified: bool, encoding: str, head: bool, date: bytes) -> bytes:
        """The whole HTTP/1.1 response as bytes, headers as the handler's answer sends them.

        Kept for the current second (the Date header), so a feed read thousands of times a
        second is copied once a second, not per request.
        """
        if date is not self._wire_date:
            self._wire.clear()
            self._wire_date = date
        key = (not_modified, encoding, head)
        message = self._wire.get(key)
        if message is None:
            if not_modified:
                status, headers, body = b"304 Not Modified", self.not_modified[encoding], b""
            else:
                body, headers = self.ok[encoding]
                status = b"200 OK"
            lines = [b"HTTP/1.1 " + status]
            # UTF-8, as aiohttp writes a header it is given (a public_url may hold any character).
            lines += [f"{name}: {value}".encode() for name, value in headers.items()]
            if not not_modified:
                lines.append(b"Content-Length: %d" % len(body))
            lines += [b"Date: " + date, b"Server: " + SERVER_SOFTWARE.encode(), b"", b""]
            message = self._wire[key] = b"\r\n".join(lines) + (b"" if head else body)
        return message


def _prepared(doc: RenderedFeed, book: FeedBook) -> _Answers:
    """The answers of a document, made again once a reload replaced the settings they were
    made under: a document whose bytes a reload does not change (the index, a section page,
    the OPML list, the stylesheet) is kept as it was, and kept its old Cache-Control."""
    answers = doc.prepared
    if not isinstance(answers, _Answers) or answers.service is not book.config.service:
        answers = doc.prepared = _Answers(doc, book)
    return answers


_negotiated: dict[str, str] = {}


def _weighted(header: str) -> Iterator[tuple[str, float]]:
    """The items of an Accept or Accept-Encoding value, lower-cased, each with its q-value as
    written (RFC 9110 12.4.2; 1 when it has none, 0 when it is no number)."""
    for part in header.lower().split(","):
        item, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        yield item.strip(), q


def negotiate(accept_encoding: str) -> str:
    """The coding to send for an Accept-Encoding value: br, gzip or identity (RFC 9110 12.5.3).

    Honours q-values (q=0 refuses a coding) and `*`; brotli wins a tie. Results are kept,
    since readers send few distinct values.
    """
    choice = _negotiated.get(accept_encoding)
    if choice is not None:
        return choice
    weights: dict[str, float] = {}
    star: float | None = None
    for coding, q in _weighted(accept_encoding):
        if coding == "*":
            star = q
        elif coding in _CODINGS:
            name = _CODINGS[coding]
            weights[name] = max(weights.get(name, 0.0), q)
    for coding in ("br", "gzip"):
        if coding not in weights and star is not None:
            weights[coding] = star
    best = max(("br", "gzip"), key=lambda c: weights.get(c, 0.0))
    choice = best if weights.get(best, 0.0) > 0 else "identity"
    if len(_negotiated) >= 1024:
        _negotiated.clear()
    _negotiated[accept_encoding] = choice
    return choice


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses (RFC 9110 13.1.2)."""
    if if_none_match == etag:
        return True
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag.removeprefix("W/"):
            return True
    return False


def _unmodified_since(if_modified_since: str, answers: _Answers, doc: RenderedFeed) -> bool:
    """Whether the document is unchanged since an If-Modified-Since date (RFC 9110 13.1.3):
    any HTTP-date form, the obsolete asctime form included (it names no zone: GMT, 5.6.7);
    a date later than this server's clock is invalid, and ignored (a full answer)."""
    if if_modified_since == answers.last_modified:
        return True
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return doc.last_modified <= since <= datetime.now(UTC)


def choose(
    answers: _Answers, doc: RenderedFeed, headers: CIMultiDictProxy[str]
) -> tuple[bool, str]:
    """(not modified?, encoding) for a request's headers."""
    encoding = negotiate(listed(headers, "Accept-Encoding") or "")
    inm = listed(headers, "If-None-Match")
    if inm is not None:
        # If-Modified-Since is ignored when If-None-Match is present (RFC 9110 13.1.3).
        return _etag_matches(inm, answers.etags[encoding]), encoding
    ims = headers.get("If-Modified-Since")
    return ims is not None and _unmodified_since(ims, answers, doc), encoding


def answer(request: web.Request, doc: RenderedFeed, book: FeedBook) -> web.Response:
    """The response for a prepared document: 304, or its bytes in the accepted encoding."""
    answers = _prepared(doc, book)
    not_modified, encoding = choose(answers, doc, request.headers)
    if not_modified:
        return web.Response(status=304, headers=answers.not_modified[encoding])
    body, ok = answers.ok[encoding]
    if answers.for_browser and wants_page(request.headers):
        ok = answers.for_browser[encoding]
    return web.Response(body=body, headers=ok)


# The types a feed reader asks for a feed under. Many readers also accept text/html, at a
# lower q-value (SimplePie, so FreshRSS and WordPress, sends `text/html;q=0.7`): they are not
# browsers, and get the feed's own type.
_FEED_ACCEPTS = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml"}
)
_wants_page: dict[str, bool] = {}


def wants_page(headers: CIMultiDictProxy[str]) -> bool:
    """A browser navigating to a feed: it prefers text/html to any feed type (RFC 9110 12.5.1
    q-values; a tie goes to the feed). Readers do not, even those accepting text/html too."""
    accept = headers.get("Accept", "")
    if "text/html" not in accept:
        return False
    known = _wants_page.get(accept)
    if known is not None:
        return known
    html = feed = 0.0
    for media, written in _weighted(accept):
        q = min(max(written, 0.0), 1.0)
        if media == "text/html":
            html = max(html, q)
        elif media in _FEED_ACCEPTS:
            feed = max(feed, q)
    page = html > feed
    if len(_wants_page) >= 1024:
        _wants_page.clear()
    _wants_page[accept] = page
    return page


FEED_ROUTE = "/feeds/{name}"


def _wire(
    doc: RenderedFeed, book: FeedBook, headers: CIMultiDictProxy[str], head: bool
) -> tuple[bool, bytes]:
    """(not modified?, the whole response) for a prepared document, as the hot path sends it."""
    answers = _prepared(doc, book)
    not_modified, encoding = choose(answers, doc, headers)
    return not_modified, answers.wire(not_modified, encoding, head, http_date())


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
        not_modified, message = _wire(doc, book, headers, head)
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
        return _wire(doc, book, headers, head)[1] if path == SELF_TEST_PATH else None

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
# What a script reading a document from another site may read beyond the safelisted headers
# (Last-Modified is one): the ETag to send back in If-None-Match, the WebSub hub and self.
EXPOSED = "ETag, Link"
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
    inm = listed(request.headers, "If-None-Match")
    if inm is not None and _etag_matches(inm, etag):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=body, headers={**headers, "Content-Type": content_type})
    response.enable_compression()
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
    app = web.Application(middlewares=[*middlewares, store_unavailable()])
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
