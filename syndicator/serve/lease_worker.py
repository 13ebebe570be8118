"""A worker node's pulls: the sources it can claim through leases in the store, pulled
`cluster.pulls` at a time, each lease renewed while its pull runs and freed with the time the
source is next due, so across the cluster a source is pulled by one worker once per interval.

Times a worker whose clock ran ahead wrote into the leases are brought back to what a clock in
step could have written (at start, after a reload, after this worker's clock stepped back).

Edge module: wiring of store, fetcher and pull; it reads no environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from syndicator.core.config import Config
from syndicator.core.errors import StoreError, SyndicatorError
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport
from syndicator.pull.run import run_pull
from syndicator.pull.scheduler import CLOCK_STEP, schedule_changes, warn_if_overran
from syndicator.store import Store
from syndicator.store.leases import Leases

log = logging.getLogger("syndicator.cluster")


def node_name() -> str:
    """Who holds a lease: host and process, as an operator reads it in the store, and a
    token of this holder's own. Host and process alone are not unique: worker containers
    on the host's network share its name and each runs `syndicate` as process 1, and such
    workers took each other's leases for their own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


async def wait_any(events: list[asyncio.Event], timeout: float) -> None:
    """Until one of the events is set or the timeout passes."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


class LeaseWorker:
    """Pulls the sources it can claim, `cluster.pulls` at a time, until stopped."""

    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        store: Store,
        holder: str | None = None,
        on_pulled: Callable[[PullReport], None] | None = None,
    ) -> None:
        self.config = config
        self.fetcher = fetcher
        self.store = store
        self.holder = holder or node_name()
        self.leases = Leases(store, self.holder, config.cluster.lease_timeout)
        self.on_pulled = on_pulled or (lambda _report: None)
        self.running: dict[str, asyncio.Task[None]] = {}
        # Every pull task until it ends: one leaves `running` when its pull is done and then
        # still frees its lease in the store.
        self._pull_tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self._next_config: Config | None = None
        # Sources a new config changed: made due at the next look (`_changed`), or, when
        # this worker is pulling one under the old config, once that pull ends (`_outdated`).
        self._changed: set[str] = set()
        self._outdated: set[str] = set()
        self._clock_at = (time.time(), time.monotonic())

    def reconfigure(self, config: Config) -> None:
        """Pull by `config` from the worker's next look at the leases: sources added are
        registered (due at once), sources removed are claimed no more (a pull of one already
        running finishes), sources whose mirrors or sections changed are due at once (or
        when this worker's pull of one under the old config ends), the cluster settings
        apply. A source's new `every` counts from the end of its next pull."""
        self._next_config = config
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        names = list(self.config.sources)
        cluster = self.config.cluster
        renew_every = cluster.lease_timeout / 3
        last_renew = asyncio.get_running_loop().time()
        registered = False
        try:
            while not stop.is_set():
                if self._next_config is not None:
                    # Here, between looks, every pull started so far has read its config.
                    old, self.config, self._next_config = self.config, self._next_config, None
                    changed = set(schedule_changes(old, self.config).changed)
                    self._outdated |= changed & self.running.keys()
                    self._changed |= changed - self.running.keys()
                    names = list(self.config.sources)
                    cluster = self.config.cluster
                    renew_every = cluster.lease_timeout / 3
                    self.leases.timeout = cluster.lease_timeout
                    registered = False
                try:
                    now = asyncio.get_running_loop().time()
                    if self.running and now - last_renew >= renew_every:
                        await self._renew()
                        last_renew = now
                    # A store whose schema a newer syndicator moved ahead: no source is
                    # claimed, so no pull starts (the store logged why, once); the pulls
                    # running finish.
                    if self._clock_stepped_back():
                        registered = False
                    if not await self.store.schema_moved():
                        if not registered:
                            await self.leases.register(names)
                            await self._bound_times(names)
                            registered = True
                        if self._changed:
                            await self.leases.due_now(self._changed & set(names))
                            self._changed.clear()
                        free = cluster.pulls - len(self.running)
                        idle = [n for n in names if n not in self.running]
                        for name in await self.leases.claim_due(idle, free):
                            self._start(name)
                except StoreError as exc:
                    log.warning("worker %s: store: %s", self.holder, exc)
                self.wake.clear()
                await wait_any([stop, self.wake], min(cluster.poll, renew_every))
        finally:
            await self._hand_back()

    def _clock_stepped_back(self) -> bool:
        """Whether the wall clock went back CLOCK_STEP or more since the last look (NTP
        fixing a clock that ran ahead): the times this worker wrote by it are then ahead."""
        wall, monotonic = time.time(), time.monotonic()
        step = (wall - self._clock_at[0]) - (monotonic - self._clock_at[1])
        self._clock_at = (wall, monotonic)
        return step <= -CLOCK_STEP

    async def _bound_times(self, names: list[str]) -> None:
        """No source waits longer than its `every` and jitter window from now, and no lease
        is held longer than the lease timeout from now, whatever a clock that ran ahead
        wrote (at start, after a reload and after this worker's clock stepped back)."""
        jitter = self.config.service.jitter
        latest = {}
        for name in names:
            every = self.config.sources[name].every
            latest[name] = every + min(jitter, every)
        moved = await self.leases.bound(latest)
        if moved:
            log.warning(
                "worker %s: lease times ahead of this clock brought back: %s",
                self.holder,
                ", ".join(moved),
            )

    def _start(self, name: str) -> None:
        log.info("worker %s: pulling %s", self.holder, name)
        task = asyncio.create_task(self._pull(name), name=f"pull {name}")
        self.running[name] = task
        self._pull_tasks.add(task)
        task.add_done_callback(self._pull_tasks.discard)

    async def _pull(self, name: str) -> None:
        source = self.config.sources[name]
        try:
            # Recorded like any pull, so status, /readyz and a restarted schedule see it.
            outcome = await run_pull(name, self.config, self.fetcher, self.store)
            # Its next pull is `every` after this one's end, whichever worker makes it.
            warn_if_overran(self.config, outcome)
            report = outcome.report
            log.info(
                "worker %s: pulled %s: %d new, %d updated, %d duplicate, %d failed",
                self.holder,
                name,
                report.new,
                report.updated,
                report.duplicate,
                report.failed,
            )
            self.on_pulled(report)
        except SyndicatorError as exc:
            log.warning("worker %s: pull of %s failed: %s", self.holder, name, exc)
        except Exception:
            # A bug: show it, and keep the worker and its other pulls going.
            log.exception("worker %s: pull of %s failed", self.holder, name)
        finally:
            self.running.pop(name, None)
            self.wake.set()
        # The interval runs from the end of this pull, so no mirror sees a source's requests
        # closer together than `every`, whichever workers pull it.
        jitter = random.uniform(0, min(self.config.service.jitter, source.every))
        due = datetime.now(UTC) + timedelta(seconds=source.every + jitter)
        if name in self._outdated:
            # A new config changed the source while this pull ran the old one.
            self._outdated.discard(name)
            due = datetime.now(UTC)
        try:
            await self.leases.release(name, due)
        except StoreError as exc:
            log.warning("worker %s: freeing %s: %s (its lease expires)", self.holder, name, exc)

    async def _renew(self) -> None:
        held = await self.leases.renew(self.running)
        for name in set(self.running) - held:
            # Another worker has it now (we were stalled past the timeout): stop, so the
            # source is not pulled twice at once.
            log.warning("worker %s: lost the lease of %s", self.holder, name)
            self.running.pop(name).cancel()

    async def _hand_back(self) -> None:
        """On stop: cancel running pulls and free their leases, due now, for another worker."""
        tasks = dict(self.running)
        for task in tasks.values():
            task.cancel()
        # And those whose pull ended and that are freeing their lease: the worker stops once
        # they are done with the store (a stop at that moment left one writing to a store
        # its owner then closed).
        await asyncio.gather(*tasks.values(), *self._pull_tasks, return_exceptions=True)
        now = datetime.now(UTC)
        for name in tasks:
            with contextlib.suppress(StoreError):
                await self.leases.release(name, now)
