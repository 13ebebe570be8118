"""Writing articles: ingest of a candidate (new, update or duplicate, by content hash, URL
and SimHash), its aliases and texts seen, and what retention removes. The sections, their
change counters and arrival numbers, and the notifications other processes wait on are
written by the layer below, `section_writes`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import (
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from syndicator.core import identity
from syndicator.core.errors import StoreError
from syndicator.core.identity import (
    NEAR_DUPLICATE_BITS,
    NEAR_DUPLICATE_MIN_WORDS,
    hamming,
    simhash_bands,
)
from syndicator.core.ingest import Duplicate, Match, Update, decide
from syndicator.core.models import ALL_SECTION, Candidate
from syndicator.store.access import MAX_URL, utc
from syndicator.store.schema import (
    article_aliases,
    article_hashes,
    article_sections,
    article_simhash_bands,
    articles,
)
from syndicator.store.section_writes import SectionWrites
from syndicator.store.statements import (
    CONFIRM_LINK,
    FOREIGN_KEY_GONE,
    MATCH,
    MATCH_NEAR,
    RELINK,
    match_of,
    near_window,
)

Outcome = Literal["new", "updated", "duplicate"]


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    guid: str
    changed_sections: frozenset[str]
    # The stored link was replaced by the candidate's confirmed one (see `_relink`).
    relinked: bool = False


def _hash_inputs(cand: Candidate) -> dict[str, object]:
    """The stored record of how the candidate's hash was made (see migrate.rehash_articles)."""
    return {
        "hash_version": identity.HASH_VERSION,
        "hash_text": cand.hash_text or None,
        "hash_hosts": " ".join(cand.hash_hosts),
    }


class ArticleWrites(SectionWrites):
    # --- ingest ----------------------------------------------------------------------

    async def ingest(
        self,
        cand: Candidate,
        canonical_origin: str,
        now: datetime | None = None,
        *,
        number: bool = True,
        trim: int | None = None,
    ) -> IngestResult:
        """Store a candidate once. A known text is a duplicate; a known URL or a near-duplicate
        text with other content is an update (content replaced, GUID kept); else new.

        `number` false leaves a new article's archive sequence numbers to `number_arrivals`,
        so that the articles of one pull are numbered together, in publication order.
        `trim` (retention.items, or max_items if more): a stored article is not added to a
        section where it would not be among that many newest (see `_add_sections`)."""
        now = now or datetime.now(UTC)
        if len(cand.canonical_url) > MAX_URL:
            # Its URLs are keys of 2,048 characters (the sitemaps.org limit): PostgreSQL refused
            # a longer one while SQLite kept it. Refused alike on both.
            raise StoreError(
                f"store refused article {cand.canonical_url[:100]}...: a link longer than"
                f" {MAX_URL} characters"
            )
        if any(len(alias) > MAX_URL for alias in cand.aliases):
            cand = replace(cand, aliases=frozenset(a for a in cand.aliases if len(a) <= MAX_URL))
        looked_again = False
        while True:
            try:
                async with self.writing(begin_later=True) as conn:
                    return await self._ingest(conn, cand, canonical_origin, now, number, trim)
            except IntegrityError as exc:
                if looked_again or getattr(exc.orig, "sqlstate", None) != FOREIGN_KEY_GONE:
                    raise StoreError(
                        f"store refused article {cand.canonical_url}: {exc.orig}"
                    ) from None
                # PostgreSQL: the article this copy matched was deleted (by retention, on
                # another node) after our lookup and before our rows that point at it were
                # written. Looked up again it is not there, and the copy is stored anew, as
                # it would have been a moment later. (SQLite's one writer never interleaves.)
                looked_again = True
            except DBAPIError as exc:
                if (full := self.full_disk(exc)) is not None:
                    # Every later write would fail alike: the pull stops storing here.
                    raise full from None
                raise StoreError(
                    f"store refused article {cand.canonical_url}: {exc.orig}"
                ) from None
            except (UnicodeError, OverflowError) as exc:
                # A value the driver cannot send (a lone surrogate to SQLite, a number past 64
                # bits): PostgreSQL's driver says so as a DBAPIError; SQLite's raised it bare,
                # which ended the whole pull. Either way it costs this article only.
                raise StoreError(f"store refused article {cand.canonical_url}: {exc}") from None

    async def match(self, cand: Candidate, now: datetime | None = None) -> Match | None:
        """The stored article this candidate is, if any (read only)."""
        now = now or datetime.now(UTC)
        async with self.reading("the article a copy matches") as conn:
            return await self._match(conn, cand, now)

    async def retention_removes(
        self,
        cand: Candidate | None,
        published: datetime,
        *,
        sections: frozenset[str] | None = None,
        keep: int,
        before: datetime | None,
        items: int | None,
        now: datetime | None = None,
    ) -> bool:
        """Whether the retention rules (`retention.prune`) would remove this candidate,
        published at `published`, at their next run were it stored: it is no stored article,
        and either `days` would (published before `before` and not among the `keep` newest of
        any of its sections or of `all`, which that rule spares) or `items` would (not among
        the max(items, keep) newest of any of its sections). Without a candidate (a link a
        pull found expired before, not fetched again), `sections` are the ones it is listed
        in, and the caller knows no stored article is it."""
        now = now or datetime.now(UTC)
        by_days = before is not None and published < before
        if not by_days and items is None:
            return False
        listed = cand.sections if cand is not None else sections or frozenset()
        most = max(keep, items or 0)
        async with self.reading("whether retention would remove an article") as conn:
            if cand is not None and await self._match(conn, cand, now) is not None:
                return False  # stored: an edit or a copy of it goes on as ever
            newer: dict[str, int] = {}
            for section in sorted({*listed, ALL_SECTION}):
                if section == ALL_SECTION:
                    found = select(articles.c.id).where(articles.c.published > published)
                else:
                    found = select(article_sections.c.article_id).where(
                        article_sections.c.section == section,
                        article_sections.c.published > published,
                    )
                counted = select(func.count()).select_from(found.limit(most).subquery())
                newer[section] = int((await conn.execute(counted)).scalar_one())
        by_days = by_days and all(count >= keep for count in newer.values())
        by_items = (
            items is not None and bool(listed) and all(newer[s] >= max(items, keep) for s in listed)
        )
        return by_days or by_items

    async def _match(self, conn: AsyncConnection, cand: Candidate, now: datetime) -> Match | None:
        """Same content hash, else same URL (canonical or alias), else a near-duplicate text
        from the same source published within the window. One round trip: the three index
        lookups are one UNION ALL, ranked here."""
        params: dict[str, object] = {
            "p_hash": cand.content_hash,
            "p_urls": sorted({cand.canonical_url, *cand.aliases}),
        }
        query = MATCH
        if cand.words >= NEAR_DUPLICATE_MIN_WORDS:
            published = utc(cand.published) or now
            query = MATCH_NEAR
            since, until = near_window(published)
            params |= {
                "p_source": cand.source,
                "p_bands": simhash_bands(cand.simhash),
                "p_from": since,
                "p_to": until,
            }
        found = []
        for row in await conn.execute(query, params):
            distance = hamming(row.simhash, cand.simhash) if row.rank == 2 else 0
            if distance <= NEAR_DUPLICATE_BITS:
                found.append((row.rank, distance, row.id, row))
        if not found:
            return None
        rank, _, _, row = min(found, key=lambda f: f[:3])
        return match_of(("hash", "url", "near")[rank], row, now, cand.content_hash)

    async def _ingest(
        self,
        conn: AsyncConnection,
        cand: Candidate,
        canonical_origin: str,
        now: datetime,
        number: bool = True,
        trim: int | None = None,
        again: bool = False,
    ) -> IngestResult:
        """`again`: a second look, after losing a URL to another writer (at most one)."""
        urls = sorted({cand.canonical_url, *cand.aliases})
        found = await self._match(conn, cand, now)
        decision = decide(cand, found, canonical_origin=canonical_origin, now=now)
        relinked = False
        if found is not None:
            await self._add_aliases(conn, found.article_id, urls)
            added = await self._add_sections(conn, found.article_id, cand.sections, trim=trim)
            relinked = await self._relink(conn, found, cand)
        if isinstance(decision, Duplicate):
            assert found is not None
            if decision.remember_text:
                await self._remember_text(conn, found.article_id, cand, found.published)
            if decision.image is not None:
                url, caption = decision.image
                filled = await conn.execute(
                    update(articles)
                    .where(articles.c.id == found.article_id, articles.c.image_url.is_(None))
                    .values(image_url=url, image_caption=caption)
                )
                if filled.rowcount:
                    # The feeds holding it change (its picture), its dates do not.
                    added |= await self._sections_of(conn, found.article_id)
            if relinked:
                # The feeds holding it change (its link), its dates do not.
                added |= await self._sections_of(conn, found.article_id)
            await self._bump(conn, added, now, number=number)
            return IngestResult("duplicate", found.guid, frozenset(added), relinked)
        if isinstance(decision, Update):
            assert found is not None
            await conn.execute(
                update(articles)
                .where(articles.c.id == found.article_id)
                .values(
                    title=cand.title,
                    summary=cand.summary,
                    content_html=cand.content_html,
                    content_hash=cand.content_hash,
                    simhash=cand.simhash,
                    **_hash_inputs(cand),
                    updated=decision.updated,
                    page_updated=decision.page_updated,
                    author=cand.author,
                    image_url=cand.image_url,
                    image_caption=cand.image_caption,
                )
            )
            await self._remember_text(conn, found.article_id, cand, found.published)
            sections = await self._sections_of(conn, found.article_id)
            await self._bump(conn, sections, now, number=number)
            return IngestResult("updated", found.guid, frozenset(sections), relinked)

        guid, published = decision.guid, decision.published
        result = await conn.execute(
            self._new_article,
            {
                "guid": guid,
                "source": cand.source,
                "url": cand.canonical_url,
                "title": cand.title,
                "summary": cand.summary,
                "content_html": cand.content_html,
                "content_hash": cand.content_hash,
                "simhash": cand.simhash,
                **_hash_inputs(cand),
                "published": published,
                "updated": decision.updated,
                "page_updated": decision.page_updated,
                "first_seen": now,
                "author": cand.author,
                "image_url": cand.image_url,
                "image_caption": cand.image_caption,
                "language": cand.language,
                "link_confirmed": cand.link_confirmed,
            },
        )
        article_id = result.scalar_one_or_none()
        if article_id is None:  # another writer stored the same article a moment ago
            article_id = (
                await conn.execute(select(articles.c.id).where(articles.c.guid == guid))
            ).scalar_one()
            return await self._duplicate(conn, article_id, guid, urls, cand.sections, now, number)
        claimed = await conn.execute(
            self._claim_hash, {"hash": cand.content_hash, "article_id": article_id}
        )
        if claimed.first() is None:
            # Another writer stored the same text under another GUID (a mirror that gave
            # another date) and committed first: the hash's unique key decides, ours goes.
            await conn.execute(delete(articles).where(articles.c.id == article_id))
            winner = (
                await conn.execute(
                    select(articles.c.id, articles.c.guid)
                    .join(article_hashes, article_hashes.c.article_id == articles.c.id)
                    .where(article_hashes.c.hash == cand.content_hash)
                )
            ).one()
            return await self._duplicate(
                conn, winner.id, winner.guid, urls, cand.sections, now, number
            )
        claimed_urls = await conn.execute(
            self._claim_url, [{"url": u, "article_id": article_id} for u in urls]
        )
        if len(claimed_urls.all()) < len(urls) and not again:
            # Another writer stored an article under one of these URLs and committed after
            # our lookup: another version of its text (an edit, from another mirror or
            # source) that another node was storing at the same moment. Ours goes, and the
            # candidate is looked up again: it now finds that article and updates it, as
            # it would had the other been stored first. Without this, PostgreSQL kept both,
            # two items with two GUIDs for one link.
            await conn.execute(delete(articles).where(articles.c.id == article_id))
            return await self._ingest(conn, cand, canonical_origin, now, number, trim, again=True)
        # The hash and URLs are claimed and the article has no section yet: statements fewer.
        await self._remember_text(conn, article_id, cand, published, hash_stored=True)
        added = await self._add_sections(conn, article_id, cand.sections, have=set())
        await self._bump(conn, added, now, number=number)
        return IngestResult("new", guid, frozenset(added))

    async def _relink(self, conn: AsyncConnection, found: Match, cand: Candidate) -> bool:
        """Repair a stored article's link from a candidate whose link is confirmed (its page's
        rel=canonical, or the canonical origin served it): only the link changes, never the
        GUID or the dates. True when the link changed. A link stored and confirmed already
        (the common case: the same article pulled again) costs no statement."""
        if not cand.link_confirmed or (found.url == cand.canonical_url and found.link_confirmed):
            return False
        changed = await conn.execute(
            RELINK, {"p_article": found.article_id, "p_url": cand.canonical_url}
        )
        if changed.rowcount:
            return True
        await conn.execute(CONFIRM_LINK, {"p_article": found.article_id})
        return False

    async def _duplicate(
        self,
        conn: AsyncConnection,
        article_id: int,
        guid: str,
        urls: Iterable[str],
        sections: Iterable[str],
        now: datetime,
        number: bool = True,
    ) -> IngestResult:
        await self._add_aliases(conn, article_id, urls)
        added = await self._add_sections(conn, article_id, sections)
        await self._bump(conn, added, now, number=number)
        return IngestResult("duplicate", guid, frozenset(added))

    async def _remember_text(
        self,
        conn: AsyncConnection,
        article_id: int,
        cand: Candidate,
        published: datetime,
        *,
        hash_stored: bool = False,
    ) -> None:
        """Keep this text's hash (unless `hash_stored`), and its SimHash bands when it is long
        enough to compare."""
        if not hash_stored:
            await conn.execute(
                self._insert_ignore(article_hashes),
                {"hash": cand.content_hash, "article_id": article_id},
            )
        if cand.words < NEAR_DUPLICATE_MIN_WORDS:
            return
        await conn.execute(
            self._insert_ignore(article_simhash_bands),
            [
                {
                    "article_id": article_id,
                    "simhash": cand.simhash,
                    "band_key": key,
                    "source": cand.source,
                    "published": published,
                }
                for key in simhash_bands(cand.simhash)
            ],
        )

    async def _add_aliases(
        self, conn: AsyncConnection, article_id: int, urls: Iterable[str]
    ) -> None:
        rows = [{"url": u, "article_id": article_id} for u in urls]
        if rows:
            await conn.execute(self._insert_ignore(article_aliases), rows)
