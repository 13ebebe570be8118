"""The statements article writes run, built once: matching a candidate to a stored article
(by content hash, URL, or SimHash within a band of publication times), relinking, numbering
arrivals, bumping section versions, and the notifications other processes listen for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    case,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from syndicator.core.identity import (
    NEAR_DUPLICATE_WINDOW,
)
from syndicator.core.ingest import How, Match
from syndicator.core.models import ALL_SECTION
from syndicator.store.access import utc
from syndicator.store.schema import (
    article_aliases,
    article_hashes,
    article_sections,
    article_simhash_bands,
    articles,
    section_versions,
)

# The statements of an ingest, built once: building SQLAlchemy expressions on every ingest
# was most of `Store.ingest`'s own time on real pages. Bound parameters are named `p_*`,
# apart from the columns an INSERT or UPDATE sets.
_MATCH_COLS = (
    articles.c.id,
    articles.c.guid,
    articles.c.updated,
    articles.c.published,
    articles.c.url,
    articles.c.link_confirmed,
    articles.c.content_hash,
    articles.c.page_updated,
    articles.c.summary,
    articles.c.author,
    articles.c.image_url,
    articles.c.image_caption,
)


_BY_HASH = (
    select(*_MATCH_COLS, literal_column("0", Integer).label("rank"), articles.c.simhash)
    .join(article_hashes, article_hashes.c.article_id == articles.c.id)
    .where(article_hashes.c.hash == bindparam("p_hash"))
)


_BY_URL = (
    select(*_MATCH_COLS, literal_column("1", Integer).label("rank"), articles.c.simhash)
    .join(article_aliases, article_aliases.c.article_id == articles.c.id)
    .where(article_aliases.c.url.in_(bindparam("p_urls", expanding=True)))
)


_WHEN = article_simhash_bands.c.published.type


_BY_BAND = (
    select(
        *_MATCH_COLS, literal_column("2", Integer).label("rank"), article_simhash_bands.c.simhash
    )
    .join(article_simhash_bands, article_simhash_bands.c.article_id == articles.c.id)
    .where(
        article_simhash_bands.c.source == bindparam("p_source"),
        article_simhash_bands.c.band_key.in_(bindparam("p_bands", expanding=True)),
        article_simhash_bands.c.published.between(
            bindparam("p_from", type_=_WHEN), bindparam("p_to", type_=_WHEN)
        ),
    )
)


MATCH = union_all(_BY_HASH, _BY_URL)


MATCH_NEAR = union_all(_BY_HASH, _BY_URL, _BY_BAND)


RELINK = (
    update(articles)
    .where((articles.c.id == bindparam("p_article")) & (articles.c.url != bindparam("p_url")))
    .values(url=bindparam("p_url"), link_confirmed=True)
)


CONFIRM_LINK = (
    update(articles)
    .where((articles.c.id == bindparam("p_article")) & articles.c.link_confirmed.is_(False))
    .values(link_confirmed=True)
)


NOTIFY = text("SELECT pg_notify(:channel, :sections)")


# PostgreSQL refuses a notification whose payload is 8,000 bytes or more.
NOTIFY_PAYLOAD_MAX = 7999


def notify_payloads(names: Sequence[str]) -> list[str]:
    """The section names, comma-separated, in as few notification payloads as fit under
    PostgreSQL's limit. A change of hundreds of sections at once (retention, a new feed
    title) in one payload failed with "payload string too long", and with it the change."""
    payloads: list[str] = []
    current = ""
    for name in names:
        joined = f"{current},{name}" if current else name
        if current and len(joined.encode()) > NOTIFY_PAYLOAD_MAX:
            payloads.append(current)
            joined = name
        current = joined
    return [*payloads, current] if current else payloads


# PostgreSQL's SQLSTATE for a row that points at a row that is not there (foreign_key_violation).
FOREIGN_KEY_GONE = "23503"


_EARLIEST = datetime.min.replace(tzinfo=UTC)


_LATEST = datetime.max.replace(tzinfo=UTC)


def near_window(published: datetime) -> tuple[datetime, datetime]:
    """The publication times a near-duplicate of an article published at `published` may
    have: NEAR_DUPLICATE_WINDOW either side, within the times Python has (a page dated
    0001-01-01 raised OverflowError here, which ended the whole pull on every retry)."""
    try:
        since = published - NEAR_DUPLICATE_WINDOW
    except OverflowError:
        since = _EARLIEST
    try:
        until = published + NEAR_DUPLICATE_WINDOW
    except OverflowError:
        until = _LATEST
    return since, until


def match_of(how: How, row: Any, now: datetime, content_hash: str) -> Match:
    return Match(
        how,
        row.id,
        row.guid,
        utc(row.updated) or now,
        utc(row.published) or now,
        row.url,
        bool(row.link_confirmed),
        current_text=row.content_hash == content_hash,
        page_updated=utc(row.page_updated),
        shown=(row.summary, row.author, row.image_url, row.image_caption),
    )


# The statements of `bump_versions`, built once: building them on every ingest (SQLAlchemy's
# expression objects) was 40% of `Store.ingest` on real pages. Bound parameters are named
# `p_*`, apart from the columns they set.
_UNNUMBERED_ALL = (
    select(articles.c.id)
    .where(articles.c.all_seq.is_(None))
    .order_by(articles.c.published, articles.c.id)
)


_UNNUMBERED_IN = (
    select(article_sections.c.article_id)
    .where(article_sections.c.section == bindparam("p_section"), article_sections.c.seq.is_(None))
    .order_by(article_sections.c.published, article_sections.c.article_id)
)


_NOW = bindparam("p_now", type_=section_versions.c.changed_at.type)


_COUNT = (
    update(section_versions)
    .where(section_versions.c.section == bindparam("p_section"))
    .values(version=section_versions.c.version + 1)
    .returning(section_versions.c.last_seq)
)


# The config of digest p_digest is the last to change the section (see record_config_change).
CLAIM_CONFIG = (
    update(section_versions)
    .where(
        section_versions.c.section == bindparam("p_section"),
        section_versions.c.config_digest.is_distinct_from(bindparam("p_digest")),
    )
    .values(config_digest=bindparam("p_digest"))
    .returning(section_versions.c.section)
)


# Never back in time (writers' clocks differ a little): Last-Modified of the section's feeds
# must not go backwards.
_COUNT_AND_TIME = _COUNT.values(
    changed_at=case(
        (section_versions.c.changed_at > _NOW, section_versions.c.changed_at), else_=_NOW
    )
)


# The numbers of the articles that joined, taken under the lock the count took.
_TAKE_NUMBERS = (
    update(section_versions)
    .where(section_versions.c.section == bindparam("p_section"))
    .values(last_seq=section_versions.c.last_seq + bindparam("p_joined", type_=BigInteger))
    .returning(section_versions.c.last_seq)
)


_NUMBER_ALL = (
    update(articles)
    .where(articles.c.id == bindparam("p_article"))
    .values(all_seq=bindparam("p_seq"))
)


_NUMBER_IN = (
    update(article_sections)
    .where(
        article_sections.c.section == bindparam("p_section"),
        article_sections.c.article_id == bindparam("p_article"),
    )
    .values(seq=bindparam("p_seq"))
)


async def bump_versions(
    conn: AsyncConnection,
    insert_ignore: Any,
    names: Sequence[str],
    now: datetime,
    *,
    changed_at: bool = True,
    number: bool = True,
) -> None:
    """Move the change counter of each section (in name order, so writers never deadlock),
    and its last-changed time when `changed_at`, and, when `number`, number the articles
    that joined it without a number (archive sequence, see schema): oldest publication
    first, ties in the order they were stored.

    The section's counter row is locked (by the update that counts the change) before the
    articles without a number are read, so two writers never number the same articles:
    on PostgreSQL each statement reads what was committed when it began, and a writer
    that read them before it waited for the lock would number again, under new numbers,
    what the other had just numbered, leaving holes in archive pages already complete
    (SQLite has one writer at a time anyway). `insert_ignore` is the dialect's
    INSERT ... ON CONFLICT DO NOTHING of section_versions."""
    for name in names:
        count = _COUNT_AND_TIME if changed_at else _COUNT
        params = {"p_section": name, "p_now": now}
        last = (await conn.execute(count, params)).scalar_one_or_none()
        if last is None:
            # The section's first change: its counter row is made, then counted. (Made only
            # then, not before every count: one statement a section fewer on every ingest.)
            await conn.execute(insert_ignore, {"section": name, "version": 0, "changed_at": now})
            last = (await conn.execute(count, params)).scalar_one()
        if not number:
            continue
        unnumbered = _UNNUMBERED_ALL if name == ALL_SECTION else _UNNUMBERED_IN
        joined = list((await conn.execute(unnumbered, {"p_section": name})).scalars())
        if not joined:
            continue
        last = (
            await conn.execute(_TAKE_NUMBERS, {"p_section": name, "p_joined": len(joined)})
        ).scalar_one()
        first = last - len(joined) + 1
        await conn.execute(
            _NUMBER_ALL if name == ALL_SECTION else _NUMBER_IN,
            [
                {"p_section": name, "p_article": article_id, "p_seq": seq}
                for seq, article_id in enumerate(joined, start=first)
            ],
        )
