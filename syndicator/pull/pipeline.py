"""One pull of one source, end to end: fetch every entry point from the mirrors the strategy
picks, collect the article links, fetch and extract each article not stored yet, build
candidates and store them; record every mirror's health and the hosts its pages announce.

This is the only place that wires fetch -> validate -> extract -> candidate -> store. A mirror
that fails is recorded in the report and in its health, and never stops the others. Each
article is stored as soon as it is extracted, so the feeds fill while the pull runs; every
request of the pull ends by the pull's deadline (`service.pull_deadline`), so a mirror that
answers slowly or drips its pages is left behind, failed in its health, and the articles the
other mirrors gave are in the feeds when the pull ends. An article page whose mirror has not
answered within its hedge delay is taken from another mirror (hedged fetches, see `_article`):
the slow request is cancelled, which is no failure of the mirror.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from syndicator.core import identity
from syndicator.core.config import Config, EntryPoint, Mirror, Source
from syndicator.core.errors import ExtractError, FetchError, StoreError, StoreFull, Throttled
from syndicator.core.ingest import believed
from syndicator.core.models import Candidate, FeedEntry, Page, PullReport
from syndicator.extract import (
    clean,
    dates,
    extraction,
    listings,
    safety_net,
    sitemaps,
    source_rules,
    validate,
)
from syndicator.extract.candidate import (
    headline,
    on_site,
    sections_for,
    source_sections,
    to_candidate,
)
from syndicator.mirrors import announced
from syndicator.mirrors.health import HealthBook, Policy
from syndicator.mirrors.health import access as access_of
from syndicator.mirrors.links import link_target
from syndicator.pull.addresses import AddressPolicy
from syndicator.pull.adoption import adopt_candidates
from syndicator.pull.fetch import Fetcher, Response
from syndicator.store import Store
from syndicator.store.engine import MAX_URL, Validators
from syndicator.store.health import ExpiredLink, Listed, MirrorStore, StoredState

log = logging.getLogger("syndicator.pull")

ProgressHook = Callable[[str, str], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")

# The failure kind of a page or listing that made extraction itself fail (a bug of ours on
# markup no test foresaw): that copy is lost, the pull goes on, the mirror is not blamed.
EXTRACTION_BUG = "extraction-bug"


def _extraction_bug(url: str, exc: Exception) -> ExtractError:
    log.error("extraction failed on %s; the pull goes on without it", url, exc_info=exc)
    return ExtractError(url, f"extraction failed: {type(exc).__name__}: {exc}", kind=EXTRACTION_BUG)


async def together(*aws: Coroutine[Any, Any, T]) -> list[T]:
    """Run the coroutines concurrently, results in order. When one fails the others are
    cancelled and waited for before the error goes on: a failed pull leaves no task of its
    own still fetching or writing to the store behind it (with asyncio.gather they would run
    on, unwatched, into the next pull of the same source)."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass(frozen=True)
class ArticleRef:
    """An article link found on one mirror, with the sections that listed it."""

    mirror_index: int
    url: str
    sections: frozenset[str]
    listed_updated: datetime | None = None


def _one_a_mirror(copies: list[ArticleRef]) -> list[ArticleRef]:
    """One copy of an article a mirror: a listing that links it twice under URLs that are
    the one article (a "Most read" box's `?utm_source=mostread`, a `#comments` link) had the
    mirror asked for it twice. The shortest URL is fetched (the one without tracking
    parameters), for every section that listed either, with the newest time a listing gave."""
    by_mirror: dict[int, ArticleRef] = {}
    for ref in copies:
        held = by_mirror.get(ref.mirror_index)
        if held is None:
            by_mirror[ref.mirror_index] = ref
            continue
        kept = min(held, ref, key=lambda r: (len(r.url), r.url))
        stamps = [t for t in (held.listed_updated, ref.listed_updated) if t is not None]
        by_mirror[ref.mirror_index] = dataclasses.replace(
            kept,
            sections=held.sections | ref.sections,
            listed_updated=max(stamps) if stamps else None,
        )
    return list(by_mirror.values())


# The last copy of an article: rounds of retries, the first wait, the longest wait taken.
LAST_COPY_TRIES = 3
LAST_COPY_BACKOFF = 0.5
LAST_COPY_MAX_WAIT = 10.0
# Failures a retry can mend: the mirror was busy, slow or cut off, not wrong.
# A URL asked with no validators.
_UNVALIDATED = Validators(None, None, None)
_PASSING_KINDS = frozenset({"timeout", "connect", "truncated", "http", "deadline"})
# What a sitemap named by an index may answer when the index names one no longer there
# (Yoast's author sitemap when author archives are off, a deleted day): counted against the
# mirror, three in a row opened its breaker, and the sitemaps after them, the articles and
# the next pulls were not asked of it: a section filled from its sitemap got nothing.
_STALE = frozenset({"http-404", "http-410", "not-sitemap"})


def _passing(failure: FetchError | ExtractError) -> bool:
    kind = failure.kind
    return kind in _PASSING_KINDS or kind == "http-429" or kind.startswith("http-5")


@dataclass(eq=False)
class Asked:
    """One copy of an article being fetched: when it was asked, when its request went out
    (None while it waits for a request slot of its mirror) and the task fetching it."""

    ref: ArticleRef
    started: float
    # The requests of its mirror in flight: this one is among them between sent and answered.
    flying: set[Asked]
    sent: float | None = None
    answered: bool = False
    task: asyncio.Future[Page | None] | None = None
    # Whether the mirror's success waits until its copy is judged against the others (see
    # `_agreeing`), and the answer it waits with.
    deferred: bool = False
    success: tuple[int, Response] | None = None

    def on_sent(self) -> None:
        self.sent = asyncio.get_running_loop().time()
        self.flying.add(self)

    def on_answered(self) -> None:
        """The mirror's answer is in (or its request failed); what is left is ours."""
        self.answered = True
        self.flying.discard(self)


def _has_page(asked: Asked) -> bool:
    """The copy is in, and valid."""
    task = asked.task
    return (
        task is not None
        and task.done()
        and not task.cancelled()
        and task.exception() is None
        and task.result() is not None
    )


# Child sitemaps of one sitemap index read in one pull (the newest first).
MAX_CHILD_SITEMAPS = 50
# Levels of sitemaps read below an index: its own, those of the indexes it names, theirs.
MAX_INDEX_DEPTH = 3


def on_mirror(mirror: Mirror, path_and_query: str) -> str:
    """The URL of a site path on this mirror (as the mirror's own links show it, under its
    path prefix if it has one)."""
    return mirror.origin.rstrip("/") + mirror.path_prefix + path_and_query


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


class SourcePull:
    def __init__(
        self,
        name: str,
        source: Source,
        config: Config,
        fetcher: Fetcher,
        store: Store,
        progress: ProgressHook | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.config = config
        self.fetcher = fetcher
        self.store = store
        self.mirror_store = MirrorStore(store)
        self.progress = progress or (lambda _kind, _url: None)
        self.clock = clock
        self.mirrors = source.pull_from()
        self.origins = source.site_origins()
        # The hosts whose rel=canonical names an article's link: those the operator wrote.
        self.trusted = frozenset(source.site_origins() | source.written_origins())
        self.report = PullReport(source=name)
        self.rules = source_rules.ArticleRules.of(source)
        # Feed entries by the article URL on the mirror whose feed listed them.
        self.entries: dict[str, FeedEntry] = {}
        # What a news sitemap says of an article (its publication_date and title), by the same
        # URL: it fills in what the page does not say, as a feed entry does, but carries no
        # text, so it never stands in for the page.
        self.sitemap_entries: dict[str, FeedEntry] = {}
        # Headlines as this pull's freshly parsed listings and feeds give them, by the article
        # URL on the listing mirror: a changed headline is the listing saying "edited".
        self.listed_titles: dict[str, str] = {}
        # The first article each text came for, by (mirror, content hash), with the headline
        # listed for it (see `_ingest`).
        self.texts_seen: dict[tuple[int, str], tuple[str, str]] = {}
        self.book = HealthBook(name, {}, Policy.of(source.breaker), clock, rng or random.Random())
        self.validators: dict[str, Validators] = {}
        self.announced: dict[str, str] = {}
        # Every host written in the config is reached at any address; the others (adopted
        # mirrors, redirect targets) at public ones unless the source allows private ones.
        self.addresses = AddressPolicy.trusting(
            (o for s in config.sources.values() for o in s.written_origins()),
            allow_private=source.allow_private_discovered,
        )
        # Hosts refused by that policy in this pull: each is logged once.
        self.blocked: set[str] = set()
        # The last failure of each URL this pull asked for: whether a retry can help.
        self.failures: dict[str, FetchError | ExtractError] = {}
        # The sitemap entry points (mirror asked, path) that gave a sitemap cut off mid-file.
        self.cut_off: set[tuple[int, str]] = set()
        # Event loop times by which every request of this pull has its answer, and every
        # listing (feed or listing page) its answer; set by run().
        self.until: float | None = None
        self.listings_until: float | None = None
        # One article stored at a time: each ingest reads what is stored to decide new,
        # update or duplicate.
        self._storing = asyncio.Lock()
        # Parsing and extraction (lxml, trafilatura: about half a second for a large page)
        # run off the event loop, one page at a time: the loop goes on answering readers in
        # the meantime, at least every switch interval of the interpreter.
        self._parsing = asyncio.Lock()
        # The article requests sent to each mirror (by index) and not answered yet: how late
        # a copy still waiting for a request slot there is (hedged fetches).
        self._flying: dict[int, set[Asked]] = {}

    # --- mirrors -----------------------------------------------------------------------

    @property
    def prefixes(self) -> dict[str, str]:
        """The path prefix of each mirror that has one, by origin."""
        return {m.origin: m.path_prefix for m in self.mirrors if m.path_prefix}

    def _site_path(self, url: str) -> str:
        """Path and query of `url` as the site has them: out of its mirror's path prefix (also
        when the link names the mirror's host under the other scheme)."""
        prefixes = self.prefixes
        if (site := identity.known_origin(url, prefixes)) is not None:
            url = identity.onto_origin(url, site)
        parts = urlsplit(url)
        return urlunsplit(("", "", clean.site_path(url, prefixes), parts.query, ""))

    def _redirected_away(self, asked: str, url: str) -> str | None:
        """What `url`, where the article `asked` was redirected to, is when it is no article:
        the home page, the page, feed or sitemap of one of the source's sections, or a page
        whose path `article_links` does not match where the article's did (a section's
        listing)."""
        if (page := self._site_page(url)) is not None:
            return page
        path = self._site_path(url)
        matcher = clean.rule(self.source.article_links, "article_links")
        try:
            if matcher.search(urlsplit(asked).path) and not matcher.search(urlsplit(url).path):
                return f"{path}, no article by its path (article_links)"
        except clean.RuleTimeout:
            return None
        return None

    def _site_page(self, url: str) -> str | None:
        """What `url` is when it is one of the site's own pages that are no article: the
        home page, or the page, feed or sitemap of one of the source's sections."""
        path = self._site_path(url)
        if urlsplit(path).path in ("", "/"):
            return "the home page"
        for entry in self.source.sections.values():
            if path in (entry.feed, entry.page, entry.sitemap):
                return f"the entry point {path}"
        return None

    def _entry_moved(self, section: str, url: str) -> str | None:
        """What `url`, where an entry point of `section` was redirected to, is when it lists
        no article of that section for certain: the home page, or an entry point of another
        section."""
        path = self._site_path(url)
        own = self.source.sections[section]
        if path in (own.feed, own.page, own.sitemap):
            return None  # moved to itself (another host or scheme), or a section read from "/"
        if urlsplit(path).path in ("", "/"):
            return "the home page"
        for name, entry in self.source.sections.items():
            if name != section and path in (entry.feed, entry.page, entry.sitemap):
                return f"the entry point {path} of {name}"
        return None

    def _file_root(self, mirror: Mirror) -> Path | None:
        return self.config.resolve_file(mirror.url) if mirror.is_file else None

    def _index_of(self, url: str, default: int) -> int:
        """The mirror that answered for a URL (a redirect counts for its target)."""
        origin = identity.origin(url)
        for i, m in enumerate(self.mirrors):
            if not m.is_file and m.url == origin:
                return i
        return default

    def _ok(self, index: int, response: Response) -> None:
        self.book.ok(self.mirrors[index].origin, response.elapsed)

    def _failed(
        self, index: int, where: str, exc: FetchError | ExtractError, *, blame: bool = True
    ) -> None:
        blocked = exc.kind == "blocked-address"
        if blocked and identity.origin(exc.url) not in self.blocked:
            self.blocked.add(identity.origin(exc.url))
            log.warning(
                "%s: not fetching %s: %s (a host not in the config is reached at public "
                "addresses only; allow_private_discovered: true allows it)",
                self.name,
                exc.url,
                exc.message,
            )
        self.report.fail(f"{where} on {self.mirrors[index].origin}: {exc}", quiet=blocked)
        self.failures[exc.url] = exc
        if not blame or exc.kind in ("rule-timeout", EXTRACTION_BUG, "not-html", "same-text"):
            # The source's own pattern gave up, our code failed, the publisher linked a feed or
            # a sitemap as an article, or gave one text for two articles (every mirror serves
            # it alike), or the caller knows (`blame`): no mirror's fault.
            return
        retry_after = exc.retry_after if isinstance(exc, Throttled) else None
        self.book.fail(
            self.mirrors[index].origin, exc.kind, f"{exc.url}: {exc.message}", retry_after
        )

    async def _get(
        self,
        index: int,
        url: str,
        expect: str,
        *,
        probe: bool = False,
        conditional: bool = True,
        until: float | None = None,
        asked: Asked | None = None,
        named: bool = False,
    ) -> tuple[int, Response] | None:
        """Fetch and validate one URL from a mirror; failures are recorded, None returned.
        `asked` (an article copy) is told when the request goes out and when it is answered.
        `named`: a sitemap that an index this mirror served names, whose 404 or 410 says the
        index is stale, not that the mirror fails (`_STALE`)."""
        mirror = self.mirrors[index]
        origin = mirror.origin
        etag, modified, validated_at = (
            self.validators.get(url, _UNVALIDATED) if conditional else _UNVALIDATED
        )
        sent = True
        try:
            response = await self.fetcher.get(
                url,
                etag=etag,
                last_modified=modified,
                validated_at=validated_at,
                file_root=self._file_root(mirror),
                allowed_origins={m.url for m in self.mirrors if not m.is_file} | self.origins,
                follow_foreign=self.source.follow_foreign_redirects,
                robots=self.source.robots and not mirror.is_file,
                cancel_if=None if probe else (lambda: not self.book.usable(origin)),
                addresses=self.addresses,
                via=self.source.route_of(mirror),
                until=until or self.until,
                on_sent=asked.on_sent if asked is not None else None,
            )
        except FetchError as exc:
            if exc.kind == "skipped":
                self.report.skipped += 1
                sent = False
                return None
            log.debug("fetch", extra={"source": self.name, "url": url, "error": exc.kind})
            self._failed(index, expect, exc, blame=not (named and exc.kind in _STALE))
            return None
        finally:
            if asked is not None:
                asked.on_answered()
            if sent:
                self.report.fetched += 1
                self.progress("fetch", url)
        # `syndicate -v` shows every request (DEBUG: a serving process logs pulls, not fetches).
        log.debug(
            "fetch",
            extra={
                "source": self.name,
                "url": url,
                "status": 304 if response.not_modified else response.status,
                "ms": round(response.elapsed * 1000),
            },
        )
        answered = self._index_of(response.url, index)
        if response.redirects and answered == index and identity.origin(response.url) != origin:
            # A followed redirect to a host that is not a mirror (follow_foreign_redirects):
            # for this pull its links are links to the site.
            self.origins.add(identity.origin(response.url))
        if response.not_modified:
            self.report.not_modified += 1
            return answered, response
        try:
            await self._validate(response, expect)
        except ExtractError as exc:
            self._failed(answered, expect, exc, blame=not (named and exc.kind in _STALE))
            return None
        return answered, response

    async def _validate(self, response: Response, expect: str) -> None:
        """Raise ExtractError when `response` is not the `expect` kind of page (a seizure
        notice, an error page, a body that is not what was asked for)."""
        async with self._parsing:
            await asyncio.to_thread(
                validate.check,
                response.body,
                response.url,
                expect,
                header_charset=response.charset,
                reject_if=self.source.reject_if,
            )

    def _note_announced(self, response: Response) -> None:
        self._note_announced_in(response.body, response.url, response.charset)

    def _note_announced_in(self, body: bytes, url: str, charset: str | None) -> None:
        """Record the hosts `body`, fetched at (or listed for) `url`, announces."""
        # A host of the site named without `www.` or under the other scheme (`presstv.co.uk`
        # for the configured `https://www.presstv.co.uk`) is the site's, as its links are.
        known = self.origins | {m.url for m in self.mirrors}
        for origin in announced.announced_origins(body, url, charset):
            if identity.known_origin(origin, known) is None:
                self.announced.setdefault(origin, url)

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
        for found in await self.mirror_store.discovered(self.name):
            # One adopted before it was known to be a configured host under another name
            # (its bare domain, the other scheme, its own script) is that host: not pulled
            # twice.
            if (
                found.status == "adopted"
                and identity.known_origin(found.origin, self.origins) is None
            ):
                self.mirrors.append(Mirror(url=found.origin, path_prefix=found.path_prefix))
                self.origins.add(found.origin)
        target_before = self._link_target()
        self.validators = await self.store.validators(
            [
                on_mirror(m, p.path)
                for m in self.mirrors
                for e in self.source.sections.values()
                for p in e.points()
            ]
        )
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
        refs = await self._not_stored(refs)
        for ref in refs:
            self.progress("planned", ref.url)
        await self._articles(refs)
        now = self.clock()
        if self.announced:
            await self.mirror_store.note_candidates(self.name, self.announced, now)
            self.report.discovered = set(self.announced)
        if self.source.adopt_discovered and asyncio.get_running_loop().time() < self.until:
            await self._adopt(now)
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
        refs = await self._not_stored(self._refs(found_links))
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
        return link_target(self.source, healths, [m.origin for m in self.mirrors])

    # --- entry points ------------------------------------------------------------------

    async def _collect_links(self) -> list[ArticleRef]:
        jobs = [(s, p) for s, e in self.source.sections.items() for p in e.points()]
        found: list[tuple[int, str, list[Listed]]] = []
        if self.source.strategy == "all":
            per_mirror = await together(
                *(self._mirror_entries(i, jobs) for i in range(len(self.mirrors)))
            )
            for results in per_mirror:
                found.extend(results)
            found = self._filed_right(found)
        else:
            for result in await together(*(self._failover_entry(s, e) for s, e in jobs)):
                if result is not None:
                    found.append(result)
        return self._refs(found)

    def _filed_right(
        self, found: list[tuple[int, str, list[Listed]]]
    ) -> list[tuple[int, str, list[Listed]]]:
        """The listings of `found` less those a mirror serves at a section's URL but that are
        another section's (`misfiled`), each a failure of its mirror (`other-section`). A
        mirror answering 200 with its Iran feed at the North Africa feed's URL had every Iran
        article filed under North Africa, for good, with the mirror `healthy`."""
        keyed = [
            (i, section, {identity.url_key(self._canonical(link)) for link, _ in links})
            for i, section, links in found
        ]
        wrong = misfiled(keyed)
        for n, other in wrong.items():
            i, section, _ = found[n]
            url = on_mirror(self.mirrors[i], self.source.sections[section].points()[0].path)
            self._failed(
                i,
                f"{section} entry point",
                ExtractError(
                    url,
                    f"lists the articles of section {other!r}, none that other mirrors list "
                    f"under {section!r}",
                    kind="other-section",
                ),
            )
        return [listing for n, listing in enumerate(found) if n not in wrong]

    @staticmethod
    def _refs(found: list[tuple[int, str, list[Listed]]]) -> list[ArticleRef]:
        """One ref per article link of each mirror, with every section that listed it."""
        merged: dict[tuple[int, str], tuple[set[str], datetime | None]] = {}
        for i, section, links in found:
            for link, stamp in links:
                sections, _ = merged.setdefault((i, link), (set(), stamp))
                sections.add(section)
        return [ArticleRef(i, url, frozenset(s), stamp) for (i, url), (s, stamp) in merged.items()]

    async def _mirror_entries(
        self, index: int, jobs: list[tuple[str, EntryPoint]]
    ) -> list[tuple[int, str, list[Listed]]]:
        """Every entry point on one mirror; a half-open mirror gets one probe first."""
        origin = self.mirrors[index].origin
        access = self.book.access(origin)
        if access == "wait":
            self.report.skipped += len(jobs)
            log.info(
                "%s: %s is waiting (%s), not asked", self.name, origin, self.book.get(origin).state
            )
            return await self._remembered(index, jobs)
        out: list[tuple[int, str, list[Listed]]] = []
        if access == "probe":
            if not self.book.claim_probe(origin):
                self.report.skipped += len(jobs)
                return []
            section, entry = jobs[0]
            first = await self._entry(index, section, entry, probe=True)
            if first is None:
                self.report.skipped += len(jobs) - 1
                return await self._remembered(index, jobs)
            out.append((first[0], section, first[1]))
            jobs = jobs[1:]
        results = await together(*(self._entry(index, s, e) for s, e in jobs))
        failed = []
        for (section, entry), result in zip(jobs, results, strict=True):
            if result is None:
                # A listing that failed in passing (a 503, a timeout) is asked again: the
                # newest articles may be listed by this mirror alone.
                result = await self._entry_again(index, section, entry)
            if result is not None:
                out.append((result[0], section, result[1]))
            else:
                failed.append((section, entry))
        return out + await self._remembered(index, failed)

    async def _entry_again(
        self, index: int, section: str, entry: EntryPoint
    ) -> tuple[int, list[Listed]] | None:
        """One entry point asked again after a passing failure, at most LAST_COPY_TRIES - 1
        times, with the backoff and the bounds of `_last_copy`, while the breaker still lets
        the mirror be asked (a listing is routine polling: a failing mirror is spared)."""
        origin = self.mirrors[index].origin
        url = on_mirror(self.mirrors[index], entry.path)
        for attempt in range(LAST_COPY_TRIES - 1):
            failure = self.failures.get(url)
            if failure is None or not _passing(failure) or not self.book.usable(origin):
                return None
            if not await self._back_off(attempt, failure):
                return None
            result = await self._entry(index, section, entry)
            if result is not None:
                return result
        return None

    async def _back_off(self, attempt: int, failure: FetchError | ExtractError | None) -> bool:
        """Wait before retry `attempt` (0 first): a backoff with jitter, or the Retry-After
        the mirror asked for; False, without waiting, when that is longer than
        LAST_COPY_MAX_WAIT or would pass the pull's deadline."""
        wait = LAST_COPY_BACKOFF * 2**attempt * (1 + self.book.rng.random() / 2)
        if isinstance(failure, Throttled) and failure.retry_after is not None:
            wait = max(wait, failure.retry_after)
        loop = asyncio.get_running_loop()
        if wait > LAST_COPY_MAX_WAIT or (
            self.until is not None and loop.time() + wait >= self.until
        ):
            return False
        await asyncio.sleep(wait)
        return True

    async def _remembered(
        self, index: int, jobs: list[tuple[str, EntryPoint]]
    ) -> list[tuple[int, str, list[Listed]]]:
        """What the entry points of a mirror not answering now listed when it last did: an
        article seen listed but not stored yet is still sought (from this mirror or any
        other), never dropped because the one mirror that listed it is failing right now.
        Stored articles among them cost nothing: they are known without a fetch."""
        if not jobs:
            return []
        mirror = self.mirrors[index]
        urls = {on_mirror(mirror, e.path): s for s, e in jobs}
        stored = await self.mirror_store.entry_links(list(urls))
        return [(index, urls[url], links) for url, links in stored.items() if links]

    async def _failover_entry(
        self, section: str, entry: EntryPoint
    ) -> tuple[int, str, list[Listed]] | None:
        """The first mirror, in order, that gives valid content for this entry point: one
        that lists articles. A feed with no item (or a sitemap with none in the window) is
        valid, and no fault of its mirror, but the next mirror is asked: a mirror that lost
        its articles serves an empty channel, and stopping there, the section got nothing
        while the next mirror listed every article. When every mirror lists none, that is
        the answer. A sitemap cut off mid-file is taken only when no later mirror gives it
        whole: its entries before the cut were all the section got."""
        empty: tuple[int, str, list[Listed]] | None = None
        partial: tuple[int, str, list[Listed]] | None = None
        for index, mirror in enumerate(self.mirrors):
            access = self.book.access(mirror.origin)
            if access == "wait" or (access == "probe" and not self.book.claim_probe(mirror.origin)):
                continue
            result = await self._entry(index, section, entry, probe=access == "probe")
            if result is not None and result[1]:
                if not {(index, entry.path), (result[0], entry.path)} & self.cut_off:
                    return result[0], section, result[1]
                partial = partial or (result[0], section, result[1])
            elif result is not None and empty is None:
                empty = result[0], section, result[1]
        if partial is not None or empty is not None:
            return partial or empty
        self.report.fail(f"{section}: no mirror gave its entry point")
        return None

    async def _entry(
        self, index: int, section: str, entry: EntryPoint, *, probe: bool = False
    ) -> tuple[int, list[Listed]] | None:
        """One entry point on one mirror -> (answering mirror, links on that mirror)."""
        if entry.kind == "sitemap":
            return await self._sitemap_entry(index, section, entry, probe=probe)
        url = on_mirror(self.mirrors[index], entry.path)
        got = await self._get(index, url, entry.kind, probe=probe, until=self.listings_until)
        if got is not None and got[1].not_modified:
            stored = (await self.mirror_store.entry_links([url])).get(url)
            if stored is not None:
                self._ok(got[0], got[1])
                self.report.entry_points_ok += 1
                return got[0], stored
            # Validators without the links they went with: ask again, unconditionally.
            got = await self._get(
                index, url, entry.kind, probe=probe, conditional=False, until=self.listings_until
            )
        if got is None:
            return None
        answered, response = got
        if response.redirects and (away := self._entry_moved(section, response.url)):
            # A mirror that dropped a section sends its entry point to the home page (or
            # another section's): the links there are other sections' articles, and were
            # filed under this one for good.
            self._failed(
                answered,
                f"{section} entry point",
                ExtractError(
                    response.url, f"redirected from the entry point to {away}", kind="redirected"
                ),
            )
            return None
        self.report.parsed += 1
        try:
            async with self._parsing:
                links = await asyncio.to_thread(self._parse_entry, answered, entry, response)
        except ExtractError as exc:
            self._failed(answered, f"{section} entry point", exc)
            return None
        except Exception as exc:
            self._failed(answered, f"{section} entry point", _extraction_bug(response.url, exc))
            return None
        self._ok(answered, response)
        self.report.entry_points_ok += 1
        now = self.clock()
        await self.mirror_store.save_entry_links(url, links, now)
        if response.etag or response.last_modified:
            await self.store.save_validators(
                url, response.etag, response.last_modified, now, final_url=response.url
            )
        return answered, links

    def _parse_entry(self, index: int, entry: EntryPoint, response: Response) -> list[Listed]:
        mirror = self.mirrors[index]
        if entry.kind == "feed":
            entries = listings.parse_feed(response.body, response.url, response.charset)
            if kind := validate.feed_notice(entries):
                raise validate.feed_rejected(response.url, kind)
            entries = self._articles_of(entries)
            zone = self.source.zone()
            listed: list[Listed] = [
                (e.link, dates.placed(e.updated or e.published, zone)) for e in entries
            ]
            for e in entries:
                self.entries[on_mirror(mirror, self._site_path(e.link))] = e
                if e.title:
                    self.listed_titles[on_mirror(mirror, self._site_path(e.link))] = e.title
        else:
            self._note_announced(response)
            found = listings.listing_entries(
                response.body,
                response.url,
                self.origins | {mirror.origin},
                self.source.article_links,
                response.charset,
            )
            links = list(found)
            for link, text in found.items():
                if text:
                    self.listed_titles[on_mirror(mirror, self._site_path(link))] = text
            if not links:
                raise ExtractError(response.url, "no article links on the page", kind="no-links")
            listed = [(link, None) for link in links]
        return self._own_links(index, listed, response.url, self.source.max_links, "max_links")

    def _articles_of(self, entries: list[FeedEntry]) -> list[FeedEntry]:
        """A feed's entries less those linking the site's home page, a section's entry
        point (a live stream, a promotion, a seized domain's notice among the site's items)
        or an index page of the feed's other entries (`validate.index_links`): fetched as
        articles, the home page was published as an item titled with the site's name, and
        a section page as one titled with the section's."""
        indexes = validate.index_links(
            [e.link for e in entries], clean.rule(self.source.article_links, "article_links")
        )
        kept = []
        for entry in entries:
            page = self._site_page(entry.link)
            if page is None and (under := indexes.get(entry.link)) is not None:
                page = f"an index page (of {under})"
            if page is not None:
                log.info("%s: skipping a feed entry linking %s: %s", self.name, page, entry.link)
            else:
                kept.append(entry)
        return kept

    def _own_links(
        self, index: int, listed: list[Listed], listed_at: str, limit: int, setting: str
    ) -> list[Listed]:
        """Links moved onto the mirror that listed them (same paths, other domains, either
        scheme: see `identity.known_origin`), links to other sites dropped, at most `limit`
        of them."""
        mirror = self.mirrors[index]
        sites = self.origins | {mirror.origin}
        own: list[Listed] = []
        for link, stamp in listed:
            if len(link) > MAX_URL:
                log.info("%s: skipping a link longer than %d characters", self.name, MAX_URL)
            elif identity.known_origin(link, sites) is not None:
                own.append((on_mirror(mirror, self._site_path(link)), stamp))
            else:
                log.info("%s: skipping link to another site: %s", self.name, link)
        if len(own) > limit:
            log.warning(
                "%s: %s lists %d article links: taking the first %d (%s)",
                self.name,
                listed_at,
                len(own),
                limit,
                setting,
            )
            own = own[:limit]
        return own

    # --- sitemaps ----------------------------------------------------------------------

    async def _sitemap_entry(
        self, index: int, section: str, entry: EntryPoint, *, probe: bool = False
    ) -> tuple[int, list[Listed]] | None:
        """A sitemap entry point on one mirror: a urlset, or an index whose child sitemaps
        dated within the backfill window are read in turn (each with conditional GET)."""
        url = on_mirror(self.mirrors[index], entry.path)
        since = self.clock() - timedelta(seconds=entry.backfill) if entry.backfill else None
        # An index is small and names the sitemaps that change: it is read whole every time
        # (its validators are not kept), while the sitemaps it names are asked conditionally.
        top = await self._sitemap_document(index, section, url, since, entry, probe=probe)
        if top is None:
            return None
        answered, found, children = top
        if children:
            listed: list[Listed] = []
            asked = {url}
            budget = MAX_CHILD_SITEMAPS
            # An index may name other indexes (a site's index of yearly indexes): their
            # sitemaps are read too, within the same budget, each sitemap once. Their
            # articles were dropped without a word.
            for _depth in range(MAX_INDEX_DEPTH):
                wanted = self._child_sitemaps(answered, url, children, since, asked)[:budget]
                if not wanted:
                    break
                asked.update(wanted)
                budget -= len(wanted)
                self.validators.update(await self.store.validators(wanted))
                children = []
                for child_url in wanted:
                    got = await self._sitemap_document(
                        answered, section, child_url, since, entry, named=True
                    )
                    if got is not None:
                        listed.extend(got[1])
                        children.extend(got[2])
                if not children or budget <= 0:
                    break
            found = self._own_links(
                answered, listed, url, entry.sitemap_max_links, "sitemap_max_links"
            )
        self.report.entry_points_ok += 1
        return answered, found

    def _child_sitemaps(
        self,
        answered: int,
        url: str,
        children: list[sitemaps.SitemapUrl],
        since: datetime | None,
        asked: set[str],
    ) -> list[str]:
        """The sitemaps an index at `url` names to read, on the mirror that answered, the
        newest first (WordPress core's undated pages highest first), none already asked. An
        index names its sitemaps on the site's own domains (often the canonical one: a
        mirror serves the file as it was copied); each is asked of the mirror that answered,
        like an article. A sitemap on another host is not the site's, and is never asked."""
        mirror = self.mirrors[answered]
        sites = {*self.origins, mirror.origin}
        own = [child for child in children if identity.known_origin(child.loc, sites)]
        if len(own) < len(children):
            log.warning(
                "%s: skipping %d sitemaps on hosts not the source's in %s (add the host "
                "to the source's mirrors if it is the site's)",
                self.name,
                len(children) - len(own),
                url,
            )
        wanted = [
            on_mirror(mirror, self._site_path(child.loc))
            for child in sitemaps.recent(sitemaps.newest_pages_first(own), since, self.clock())
        ]
        return [u for u in dict.fromkeys(wanted) if u not in asked]

    def _read_sitemap(
        self, response: Response, since: datetime | None, now: datetime
    ) -> tuple[sitemaps.Sitemap, list[sitemaps.SitemapUrl]]:
        """The sitemap, and the entries of a urlset within `since` whose path `article_links`
        matches (a sitemap lists every page of the site: only articles count), newest first."""
        document = sitemaps.parse_sitemap(response.body, response.url, response.charset)
        articles = clean.rule(self.source.article_links, "article_links")
        chosen = []
        for item in sitemaps.recent(document.urls, since, now):
            try:
                if articles.search(urlsplit(item.loc).path):
                    chosen.append(item)
            except clean.RuleTimeout:
                log.warning("%s: article_links gave up on %s", self.name, item.loc)
        return document, chosen

    async def _sitemap_document(
        self,
        index: int,
        section: str,
        url: str,
        since: datetime | None,
        entry: EntryPoint,
        *,
        probe: bool = False,
        named: bool = False,
    ) -> tuple[int, list[Listed], list[sitemaps.SitemapUrl]] | None:
        """One sitemap document -> (answering mirror, article links, child sitemaps);
        `named`: one an index names (see `_get`)."""
        got = await self._get(
            index, url, "sitemap", probe=probe, until=self.listings_until, named=named
        )
        if got is not None and got[1].not_modified:
            stored = (await self.mirror_store.entry_links([url])).get(url)
            if stored is not None:
                self._ok(got[0], got[1])
                return got[0], stored, []
            got = await self._get(
                index,
                url,
                "sitemap",
                probe=probe,
                conditional=False,
                until=self.listings_until,
                named=named,
            )
        if got is None:
            return None
        answered, response = got
        self.report.parsed += 1
        now = self.clock()
        # A sitemap may list 50,000 URLs: it is read, and its article links picked, in a
        # thread, as a listing page is, so that the feeds are served meanwhile.
        try:
            document, chosen = await asyncio.to_thread(self._read_sitemap, response, since, now)
        except ExtractError as exc:
            self._failed(
                answered, f"{section} sitemap", exc, blame=not (named and exc.kind in _STALE)
            )
            return None
        self._ok(answered, response)
        if document.truncated:
            # The entries before the cut are read; the operator is told, and the mirror, whose
            # generator may have died mid-file, is not failed for it (with `failover`, the
            # next mirror is asked for it whole).
            self.cut_off.add((index, entry.path))
            read = len(document.urls or document.children)
            cut = (
                f"truncated sitemap: cut off mid-file; its {read:,} entries before the cut are read"
            )
            origin = self.mirrors[answered].origin
            self.report.fail(f"{section} sitemap on {origin}: {response.url}: {cut}")
        if document.skipped:
            log.warning(
                "%s: skipping %d lines of %s that are not http(s) URLs",
                self.name,
                document.skipped,
                response.url,
            )
        if document.is_index:
            return answered, [], document.children
        mirror = self.mirrors[answered]
        for item in chosen:
            at = on_mirror(mirror, self._site_path(item.loc))
            if item.title:
                self.listed_titles[at] = item.title
            if item.published or item.title:
                self.sitemap_entries[at] = FeedEntry(
                    link=item.loc, title=item.title, published=item.published
                )
        zone = self.source.zone()
        listed: list[Listed] = [
            (item.loc, dates.placed(item.lastmod or item.published, zone)) for item in chosen
        ]
        links = self._own_links(
            answered, listed, response.url, entry.sitemap_max_links, "sitemap_max_links"
        )
        await self.mirror_store.save_entry_links(url, links, now)
        # A sitemap cut off is read whole again next time, not answered 304 and kept cut.
        if (response.etag or response.last_modified) and not document.truncated:
            await self.store.save_validators(
                url, response.etag, response.last_modified, now, final_url=response.url
            )
        return answered, links, []

    # --- articles ----------------------------------------------------------------------

    def _canonical(self, url: str) -> str:
        return on_site(url, self.source.canonical, self.origins, self.prefixes)

    async def _not_stored(self, refs: list[ArticleRef]) -> list[ArticleRef]:
        """Drop articles stored before this pull unless their listing says they changed, or
        the canonical origin lists one whose link is not confirmed (it is fetched there once,
        and its link repaired if wrong), or their feed entry carries their text (read again
        at no fetch's cost: an edit of it is seen); a stored article listed in another
        section is added to it without a fetch. Of the others, drop those found expired
        before (`_not_expired`).

        A new headline is no edit when the mirror listing it never gave the article before
        while another mirror lists it under the stored headline: a mirror back with
        yesterday's copy lists the headline from before an edit, and its copy, undated, was
        stored as an update, taking the edit back for good (`_stale_headline`)."""
        urls = sorted({u for r in refs for u in (r.url, self._canonical(r.url))})
        stored = await self.mirror_store.stored_state(urls)
        keep, known, unstored = [], [], []
        retitled: list[tuple[ArticleRef, StoredState]] = []
        steady: set[str] = set()  # articles some mirror lists as stored
        for ref in refs:
            state = stored.get(self._canonical(ref.url)) or stored.get(ref.url)
            if state is None:
                unstored.append(ref)
                continue
            if self._listed_as_changed(ref, state.updated, state.title, state.listed_title):
                retitled.append((ref, state))
                continue
            steady.add(identity.url_key(self._canonical(ref.url)))
            if (not state.link_confirmed and self._on_canonical(ref)) or self._carried(ref):
                keep.append(ref)
            else:
                known.append(ref)
        for ref, state in retitled:
            if self._stale_headline(ref, state, ref.url in stored, steady):
                log.info("%s: %s lists a stored article under another headline", self.name, ref.url)
                known.append(ref)
            else:
                keep.append(ref)
        if known:
            by_url: dict[str, set[str]] = {}
            for ref in known:
                by_url.setdefault(self._canonical(ref.url), set()).update(ref.sections)
            changed = await self.mirror_store.add_sections(by_url, self.clock(), trim=self._trim)
            self.report.changed_sections |= changed
        fetched = {id(r) for r in keep + await self._not_expired(unstored)}
        return [r for r in refs if id(r) in fetched]  # in the listing's order

    async def _not_expired(self, refs: list[ArticleRef]) -> list[ArticleRef]:
        """Drop the links an earlier pull fetched and left unstored as expired (`_expired`)
        while their listing gives no newer updated time than then and the retention rules,
        as they are now, would still remove them. A sitemap of months or a "most read" list
        had every old article it lists fetched from the mirrors and extracted at every pull,
        only to be left out again. Each such article is counted as skipped."""
        rules = self.config.retention
        if not refs or (rules.days is None and rules.items is None):
            return refs
        found = await self.mirror_store.expired_links(
            sorted({self._canonical(r.url) for r in refs})
        )
        if not found:
            return refs
        now = self.clock()
        judged: dict[tuple[datetime, frozenset[str]], bool] = {}
        keep: list[ArticleRef] = []
        seen: set[str] = set()
        for ref in refs:
            url = self._canonical(ref.url)
            link = found.get(url)
            if link is None or (
                ref.listed_updated is not None
                and (link.listed_updated is None or ref.listed_updated > link.listed_updated)
            ):
                keep.append(ref)
                continue
            key = (link.published, ref.sections)
            if key not in judged:
                judged[key] = await self._removes(link.published, None, ref.sections, now)
            if judged[key]:
                seen.add(url)
            else:
                keep.append(ref)
        if seen:
            self.report.skipped += len(seen)
            await self.mirror_store.saw_expired_links(sorted(seen), now)
        return keep

    def _carried(self, ref: ArticleRef) -> bool:
        """The article's text is in its feed entry (`_fetch_article` reads it there, with no
        page to fetch). RSS has no modified time, so a correction in the body of such an
        entry changes neither its date nor its headline: it never reached the feeds."""
        entry = self.entries.get(ref.url)
        return entry is not None and (
            not self.source.full_text or extraction.carries_full_text(entry)
        )

    def _on_canonical(self, ref: ArticleRef) -> bool:
        """The ref is on the canonical origin itself: its page is the canonical one."""
        return self.mirrors[ref.mirror_index].origin == self.source.canonical

    def _stale_headline(
        self, ref: ArticleRef, state: StoredState, gave_before: bool, steady: set[str]
    ) -> bool:
        """Whether a listing's new headline for a stored article is a stale copy's, not an
        edit: no newer time is listed, the mirror never gave the article before (not the
        canonical origin, its URL no alias of it), and another mirror lists the article under
        the stored headline (`steady`)."""
        listed_updated = believed(ref.listed_updated, self.clock())
        return (
            (listed_updated is None or listed_updated <= state.updated)
            and not gave_before
            and not self._on_canonical(ref)
            and identity.url_key(self._canonical(ref.url)) in steady
        )

    def _listed_as_changed(
        self, ref: ArticleRef, updated: datetime, title: str, listed_before: str | None
    ) -> bool:
        """The listing says a stored article changed: a newer updated time, or a headline
        other than the one stored and than the one it gave when the page was last fetched
        (`listed_before`). A time too far ahead to be true (a mirror's clock years fast)
        says nothing: believed, it had every article fetched again on every pull. The
        headline is compared as it would be stored (`headline`): a listing's headline longer
        than the store keeps was never the stored one, and had the article fetched again at
        every pull too; so did a section page whose links hold a teaser after the headline,
        and a feed whose headlines are not the pages' (`_remember_listed`)."""
        listed_updated = believed(ref.listed_updated, self.clock())
        if listed_updated is not None and listed_updated > updated:
            return True
        listed = self.listed_titles.get(ref.url)
        if listed is None:
            return False
        cut = headline(listed)
        if listed_before is not None and cut == listed_before:
            return False
        stored = " ".join(title.split())
        # An article stored before headlines were cut keeps its whole one.
        return stored not in (cut, " ".join(listed.split()))

    async def _fetch_article(
        self,
        ref: ArticleRef,
        *,
        probe: bool = False,
        asked: Asked | None = None,
    ) -> Page | None:
        entry = self.entries.get(ref.url)
        entry = dataclasses.replace(entry, link=ref.url) if entry else None
        if entry and (not self.source.full_text or extraction.carries_full_text(entry)):
            # The feed carries the whole article: no page to fetch. An entry that is a notice
            # (a seized domain's among the site's entries) is refused as its page would be.
            try:
                if kind := validate.feed_notice([entry]):
                    raise validate.entry_rejected(ref.url, kind)
                page = extraction.page_from_entry(entry, self.rules)
                # Its text is the page's, footer included: the addresses it announces are
                # the site's word, as on the page (never fetched for such an article).
                text = entry.content_html or entry.summary or ""
                self._note_announced_in(text.encode(), ref.url, "utf-8")
                return page
            except ExtractError as exc:
                self._failed(ref.mirror_index, "article", exc)
                return None
        if entry is None and (listed := self.sitemap_entries.get(ref.url)):
            entry = dataclasses.replace(listed, link=ref.url)
        got = await self._get(
            ref.mirror_index, ref.url, "article", conditional=False, probe=probe, asked=asked
        )
        if got is None:
            return None
        answered, response = got
        if response.redirects and (away := self._redirected_away(ref.url, response.url)):
            # A mirror that sends an article's URL to its home page or a section (a blocked or
            # removed article): that page is no article, and was stored as one in its place.
            self._failed(
                answered,
                "article",
                ExtractError(
                    response.url, f"redirected from the article to {away}", kind="redirected"
                ),
            )
            return None

        def read() -> Page:
            self._note_announced(response)
            return extraction.extract_article(
                response.body,
                response.url,
                header_charset=response.charset,
                rules=self.rules,
                entry=entry,
            )

        try:
            async with self._parsing:
                page = await asyncio.to_thread(read)
        except ExtractError as exc:
            self._failed(answered, "article", exc)
            return None
        except Exception as exc:
            self._failed(answered, "article", _extraction_bug(response.url, exc))
            return None
        if asked is not None and asked.deferred:
            asked.success = (answered, response)
        else:
            self._ok(answered, response)
        return page

    async def _articles(self, refs: list[ArticleRef]) -> None:
        """Fetch, extract and store every article, each as soon as it is in.

        The copies of one article (the same path on several mirrors) are fetched at once and
        stored in mirror order, so which copy is stored first never depends on which mirror
        answered first; an article no mirror that listed it gave is then asked of the other
        usable mirrors, in order."""
        by_article: dict[str, list[ArticleRef]] = {}
        for ref in refs:
            by_article.setdefault(identity.url_key(self._canonical(ref.url)), []).append(ref)
        await together(*(self._article(_one_a_mirror(copies)) for copies in by_article.values()))

    async def _article(self, copies: list[ArticleRef]) -> None:
        copies = sorted(copies, key=lambda r: r.mirror_index)
        if len(copies) == 1 and self.source.hedge:
            stored, tried = await self._hedged(copies[0])
        else:
            stored, tried = await self._in_order(copies), copies
        if not stored:
            await self._fall_back(tried)

    def _ask(self, ref: ArticleRef, *, defer: bool = False) -> Asked:
        """Start fetching one copy of an article (`defer`: its mirror's success is told by
        the caller, once the copy is judged)."""
        loop = asyncio.get_running_loop()
        asked = Asked(
            ref, loop.time(), self._flying.setdefault(ref.mirror_index, set()), deferred=defer
        )
        task = asked.task = asyncio.ensure_future(self._fetch_article(ref, asked=asked))
        task.add_done_callback(lambda _: asked.on_answered())
        return asked

    def _hedge_at(self, asked: Asked) -> float | None:
        """When a copy has kept the article waiting long enough: its mirror's hedge delay
        (a few times its usual latency) after its request went out. A copy still waiting for
        one of its mirror's request slots waits behind the requests in flight there: it is
        as late as the oldest of them (a mirror that answers in milliseconds frees its slots
        long before; a slow one keeps them). With none in flight it is asked again later.
        None once the mirror has answered: extracting the page is not the mirror's time."""
        if asked.answered:
            return None
        index = asked.ref.mirror_index
        delay = self.book.hedge_delay(self.mirrors[index].origin)
        if asked.sent is not None:
            return asked.sent + delay
        sent = [a.sent for a in self._flying.get(index, ()) if a.sent is not None]
        return (min(sent) if sent else asyncio.get_running_loop().time()) + delay

    async def _give_up(self, asked: Asked) -> None:
        """Cancel a copy another mirror overtook. No failure: its mirror stays as healthy as
        it was, and the time waited counts towards its latency (it is slow, not down)."""
        task = asked.task
        assert task is not None
        # Only a request still waiting for its answer was slow: one that failed, or whose
        # page is being extracted, was not.
        waiting = not task.done() and not asked.answered and asked.sent is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if waiting and asked.sent is not None:
            waited = asyncio.get_running_loop().time() - asked.sent
            self.book.slow(self.mirrors[asked.ref.mirror_index].origin, waited)
            log.debug("%s: gave up %s for a faster copy", self.name, asked.ref.url)

    def _hedge_ref(self, ref: ArticleRef) -> ArticleRef | None:
        """The same article on the next mirror that may be asked now, healthy ones first."""
        others = [
            (self.book.get(m.origin).state != "healthy", i)
            for i, m in enumerate(self.mirrors)
            if i != ref.mirror_index and self.book.usable(m.origin)
        ]
        if not others:
            return None
        index = min(others)[1]
        return ArticleRef(
            index, on_mirror(self.mirrors[index], self._site_path(ref.url)), ref.sections
        )

    async def _hedged(self, ref: ArticleRef) -> tuple[bool, list[ArticleRef]]:
        """One copy of an article, hedged: when its mirror has not answered within its hedge
        delay, the same article is asked of the next usable mirror (once), and the first
        valid page of the two is stored; the other request is cancelled. A failed answer is
        no win: the other one is waited for. Returns whether a page was stored and the
        copies asked."""
        loop = asyncio.get_running_loop()
        racing = [self._ask(ref)]
        hedging = True
        try:
            while True:
                won = next((a for a in racing if _has_page(a)), None)
                if won is not None:
                    for other in racing:
                        if other is not won:
                            await self._give_up(other)
                    page = won.task.result() if won.task is not None else None
                    assert page is not None
                    await self._store(won.ref, page)
                    return True, [a.ref for a in racing]
                pending = [a.task for a in racing if a.task is not None and not a.task.done()]
                if not pending:
                    return False, [a.ref for a in racing]
                timeout = None
                if hedging and (at := self._hedge_at(racing[0])) is not None:
                    if loop.time() < at:
                        timeout = at - loop.time()
                    else:
                        hedging = False
                        alt = self._hedge_ref(ref)
                        if alt is not None:
                            self.progress("planned", alt.url)
                            self.report.hedged += 1
                            racing.append(self._ask(alt))
                        continue
                await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            tasks = [a.task for a in racing if a.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _in_order(self, copies: list[ArticleRef]) -> bool:
        """Every copy fetched at once and stored in mirror order, so which copy is stored
        first never depends on which mirror answered first. With hedging a copy that keeps
        the later ones waiting past its hedge delay, once a later copy has its page, is given
        up: a slow mirror costs the article its copy, not the pull its time."""
        asked = [self._ask(ref, defer=len(copies) > 1) for ref in copies]
        got: list[tuple[ArticleRef, Page]] = []
        answers: list[tuple[int, Response] | None] = []
        try:
            for n, copy in enumerate(asked):
                if self.source.hedge and not await self._worth_waiting(copy, asked[n + 1 :]):
                    self.report.hedged += 1
                    await self._give_up(copy)
                    continue
                assert copy.task is not None
                page = await copy.task
                if page is not None:
                    got.append((copy.ref, page))
                    answers.append(copy.success)
        finally:
            tasks = [a.task for a in asked if a.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        candidates = [(ref, await self._candidate(ref, page)) for ref, page in got]
        story, kept = (
            await self._agreeing(got, candidates)
            if len(got) > 1
            else (list(range(len(got))), candidates)
        )
        # A copy of the article is its mirror's success, whichever text of it is stored.
        for i in story:
            if (answer := answers[i]) is not None:
                self._ok(*answer)
        for ref, candidate in kept:
            await self._ingest(ref, candidate)
        return bool(kept)

    async def _agreeing(
        self, got: list[tuple[ArticleRef, Page]], candidates: list[tuple[ArticleRef, Candidate]]
    ) -> tuple[list[int], list[tuple[ArticleRef, Candidate]]]:
        """The copies of one article that are the article (their indices), and those to store
        (`_one_text`). When mirrors give different texts for it, the copies fall into groups
        of the same story (`safety_net.same_story`), and the
        group kept is the one that holds a text already stored (the article goes on), else
        the one most mirrors give, else the one whose headline shares a word with the
        listed headline, else the first mirror's. A copy of another group is a mirror
        serving another page at the article's URL (its home page for every path, as a
        single-page app or a blocking mirror does): not stored, a failure of that mirror.
        It was stored as an update, and the next copy, the article again, was a known text:
        the other page stayed in the feeds."""
        groups: list[list[int]] = []
        for i, (_, page) in enumerate(got):
            group = next(
                (
                    g
                    for g in groups
                    if safety_net.same_story(got[g[0]][1].body_text, page.body_text)
                ),
                None,
            )
            if group is None:
                groups.append([i])
            else:
                group.append(i)
        if len(groups) == 1:
            return groups[0], self._one_text(groups[0], candidates)
        known = set()
        for i, (_, candidate) in enumerate(candidates):
            try:
                match = await self.store.match(candidate, self.clock())
            except StoreError:
                match = None  # judged without the store; storing will report it
            if match is not None and match.how == "hash":
                known.add(i)

        def listed(i: int) -> bool:
            ref, page = got[i]
            title = self.listed_titles.get(ref.url) or ""
            words = {w for w in re.findall(r"\w{3,}", title.casefold())}
            return bool(words & set(re.findall(r"\w{3,}", page.title.casefold())))

        def rank(group: list[int]) -> tuple[bool, int, bool, int]:
            return (
                any(i in known for i in group),
                len(group),
                any(listed(i) for i in group),
                -min(got[i][0].mirror_index for i in group),
            )

        best = max(groups, key=rank)
        for i in sorted(set(range(len(got))) - set(best)):
            ref, page = got[i]
            other = got[best[0]][0]
            self._failed(
                self._index_of(page.url, ref.mirror_index),
                "article",
                ExtractError(
                    page.url,
                    f"its text ({page.title[:80]!r}) is another page than the article other "
                    f"copies give ({self.mirrors[other.mirror_index].origin})",
                    kind="odd-copy",
                ),
            )
        return best, self._one_text(best, candidates)

    def _one_text(
        self, group: list[int], candidates: list[tuple[ArticleRef, Candidate]]
    ) -> list[tuple[ArticleRef, Candidate]]:
        """The copies of one story to store, in mirror order: all of them when they give one
        text; else those giving the text of the copy whose page says it is the newest, else
        the canonical origin's (the publisher's own, where an edit shows first), else the
        text most of them give, else the first mirror's. The others are counted as
        duplicates. Stored after it, each was an update: a mirror adding a paragraph of its
        own to every page (a banner, a plea) put it in the feeds, and every article of a pull
        was updated at once."""
        texts = Counter(candidates[i][1].content_hash for i in group)
        if len(texts) == 1:
            return [candidates[i] for i in group]
        now = self.clock()
        dated = {
            i: when for i in group if (when := believed(candidates[i][1].updated, now)) is not None
        }
        if len(set(dated.values())) > 1:
            pick = max(dated, key=lambda i: (dated[i], -i))
        else:
            pick = max(
                group,
                key=lambda i: (
                    self._on_canonical(candidates[i][0]),
                    texts[candidates[i][1].content_hash],
                    -i,
                ),
            )
        text = candidates[pick][1].content_hash
        kept = [candidates[i] for i in group if candidates[i][1].content_hash == text]
        self.report.duplicate += len(group) - len(kept)
        return kept

    async def _worth_waiting(self, copy: Asked, later: list[Asked]) -> bool:
        """Wait for a copy until it is done (True), or until its hedge time has passed while a
        later copy already has its page (False)."""
        loop = asyncio.get_running_loop()
        assert copy.task is not None
        while not copy.task.done():
            now = loop.time()
            at = self._hedge_at(copy)
            ready = any(_has_page(a) for a in later)
            if ready and at is not None and now >= at:
                return False
            others = [] if ready else [a.task for a in later if a.task and not a.task.done()]
            await asyncio.wait(
                [copy.task, *others],
                timeout=at - now if at is not None and now < at else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        return True

    async def _fall_back(self, refs: list[ArticleRef]) -> None:
        """An article that no mirror listing it gave is asked of the other usable mirrors,
        in order; the first copy one gives is stored."""
        tried = {r.mirror_index for r in refs}
        sections = frozenset().union(*(r.sections for r in refs))
        for index, mirror in enumerate(self.mirrors):
            if index in tried or not self.book.usable(mirror.origin):
                continue
            ref = ArticleRef(index, on_mirror(mirror, self._site_path(refs[0].url)), sections)
            self.progress("planned", ref.url)
            page = await self._fetch_article(ref)
            if page is not None:
                await self._store(ref, page)
                return
        await self._last_copy(refs)

    async def _last_copy(self, refs: list[ArticleRef]) -> None:
        """An article no mirror gave on the first try is worth a few more: asked again of
        every mirror whose failure was passing (a 5xx or 429, a timeout, a lost connection,
        a body cut short) or that the breaker kept from being asked, even while the breaker
        keeps routine polling away, at most LAST_COPY_TRIES rounds, each after a backoff
        with jitter or the Retry-After the mirror asked for (up to LAST_COPY_MAX_WAIT), and
        never past the pull's deadline."""
        sections = frozenset().union(*(r.sections for r in refs))
        path = self._site_path(refs[0].url)
        candidates = [
            ArticleRef(index, on_mirror(mirror, path), sections)
            for index, mirror in enumerate(self.mirrors)
        ]
        for attempt in range(LAST_COPY_TRIES):
            # Not asked yet (the breaker kept it away), or failed in passing: worth a try.
            # A mirror that asked for a longer wait than a retry waits is left alone, and
            # keeps no other mirror from its retry.
            worth = [
                (ref, failure)
                for ref in candidates
                if ((failure := self.failures.get(ref.url)) is None or _passing(failure))
                and self._asked_wait(ref, failure) <= LAST_COPY_MAX_WAIT
            ]
            asked = [f for _, f in worth if isinstance(f, Throttled)]
            slowest = max(asked, key=lambda f: f.retry_after or 0.0) if asked else None
            if not worth or not await self._back_off(attempt, slowest):
                return
            for ref, _ in worth:
                self.progress("planned", ref.url)
                page = await self._fetch_article(ref, probe=True)
                if page is not None:
                    log.info("%s: %s fetched on retry %d", self.name, ref.url, attempt + 1)
                    await self._store(ref, page)
                    return

    def _asked_wait(self, ref: ArticleRef, failure: FetchError | ExtractError | None) -> float:
        """Seconds the mirror of `ref` asked to be left alone for (Retry-After), for this
        page or any other; 0 when it asked for none."""
        wait = failure.retry_after if isinstance(failure, Throttled) else None
        health = self.book.get(self.mirrors[ref.mirror_index].origin)
        if health.state != "down" and health.retry_at is not None:
            left = (health.retry_at - self.clock()).total_seconds()
            wait = max(wait or 0.0, left)
        return wait or 0.0

    async def _store(self, ref: ArticleRef, page: Page) -> None:
        await self._ingest(ref, await self._candidate(ref, page))

    async def _candidate(self, ref: ArticleRef, page: Page) -> Candidate:
        """The page's candidate, made in a thread as the page was extracted: sanitising,
        hashing and SimHashing an article of 0.9 MB took 0.4 s, which on the event loop
        held the pull's deadlines and, pulling inline, every reader."""
        async with self._parsing:
            return await asyncio.to_thread(self._candidate_now, ref, page)

    def _candidate_now(self, ref: ArticleRef, page: Page) -> Candidate:
        candidate = self._candidate_of(ref, page)
        key = self._article_key(candidate.canonical_url)
        if key is None:
            return candidate
        return dataclasses.replace(candidate, aliases=candidate.aliases | {key})

    def _article_key(self, url: str) -> str | None:
        """The article's id as one of its URLs (`article_id`): stored with its others, so
        that a page of the source with the same id in another link (a new slug) is the same
        article, found by its URLs. None without the option or an id in the link."""
        pattern = self.source.article_id
        if pattern is None:
            return None
        try:
            found = clean.rule(pattern, "article_id").search(urlsplit(url).path)
        except clean.RuleTimeout as exc:
            log.warning("%s: %s", self.name, exc)
            return None
        if found is None:
            return None
        value = found.group(1) if found.re.groups else found.group(0)
        return f"urn:syndicator:{self.name}:article-id:{value}" if value else None

    def _candidate_of(self, ref: ArticleRef, page: Page) -> Candidate:
        return to_candidate(
            page,
            source=self.name,
            canonical_origin=self.source.canonical,
            site_origins=self.origins,
            sections=sections_for(page, ref.sections, self.source.section_rules),
            default_language=self.source.language,
            # The URL the listing gave, when it redirected to the page (a short link, an old
            # slug): kept as one of the article's URLs, so the next pull knows it is stored.
            extra_aliases=frozenset({ref.url, self._canonical(ref.url)}),
            # The published link: the page's rel=canonical on a host of the source, else its
            # URL out of its mirror's path prefix, on the canonical origin.
            path_prefixes=self.prefixes,
            trusted_origins=self.trusted,
            from_canonical=self._on_canonical(ref),
            time_zone=self.source.zone(),
        )

    @property
    def _trim(self) -> int | None:
        """How many newest articles of a section retention.items keeps (never fewer than
        max_items), None without the rule: a stored article is not added to a section where
        it would not be among them (`Store.ingest`)."""
        items = self.config.retention.items
        return None if items is None else max(items, self.config.service.max_items)

    async def _expired(self, candidate: Candidate) -> bool:
        """Whether the retention rules would remove this article at their next run: one no
        stored article is, published before the `days` limit and not among the `max_items`
        newest of any of its sections or of `all`, or not among the newest `items` of any of
        its sections. Such an article is not stored. A publisher still listing articles
        retention removed (a sitemap of months, a "most read" list) had them stored anew by
        every pull, and removed again by every retention run: each return moved the
        section's feeds and archive pages, and an article edited before it was removed came
        back under a new GUID, a second item in every reader that had it."""
        rules = self.config.retention
        if rules.days is None and rules.items is None:
            return False
        now = self.clock()
        # A page with no date is stored as published now: the newest, kept by either rule.
        published = believed(candidate.published, now)
        if published is None:
            return False
        return await self._removes(published, candidate, candidate.sections, now)

    async def _removes(
        self,
        published: datetime,
        candidate: Candidate | None,
        sections: frozenset[str],
        now: datetime,
    ) -> bool:
        """The store's answer for `_expired` and `_not_expired`, under the rules as they are."""
        rules = self.config.retention
        return await self.store.retention_removes(
            candidate,
            published,
            sections=sections,
            keep=self.config.service.max_items,
            before=now - timedelta(days=rules.days) if rules.days is not None else None,
            items=rules.items,
            now=now,
        )

    async def _ingest(self, ref: ArticleRef, candidate: Candidate) -> None:
        article = self._canonical(ref.url)
        listed = " ".join((self.listed_titles.get(ref.url) or "").casefold().split())
        first, first_listed = self.texts_seen.setdefault(
            (ref.mirror_index, candidate.content_hash), (article, listed)
        )
        if first != article and first_listed and listed and first_listed != listed:
            # One text for two articles listed under other headlines: a page the mirror
            # serves at every URL (its home page, with 200), not either article. Stored, it
            # was a duplicate of the first, and its URL an alias of that item: once the mirror
            # served the articles again, each replaced the one before in that one item.
            self._failed(
                ref.mirror_index,
                "article",
                ExtractError(
                    ref.url,
                    f"the same text as this mirror gave for {first}, listed under another "
                    "headline: a page it serves for every article",
                    kind="same-text",
                ),
            )
            return
        try:
            if await self._expired(candidate):
                self.report.skipped += 1
                # Not fetched again while its listing says nothing newer (`_not_expired`).
                now = self.clock()
                published = believed(candidate.published, now) or now
                await self.mirror_store.save_expired_link(
                    article, ExpiredLink(published, ref.listed_updated), now
                )
                return
            async with self._storing:
                result = await self.store.ingest(
                    candidate, self.source.canonical, number=False, trim=self._trim
                )
        except StoreFull:
            # The pull ends here (`run_pull` records it): each article after it failed alike,
            # one line each, and the pull's own writes after them left it unrecorded.
            raise
        except StoreError as exc:
            self.report.fail(str(exc))
            return
        await self._remember_listed(ref, article, candidate)
        self.progress("article", ref.url)
        setattr(self.report, result.outcome, getattr(self.report, result.outcome) + 1)
        self.report.relinked += result.relinked
        self.report.changed_sections |= result.changed_sections
        self.report.guids.add(result.guid)

    async def _remember_listed(self, ref: ArticleRef, article: str, candidate: Candidate) -> None:
        """Keep the headline the listing gave for an article whose page was just fetched and
        stored, when it is not the page's but names it (`_listed_as_changed` compares with
        it): most of the page headline's words are in it, as in a teaser after the headline
        or a feed's own wording. A page that shares less with it may be another page than
        the article (a mirror serving its home page at every URL): the listing goes on
        saying "edited" until the article's own page is stored."""
        listed = self.listed_titles.get(ref.url)
        if listed is None:
            return
        cut = headline(listed)
        if cut == " ".join(candidate.title.split()):
            return
        page_words = set(re.findall(r"\w{3,}", candidate.title.casefold()))
        shared = page_words & set(re.findall(r"\w{3,}", cut.casefold()))
        if not page_words or 2 * len(shared) < len(page_words):
            return
        try:
            await self.mirror_store.save_listed_title(sorted({article, ref.url}), cut)
        except StoreError as exc:
            # The article is stored: at worst the next pull fetches it once more.
            log.warning("listed headline not kept", extra={"url": ref.url, "error": str(exc)})


def misfiled(listings: Sequence[tuple[int, str, set[str]]]) -> dict[int, str]:
    """Which of the listings (mirror index, section, article keys) are another section's,
    by position, with that section: one sharing no article with what the other mirrors list
    for its section, while it is mostly the same list as one of another section (by any
    mirror, itself included: more than half of the articles of the two together are in
    both). Where no other mirror lists the section there is nothing to judge by; a listing
    whose articles no other section lists is kept (a mirror ahead of the others), and so is
    one that is a small part of another section's (a section of everything, whose listing
    holds a lagging mirror's newest articles too)."""
    by_section: dict[str, list[tuple[int, set[str]]]] = {}
    for i, section, keys in listings:
        by_section.setdefault(section, []).append((i, keys))
    wrong: dict[int, str] = {}
    for n, (i, section, keys) in enumerate(listings):
        others = set().union(*(k for j, k in by_section[section] if j != i))
        if not keys or not others or keys & others:
            continue
        for other, lists in by_section.items():
            if other != section and any(2 * len(keys & k) > len(keys | k) for _, k in lists):
                wrong[n] = other
                break
    return wrong


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
