"""The store on both engines: identity, sections, feeds, validators and concurrent writers."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from syndicator.core.errors import StoreError
from syndicator.store import Store, open_store
from syndicator.store.connect import make_engine

from .engines import candidate

ORIGIN = "https://news.example"


async def test_new_duplicate_and_update(engine_store: Store) -> None:
    first = await engine_store.ingest(candidate(1, sections=("world",)), ORIGIN)
    assert first.outcome == "new"
    assert first.changed_sections == {"world"}
    # the same text under a mirror's URL, listed in another section too
    again = replace(
        candidate(1, sections=("world", "africa")),
        canonical_url="https://mirror.example/Detail/1",
    )
    dup = await engine_store.ingest(again, ORIGIN)
    assert (dup.outcome, dup.guid, dup.changed_sections) == (
        "duplicate",
        first.guid,
        {"africa"},
    )
    # an edit: the same canonical URL with another text keeps the GUID
    edited = replace(candidate(1), content_hash="e" * 64, title="Article number 1, edited")
    upd = await engine_store.ingest(edited, ORIGIN)
    assert (upd.outcome, upd.guid) == ("updated", first.guid)
    items = await engine_store.section_articles("africa", 10)
    assert [(a.guid, a.title, a.sections) for a in items] == [
        (first.guid, "Article number 1, edited", ("africa", "world"))
    ]
    # the old text seen later on a lagging mirror is still the same article
    old = await engine_store.ingest(candidate(1), ORIGIN)
    assert (old.outcome, old.guid) == ("duplicate", first.guid)
    assert await engine_store.aliases_of(first.guid) == [
        "https://mirror.example/Detail/1",
        "https://news.example/Detail/1",
    ]


async def test_section_feed_is_newest_first_and_limited(engine_store: Store) -> None:
    for n in range(1, 13):
        sections = ("even",) if n % 2 == 0 else ("odd",)
        await engine_store.ingest(candidate(n, sections=sections), ORIGIN)
    even = await engine_store.section_articles("even", 4)
    assert [a.title for a in even] == [f"Article number {n}" for n in (12, 10, 8, 6)]
    everything = await engine_store.section_articles("all", 3)
    assert [a.title for a in everything] == [f"Article number {n}" for n in (12, 11, 10)]
    assert await engine_store.section_counts() == {"even": 6, "odd": 6, "all": 12}
    versions = await engine_store.section_versions()
    assert versions == {"even": 6, "odd": 6, "all": 12}


async def test_validators_round_trip(engine_store: Store) -> None:
    first, then = datetime(2026, 3, 4, 10, tzinfo=UTC), datetime(2026, 3, 5, 9, tzinfo=UTC)
    await engine_store.save_validators("https://a.example/feed", '"v1"', None, first)
    await engine_store.save_validators("https://a.example/feed", '"v2"', "Mon, 04 Mar 2024", first)
    assert await engine_store.validators(["https://a.example/feed", "https://b.example/"]) == {
        "https://a.example/feed": ('"v2"', "Mon, 04 Mar 2024", None, first)
    }
    # Where the feed's redirects ended when they were given, when not at the feed; and
    # when the answer that gave them came, in UTC on either engine.
    await engine_store.save_validators(
        "https://a.example/feed", '"v3"', None, then, final_url="https://a.example/feed/"
    )
    await engine_store.save_validators(
        "https://b.example/", '"w1"', None, then, final_url="https://b.example/"
    )
    assert await engine_store.validators(["https://a.example/feed", "https://b.example/"]) == {
        "https://a.example/feed": ('"v3"', None, "https://a.example/feed/", then),
        "https://b.example/": ('"w1"', None, None, then),
    }


async def _ingest_at_once(stores: list[Store], cands: list) -> list[str]:
    """Several writers, each on its own connection pool, ingesting at the same instant."""
    results = await asyncio.gather(
        *(s.ingest(c, ORIGIN) for s, c in zip(stores, cands, strict=True))
    )
    return sorted(r.outcome for r in results)


async def test_two_writers_store_the_same_article_once(engine_url: str) -> None:
    stores = [await open_store(engine_url) for _ in range(2)]
    try:
        for n in range(1, 21):
            same = candidate(n, sections=("world",))
            from_mirror = replace(same, canonical_url=f"https://mirror.example/Detail/{n}")
            assert await _ingest_at_once(stores, [same, from_mirror]) == ["duplicate", "new"]
        assert (await stores[0].section_counts())["all"] == 20
        assert len(await stores[1].section_articles("world", 100)) == 20
    finally:
        for s in stores:
            await s.close()


async def test_same_text_with_another_date_is_still_stored_once(engine_url: str) -> None:
    """Two mirrors give the same text different dates (so different GUIDs): the unique hash
    decides which copy is kept, and the other becomes a duplicate of it."""
    stores = [await open_store(engine_url) for _ in range(2)]
    try:
        for n in range(1, 11):
            a = candidate(n, sections=("world",))
            b = replace(
                a,
                canonical_url=f"https://mirror.example/Detail/{n}",
                published=a.published + timedelta(days=2),
                sections=frozenset({"africa"}),
            )
            assert await _ingest_at_once(stores, [a, b]) == ["duplicate", "new"]
        counts = await stores[0].section_counts()
        assert counts == {"world": 10, "africa": 10, "all": 10}
    finally:
        for s in stores:
            await s.close()


async def test_two_versions_of_one_link_stored_at_once_are_one_item(engine_url: str) -> None:
    """Two nodes store two versions of one article (an edit, seen on one mirror and not yet
    on another) at the same instant: one item, one GUID, the other version its update, as
    when one is stored after the other. PostgreSQL kept both: two items for one link."""
    stores = [await open_store(engine_url) for _ in range(2)]
    try:
        for n in range(1, 21):
            first = candidate(n, sections=("world",))
            edited = replace(
                first,
                content_hash=hashlib.blake2b(f"edited {n}".encode(), digest_size=32).hexdigest(),
                title=f"Edited article number {n}",
            )
            assert await _ingest_at_once(stores, [first, edited]) == ["new", "updated"]
        assert (await stores[0].section_counts())["all"] == 20
        items = await stores[1].section_articles("world", 100)
        assert len(items) == 20
        assert len({a.url for a in items}) == 20
    finally:
        for s in stores:
            await s.close()


async def test_section_feed_rows_carry_the_articles_date(engine_store: Store) -> None:
    """A section listed later keeps the article's own publication date for ordering."""
    old = candidate(1, published=datetime(2020, 1, 1, tzinfo=UTC))
    await engine_store.ingest(old, ORIGIN)
    await engine_store.ingest(candidate(2, sections=("later",)), ORIGIN)
    await engine_store.ingest(replace(old, sections=frozenset({"later"})), ORIGIN)
    later = await engine_store.section_articles("later", 10)
    assert [a.title for a in later] == ["Article number 2", "Article number 1"]


async def test_a_section_change_time_never_goes_back(engine_store: Store) -> None:
    # Writers' clocks differ a little: a change written by a node whose clock is behind must
    # not move the section's last change (its feeds' Last-Modified) back in time.
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    await engine_store.mark_changed(["world"], now=noon)
    versions = await engine_store.section_versions()
    await engine_store.mark_changed(["world"], now=noon - timedelta(seconds=3))
    assert (await engine_store.section_versions())["world"] == versions["world"] + 1
    assert (await engine_store.section_changed_at())["world"] == noon
    await engine_store.mark_changed(["world"], now=noon + timedelta(seconds=1))
    assert (await engine_store.section_changed_at())["world"] == noon + timedelta(seconds=1)


async def test_a_failed_sqlite_connect_leaves_no_thread_behind(tmp_path: Path) -> None:
    # A folder where the database file should be: SQLite cannot open it. aiosqlite's thread
    # for that connection must have ended by the time the error reaches us, or it may call
    # into the event loop after the loop has closed ("Event loop is closed" in a later test).
    folder = tmp_path / "store.db"
    folder.mkdir()
    engine = make_engine(f"sqlite:///{folder}")
    try:
        for _ in range(30):
            before = set(threading.enumerate())
            with pytest.raises(OperationalError):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
            assert left == []
    finally:
        await engine.dispose()


async def test_an_ingest_runs_no_statement_it_does_not_need(engine_store: Store) -> None:
    # Each statement is a trip to the database's driver; the store skips those whose answer it
    # already has: a new article's claimed hash is not inserted again and its (empty) sections
    # are not read; a section's counter row is made only when the section is new; a known
    # article pulled again with the link it already has confirmed repairs nothing.
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(engine_store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        confirmed = replace(candidate(1), link_confirmed=True)
        assert (await engine_store.ingest(confirmed, ORIGIN)).outcome == "new"
        assert statements.count("INSERT INTO ARTICLE_HASHES") == 1
        assert not any(s.startswith("SELECT ARTICLE_SECTIONS.SECTION") for s in statements)
        assert statements.count("INSERT INTO SECTION_VERSIONS") == 2  # all, world: new
        statements.clear()
        assert (
            await engine_store.ingest(replace(candidate(2), link_confirmed=True), ORIGIN)
        ).outcome == "new"
        assert "INSERT INTO SECTION_VERSIONS" not in statements  # both known now
        statements.clear()
        assert (await engine_store.ingest(confirmed, ORIGIN)).outcome == "duplicate"
        assert not any(s.startswith("UPDATE ARTICLES") for s in statements)
        # ... but a link that was not confirmed yet is, and a new one is repaired.
        unconfirmed = candidate(3)
        await engine_store.ingest(unconfirmed, ORIGIN)
        await engine_store.ingest(replace(unconfirmed, link_confirmed=True), ORIGIN)
        moved = replace(unconfirmed, canonical_url="https://news.example/Detail/3b")
        relinked = await engine_store.ingest(replace(moved, link_confirmed=True), ORIGIN)
        assert relinked.relinked
        assert (await engine_store.section_articles("world", 10))[0].url == moved.canonical_url
    finally:
        event.remove(engine_store.engine.sync_engine, "before_cursor_execute", seen)


async def test_a_store_url_that_cannot_be_read_is_named_without_its_password() -> None:
    # The URL was quoted whole: a port mistyped in SYNDICATOR_STORE put the database
    # password into the error, on stderr and in the journal.
    with pytest.raises(StoreError) as refused:
        await open_store("postgresql://feeds:s3cret@db.example:port/feeds")
    said = str(refused.value)
    assert "s3cret" not in said and "cannot read the store URL" in said, said
    assert "***@db.example:port/feeds" in said, said


async def test_a_store_whose_schema_moved_ahead_is_not_written_to(engine_store: Store) -> None:
    # A node running while a newer syndicator upgraded the store wrote into the new schema:
    # pulls, leases and the dates of the documents it served.
    first = await engine_store.document_modified("iran.rss", "digest-1", None)
    assert await engine_store.schema_moved() is None
    async with engine_store.writing() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    said = await engine_store.schema_moved()
    assert said is not None and "revision 9999_newer, which this syndicator" in said
    assert "run that version here too" in said
    # A document whose bytes changed is still served, dated, but its date not kept.
    later = await engine_store.document_modified("iran.rss", "digest-2", None)
    assert later > first
    async with engine_store.engine.connect() as conn:
        kept = await conn.execute(text("SELECT digest FROM published_documents"))
        assert kept.scalars().all() == ["digest-1"]
