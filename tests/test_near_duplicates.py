"""Identity in the store: near-duplicate texts found through indexed SimHash bands, within one
source and a publication window, and never by scanning."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from syndicator.core import identity
from syndicator.core.models import Candidate
from syndicator.store import Store

from .corpus.stories import STORIES

WHEN = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


def candidate(
    key: str = "wp-harbour",
    url: str = "https://www.news.example/a/1",
    body: str | None = None,
    source: str = "news",
    published: datetime = WHEN,
    updated: datetime | None = None,
) -> Candidate:
    story = STORIES[key]
    body = body if body is not None else story.expected_text()
    words = len(identity.tokens(story.title + "\n" + body))
    return Candidate(
        source=source,
        canonical_url=url,
        content_hash=identity.content_hash(story.title, body),
        simhash=identity.simhash(story.title + "\n" + body),
        title=story.title,
        summary=body[:100],
        content_html=f"<p>{body}</p>",
        published=published,
        updated=updated,
        author=None,
        image_url=None,
        image_caption=None,
        language=story.lang,
        sections=frozenset({"news"}),
        words=words,
    )


def retouched(body: str, old: str, new: str) -> str:
    assert old in body
    return body.replace(old, new, 1)


def close_variant(old: str = "eleven to two", new: str = "eleven to 2") -> str:
    """The harbour story with a word or two corrected: a typo fix."""
    body = retouched(STORIES["wp-harbour"].expected_text(), old, new)
    a = identity.simhash(STORIES["wp-harbour"].title + "\n" + STORIES["wp-harbour"].expected_text())
    b = identity.simhash(STORIES["wp-harbour"].title + "\n" + body)
    assert 0 < identity.hamming(a, b) <= identity.NEAR_DUPLICATE_BITS
    return body


async def test_near_duplicate_under_another_url_is_an_update_of_the_same_item(store: Store) -> None:
    first = await store.ingest(candidate(), "https://www.news.example")
    other = candidate(url="https://www.news.example/a/1-renamed", body=close_variant())
    result = await store.ingest(other, "https://www.news.example")
    assert (first.outcome, result.outcome) == ("new", "updated")
    assert result.guid == first.guid
    assert "https://www.news.example/a/1-renamed" in await store.aliases_of(first.guid)
    articles = await store.section_articles("news", 10)
    assert len(articles) == 1 and "eleven to 2" in articles[0].content_html


async def test_near_duplicates_match_only_within_the_source_and_the_window(store: Store) -> None:
    await store.ingest(candidate(), "https://www.news.example")
    elsewhere = candidate(url="https://other.example/a/9", body=close_variant(), source="other")
    later = candidate(
        url="https://www.news.example/a/2",
        body=close_variant("Monday night", "Monday evening"),
        published=WHEN + timedelta(days=4),
    )
    assert (await store.ingest(elsewhere, "https://other.example")).outcome == "new"
    assert (await store.ingest(later, "https://www.news.example")).outcome == "new"


async def test_different_articles_sharing_paragraphs_stay_apart(store: Store) -> None:
    harbour = await store.ingest(candidate("wp-harbour"), "https://www.news.example")
    followup = await store.ingest(
        candidate(
            "wp-followup", url="https://www.news.example/a/2", published=WHEN + timedelta(days=1)
        ),
        "https://www.news.example",
    )
    assert followup.outcome == "new" and followup.guid != harbour.guid


async def test_short_texts_are_never_matched_as_near_duplicates(store: Store) -> None:
    short = "The ferry to Carrow runs again from Monday, the operator said."
    await store.ingest(candidate(body=short), "https://www.news.example")
    nearly = candidate(url="https://www.news.example/a/3", body=short.replace("Monday", "Tuesday"))
    assert nearly.words < identity.NEAR_DUPLICATE_MIN_WORDS
    assert (await store.ingest(nearly, "https://www.news.example")).outcome == "new"


async def test_an_older_version_from_a_lagging_mirror_changes_nothing(store: Store) -> None:
    story = STORIES["wp-harbour"]
    await store.ingest(candidate(updated=WHEN + timedelta(hours=2)), "https://www.news.example")
    old = candidate(
        url="https://mirror.example/a/1",
        body=retouched(story.expected_text(), "eleven to two", "ten to three"),
        updated=WHEN + timedelta(hours=1),
    )
    old = dataclasses.replace(old, canonical_url="https://www.news.example/a/1")
    assert (await store.ingest(old, "https://www.news.example")).outcome == "duplicate"
    article = (await store.section_articles("news", 10))[0]
    assert "eleven to two" in article.content_html
    assert article.updated == WHEN + timedelta(hours=2)


async def test_the_identity_lookup_reads_indexes_and_never_scans(store: Store) -> None:
    await store.ingest(candidate(), "https://www.news.example")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "article_simhash_bands" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        await store.match(candidate(url="https://www.news.example/a/5", body=close_variant()))
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    assert len(seen) == 1
    statement, params = seen[0]
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        cursor = await raw.driver_connection.execute("EXPLAIN QUERY PLAN " + statement, params)
        plan = " ".join(str(row[-1]) for row in await cursor.fetchall())
    # one round trip: hash, URL and SimHash band lookups, each an index search
    assert "USING INDEX ix_article_simhash_bands_lookup" in plan, plan
    assert "article_hashes USING INDEX" in plan and "article_aliases USING INDEX" in plan, plan
    assert "SCAN" not in plan, plan


@settings(max_examples=200, deadline=None)
@given(
    value=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    flips=st.sets(st.integers(min_value=0, max_value=63), max_size=identity.NEAR_DUPLICATE_BITS),
)
def test_values_within_the_threshold_share_a_band(value: int, flips: set[int]) -> None:
    other = value
    for bit in flips:
        other ^= 1 << bit
    other = other - (1 << 64) if other >= 1 << 63 else other
    other = other + (1 << 64) if other < -(1 << 63) else other
    assert identity.hamming(value, other) == len(flips)
    assert set(identity.simhash_bands(value)) & set(identity.simhash_bands(other))
