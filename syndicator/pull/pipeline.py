"""One pull of one source, end to end: fetch every entry point from the mirrors the strategy
picks, collect the article links, fetch and extract each article not stored yet, build
candidates and store them; record every mirror's health and the hosts its pages announce.

This is the only place that wires fetch -> validate -> extract -> candidate -> store. A mirror
that fails is recorded in the report and in its health, and never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from syndicator.core import identity
from syndicator.core.config import Config, EntryPoint, Mirror, Source
from syndicator.core.errors import ExtractError, FetchError, StoreError, Throttled
from syndicator.core.models import FeedEntry, Page
from syndicator.extract import parsing, validate
from syndicator.extract.candidate import sections_for, source_sections, to_candidate
from syndicator.mirrors import announced
from syndicator.mirrors.health import HealthBook, Policy
from syndicator.mirrors.links import link_target
from syndicator.pull.adoption import adopt_candidates
from syndicator.pull.fetch import Fetcher, Response, origin_of
from syndicator.store import Store
from syndicator.store.health import Listed, MirrorStore

log = logging.getLogger("syndicator.pull")

ProgressHook = Callable[[str, str], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PullReport:
    source: str
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    fetched: int = 0
    not_modified: int = 0
    entry_points_ok: int = 0
    parsed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    changed_sections: set[str] = field(default_factory=set)
    guids: set[str] = field(default_factory=set)
    discovered: set[str] = field(default_factory=set)
    adopted: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)
        log.info("%s: %s", self.source, message)


@dataclass(frozen=True)
class ArticleRef:
    """An article link found on one mirror, with the sections that listed it."""

    mirror_index: int
    url: str
    sections: frozenset[str]
    listed_updated: datetime | None = None


def on_mirror(mirror: Mirror, path_and_query: str) -> str:
    """The URL of a site path on this mirror (as the mirror's own links show it)."""
    return mirror.origin.rstrip("/") + path_and_query


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
        self.report = PullReport(source=name)
        self.rules = parsing.ArticleRules.of(source)
        # Feed entries by the article URL on the mirror whose feed listed them.
        self.entries: dict[str, FeedEntry] = {}
        # Headlines as this pull's freshly parsed listings and feeds give them, by the article
        # URL on the listing mirror: a changed headline is the listing saying "edited".
        self.listed_titles: dict[str, str] = {}
        self.book = HealthBook(name, {}, Policy.of(source.breaker), clock, rng or random.Random())
        self.validators: dict[str, tuple[str | None, str | None]] = {}
        self.announced: dict[str, str] = {}

    # --- mirrors -----------------------------------------------------------------------

    def _file_root(self, mirror: Mirror) -> Path | None:
        return self.config.resolve_file(mirror.url) if mirror.is_file else None

    def _index_of(self, url: str, default: int) -> int:
        """The mirror that answered for a URL (a redirect counts for its target)."""
        origin = origin_of(url)
        for i, m in enumerate(self.mirrors):
            if not m.is_file and m.url == origin:
                return i
        return default

    def _ok(self, index: int, response: Response) -> None:
        self.book.ok(self.mirrors[index].origin, response.elapsed)

    def _failed(self, index: int, where: str, exc: FetchError | ExtractError) -> None:
        self.report.fail(f"{where} on {self.mirrors[index].origin}: {exc}")
        retry_after = exc.retry_after if isinstance(exc, Throttled) else None
        self.book.fail(
            self.mirrors[index].origin, exc.kind, f"{exc.url}: {exc.message}", retry_after
        )

    async def _get(
        self, index: int, url: str, expect: str, *, probe: bool = False, conditional: bool = True
    ) -> tuple[int, Response] | None:
        """Fetch and validate one URL from a mirror; failures are recorded, None returned."""
        mirror = self.mirrors[index]
        origin = mirror.origin
        etag, modified = self.validators.get(url, (None, None)) if conditional else (None, None)
        sent = True
        try:
            response = await self.fetcher.get(
                url,
                etag=etag,
                last_modified=modified,
                file_root=self._file_root(mirror),
                allowed_origins={m.url for m in self.mirrors if not m.is_file} | self.origins,
                follow_foreign=self.source.follow_foreign_redirects,
                robots=self.source.robots and not mirror.is_file,
                cancel_if=None if probe else (lambda: not self.book.usable(origin)),
            )
        except FetchError as exc:
            if exc.kind == "skipped":
                self.report.skipped += 1
                sent = False
                return None
            self._failed(index, expect, exc)
            return None
        finally:
            if sent:
                self.report.fetched += 1
                self.progress("fetch", url)
        answered = self._index_of(response.url, index)
        if response.redirects and answered == index and origin_of(response.url) != origin:
            # A followed redirect to a host that is not a mirror (follow_foreign_redirects):
            # for this pull its links are links to the site.
            self.origins.add(origin_of(response.url))
        if response.not_modified:
            self.report.not_modified += 1
            return answered, response
        try:
            validate.check(
                response.body,
                response.url,
                expect,
                header_charset=response.charset,
                reject_if=self.source.reject_if,
            )
        except ExtractError as exc:
            self._failed(answered, expect, exc)
            return None
        return answered, response

    def _note_announced(self, response: Response) -> None:
        known = self.origins | {m.url for m in self.mirrors}
        for origin in announced.announced_origins(response.body, response.url, response.charset):
            if origin not in known:
                self.announced.setdefault(origin, response.url)

    # --- the pull ----------------------------------------------------------------------

    async def run(self) -> PullReport:
        known = {h.mirror: h for h in await self.mirror_store.health(self.name)}
        self.book = HealthBook(self.name, known, self.book.policy, self.clock, self.book.rng)
        for found in await self.mirror_store.discovered(self.name):
            if found.status == "adopted" and found.origin not in self.origins:
                self.mirrors.append(Mirror(url=found.origin))
                self.origins.add(found.origin)
        target_before = self._link_target()
        self.validators = await self.store.validators(
            [on_mirror(m, e.path) for m in self.mirrors for e in self.source.sections.values()]
        )
        refs = await self._collect_links()
        refs = await self._not_stored(refs)
        fetched = await asyncio.gather(*(self._fetch_article(ref) for ref in refs))
        results = list(zip(refs, fetched, strict=True))
        results += await self._fall_back(results)
        # Store in a fixed order (mirror order, then listing order) so that which copy of an
        # article is stored first never depends on which mirror answered first.
        for ref, page in results:
            if page is not None:
                await self._store(ref, page)
        if self.report.new or self.report.changed_sections:
            # The articles this pull found get their archive numbers together, oldest first:
            # stored one by one in listing order (newest first), they would fill the archive
            # pages backwards.
            try:
                await self.store.number_arrivals(self.report.changed_sections, self.clock())
            except StoreError as exc:
                self.report.fail(str(exc))
        now = self.clock()
        if self.announced:
            await self.mirror_store.note_candidates(self.name, self.announced, now)
            self.report.discovered = set(self.announced)
        if self.source.adopt_discovered:
            adopted = await adopt_candidates(
                self.name, self.source, self.fetcher, self.mirror_store, self.origins, now
            )
            self.report.adopted.extend(adopted)
        await self.mirror_store.save_health(self.book.updated(), now)
        target_after = self._link_target()
        if target_after != target_before:
            # Every feed that can hold this source's articles now links another mirror: the
            # documents change, so their Last-Modified moves too.
            sections = source_sections(self.source)
            await self.mirror_store.bump_sections(sections, now, changed_at=True)
            self.report.changed_sections |= set(sections)
        return self.report

    def _link_target(self) -> str:
        healths = [h for m in self.mirrors if (h := self.book.get(m.origin)).tried]
        return link_target(self.source, healths, [m.origin for m in self.mirrors])

    # --- entry points ------------------------------------------------------------------

    async def _collect_links(self) -> list[ArticleRef]:
        jobs = list(self.source.sections.items())
        found: list[tuple[int, str, list[Listed]]] = []
        if self.source.strategy == "all":
            per_mirror = await asyncio.gather(
                *(self._mirror_entries(i, jobs) for i in range(len(self.mirrors)))
            )
            for results in per_mirror:
                found.extend(results)
        else:
            for result in await asyncio.gather(*(self._failover_entry(s, e) for s, e in jobs)):
                if result is not None:
                    found.append(result)
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
            return []
        out: list[tuple[int, str, list[Listed]]] = []
        if access == "probe":
            if not self.book.claim_probe(origin):
                self.report.skipped += len(jobs)
                return []
            section, entry = jobs[0]
            first = await self._entry(index, section, entry, probe=True)
            if first is None:
                self.report.skipped += len(jobs) - 1
                return []
            out.append((first[0], section, first[1]))
            jobs = jobs[1:]
        results = await asyncio.gather(*(self._entry(index, s, e) for s, e in jobs))
        for (section, _), result in zip(jobs, results, strict=True):
            if result is not None:
                out.append((result[0], section, result[1]))
        return out

    async def _failover_entry(
        self, section: str, entry: EntryPoint
    ) -> tuple[int, str, list[Listed]] | None:
        """The first mirror, in order, that gives valid content for this entry point."""
        for index, mirror in enumerate(self.mirrors):
            access = self.book.access(mirror.origin)
            if access == "wait" or (access == "probe" and not self.book.claim_probe(mirror.origin)):
                continue
            result = await self._entry(index, section, entry, probe=access == "probe")
            if result is not None:
                return result[0], section, result[1]
        self.report.fail(f"{section}: no mirror gave its entry point")
        return None

    async def _entry(
        self, index: int, section: str, entry: EntryPoint, *, probe: bool = False
    ) -> tuple[int, list[Listed]] | None:
        """One entry point on one mirror -> (answering mirror, links on that mirror)."""
        url = on_mirror(self.mirrors[index], entry.path)
        got = await self._get(index, url, entry.kind, probe=probe)
        if got is not None and got[1].not_modified:
            stored = (await self.mirror_store.entry_links([url])).get(url)
            if stored is not None:
                self._ok(got[0], got[1])
                self.report.entry_points_ok += 1
                return got[0], stored
            # Validators without the links they went with: ask again, unconditionally.
            got = await self._get(index, url, entry.kind, probe=probe, conditional=False)
        if got is None:
            return None
        answered, response = got
        self.report.parsed += 1
        try:
            links = self._parse_entry(answered, entry, response)
        except ExtractError as exc:
            self._failed(answered, f"{section} entry point", exc)
            return None
        self._ok(answered, response)
        self.report.entry_points_ok += 1
        now = self.clock()
        await self.mirror_store.save_entry_links(url, links, now)
        if response.etag or response.last_modified:
            await self.store.save_validators(url, response.etag, response.last_modified, now)
        return answered, links

    def _parse_entry(self, index: int, entry: EntryPoint, response: Response) -> list[Listed]:
        mirror = self.mirrors[index]
        if entry.kind == "feed":
            entries = parsing.parse_feed(response.body, response.url, response.charset)
            listed: list[Listed] = [(e.link, e.updated or e.published) for e in entries]
            for e in entries:
                self.entries[on_mirror(mirror, path_and_query(e.link))] = e
                if e.title:
                    self.listed_titles[on_mirror(mirror, path_and_query(e.link))] = e.title
        else:
            self._note_announced(response)
            found = parsing.listing_entries(
                response.body,
                response.url,
                self.origins | {mirror.origin},
                self.source.article_links,
                response.charset,
            )
            links = list(found)
            for link, text in found.items():
                if text:
                    self.listed_titles[on_mirror(mirror, path_and_query(link))] = text
            if not links:
                raise ExtractError(response.url, "no article links on the page", kind="no-links")
            listed = [(link, None) for link in links]
        # Every link is fetched from the mirror that listed it: same paths, other domains.
        own: list[Listed] = []
        for link, stamp in listed:
            origin = origin_of(link)
            if origin in self.origins or origin == mirror.origin:
                own.append((on_mirror(mirror, path_and_query(link)), stamp))
            else:
                log.info("%s: skipping link to another site: %s", self.name, link)
        limit = self.source.max_links
        if len(own) > limit:
            log.warning(
                "%s: %s lists %d article links: taking the first %d (max_links)",
                self.name,
                response.url,
                len(own),
                limit,
            )
            own = own[:limit]
        return own

    # --- articles ----------------------------------------------------------------------

    def _canonical(self, url: str) -> str:
        return identity.canonical_url(url, self.source.canonical, self.origins)

    async def _not_stored(self, refs: list[ArticleRef]) -> list[ArticleRef]:
        """Drop articles stored before this pull unless their listing says they changed; a
        stored article listed in another section is added to it without a fetch."""
        urls = sorted({u for r in refs for u in (r.url, self._canonical(r.url))})
        stored = await self.mirror_store.stored_state(urls)
        keep, known = [], []
        for ref in refs:
            state = stored.get(self._canonical(ref.url)) or stored.get(ref.url)
            if state is None or self._listed_as_changed(ref, *state):
                keep.append(ref)
            else:
                known.append(ref)
        if known:
            by_url: dict[str, set[str]] = {}
            for ref in known:
                by_url.setdefault(self._canonical(ref.url), set()).update(ref.sections)
            changed = await self.mirror_store.add_sections(by_url, self.clock())
            self.report.changed_sections |= changed
        return keep

    def _listed_as_changed(self, ref: ArticleRef, updated: datetime, title: str) -> bool:
        """The listing says a stored article changed: a newer updated time, or a headline
        other than the one stored."""
        if ref.listed_updated is not None and ref.listed_updated > updated:
            return True
        listed = self.listed_titles.get(ref.url)
        return listed is not None and " ".join(listed.split()) != " ".join(title.split())

    async def _fetch_article(self, ref: ArticleRef) -> Page | None:
        entry = self.entries.get(ref.url)
        entry = dataclasses.replace(entry, link=ref.url) if entry else None
        if entry and (not self.source.full_text or parsing.carries_full_text(entry)):
            # The feed carries the whole article: no page to fetch.
            try:
                return parsing.page_from_entry(entry, self.rules)
            except ExtractError as exc:
                self._failed(ref.mirror_index, "article", exc)
                return None
        got = await self._get(ref.mirror_index, ref.url, "article", conditional=False)
        if got is None:
            return None
        answered, response = got
        self._note_announced(response)
        try:
            page = parsing.extract_article(
                response.body,
                response.url,
                header_charset=response.charset,
                rules=self.rules,
                entry=entry,
            )
        except ExtractError as exc:
            self._failed(answered, "article", exc)
            return None
        self._ok(answered, response)
        return page

    async def _fall_back(
        self, results: list[tuple[ArticleRef, Page | None]]
    ) -> list[tuple[ArticleRef, Page | None]]:
        """An article that no mirror gave is asked of the other usable mirrors, in order."""
        missing: dict[str, list[ArticleRef]] = {}
        done = {self._canonical(ref.url) for ref, page in results if page is not None}
        for ref, _ in results:
            key = self._canonical(ref.url)
            if key not in done:
                missing.setdefault(key, []).append(ref)

        async def retry(refs: list[ArticleRef]) -> tuple[ArticleRef, Page | None] | None:
            tried = {r.mirror_index for r in refs}
            sections = frozenset().union(*(r.sections for r in refs))
            for index, mirror in enumerate(self.mirrors):
                if index in tried or not self.book.usable(mirror.origin):
                    continue
                ref = ArticleRef(index, on_mirror(mirror, path_and_query(refs[0].url)), sections)
                page = await self._fetch_article(ref)
                if page is not None:
                    return ref, page
            return None

        found = await asyncio.gather(*(retry(refs) for refs in missing.values()))
        return [r for r in found if r is not None]

    async def _store(self, ref: ArticleRef, page: Page) -> None:
        candidate = to_candidate(
            page,
            source=self.name,
            canonical_origin=self.source.canonical,
            site_origins=self.origins,
            sections=sections_for(page, ref.sections, self.source.section_rules),
            default_language=self.source.language,
            # The URL the listing gave, when it redirected to the page (a short link, an old
            # slug): kept as one of the article's URLs, so the next pull knows it is stored.
            extra_aliases=frozenset({ref.url, self._canonical(ref.url)}),
        )
        try:
            result = await self.store.ingest(candidate, self.source.canonical, number=False)
        except StoreError as exc:
            self.report.fail(str(exc))
            return
        self.progress("article", ref.url)
        setattr(self.report, result.outcome, getattr(self.report, result.outcome) + 1)
        self.report.changed_sections |= result.changed_sections
        self.report.guids.add(result.guid)


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
