"""Periodic pulls: one APScheduler job per source at its own interval, with jitter, never two
runs of one source at once; after each pull the feed book forgets the sections that changed.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .config import Config
from .feeds import FeedBook
from .fetch import Fetcher
from .pipeline import PullReport, pull_source
from .store import Store

log = logging.getLogger("syndicator.scheduler")


class PullScheduler:
    def __init__(self, config: Config, fetcher: Fetcher, store: Store, book: FeedBook) -> None:
        self.config = config
        self.fetcher = fetcher
        self.store = store
        self.book = book
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.last_reports: dict[str, PullReport] = {}

    async def pull(self, name: str) -> PullReport:
        report = await pull_source(name, self.config, self.fetcher, self.store)
        self.last_reports[name] = report
        if report.changed_sections:
            self.book.invalidate(report.changed_sections)
        log.info(
            "pulled %s: %d new, %d updated, %d duplicate, %d failed",
            name,
            report.new,
            report.updated,
            report.duplicate,
            report.failed,
        )
        return report

    def start(self) -> None:
        jitter = self.config.service.jitter
        now = datetime.now(UTC)
        for name, source in self.config.sources.items():
            # First pulls are spread a little so a restart does not hit every mirror at once.
            first = now + timedelta(seconds=random.uniform(0, min(jitter, source.every) / 10))
            self.scheduler.add_job(
                self.pull,
                IntervalTrigger(seconds=source.every, jitter=min(jitter, source.every)),
                args=[name],
                id=f"pull:{name}",
                name=f"pull {name}",
                max_instances=1,
                coalesce=True,
                next_run_time=first,
                misfire_grace_time=int(source.every),
            )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
