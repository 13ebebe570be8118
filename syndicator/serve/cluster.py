"""Several nodes on one store: `syndicate serve --role worker` and `--role web`.

A worker pulls sources and serves nothing. Workers share the sources through leases in the
store (`lease_worker`): each claims due sources, renews their leases while it pulls, and frees
them with the time the source is next due, so across the cluster a source is pulled by one
worker once per interval; a worker that dies loses its leases after `cluster.lease_timeout`.
One worker at a time also runs the retention job, under a lease of its own (`retention_job`).
A worker whose store's schema a newer syndicator moved ahead claims nothing more
(`Store.schema_moved`).

A web node serves the feeds and pulls nothing. It re-renders a section when the section's
change counter moves: told at once by PostgreSQL (LISTEN/NOTIFY), by polling on SQLite. It
answers `/readyz` and `/metrics` as the single-process service does.

Both read the config again on SIGHUP and apply it in place, as the single-process service
does (keys that need a restart keep their running values until one).

Edge module: wiring of store, fetcher, pipeline and feed book; it reads no environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.core.models import FetchLimits
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.serve.lease_worker import LeaseWorker, wait_any
from syndicator.serve.reload import limits_of, read_new_config, runnable, sections_to_render
from syndicator.serve.retention_job import RetentionJob, retention_settings, wait_or_stop
from syndicator.serve.workers import (
    end_if_not_stopped_within,
    freeze_startup_objects,
    stop_and_reload_signals,
    unless_stopped,
)
from syndicator.store import Store, open_store
from syndicator.store.changes import listening
from syndicator.web.metrics import Metrics
from syndicator.web.readiness import ReadyState
from syndicator.web.server import listen, make_app, make_runner

log = logging.getLogger("syndicator.cluster")
T = TypeVar("T")

# How often a web node on PostgreSQL checks the counters anyway, in case a notification
# was lost with its connection, and that its listening connection still answers (within
# LISTEN_PROBE_TIMEOUT).
LISTEN_FALLBACK = 60.0
LISTEN_PROBE_TIMEOUT = 10.0

Invalidate = Callable[[set[str]], None]


class ChangeWatcher:
    """Keeps a feed book in step with the store's change counters; `after_sync` is awaited
    after each look at them, `on_store_error` called after each look the store failed."""

    def __init__(
        self,
        book: FeedBook,
        store: Store,
        poll: float,
        after_sync: Callable[[], Awaitable[None]] | None = None,
        on_store_error: Callable[[], None] | None = None,
    ) -> None:
        self.book = book
        self.store = store
        self.poll = poll
        self.after_sync = after_sync
        self.on_store_error = on_store_error
        self.fallback = LISTEN_FALLBACK
        self.probe_timeout = LISTEN_PROBE_TIMEOUT

    async def run(self, stop: asyncio.Event) -> None:
        if self.store.is_postgres:
            await self._listen(stop)
        else:
            await self._poll(stop)

    async def _sync(self) -> None:
        try:
            moved = await self.book.sync_versions()
        except StoreError as exc:
            log.warning("web: reading change counters: %s", exc)
            if self.on_store_error is not None:
                self.on_store_error()
            return
        if moved:
            log.info("web: sections changed: %s", ", ".join(sorted(moved)))
        if self.after_sync is not None:
            await self.after_sync()

    async def _poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._sync()
            await wait_or_stop(stop, self.poll)

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with listening(self.store) as sub:
                    # Whatever changed before we listened.
                    await self._sync()
                    while not stop.is_set() and not sub.lost.is_set():
                        await wait_any([stop, sub.changed], self.fallback)
                        heard = sub.changed.is_set()
                        # Reset before the look, not after: a notification that arrives while
                        # it runs (rendering, refreshing the status) wakes the next wait.
                        sub.changed.clear()
                        await self._sync()
                        # Silence: the connection may be dead without saying so. One that
                        # does not answer is replaced at once, or the node would learn of
                        # changes only at this look, once a minute, until it restarts.
                        quiet = not heard and not stop.is_set()
                        if quiet and not await sub.alive(self.probe_timeout):
                            log.warning("web: the listening connection did not answer")
            except StoreError as exc:
                log.warning("web: %s", exc)
            # Lost the connection (or never had it): poll until listening works again.
            await self._sync()
            await wait_or_stop(stop, self.poll)


class RoleNode:
    """A worker or web node's config, read again on SIGHUP: applied in place as far as it
    can be (keys that need a restart keep their running values), or refused with every
    problem logged, as the single-process service does."""

    role = "node"

    def __init__(
        self,
        config: Config,
        load: Callable[[], Config] | None = None,
        on_config: Callable[[Config], None] | None = None,
    ) -> None:
        self.config = config
        self._load = load
        self._on_config = on_config
        self.reload_problems: list[str] = []
        self._reload_lock = asyncio.Lock()

    def counted(self, result: str) -> None:
        """A reload ended: applied, unchanged or refused."""

    async def reload(self, reason: str) -> bool:
        """Read the config again and apply it; refuse an invalid one and keep the old."""
        if self._load is None:
            log.warning(
                "%s: %s ignored: no config file to read again; restart to change the config",
                self.role,
                reason,
            )
            return False
        async with self._reload_lock:
            new, self.reload_problems = read_new_config(self._load, reason, log)
            if new is None:
                self.counted("refused")
                return False
            config, kept = runnable(self.config, new)
            if kept:
                log.warning("config keys need a restart", extra={"keys": kept, "reason": reason})
            if config == self.config:
                self.counted("unchanged")
                log.info("config unchanged", extra={"reason": reason})
                return True
            old, self.config = self.config, config
            applied = await self.apply(old, config)
            if self._on_config is not None:
                self._on_config(config)
            self.counted("applied")
            log.info("config applied", extra={"reason": reason, "role": self.role, **applied})
            return True

    async def apply(self, old: Config, config: Config) -> dict[str, Any]:
        """Switch the running parts from `old` to `config`; what changed, for the log."""
        raise NotImplementedError


class WebNode(RoleNode):
    """What a web node serves: the feed book, `/readyz` (the store answers, every section
    was pulled by some worker) and `/metrics`, with section and source gauges refreshed
    whenever a section's change counter moves (rendered here or not)."""

    role = "web"

    def __init__(
        self,
        config: Config,
        store: Store,
        load: Callable[[], Config] | None = None,
        on_config: Callable[[Config], None] | None = None,
    ) -> None:
        super().__init__(config, load, on_config)
        self.store = store
        self.metrics = Metrics(config)
        self.book = FeedBook(config, store, observer=self.metrics)
        self.ready = ReadyState(self.metrics, store)
        self.watcher = ChangeWatcher(
            self.book,
            store,
            config.cluster.poll,
            after_sync=self._refresh_if_moved,
            on_store_error=self.ready.store_unanswered,
        )
        self._versions: dict[str, int] | None = None
        # What the last look at the store's schema revision found wrong (None: nothing).
        self._schema_problem: str | None = None

    def app(self) -> web.Application:
        return make_app(self.book, metrics_of=self.metrics, readiness=self.readiness)

    def counted(self, result: str) -> None:
        self.metrics.reloads.labels(result).inc()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        self.ready.refused = self.reload_problems
        return await self.ready.check(self.config)

    async def refresh_status(self) -> None:
        try:
            self._versions = await self.store.section_versions()
        except StoreError as exc:
            log.warning("web: status not refreshed: %s", exc)
            self.ready.store_unanswered()
            return
        await self.ready.refresh(self.config)

    async def _refresh_if_moved(self) -> None:
        # Counting a section's items reads its rows: only after the counters moved.
        try:
            moved = await self.store.section_versions() != self._versions
        except StoreError:
            self.ready.store_unanswered()
            return  # the watcher has said so
        # The look that logs a schema a newer syndicator moved ahead (and its return), once,
        # as a worker's does: /readyz looks quietly, and turned 503 with nothing in the log.
        schema_problem = await self.store.schema_moved()
        schema_changed = schema_problem != self._schema_problem
        self._schema_problem = schema_problem
        # After a failed look, the status (and readiness) is read again.
        if moved or schema_changed or self.ready.store_failing:
            await self.refresh_status()

    async def apply(self, old: Config, config: Config) -> dict[str, Any]:
        self.metrics.set_config(config)
        self.book.config = config
        rerendered = sections_to_render(old, config)
        if rerendered:
            # Rendered again now, while readers get the documents as they were.
            await self.book.refresh(rerendered)
        self.watcher.poll = config.cluster.poll
        await self.refresh_status()
        return {
            "sections_added": sorted(config.sections.keys() - old.sections.keys()),
            "sections_removed": sorted(old.sections.keys() - config.sections.keys()),
            "sections_rerendered": sorted(rerendered),
        }


class WorkerNode(RoleNode):
    """A worker's lease worker, fetcher and retention job, under one config."""

    role = "worker"

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        load: Callable[[], Config] | None = None,
        on_config: Callable[[Config], None] | None = None,
    ) -> None:
        super().__init__(config, load, on_config)
        self.fetcher = fetcher
        self.worker = LeaseWorker(config, fetcher, store)
        self.retention = RetentionJob(store, self.worker.holder)

    async def run(self, stop: asyncio.Event) -> None:
        self.retention.start(self.config)
        try:
            await self.worker.run(stop)
        finally:
            # A round under way is cut off, as the worker's pulls are: waiting for it (a
            # large store's first round, a round waiting for a lock) held the stop past
            # systemd's TimeoutStopSec, whose SIGKILL left the job's lease held.
            await self.retention.cancel()

    async def apply(self, old: Config, config: Config) -> dict[str, Any]:
        retuned = self.fetcher.retune(limits_of(config))
        self.worker.reconfigure(config)
        restarted = []
        if retention_settings(old) != retention_settings(config):
            self.retention.start(config)
            restarted.append("retention")
        kept = old.sources.keys() & config.sources.keys()
        return {
            "sources_added": sorted(config.sources.keys() - old.sources.keys()),
            "sources_removed": sorted(old.sources.keys() - config.sources.keys()),
            "sources_changed": sorted(n for n in kept if old.sources[n] != config.sources[n]),
            "fetch_settings": retuned,
            "restarted": restarted,
        }


async def serve_role(
    config: Config,
    role: str,
    host: str,
    port: int,
    limits: FetchLimits,
    load: Callable[[], Config] | None = None,
    on_config: Callable[[Config], None] | None = None,
    stop_bound: float | None = None,
) -> None:
    """Run a worker or a web node until SIGINT or SIGTERM; SIGHUP reads the config again
    with `load` and applies it (`on_config` is told of each config applied). Its start and
    stop are the `started` and `stopped` events of `--role all`, in the log's format: plain
    lines among JSON lines were lines a journal reader could not parse. With `stop_bound`
    (a node is one process, no supervisor watches it), a node still running that many
    seconds after its stop began ends itself, status 1 (`end_if_not_stopped_within`)."""
    if role not in ("worker", "web"):
        raise ValueError(f"serve_role runs a worker or a web node, not {role!r}")
    stop = asyncio.Event()
    node: RoleNode | None = None
    store: Store | None = None
    reloads: set[asyncio.Task[bool]] = set()
    # A SIGHUP before the node is made (the store may take a while to open) is applied once
    # it is: the signal's default action would end the process.
    pending_reload = False

    def on_sighup() -> None:
        nonlocal pending_reload
        if node is None:
            log.info("%s: SIGHUP while starting: the config is read again once started", role)
            pending_reload = True
            return
        task = asyncio.ensure_future(node.reload("SIGHUP"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    def on_stop(_sig: int) -> None:
        if stop_bound is not None and not stop.is_set():
            end_if_not_stopped_within(stop_bound, f"syndicate serve --role {role}")
        stop.set()

    def started(made: RoleNode) -> None:
        nonlocal node
        node = made
        if pending_reload:
            on_sighup()

    try:
        with stop_and_reload_signals(on_stop, on_sighup):
            # A stop while the store opens (a database that does not answer) ends the wait.
            store = await unless_stopped(open_store(config.service.store, config.base_dir), stop)
            if store is None:
                log.info("stopped", extra={"role": role})
                return
            if role == "worker":
                async with Fetcher(limits) as fetcher:
                    worker = WorkerNode(config, store, fetcher, load, on_config)
                    started(worker)
                    _log_started(config, role, None, worker=worker.worker.holder)
                    await worker.run(stop)
            else:
                web_node = WebNode(config, store, load, on_config)
                started(web_node)
                runner = make_runner(
                    web_node.app(), access_log=None, shutdown_timeout=config.service.drain_timeout
                )
                await runner.setup()
                bound = await listen(runner, host, port)
                url_host = f"[{host}]" if ":" in host else host
                _log_started(config, role, f"http://{url_host}:{bound}/")
                await web_node.refresh_status()
                freeze_startup_objects()
                try:
                    await web_node.watcher.run(stop)
                finally:
                    # /readyz answers 503 while requests in flight finish.
                    web_node.ready.stopping = True
                    await runner.cleanup()
    finally:
        for task in reloads:
            task.cancel()
        await asyncio.gather(*reloads, return_exceptions=True)
        if store is not None:
            await store.close()
    log.info("stopped", extra={"role": role})


def _log_started(config: Config, role: str, url: str | None, **fields: str) -> None:
    log.info(
        "started",
        extra={
            "role": role,
            "url": url,
            "sources": len(config.sources),
            "sections": len(config.sections),
            "pid": os.getpid(),
            **fields,
        },
    )
