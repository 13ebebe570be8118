"""SQLite and PostgreSQL keep and give back the same: what a comparison of the two stores on
the same pulls found them doing differently, and what failed on both."""

from __future__ import annotations

import dataclasses
import os
import random
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.mirrors.health import MirrorHealth, MirrorPull
from syndicator.publish.pages import DAYS, timeline
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store, open_store
from syndicator.store.connect import make_engine
from syndicator.store.health import MirrorStore
from syndicator.store.integrity import check_integrity

from .engines import POSTGRES_ENV, candidate
from .sites import Site
from .test_config import GOOD, problems

ORIGIN = "https://news.example"
WORDS = " ".join(f"word{n}" for n in range(60))  # past the near-duplicate minimum


@pytest.mark.parametrize(
    "published",
    [datetime(1, 1, 1, 12, tzinfo=UTC), datetime(9999, 12, 31, 12, tzinfo=UTC)],
    ids=["year-1", "year-9999"],
)
async def test_a_page_dated_at_the_ends_of_time_is_stored(
    engine_store: Store, published: datetime
) -> None:
    # The near-duplicate window (3 days either side) ran past the times Python has: an
    # OverflowError ended the whole pull, again on every retry while the page was listed.
    first = dataclasses.replace(candidate(1, published=published), words=len(WORDS.split()))
    result = await engine_store.ingest(first, ORIGIN, now=datetime(2024, 3, 1, tzinfo=UTC))
    assert result.outcome == "new"
    # 0001-01-01 is a CMS's empty date, not believed: the GUID has the day it was stored
    # (and RFC 4151's four-digit year; "1-01-01" was no tag date).
    if published.year < 2000:
        assert ",2024-03-01:" in result.guid, result.guid


async def test_a_link_longer_than_the_store_keeps_is_refused_on_both_engines(
    engine_store: Store,
) -> None:
    # PostgreSQL refused such an article (its URL keys hold 2,048 characters) while SQLite
    # kept it: the feeds of the two stores differed.
    long = f"{ORIGIN}/Detail/{'a' * 2048}"
    with pytest.raises(StoreError, match="a link longer than 2048 characters"):
        await engine_store.ingest(candidate(1, url=long), ORIGIN)
    # An alias that long is dropped; the article is kept under its own link.
    kept = dataclasses.replace(candidate(2), aliases=frozenset({long}))
    result = await engine_store.ingest(kept, ORIGIN)
    assert result.outcome == "new"
    assert await engine_store.aliases_of(result.guid) == [f"{ORIGIN}/Detail/2"]


async def test_a_sitemap_longer_than_the_store_keeps_is_read_not_remembered(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
) -> None:
    """A sitemap index names a sitemap whose URL is longer than the 2,048 characters the
    store keeps as a key: its links and validators are not remembered (it is asked again
    in full next time), on both engines. PostgreSQL refused the row, and the error ended
    every pull of the source ("store refused entry point links: value too long"), while
    SQLite kept it."""
    day = f"{site.articles[0].published:%Y-%m-%d}"
    long_path = f"/sitemap/north-africa/{'x' * 2100}.xml"
    site.sitemap_aliases[long_path] = ("north-africa", day)
    yaml = site.config_yaml(engine_url, sections=("north-africa",)).replace(
        "north-africa: {feed: /rss/north-africa.xml}",
        "north-africa: {sitemap: /sitemap/north-africa.xml}",
    )
    config = write_config(yaml)
    for _ in range(2):
        report = await pull_source("news", config, fetcher, engine_store)
        assert (report.failed, report.errors) == (0, [])
    listed = [a for a in site.articles if "north-africa" in a.sections]
    assert (await engine_store.section_counts())["north-africa"] == len(listed)
    asked = [r.path for r in site.mirrors[0].requests if r.path == long_path]
    assert len(asked) == 2


async def test_a_value_the_driver_cannot_send_costs_that_article_only(engine_store: Store) -> None:
    # A lone surrogate reached SQLite's driver as a bare UnicodeEncodeError, which ended the
    # whole pull; PostgreSQL's said so as a store error.
    broken = candidate(1, title="Harbour \ud800 wall")
    with pytest.raises(StoreError, match="store refused article"):
        await engine_store.ingest(broken, ORIGIN)
    assert (await engine_store.ingest(candidate(2), ORIGIN)).outcome == "new"


async def test_an_articles_sections_come_in_code_point_order_on_both_engines(
    engine_store: Store,
) -> None:
    names = ("ab", "a_b", "a0", "a-b")
    if engine_store.is_postgres:
        # A server made with an en_US locale sorts `a_b` before `a-b`; the categories of
        # every feed followed the database's collation.
        async with engine_store.writing() as conn:
            await conn.execute(
                text(
                    "ALTER TABLE article_sections ALTER COLUMN section"
                    ' TYPE varchar(100) COLLATE "en-US-x-icu"'
                )
            )
    result = await engine_store.ingest(candidate(1, sections=names), ORIGIN)
    (article,) = await engine_store.section_articles("ab", 10)
    assert list(article.sections) == sorted(names) == ["a-b", "a0", "a_b", "ab"]
    (sliced,) = await engine_store.section_slice("ab", 1, 1)
    assert list(sliced.sections) == sorted(names)
    assert result.outcome == "new"


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("north-africa", "n" * 101, "at most 100 characters"),
        ("presstv:", "p" * 101 + ":", "at most 100 characters"),
        # A host name (labels of at most 63 octets) of 107 characters: the store keeps 100.
        (
            "https://www.presstv.ir",
            f"https://{'w' * 60}.{'n' * 35}.presstv.ir",
            "at most 100 characters",
        ),
    ],
    ids=["section", "source", "canonical host"],
)
def test_names_longer_than_the_store_keeps_are_refused_in_the_config(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    found = problems(tmp_path, GOOD.replace(old, new))
    assert any(words in p for p in found), found


async def test_db_check_reads_a_whole_store_on_both_engines_and_names_orphans(
    engine_url: str,
    engine_store: Store,
) -> None:
    for n in range(1, 4):
        await engine_store.ingest(candidate(n, sections=("world", "sport")), "https://news.example")
    report = await check_integrity(engine_store)
    assert (report.ok, report.problems) == (True, [])
    assert report.engine == ("postgresql" if engine_store.is_postgres else "sqlite")
    if engine_store.is_postgres:
        return  # PostgreSQL enforces its foreign keys: no orphan can be written
    # SQLite enforces foreign keys only where a connection asks: a tool that did not
    # (the sqlite3 shell, by default) can leave listings whose article is gone.
    with sqlite3.connect(engine_url.removeprefix("sqlite:///")) as db:
        db.execute("DELETE FROM articles WHERE id = 2")
    report = await check_integrity(engine_store)
    assert not report.ok
    orphans = [p for p in report.problems if p.endswith("names a missing row of articles")]
    tables = {p.split(" of ")[1].split()[0] for p in orphans}
    # (these short test articles have too few words for SimHash bands)
    assert tables == {"article_sections", "article_hashes", "article_aliases"}, report.problems


@pytest.mark.parametrize(
    "now",
    [
        datetime(2024, 3, 9, 12, 34, 56, 789000, tzinfo=UTC),
        # A `now` whose hour edges SQLite's julianday placed in the hour before (review).
        datetime(2024, 2, 21, 14, 54, 43, 445000, tzinfo=UTC),
        datetime(2024, 2, 21, 14, 0, 0, tzinfo=UTC),
    ],
)
async def test_the_dashboards_hourly_history_draws_what_every_pull_drew(
    engine_store: Store, now: datetime
) -> None:
    """The mirror dashboard reads each mirror's pulls summed per hour in the database (rows
    bounded by mirrors times hours, not by how often sources are pulled): its timelines and
    the time of each mirror's last error are the very ones drawn from every pull."""
    mirrors = MirrorStore(engine_store)
    rng = random.Random(7)
    since = now - timedelta(days=DAYS)
    moments = [now - timedelta(hours=rng.uniform(-2, DAYS * 24 + 5)) for _ in range(300)]
    # On each hour's edge, and a millisecond either side (dates to the millisecond: SQLite
    # places an hour's edge no finer).
    for k in range(0, DAYS * 24, 7):
        edge = since + timedelta(hours=k)
        moments += [edge, edge - timedelta(milliseconds=1), edge + timedelta(milliseconds=1)]
    for n, at in enumerate(moments):
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        pulls = [
            MirrorPull(
                source="news",
                mirror=mirror,
                successes=rng.randrange(4),
                failures=rng.randrange(3) if n % 3 else 0,
                latency=rng.choice([None, rng.uniform(0.01, 2.0)]),
                state="healthy",
            )
            for mirror in ("https://a.example", "https://b.example")
        ]
        await mirrors.save_history(pulls, at)
    every = await mirrors.history(since)
    hourly = await mirrors.hourly_history(since, DAYS * 24)
    assert len(hourly) < len(every)
    for mirror in ("https://a.example", "https://b.example"):
        drawn = [
            timeline([p for p in rows if p.mirror == mirror], now, "x") for rows in (every, hourly)
        ]
        assert drawn[0] == drawn[1]
        last_error = [
            max(p.at for p in rows if p.mirror == mirror and p.failures and p.at and p.at < now)
            for rows in (every, hourly)
        ]
        assert last_error[0] == last_error[1]


async def test_db_check_of_a_store_that_does_not_answer_is_an_error_not_damage(
    engine_store: Store, tmp_path: Path
) -> None:
    """A PostgreSQL server restarting during the check was reported as a damaged store, with
    the advice to restore it from a backup."""
    good = engine_store.engine
    gone = (
        "postgresql://postgres@127.0.0.1:1/test"
        if engine_store.is_postgres
        else f"sqlite:///{tmp_path}"  # a folder: SQLite cannot open it
    )
    engine_store.engine = make_engine(gone)
    try:
        with pytest.raises(StoreError, match="store could not read"):
            await check_integrity(engine_store)
    finally:
        await engine_store.engine.dispose()
        engine_store.engine = good


# Ordered differently by code point (SQLite, a C collation) and by a linguistic collation
# (en-US: punctuation before digits), as a PostgreSQL database made with an en_US locale
# orders its text.
ORIGINS = ["http://127.0.0.1:8080", "http://127.0.0.10:80"]
SOURCES = ["news2", "news_2"]


@pytest.fixture(params=["sqlite", "postgresql en-US"])
async def collated_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store on SQLite, or on a PostgreSQL database whose default collation is en-US
    (ICU), made for the test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL cases")
    name = f"test_{os.getpid()}_{secrets.token_hex(4)}_en_us"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(
            f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_mirror_rows_come_in_code_point_order_whatever_the_collation(
    collated_url: str,
) -> None:
    """`syndicate mirrors`, `/api/mirrors` and the dashboard list mirrors and discovered
    hosts in one order on both engines, and the link target among equally healthy adopted
    mirrors is the same. PostgreSQL sorted them by the database's collation: on a database
    made with an en_US locale, another order than SQLite's."""
    store = await open_store(collated_url)
    try:
        mirrors = MirrorStore(store)
        now = datetime(2024, 3, 1, tzinfo=UTC)
        await mirrors.save_health(
            [MirrorHealth(source, origin) for source in SOURCES for origin in ORIGINS], now
        )
        for source in SOURCES:
            await mirrors.note_candidates(source, {o: f"{o}/page" for o in ORIGINS}, now)
        expected = sorted((source, origin) for source in SOURCES for origin in ORIGINS)
        assert [(h.source, h.mirror) for h in await mirrors.health()] == expected
        assert [(d.source, d.origin) for d in await mirrors.discovered()] == expected
        assert [h.mirror for h in await mirrors.health("news2")] == sorted(ORIGINS)
    finally:
        await store.close()
