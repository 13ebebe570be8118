"""The HTTP client under `Fetcher`: its aiohttp sessions (one for trusted hosts, one kept to
public addresses, one per proxy route), their timeouts, the per-host and global request
slots, and one request with no redirect followed, its deadline and every way it can fail
said as a FetchError. Settings that can change while the service runs (`retune`) apply from
the next request. Owns bytes in transit only: the body is read by `bodies`, robots.txt is
`robots`'s, redirects and conditional GET are `fetch`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

import aiohttp
import aiohttp_socks
from aiohttp.abc import AbstractResolver

from syndicator.core import identity
from syndicator.core.errors import FetchError, Throttled
from syndicator.core.events import FetchObserver
from syndicator.core.models import RETUNABLE, FetchLimits
from syndicator.pull.addresses import AddressPolicy, BlockedAddress, GuardedResolver, guarded_socket
from syndicator.pull.bodies import read_body
from syndicator.pull.responses import Response, challenger, parse_retry_after, validator

REDIRECTS = {301, 302, 303, 307, 308}


class HttpClient:
    """The sessions and request slots of a `Fetcher`, and one request at a time."""

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

    async def __aenter__(self) -> Self:
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
        cache time) from the next request on; returns the names of those that changed."""
        changed = [k for k in RETUNABLE if getattr(self.limits, k) != getattr(limits, k)]
        if changed:
            self.limits = replace(self.limits, **{k: getattr(limits, k) for k in changed})
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
                if resp.status in REDIRECTS and resp.headers.get("Location"):
                    return None, resp.headers["Location"]
                if provider := challenger(resp.headers):
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
                body = await read_body(url, resp, self.limits.max_body)
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
