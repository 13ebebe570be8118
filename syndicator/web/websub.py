"""WebSub publishing: tell the hub when a section changes, so subscribers get it in seconds.

The feeds name the hub themselves (`rel="hub"` and `rel="self"` in the documents and in Link
headers, see `xmlfeeds` and `server`); this module sends the pings. A change of a section is
one ping: a `hub.mode=publish` POST listing that section's three feed URLs as `hub.url`.
Changes that arrive within `websub.delay` of each other are sent together, one ping per
section, after the delay, which also gives every web process time to notice the change before
the hub fetches. Pings left when the service stops are sent before it exits, once each (no
retries) and within what is left of its drain: a hub that does not answer cannot hold the stop
up.

Edge module: HTTP out to the hub only. Only the process that pulls announces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp

from syndicator.core.config import Service
from syndicator.publish.documents import FeedBook

log = logging.getLogger("syndicator.websub")
RETRY_DELAYS = (1.0, 5.0)


class HubAnnouncer:
    def __init__(self, service: Service, book: FeedBook) -> None:
        if not service.websub.hub:
            raise ValueError("no WebSub hub configured")
        self.hub: str = service.websub.hub
        self.delay = service.websub.delay
        self.book = book
        self.user_agent = service.user_agent
        self.sent = 0
        self.failed = 0
        self._pending: set[str] = set()
        self._flush: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def section_changed(self, sections: set[str]) -> None:
        """Listener for the feed book: remember the sections, ping after the delay."""
        self._pending |= sections
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._send_later())

    async def _send_later(self) -> None:
        await asyncio.sleep(self.delay)
        await self.send_pending()

    async def send_pending(self, retry: bool = True) -> None:
        while self._pending:
            section = min(self._pending)
            self._pending.discard(section)
            try:
                await self.ping(section, retry=retry)
            except asyncio.CancelledError:
                self._pending.add(section)
                raise

    async def ping(self, section: str, retry: bool = True) -> bool:
        """One publish notification for one section, tried again after RETRY_DELAYS unless
        `retry` is False; True when the hub accepted it."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self.user_agent},
                timeout=aiohttp.ClientTimeout(total=15),
            )
        form = [("hub.mode", "publish")]
        form += [("hub.url", url) for url in self.book.feed_urls(section).values()]
        for attempt, pause in enumerate((0.0, *RETRY_DELAYS) if retry else (0.0,)):
            await asyncio.sleep(pause)
            try:
                async with self._session.post(self.hub, data=form) as response:
                    if response.status < 300:
                        self.sent += 1
                        return True
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.warning(
                "WebSub ping failed",
                extra={
                    "hub": self.hub,
                    "section": section,
                    "attempt": attempt + 1,
                    "error": problem,
                },
            )
        self.failed += 1
        return False

    def take_pending(self) -> set[str]:
        """The sections still waiting for their ping, handed over (to the announcer that
        replaces this one): this one will not send them."""
        pending, self._pending = self._pending, set()
        return pending

    async def close(self, timeout: float | None = None) -> None:
        """Send the pings still waiting, once each, within `timeout` seconds in all (None: no
        bound but each request's own), then close the client; what is not sent by then is
        logged with the hub and the sections."""
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        if self._pending:
            try:
                async with asyncio.timeout(timeout):
                    await self.send_pending(retry=False)
            except TimeoutError:
                self.failed += len(self._pending)
                log.warning(
                    "WebSub pings not sent",
                    extra={
                        "hub": self.hub,
                        "sections": sorted(self._pending),
                        "reason": f"the hub gave no answer within the {timeout or 0:.1f}s left "
                        "of the drain",
                    },
                )
                self._pending.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.asynccontextmanager
async def announcing(service: Service, book: FeedBook) -> AsyncIterator[HubAnnouncer | None]:
    """While inside, section changes the book hears of are announced to the configured hub."""
    if not service.websub.hub:
        yield None
        return
    announcer = HubAnnouncer(service, book)
    book.listeners.append(announcer.section_changed)
    try:
        yield announcer
    finally:
        book.listeners.remove(announcer.section_changed)
        await announcer.close()
