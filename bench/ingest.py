"""Ingest throughput and dedupe lookup cost.

    PYTHONPATH=$PWD python bench/ingest.py [--pages 5000] [--sizes 1000,10000,100000]
    PYTHONPATH=$PWD python bench/ingest.py --pages DIR [--rounds 3] [--stages]

With `--pages DIR` (a folder of saved real pages, every *.html under it but readability's
expected.html), the whole ingest of each page as a pull takes it (checked_tree: validate's
checks on the tree it parses, then extract_article on that tree, to_candidate: clean,
sanitise, hash; Store.ingest into SQLite) is timed in one process, then with the
validate-extract-candidate part in a process pool of every core (the store is written by the
parent, as in the service); articles/s for both; then plain `trafilatura.extract` with its
default settings on the same pages in one process, for scale. Part 2 is skipped. `--stages`
adds one pass that times each stage of a page (trafilatura's calls, cleaning, metadata, the
store) and says what a page at 60 articles/s leaves for the product's own work.

Part 1 serves article pages from an aiohttp server on 127.0.0.1 (each article on two mirrors,
in two site layouts with their own boilerplate), fetches them all, then takes every page
through the stages of a pull one at a time and times each: parse (decode, HTML tree),
extract (metadata, trafilatura), clean (boilerplate, tidy, sanitise, links), hash (normal
form, content hash, SimHash), dedupe (the store's identity lookup) and store (ingest into
SQLite). Part 2 fills stores with 1,000 / 10,000 / 100,000 articles written directly as rows
and times the identity lookup of a candidate that matches nothing (every query runs: hash,
URL, SimHash bands) and of one that matches by hash; the cost must stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trafilatura
from aiohttp import web
from sqlalchemy import func, select

from syndicator.core import identity
from syndicator.core.errors import SyndicatorError
from syndicator.core.models import Candidate, FetchLimits
from syndicator.extract import (
    candidate,
    clean,
    decoding,
    engine,
    extraction,
    metadata,
    source_rules,
    tidying,
)
from syndicator.pull.fetch import Fetcher
from syndicator.store import Store, open_store
from syndicator.store.schema import (
    NUMBER_BULK_LOADED_SECTIONS,
    article_aliases,
    article_hashes,
    article_sections,
    article_simhash_bands,
    articles,
)
from tests.corpus import layouts
from tests.corpus.stories import Story, p

STAGES = ("parse", "extract", "clean", "hash", "dedupe", "store")
DEDUPE_SAMPLE = 10
SOURCE = "bench"
CANONICAL = "https://www.bench-news.example"
MIRRORS = ("www.bench-news.example", "bench-mirror.example.net")
ORIGINS = {f"https://{h}" for h in MIRRORS}


# --- synthetic articles --------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    return list({"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size)})


def sentence(rng: random.Random, words: list[str]) -> str:
    picked = rng.choices(words, k=rng.randint(8, 22))
    return " ".join(picked).capitalize() + rng.choice([".", ".", ".", "?"])


def synthetic_story(n: int, rng: random.Random, words: list[str]) -> Story:
    published = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=37 * n)
    paragraphs = [
        " ".join(sentence(rng, words) for _ in range(rng.randint(2, 4)))
        for _ in range(rng.randint(5, 10))
    ]
    return Story(
        key=f"s{n}",
        lang="en",
        title=sentence(rng, words).rstrip(".?"),
        author="Staff writer",
        published=published.isoformat(),
        trail=("News", "World"),
        caption=sentence(rng, words),
        article_id=100000 + n,
        slug=f"story-{n}",
        blocks=tuple(p(text) for text in paragraphs),
    )


def build_pages(count: int, seed: int = 7) -> dict[str, bytes]:
    """`count` pages: each article on both mirrors, in the WordPress and Press TV layouts."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    pages: dict[str, bytes] = {}
    stories = [synthetic_story(n, rng, words) for n in range((count + 1) // 2)]
    for i, story in enumerate(stories):
        others = [stories[(i + k) % len(stories)] for k in (1, 2, 3)]
        for number, (host, render) in enumerate(
            zip(MIRRORS, (layouts.presstv, layouts.wordpress), strict=True)
        ):
            if len(pages) == count:
                break
            mirror = layouts.Mirror(
                site="Bench News",
                host=host,
                canonical=CANONICAL,
                others=tuple(h for h in MIRRORS if h != host),
                variant=number,
                charset_meta="utf-8",
            )
            pages[f"/m{number}/a/{story.article_id}"] = render(story, mirror, others).encode()
    return pages


# --- part 1: throughput --------------------------------------------------------------------


async def serve(pages: dict[str, bytes]) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.Response:
        body = pages.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(port)


def mirror_url(path: str) -> str:
    number = int(path[2])
    return f"https://{MIRRORS[number]}{path[3:]}"


async def throughput(count: int, tmp: Path) -> None:
    started = time.perf_counter()
    pages = build_pages(count)
    print(
        f"built {len(pages)} pages ({sum(map(len, pages.values())) / 2**20:.1f} MiB) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    runner, port = await serve(pages)
    limits = FetchLimits(user_agent="syndicator-bench", concurrency=32, per_host=32)
    bodies: dict[str, bytes] = {}
    started = time.perf_counter()
    async with Fetcher(limits) as fetcher:
        queue = list(pages)

        async def worker() -> None:
            while queue:
                path = queue.pop()
                bodies[path] = (await fetcher.get(f"http://127.0.0.1:{port}{path}")).body

        await asyncio.gather(*(worker() for _ in range(32)))
    fetch_seconds = time.perf_counter() - started
    await runner.cleanup()

    store = await open_store(f"sqlite:///{tmp}/throughput.db")
    spent = dict.fromkeys(STAGES, 0.0)
    outcomes: Counter[str] = Counter()
    hosts = identity.host_names(ORIGINS)
    rules = source_rules.ArticleRules()
    lookups: list[float] = []
    for index, path in enumerate(sorted(pages, key=lambda p: (p[3:], p[:3]))):
        url = mirror_url(path)
        t0 = time.perf_counter()
        root = decoding.parse_page(bodies[path], url, "utf-8")
        t1 = time.perf_counter()
        meta = metadata.read_metadata(root, url)
        echoes = extraction.repeats(root, meta)
        clean.strip_boilerplate(root)
        t2 = time.perf_counter()
        container = extraction.main_content(root, url, rules)
        t3 = time.perf_counter()
        tidying.tidy_body(container, echoes=echoes, author=meta.author)
        page = extraction.assemble(meta, container, url)
        content_html, image_url = candidate.publishable_html(page, CANONICAL, ORIGINS, "en")
        t4 = time.perf_counter()
        content_hash, simhash, words = candidate.fingerprint_page(page, hosts)
        t5 = time.perf_counter()
        cand = Candidate(
            source=SOURCE,
            canonical_url=identity.canonical_url(page.url, CANONICAL, ORIGINS),
            content_hash=content_hash,
            simhash=simhash,
            title=page.title,
            summary=candidate.summarise(page.summary or page.body_text),
            content_html=content_html,
            published=page.published,
            updated=page.updated,
            author=page.author,
            image_url=image_url,
            image_caption=page.image_caption,
            language="en",
            sections=frozenset({"world"}),
            aliases=frozenset({page.url}),
            words=words,
        )
        if sampled := index % DEDUPE_SAMPLE == 0:
            await store.match(cand)
        t6 = time.perf_counter()
        outcomes[(await store.ingest(cand, CANONICAL)).outcome] += 1
        t7 = time.perf_counter()
        spent["parse"] += t1 - t0
        spent["extract"] += (t2 - t1) + (t3 - t2)
        spent["clean"] += t4 - t3
        spent["hash"] += t5 - t4
        if sampled:
            lookups.append(t6 - t5)
        spent["store"] += t7 - t6
    # The lookup is timed on every DEDUPE_SAMPLE-th page (it runs again inside ingest).
    spent["dedupe"] = statistics.mean(lookups) * len(pages)
    await store.close()

    total = sum(spent.values())
    n = len(pages)
    print()
    print(f"Part 1: {n} article pages served from 127.0.0.1, each article on 2 mirrors")
    print(
        f"fetch: {fetch_seconds:.1f} s for all pages, 32 in flight "
        f"({n / fetch_seconds:,.0f} pages/s)"
    )
    print(f"outcomes: {dict(outcomes)}")
    print()
    print(f"{'stage':<9} {'total s':>8} {'ms/page':>8} {'share':>6}")
    for stage in STAGES:
        print(
            f"{stage:<9} {spent[stage]:8.2f} {1000 * spent[stage] / n:8.2f} "
            f"{spent[stage] / total:6.1%}"
        )
    print(f"{'all':<9} {total:8.2f} {1000 * total / n:8.2f} {1:6.0%}")
    print(f"\nthroughput, parse..store, one process: {n / total:,.0f} articles/s")
    print(f"end to end including the fetch: {n / (total + fetch_seconds):,.0f} articles/s")
    print("(extract: metadata and trafilatura; clean: boilerplate removal before and after")
    print(" extraction, sanitising, link rewriting; dedupe: Store.match alone, timed on every")
    print(f" {DEDUPE_SAMPLE}th page; store: Store.ingest, which looks up again and writes in one")
    print(" transaction)")


# --- real pages -------------------------------------------------------------------------


def real_pages(folder: Path) -> list[tuple[str, bytes]]:
    files = sorted(p for p in folder.rglob("*.html") if p.name != "expected.html")
    return [(f"{CANONICAL}/page/{n}/{p.stem}", p.read_bytes()) for n, p in enumerate(files)]


def candidate_of(item: tuple[str, bytes]) -> Candidate | None:
    """Everything of an ingest but the store: what a pool worker does for one page."""
    url, body = item
    try:
        # As a pull reads an article page: checked on the tree extraction reads (one parse).
        tree = extraction.checked_tree(body, url)
        if isinstance(tree, SyndicatorError):
            return None
        page = extraction.extract_article(body, url, tree=tree)
    except SyndicatorError:
        return None
    return candidate.to_candidate(
        page,
        source=SOURCE,
        canonical_origin=CANONICAL,
        site_origins=ORIGINS,
        sections=frozenset({"world"}),
        default_language="en",
    )


async def ingest_real(folder: Path, rounds: int, tmp: Path) -> None:
    items = real_pages(folder)
    work = items * rounds
    print(f"{len(items)} real pages from {folder}, {rounds} round(s): {len(work)} ingests")
    cores = os.cpu_count() or 1
    for label, workers in (("one process", 1), (f"process pool of {cores}", cores)):
        store = await open_store(f"sqlite:///{tmp}/real-{workers}.db")
        outcomes: Counter[str] = Counter()
        started = time.perf_counter()
        split = ""
        if workers == 1:
            extracting = storing = 0.0
            for item in work:
                t0 = time.perf_counter()
                cand = candidate_of(item)
                t1 = time.perf_counter()
                extracting += t1 - t0
                if cand is None:
                    outcomes["not an article"] += 1
                    continue
                outcomes[(await store.ingest(cand, CANONICAL)).outcome] += 1
                storing += time.perf_counter() - t1
            split = (
                f"\n{'':<22} validate+extract+candidate {1000 * extracting / len(work):.1f} ms, "
                f"Store.ingest {1000 * storing / len(work):.1f} ms per page"
            )
        else:
            with ProcessPoolExecutor(workers) as pool:
                for cand in pool.map(candidate_of, work, chunksize=8):
                    if cand is None:
                        outcomes["not an article"] += 1
                        continue
                    outcomes[(await store.ingest(cand, CANONICAL)).outcome] += 1
        seconds = time.perf_counter() - started
        await store.close()
        print(
            f"{label:<22} {seconds:7.2f} s  {len(work) / seconds:7.1f} articles/s  "
            f"{dict(outcomes)}{split}"
        )
    # The engine alone, for scale: the library's plain call with its default settings, one
    # process, no store. A target above this rate is out of reach of any path that runs it.
    started = time.perf_counter()
    failed = 0
    for _, body in work:
        try:
            trafilatura.extract(body)
        except Exception:  # a page the library cannot read costs that page only
            failed += 1
    seconds = time.perf_counter() - started
    print(
        f"{'trafilatura alone':<22} {seconds:7.2f} s  {len(work) / seconds:7.1f} pages/s  "
        f"(trafilatura.extract, default settings, no store; {failed} pages raised)"
    )


# Where a real page's time goes, call by call (`--stages`): each entry is (label, module,
# function name), timed inclusively; an indented label runs inside the one above it.
STAGE_CALLS = (
    ("checked_tree (validate's checks, parse)", extraction, "checked_tree"),
    ("  parse_page", extraction, "parse_page"),
    ("extract_article", extraction, "extract_article"),
    ("  read_metadata", extraction, "read_metadata"),
    ("  drop_hidden", clean, "drop_hidden"),
    ("  strip_boilerplate", clean, "strip_boilerplate"),
    ("  tidy_body", tidying, "tidy_body"),
    ("  safety net (its trafilatura calls too)", extraction, "rescue"),
    ("  trafilatura, every call", engine, "trafilatura_body"),
    ("to_candidate", candidate, "to_candidate"),
    ("  fingerprint_page", candidate, "fingerprint_page"),
    ("  publishable_html", candidate, "publishable_html"),
)
TARGET_PER_SECOND = 60


async def stage_costs(folder: Path, tmp: Path) -> None:
    """One pass over the pages in one process, each stage's calls timed (module functions are
    looked up at call time, so a wrapper sees the calls made inside the module too), and the
    time a page leaves for our own work at TARGET_PER_SECOND once trafilatura and the store
    have had theirs."""
    items = real_pages(folder)
    spent: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    originals = [(module, name, getattr(module, name)) for _, module, name in STAGE_CALLS]

    def timed(label: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
                calls[label] += 1

        return call

    store = await open_store(f"sqlite:///{tmp}/stages.db")
    for label, module, name in STAGE_CALLS:
        setattr(module, name, timed(label, getattr(module, name)))
    try:
        for item in items:
            cand = candidate_of(item)
            if cand is not None:
                started = time.perf_counter()
                await store.ingest(cand, CANONICAL)
                spent["Store.ingest"] += time.perf_counter() - started
                calls["Store.ingest"] += 1
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
        await store.close()
    n = len(items)
    print(f"\nwhere a page's time goes (one pass, {n} pages, inclusive, ms a page):")
    for label in [label for label, _, _ in STAGE_CALLS] + ["Store.ingest"]:
        print(f"  {label:<42} {1000 * spent[label] / n:6.2f}  ({calls[label]} calls)")
    budget = 1000 / TARGET_PER_SECOND
    trafilatura = 1000 * spent["  trafilatura, every call"] / n
    floor = trafilatura + 1000 * spent["Store.ingest"] / n
    ours = 1000 * (spent[STAGE_CALLS[0][0]] + spent["extract_article"] + spent["to_candidate"]) / n
    print(
        f"  {TARGET_PER_SECOND} articles/s allows {budget:.1f} ms a page; trafilatura and the "
        f"store take {floor:.1f},\n  leaving {budget - floor:.1f} ms for the rest, which "
        f"takes {ours - trafilatura:.1f} ms"
    )


# --- part 2: dedupe lookup cost by store size ---------------------------------------------


def synthetic_rows(n: int, rng: random.Random) -> dict[str, list[dict[str, object]]]:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    rows: dict[str, list[dict[str, object]]] = {
        "articles": [],
        "hashes": [],
        "aliases": [],
        "bands": [],
        "sections": [],
    }
    for i in range(1, n + 1):
        published = start + timedelta(minutes=5 * i)  # ~350 days for 100,000 articles
        value = rng.getrandbits(64) - (1 << 63)
        digest = f"{rng.getrandbits(256):064x}"
        rows["articles"].append(
            {
                "id": i,
                "guid": f"tag:bench,2023:{i}",
                "source": SOURCE,
                "url": f"{CANONICAL}/a/{i}",
                "title": f"Article {i}",
                "summary": "",
                "content_html": "<p>x</p>",
                "content_hash": digest,
                "simhash": value,
                "published": published,
                "updated": published,
                "first_seen": published,
                "language": "en",
            }
        )
        rows["hashes"].append({"hash": digest, "article_id": i})
        rows["aliases"].append({"url": f"https://{MIRRORS[1]}/a/{i}", "article_id": i})
        rows["sections"].append({"article_id": i, "section": "world", "published": published})
        rows["bands"].extend(
            {
                "article_id": i,
                "simhash": value,
                "band_key": key,
                "source": SOURCE,
                "published": published,
            }
            for key in identity.simhash_bands(value)
        )
    return rows


def fill(path: Path, n: int, rng: random.Random) -> list[str]:
    """Write `n` articles straight into the store's SQLite file; their content hashes."""
    rows = synthetic_rows(n, rng)
    tables = (
        (articles, "articles"),
        (article_hashes, "hashes"),
        (article_aliases, "aliases"),
        (article_sections, "sections"),
        (article_simhash_bands, "bands"),
    )
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")
        for table, key in tables:
            columns = list(rows[key][0])
            marks = ", ".join("?" for _ in columns)
            db.executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
                ([_sql_value(row[c]) for c in columns] for row in rows[key]),
            )
        for statement in NUMBER_BULK_LOADED_SECTIONS:
            db.execute(statement)
    return [str(row["hash"]) for row in rows["hashes"]]


def _sql_value(value: object) -> object:
    # Timestamps as SQLAlchemy writes them to SQLite.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def probe(rng: random.Random, n: int, digest: str | None = None) -> Candidate:
    """A candidate in the middle of the stored period: a miss, or a hash hit."""
    published = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * rng.randint(1, n))
    return Candidate(
        source=SOURCE,
        canonical_url=f"{CANONICAL}/new/{rng.getrandbits(48)}",
        content_hash=digest or f"{rng.getrandbits(256):064x}",
        simhash=rng.getrandbits(64) - (1 << 63),
        title="t",
        summary="",
        content_html="",
        published=published,
        updated=None,
        author=None,
        image_url=None,
        image_caption=None,
        language="en",
        sections=frozenset({"world"}),
        words=500,
    )


async def lookup_cost(sizes: list[int], lookups: int, tmp: Path) -> None:
    print()
    print(f"Part 2: identity lookup cost by store size ({lookups} lookups each, SQLite file)")
    stores, filled, probes = {}, {}, {}
    for size in sizes:
        rng = random.Random(size)
        path = tmp / f"lookup-{size}.db"
        await (await open_store(f"sqlite:///{path}")).close()
        started = time.perf_counter()
        hashes = fill(path, size, rng)
        filled[size] = time.perf_counter() - started
        stores[size] = await open_store(f"sqlite:///{path}")
        probes[size] = {
            "miss": [probe(rng, size) for _ in range(lookups)],
            "hit": [probe(rng, size, rng.choice(hashes)) for _ in range(lookups)],
        }
        for cand in probes[size]["miss"][:50]:  # warm the page cache
            await stores[size].match(cand)
    # Sizes take turns, batch by batch, so that a change in machine load hits them all alike.
    samples: dict[tuple[int, str], list[float]] = {}
    for start in range(0, lookups, 50):
        for size in sizes:
            for name in ("miss", "hit"):
                for cand in probes[size][name][start : start + 50]:
                    t0 = time.perf_counter()
                    found = await stores[size].match(cand)
                    samples.setdefault((size, name), []).append(time.perf_counter() - t0)
                    assert (found is None) == (name == "miss")
    print(
        f"{'stored':>8} {'fill s':>7} {'miss µs':>8} {'hit µs':>7} {'ratio':>6} "
        f"{'bands µs':>8} {'no index µs':>11} {'rows':>5}"
    )
    first = None
    for size in sizes:
        miss = statistics.median(samples[(size, "miss")]) * 1e6
        hit = statistics.median(samples[(size, "hit")]) * 1e6
        band_us, band_rows = await band_query(stores[size], probes[size]["miss"][:200], True)
        scan_us, _ = await band_query(stores[size], probes[size]["miss"][:10], False)
        first = first or miss
        print(
            f"{size:8,d} {filled[size]:7.1f} {miss:8.0f} {hit:7.0f} {miss / first:6.2f} "
            f"{band_us:8.0f} {scan_us:11.0f} {band_rows:5.2f}"
        )
        await stores[size].close()
    print("(medians. miss: a candidate that matches nothing, so every lookup runs: content hash,")
    print(" URL aliases, SimHash bands within ±3 days, in one query; hit: found by hash; ratio:")
    print(" miss cost against the smallest store; bands µs: the band lookup alone; no index µs:")
    print(" the same band lookup written so that no index can serve it, a scan; rows: band rows")
    print(" it returns)")


async def band_query(store: Store, cands: list[Candidate], indexed: bool) -> tuple[float, float]:
    """Median µs of the near-duplicate band lookup alone, and the mean rows it returns; with
    `indexed` False the same query is written so that no index can serve it (a scan)."""
    bands = article_simhash_bands.c
    samples, rows = [], 0
    async with store.engine.connect() as conn:
        for cand in cands:
            published = cand.published or datetime.now(UTC)
            source = bands.source if indexed else func.coalesce(bands.source, "")
            band_key = bands.band_key if indexed else bands.band_key + 0
            query = select(func.count()).where(
                source == cand.source,
                band_key.in_(identity.simhash_bands(cand.simhash)),
                bands.published.between(
                    published - identity.NEAR_DUPLICATE_WINDOW,
                    published + identity.NEAR_DUPLICATE_WINDOW,
                ),
            )
            t0 = time.perf_counter()
            rows += int((await conn.execute(query)).scalar_one())
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6, rows / len(cands)


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(args.pages, Path):
            await ingest_real(args.pages, args.rounds, Path(tmp))
            if args.stages:
                await stage_costs(args.pages, Path(tmp))
            return
        if args.pages:
            await throughput(args.pages, Path(tmp))
        if args.sizes:
            await lookup_cost(args.sizes, args.lookups, Path(tmp))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pages",
        type=lambda v: Path(v) if Path(v).is_dir() else int(v),
        default=5000,
        help="synthetic article pages (0 skips part 1), or a folder of real pages",
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over a real-page folder")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="with a folder: one more pass, timing each stage of a page's ingest",
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[1000, 10000, 100000],
        help="store sizes for the lookup cost ('' skips part 2)",
    )
    parser.add_argument("--lookups", type=int, default=500, help="lookups per store size")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}")
    started = time.perf_counter()
    asyncio.run(main_async(args))
    print(f"\nbench wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
