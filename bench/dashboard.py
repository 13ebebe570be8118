"""The mirror dashboard's read of a week of pulls, by how often the sources are pulled.

    PYTHONPATH=$PWD python bench/dashboard.py [--pulls 1000,10000,100000]

Each pull stores one history row per mirror asked (3 here), kept 14 days; `/mirrors` draws
the last 7 days, an hour a bar. A SQLite store gets N pulls spread evenly over the week (N =
100,000 is a pull every 6 s), then the two reads are timed: every row into Python and summed
per hour there (`MirrorStore.history`, what `/mirrors` did), and the rows summed per hour in
the database (`MirrorStore.hourly_history`, what it does now), each with the timelines drawn
from it. Both must draw the same timelines. Peak memory is the process's, so it only grows
down the table.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicator.mirrors.health import MirrorPull
from syndicator.publish.pages import DAYS, timeline
from syndicator.store import open_store
from syndicator.store.health import MirrorStore

MIRRORS = ("https://www.bench-news.example", "https://bench-mirror.example.net", "https://b3.ex")


def fill(path: Path, pulls: int, now: datetime) -> None:
    """The history rows of `pulls` pulls over the last week, written directly (as save_history
    writes them: naive UTC text dates)."""
    step = timedelta(days=DAYS) / pulls
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO mirror_history (source, mirror, at, successes, failures, latency, state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    "news",
                    mirror,
                    (now - timedelta(days=DAYS) + step * (i + 0.5))
                    .replace(tzinfo=None)
                    .isoformat(sep=" "),
                    3 - (i + m) % 4 // 3,
                    (i + m) % 4 // 3,
                    0.01 * (1 + (i * 7 + m) % 50),
                    "healthy",
                )
                for i in range(pulls)
                for m, mirror in enumerate(MIRRORS)
            ),
        )


def draw(pulls: list[MirrorPull], now: datetime) -> list[str]:
    """Each mirror's timeline, as the dashboard draws it."""
    return [timeline([p for p in pulls if p.mirror == m], now, m) for m in MIRRORS]


async def run(sizes: list[int]) -> None:
    print(
        f"{'pulls':>8} {'rows':>8} {'every row, ms':>14} {'hourly, ms':>11} {'ratio':>6} "
        f"{'hourly rows':>11} {'peak MB':>8} same timelines"
    )
    for pulls in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "store.db"
            store = await open_store(f"sqlite:///{path}")
            now = datetime.now(UTC)
            fill(path, pulls, now)
            mirrors = MirrorStore(store)
            since = now - timedelta(days=DAYS)
            started = time.perf_counter()
            every = await mirrors.history(since)
            old_page = draw(every, now)
            old = time.perf_counter() - started
            started = time.perf_counter()
            hourly = await mirrors.hourly_history(since, DAYS * 24)
            new_page = draw(hourly, now)
            new = time.perf_counter() - started
            await store.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{pulls:>8,} {len(every):>8,} {old * 1000:>14.1f} {new * 1000:>11.1f} "
            f"{old / new:>6.1f} {len(hourly):>11,} {peak:>8.0f} {old_page == new_page}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", default="1000,10000,100000")
    args = parser.parse_args()
    asyncio.run(run([int(n) for n in args.pulls.split(",")]))


if __name__ == "__main__":
    main()
