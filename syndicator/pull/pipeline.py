"""One pull of one source, end to end: fetch every entry point from the mirrors the strategy
picks, collect the article links, fetch and extract each article not stored yet, build
candidates and store them; record every mirror's health and the hosts its pages announce.

This is the only place that wires fetch -> validate -> extract -> candidate -> store. A mirror
that fails is recorded in the report and in its health, and never stops the others. Each
article is stored as soon as it is extracted, so the feeds fill while the pull runs; every
request of the pull ends by the pull's deadline (`service.pull_deadline`), so a mirror that
answers slowly or drips its pages is left behind, failed in its health, and the articles the
other mirrors gave are in the feeds when the pull ends. An article page whose mirror has not
answered within its hedge delay is taken from another mirror (hedged fetches, see
`article_copies`): the slow request is cancelled, which is no failure of the mirror.

`SourcePull` is built in layers, each in its own module and each using only those below it:
`mirror_requests` (the pull's state and asking a mirror), `sitemap_reading`, `entry_points`
(feeds, listing pages and sitemaps into article links), `article_storing` (a copy into the
store), `article_selection` (which listed links are fetched) and `article_copies` (each
article from its mirrors); this module runs them in order and adopts announced mirrors.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime

from syndicator.core import identity
from syndicator.core.config import Config
from syndicator.core.errors import ExtractError, FetchError, StoreError
from syndicator.core.models import PullReport
from syndicator.core.source_config import Mirror, source_sections
from syndicator.mirrors.health import HealthBook
from syndicator.mirrors.health import access as access_of
from syndicator.mirrors.links import link_target
from syndicator.pull.adoption import adopt_candidates, adopted_mirrors
from syndicator.pull.article_copies import ArticleFetching
from syndicator.pull.fetch import Fetcher
from syndicator.pull.mirror_requests import Clock, ProgressHook, on_mirror, together, utc_now
from syndicator.pull.responses import Response
from syndicator.store import Store
from syndicator.store.link_records import Listed

log = logging.getLogger("syndicator.pull")


class SourcePull(ArticleFetching):
    """One pull of one source (see the module's docs)."""

    # --- the pull ----------------------------------------------------------------------

    async def run(self) -> PullReport:
        started = asyncio.get_running_loop().time()
        deadline = self.config.service.pull_deadline
        self.until = started + deadline
        # The listings get the first third of the pull (one request_deadline fits in it: the
        # config says so), the articles what is left: a mirror whose listings drip holds the
        # articles of the others back no longer than that.
        self.listings_until = started + deadline / 3
        known = {h.mirror: h for h in await self.mirror_store.health(self.name)}
        self.book = HealthBook(self.name, known, self.book.policy, self.clock, self.book.rng)
        now = self.clock()
        # With adoption turned off, the mirrors adopted while it was on are not pulled (nor
        # retired): the config's mirrors are all an operator who turned it off expects.
        adopted = (
            await adopted_mirrors(self.name, self.mirror_store, known, self.origins, now)
            if self.source.adopt_discovered
            else []
        )
        for found in adopted:
            self.mirrors.append(Mirror(url=found.origin, path_prefix=found.path_prefix))
            self.origins.add(found.origin)
        target_before = self._link_target()
        self.validators = await self.remembered.validators(
            [
                on_mirror(m, p.path)
                for m in self.mirrors
                for e in self.source.sections.values()
                for p in e.points()
            ]
        )
        try:
            await self._fetch_and_store()
        except BaseException:
            # Cut short (stopped by SIGTERM's drain or a lost lease, a full disk, a store
            # error): what it stored holds to the retention rules all the same. Left to the
            # next whole pull or retention run, a section kept more than `items` meanwhile.
            await self._expire_arrivals(cut_short=True)
            raise
        await self._expire_arrivals()
        # The articles this pull found get their archive numbers together, oldest first:
        # stored one by one in listing order (newest first), they would fill the archive
        # pages backwards. So do those a pull of this source stopped midway (SIGTERM's drain,
        # a worker that lost its lease or was killed) stored without numbers: this pull
        # finds them stored, nothing new, and unnumbered they would be on no archive page.
        try:
            leftovers = await self.store.unnumbered_sections(source_sections(self.source))
            if self.report.new or self.report.changed_sections or leftovers:
                self.report.changed_sections |= leftovers
                await self.store.number_arrivals(self.report.changed_sections, self.clock())
        except StoreError as exc:
            self.report.fail(str(exc))
        now = self.clock()
        await self.mirror_store.save_health(self.book.updated(), now)
        await self.mirror_store.save_history(self.book.history(), now)
        target_after = self._link_target()
        if target_after != target_before:
            # Every feed that can hold this source's articles now links another mirror: the
            # documents change, so their Last-Modified moves too.
            sections = source_sections(self.source)
            await self.mirror_store.bump_sections(sections, now, changed_at=True)
            self.report.changed_sections |= set(sections)
        return self.report

    async def _fetch_and_store(self) -> None:
        """The entry points, then the articles they list, then those of mirrors adopted now."""
        waiting = self._all_waiting()
        if waiting:
            # Nothing is asked: say so and until when, rather than "no mirror answered".
            self.report.fail(waiting)
            refs = []
        else:
            # The progress bar's total: what is about to be fetched, announced before it is.
            for mirror in self.mirrors if self.source.strategy == "all" else self.mirrors[:1]:
                for entry in self.source.sections.values():
                    for point in entry.points():
                        self.progress("planned", on_mirror(mirror, point.path))
            refs = await self._collect_links()
        self.listed_paths.update(self._site_path(ref.url) for ref in refs)
        refs = await self._not_stored(refs)
        for ref in refs:
            self.progress("planned", ref.url)
        await self._articles(refs)
        now = self.clock()
        if self.announced:
            await self.mirror_store.note_candidates(self.name, self.announced, now)
            self.report.discovered = set(self.announced)
        in_time = self.until is not None and asyncio.get_running_loop().time() < self.until
        if self.source.adopt_discovered and in_time:
            await self._adopt(now)

    async def _adopt(self, now: datetime) -> None:
        """Probe the candidates the pages announced; an adopted one is a mirror from now on,
        and pulled at once: the articles only it has are in the feeds by the end of this
        pull, not the next."""
        adopted = await adopt_candidates(
            self.name,
            self.source,
            self._candidate_get,
            self.mirror_store,
            self.origins,
            now,
        )
        if not adopted:
            return
        self.report.adopted.extend(a.origin for a in adopted)
        first = len(self.mirrors)
        for found in adopted:
            self.mirrors.append(Mirror(url=found.origin, path_prefix=found.path_prefix))
            self.origins.add(found.origin)
        # The listing third of the pull is over: the new mirror's listings get what is left.
        self.listings_until = self.until
        jobs = [(s, p) for s, e in self.source.sections.items() for p in e.points()]
        found_links: list[tuple[int, str, list[Listed]]] = []
        for results in await together(
            *(self._mirror_entries(i, jobs) for i in range(first, len(self.mirrors)))
        ):
            found_links.extend(results)
        self._judge_missing()
        refs = self._refs(found_links)
        self.listed_paths.update(self._site_path(ref.url) for ref in refs)
        refs = await self._not_stored(refs)
        for ref in refs:
            self.progress("planned", ref.url)
        await self._articles(refs)

    async def _candidate_get(self, url: str, expect: str) -> Response | None:
        """One page of a candidate mirror, asked as the pull asks its mirrors (deadline,
        address policy, route, robots.txt) and validated; its health is kept like a
        mirror's, except that a 4xx (a path it does not serve) is no fault of it. A refused
        address raises its `blocked-address` FetchError; other failures give None."""
        origin = identity.origin(url)
        # One that failed its first probes is asked again once its backoff has passed, as
        # a down mirror is: a host down the day it was announced was never asked again.
        if not self.book.usable(origin) and not self.book.claim_probe(origin):
            return None
        try:
            response = await self.fetcher.get(
                url,
                allowed_origins={origin},
                robots=self.source.robots,
                addresses=self.addresses,
                # An announced mirror goes the source's way: a source read through a proxy
                # never reaches a candidate directly.
                via=self.source.route_of(Mirror(url=origin)),
                until=self.until,
            )
        except FetchError as exc:
            if exc.kind == "blocked-address":
                raise
            if exc.kind != "skipped":
                self.report.fetched += 1
            if exc.kind != "skipped" and not exc.kind.startswith("http-4"):
                self.book.fail(origin, exc.kind, f"{exc.url}: {exc.message}")
            log.info("%s: candidate %s: %s", self.name, url, exc)
            return None
        self.report.fetched += 1
        try:
            await self._validate(response, expect)
        except ExtractError as exc:
            self.book.fail(origin, exc.kind, f"{exc.url}: {exc.message}")
            log.info("%s: candidate %s: %s", self.name, url, exc)
            return None
        self.book.ok(origin, response.elapsed)
        return response

    def _all_waiting(self) -> str | None:
        """'every mirror is in backoff until T (...)' when no mirror may be asked now."""
        now = self.clock()
        healths = [self.book.get(m.origin) for m in self.mirrors]
        if not healths or any(access_of(h, now) != "wait" for h in healths):
            return None
        until = min(h.retry_at for h in healths if h.retry_at is not None)
        each = ", ".join(
            f"{h.mirror} {h.state} until {h.retry_at:%H:%M:%S}" for h in healths if h.retry_at
        )
        return (
            f"nothing fetched: every mirror is in backoff until {until:%Y-%m-%d %H:%M:%S} UTC "
            f"({each})"
        )

    def _link_target(self) -> str:
        healths = [h for m in self.mirrors if (h := self.book.get(m.origin)).tried]
        return link_target(self.source, healths)


async def pull_source(
    name: str,
    config: Config,
    fetcher: Fetcher,
    store: Store,
    progress: ProgressHook | None = None,
    *,
    clock: Clock = utc_now,
    rng: random.Random | None = None,
) -> PullReport:
    """Pull one source from its mirrors once and store what is new."""
    pull = SourcePull(
        name, config.sources[name], config, fetcher, store, progress, clock=clock, rng=rng
    )
    return await pull.run()
