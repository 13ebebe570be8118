"""The store at scale, on SQLite and on PostgreSQL.

Loads synthetic articles in batches (multi-row inserts on SQLite, COPY on PostgreSQL) and, at
10k, 100k and 1M stored, measures what the service does per article: the full ingest of a new
article (dedupe check, insert, hashes, URLs, sections, change counters), the dedupe lookup by
content hash, the ingest of a duplicate, and the section-feed query; then bytes on disk per
article and the peak memory of this process. Prints the query plans of the section feed, the
dedupe lookup and the lease claim at the largest size.

    python bench/store.py                      # 50,000 articles on both engines (2-3 min)
    python bench/store.py --articles 1000000   # the full run
    python bench/store.py --engine sqlite --articles 1000000

PostgreSQL: --postgres URL or SYNDICATOR_TEST_POSTGRES; the bench works in a schema of its
own and drops it at the end. Without a URL the PostgreSQL run is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import resource
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from syndicator.core.identity import make_guid
from syndicator.core.models import Candidate
from syndicator.store import Store, open_store
from syndicator.store.plans import explain, statements
from syndicator.store.schema import (
    NUMBER_BULK_LOADED_SECTIONS,
    article_aliases,
    article_hashes,
    article_sections,
    articles,
    source_leases,
)

SIZES = (10_000, 100_000, 1_000_000)
SECTIONS = [f"section-{i}" for i in range(10)]
ORIGIN = "https://news.example"
MIRROR = "https://mirror.example"
BASE = datetime(2022, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
BATCH = 5_000
INGESTS = 300
LOOKUPS = 2_000
DUPLICATES = 300
FEED_QUERIES = 30
# Ids of the articles the service itself stores during the bench start here, clear of the
# synthetic ones loaded with explicit ids.
SERVICE_IDS = 1_000_000_000

rng = random.Random(20240301)
WORDS = [
    "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 11))) for _ in range(6000)
]


def content_hash(i: int) -> str:
    return hashlib.blake2b(f"article {i}".encode(), digest_size=32).hexdigest()


def published(i: int, total: int) -> datetime:
    if i >= SERVICE_IDS:  # stored during the bench: newer than every loaded article
        return BASE + SPAN + timedelta(seconds=i - SERVICE_IDS)
    return BASE + SPAN * (i / max(total, 1)) + timedelta(seconds=i % 97)


def body(i: int) -> tuple[str, str, str]:
    r = random.Random(i)
    title = " ".join(r.choices(WORDS, k=9)).capitalize()
    paras = [" ".join(r.choices(WORDS, k=70)) for _ in range(5)]
    html = "".join(f"<p>{p}.</p>" for p in paras)
    return title, paras[0][:400], html


def sections_of(i: int) -> list[str]:
    first = SECTIONS[i % len(SECTIONS)]
    return [first, SECTIONS[(i * 7 + 3) % len(SECTIONS)]] if i % 5 == 0 else [first]


def rows_for(start: int, stop: int, total: int) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {
        "articles": [],
        "article_hashes": [],
        "article_aliases": [],
        "article_sections": [],
    }
    for i in range(start, stop):
        h = content_hash(i)
        when = published(i, total)
        title, summary, html = body(i)
        path = f"/Detail/{when:%Y/%m/%d}/{i}/{'-'.join(title.split()[:5])}"
        out["articles"].append(
            (
                i,
                make_guid(ORIGIN, "news", h, when),
                "news",
                ORIGIN + path,
                title,
                summary,
                html,
                h,
                i,
                when,
                when,
                when,
                None,
                None,
                None,
                "en",
            )
        )
        out["article_hashes"].append((h, i))
        out["article_aliases"].append((ORIGIN + path, i))
        out["article_aliases"].append((MIRROR + path, i))
        for s in sections_of(i):
            out["article_sections"].append((i, s, when))
    return out


COLUMNS = {
    # The columns `rows_for` fills; the rest (archive numbers, hash inputs, link state) take
    # their defaults, as on an upgraded store.
    "articles": [c.name for c in articles.columns][:16],
    "article_hashes": ["hash", "article_id"],
    "article_aliases": ["url", "article_id"],
    "article_sections": ["article_id", "section", "published"],
}
TABLES = {t.name: t for t in (articles, article_hashes, article_aliases, article_sections)}


async def load(store: Store, schema: str | None, start: int, stop: int, total: int) -> None:
    """Bulk-load synthetic articles [start, stop) in batches."""
    for lo in range(start, stop, BATCH):
        rows = rows_for(lo, min(lo + BATCH, stop), total)
        async with store.writing() as conn:
            if store.is_postgres:
                raw = await conn.get_raw_connection()
                apg = raw.driver_connection
                for name, records in rows.items():
                    await apg.copy_records_to_table(
                        name, records=records, columns=COLUMNS[name], schema_name=schema
                    )
            else:
                for name, records in rows.items():
                    await conn.execute(
                        insert(TABLES[name]),
                        [dict(zip(COLUMNS[name], r, strict=True)) for r in records],
                    )
    async with store.writing() as conn:
        for statement in NUMBER_BULK_LOADED_SECTIONS:
            await conn.execute(text(statement))


def candidate(i: int, total: int) -> Candidate:
    title, summary, html = body(i)
    when = published(i, total)
    return Candidate(
        source="news",
        canonical_url=f"{ORIGIN}/Detail/{when:%Y/%m/%d}/{i}/x",
        content_hash=content_hash(i),
        simhash=i,
        title=title,
        summary=summary,
        content_html=html,
        published=when,
        updated=None,
        author=None,
        image_url=None,
        image_caption=None,
        language="en",
        sections=frozenset(sections_of(i)),
        aliases=frozenset({f"{MIRROR}/Detail/{when:%Y/%m/%d}/{i}/x"}),
    )


@dataclass
class Figures:
    ingest_ms: float
    lookup_us: float
    duplicate_ms: float
    feed_ms: float
    all_feed_ms: float


@dataclass
class Row:
    stored: int
    load_us: float
    big: Figures
    ref: Figures  # the 10k reference store, measured alongside
    disk_bytes: int
    peak_mib: float


@dataclass
class Run:
    engine: str
    rows: list[Row] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)


@dataclass
class Target:
    """A store under test: how many synthetic articles it holds, the next id to ingest."""

    store: Store
    stored: int
    total: int
    fresh: int = SERVICE_IDS + 1
    schema: str | None = None
    path: Path | None = None


async def disk_bytes(store: Store, path: Path | None) -> int:
    if store.is_postgres:
        async with store.engine.connect() as conn:
            size = await conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
                )
            )
            return int(size.scalar_one() or 0)
    assert path is not None
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        # Outside any transaction, so the write-ahead log is folded into the file.
        await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def paired(op: Any, targets: list[Any], items: list[list[Any]]) -> list[float]:
    """Median seconds of `await op(target, item)` per target, the targets taking turns, so
    that whatever else the machine does weighs on each alike (it is shared)."""
    times: list[list[float]] = [[] for _ in targets]
    for k in range(len(items[0])):
        for n, target in enumerate(targets):
            t = time.perf_counter()
            await op(target, items[n][k])
            times[n].append(time.perf_counter() - t)
    return [statistics.median(ts) for ts in times]


async def ingest_new(target: Target, i: int) -> None:
    result = await target.store.ingest(candidate(i, target.total), ORIGIN)
    assert result.outcome == "new", result


async def ingest_duplicate(target: Target, i: int) -> None:
    result = await target.store.ingest(candidate(i, target.total), ORIGIN)
    assert result.outcome == "duplicate", result


async def lookup(conn: AsyncConnection, i: int) -> None:
    """The dedupe lookup as an ingest runs it: one statement on the ingest's connection."""
    row = (
        await conn.execute(
            select(articles.c.id, articles.c.guid)
            .join(article_hashes, article_hashes.c.article_id == articles.c.id)
            .where(article_hashes.c.hash == content_hash(i))
        )
    ).first()
    assert row is not None and row.id == i


async def feed(target: Target, section: str) -> None:
    assert len(await target.store.section_articles(section, 50)) == 50


async def measure(targets: list[Target]) -> list[Figures]:
    """The per-article figures of each target at its current size."""
    fresh = [list(range(t.fresh, t.fresh + INGESTS)) for t in targets]
    for t in targets:
        t.fresh += INGESTS
    # New articles go through the service's own ingest (ids far above the synthetic ones).
    ingest = await paired(ingest_new, targets, fresh)
    picks = [[rng.randrange(1, t.stored) for _ in range(LOOKUPS)] for t in targets]
    async with AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(t.store.engine.connect()) for t in targets]
        looked = await paired(lookup, conns, picks)
    dups = await paired(ingest_duplicate, targets, [p[:DUPLICATES] for p in picks])
    sections = [SECTIONS[k % len(SECTIONS)] for k in range(FEED_QUERIES)]
    feeds = await paired(feed, targets, [sections] * len(targets))
    alls = await paired(feed, targets, [["all"] * (FEED_QUERIES // 3)] * len(targets))
    return [
        Figures(i * 1e3, lk * 1e6, d * 1e3, f * 1e3, a * 1e3)
        for i, lk, d, f, a in zip(ingest, looked, dups, feeds, alls, strict=True)
    ]


async def plans(store: Store) -> dict[str, str]:
    now = datetime.now(UTC)
    names = [f"source-{n}" for n in range(10_000)]
    rows = [{"name": n, "next_due": now + timedelta(seconds=k)} for k, n in enumerate(names)]
    async with store.writing() as conn:
        await conn.execute(insert(source_leases), rows)
    if store.is_postgres:
        async with store.writing() as conn:
            await conn.execute(text("ANALYZE"))
    queries = statements(SECTIONS[3], content_hash(7), names[:100], store.is_postgres)
    return {name: await explain(store, stmt, analyze=True) for name, stmt in queries.items()}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def open_target(engine: str, total: int, postgres: str | None, folder: Path) -> Target:
    schema = None
    path = None
    if engine == "postgresql":
        assert postgres
        schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        url = f"{postgres}{'&' if '?' in postgres else '?'}search_path={schema}"
    else:
        path = folder / f"bench-{os.getpid()}-{secrets.token_hex(3)}.db"
        url = f"sqlite:///{path}"
    store = await open_store(url)
    target = Target(store, 0, total, schema=schema, path=path)
    if store.is_postgres:
        async with store.writing() as conn:
            await conn.execute(
                text("SELECT setval(pg_get_serial_sequence('articles', 'id'), :n)"),
                {"n": SERVICE_IDS},
            )
    else:
        # SQLite gives the next row max(id) + 1: one placeholder sets where that is.
        await load(store, schema, SERVICE_IDS, SERVICE_IDS + 1, 1)
    return target


async def grow(target: Target, size: int) -> float:
    """Load synthetic articles up to `size`; microseconds per article loaded."""
    t = time.perf_counter()
    await load(target.store, target.schema, target.stored + 1, size + 1, target.total)
    spent = (time.perf_counter() - t) * 1e6 / max(size - target.stored, 1)
    target.stored = size
    if target.store.is_postgres:
        async with target.store.writing() as conn:
            await conn.execute(text("ANALYZE"))
    return spent


async def close_target(target: Target, postgres: str | None) -> None:
    await target.store.close()
    if target.schema and postgres:
        conn = await asyncpg.connect(postgres)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')
        finally:
            await conn.close()
    if target.path is not None:
        for p in target.path.parent.glob(target.path.name + "*"):
            p.unlink()


async def run_engine(engine: str, total: int, postgres: str | None, folder: Path) -> Run:
    run = Run(engine)
    ref = await open_target(engine, SIZES[0], postgres, folder)
    big = await open_target(engine, total, postgres, folder)
    try:
        await grow(ref, SIZES[0])
        for size in [s for s in SIZES if s < total] + [total]:
            load_us = await grow(big, size)
            ref_figures, big_figures = await measure([ref, big])
            async with big.store.engine.connect() as conn:
                count = (
                    await conn.execute(select(func.count()).select_from(articles))
                ).scalar_one()
            size_bytes = await disk_bytes(big.store, big.path)
            row = Row(size, load_us, big_figures, ref_figures, size_bytes // count, peak_mib())
            run.rows.append(row)
            print_row(engine, row, flush=True)
        run.plans = await plans(big.store)
    finally:
        await close_target(ref, postgres)
        await close_target(big, postgres)
    return run


HEADER = (
    f"{'engine':<11}{'stored':>10}{'load us':>9}{'ingest ms':>11}{'lookup us':>11}"
    f"{'dup ms':>8}{'feed ms':>9}{'all ms':>8}{'bytes/art':>11}{'peak MiB':>10}"
    f"{'ingest x10k':>13}{'lookup x10k':>13}"
)


def print_row(engine: str, r: Row, flush: bool = False) -> None:
    b = r.big
    print(
        f"{engine:<11}{r.stored:>10,}{r.load_us:>9.0f}{b.ingest_ms:>11.2f}{b.lookup_us:>11.0f}"
        f"{b.duplicate_ms:>8.2f}{b.feed_ms:>9.2f}{b.all_feed_ms:>8.2f}{r.disk_bytes:>11,}"
        f"{r.peak_mib:>10.0f}{b.ingest_ms / r.ref.ingest_ms:>13.2f}"
        f"{b.lookup_us / r.ref.lookup_us:>13.2f}",
        flush=flush,
    )


def report(runs: list[Run]) -> None:
    print()
    print(HEADER)
    for run in runs:
        for r in run.rows:
            print_row(run.engine, r)
    print()
    print(
        "x10k: the figure over the same figure of a 10k-article store measured alongside,\n"
        "taking turns op by op (the machine is shared). Ingest and lookup must stay under 2."
    )
    for run in runs:
        last = run.rows[-1]
        first = run.rows[0]
        verdict = (
            "OK"
            if last.big.ingest_ms / last.ref.ingest_ms < 2
            and last.big.lookup_us / last.ref.lookup_us < 2
            else "OVER 2"
        )
        print(
            f"  {run.engine:<11} {last.stored:,} vs 10k: ingest "
            f"{last.big.ingest_ms / last.ref.ingest_ms:.2f}, dedupe lookup "
            f"{last.big.lookup_us / last.ref.lookup_us:.2f}, duplicate ingest "
            f"{last.big.duplicate_ms / last.ref.duplicate_ms:.2f}, section feed "
            f"{last.big.feed_ms / last.ref.feed_ms:.2f}: {verdict}"
            f" (rows {last.stored:,} over {first.stored:,}: ingest "
            f"{last.big.ingest_ms / first.big.ingest_ms:.2f}, lookup "
            f"{last.big.lookup_us / first.big.lookup_us:.2f})"
        )
    for run in runs:
        for name, plan in run.plans.items():
            print(f"\n{run.engine} plan, {name} at {run.rows[-1].stored:,} articles:")
            print("  " + plan.replace("\n", "\n  "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--articles", type=int, default=50_000, help="articles to load (full run: 1000000)"
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("SYNDICATOR_TEST_POSTGRES"))
    parser.add_argument("--dir", type=Path, default=None, help="folder for the SQLite file")
    args = parser.parse_args()
    if args.articles < SIZES[0]:
        parser.error(f"--articles must be at least {SIZES[0]}")
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if "postgresql" in engines and not args.postgres:
        print("PostgreSQL skipped: pass --postgres URL or set SYNDICATOR_TEST_POSTGRES")
        engines.remove("postgresql")
    print(
        f"{args.articles:,} synthetic articles, ~{len(body(1)[2]):,} bytes of HTML each, "
        f"{len(SECTIONS)} sections; Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(HEADER, flush=True)
    runs = []
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for engine in engines:
            runs.append(asyncio.run(run_engine(engine, args.articles, args.postgres, Path(folder))))
    report(runs)


if __name__ == "__main__":
    main()
