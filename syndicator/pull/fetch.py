"""HTTP and file fetching for mirrors: one aiohttp client session with timeouts, a body-size
cap enforced while streaming (on decompressed bytes too), a redirect policy, per-host and
global concurrency limits, robots.txt, Retry-After and conditional GET.

Owns bytes in transit only: it never parses what it fetches (robots.txt aside) and keeps no
mirror health; it reports what happened and the pipeline decides what that means. A `file:`
mirror is read from a folder laid out like the site (a folder is served from its index.html).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from protego import Protego

from syndicator.core import identity
from syndicator.core.errors import FetchError, Throttled
from syndicator.core.events import FetchObserver
from syndicator.core.models import RETUNABLE, FetchLimits

log = logging.getLogger("syndicator.fetch")

_REDIRECTS = {301, 302, 303, 307, 308}
_ROBOTS_MAX = 512 * 1024
# An unreachable robots.txt is not asked for again at every request to a dying host.
_ROBOTS_RETRY = 60.0


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


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Inflater:
    """gzip/deflate decoding that stops as soon as the output passes the cap.

    aiohttp's own decompression is switched off so that the cap holds for every chunk,
    however well it compresses (a few KiB of gzip can inflate to gigabytes).
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._raw_fallback = encoding == "deflate"
        wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._d = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, chunk: bytes, room: int) -> bytes:
        try:
            out = self._d.decompress(chunk, room + 1)
        except zlib.error:
            if self._started or not self._raw_fallback:
                raise
            # Some servers send raw deflate without the zlib header.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(chunk, room + 1)
        self._started = True
        return out

    def finish(self) -> bytes:
        return self._d.flush()


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
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, tuple[float, Protego | None]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.limits.concurrency,
            limit_per_host=self.limits.per_host,
            resolver=self._resolver,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.limits.connect_timeout,
                sock_read=self.limits.read_timeout,
            ),
            auto_decompress=False,
        )
        self._global = asyncio.Semaphore(self.limits.concurrency)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        """One of the global request slots and one of this host's."""
        assert self._global is not None
        host = self._hosts.setdefault(origin, asyncio.Semaphore(self.limits.per_host))
        async with self._global, host:
            yield

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        file_root: Path | None = None,
        allowed_origins: Collection[str] | None = None,
        follow_foreign: bool = False,
        robots: bool = False,
        cancel_if: Callable[[], bool] | None = None,
    ) -> Response:
        """GET one URL; a 304 answer comes back with an empty body and `not_modified`.

        Redirects are followed by hand, at most `max_redirects`: to any origin in
        `allowed_origins` (None: any), elsewhere only with `follow_foreign`. `cancel_if` is
        asked once a request slot is free; when it says yes the request is not sent. The
        observer, if any, is told the result and the time taken.
        """
        fetching = self._get(
            url,
            etag=etag,
            last_modified=last_modified,
            file_root=file_root,
            allowed_origins=allowed_origins,
            follow_foreign=follow_foreign,
            robots=robots,
            cancel_if=cancel_if,
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

    async def _get(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        file_root: Path | None,
        allowed_origins: Collection[str] | None,
        follow_foreign: bool,
        robots: bool,
        cancel_if: Callable[[], bool] | None,
    ) -> Response:
        if file_root is not None:
            return await asyncio.to_thread(self._read_file, url, file_root, last_modified)
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        if robots and not await self.robots_allow(url):
            raise FetchError(url, "robots", "robots.txt disallows this URL for our User-Agent")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        history: list[str] = []
        current = url
        while True:
            async with self._slot(identity.origin(current)):
                if cancel_if is not None and cancel_if():
                    raise FetchError(url, "skipped", "mirror paused; request not sent")
                response, location = await self._request(current, headers)
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
            target = urljoin(current, location)
            if len(history) >= self.limits.max_redirects:
                raise FetchError(
                    url, "redirects", f"more than {self.limits.max_redirects} redirects"
                )
            if urlsplit(target).scheme not in ("http", "https"):
                raise FetchError(url, "redirect", f"redirect to a non-HTTP URL {target}")
            known = allowed_origins is None or identity.origin(target) in allowed_origins
            if not known:
                if not follow_foreign:
                    log.warning("%s: not following redirect to unknown host %s", current, target)
                    raise FetchError(url, "foreign-redirect", f"redirect to unknown host {target}")
                log.warning("%s: following redirect to unknown host %s", current, target)
            else:
                log.info("%s: redirect to %s", current, target)
            history.append(current)
            current = target
            # Validators belong to the URL they were stored for, not to a redirect target.
            headers = {}

    async def _request(
        self, url: str, headers: dict[str, str]
    ) -> tuple[Response | None, str | None]:
        """One request, no redirects followed: (response, None) or (None, Location)."""
        assert self._session is not None
        started = time.monotonic()
        # Given with each request, so a retuned User-Agent applies to the next one.
        headers = {"User-Agent": self.limits.user_agent, **headers}
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS and resp.headers.get("Location"):
                    return None, resp.headers["Location"]
                if resp.status == 304:
                    return Response(
                        url=url,
                        status=304,
                        body=b"",
                        etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                        last_modified=resp.headers.get("Last-Modified")
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
                    etag=resp.headers.get("ETag"),
                    last_modified=resp.headers.get("Last-Modified"),
                    elapsed=time.monotonic() - started,
                ), None
        except FetchError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise FetchError(url, "timeout", "no answer within the timeout") from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(url, "truncated", f"body cut short: {exc}") from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError(url, "connect", str(exc.os_error or exc)) from None
        except aiohttp.ClientError as exc:
            raise FetchError(url, "http", f"{type(exc).__name__}: {exc}") from None

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
        return b"".join(chunks)

    # --- robots.txt --------------------------------------------------------------------

    async def robots_allow(self, url: str) -> bool:
        """Whether the mirror's robots.txt lets our User-Agent fetch `url` (cached per host)."""
        origin = identity.origin(url)
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            expires, rules = self._robots.get(origin, (0.0, None))
            if time.monotonic() >= expires:
                rules, ttl = await self._load_robots(origin)
                self._robots[origin] = (time.monotonic() + ttl, rules)
        return rules is None or rules.can_fetch(url, self.limits.user_agent)

    async def _load_robots(self, origin: str) -> tuple[Protego | None, float]:
        """Rules and how long to keep them; None allows everything."""
        url = origin + "/robots.txt"
        try:
            async with self._slot(origin):
                response, _ = await self._request(url, {})
        except FetchError as exc:
            if exc.kind.startswith("http-4"):
                return None, self.limits.robots_ttl  # no robots.txt: nothing is disallowed
            log.info("%s: robots.txt unavailable (%s); allowing for now", origin, exc.kind)
            return None, min(_ROBOTS_RETRY, self.limits.robots_ttl)
        if response is None or not response.body:
            return None, self.limits.robots_ttl
        text = response.body[:_ROBOTS_MAX].decode("utf-8", errors="replace")
        return Protego.parse(text), self.limits.robots_ttl

    # --- file: mirrors -----------------------------------------------------------------

    def _read_file(self, url: str, root: Path, last_modified: str | None) -> Response:
        """Serve a URL path from a folder snapshot of a mirror."""
        started = time.monotonic()
        rel = unquote(urlsplit(url).path).lstrip("/")
        path = (root / rel).resolve()
        if root.resolve() not in (path, *path.parents):
            raise FetchError(url, "http-404", "path leaves the mirror folder")
        if path.is_dir():
            path = path / "index.html"
        try:
            stat = path.stat()
        except OSError:
            raise FetchError(url, "http-404", f"no file {path}") from None
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
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(url, "read", str(exc)) from None
        return Response(
            url=url, status=200, body=body, last_modified=stamp, elapsed=time.monotonic() - started
        )
