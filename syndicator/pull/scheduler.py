"""Periodic pulls: one APScheduler job per source at its own interval, with jitter, never two
runs of one source at once (a pull that overruns its interval is warned of, the runs due
meanwhile are skipped and the next pull is the schedule's next run after it ended); after
each pull the feed book forgets the sections that changed.

First pulls resume from the store: a source pulled recently waits for the rest of its
interval; overdue ones start at random moments spread over a tenth of the jitter window per
overdue source, up to the whole window, so one source starts at once and a restart with many
does not hit every mirror together. A due pull first looks at the store's schema revision:
once a newer syndicator has upgraded it, no pull runs. A new config is applied in place
(`apply`): sources added, removed or re-timed, while the other sources keep their next run; a
source changed while its pull runs is pulled again once that pull ends. `drain` stops
starting pulls and lets running ones finish within a bound, then cancels the rest.

APScheduler keeps its times on the wall clock: when the clock is stepped back (NTP fixing a
clock that ran ahead), every next run is that much further away, and no source was pulled
until the clock caught up (a day stepped back, a day of nothing). The scheduler watches the
wall clock against the monotonic one and moves every next run back by such a step.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syndicator.core.config import Config
from syndicator.core.errors import SyndicatorError
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport
from syndicator.pull.run import PullOutcome, run_pull
from syndicator.store import Store

log = logging.getLogger("syndicator.scheduler")

# How often the wall clock is compared with the monotonic one, and the smallest step back
# acted on (less is drift that NTP slews away).
CLOCK_CHECK = 30.0
CLOCK_STEP = 5.0


@dataclass
class ScheduleChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retimed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retimed or self.changed)


def schedule_changes(old: Config, new: Config) -> ScheduleChanges:
    """The sources `new` adds, removes, retimes (only `every` differs) or changes otherwise."""
    changes = ScheduleChanges(removed=[n for n in old.sources if n not in new.sources])
    for name, source in new.sources.items():
        before = old.sources.get(name)
        if before is None:
            changes.added.append(name)
        elif before == source:
            continue
        elif before.model_copy(update={"every": source.every}) == source:
            changes.retimed.append(name)
        else:
            changes.changed.append(name)
    return changes


def warn_if_overran(config: Config, outcome: PullOutcome) -> None:
    """Warn that a pull took longer than its source's `every` (a source that cannot be
    pulled that often), as the scheduler and a lease worker both do."""
    source = config.sources.get(outcome.source)
    if source is not None and outcome.duration > source.every:
        log.warning(
            "pull overran its interval",
            extra={
                "source": outcome.source,
                "duration_s": round(outcome.duration, 3),
                "every_s": source.every,
            },
        )


class PullScheduler:
    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        store: Store,
        book: FeedBook,
        *,
        observe: Callable[[PullOutcome], None] | None = None,
        after: Callable[[PullOutcome], Awaitable[None]] | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.fetcher = fetcher
        self.store = store
        self.book = book
        self.observe = observe
        self.after = after
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.last_reports: dict[str, PullReport] = {}
        self.last_finished: dict[str, datetime] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        # Sources a new config changed while their pull of the old one ran: pulled again
        # as soon as that pull ends.
        self._outdated: set[str] = set()
        self._accepting = True
        self._wall, self._monotonic = wall, monotonic
        self._clock_at = (wall(), monotonic())
        self._clock_watch: asyncio.Task[None] | None = None

    # --- one pull -------------------------------------------------------------------------

    async def pull(self, name: str) -> PullReport:
        """Pull one source now and wait for it."""
        outcome = await run_pull(name, self.config, self.fetcher, self.store, observe=self.observe)
        # The runs due meanwhile were skipped; the next is the schedule's next one.
        warn_if_overran(self.config, outcome)
        self.last_reports[name] = outcome.report
        self.last_finished[name] = datetime.now(UTC)
        if outcome.report.changed_sections:
            await self.book.refresh(outcome.report.changed_sections)
        if self.after is not None:
            await self.after(outcome)
        return outcome.report

    @property
    def running(self) -> list[str]:
        return sorted(self._running)

    async def _due(self, name: str) -> None:
        """The job APScheduler runs: start a pull as our own task, unless one is running."""
        if not self._accepting or name not in self.config.sources:
            return
        if name in self._running:
            log.info(
                "pull skipped", extra={"source": name, "reason": "previous pull still running"}
            )
            return
        task = asyncio.create_task(self._guarded(name), name=f"pull {name}")
        self._running[name] = task
        task.add_done_callback(lambda t: self._forget(name, t))

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
        if name in self._outdated:
            self._outdated.discard(name)
            if self._accepting and self.scheduler.running and name in self.config.sources:
                self._add_job(name, datetime.now(UTC))

    async def _guarded(self, name: str) -> None:
        if await self.store.schema_moved():
            # A newer syndicator upgraded the store's schema: this code must not write to
            # it (the store logged why, once). The schedule goes on, so the pulls resume
            # should the store come back to this code's revision.
            return
        try:
            await self.pull(name)
        except SyndicatorError as exc:
            log.warning("pull aborted", extra={"source": name, "error": str(exc)})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pull crashed", extra={"source": name})

    # --- the schedule ---------------------------------------------------------------------

    def _window(self, name: str) -> float:
        return min(self.config.service.jitter, self.config.sources[name].every)

    def _due_at(self, name: str, now: datetime) -> datetime | None:
        """When a source is due from its last pull, or None when it is overdue. A last pull
        after `now` was recorded by a clock since stepped back (one that ran ahead, stepped
        back by NTP while the service was stopped): it counts as pulled now, so the source
        waits one `every` at most, not the step as well (a day ahead, a day of nothing)."""
        last = self.last_finished.get(name)
        if last is not None:
            due = min(last, now) + timedelta(seconds=self.config.sources[name].every)
            if due > now:
                return due
        return None

    def _soon(self, name: str, now: datetime, together: int) -> datetime:
        """A random moment in a window that widens with how many sources start together."""
        spread = self._window(name) * min(1.0, together / 10)
        return now + timedelta(seconds=random.uniform(0, spread))

    def _add_job(self, name: str, first: datetime) -> None:
        source = self.config.sources[name]
        self.scheduler.add_job(
            self._due,
            IntervalTrigger(seconds=source.every, jitter=self._window(name)),
            args=[name],
            id=f"pull:{name}",
            name=f"pull {name}",
            max_instances=1,
            coalesce=True,
            next_run_time=first,
            misfire_grace_time=int(source.every),
            replace_existing=True,
        )

    def next_runs(self) -> dict[str, datetime]:
        """When each source is pulled next."""
        out = {}
        for job in self.scheduler.get_jobs():
            if job.next_run_time is not None:
                out[job.args[0]] = job.next_run_time
        return out

    def start(self, last_finished: dict[str, datetime] | None = None) -> None:
        """Schedule every source, resuming from when each was last pulled."""
        self.last_finished.update(last_finished or {})
        now = datetime.now(UTC)
        due = {name: self._due_at(name, now) for name in self.config.sources}
        overdue = sum(1 for at in due.values() if at is None)
        for name, at in due.items():
            self._add_job(name, at or self._soon(name, now, overdue))
        self.scheduler.start()
        self._clock_at = (self._wall(), self._monotonic())
        self._clock_watch = asyncio.get_running_loop().create_task(
            self._watch_clock(), name="scheduler clock watch"
        )

    async def _watch_clock(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_CHECK)
            try:
                self.check_clock()
            except Exception:
                # One failed look must not end the watch (nor the service): logged, and
                # the next look compares again.
                log.exception("wall clock check failed")

    def check_clock(self) -> float:
        """Move every next run (and every last pull) back by how far the wall clock was
        stepped back since the last look, if that is CLOCK_STEP or more; returns the step
        (seconds, negative when the clock went back), 0 when none is acted on. A step
        forward needs nothing: APScheduler runs what became due at once."""
        wall, monotonic = self._wall(), self._monotonic()
        step = (wall - self._clock_at[0]) - (monotonic - self._clock_at[1])
        self._clock_at = (wall, monotonic)
        if step > -CLOCK_STEP:
            return 0.0
        shift = timedelta(seconds=step)
        log.warning(
            "wall clock stepped back: next pulls moved with it",
            extra={"seconds": round(-step, 1)},
        )
        for name, last in list(self.last_finished.items()):
            self.last_finished[name] = last + shift
        if self.scheduler.running:
            for job in self.scheduler.get_jobs():
                if job.next_run_time is not None:
                    job.modify(next_run_time=job.next_run_time + shift)
        return step

    def apply(self, config: Config) -> ScheduleChanges:
        """Switch to a new config; unchanged sources keep their next run."""
        old, self.config = self.config, config
        changes = schedule_changes(old, config)
        now = datetime.now(UTC)
        for name in changes.removed:
            if self.scheduler.get_job(f"pull:{name}") is not None:
                self.scheduler.remove_job(f"pull:{name}")
        # New sources, and new mirrors or sections: pull soon so they show up in the feeds.
        soon = [*changes.added, *changes.changed]
        for name in changes.retimed:
            if (at := self._due_at(name, now)) is None:
                soon.append(name)
            elif self.scheduler.running:
                self._add_job(name, at)
        if self.scheduler.running:
            for name in soon:
                self._add_job(name, self._soon(name, now, len(soon)))
        # A pull under way runs the old config; the pull asked for here would be skipped
        # as "still running", leaving the change to the pull an interval later.
        self._outdated.update(name for name in soon if name in self._running)
        return changes

    def stop(self) -> None:
        """Start no more pulls; running ones go on (see `drain`)."""
        self._accepting = False
        if self._clock_watch is not None:
            self._clock_watch.cancel()
            self._clock_watch = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def drain(self, timeout: float) -> list[str]:
        """Stop, wait up to `timeout` seconds for running pulls, cancel the rest; returns the
        sources whose pull was cancelled."""
        self.stop()
        tasks = dict(self._running)
        if not tasks:
            return []
        _, pending = await asyncio.wait(tasks.values(), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return sorted(name for name, task in tasks.items() if task in pending)
