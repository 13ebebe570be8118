"""The HTTP face: per-section feeds in three formats, the HTML index, health and readiness
checks and the Prometheus metrics.

Wiring only: bytes come prepared from the feed book; this module picks them, answers
conditional requests and sets headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

from .feeds import EXTENSIONS, FeedBook, RenderedFeed
from .metrics import CONTENT_TYPE, Metrics
from .mirrorstatus import mirror_rows

# Answers (ready, checks): whether the service should get traffic, and why (or why not).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

BOOK: web.AppKey[FeedBook] = web.AppKey("book", FeedBook)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
_FORMAT_OF_EXT = {ext: fmt for fmt, ext in EXTENSIONS.items()}


def _not_modified(request: web.Request, feed: RenderedFeed) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return feed.etag in tags or "*" in tags
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return since is not None and since.tzinfo is not None and feed.last_modified <= since
    return False


async def feed(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    section, _, ext = name.rpartition(".")
    fmt = _FORMAT_OF_EXT.get(ext)
    book = request.app[BOOK]
    if fmt is None:
        raise web.HTTPNotFound(text=f"unknown feed format {ext!r}: use .rss, .atom or .json\n")
    try:
        rendered = await book.get(section, fmt)
    except KeyError:
        raise web.HTTPNotFound(text=f"unknown section {section!r}\n") from None
    headers = {
        "ETag": rendered.etag,
        "Last-Modified": format_datetime(rendered.last_modified, usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    if _not_modified(request, rendered):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=rendered.body, headers={**headers, "Content-Type": rendered.content_type}
    )


async def index(request: web.Request) -> web.Response:
    html = await request.app[BOOK].index_html()
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def mirrors_api(request: web.Request) -> web.Response:
    book = request.app[BOOK]
    rows = await mirror_rows(book.config, book.store)
    return web.json_response([r.as_dict() for r in rows])


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


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
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/mirrors", mirrors_api)
    if readiness is not None:
        app[READINESS] = readiness
        app.router.add_get("/readyz", readyz)
    if metrics_of is not None:
        app[METRICS] = metrics_of
        app.router.add_get("/metrics", metrics)
    app.router.add_get("/feeds/{name}", feed)
    return app
