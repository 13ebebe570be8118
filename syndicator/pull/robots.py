"""robots.txt for every mirror host, as RFC 9309 reads it: fetched once per host and kept for
`robots_ttl`, up to five redirects followed, a 4xx meaning no rules, and a 5xx, 429 or an
unreachable host meaning nothing is fetched from that host until its robots.txt answers
(asked again after `_ROBOTS_RETRY`). The layer of `Fetcher` between its HTTP client and its
redirects: every URL a fetch asks for, redirects' targets too, is checked here first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from protego import Protego

from syndicator.core import identity
from syndicator.core.errors import FetchError, Throttled
from syndicator.core.events import FetchObserver
from syndicator.core.models import FetchLimits
from syndicator.pull.addresses import AddressPolicy
from syndicator.pull.http_client import HttpClient
from syndicator.pull.responses import origin_of

log = logging.getLogger("syndicator.fetch")

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


def robots_unreadable(url: str, cause: FetchError) -> FetchError:
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


class RobotsRules(HttpClient):
    """What each host's robots.txt allows our User-Agent, cached per host."""

    def __init__(
        self,
        limits: FetchLimits,
        resolver: AbstractResolver | None = None,
        *,
        observer: FetchObserver | None = None,
    ) -> None:
        super().__init__(limits, resolver, observer=observer)
        # Each host's robots.txt as last read, until when it is kept; one lock a host, so
        # that requests waiting on it read it once.
        self._robots: dict[str, tuple[float, RobotsState]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    def retune(self, limits: FetchLimits) -> list[str]:
        """`HttpClient.retune`; a new robots_ttl also drops the robots.txt rules kept so far,
        so every host's are read again and kept for the new time."""
        changed = super().retune(limits)
        if "robots_ttl" in changed:
            self._robots.clear()
        return changed

    async def _robots_check(
        self, asked: str, url: str, addresses: AddressPolicy | None, via: str | None
    ) -> None:
        """Raise a FetchError of `url` (`asked`, redirected there) when robots.txt of its
        host disallows it, or cannot be read: named at the host whose robots.txt it is (a
        mirror redirecting to one whose robots.txt failed was taken for the one that did)."""
        state = await self._robots_state(url, addresses, via)
        if isinstance(state, FetchError):
            raise robots_unreadable(url, state)
        if state is not None and not state.can_fetch(url, self.limits.user_agent):
            where = "" if url == asked else f" (redirected from {asked})"
            raise FetchError(
                url, "robots", f"robots.txt disallows this URL for our User-Agent{where}"
            )

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
