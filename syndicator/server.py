"""The HTTP face: per-section feeds in three formats, the HTML index and a health check.

Wiring only: bytes come prepared from the feed book; this module picks them, answers
conditional requests and sets headers.
"""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from .feeds import EXTENSIONS, FeedBook, RenderedFeed
from .mirrorstatus import mirror_rows

BOOK: web.AppKey[FeedBook] = web.AppKey("book", FeedBook)
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


def make_app(book: FeedBook) -> web.Application:
    app = web.Application()
    app[BOOK] = book
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/mirrors", mirrors_api)
    app.router.add_get("/feeds/{name}", feed)
    return app
