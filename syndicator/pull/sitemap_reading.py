"""Sitemap entry points of one pull: a sitemap or sitemap index read from a mirror, the
child sitemaps it names (newest first, bounded), and the article links they list; and what
every listing (sitemap, feed, listing page) lists kept to the site's own links."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.core.models import FeedEntry
from syndicator.core.source_config import EntryPoint
from syndicator.extract import (
    dates,
    sitemaps,
    text_rules,
)
from syndicator.pull.mirror_requests import STALE, MirrorRequests, on_mirror
from syndicator.pull.responses import Response
from syndicator.store.access import MAX_URL
from syndicator.store.link_records import Listed

log = logging.getLogger("syndicator.pull")
# Child sitemaps of one sitemap index read in one pull (the newest first).
MAX_CHILD_SITEMAPS = 50
# Levels of sitemaps read below an index: its own, those of the indexes it names, theirs.
MAX_INDEX_DEPTH = 3
# Links to other sites a listing's one line in the log names (each is logged at debug).
SKIPPED_SAMPLE = 3


class SitemapReading(MirrorRequests):
    # --- what a listing lists ----------------------------------------------------------

    def _own_links(
        self, index: int, listed: list[Listed], listed_at: str, limit: int, setting: str
    ) -> list[Listed]:
        """Links moved onto the mirror that listed them (same paths, other domains, either
        scheme: see `identity.known_origin`), links to other sites dropped, at most `limit`
        of them."""
        mirror = self.mirrors[index]
        sites = self.origins | {mirror.origin}
        own: list[Listed] = []
        elsewhere: list[str] = []
        too_long = 0
        for link, stamp in listed:
            if len(link) > MAX_URL:
                too_long += 1
            elif identity.known_origin(link, sites) is not None:
                own.append((on_mirror(mirror, self._site_path(link)), stamp))
            else:
                elsewhere.append(link)
        self._log_skipped(listed_at, elsewhere, too_long)
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

    def _log_skipped(self, listed_at: str, elsewhere: list[str], too_long: int) -> None:
        """One line at info for the links of a listing that are skipped (how many, and the
        first few to other sites), each of them at debug: a feed with hundreds of links to
        other sites wrote a line for each at info, on every pull, flooding the log."""
        if too_long:
            log.info(
                "%s: %s: skipping %d %s longer than %d characters",
                self.name,
                listed_at,
                too_long,
                "link" if too_long == 1 else "links",
                MAX_URL,
            )
        if not elsewhere:
            return
        sample = ", ".join(elsewhere[:SKIPPED_SAMPLE])
        more = ", ..." if len(elsewhere) > SKIPPED_SAMPLE else ""
        log.info(
            "%s: %s: skipping %d %s: %s%s",
            self.name,
            listed_at,
            len(elsewhere),
            "link to another site" if len(elsewhere) == 1 else "links to other sites",
            sample,
            more,
        )
        for link in elsewhere:
            log.debug("%s: skipping link to another site: %s", self.name, link)

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
                self.validators.update(await self.remembered.validators(wanted))
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
            one = len(children) - len(own) == 1
            log.warning(
                "%s: skipping %d %s not the source's in %s (add the host to the source's"
                " mirrors if it is the site's)",
                self.name,
                len(children) - len(own),
                "sitemap on a host" if one else "sitemaps on hosts",
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
        articles = text_rules.rule(self.source.article_links, "article_links")
        chosen = []
        for item in sitemaps.recent(document.urls, since, now):
            try:
                if articles.search(urlsplit(item.loc).path):
                    chosen.append(item)
            except text_rules.RuleTimeout:
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
        # The entry point itself (not a sitemap an index names): its 404 is judged later.
        point = None if named else (section, entry.path)
        got = await self._get(
            index,
            url,
            "sitemap",
            probe=probe,
            until=self.listings_until,
            named=named,
            entry=point,
        )
        if got is not None and got[1].not_modified:
            stored = (await self.remembered.links([url])).get(url)
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
                entry=point,
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
                answered, f"{section} sitemap", exc, blame=not (named and exc.kind in STALE)
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
        if document.over_limit:
            # Its first entries are read; the operator is told, and the mirror is not failed.
            origin = self.mirrors[answered].origin
            self.report.fail(
                f"{section} sitemap on {origin}: {response.url}: lists more than "
                f"{sitemaps.MAX_SITEMAP_URLS:,} URLs, the sitemaps protocol's most: the first "
                f"{sitemaps.MAX_SITEMAP_URLS:,} are read"
            )
        if document.skipped:
            log.warning(
                "%s: skipping %d %s of %s that %s",
                self.name,
                document.skipped,
                "line" if document.skipped == 1 else "lines",
                response.url,
                "is not an http(s) URL" if document.skipped == 1 else "are not http(s) URLs",
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
        await self.remembered.save_links(url, links, now)
        # A sitemap cut off is read whole again next time, not answered 304 and kept cut.
        if not document.truncated:
            await self.remembered.save_validators(url, response, now)
        return answered, links, []
