"""The articles of one pull: each chosen link (`article_selection` chooses) asked of its
mirrors (hedged when one is slow, judged against the other copies, retried on the last copy)
and extracted, a copy at a time (`article_copy`); `article_storing` stores it as one item."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter

from syndicator.core import identity
from syndicator.core.errors import ExtractError, FetchError, StoreError, Throttled
from syndicator.core.ingest import believed
from syndicator.core.models import Candidate, Page
from syndicator.extract import (
    safety_net,
)
from syndicator.pull.article_copy import CopyFetching
from syndicator.pull.mirror_requests import (
    LAST_COPY_MAX_WAIT,
    LAST_COPY_TRIES,
    ArticleRef,
    Asked,
    has_page,
    passing,
    together,
)
from syndicator.pull.responses import Response

log = logging.getLogger("syndicator.pull")


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


class ArticleFetching(CopyFetching):
    """Each chosen article asked of its mirrors and judged."""

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
        if not stored and not await self._fall_back(tried):
            await self._remember_refused(copies)

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
        return self._asked_elsewhere([ref], min(others)[1])

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
                ready = [a for a in racing if has_page(a)]
                won = next((a for a in ready if self._taken_for(ref, a)), None)
                pending = [a.task for a in racing if a.task is not None and not a.task.done()]
                if won is None and ready and not pending:
                    won = ready[0]  # doubted, but the only page there is
                if won is not None:
                    for other in racing:
                        if other is not won:
                            await self._give_up(other)
                    page = won.task.result() if won.task is not None else None
                    assert page is not None
                    await self._store(won.ref, page)
                    return True, [a.ref for a in racing]
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

    def _taken_for(self, ref: ArticleRef, asked: Asked) -> bool:
        """Whether a copy with its page in may win the race for the article `ref` listed: the
        listed copy always; the hedge's copy (from a mirror that did not list the article)
        when its headline shares a word with the listed one, or none was listed. A mirror
        serving its home page at every URL answered the hedge first while the listing
        mirror was merely slow: the home page was stored as the article, its item titled
        with the site's name, and the pull said nothing was wrong. Doubted, such a copy is
        stored only if the listed copy gives no page."""
        if asked.ref is ref or asked.task is None or not self.listed_titles.get(ref.url):
            return True
        page = asked.task.result()
        return page is not None and self._titled_as_listed(ref, page.title)

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
        group kept is the one that holds this article's text already stored (the article goes
        on; a stored text counts when it is stored under this URL or its page's headline
        shares a word with the listed one, not another article's page served here), else
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

        def listed(i: int) -> bool:
            ref, page = got[i]
            return self._titled_as_listed(ref, page.title)

        known = set()
        for i, (ref, candidate) in enumerate(candidates):
            try:
                match = await self.store.match(candidate, self.clock())
                # The stored text must be this article's: one stored under another URL and
                # headline is another article's page, served at this URL (a mirror whose
                # CMS maps ids wrongly). Taken for the text already stored, it beat the
                # copies of the article itself, which were failed as other pages.
                if (
                    match is not None
                    and match.how == "hash"
                    and not listed(i)
                    and await self._stored_elsewhere(ref, match.guid)
                ):
                    match = None
            except StoreError:
                match = None  # judged without the store; storing will report it
            if match is not None and match.how == "hash":
                known.add(i)

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
            ready = any(has_page(a) for a in later)
            if ready and at is not None and now >= at:
                return False
            others = [] if ready else [a.task for a in later if a.task and not a.task.done()]
            await asyncio.wait(
                [copy.task, *others],
                timeout=at - now if at is not None and now < at else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        return True

    async def _fall_back(self, refs: list[ArticleRef]) -> bool:
        """An article that no mirror listing it gave is asked of the other usable mirrors,
        in order; the first copy one gives is stored. Whether one was."""
        tried = {r.mirror_index for r in refs}
        for index, mirror in enumerate(self.mirrors):
            if index in tried or not self.book.usable(mirror.origin):
                continue
            ref = self._asked_elsewhere(refs, index)
            self.progress("planned", ref.url)
            page = await self._fetch_article(ref)
            if page is not None:
                await self._store(ref, page)
                return True
        return await self._last_copy(refs)

    async def _last_copy(self, refs: list[ArticleRef]) -> bool:
        """An article no mirror gave on the first try is worth a few more: asked again of
        every mirror whose failure was passing (a 5xx or 429, a timeout, a lost connection,
        a body cut short) or that the breaker kept from being asked, even while the breaker
        keeps routine polling away, at most LAST_COPY_TRIES rounds, each after a backoff
        with jitter or the Retry-After the mirror asked for (up to LAST_COPY_MAX_WAIT), and
        never past the pull's deadline."""
        candidates = [self._asked_elsewhere(refs, index) for index in range(len(self.mirrors))]
        for attempt in range(LAST_COPY_TRIES):
            # Not asked yet (the breaker kept it away), or failed in passing: worth a try.
            # A mirror that asked for a longer wait than a retry waits is left alone, and
            # keeps no other mirror from its retry.
            worth = [
                (ref, failure)
                for ref in candidates
                if ((failure := self.failures.get(ref.url)) is None or passing(failure))
                and self._asked_wait(ref, failure) <= LAST_COPY_MAX_WAIT
            ]
            asked = [f for _, f in worth if isinstance(f, Throttled)]
            slowest = max(asked, key=lambda f: f.retry_after or 0.0) if asked else None
            if not worth or not await self._back_off(attempt, slowest):
                return False
            for ref, _ in worth:
                self.progress("planned", ref.url)
                page = await self._fetch_article(ref, probe=True)
                if page is not None:
                    log.info("%s: %s fetched on retry %d", self.name, ref.url, attempt + 1)
                    await self._store(ref, page)
                    return True
        return False

    def _asked_wait(self, ref: ArticleRef, failure: FetchError | ExtractError | None) -> float:
        """Seconds the mirror of `ref` asked to be left alone for (Retry-After), for this
        page or any other; 0 when it asked for none."""
        wait = failure.retry_after if isinstance(failure, Throttled) else None
        health = self.book.get(self.mirrors[ref.mirror_index].origin)
        if health.state != "down" and health.retry_at is not None:
            left = (health.retry_at - self.clock()).total_seconds()
            wait = max(wait or 0.0, left)
        return wait or 0.0
