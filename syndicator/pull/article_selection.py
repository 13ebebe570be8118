"""Which of a pull's listed links are fetched: not the articles stored before unless their
listing says they changed (a newer updated time, another headline that is no mirror's stale
copy), their link on the canonical origin is unconfirmed, or their feed entry carries their
text; not the links an earlier pull found expired or refused while their listing gives no
newer time. A stored article listed in another section joins it without a fetch.

The layer of a pull over `article_storing`; fetching the chosen links is `article_copies`'.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from syndicator.core import identity
from syndicator.core.ingest import believed
from syndicator.extract import (
    extraction,
    text_rules,
)
from syndicator.extract.candidate import (
    headline,
)
from syndicator.pull.article_storing import ArticleStoring
from syndicator.pull.mirror_requests import (
    ArticleRef,
)
from syndicator.store.link_records import StoredState

log = logging.getLogger("syndicator.pull")


class ArticleSelection(ArticleStoring):
    """Which listed links a pull fetches."""

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
        only to be left out again. So are those refused as no article (`_remember_refused`)
        while their listing gives no newer time, unless `article_links` now matches them.
        Each such article is counted as skipped."""
        rules = self.config.retention
        if not refs:
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
            if link.refused:
                if self._article_path(ref.url):
                    keep.append(ref)
                else:
                    seen.add(url)
                continue
            if rules.days is None and rules.items is None:
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

    def _article_path(self, url: str) -> bool:
        """Whether `article_links` matches the URL's path: an article, whatever it links."""
        matcher = text_rules.rule(self.source.article_links, "article_links")
        try:
            return bool(matcher.search(urlsplit(self._site_path(url)).path))
        except text_rules.RuleTimeout:
            return False

    def _carried(self, ref: ArticleRef) -> bool:
        """The article's text is in its feed entry (`_fetch_article` reads it there, with no
        page to fetch). RSS has no modified time, so a correction in the body of such an
        entry changes neither its date nor its headline: it never reached the feeds."""
        entry = self.entries.get(ref.url)
        return entry is not None and (
            not self.source.full_text or extraction.carries_full_text(entry)
        )

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
