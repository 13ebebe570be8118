"""The running service: store, fetcher, scheduler and web server started together, a new
config applied without a restart, and a bounded, clean stop.

`Service` takes a validated config and a way to read it again. `start` opens the store,
resumes the pull schedule from it (jittered, so a restart is no thundering herd) and starts
listening; `reload` reads the config again and applies it in place, or refuses it, logs
every problem with file and line, and keeps running the old one; `stop` turns readiness off,
stops listening, lets in-flight requests and pulls finish within `service.drain_timeout`
and cancels what is left. `run` does all of that under SIGHUP, SIGTERM and SIGINT.
Either part can be left out (`http=False` or `pulls=False`), so a process can be only a
puller or only a web front over a shared store; given a `runtime` folder, such a puller
leaves its pull counters there and such a web front answers `/metrics` with them. Given a
`stop_bound` (a process no supervisor watches), it ends itself, status 1, when its stop has
not ended that many seconds after the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import PullOutcome
from syndicator.pull.scheduler import PullScheduler, schedule_changes
from syndicator.serve import retention_job
from syndicator.serve.reload import limits_of, read_new_config, runnable, sections_to_render
from syndicator.serve.workers import (
    end_if_not_stopped_within,
    freeze_startup_objects,
    stop_and_reload_signals,
    unless_stopped,
)
from syndicator.store import Store, open_store
from syndicator.store.pulls import last_completed_pulls
from syndicator.web.metrics import PULL_SNAPSHOT, Metrics
from syndicator.web.readiness import ReadyState
from syndicator.web.server import listen, make_app, make_runner
from syndicator.web.websub import HubAnnouncer

log = logging.getLogger("syndicator.service")

VERSION_POLL = 2.0
# How often a pulling process beside serving ones writes its counters while fetches go on.
SNAPSHOT_EVERY = 1.0


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _url_host(host: str) -> str:
    """The host as a URL writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


class Service:
    def __init__(
        self,
        config: Config,
        *,
        load: Callable[[], Config] | None = None,
        watch: Path | None = None,
        host: str | None = None,
        port: int | None = None,
        sock: socket.socket | None = None,
        http: bool = True,
        pulls: bool = True,
        reuse_port: bool = False,
        on_config: Callable[[Config], None] | None = None,
        watch_interval: float = 1.0,
        runtime: Path | None = None,
        worker: int | None = None,
        stop_bound: float | None = None,
    ) -> None:
        self.config = config
        # A process no supervisor watches ends itself this long after a stop began.
        self._stop_bound = stop_bound
        self._load = load
        self._watch = watch
        self._host = host if host is not None else config.service.listen_host
        self._port = port if port is not None else config.service.listen_port
        self._sock = sock
        self._http = http
        self._pulls = pulls
        self._reuse_port = reuse_port
        self._on_config = on_config
        self._watch_interval = watch_interval
        self.metrics = Metrics(config)
        # A puller beside serving processes leaves its counters here; they read them.
        self._snapshot = runtime / PULL_SNAPSHOT if runtime is not None else None
        if self._snapshot is not None and http and not pulls:
            self.metrics.pulls_reported_in(self._snapshot)
        # One of several serving processes on one port (`--workers N`): number `worker`.
        self._shares_serving = False
        if runtime is not None and http and worker is not None:
            self.metrics.share_serving(runtime, worker)
            self._shares_serving = True
        self.port: int | None = None
        self.store: Store | None = None
        self.scheduler: PullScheduler | None = None
        self.book: FeedBook | None = None
        self.ready = ReadyState(self.metrics)
        self._stack = contextlib.AsyncExitStack()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reload_lock = asyncio.Lock()
        self._config_signature = _signature(watch) if watch else None
        self._stopping = asyncio.Event()
        self._announcer: HubAnnouncer | None = None
        self._fetcher: Fetcher | None = None
        self._retention: retention_job.RetentionJob | None = None

    # --- start ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, resume the schedule and start listening. A reload asked for
        meanwhile (SIGHUP, handled from before the start) waits for it, then applies to what
        was started, not to half of it."""
        async with self._reload_lock:
            try:
                await self._start()
            except BaseException:
                await self._stack.aclose()
                raise

    async def _start(self) -> None:
        config = self.config
        self.store = self.ready.store = store = await open_store(
            config.service.store, config.base_dir
        )
        self._stack.push_async_callback(store.close)
        self._fetcher = fetcher = await self._stack.enter_async_context(
            Fetcher(limits_of(config), observer=self.metrics)
        )
        self.book = book = FeedBook(config, store, observer=self.metrics)
        if self._http:
            try:
                await store.config_in_force(config.digest())
            except StoreError as exc:
                log.warning("config in force not recorded", extra={"error": str(exc)})
            app = make_app(book, metrics_of=self.metrics, readiness=self.readiness)
            runner = make_runner(
                app, access_log=None, shutdown_timeout=config.service.drain_timeout
            )
            await runner.setup()
            self._runner = runner
            self._stack.push_async_callback(self._close_runner)
            self.port = await listen(
                runner, self._host, self._port, sock=self._sock, reuse_port=self._reuse_port
            )
        if self._pulls:
            self.scheduler = PullScheduler(
                config, fetcher, store, book, observe=self._observe, after=self._after_pull
            )
            book.reports = self.scheduler.last_reports
            # Only the pulling process announces changes to the WebSub hub.
            self._announce(config)
            self._stack.push_async_callback(self._close_announcer, 0.0)
            # A pull the last stop cut off is due again at once, as a never-pulled one is.
            completed = await last_completed_pulls(store)
            last = {name: rec.finished_at for name, rec in completed.items()}
            self.scheduler.start(last)
            self._retention = retention_job.RetentionJob(store)
            self._retention.start(config)
            if self._snapshot is not None:
                self.metrics.write_pull_snapshot(self._snapshot)
                self._spawn(self._write_snapshots(self._snapshot))
        if self._shares_serving:
            self._write_serving_snapshot()
            self._spawn(self._write_serving_snapshots())
        await self._refresh_status()
        self._spawn(self._watch_versions())
        if self._watch is not None:
            self._spawn(self._watch_config())
        log.info(
            "started",
            extra={
                "url": f"http://{_url_host(self._host)}:{self.port}/" if self.port else None,
                "sources": len(config.sources),
                "sections": len(config.sections),
                "pulls": self._pulls,
                "pid": os.getpid(),
                "next_pulls": {
                    n: t.isoformat()
                    for n, t in (self.scheduler.next_runs() if self.scheduler else {}).items()
                },
            },
        )

    def _announce(self, config: Config) -> HubAnnouncer | None:
        """Announce the book's section changes to the hub `config` names from now on (none
        when it names none); returns the announcer this replaces, with the pings it still
        had waiting handed to the new one, for the caller to close."""
        assert self.book is not None
        previous, self._announcer = self._announcer, None
        if previous is not None:
            self.book.listeners.remove(previous.section_changed)
        if config.service.websub.hub:
            scheduler = self.scheduler
            self._announcer = HubAnnouncer(
                config.service,
                self.book,
                pulling=(lambda: bool(scheduler.running)) if scheduler is not None else None,
            )
            self.book.listeners.append(self._announcer.section_changed)
            if previous is not None and (pending := previous.take_pending()):
                self._announcer.section_changed(pending)
        return previous

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _observe(self, outcome: PullOutcome) -> None:
        self.metrics.on_pull(outcome.source, outcome.result, outcome.duration, outcome.report)
        if self._snapshot is not None:
            # Before the pull is logged: whoever reads the log line finds it in /metrics.
            self._write_snapshot(self._snapshot)

    def _write_snapshot(self, path: Path) -> None:
        try:
            self.metrics.write_pull_snapshot(path)
        except OSError as exc:
            log.warning("pull metrics not written", extra={"path": str(path), "error": str(exc)})

    async def _write_snapshots(self, path: Path) -> None:
        """Keep the serving processes' view of the fetch counters at most a second behind."""
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY)
            if self.metrics.pull_counters_moved:
                self._write_snapshot(path)

    def _write_serving_snapshot(self) -> None:
        try:
            self.metrics.write_serving_snapshot()
        except OSError as exc:
            log.warning("serving metrics not written", extra={"error": str(exc)})

    async def _write_serving_snapshots(self) -> None:
        """Keep the other serving processes' view of this one's counters at most a second
        behind (and a scrape this one answers leaves them up to date)."""
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY)
            self._write_serving_snapshot()

    async def _after_pull(self, outcome: PullOutcome) -> None:
        await self._refresh_status()

    async def _refresh_status(self) -> None:
        await self.ready.refresh(self.config)

    async def _watch_versions(self) -> None:
        """Notice changes written by other processes (an export, another puller)."""
        while True:
            await asyncio.sleep(VERSION_POLL)
            if self.book is None:
                continue
            try:
                # A pull that changed no section still moves the sources' gauges.
                pulled = self.metrics.pull_report_moved()
                # After a failed look, the status (and readiness) is read again.
                if await self.book.sync_versions() or pulled or self.ready.store_failing:
                    await self._refresh_status()
            except StoreError as exc:
                log.warning("store poll failed", extra={"error": str(exc)})
                self.ready.store_unanswered()

    # --- readiness ------------------------------------------------------------------------

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the store answers, the config is loaded and every section was pulled."""
        return await self.ready.check(self.config)

    # --- reload ---------------------------------------------------------------------------

    async def reload(self, reason: str = "reload") -> bool:
        """Read the config again and apply it; refuse an invalid one and keep the old."""
        if self._load is None:
            return False
        async with self._reload_lock:
            if self._stopping.is_set() or self.ready.stopping:
                # A SIGHUP in the drain (logrotate's, say) restarted what the stop had just
                # stopped (the retention job ran on through the stop) and applied a config
                # to a service on its way out.
                log.info("reload ignored: the service is stopping", extra={"reason": reason})
                return False
            if self._watch is not None:
                self._config_signature = _signature(self._watch)
            config, self.ready.refused = read_new_config(self._load, reason, log)
            if config is None:
                self.metrics.reloads.labels("refused").inc()
                return False
            applicable, kept = runnable(self.config, config)
            if applicable == self.config:
                self.metrics.reloads.labels("unchanged").inc()
                if kept:
                    log.warning(
                        "config keys need a restart", extra={"keys": kept, "reason": reason}
                    )
                log.info("config unchanged", extra={"reason": reason})
                return True
            await self.apply(config, reason)
            self.metrics.reloads.labels("applied").inc()
            return True

    async def apply(self, config: Config, reason: str = "reload") -> None:
        """Switch the running parts to a new, valid config."""
        old = self.config
        config, kept = runnable(old, config)
        if kept:
            log.warning("config keys need a restart", extra={"keys": kept, "reason": reason})
        self.config = config
        self.metrics.set_config(config)
        # User-Agent (user_agent and contact), max_redirects and robots_ttl: next request on.
        retuned = self._fetcher.retune(limits_of(config)) if self._fetcher is not None else []
        rerendered = sections_to_render(old, config)
        restarted: list[str] = []
        replaced: HubAnnouncer | None = None
        if self.book is not None:
            self.book.config = config
            websub = (old.service.websub, old.service.user_agent)
            if self._pulls and websub != (config.service.websub, config.service.user_agent):
                # Before the sections are invalidated: the new hub hears of them.
                replaced = self._announce(config)
                restarted.append("websub")
            if rerendered and self._http:
                # Rendered again now, readers served the old documents meanwhile; recorded in
                # the store (the other processes, the WebSub hub) and announced.
                await self.book.config_changed(rerendered)
            elif rerendered:
                # A pulling process beside serving ones: they record the change as they
                # render it. A record of this process too, landing after their render, had
                # them render each changed section once more, to the same bytes.
                await self.book.refresh(rerendered)

        retention = retention_job.retention_settings
        if self._retention is not None and retention(old) != retention(config):
            self._retention.start(config)
            restarted.append("retention")
        # A process that does not pull reports the same changes of the sources as the one
        # that does, so either's log line tells the operator what the reload did.
        changes = self.scheduler.apply(config) if self.scheduler else schedule_changes(old, config)
        if self._on_config is not None:
            self._on_config(config)
        await self._refresh_status()
        log.info(
            "config applied",
            extra={
                "reason": reason,
                "pulls": self._pulls,
                "sources_added": changes.added,
                "sources_removed": changes.removed,
                "sources_retimed": changes.retimed,
                "sources_changed": changes.changed,
                "sections_added": sorted(config.sections.keys() - old.sections.keys()),
                "sections_removed": sorted(old.sections.keys() - config.sections.keys()),
                "sections_rerendered": sorted(rerendered),
                "fetch_settings": retuned,
                "restarted": restarted,
            },
        )
        if replaced is not None:
            # It sends what it still holds (when no new hub took its pings over) within
            # drain_timeout, then closes its client.
            await replaced.close(config.service.drain_timeout)

    async def _watch_config(self) -> None:
        """Reload when the file changes; a change is read once it held still for one poll,
        so an editor's half-written file is not read."""
        assert self._watch is not None
        seen = self._config_signature
        while True:
            await asyncio.sleep(self._watch_interval)
            if not self.config.service.watch_config:
                continue
            now = _signature(self._watch)
            if now == self._config_signature:
                seen = now
                continue
            if now != seen:
                seen = now
                continue
            await self.reload("file changed")

    # --- stop -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stopping.set()

    async def stop(self) -> None:
        """Stop within `drain_timeout`: requests and pulls in flight finish or are cut off,
        then the WebSub pings still waiting go out in what is left of it."""
        loop = asyncio.get_running_loop()
        timeout = self.config.service.drain_timeout
        deadline = loop.time() + timeout
        self.ready.stopping = True
        self.metrics.set_ready(False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._retention is not None:
            await self._retention.cancel()
        cancelled: list[str] = []
        if self.scheduler is not None:
            drained = await asyncio.gather(self.scheduler.drain(timeout), self._close_runner())
            cancelled = drained[0]
        await self._close_announcer(max(0.0, deadline - loop.time()))
        await self._stack.aclose()
        log.info("stopped", extra={"cancelled_pulls": cancelled, "pulls": self._pulls})

    async def _close_announcer(self, timeout: float) -> None:
        announcer, self._announcer = self._announcer, None
        if announcer is not None:
            if self.book is not None:
                self.book.listeners.remove(announcer.section_changed)
            await announcer.close(timeout)

    async def _close_runner(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def run(self, ready: Callable[[int | None], None] | None = None) -> None:
        """Start, serve until SIGTERM or SIGINT, reload on SIGHUP, then stop cleanly;
        `ready` is told the bound port once the service has started."""
        with stop_and_reload_signals(
            self._on_stop_signal, lambda: self._spawn(self.reload("SIGHUP"))
        ):
            # A stop while the store opens (a database that does not answer) ends the wait,
            # as on a worker or web node: it waited for the opening to time out, then ended
            # the service as one that could not start.
            if await unless_stopped(self._started(), self._stopping) is None:
                log.info("stopped", extra={"cancelled_pulls": [], "pulls": self._pulls})
                return
            if self._http:
                freeze_startup_objects()
            if ready is not None:
                ready(self.port)
            await self._stopping.wait()
            await self.stop()

    async def _started(self) -> bool:
        await self.start()
        return True

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        if self._stopping.is_set():
            # The same stop again: systemd, `timeout` and a terminal's Ctrl-C signal every
            # process of the service, and the supervisor passes the signal on as well.
            return
        log.info("stopping", extra={"signal": sig.name})
        if self._stop_bound is not None:
            end_if_not_stopped_within(self._stop_bound)
        self._stopping.set()
