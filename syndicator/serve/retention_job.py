"""The retention job of a running service: the rules of `retention` applied every
`retention.every`, by one process at a time across the cluster, under a lease of its own
(`RETENTION_LEASE`). Started again when a reload changes its settings; `db prune` runs it
once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.serve.lease_worker import node_name
from syndicator.store import Store
from syndicator.store.leases import Leases
from syndicator.store.retention import PruneReport, prune

# Not a valid source name, so it never clashes with one.
RETENTION_LEASE = "~retention"

log = logging.getLogger("syndicator.cluster")
T = TypeVar("T")


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))


async def run_retention(config: Config, store: Store) -> PruneReport:
    rules = config.retention
    report = await prune(store, days=rules.days, items=rules.items, keep=config.service.max_items)
    log.info(
        "retention: removed %d articles and %d section listings",
        report.articles,
        report.memberships,
    )
    return report


async def retention_loop(
    config: Config, store: Store, stop: asyncio.Event, holder: str | None = None
) -> None:
    """Run the retention job every `retention.every`, on one node of the cluster at a time."""
    if not config.retention.enabled:
        return
    leases = Leases(store, holder or node_name(), config.cluster.lease_timeout)
    every = config.retention.every
    bounded = False
    while not stop.is_set():
        try:
            # A store whose schema moved ahead of this code is not written to.
            claimed = []
            if not await store.schema_moved():
                await leases.register([RETENTION_LEASE])
                if not bounded:
                    # Times a node whose clock ran ahead wrote, as a lease worker brings
                    # back its sources': beyond the skew the leases allow, the job waits
                    # `every` at most, and a lease of such a node that died is held for
                    # `lease_timeout` at most.
                    await leases.bound({RETENTION_LEASE: every})
                    bounded = True
                claimed = await leases.claim_due([RETENTION_LEASE], 1)
            if claimed:
                started = datetime.now(UTC)
                due = started + timedelta(seconds=every)
                try:
                    await _holding(leases, RETENTION_LEASE, run_retention(config, store))
                except asyncio.CancelledError:
                    # A stop cut the round off (it rolled back): due again at once, for
                    # another node or the next start.
                    due = datetime.now(UTC)
                    raise
                finally:
                    await leases.release(RETENTION_LEASE, due)
        except StoreError as exc:
            log.warning("retention: %s", exc)
        await wait_or_stop(stop, min(every, config.cluster.poll * 5))


async def _holding(leases: Leases, name: str, job: Coroutine[Any, Any, T]) -> T | None:
    """Run `job` while renewing the lease on `name` every third of its timeout, as the lease
    worker does for a pull: a retention round on a large store outlasted the lease, and
    another node then ran the same round beside it (and a third after the next timeout).
    None when the lease was lost all the same (the node stalled): the job is stopped."""
    task = asyncio.ensure_future(job)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=leases.timeout / 3)
            if done:
                return task.result()
            try:
                held = await leases.renew([name])
            except StoreError as exc:
                log.warning("retention: %s", exc)
                continue
            if name not in held:
                log.warning("retention: another node holds its lease now: stopping this round")
                return None
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def retention_settings(config: Config) -> tuple[object, ...]:
    """What the retention job runs by: a change of any of these restarts it."""
    c = config
    return (c.retention, c.cluster.lease_timeout, c.cluster.poll, c.service.max_items)


class RetentionJob:
    """The retention job of one node, which a reload restarts under new rules."""

    def __init__(self, store: Store, holder: str | None = None) -> None:
        self.store = store
        self.holder = holder
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, config: Config) -> None:
        """Run the job under `config`. A job already running under an older config finishes
        the round it is in, then this one takes over (due when that one set)."""
        previous = set(self._tasks)
        self._stop.set()
        stop = self._stop = asyncio.Event()

        async def run() -> None:
            if previous:
                await asyncio.wait(previous)
            await retention_loop(config, self.store, stop, self.holder)

        task = asyncio.create_task(run(), name="retention")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel(self) -> None:
        """Stop now: a round running is cut off (its transaction rolls back)."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
