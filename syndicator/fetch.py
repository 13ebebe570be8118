"""HTTP and file fetching for mirrors: one aiohttp client session with timeouts, a body-size
cap enforced while streaming, a clear User-Agent and conditional GET.

Owns bytes in transit only: it never parses what it fetches. A `file:` mirror is read from a
folder laid out like the site (a path that is a folder is served from its index.html).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from .errors import FetchError


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


@dataclass(frozen=True)
class FetchLimits:
    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_body: int = 10 * 1024 * 1024
    concurrency: int = 16
    per_host: int = 2
    max_redirects: int = 5


class Fetcher:
    """An open client; use as `async with Fetcher(limits) as fetcher:`."""

    def __init__(self, limits: FetchLimits, resolver: AbstractResolver | None = None) -> None:
        self.limits = limits
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

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
            auto_decompress=True,
        )
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

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        file_root: Path | None = None,
    ) -> Response:
        """GET one URL; a 304 answer comes back with an empty body and `not_modified`."""
        if file_root is not None:
            return await asyncio.to_thread(self._read_file, url, file_root, last_modified)
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        try:
            async with self._session.get(
                url, headers=headers, allow_redirects=True, max_redirects=self.limits.max_redirects
            ) as resp:
                if resp.status == 304:
                    return Response(
                        url=url,
                        status=304,
                        body=b"",
                        etag=etag,
                        last_modified=last_modified,
                        elapsed=time.monotonic() - started,
                    )
                if resp.status >= 400:
                    raise FetchError(
                        url, f"http-{resp.status}", f"HTTP {resp.status} {resp.reason}"
                    )
                declared = resp.content_length
                if (
                    declared is not None
                    and declared > self.limits.max_body
                    and "Content-Encoding" not in resp.headers
                ):
                    raise FetchError(
                        url,
                        "too-large",
                        f"{declared} bytes declared, cap is {self.limits.max_body}",
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > self.limits.max_body:
                        raise FetchError(
                            url, "too-large", f"body passed the cap of {self.limits.max_body} bytes"
                        )
                    chunks.append(chunk)
                return Response(
                    url=str(resp.url),
                    status=resp.status,
                    body=b"".join(chunks),
                    charset=resp.charset,
                    content_type=resp.content_type,
                    etag=resp.headers.get("ETag"),
                    last_modified=resp.headers.get("Last-Modified"),
                    elapsed=time.monotonic() - started,
                    redirects=tuple(str(r.url) for r in resp.history),
                )
        except FetchError:
            raise
        except aiohttp.TooManyRedirects:
            raise FetchError(
                url, "redirects", f"more than {self.limits.max_redirects} redirects"
            ) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise FetchError(url, "timeout", "no answer within the timeout") from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(url, "truncated", f"body cut short: {exc}") from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError(url, "connect", str(exc.os_error or exc)) from None
        except aiohttp.ClientError as exc:
            raise FetchError(url, "http", f"{type(exc).__name__}: {exc}") from None

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
