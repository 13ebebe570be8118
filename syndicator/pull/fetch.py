"""HTTP and file fetching for mirrors: one aiohttp client session with timeouts, a body-size
cap enforced while streaming (on decompressed bytes too), a total deadline per request (a
mirror that sends one byte a second gets no longer than that), a redirect policy, per-host
and global concurrency limits, robots.txt (RFC 9309), Retry-After, conditional GET, proxy
routes per mirror, and the address policy of `addresses` (a host the operator did not write
in the config is reached at public addresses only, unless its source allows private ones).

Owns bytes in transit only: it never parses what it fetches (robots.txt aside) and keeps no
mirror health; it reports what happened and the pipeline decides what that means. A `file:`
mirror is read from a folder laid out like the site (a folder is served from its index.html).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import stat
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import aiohttp_socks
from aiohttp.abc import AbstractResolver
from protego import Protego

from syndicator.core import identity
from syndicator.core.errors import FetchError, Throttled
from syndicator.core.events import FetchObserver
from syndicator.core.models import RETUNABLE, FetchLimits
from syndicator.pull.addresses import AddressPolicy, BlockedAddress, GuardedResolver, guarded_socket

log = logging.getLogger("syndicator.fetch")

_REDIRECTS = {301, 302, 303, 307, 308}
_ROBOTS_MAX = 512 * 1024
# RFC 9309 2.3.1.2: at least five consecutive redirects are followed for robots.txt.
_ROBOTS_REDIRECTS = 5
# A robots.txt that answers 5xx (or 429) or cannot be reached disallows the whole host (RFC
# 9309 2.3.1.4) until it answers; it is asked again after this long (or robots_ttl, if less):
# less than the breaker's first backoff (60 s less 20 %), so its probe asks again.
_ROBOTS_RETRY = 30.0

# What is known of a host's robots.txt: its rules, None (no rules: everything allowed), or
# the failure that keeps it unread (nothing allowed).
RobotsState = Protego | FetchError | None


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    body: bytes
    charset: str | None = None
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0
    redirects: tuple[str, ...] = field(default_factory=tuple)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _robots_unreadable(url: str, cause: FetchError) -> FetchError:
    """The error a fetch gets while its host's robots.txt cannot be read: the kind of the
    robots.txt failure (a host whose robots.txt answers 500 is failing with http-500)."""
    if isinstance(cause, Throttled):
        return Throttled(url, cause.status, cause.retry_after)
    return FetchError(
        url,
        cause.kind,
        f"robots.txt unreadable ({cause.message}): nothing is fetched from this host until "
        "it answers",
    )


# A validator longer than this is not kept: sent back as If-None-Match it could pass a
# server's header limit and fail every later request of the URL.
MAX_VALIDATOR = 1024


def validator(value: str | None) -> str | None:
    """An ETag or Last-Modified as a mirror sent it, when it can be stored and sent back.

    aiohttp decodes header bytes that are not UTF-8 to lone surrogates: such a value, one with
    a control character, or one past `MAX_VALIDATOR` is dropped (None). Neither store takes
    it as text (SQLite raised UnicodeEncodeError and ended the pull), and the URL is simply
    fetched again in full next time."""
    if not value or len(value) > MAX_VALIDATOR:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in value):
        return None
    return value


def origin_of(url: str) -> str:
    """The origin of a URL (see `identity.origin`); kept under this name for callers."""
    return identity.origin(url)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        # ASCII digits only: "²" is a digit to str.isdigit but no number to float().
        return float(text) if text.isascii() else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_GZIP_MAGIC = b"\x1f\x8b"


# The headers CDNs document for telling their bot challenges apart, whatever the status they
# answer it with (Cloudflare: 403 or 503, even 200; Vercel: 429), by the provider's name.
_CHALLENGE_HEADERS = {"cf-mitigated": "Cloudflare", "x-vercel-mitigated": "Vercel"}


def _challenger(headers: Any) -> str | None:
    """The CDN whose bot challenge an answer is, or None. A challenge is no error of the
    mirror nor a wait it asks for: taken for one (`http-403`, or a 503 or 429 that is asked
    again within the pull, in vain), the mirror's health never said what kept the pull out
    (`captcha`, as for a challenge page served with 200)."""
    for header, provider in _CHALLENGE_HEADERS.items():
        if headers.get(header, "").strip().lower() == "challenge":
            return provider
    return None


class _Inflater:
    """gzip/deflate decoding that stops as soon as the output passes the cap.

    aiohttp's own decompression is switched off so that the cap holds for every chunk,
    however well it compresses (a few KiB of gzip can inflate to gigabytes).

    A gzip body may hold several members one after the other (`cat a.gz b.gz`): each is
    inflated, as gzip itself does, and bytes after the last that are no gzip member are
    ignored. `whole` says whether the compressed stream ended: a stream cut short (a cache
    that kept a cut-off object, with a Content-Length that says so) inflates to a page that
    may end on a closing tag, and was taken for the whole page. A stream whose compressed
    data ended but whose check bytes (gzip's CRC and size, zlib's Adler-32) were cut or left
    out is whole, as browsers take it: nothing of the page is missing.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_fallback = encoding == "deflate"
        self._d = self._member()
        self._started = False
        self._raw = False
        # Bytes after a gzip member's end, held until they show whether another member
        # starts (its two magic bytes may come in two chunks); None once they are no member.
        self._after: bytes | None = b""
        # The check of what the current member (or zlib stream) inflated to so far, and its
        # size: the trailer it ends with, if whole.
        self._check = 0 if self._gzip else 1
        self._size = 0

    def _member(self) -> Any:
        self._check, self._size = (0 if self._gzip else 1), 0
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, chunk: bytes, room: int) -> bytes:
        out = b""
        while chunk and len(out) <= room:
            if self._d.eof:
                if not self._gzip or self._after is None:
                    return out  # what follows the stream is no part of it
                held = self._after + chunk
                if len(held) < len(_GZIP_MAGIC):
                    self._after = held
                    return out
                if not held.startswith(_GZIP_MAGIC):
                    self._after = None
                    return out
                self._after, self._d, chunk = b"", self._member(), held
            out += self._counted(self._inflate(chunk, room - len(out)))
            chunk = self._d.unused_data if self._d.eof else b""
        return out

    def _inflate(self, chunk: bytes, room: int) -> bytes:
        try:
            out = self._d.decompress(chunk, room + 1)
        except zlib.error:
            if self._started or not self._raw_fallback:
                raise
            # Some servers send raw deflate without the zlib header.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            self._raw = True
            out = self._d.decompress(chunk, room + 1)
        self._started = True
        return out

    def _counted(self, data: bytes) -> bytes:
        if self._gzip:
            self._check = zlib.crc32(data, self._check)
        elif not self._raw:
            self._check = zlib.adler32(data, self._check)
        self._size += len(data)
        return data

    def finish(self) -> bytes:
        return self._counted(self._d.flush())

    @property
    def whole(self) -> bool:
        """Whether the compressed stream ended where the body did (no body at all is whole:
        an empty answer, which the pipeline names as such), its check bytes aside."""
        if self._d.eof or not self._started:
            return True
        if self._raw:
            return False
        if self._gzip:
            trailer = struct.pack("<II", self._check & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        else:
            trailer = struct.pack(">I", self._check & 0xFFFFFFFF)
        # The trailer the inflated bytes call for, less the part of it that came: the stream
        # ends with it only when its compressed data was all there.
        for came in range(len(trailer)):
            probe = self._d.copy()
            try:
                probe.decompress(trailer[came:])
            except zlib.error:
                continue
            if probe.eof:
                return True
        return False


class Fetcher:
    """An open client; use as `async with Fetcher(limits) as fetcher:`."""

    def __init__(
        self,
        limits: FetchLimits,
        resolver: AbstractResolver | None = None,
        *,
        observer: FetchObserver | None = None,
    ) -> None:
        self.limits = limits
        # Told the result and time of every `get` (the metrics), without the fetcher
        # knowing who listens.
        self.observer = observer
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        # Hosts reached at public addresses only have their own session, so that no pooled
        # connection to a private address made for a trusted host can ever serve them.
        self._guarded: aiohttp.ClientSession | None = None
        self._guard: GuardedResolver | None = None
        # One session per proxy route, opened at its first request.
        self._routes: dict[str, aiohttp.ClientSession] = {}
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, tuple[float, RobotsState]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        self._session = self._open(
            aiohttp.TCPConnector(**self._connector_args(), resolver=self._resolver)
        )
        self._guard = GuardedResolver(self._resolver)
        self._guarded = self._open(
            aiohttp.TCPConnector(
                **self._connector_args(), resolver=self._guard, socket_factory=guarded_socket
            )
        )
        self._global = asyncio.Semaphore(self.limits.concurrency)
        return self

    def _connector_args(self) -> dict[str, Any]:
        return {
            "limit": self.limits.concurrency,
            "limit_per_host": self.limits.per_host,
            "ttl_dns_cache": 300,
        }

    def _open(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.limits.connect_timeout,
                sock_read=self.limits.read_timeout,
            ),
            auto_decompress=False,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for session in (self._session, self._guarded, *self._routes.values()):
            if session is not None:
                await session.close()
        self._session = self._guarded = None
        self._routes.clear()
        if self._guard is not None:
            await self._guard.close()
            self._guard = None

    def _session_for(
        self, url: str, addresses: AddressPolicy | None, via: str | None = None
    ) -> aiohttp.ClientSession:
        """The open session, or the guarded one when `addresses` keeps `url` to public
        addresses, or the session of the proxy route `via`. Through a proxy the proxy
        connects (and, with socks5h, resolves names): where it may go is its own policy."""
        if via is not None:
            return self._route(via)
        session = (
            self._guarded if addresses is not None and addresses.guards(url) else self._session
        )
        if session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        return session

    def _route(self, via: str) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        session = self._routes.get(via)
        if session is None:
            # socks5h: the proxy resolves host names (an onion name means nothing to a local
            # resolver, and asking it would leak the name); the other schemes resolve here.
            remote_dns = via.startswith("socks5h://")
            url = "socks5://" + via.removeprefix("socks5h://") if remote_dns else via
            connector = aiohttp_socks.ProxyConnector.from_url(
                url, rdns=remote_dns, **self._connector_args()
            )
            session = self._routes[via] = self._open(connector)
        return session

    def retune(self, limits: FetchLimits) -> list[str]:
        """Take the RETUNABLE settings of `limits` (User-Agent, redirects followed, robots.txt
        cache time) from the next request on; returns the names of those that changed. A new
        robots_ttl drops the robots.txt rules kept so far, so every host's are read again
        and kept for the new time."""
        changed = [k for k in RETUNABLE if getattr(self.limits, k) != getattr(limits, k)]
        if changed:
            self.limits = replace(self.limits, **{k: getattr(limits, k) for k in changed})
        if "robots_ttl" in changed:
            self._robots.clear()
        return changed

    @contextlib.asynccontextmanager
    async def _slot(self, origin: str) -> AsyncIterator[None]:
        """One of this host's request slots, then one of the global ones: a request waiting
        for a busy host (a slow mirror) holds no global slot, so the other hosts' requests,
        hedges among them, are not queued behind it."""
        assert self._global is not None
        host = self._hosts.setdefault(origin, asyncio.Semaphore(self.limits.per_host))
        async with host, self._global:
            yield

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        validated_at: str | None = None,
        file_root: Path | None = None,
        allowed_origins: Collection[str] | None = None,
        follow_foreign: bool = False,
        robots: bool = False,
        cancel_if: Callable[[], bool] | None = None,
        addresses: AddressPolicy | None = None,
        via: str | None = None,
        until: float | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        """GET one URL; a 304 answer comes back with an empty body and `not_modified`.

        `etag` and `last_modified` are sent with the request; `validated_at` is where the
        URL's redirects ended when they were given (None: at the URL): they are sent again
        after redirects only to that URL, never to another page.

        Redirects are followed by hand, at most `max_redirects`: to any origin in
        `allowed_origins` (None: any), elsewhere only with `follow_foreign`. `cancel_if` is
        asked once a request slot is free; when it says yes the request is not sent.
        `addresses` says which hosts, of the URL and of every redirect, may be reached at
        private addresses (None: every host, for a URL the operator typed); a refused one is
        a FetchError of kind `blocked-address`. `via` is the proxy route of the mirror
        (None: direct); robots.txt and redirects go the same way, and a proxy that cannot be
        reached is a FetchError of kind `proxy` naming it. The whole answer must be in within
        `request_deadline` of sending the request, and by `until` (event loop time; the
        deadline of the pull), or it fails as `deadline`. `on_sent` is called when the
        request goes out (its slots taken: the time from then on is the mirror's). The
        observer, if any, is told the result and the time taken.
        """
        fetching = self._fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            validated_at=validated_at,
            file_root=file_root,
            allowed_origins=allowed_origins,
            follow_foreign=follow_foreign,
            robots=robots,
            cancel_if=cancel_if,
            addresses=addresses,
            via=via,
            until=until,
            on_sent=on_sent,
        )
        observer = self.observer
        if observer is None:
            return await fetching
        started = time.monotonic()
        result = "error"
        try:
            response = await fetching
            result = "not-modified" if response.not_modified else "ok"
            return response
        except FetchError as exc:
            result = exc.kind
            raise
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        finally:
            observer.on_fetch(url, result, time.monotonic() - started)

    async def _fetch(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        validated_at: str | None,
        file_root: Path | None,
        allowed_origins: Collection[str] | None,
        follow_foreign: bool,
        robots: bool,
        cancel_if: Callable[[], bool] | None,
        addresses: AddressPolicy | None,
        via: str | None,
        until: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        if file_root is not None:
            return await asyncio.to_thread(self._read_file, url, file_root, last_modified)
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        try:
            async with asyncio.timeout_at(until):
                return await self._send(
                    url,
                    etag,
                    last_modified,
                    validated_at,
                    allowed_origins,
                    follow_foreign,
                    robots,
                    cancel_if,
                    addresses,
                    via,
                    on_sent,
                )
        except TimeoutError:
            raise FetchError(
                url, "deadline", "no answer within the pull's time for it (pull_deadline)"
            ) from None

    async def _send(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        validated_at: str | None,
        allowed_origins: Collection[str] | None,
        follow_foreign: bool,
        robots: bool,
        cancel_if: Callable[[], bool] | None,
        addresses: AddressPolicy | None,
        via: str | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        if robots:
            await self._robots_check(url, url, addresses, via)
        loop = asyncio.get_running_loop()
        # Set when the first request goes out: waiting for a free slot is not the mirror's
        # fault, every byte after that is.
        answer_by: float | None = None
        validators = {}
        if etag:
            validators["If-None-Match"] = etag
        if last_modified:
            validators["If-Modified-Since"] = last_modified
        headers = validators
        history: list[str] = []
        current = url
        while True:
            async with self._slot(identity.origin(current)):
                if cancel_if is not None and cancel_if():
                    raise FetchError(url, "skipped", "mirror paused; request not sent")
                if answer_by is None:
                    answer_by = loop.time() + self.limits.request_deadline
                    if on_sent is not None:
                        on_sent()
                session = self._session_for(current, addresses, via)
                response, location = await self._within(
                    answer_by, url, current, headers, session, via
                )
            if location is None:
                assert response is not None
                return Response(
                    url=response.url,
                    status=response.status,
                    body=response.body,
                    charset=response.charset,
                    content_type=response.content_type,
                    etag=response.etag,
                    last_modified=response.last_modified,
                    elapsed=response.elapsed,
                    redirects=tuple(history),
                )
            target = identity.join_url(current, location)
            if target is None:
                # `Location: http://[::1` names no URL at all: the redirect fails, named.
                raise FetchError(url, "redirect", f"redirect to no URL: {location[:200]!r}")
            if len(history) >= self.limits.max_redirects:
                raise FetchError(
                    url, "redirects", f"more than {self.limits.max_redirects} redirects"
                )
            if urlsplit(target).scheme not in ("http", "https"):
                raise FetchError(url, "redirect", f"redirect to a non-HTTP URL {target}")
            # A known host under the other scheme or with or without `www.` is known: a
            # mirror configured as http:// that sends every request to https:// failed every
            # fetch as "redirect to unknown host".
            known = (
                allowed_origins is None
                or identity.known_origin(target, allowed_origins) is not None
            )
            if not known:
                if not follow_foreign:
                    log.warning("%s: not following redirect to unknown host %s", current, target)
                    raise FetchError(url, "foreign-redirect", f"redirect to unknown host {target}")
                log.warning("%s: following redirect to unknown host %s", current, target)
            else:
                log.info("%s: redirect to %s", current, target)
            if robots:
                # Every URL asked is one robots.txt may disallow, a redirect's target too (on
                # the same host or another): followed unasked, a short link or a mirror that
                # sends its pages elsewhere fetched what the target host forbids.
                await self._robots_check(url, target, addresses, via)
            history.append(current)
            current = target
            # Validators belong to the page that gave them: sent again where the redirects
            # ended when they were given, to no other page.
            headers = validators if validated_at is not None and current == validated_at else {}

    async def _robots_check(
        self, asked: str, url: str, addresses: AddressPolicy | None, via: str | None
    ) -> None:
        """Raise the FetchError of `asked` when robots.txt of `url`'s host disallows `url`,
        or cannot be read."""
        state = await self._robots_state(url, addresses, via)
        if isinstance(state, FetchError):
            raise _robots_unreadable(asked, state)
        if state is not None and not state.can_fetch(url, self.limits.user_agent):
            where = "" if url == asked else f" (redirected to {url})"
            raise FetchError(
                asked, "robots", f"robots.txt disallows this URL for our User-Agent{where}"
            )

    async def _within(
        self,
        answer_by: float,
        asked: str,
        url: str,
        headers: dict[str, str],
        session: aiohttp.ClientSession,
        via: str | None = None,
    ) -> tuple[Response | None, str | None]:
        """`_request`, failing as `deadline` when its whole answer is not in by `answer_by`."""
        try:
            async with asyncio.timeout_at(answer_by):
                return await self._request(url, headers, session, via)
        except TimeoutError:
            raise FetchError(
                asked,
                "deadline",
                f"no whole answer within {self.limits.request_deadline:g}s (request_deadline)",
            ) from None

    async def _request(
        self,
        url: str,
        headers: dict[str, str],
        session: aiohttp.ClientSession,
        via: str | None = None,
    ) -> tuple[Response | None, str | None]:
        """One request, no redirects followed: (response, None) or (None, Location)."""
        started = time.monotonic()
        # Given with each request, so a retuned User-Agent applies to the next one.
        headers = {"User-Agent": self.limits.user_agent, **headers}
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS and resp.headers.get("Location"):
                    return None, resp.headers["Location"]
                if provider := _challenger(resp.headers):
                    raise FetchError(
                        url,
                        "captcha",
                        f"a bot challenge of {provider} (HTTP {resp.status} {resp.reason}) "
                        "where the page was expected",
                    )
                if resp.status == 304:
                    return Response(
                        url=url,
                        status=304,
                        body=b"",
                        etag=validator(resp.headers.get("ETag")) or headers.get("If-None-Match"),
                        last_modified=validator(resp.headers.get("Last-Modified"))
                        or headers.get("If-Modified-Since"),
                        elapsed=time.monotonic() - started,
                    ), None
                if resp.status in (429, 503):
                    raise Throttled(
                        url, resp.status, parse_retry_after(resp.headers.get("Retry-After"))
                    )
                if resp.status >= 400:
                    raise FetchError(
                        url, f"http-{resp.status}", f"HTTP {resp.status} {resp.reason}"
                    )
                body = await self._read_body(url, resp)
                return Response(
                    url=str(resp.url),
                    status=resp.status,
                    body=body,
                    charset=resp.charset,
                    content_type=resp.content_type,
                    etag=validator(resp.headers.get("ETag")),
                    last_modified=validator(resp.headers.get("Last-Modified")),
                    elapsed=time.monotonic() - started,
                ), None
        except FetchError:
            raise
        except (aiohttp_socks.ProxyConnectionError, aiohttp_socks.ProxyTimeoutError) as exc:
            raise FetchError(
                url, "proxy", f"proxy {identity.without_credentials(str(via))} unreachable: {exc}"
            ) from None
        except aiohttp_socks.ProxyError as exc:
            # The proxy answered but would not connect: its own reason (host unreachable,
            # connection refused, not allowed by its rules).
            raise FetchError(
                url, "proxy", f"proxy {identity.without_credentials(str(via))} refused: {exc}"
            ) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise FetchError(url, "timeout", "no answer within the timeout") from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(url, "truncated", f"body cut short: {exc}") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            # A certificate expired, for another host or signed by no one trusted: no retry
            # within a pull mends it, and the operator is told it is the certificate. Other
            # handshake failures (a connection closed in the middle) stay `connect`: passing.
            cause = exc.certificate_error
            reason = getattr(cause, "verify_message", None) or str(cause)
            raise FetchError(url, "tls", f"TLS certificate not accepted: {reason}") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                raise FetchError(url, "blocked-address", str(exc.os_error)) from None
            raise FetchError(url, "connect", str(exc.os_error or exc)) from None
        except aiohttp.ClientError as exc:
            raise FetchError(url, "http", f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:
            # A URL the client cannot request, found in a redirect or a page: a host label of
            # 3,000 characters fails IDNA encoding (UnicodeError) before anything is sent.
            raise FetchError(url, "http", f"cannot request {url[:200]}: {exc}") from None

    async def _read_body(self, url: str, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.limits.max_body
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        inflater = _Inflater(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
        if inflater is None and encoding not in ("", "identity"):
            raise FetchError(url, "encoding", f"unsupported Content-Encoding {encoding!r}")
        declared = resp.content_length
        if inflater is None and declared is not None and declared > cap:
            raise FetchError(url, "too-large", f"{declared} bytes declared, cap is {cap}")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in resp.content.iter_chunked(65536):
                data = inflater.feed(chunk, cap - size) if inflater else chunk
                size += len(data)
                if size > cap:
                    raise FetchError(url, "too-large", f"body passed the cap of {cap} bytes")
                chunks.append(data)
            if inflater is not None:
                tail = inflater.finish()
                size += len(tail)
                if size > cap:
                    raise FetchError(url, "too-large", f"body passed the cap of {cap} bytes")
                chunks.append(tail)
        except zlib.error as exc:
            raise FetchError(url, "encoding", f"bad {encoding} body: {exc}") from None
        if inflater is not None and not inflater.whole:
            raise FetchError(
                url, "truncated", f"body cut short: the {encoding} stream ends unfinished"
            )
        return b"".join(chunks)

    # --- robots.txt --------------------------------------------------------------------

    async def robots_allow(
        self, url: str, addresses: AddressPolicy | None = None, via: str | None = None
    ) -> bool:
        """Whether the mirror's robots.txt lets our User-Agent fetch `url` (cached per host);
        False too while it cannot be read (5xx, 429, unreachable)."""
        state = await self._robots_state(url, addresses, via)
        if isinstance(state, FetchError):
            return False
        return state is None or state.can_fetch(url, self.limits.user_agent)

    async def _robots_state(
        self, url: str, addresses: AddressPolicy | None, via: str | None = None
    ) -> RobotsState:
        origin = identity.origin(url)
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            expires, state = self._robots.get(origin, (0.0, None))
            if time.monotonic() >= expires:
                state, ttl = await self._load_robots(origin, addresses, via)
                self._robots[origin] = (time.monotonic() + ttl, state)
        return state

    async def _load_robots(
        self, origin: str, addresses: AddressPolicy | None, via: str | None = None
    ) -> tuple[RobotsState, float]:
        """A host's robots.txt as RFC 9309 reads it, and how long to keep what was found.

        Up to five redirects are followed, to any host (under the address policy); the rules
        at the end apply. A 4xx answer, too many redirects or a redirect out of HTTP: no
        rules. A 5xx or 429 answer, a timeout or no connection: everything is disallowed
        until robots.txt answers, asked again after `_ROBOTS_RETRY`. A host refused by the
        address policy raises its `blocked-address` error, kept nowhere (another source may
        be allowed to reach it)."""
        ttl = self.limits.robots_ttl
        url = origin + "/robots.txt"
        for _ in range(_ROBOTS_REDIRECTS + 1):
            try:
                async with self._slot(origin_of(url)):
                    deadline = asyncio.get_running_loop().time() + self.limits.request_deadline
                    response, location = await self._within(
                        deadline, url, url, {}, self._session_for(url, addresses, via), via
                    )
            except FetchError as exc:
                if exc.kind == "blocked-address":
                    raise
                if exc.kind.startswith("http-4") and exc.kind != "http-429":
                    return None, ttl  # no robots.txt: nothing is disallowed
                log.info(
                    "%s: robots.txt unreadable (%s): nothing is fetched from this host until "
                    "it answers",
                    origin,
                    exc.message,
                )
                return exc, min(_ROBOTS_RETRY, ttl)
            if location is None:
                assert response is not None
                if not 200 <= response.status < 300 or not response.body:
                    return None, ttl
                # utf-8-sig: a byte order mark (an editor's) is no part of the first line;
                # left in it, the group that line opens was lost, and what it disallows fetched.
                text = response.body[:_ROBOTS_MAX].decode("utf-8-sig", errors="replace")
                return Protego.parse(text), ttl
            joined = identity.join_url(url, location)
            if joined is None:
                log.info("%s: robots.txt redirects to no URL (%r): no rules", origin, location)
                return None, ttl
            url = joined
            if urlsplit(url).scheme not in ("http", "https"):
                log.info("%s: robots.txt redirects out of HTTP (%s): no rules", origin, url)
                return None, ttl
        log.info("%s: robots.txt redirects more than %d times: no rules", origin, _ROBOTS_REDIRECTS)
        return None, ttl

    # --- file: mirrors -----------------------------------------------------------------

    def _read_file(self, url: str, root: Path, last_modified: str | None) -> Response:
        """Serve a URL path from a folder snapshot of a mirror."""
        started = time.monotonic()
        rel = unquote(urlsplit(url).path).lstrip("/")
        try:
            path = (root / rel).resolve()
            if path.is_dir():
                path = (path / "index.html").resolve()
            if root.resolve() not in (path, *path.parents):
                raise FetchError(url, "http-404", "path leaves the mirror folder")
            stat = path.stat()
        except (OSError, ValueError, RuntimeError):
            # No such file, a name past the system's limit, a NUL (`%00` in a link), a loop
            # of links: no page there, as a server would say.
            raise FetchError(url, "http-404", f"no file {root / rel}") from None
        if stat.st_size > self.limits.max_body:
            raise FetchError(
                url, "too-large", f"{stat.st_size} bytes, cap is {self.limits.max_body}"
            )
        stamp = email.utils.formatdate(stat.st_mtime, usegmt=True)
        if last_modified == stamp:
            return Response(
                url=url,
                status=304,
                body=b"",
                last_modified=stamp,
                elapsed=time.monotonic() - started,
            )
        body = read_capped(path, self.limits.max_body, url)
        return Response(
            url=url, status=200, body=body, last_modified=stamp, elapsed=time.monotonic() - started
        )


def read_capped(path: Path, cap: int, url: str) -> bytes:
    """The bytes of a regular file of at most `cap` bytes. A folder, a named pipe (whose
    reader would wait for a writer forever), a link to nothing, an unreadable file or one
    past the cap, even one that grew past it while read, is a FetchError naming `url`."""
    try:
        # Opened without blocking, so that a named pipe is seen for what it is, not waited on.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FetchError(url, "read", f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FetchError(url, "read", f"{path} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            body = handle.read(cap + 1)
        except OSError as exc:
            raise FetchError(url, "read", f"cannot read {path}: {exc.strerror}") from None
    if len(body) > cap:
        raise FetchError(url, "too-large", f"{path} is larger than the cap of {cap} bytes")
    return body
