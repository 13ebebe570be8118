"""The entry points of one pull (source feeds, listing pages, sitemaps): each asked of the
mirrors the strategy picks, retried or failed over, parsed into the article links each
section lists, and listings filed under the wrong section set aside (`misfiled`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.core.models import FeedEntry
from syndicator.core.source_config import EntryPoint
from syndicator.extract import (
    dates,
    index_pages,
    listing_pages,
    listings,
    text_rules,
    validate,
)
from syndicator.pull.mirror_requests import (
    LAST_COPY_TRIES,
    ArticleRef,
    extraction_bug,
    on_mirror,
    passing,
    together,
)
from syndicator.pull.responses import Response
from syndicator.pull.sitemap_reading import SKIPPED_SAMPLE, SitemapReading
from syndicator.store.link_records import Listed

log = logging.getLogger("syndicator.pull")


class EntryReading(SitemapReading):
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
        self._judge_missing()
        return self._refs(found)

    def _judge_missing(self) -> None:
        """Each entry point that answered 404 or 410 (`missing`), judged now that every
        mirror was asked: when no mirror gave it while some mirror gave another entry point
        of the source, its path in the config is wrong, which is said (first among the
        pull's errors, at `warning` in the log) and counted against no mirror; else it is a
        failure of each mirror that answered so, as any other."""
        served = {path for _, path in self.served}
        for (section, path), failed in self.missing.items():
            if path not in served and self.served:
                statuses = sorted({exc.kind.removeprefix("http-") for _, exc in failed.values()})
                message = (
                    f"{section}: the entry point {path} answers {' or '.join(statuses)} on "
                    f"every mirror asked ({len(failed)}) while the source's other entry points "
                    "answer: is its path in the config right? (not counted against the mirrors)"
                )
                log.warning("%s: %s", self.name, message)
                self.report.fail(message, quiet=True)
                if self.report.errors[-1] == message:
                    # First: what `syndicate status` shows of the pull, the error to fix.
                    self.report.errors.insert(0, self.report.errors.pop())
                continue
            for index, (expect, exc) in sorted(failed.items()):
                self._failed(index, expect, exc)
        self.missing.clear()

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
            # An entry point missing on every mirror (a path mistyped in the config) is no
            # probe: the next one is sent, or the breaker never closed again.
            first = None
            while first is None and jobs:
                section, entry = jobs[0]
                first = await self._entry(index, section, entry, probe=True)
                if first is None and not self._missing_on(index, section, entry):
                    self.report.skipped += len(jobs) - 1
                    return await self._remembered(index, jobs)
                if first is not None:
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
            if failure is None or not passing(failure) or not self.book.usable(origin):
                return None
            if not await self._back_off(attempt, failure):
                return None
            result = await self._entry(index, section, entry)
            if result is not None:
                return result
        return None

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
        stored = await self.remembered.links(list(urls))
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

    def _missing_on(self, index: int, section: str, entry: EntryPoint) -> bool:
        """Whether the entry point answered 404 or 410 on the mirror (judged later)."""
        return index in self.missing.get((section, entry.path), {})

    async def _entry(
        self, index: int, section: str, entry: EntryPoint, *, probe: bool = False
    ) -> tuple[int, list[Listed]] | None:
        """One entry point on one mirror -> (answering mirror, links on that mirror)."""
        if entry.kind == "sitemap":
            got = await self._sitemap_entry(index, section, entry, probe=probe)
        else:
            got = await self._listing_entry(index, section, entry, probe=probe)
        if got is not None:
            self.served.add((got[0], entry.path))
        return got

    async def _listing_entry(
        self, index: int, section: str, entry: EntryPoint, *, probe: bool = False
    ) -> tuple[int, list[Listed]] | None:
        """A feed or listing page entry point on one mirror (see `_entry`)."""
        url = on_mirror(self.mirrors[index], entry.path)
        point = (section, entry.path)
        got = await self._get(
            index, url, entry.kind, probe=probe, until=self.listings_until, entry=point
        )
        if got is not None and got[1].not_modified:
            stored = (await self.remembered.links([url])).get(url)
            if stored is not None:
                self._ok(got[0], got[1])
                self.report.entry_points_ok += 1
                return got[0], stored
            # Validators without the links they went with: ask again, unconditionally.
            got = await self._get(
                index,
                url,
                entry.kind,
                probe=probe,
                conditional=False,
                until=self.listings_until,
                entry=point,
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
            self._failed(answered, f"{section} entry point", extraction_bug(response.url, exc))
            return None
        self._ok(answered, response)
        self.report.entry_points_ok += 1
        now = self.clock()
        await self.remembered.save_links(url, links, now)
        await self.remembered.save_validators(url, response, now)
        return answered, links

    def _parse_entry(self, index: int, entry: EntryPoint, response: Response) -> list[Listed]:
        mirror = self.mirrors[index]
        if entry.kind == "feed":
            entries = listings.parse_feed(response.body, response.url, response.charset)
            if kind := validate.feed_notice(entries):
                raise validate.feed_rejected(response.url, kind)
            entries = self._articles_of(entries, response.url)
            zone = self.source.zone()
            listed: list[Listed] = [
                (e.link, dates.placed(e.updated or e.published, zone)) for e in entries
            ]
            for e in entries:
                self.entries[on_mirror(mirror, self._site_path(e.link))] = e
                if e.title:
                    self.listed_titles[on_mirror(mirror, self._site_path(e.link))] = e.title
        else:
            # Read up to one link past max_links, which says there are more.
            limit = self.source.max_links
            found = listing_pages.listing_entries(
                response.body,
                response.url,
                self.origins | {mirror.origin},
                self.source.article_links,
                response.charset,
                limit=limit + 1,
            )
            if len(found) > limit:
                log.warning(
                    "%s: %s lists more than %d article links: taking the first %d (max_links)",
                    self.name,
                    response.url,
                    limit,
                    limit,
                )
                found = dict(list(found.items())[:limit])
            links = list(found)
            for link, text in found.items():
                if text:
                    self.listed_titles[on_mirror(mirror, self._site_path(link))] = text
            if not links:
                raise ExtractError(response.url, "no article links on the page", kind="no-links")
            # Only a page taken for the site's own announces its addresses (a squatter's
            # "moved to" page is refused first).
            self._note_announced(response)
            listed = [(link, None) for link in links]
        return self._own_links(index, listed, response.url, self.source.max_links, "max_links")

    def _articles_of(self, entries: list[FeedEntry], listed_at: str) -> list[FeedEntry]:
        """A feed's entries less those linking the site's home page, a section's entry
        point (a live stream, a promotion, a seized domain's notice among the site's items)
        or an index page of the feed's other entries (`index_pages.index_links`): fetched as
        articles, the home page was published as an item titled with the site's name, and
        a section page as one titled with the section's."""
        indexes = index_pages.index_links(
            [e.link for e in entries], text_rules.rule(self.source.article_links, "article_links")
        )
        kept = []
        skipped: list[tuple[str, str]] = []  # (link, which page it is)
        for entry in entries:
            page = self._site_page(entry.link)
            if page is None and (under := indexes.get(entry.link)) is not None:
                page = f"an index page (of {under})"
            if page is not None:
                skipped.append((entry.link, page))
            else:
                kept.append(entry)
        self._log_site_pages(listed_at, skipped)
        return kept

    def _log_site_pages(self, listed_at: str, skipped: list[tuple[str, str]]) -> None:
        """One line at info for a feed's entries linking the site's own pages that are no
        articles (how many, and the first few), each of them at debug: a feed of hundreds of
        links to the home page wrote a line for each at info, on every pull."""
        if not skipped:
            return
        sample = ", ".join(f"{link} ({page})" for link, page in skipped[:SKIPPED_SAMPLE])
        more = ", ..." if len(skipped) > SKIPPED_SAMPLE else ""
        what = (
            "feed entry linking a page of the site that is no article"
            if len(skipped) == 1
            else "feed entries linking the site's pages that are no articles"
        )
        log.info(
            "%s: %s: skipping %d %s: %s%s", self.name, listed_at, len(skipped), what, sample, more
        )
        for link, page in skipped:
            log.debug("%s: skipping a feed entry linking %s: %s", self.name, page, link)


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
