"""Hedged fetches: how long a pull of N articles takes when the mirror asked first answers
article pages in 8 s and the other in milliseconds, against the same pull with no slow
mirror, with hedging on and off (`hedge: false`).

Runs the loopback mirror farm of the tests (`tests/sites.py`): two mirrors of one site,
N articles in one section, a fresh SQLite store per pull. Prints one row per strategy and
case: pull seconds, the ratio to the pull with no slow mirror, hedged articles, articles
stored, and the slow mirror's state and latency after the pull. With hedging off a pull waits
for the slow pages (two at a time, the per-host limit) until the pull deadline ends it.

    PYTHONPATH=$PWD python bench/hedging.py [--articles 300] [--slow 8] [--pull-deadline 120]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from syndicator.core.config_file import load_config
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import limits_of
from syndicator.store.engine import open_store
from syndicator.store.health import MirrorStore
from tests.sites import FakeClock, Site
from tests.test_sitemaps import generated_articles

NOW = datetime(2024, 6, 22, 12, 0, tzinfo=UTC)


@dataclass
class Row:
    strategy: str
    case: str
    seconds: float
    hedged: int
    stored: int
    failed: int
    state: str
    latency: float | None


async def pull(
    tmp: Path, label: str, articles: int, slow: float, strategy: str, hedge: bool, deadline: int
) -> tuple[float, int, int, int, str, float | None]:
    site = Site(mirrors=2, articles=generated_articles(articles, days=3, end=NOW))
    site.mirrors[0].article_seconds = slow
    await site.start()
    url = f"sqlite:///{tmp / f'{label}.db'}"
    yaml = site.config_yaml(
        url,
        sections=("north-africa",),
        read_timeout="20s",
        service_extra=f"  request_deadline: 20s\n  pull_deadline: {deadline}s",
        extra=f"    strategy: {strategy}\n    hedge: {'true' if hedge else 'false'}\n"
        f"    max_links: {max(500, articles)}",
    )
    path = tmp / f"{label}.yaml"
    path.write_text(yaml, encoding="utf-8")
    config = load_config(path)
    store = await open_store(url)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            started = time.monotonic()
            report = await pull_source("news", config, fetcher, store, clock=FakeClock(NOW))
            seconds = time.monotonic() - started
        stored = len(await store.section_articles("north-africa", limit=100_000))
        health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    finally:
        await store.close()
        await site.stop()
    first = health.get(site.mirrors[0].origin)
    state = first.state if first else "-"
    latency = first.latency if first else None
    return seconds, report.hedged, stored, report.failed, state, latency


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--slow", type=float, default=8.0)
    parser.add_argument("--pull-deadline", type=int, default=120)
    parser.add_argument("--strategies", default="all,failover")
    parser.add_argument("--no-off", action="store_true", help="skip the hedging-off runs")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {load:.2f} at start"
    )
    print(
        f"site: 2 mirrors, {args.articles} articles in one section; slow case: the mirror "
        f"asked first answers article pages in {args.slow:g} s; pull_deadline "
        f"{args.pull_deadline} s"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for strategy in args.strategies.split(","):
            cases = [
                ("no slow mirror", 0.0, True),
                (f"{args.slow:g} s mirror, hedging", args.slow, True),
            ]
            if not args.no_off:
                cases.append((f"{args.slow:g} s mirror, hedge: false", args.slow, False))
            for n, (case, slow, hedge) in enumerate(cases):
                got = await pull(
                    tmp,
                    f"{strategy}-{n}",
                    args.articles,
                    slow,
                    strategy,
                    hedge,
                    args.pull_deadline,
                )
                rows.append(Row(strategy, case, *got))
                print(f"  {strategy} / {case}: {got[0]:.1f} s", file=sys.stderr)
    print()
    print(
        f"{'strategy':<9} {'case':<26} {'pull s':>7} {'x none':>7} {'hedged':>7} "
        f"{'stored':>7} {'failed':>7}  slow mirror after"
    )
    for row in rows:
        base = next(r for r in rows if r.strategy == row.strategy).seconds
        latency = f"{row.latency:.2f} s" if row.latency is not None else "-"
        print(
            f"{row.strategy:<9} {row.case:<26} {row.seconds:>7.1f} {row.seconds / base:>7.2f} "
            f"{row.hedged:>7} {row.stored:>7} {row.failed:>7}  {row.state}, latency {latency}"
        )


if __name__ == "__main__":
    asyncio.run(main())
