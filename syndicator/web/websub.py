"""WebSub publishing: tell the hub when a section changes, so subscribers get it in seconds.

The feeds name the hub themselves (`rel="hub"` and `rel="self"` in the documents and in Link
headers, see `xmlfeeds` and `server`); this module sends the pings. A change of a section is
one ping: a `hub.mode=publish` POST listing that section's three feed URLs as `hub.url`.
Changes that arrive within `websub.delay` of each other are sent together, one ping per
section, after the delay, which also gives every web process time to notice the change before
the hub fetches. Pings left when the service stops are sent before it exits, once each (no
retries) and within what is left of its drain: a hub that does not answer cannot hold the stop
up.

Every process that writes a change records it in the store (the section's change counter);
an announcer pings for every change the store holds that the hub was not told of, whichever
process made it (a `syndicate pull` or `export` run beside the service, another worker),
claiming each in the store first (`store.changes.claim_announcement`), so that a change is
announced once even when several processes announce. What the announcer hears from its feed
book (its own pulls, changes another process made that the book's poll found) only wakes it.
`announce_once` is the same for a one-shot process (`syndicate export`): one look at the
store, its pings sent once each within a bound, those not sent given back.

Edge module: HTTP out to the hub only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp

from syndicator.core.config import Service
from syndicator.core.errors import StoreError
from syndicator.publish.documents import FeedBook
from syndicator.store.changes import claim_announcement, release_announcement, unannounced

log = logging.getLogger("syndicator.websub")
RETRY_DELAYS = (1.0, 5.0)
# While this process's own pull runs, the changes it stores wait for its end (one ping per
# section per pull), but no longer than this: a long pull is announced at least once a minute.
HOLD_LIMIT = 60.0
HOLD_STEP = 0.05


class HubAnnouncer:
    def __init__(
        self,
        service: Service,
        book: FeedBook,
        pulling: Callable[[], bool] | None = None,
        *,
        look_later: bool = True,
    ) -> None:
        """`pulling` says whether this process has a pull under way (its changes are then
        announced at its end). `look_later` false: no look at the store after the first
        delay, for a caller that looks itself (`announce_once`)."""
        if not service.websub.hub:
            raise ValueError("no WebSub hub configured")
        self.hub: str = service.websub.hub
        self.delay = service.websub.delay
        self.book = book
        self.pulling = pulling
        self.user_agent = service.user_agent
        self.sent = 0
        self.failed = 0
        # Sections heard of since the last look at the store (a hint: the store decides).
        self._pending: set[str] = set()
        # The sections of the look at the store under way, not sent yet, in order.
        self._queue: list[str] = []
        # One look at a time: two would share the queue (a slow hub held one look's pings
        # while another began), and one section's ping could go out twice or never.
        self._looking = asyncio.Lock()
        self._flush: asyncio.Task[None] | None = None
        # A change heard while a look at the store was already under way: look once more.
        self._again = False
        self._session: aiohttp.ClientSession | None = None
        # Changes recorded while no announcer ran (a pull with the service stopped) go out
        # after the first delay.
        if look_later:
            self.section_changed(set())

    def section_changed(self, sections: set[str]) -> None:
        """Listener for the feed book: look at the store's changes after the delay."""
        self._pending |= sections
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._send_later())
        else:
            self._again = True

    async def _send_later(self) -> None:
        """After the delay (and the end of this process's own pull, within HOLD_LIMIT), look
        at the store; once more, after the delay, when a change was heard meanwhile (the store
        decides whether it is new: a change already claimed is not pinged twice)."""
        again = True
        while again:
            await asyncio.sleep(self.delay)
            loop = asyncio.get_running_loop()
            until = loop.time() + HOLD_LIMIT
            while self.pulling is not None and self.pulling() and loop.time() < until:
                await asyncio.sleep(HOLD_STEP)
            self._again = False
            await self.send_pending()
            again = self._again

    async def send_pending(self, retry: bool = True) -> None:
        """Ping for every change the store holds that the hub was not told of, one ping per
        section in name order, each claimed in the store just before its ping (a change
        another process claimed is its to announce)."""
        async with self._looking:
            await self._send_pending(retry)

    async def _send_pending(self, retry: bool) -> None:
        self._pending.clear()
        try:
            changed = await unannounced(self.book.store)
        except StoreError as exc:
            log.warning("WebSub: %s", exc)
            return
        known = set(self.book.section_names())
        self._queue = sorted(changed)
        while self._queue:
            section = self._queue[0]
            try:
                claimed = await claim_announcement(self.book.store, section, changed[section])
            except StoreError as exc:
                log.warning("WebSub: %s", exc)
                claimed = False
            # A section no longer in the config is claimed and not announced: no feed.
            if claimed and section in known:
                sent = False
                try:
                    sent = await self.ping(section, retry=retry)
                finally:
                    if not sent:
                        # Not told (the hub failed, or the stop cut the ping off): the change
                        # goes back to unannounced, for the next look at the store.
                        await self._release(section, changed[section])
            self._queue.pop(0)

    async def _release(self, section: str, version: int) -> None:
        try:
            await release_announcement(self.book.store, section, version)
        except StoreError as exc:
            log.warning("WebSub: %s", exc)

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
        """The sections heard of and not looked at yet, handed over (to the announcer that
        replaces this one). The changes themselves stay in the store, unclaimed, for the
        next look at it."""
        pending, self._pending = self._pending, set()
        return pending

    async def send_within(self, timeout: float | None, reason: str) -> None:
        """Send what is pending once each (no retry) within `timeout` in all. A ping the time
        cut off gives its claim back; those not claimed yet are logged with `reason` and stay
        unannounced in the store, for the next start or export."""
        try:
            async with asyncio.timeout(timeout):
                await self.send_pending(retry=False)
        except TimeoutError:
            if self._queue:
                self.failed += len(self._queue)
                log.warning(
                    "WebSub pings not sent",
                    extra={"hub": self.hub, "sections": sorted(self._queue), "reason": reason},
                )
            self._queue = []

    async def close(self, timeout: float | None = None) -> None:
        """Send the pings still waiting, once each, within `timeout` seconds in all (None: no
        bound but each request's own), then close the client; what is not sent by then is
        logged with the hub and the sections."""
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        # A look at the store cut off: its sections not sent yet (the one whose ping the
        # stop cut off is unclaimed again) are sent now, with the rest.
        self._pending.update(self._queue)
        self._queue = []
        # Only what this announcer heard of: one replaced at a reload handed its hints over,
        # and a change nobody heard of yet stays unannounced in the store for the next start.
        if self._pending:
            await self.send_within(
                timeout, f"the hub gave no answer within the {timeout or 0:.1f}s left of the drain"
            )
        if self._session is not None:
            await self._session.close()
            self._session = None


# A one-shot process (`syndicate export`) waits this long at most for the hub.
ANNOUNCE_LIMIT = 10.0


async def announce_once(
    service: Service, book: FeedBook, timeout: float = ANNOUNCE_LIMIT
) -> HubAnnouncer:
    """Ping the hub now for every change the store holds that it was not told of (what a
    one-shot process such as an export just made, and any change no one announced), once
    each, claimed as the service claims them, within `timeout` in all. A ping the hub
    refused, or that the time cut off, is logged and gives its claim back: the next export,
    or the service, announces it."""
    announcer = HubAnnouncer(service, book, look_later=False)
    try:
        await announcer.send_within(timeout, f"the hub gave no answer within {timeout:g}s")
    finally:
        # Nothing is pending: this closes the announcer's client.
        await announcer.close()
    return announcer


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
