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
    /feeds/{section}.rss|atom|json   a section's subscription documents
    /feeds/{section}/                the section's HTML page (also `.../index.html`)
    /feeds/{section}/archive/{n}.rss|atom|json   archive page n, 1 the oldest
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from .feeds import EXTENSIONS, FeedBook, RenderedFeed
from .metrics import CONTENT_TYPE, Metrics
from .mirrorstatus import mirror_rows

# Answers (ready, checks): whether the service should get traffic, and why (or why not).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

BOOK: web.AppKey[FeedBook] = web.AppKey("book", FeedBook)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
_FORMAT_OF_EXT = {ext: fmt for fmt, ext in EXTENSIONS.items()}
_CODINGS = {"br": "br", "gzip": "gzip", "x-gzip": "gzip"}


@dataclass(frozen=True)
class _Answers:
    """Everything one document's responses need, built on its first request."""

    ok: dict[str, tuple[bytes, CIMultiDictProxy[str]]]
    not_modified: dict[str, CIMultiDictProxy[str]]
    etags: dict[str, str]
    last_modified: str


def _answers(doc: RenderedFeed, book: FeedBook) -> _Answers:
    service = book.config.service
    common = CIMultiDict(
        {
            "Cache-Control": f"public, max-age={int(service.cache_max_age)}",
            "Vary": "Accept-Encoding",
        }
    )
    if service.websub.hub and doc.self_url:
        common.add("Link", f'<{service.websub.hub}>; rel="hub"')
        common.add("Link", f'<{doc.self_url}>; rel="self"')
    last_modified = format_datetime(doc.last_modified, usegmt=True)
    ok, not_modified = {}, {}
    for encoding in ("identity", "gzip", "br"):
        nm = CIMultiDict(common)
        nm["ETag"] = doc.etags[encoding]
        full = CIMultiDict(nm)
        full["Last-Modified"] = last_modified
        full["Content-Type"] = doc.content_type
        if encoding != "identity":
            full["Content-Encoding"] = encoding
        ok[encoding] = (doc.encoded(encoding), CIMultiDictProxy(full))
        not_modified[encoding] = CIMultiDictProxy(nm)
    return _Answers(ok, not_modified, dict(doc.etags), last_modified)


_negotiated: dict[str, str] = {}


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
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
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
    if if_modified_since == answers.last_modified:
        return True
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and doc.last_modified <= since


def answer(request: web.Request, doc: RenderedFeed, book: FeedBook) -> web.Response:
    """The response for a prepared document: 304, or its bytes in the accepted encoding."""
    answers = doc.prepared
    if not isinstance(answers, _Answers):
        answers = doc.prepared = _answers(doc, book)
    headers = request.headers
    encoding = negotiate(headers.get("Accept-Encoding", ""))
    inm = headers.get("If-None-Match")
    if inm is not None:
        # If-Modified-Since is ignored when If-None-Match is present (RFC 9110 13.1.3).
        if _etag_matches(inm, answers.etags[encoding]):
            return web.Response(status=304, headers=answers.not_modified[encoding])
    else:
        ims = headers.get("If-Modified-Since")
        if ims is not None and _unmodified_since(ims, answers, doc):
            return web.Response(status=304, headers=answers.not_modified[encoding])
    body, ok = answers.ok[encoding]
    return web.Response(body=body, headers=ok)


async def feed(request: web.Request) -> web.StreamResponse:
    book = request.app[BOOK]
    section, _, ext = request.match_info["name"].rpartition(".")
    fmt = _FORMAT_OF_EXT.get(ext)
    if fmt is not None:
        doc = book.cached(section, fmt)
        if doc is not None:
            return answer(request, doc, book)
    if fmt is None:
        raise web.HTTPNotFound(text=f"unknown feed format {ext!r}: use .rss, .atom or .json\n")
    try:
        doc = await book.get(section, fmt)
    except KeyError:
        raise web.HTTPNotFound(text=f"unknown section {section!r}\n") from None
    return answer(request, doc, book)


async def archive(request: web.Request) -> web.StreamResponse:
    book = request.app[BOOK]
    section = request.match_info["section"]
    number, _, ext = request.match_info["name"].partition(".")
    fmt = _FORMAT_OF_EXT.get(ext)
    if fmt is None or not number.isdigit():
        raise web.HTTPNotFound(text="archive pages are /feeds/{section}/archive/{n}.{format}\n")
    try:
        doc = await book.archive(section, int(number), fmt)
    except KeyError:
        raise web.HTTPNotFound(text=f"no archive page {number} of {section!r}\n") from None
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
    inm = request.headers.get("If-None-Match")
    if inm is not None and _etag_matches(inm, etag):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=body, headers={**headers, "Content-Type": content_type})
    response.enable_compression()
    return response


async def index(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    html = await book.index_html(request.query.get("q", "").strip())
    return _dynamic(request, html.encode("utf-8"), "text/html; charset=utf-8", book)


async def section_page(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    section = request.match_info["section"]
    try:
        html = await book.section_html(section, request.query.get("q", "").strip())
    except KeyError:
        raise web.HTTPNotFound(text=f"unknown section {section!r}\n") from None
    return _dynamic(request, html.encode("utf-8"), "text/html; charset=utf-8", book)


async def opml(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    return _dynamic(request, await book.opml(), "text/x-opml; charset=utf-8", book)


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


def make_app(
    book: FeedBook, *, metrics_of: Metrics | None = None, readiness: Readiness | None = None
) -> web.Application:
    app = web.Application(middlewares=[metrics_of.middleware] if metrics_of else [])
    app[BOOK] = book
    add = app.router.add_get
    add("/", index)
    add("/healthz", healthz)
    add("/api/mirrors", mirrors_api)
    if readiness is not None:
        app[READINESS] = readiness
        add("/readyz", readyz)
    if metrics_of is not None:
        app[METRICS] = metrics_of
        add("/metrics", metrics)
    add("/opml", opml)
    add("/feeds/", index)
    add("/feeds/index.html", index)
    add("/feeds/opml.xml", opml)
    add("/feeds/{name}", feed)
    add("/feeds/{section}/", section_page)
    add("/feeds/{section}/index.html", section_page)
    add("/feeds/{section}/archive/{name}", archive)
    return app
