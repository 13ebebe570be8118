"""A rendered document's answers, built once on its first request: the body in each encoding
and the headers of its 200 and 304 answers, as aiohttp headers for the handlers and as ready
HTTP/1.1 bytes for `hotpath`. A request's answer is chosen here: the encoding its
Accept-Encoding prefers (RFC 9110 12.5.3), whether its validators match (13.1), and whether a
browser navigating to an RSS or Atom feed gets it as XML it shows with the stylesheet."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.typedefs import Middleware
from aiohttp.web_response import ContentCoding
from multidict import CIMultiDict, CIMultiDictProxy

from syndicator.publish.documents import FeedBook
from syndicator.publish.rendered import ENCODINGS, RenderedFeed
from syndicator.web.feed_runner import Handler
from syndicator.web.hotpath import (
    http_date,
)
from syndicator.web.request_fields import CODINGS_OFFERED, listed, negotiate, wants_page

_STYLED = ("application/rss+xml", "application/atom+xml")


class Answers:
    """Everything one document's responses need, built on its first request: the body in each
    encoding and the headers of its 200 and 304 answers, as aiohttp headers for the handler and
    as ready HTTP/1.1 bytes for `hotpath` (the same headers; Date is filled in once a second)."""

    def __init__(self, doc: RenderedFeed, book: FeedBook) -> None:
        service = book.config.service
        # The settings the headers were made under: a reload replaces them (see `prepared_answers`).
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


def prepared_answers(doc: RenderedFeed, book: FeedBook) -> Answers:
    """The answers of a document, made again once a reload replaced the settings they were
    made under: a document whose bytes a reload does not change (the index, a section page,
    the OPML list, the stylesheet) is kept as it was, and kept its old Cache-Control."""
    answers = doc.prepared
    if not isinstance(answers, Answers) or answers.service is not book.config.service:
        answers = doc.prepared = Answers(doc, book)
    return answers


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses (RFC 9110 13.1.2)."""
    if if_none_match == etag:
        return True
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag.removeprefix("W/"):
            return True
    return False


def _unmodified_since(if_modified_since: str, answers: Answers, doc: RenderedFeed) -> bool:
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
    answers: Answers, doc: RenderedFeed, headers: CIMultiDictProxy[str]
) -> tuple[bool, str | None]:
    """(not modified?, encoding) for a request's headers; encoding None when the request
    accepts none the document has (`negotiate`)."""
    encoding = negotiate(listed(headers, "Accept-Encoding") or "")
    if encoding is None:
        return False, None
    inm = listed(headers, "If-None-Match")
    if inm is not None:
        # If-Modified-Since is ignored when If-None-Match is present (RFC 9110 13.1.3).
        return etag_matches(inm, answers.etags[encoding]), encoding
    ims = headers.get("If-Modified-Since")
    return ims is not None and _unmodified_since(ims, answers, doc), encoding


def answer(request: web.Request, doc: RenderedFeed, book: FeedBook) -> web.Response:
    """The response for a prepared document: 304, or its bytes in the accepted encoding."""
    answers = prepared_answers(doc, book)
    not_modified, encoding = choose(answers, doc, request.headers)
    if encoding is None:
        return not_acceptable(instead_of=answers.ok["identity"][1])
    if not_modified:
        return web.Response(status=304, headers=answers.not_modified[encoding])
    body, ok = answers.ok[encoding]
    if answers.for_browser and wants_page(request.headers):
        ok = answers.for_browser[encoding]
    return web.Response(body=body, headers=ok)


def not_acceptable(
    offered: str = CODINGS_OFFERED, *, instead_of: Mapping[str, str] | None = None
) -> web.Response:
    """406 for a request refusing an uncompressed body and every coding we have
    (`Accept-Encoding: identity;q=0`, RFC 9110 12.5.3), naming those it may ask for, as
    RFC 9110 15.5.7 asks. Sent uncompressed all the same, the body was one the reader had
    said it cannot take; actix-web's and tower-http's compression answer 406 too.

    It keeps the CORS headers of the answer it stands `instead_of` (a feed's, a 404's):
    without them a script in another site's page got a CORS failure, which looks like the
    network being down, where it could have told its reader the request was refused."""
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-store"}
    if instead_of is not None:
        headers |= {
            name: value
            for name, value in instead_of.items()
            if name.lower().startswith("access-control-")
        }
    return web.Response(
        status=406,
        text=f"No content coding this request accepts is available: {offered}.\n",
        headers=headers,
    )


def coded_answers() -> Middleware:
    """Every answer with a body that is no prepared document nor search page (`/healthz`,
    `/readyz`, `/metrics`, `/api/mirrors`, 404 and 503 pages) negotiated as those are:
    gzip when the request prefers it, uncompressed when it refuses gzip, 406 when it
    refuses an uncompressed body and gzip alike. They were sent uncompressed whatever the
    request said, `identity;q=0, *;q=0` too; actix-web's Compress answers 406 on every
    route. Answers already negotiated (a `Vary: Accept-Encoding`) and redirects are left
    as they are."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            coded = _coded(request, exc)
            if coded is exc:
                raise
            return coded
        return _coded(request, response)

    return middleware


def _coded(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if (
        not isinstance(response, web.Response)
        or not response.body
        or 300 <= response.status < 400
        or "Accept-Encoding" in response.headers.get("Vary", "")
        or "Content-Encoding" in response.headers
    ):
        return response
    # Compressed by aiohttp, which has gzip but no brotli.
    coding = negotiate(listed(request.headers, "Accept-Encoding") or "", ("gzip",))
    if coding is None:
        return not_acceptable("gzip, identity", instead_of=response.headers)
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    if coding == "gzip":
        response.enable_compression(ContentCoding.gzip)
    return response


def wire_answer(
    doc: RenderedFeed, book: FeedBook, headers: CIMultiDictProxy[str], head: bool
) -> tuple[bool, bytes] | None:
    """(not modified?, the whole response) for a prepared document, as the hot path sends
    it; None for a request accepting no coding the document has (`answer`'s 406)."""
    answers = prepared_answers(doc, book)
    not_modified, encoding = choose(answers, doc, headers)
    if encoding is None:
        return None
    return not_modified, answers.wire(not_modified, encoding, head, http_date())


# What a script reading a document from another site may read beyond the safelisted headers
# (Last-Modified is one): the ETag to send back in If-None-Match, the WebSub hub and self.
EXPOSED = "ETag, Link"
