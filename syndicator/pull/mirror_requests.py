"""What every part of one pull shares: the pull's state (the source, its mirrors, their
health, the report) and the one way a page is asked of a mirror (`MirrorRequests._get`):
within the pull's deadline, with the mirror's validators, its answer validated, its
success or failure recorded in the mirror's health and the hosts it announces noted."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from syndicator.core import identity
from syndicator.core.config import Config
from syndicator.core.errors import ExtractError, FetchError, Throttled
from syndicator.core.models import FeedEntry, Page, PullReport
from syndicator.core.source_config import Mirror, Source
from syndicator.extract import (
    published_html,
    source_rules,
    text_rules,
    validate,
)
from syndicator.extract.candidate import on_site
from syndicator.mirrors import announced
from syndicator.mirrors.health import HealthBook, Policy
from syndicator.pull.addresses import AddressPolicy
from syndicator.pull.fetch import Fetcher
from syndicator.pull.remembered import Remembered
from syndicator.pull.responses import Response
from syndicator.store import Store
from syndicator.store.engine import Validators
from syndicator.store.health import MirrorStore
from syndicator.store.link_records import ExpiredLink

log = logging.getLogger("syndicator.pull")

ProgressHook = Callable[[str, str], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")

# The failure kind of a page or listing that made extraction itself fail (a bug of ours on
# markup no test foresaw): that copy is lost, the pull goes on, the mirror is not blamed.
EXTRACTION_BUG = "extraction-bug"


def extraction_bug(url: str, exc: Exception) -> ExtractError:
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


# The last copy of an article: rounds of retries, the first wait, the longest wait taken.
LAST_COPY_TRIES = 3
LAST_COPY_BACKOFF = 0.5
LAST_COPY_MAX_WAIT = 10.0
# Failures a retry can mend: the mirror was busy, slow or cut off, not wrong.
# A URL asked with no validators.
_UNVALIDATED = Validators(None, None, None)
# How long the validators of an answer are sent back: past this, the URL is asked with none
# and read in full, and the validators of that answer are sent from then on. A server that
# answers 304 to one ETag for ever (a cache whose validator never moves while what it serves
# does) kept an entry point's links of the first answer standing for good.
VALIDATORS_MAX_AGE = timedelta(days=1)
_PASSING_KINDS = frozenset({"timeout", "connect", "truncated", "http", "deadline"})
# What a sitemap named by an index may answer when the index names one no longer there
# (Yoast's author sitemap when author archives are off, a deleted day): counted against the
# mirror, three in a row opened its breaker, and the sitemaps after them, the articles and
# the next pulls were not asked of it: a section filled from its sitemap got nothing.
STALE = frozenset({"http-404", "http-410", "not-sitemap"})
# What an entry point may answer when its path in the config is wrong: judged once every
# mirror was asked (`EntryReading._judge_missing`), the config's mistake when no mirror
# serves it. Counted against each mirror at once, one mistyped section path kept every
# mirror `degraded` for good.
MISSING = frozenset({"http-404", "http-410"})


# What a page linked as an article is refused as when it is no article at all, whichever
# mirror serves it: a listing of the section's articles, a feed or another document than HTML.
# Remembered (`ArticleFetching._remember_refused`), it is not asked again at every pull.
REFUSALS = frozenset({"listing", "not-html"})


def passing(failure: FetchError | ExtractError) -> bool:
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


def has_page(asked: Asked) -> bool:
    """The copy is in, and valid."""
    task = asked.task
    return (
        task is not None
        and task.done()
        and not task.cancelled()
        and task.exception() is None
        and task.result() is not None
    )


def on_mirror(mirror: Mirror, path_and_query: str) -> str:
    """The URL of a site path on this mirror (as the mirror's own links show it, under its
    path prefix if it has one)."""
    return mirror.origin.rstrip("/") + mirror.path_prefix + path_and_query


class MirrorRequests:
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
        # Validators and entry point links, this source's own (`remembered`).
        self.remembered = Remembered(name, store, self.mirror_store)
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
        # The site paths of every article this pull's entry points list (stored or not): a
        # page linked as an article that lists them is a listing (`index_pages.listing_of`).
        self.listed_paths: set[str] = set()
        # The first article each text came for, by (mirror, content hash), with the headline
        # listed for it (see `_ingest`).
        self.texts_seen: dict[tuple[int, str], tuple[str, str]] = {}
        # The articles this pull stored new, by GUID: the article's URL and what an expired
        # link of it would remember (see `ArticleFetching._expire_arrivals`).
        self.arrivals: dict[str, tuple[str, ExpiredLink]] = {}
        # By article (`identity.url_key` of its canonical URL), the mirrors that refused it as
        # no article (`REFUSALS`), None once a copy of it failed otherwise.
        self.refused: dict[str, set[int] | None] = {}
        self.book = HealthBook(name, {}, Policy.of(source.breaker), clock, rng or random.Random())
        self.validators: dict[str, Validators] = {}
        self.announced: dict[str, str] = {}
        # What article pages announce, by URL, until the copy is taken for the article.
        self.heard: dict[str, list[str]] = {}
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
        # The entry points (section, path) that answered 404 or 410, with the mirrors that
        # did (what was expected, and the failure), not counted against them yet; and those
        # (answering mirror, path) some mirror gave (see `EntryReading._judge_missing`).
        self.missing: dict[tuple[str, str], dict[int, tuple[str, FetchError]]] = {}
        self.served: set[tuple[int, str]] = set()
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
        return urlunsplit(("", "", published_html.site_path(url, prefixes), parts.query, ""))

    def _redirected_away(self, asked: str, url: str) -> str | None:
        """What `url`, where the article `asked` was redirected to, is when it is no article:
        the home page, the page, feed or sitemap of one of the source's sections, or a page
        whose path `article_links` does not match where the article's did (a section's
        listing)."""
        if (page := self._site_page(url)) is not None:
            return page
        path = self._site_path(url)
        matcher = text_rules.rule(self.source.article_links, "article_links")
        try:
            if matcher.search(urlsplit(asked).path) and not matcher.search(urlsplit(url).path):
                return f"{path}, no article by its path (article_links)"
        except text_rules.RuleTimeout:
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
        """The mirror that answered for a URL (a redirect counts for its target), also named
        under the other scheme or with or without `www.` (`identity.known_origin`)."""
        at = {m.url: i for i, m in enumerate(self.mirrors) if not m.is_file}
        known = identity.known_origin(url, at)
        return default if known is None else at[known]

    def _ok(self, index: int, response: Response) -> None:
        ended = response.url if response.redirects else None
        self.book.answered(self.mirrors[index].origin, ended, response.elapsed)
        self._note_origins(self.heard.pop(response.url, []), response.url)

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
        if not blame or exc.kind in (
            "rule-timeout",
            EXTRACTION_BUG,
            "not-html",
            "listing",
            "same-text",
        ):
            # The source's own pattern gave up, our code failed, the publisher linked a feed,
            # a sitemap or a listing page as an article, or gave one text for two articles
            # (every mirror serves it alike), or the caller knows (`blame`): no mirror's fault.
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
        entry: tuple[str, str] | None = None,
        check: bool = True,
    ) -> tuple[int, Response] | None:
        """Fetch and validate one URL from a mirror; failures are recorded, None returned.
        `asked` (an article copy) is told when the request goes out and when it is answered.
        `check`: False for an article page, checked where it is parsed for extraction
        (`CopyFetching._fetch_article`).
        `named`: a sitemap that an index this mirror served names, whose 404 or 410 says the
        index is stale, not that the mirror fails (`STALE`). `entry`: the (section, path) of
        the entry point asked, whose 404 or 410 is judged once every mirror was asked
        (`MISSING`)."""
        mirror = self.mirrors[index]
        origin = mirror.origin
        kept = self.validators.get(url, _UNVALIDATED) if conditional else _UNVALIDATED
        if kept.checked_at is not None and self.clock() - kept.checked_at >= VALIDATORS_MAX_AGE:
            kept = _UNVALIDATED
        etag, modified, validated_at, _ = kept
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
            # Under the URL asked, where its retries look (a redirect's target names another).
            self.failures[url] = exc
            if (at := self._index_of(exc.url, index)) != index:
                # Failed at the mirror a redirect led to: its failure; this one redirected.
                self.book.redirected(origin, self.mirrors[at].origin, None)
            if entry is not None and exc.kind in MISSING:
                self.missing.setdefault(entry, {})[at] = (expect, exc)
                return None
            self._failed(at, expect, exc, blame=not (named and exc.kind in STALE))
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
        if response.redirects and answered != index:
            # Its answer counts for the mirror redirected to; this one is up, and redirecting.
            self.book.redirected(origin, self.mirrors[answered].origin, response.elapsed)
        if response.redirects and identity.origin(response.url) != self.mirrors[answered].url:
            # Followed to a host that is no mirror (follow_foreign_redirects), or to a mirror
            # under another name: its links are the site's for this pull.
            self.origins.add(identity.origin(response.url))
        if response.not_modified:
            self.report.not_modified += 1
            return answered, response
        if not check:
            return answered, response
        try:
            await self._validate(response, expect)
        except ExtractError as exc:
            self._failed(answered, expect, exc, blame=not (named and exc.kind in STALE))
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
        self._note_origins(announced.announced_origins(body, url, charset), url)

    def _note_origins(self, origins: list[str], url: str) -> None:
        # A host of the site named without `www.` or under the other scheme (`presstv.co.uk`
        # for the configured `https://www.presstv.co.uk`) is the site's, as its links are.
        known = self.origins | {m.url for m in self.mirrors}
        for origin in origins:
            if identity.known_origin(origin, known) is None:
                self.announced.setdefault(origin, url)

    def _canonical(self, url: str) -> str:
        return on_site(url, self.source.canonical, self.origins, self.prefixes)

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
