"""One copy of an article fetched from one mirror: asked, checked and extracted. A copy refused as
no article is remembered per mirror, so that an article every mirror refused is not asked for
again (an expired link); a page linked as an article that is a listing of the articles this
pull lists (a section page among its feed's entries) is refused."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from urllib.parse import urlsplit

from lxml import etree

from syndicator.core import identity
from syndicator.core.errors import ExtractError, StoreError
from syndicator.core.models import Page
from syndicator.extract import (
    extraction,
    index_pages,
    listing_pages,
    text_rules,
    validate,
)
from syndicator.mirrors import announced
from syndicator.pull.article_selection import ArticleSelection
from syndicator.pull.mirror_requests import (
    REFUSALS,
    ArticleRef,
    Asked,
    extraction_bug,
)
from syndicator.pull.responses import Response
from syndicator.store.link_records import REFUSED, ExpiredLink

log = logging.getLogger("syndicator.pull")


class CopyFetching(ArticleSelection):
    """One copy of an article asked of its mirror, extracted and judged on its own."""

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
                self._refused_copy(ref, False)
                return None
        if entry is None and (listed := self.sitemap_entries.get(ref.url)):
            entry = dataclasses.replace(listed, link=ref.url)
        got = await self._get(
            ref.mirror_index,
            ref.url,
            "article",
            conditional=False,
            probe=probe,
            asked=asked,
            check=False,
        )
        if got is None:
            self._refused_copy(ref, False)
            return None
        answered, response = got

        def read() -> Page:
            # One parse for the check and all three: the page is checked for a notice (a
            # seizure, a captcha) on the tree extraction reads (the check parsed it on its
            # own, 1.2 ms a page); the links the listing check reads and the addresses the
            # footer announces are taken before extraction cleans the tree (parsing the page
            # again for each took about 2 ms a page).
            tree = extraction.checked_tree(
                response.body,
                response.url,
                header_charset=response.charset,
                reject_if=self.source.reject_if,
            )
            if response.redirects and (away := self._redirected_away(ref.url, response.url)):
                # A mirror that sends an article's URL to its home page or a section (a
                # blocked or removed article): that page is no article, and was stored as one
                # in its place.
                raise ExtractError(
                    response.url, f"redirected from the article to {away}", kind="redirected"
                )
            if isinstance(tree, ExtractError):
                raise tree
            links = self._listing_links(ref.url, response, tree)
            heard = announced.announced_origins(
                response.body, response.url, response.charset, tree=tree
            )
            page = extraction.extract_article(
                response.body,
                response.url,
                header_charset=response.charset,
                rules=self.rules,
                entry=entry,
                tree=tree,
            )
            if links is not None:
                self._refuse_listing(ref.url, response, page, links)
            # Recorded when the copy is taken for the article (`_ok`): a squatter's page
            # that is no copy of it ("moved to" a host of its own) names no mirror.
            self.heard[response.url] = heard
            return page

        try:
            async with self._parsing:
                page = await asyncio.to_thread(read)
        except ExtractError as exc:
            self._failed(answered, "article", exc)
            self._refused_copy(ref, exc.kind in REFUSALS)
            return None
        except Exception as exc:
            self._failed(answered, "article", extraction_bug(response.url, exc))
            self._refused_copy(ref, False)
            return None
        if asked is not None and asked.deferred:
            asked.success = (answered, response)
        else:
            self._ok(answered, response)
        return page

    def _refused_copy(self, ref: ArticleRef, refused: bool) -> None:
        """A copy of an article failed: refused as no article (`REFUSALS`), or otherwise."""
        key = identity.url_key(self._canonical(ref.url))
        held = self.refused.get(key, set())
        self.refused[key] = held | {ref.mirror_index} if refused and held is not None else None

    async def _remember_refused(self, copies: list[ArticleRef]) -> None:
        """An article no mirror gave, refused as no article by every mirror of the source (a
        section's page, a feed, a JSON document linked as an article): remembered as an
        expired link dated `REFUSED`, so that the next pulls do not ask every mirror for it
        again, each refusal one more error, while its listing gives no newer time
        (`_not_expired`). One a mirror was not asked for, or failed otherwise (a timeout, an
        error page), may be the article there: it is asked again."""
        refused = self.refused.get(identity.url_key(self._canonical(copies[0].url)))
        if refused is None or len(refused) < len(self.mirrors):
            return
        stamps = [r.listed_updated for r in copies if r.listed_updated is not None]
        link = ExpiredLink(REFUSED, max(stamps) if stamps else None)
        now = self.clock()
        try:
            for url in sorted({self._canonical(r.url) for r in copies}):
                await self.mirror_store.save_expired_link(url, link, now)
        except StoreError as exc:
            # At worst the next pull asks for it once more.
            log.warning("refused page not remembered", extra={"error": str(exc)})

    def _listing_links(
        self, asked: str, response: Response, tree: etree._Element
    ) -> dict[str, str] | None:
        """The page's links to the site's pages, by site path, for `_refuse_listing`; None
        for a page whose path `article_links` matches: an article, whatever it links."""
        path = self._site_path(response.url)
        matcher = text_rules.rule(self.source.article_links, "article_links")
        try:
            if matcher.search(urlsplit(path).path) or matcher.search(urlsplit(asked).path):
                return None
        except text_rules.RuleTimeout:
            return None
        return {
            self._site_path(link): text
            for link, text in listing_pages.site_links(tree, response.url, self.origins).items()
        }

    def _refuse_listing(
        self, asked: str, response: Response, page: Page, links: dict[str, str]
    ) -> None:
        """Raise ExtractError (`listing`) when the page linked as an article is a listing of
        the articles this pull's entry points list (`index_pages.listing_of`): a section's page
        among its feed's entries (`/Section/iran`, where the section is read from
        `/rss/iran.xml`) was published as an item titled "Iran", its text their headlines.
        `links` are its `_listing_links`."""
        path = self._site_path(response.url)
        own = {path, self._site_path(asked)}
        if (count := index_pages.listing_of(own, links, self.listed_paths, page.body_text)) is None:
            return
        raise ExtractError(
            response.url,
            f"a listing of {count} articles the entry points list (a section's page), "
            "linked as an article: not published",
            kind="listing",
        )
