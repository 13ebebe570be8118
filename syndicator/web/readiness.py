"""Readiness: whether a serving process should get traffic, as `/readyz` answers it, and the
status behind the section and source gauges of `/metrics`. Every serving process (of `serve`,
or a web node of a cluster) keeps one `ReadyState` and answers alike.

Ready when the store answers at the schema revision this code knows (not one a newer
syndicator's `db upgrade` moved it to), the config is loaded and every configured section that
a source lists has been covered by a pull that reached an entry point (by this process or any
other on the store).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.core.source_config import source_sections
from syndicator.store import Store
from syndicator.store.pulls import pulled_sections
from syndicator.store.stats import ping
from syndicator.store.status import collect
from syndicator.web.metrics import Metrics

log = logging.getLogger("syndicator.readiness")

# How long the store may take to answer the readiness query.
STORE_TIMEOUT = 5.0


async def readiness_checks(
    config: Config, store: Store | None, *, stopping: bool = False, refused: list[str] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Ready or not, and the checks behind it; `refused` lists the problems of a config a
    reload refused (the running one is still fine), `stopping` says the process drains."""
    if stopping:
        return False, {"service": "stopping"}
    checks: dict[str, Any] = {}
    ready = True
    try:
        if store is None:
            raise StoreError("store not open")
        await asyncio.wait_for(ping(store), timeout=STORE_TIMEOUT)
        pulled = await pulled_sections(store)
        # A newer syndicator upgraded the store's schema: this node pulls no more (the feeds
        # it has are still served), and is taken out of the load balancer until upgraded.
        moved = await store.schema_moved(quiet=True)
        checks["store"] = moved or "ok"
        ready = moved is None
    except (StoreError, TimeoutError) as exc:
        checks["store"] = str(exc) or f"no answer within {STORE_TIMEOUT:.0f}s"
        ready, pulled = False, set()
    checks["config"] = "loaded"
    if refused:
        checks["config_reload"] = {"refused": refused}
    # A section no source lists is never pulled: waited for, it kept the service out of its
    # load balancer for good. `check` and `serve` warn of it; here it is named, not awaited.
    listed = {s for source in config.sources.values() for s in source_sections(source)}
    missing = [s for s in config.sections if s not in pulled and s in listed]
    unlisted = [s for s in config.sections if s not in listed]
    if missing:
        ready = False
        checks["sections"] = {"not pulled yet": missing}
    else:
        checks["sections"] = "all pulled"
    if unlisted:
        checks["listed by no source"] = unlisted
    return ready, checks


class ReadyState:
    """What `/readyz` and the gauges of one serving process answer from: its store, whether it
    drains (`stopping`) and the problems of a config a reload refused (`refused`)."""

    def __init__(self, metrics: Metrics, store: Store | None = None) -> None:
        self.metrics = metrics
        self.store = store
        self.stopping = False
        self.refused: list[str] = []
        # The last look at the store (a poll of its change counters, a status read) failed.
        self.store_failing = False

    async def check(self, config: Config) -> tuple[bool, dict[str, Any]]:
        """Ready or not, and the checks behind it, as `/readyz` answers."""
        ready, checks = await readiness_checks(
            config, self.store, stopping=self.stopping, refused=self.refused
        )
        self.metrics.set_ready(ready)
        return ready, checks

    def store_unanswered(self) -> None:
        """The store did not answer a look at it: `/metrics` says not ready, as `/readyz`
        would, until a look at the status succeeds again (`refresh`). A scraper of
        `/metrics` alone was told "ready" for as long as the store did not answer."""
        self.store_failing = True
        self.metrics.set_ready(False)

    async def refresh(self, config: Config) -> None:
        """Read the status behind the gauges again (a store that does not answer is logged,
        the old status kept, and the process no longer counted ready)."""
        if self.store is None:
            return
        try:
            status = await collect(config, self.store)
            moved = await self.store.schema_moved(quiet=True)
        except StoreError as exc:
            log.warning("status not refreshed", extra={"error": str(exc)})
            self.store_unanswered()
            return
        self.store_failing = False
        self.metrics.set_status(status)
        self.metrics.set_ready(not self.stopping and not status.unpulled_sections and not moved)
