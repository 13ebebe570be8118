"""Pulls of a site where nothing changed: their time, and the store connections they open.

    PYTHONPATH=$PWD python bench/repeat_pull.py [--pulls 150] [--rounds 3]

The test site (3 mirrors on 127.0.0.1, 6 articles in 3 sections) is pulled once into a SQLite
store, then `--pulls` more times, as a service with `every: 1m` does all day; nothing changes,
so each pull asks the feeds and finds every article stored. Timed with the store keeping 5
connections (SQLAlchemy's default) and SQLITE_POOL_SIZE, alternated `--rounds` times: a pull
holds up to about nine at once, and with 5 kept the rest were opened and closed every pull.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

import syndicator.store.connect as connect_module
from syndicator.core.config_file import load_config
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import open_store
from tests.sites import Site


async def one_run(site: Site, pulls: int, pool_size: int) -> tuple[float, int]:
    """Milliseconds a pull, and connections opened in all, after a first pull."""
    connect_module.SQLITE_POOL_SIZE = pool_size
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/store.db"
        path = Path(folder) / "syndicator.yaml"
        path.write_text(site.config_yaml(url), encoding="utf-8")
        config = load_config(path)
        store = await open_store(url)
        opened: list[int] = []
        event.listen(store.engine.sync_engine, "connect", lambda *_: opened.append(1))
        try:
            async with Fetcher(limits_of(config)) as fetcher:
                await pull_source("news", config, fetcher, store)
                opened.clear()
                started = time.perf_counter()
                for _ in range(pulls):
                    await pull_source("news", config, fetcher, store)
                seconds = time.perf_counter() - started
        finally:
            await store.close()
    return 1000 * seconds / pulls, len(opened)


async def run(pulls: int, rounds: int) -> None:
    site = Site(mirrors=3)
    await site.start()
    kept = connect_module.SQLITE_POOL_SIZE
    times: dict[int, list[float]] = {5: [], kept: []}
    try:
        print(f"{'connections kept':>16} {'ms a pull':>10} {'opened per pull':>16}")
        for _ in range(rounds):
            for size in (5, kept):
                ms, opened = await one_run(site, pulls, size)
                times[size].append(ms)
                print(f"{size:>16} {ms:>10.1f} {opened / pulls:>16.2f}")
    finally:
        await site.stop()
        connect_module.SQLITE_POOL_SIZE = kept
    old, new = statistics.median(times[5]), statistics.median(times[kept])
    print(f"median: {old:.1f} ms with 5 kept, {new:.1f} ms with {kept}: {old / new:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.pulls, args.rounds))


if __name__ == "__main__":
    main()
