"""Prometheus metrics of one running service, in its own registry, served at `/metrics`.

Fetches by source, mirror and result and their latency; pulls and articles (new, updated,
duplicate) by source; per-section item count, newest-item age and staleness; feed renders
and their time; HTTP requests by route and status; config reloads. The fetcher and the feed
book report here as observers (`on_fetch`, `on_render`, see `core.events`) and the web app
through the middleware, so the pipeline, the feed cache and the routes stay free of metric
code and never import this module.

When `syndicate serve` pulls in a process of its own, the pulling process owns the fetch,
pull and article counters: it writes them (`write_pull_snapshot`) to a file in the runtime
folder the supervisor made, replaced whole each time, after every pull and at most once a
second while fetches go on; a serving process told of that file (`pulls_reported_in`) answers
`/metrics` with those counters in place of its own, so a scrape shows what it showed when one
process did both.

When several serving processes share the port (`--workers N`), the kernel hands each scrape
to any of them. Each one's counters (requests, renders, reloads) used to be all a scrape
showed, so a series jumped between the processes' figures at every scrape, and Prometheus
read each fall as a counter reset (rates several times too high). Told of the folder they
share (`share_serving`), each process leaves its serving counters there too, at most a
second behind and whenever it answers a scrape, and answers a scrape with every process's
counters, each series labelled `worker` with the process's number: each series then only
grows, whichever process answers, and `sum without (worker)` gives the service's figure.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from syndicator.core import identity
from syndicator.core.config import ALL_SECTION, Config
from syndicator.core.models import PullReport
from syndicator.store.status import FeedStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST
_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The file in the runtime folder where a pulling process leaves its counters.
PULL_SNAPSHOT = "pull-metrics.prom"
# The files in the runtime folder where each serving process leaves its counters.
SERVE_SNAPSHOT_PREFIX = "serve-metrics-"


class Metrics:
    """Every metric of one service; `exposition()` is the text `/metrics` answers."""

    def __init__(self, config: Config) -> None:
        self.registry = CollectorRegistry()
        # What pulling counts, apart: another process may own it (see the module docstring).
        self.pull_registry = CollectorRegistry()
        r = self.pull_registry
        self.fetches = Counter(
            "syndicator_fetches",
            "Fetches of mirror URLs by source, mirror and result (ok, not-modified or the "
            "failure kind such as connect, tls, timeout, http-500).",
            ["source", "mirror", "result"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "syndicator_fetch_seconds",
            "Time to fetch one URL from a mirror, failures included.",
            ["source", "mirror"],
            buckets=_FETCH_BUCKETS,
            registry=r,
        )
        self.pulls = Counter(
            "syndicator_pulls",
            "Finished pulls by source and result (ok, partial, failed, cancelled).",
            ["source", "result"],
            registry=r,
        )
        self.pull_seconds = Histogram(
            "syndicator_pull_seconds",
            "Duration of a pull of a source.",
            ["source"],
            buckets=_FETCH_BUCKETS,
            registry=r,
        )
        self.articles = Counter(
            "syndicator_articles",
            "Articles seen by source and outcome: new, updated, duplicate.",
            ["source", "outcome"],
            registry=r,
        )
        self.hedges = Counter(
            "syndicator_hedged_articles",
            "Articles that did not wait for a slow mirror: another mirror's copy was asked "
            "(a hedged fetch) or already in, and the slow request was cancelled.",
            ["source"],
            registry=r,
        )
        # Pull counters changed since the last snapshot was written.
        self.pull_counters_moved = False
        self._reported_in: Path | None = None
        self._seen_report: tuple[int, int, int] | None = None
        r = self.registry
        self.renders = Counter(
            "syndicator_feed_renders",
            "Renders of a section's feeds (all formats at once).",
            ["section"],
            registry=r,
        )
        self.render_seconds = Histogram(
            "syndicator_feed_render_seconds",
            "Time to render a section's feeds in every format.",
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "syndicator_http_requests",
            "HTTP requests answered, by route and status (feed requests answered from prepared "
            "bytes on the connection included; requests too malformed to route, such as a bad "
            'request line, header or percent-encoding, under route="malformed").',
            ["route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "syndicator_http_request_seconds",
            "Time to answer an HTTP request through the handlers, by route. Feed requests "
            "answered from prepared bytes on the connection (no handler, no await) are "
            "counted in syndicator_http_requests but not timed here.",
            ["route"],
            buckets=_FAST_BUCKETS,
            registry=r,
        )
        self._per_route: dict[tuple[str, int], tuple[Any, Any]] = {}
        # (route, status) -> requests answered by the hot path (and malformed ones) since the
        # last scrape: a plain dictionary, since a Prometheus counter's lock would cost more
        # than the answer.
        self.hot_requests: dict[tuple[str, int], int] = {}
        self.connections_closed_total = Counter(
            "syndicator_http_connections_closed",
            "Client connections closed by the server's limits, by reason: idle (closed to make "
            "room at max_connections), refused (503 at max_connections, none idle), "
            "header_timeout (request headers not complete within header_timeout).",
            ["reason"],
            registry=r,
        )
        for reason in ("idle", "refused", "header_timeout"):
            self.connections_closed_total.labels(reason)
        # reason -> connections closed since the last scrape, written by the connections.
        self.connections_closed: dict[str, int] = {}
        self.reloads = Counter(
            "syndicator_config_reloads",
            "Config reloads by result: applied, unchanged or refused.",
            ["result"],
            registry=r,
        )
        for result in ("applied", "unchanged", "refused"):
            self.reloads.labels(result)
        # Gauges of this process's view (the same in every serving process): never summed.
        self.state_registry = CollectorRegistry()
        self.state = _StateCollector()
        self.state_registry.register(self.state)
        self._shared: tuple[Path, str] | None = None
        self._last_shared: bytes | None = None
        self._sources_of: dict[str, str] = {}
        self.set_config(config)

    def set_config(self, config: Config) -> None:
        """Learn which origins belong to which source (called again on every reload)."""
        owners: dict[str, set[str]] = {}
        for name, source in config.sources.items():
            for origin in {m.origin for m in source.pull_from()} | {source.canonical}:
                owners.setdefault(origin.lower(), set()).add(name)
        self._sources_of = {o: ",".join(sorted(n)) for o, n in owners.items()}

    def on_fetch(self, url: str, result: str, seconds: float) -> None:
        """A fetch ended (the fetcher's observer)."""
        mirror = identity.origin(url)
        source = self._sources_of.get(mirror, "")
        self.fetches.labels(source, mirror, result).inc()
        self.fetch_seconds.labels(source, mirror).observe(seconds)
        self.pull_counters_moved = True

    def on_pull(self, source: str, result: str, seconds: float, report: PullReport) -> None:
        """A pull of `source` ended with `result` after `seconds`."""
        self.pulls.labels(source, result).inc()
        self.pull_seconds.labels(source).observe(seconds)
        for kind in ("new", "updated", "duplicate"):
            self.articles.labels(source, kind).inc(getattr(report, kind))
        if report.hedged:
            self.hedges.labels(source).inc(report.hedged)
        self.pull_counters_moved = True

    def on_render(self, section: str, seconds: float) -> None:
        """A section's documents were rendered (the feed book's observer)."""
        self.renders.labels(section).inc()
        self.render_seconds.observe(seconds)

    def set_status(self, status: FeedStatus) -> None:
        self.state.status = status

    def set_ready(self, ready: bool) -> None:
        self.state.ready = ready

    def exposition(self) -> bytes:
        served = self._serving_exposition()
        if self._shared is not None:
            # Left for the others first: no scrape they answer later shows less than this one
            # (a folder that cannot be written loses the others' view, not this answer).
            with contextlib.suppress(OSError):
                self._write_shared(served)
            served = self._every_workers_exposition(served)
        return self._pull_exposition() + served + generate_latest(self.state_registry)

    def _serving_exposition(self) -> bytes:
        hot = self.hot_requests  # the hot path holds this very dictionary: empty it in place
        for (route, status), count in hot.items():
            self.requests.labels(route, str(status)).inc(count)
        hot.clear()
        closed = self.connections_closed
        for reason, count in closed.items():
            self.connections_closed_total.labels(reason).inc(count)
        closed.clear()
        return generate_latest(self.registry)

    # --- serving counters of several processes sharing the port ----------------------------

    def share_serving(self, folder: Path, worker: int) -> None:
        """Serve beside other processes on one port: leave this one's serving counters in
        `folder` as serving process number `worker`, and answer with every process's."""
        self._shared = (folder, str(worker))

    def write_serving_snapshot(self) -> None:
        """Leave this process's serving counters for the others, when they moved."""
        if self._shared is not None:
            self._write_shared(self._serving_exposition())

    def _write_shared(self, served: bytes) -> None:
        if self._shared is None or served == self._last_shared:
            return
        folder, worker = self._shared
        _replace(folder / f"{SERVE_SNAPSHOT_PREFIX}{worker}.prom", served)
        self._last_shared = served

    def _every_workers_exposition(self, own: bytes) -> bytes:
        """Every serving process's counters, this one's as they are now, each series with
        the label `worker`; a process that left no file yet (starting) has counted nothing."""
        assert self._shared is not None
        folder, worker = self._shared
        texts = {worker: own}
        for path in sorted(folder.glob(f"{SERVE_SNAPSHOT_PREFIX}*.prom")):
            other = path.name.removeprefix(SERVE_SNAPSHOT_PREFIX).removesuffix(".prom")
            if other != worker:
                with contextlib.suppress(OSError):
                    texts[other] = path.read_bytes()
        families: dict[str, Metric] = {}
        for label, text in sorted(texts.items()):
            for family in text_string_to_metric_families(text.decode()):
                merged = families.get(family.name)
                if merged is None:
                    merged = Metric(family.name, family.documentation, family.type, family.unit)
                    families[family.name] = merged
                merged.samples.extend(
                    Sample(s.name, {**s.labels, "worker": label}, s.value, s.timestamp, s.exemplar)
                    for s in family.samples
                )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(list(families.values())))
        return generate_latest(registry)

    # --- pull counters of another process --------------------------------------------------

    def write_pull_snapshot(self, path: Path) -> None:
        """Replace the file at `path` with the pull counters as they are now (a reader sees
        the old file or the new one, never half of one)."""
        self.pull_counters_moved = False
        _replace(path, generate_latest(self.pull_registry))

    def pulls_reported_in(self, path: Path) -> None:
        """Answer the pull counters from the snapshot at `path`, written by another process."""
        self._reported_in = path

    def pull_report_moved(self) -> bool:
        """Whether the snapshot of the pulling process changed since the last call (a pull
        ended or fetches went on there)."""
        if self._reported_in is None:
            return False
        try:
            st = self._reported_in.stat()
        except OSError:
            return False
        seen, self._seen_report = self._seen_report, (st.st_mtime_ns, st.st_size, st.st_ino)
        return seen != self._seen_report

    def _pull_exposition(self) -> bytes:
        if self._reported_in is not None:
            with contextlib.suppress(OSError):
                return self._reported_in.read_bytes()
            # Not written yet (the pulling process is starting): its counters are at zero,
            # as this process's own are.
        return generate_latest(self.pull_registry)

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            counted = self._per_route.get((route, status))
            if counted is None:
                # labels() takes a lock and builds a key each time: keep the children, one per
                # route and status (both few), off the hot path of every feed request.
                counted = (
                    self.requests.labels(route, str(status)),
                    self.request_seconds.labels(route),
                )
                self._per_route[(route, status)] = counted
            counted[0].inc()
            counted[1].observe(time.monotonic() - started)


def _replace(path: Path, text: bytes) -> None:
    """Replace the file at `path` with `text`: a reader sees the old file or the new one,
    never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class _Families(Collector):
    """Metric families made elsewhere (parsed, then merged), for the exposition writer."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class _StateCollector(Collector):
    """Gauges computed when scraped from the last status snapshot, so ages keep growing
    between pulls."""

    def __init__(self) -> None:
        self.status: FeedStatus | None = None
        self.ready = False

    def collect(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily("syndicator_ready", "1 when /readyz answers 200.")
        ready.add_metric([], 1.0 if self.ready else 0.0)
        yield ready
        status = self.status
        if status is None:
            return
        now = datetime.now(UTC)
        items = GaugeMetricFamily(
            "syndicator_section_items", "Items stored in a section.", labels=["section"]
        )
        age = GaugeMetricFamily(
            "syndicator_section_newest_item_age_seconds",
            "Age of the newest item of a section.",
            labels=["section"],
        )
        stale = GaugeMetricFamily(
            "syndicator_section_stale",
            "1 when the newest item of a section is older than its stale_after.",
            labels=["section"],
        )
        for s in status.sections:
            items.add_metric([s.name], float(s.items))
            seconds = None
            if s.newest_item is not None:
                seconds = max(0.0, (now - s.newest_item).total_seconds())
                age.add_metric([s.name], seconds)
            if s.name == ALL_SECTION:
                continue
            if seconds is not None:
                over = s.stale_after is not None and seconds > s.stale_after
                stale.add_metric([s.name], 1.0 if over else 0.0)
            else:
                stale.add_metric([s.name], 1.0 if s.stale else 0.0)
        yield items
        yield age
        yield stale
        last = GaugeMetricFamily(
            "syndicator_source_last_pull_timestamp_seconds",
            "When the last pull of a source finished (Unix time).",
            labels=["source"],
        )
        good = GaugeMetricFamily(
            "syndicator_source_last_success_timestamp_seconds",
            "When a pull of a source last reached an entry point (Unix time; 0: pulled, "
            "never with success).",
            labels=["source"],
        )
        for src in status.sources:
            if src.last_pull is not None:
                last.add_metric([src.name], src.last_pull.timestamp())
            # A source whose every pull failed is 0, long ago: with no series at all, the
            # documented `time() - ... > N` alert never fired for a source that never worked.
            if src.last_success is not None:
                good.add_metric([src.name], src.last_success.timestamp())
            elif src.last_pull is not None:
                good.add_metric([src.name], 0.0)
        yield last
        yield good
