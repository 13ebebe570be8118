"""Storing the articles of one pull: each copy made a candidate (sanitised, hashed, off the
event loop), judged against the retention rules, and ingested as new, update or duplicate,
one at a time; at the end, what the rules would remove at their next run is removed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from syndicator.core.errors import ExtractError, StoreError, StoreFull
from syndicator.core.ingest import believed
from syndicator.core.models import Candidate, Page
from syndicator.extract import (
    text_rules,
)
from syndicator.extract.candidate import (
    headline,
    sections_for,
    to_candidate,
)
from syndicator.pull.entry_points import EntryReading
from syndicator.pull.mirror_requests import ArticleRef, on_mirror
from syndicator.store.link_records import ExpiredLink
from syndicator.store.retention import expire_arrivals

log = logging.getLogger("syndicator.pull")


class ArticleStoring(EntryReading):
    def _on_canonical(self, ref: ArticleRef) -> bool:
        """The ref is on the canonical origin itself: its page is the canonical one."""
        return self.mirrors[ref.mirror_index].origin == self.source.canonical

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
            found = text_rules.rule(pattern, "article_id").search(urlsplit(url).path)
        except text_rules.RuleTimeout as exc:
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
            if odd := await self._other_articles_text(ref, article, candidate):
                self._failed(ref.mirror_index, "article", odd)
                return
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
        if result.outcome == "new":
            now = self.clock()
            published = believed(candidate.published, now) or now
            self.arrivals[result.guid] = (article, ExpiredLink(published, ref.listed_updated))

    def _asked_elsewhere(self, refs: list[ArticleRef], index: int) -> ArticleRef:
        """The article the copies `refs` are of, asked of mirror `index` (a hedge, a
        fallback, a retry): on the path they have, for every section that listed it, with
        the newest time a listing gave, and checked against the headline a listing gave for
        it (`_ingest` reads it under the URL asked). Asked with none, a mirror that did not
        list the article had its copy stored whatever it was: another stored article's page
        served at its URL was stored as a duplicate, and the article's URL became one of
        that item's."""
        mirror = self.mirrors[index]
        stamps = [r.listed_updated for r in refs if r.listed_updated is not None]
        ref = ArticleRef(
            index,
            on_mirror(mirror, self._site_path(refs[0].url)),
            frozenset().union(*(r.sections for r in refs)),
            max(stamps) if stamps else None,
        )
        listed = next((t for r in refs if (t := self.listed_titles.get(r.url))), None)
        if listed is not None:
            self.listed_titles.setdefault(ref.url, listed)
        return ref

    def _titled_as_listed(self, ref: ArticleRef, title: str) -> bool:
        """Whether the page's headline shares a word with the one listed for the article."""
        listed = self.listed_titles.get(ref.url) or ""
        words = set(re.findall(r"\w{3,}", listed.casefold()))
        return bool(words & set(re.findall(r"\w{3,}", title.casefold())))

    async def _stored_elsewhere(self, ref: ArticleRef, guid: str) -> bool:
        """Whether the stored article `guid` is stored under none of this article's URLs."""
        urls = set(await self.store.aliases_of(guid))
        return not {ref.url, self._canonical(ref.url)} & urls

    async def _other_articles_text(
        self, ref: ArticleRef, article: str, candidate: Candidate
    ) -> ExtractError | None:
        """The failure of a copy that is another stored article's page served at this
        article's URL (a mirror whose CMS maps ids wrongly): its text is that article's,
        stored under other URLs, and its headline shares no word with the one listed here.
        Stored, it was a duplicate of that article, whose item took this article's URLs:
        the article was never fetched again, and once a mirror served it, it replaced the
        other article in that item. None for a page titled as listed, or listed untitled."""
        if not self.listed_titles.get(ref.url) or self._titled_as_listed(ref, candidate.title):
            return None
        match = await self.store.match(candidate, self.clock())
        if (
            match is None
            or match.how != "hash"
            or not await self._stored_elsewhere(ref, match.guid)
        ):
            return None
        return ExtractError(
            ref.url,
            f"the text of the stored article {match.url or match.guid} "
            f"({candidate.title[:80]!r}), not of the article listed here: another "
            "article's page served at its URL",
            kind="odd-copy",
        )

    async def _expire_arrivals(self, *, cut_short: bool = False) -> None:
        """Once the pull's articles are in, remove those it stored new that the retention
        rules would remove at their next run, and remember them as expired links (not
        fetched again, `_not_expired`). Each article is judged as it comes in (`_expired`),
        but in the order its fetch ended: an older one stored before the newer ones of the
        same pull passed, and a first pull stored every article, half of them removed again
        by the next run (a new GUID each, should they come back). A pull `cut_short` does
        this too; a store that cannot then is logged, the error that cut the pull short
        being the one its report says first."""
        rules = self.config.retention
        if not self.arrivals or (rules.days is None and rules.items is None):
            return
        now = self.clock()
        try:
            gone, touched = await expire_arrivals(
                self.store,
                sorted(self.arrivals),
                days=rules.days,
                items=rules.items,
                keep=self.config.service.max_items,
                now=now,
            )
            for guid in sorted(gone):
                article, link = self.arrivals.pop(guid)
                await self.mirror_store.save_expired_link(article, link, now)
        except StoreError as exc:
            if cut_short:
                log.warning(
                    "retention not applied to a pull cut short",
                    extra={"source": self.name, "error": str(exc)},
                )
            else:
                self.report.fail(str(exc))
            return
        self.report.new -= len(gone)
        self.report.skipped += len(gone)
        self.report.guids -= gone
        self.report.changed_sections |= touched

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
