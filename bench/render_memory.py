"""Memory of a serving process that renders feeds, with and without `tune_malloc`.

    PYTHONPATH=$PWD python bench/render_memory.py [--rounds 150] [--threads 6]

A serving process renders a section again whenever it changes, and compresses it, on the
event loop's default thread pool (`asyncio.to_thread`: min(32, cores + 4) threads). Each
round here renders three sections (RSS, Atom, JSON Feed; `render.render` and `prepare`, the
service's own code) on such a pool, the sections growing by an item every few rounds as a
live section fills to `max_items` with longer articles. Each mode runs in a fresh
interpreter; the table gives its resident memory after rounds 20, 50, 100 and the last, and
the growth after round 20. `default` is glibc as it starts; `tune_malloc` is what
`syndicate serve` sets in each of its processes.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CHILD = """
import random, sys
from concurrent.futures import ThreadPoolExecutor
from bench.serve import synthetic
from syndicator.publish import render
from syndicator.publish.rendered import prepare
from syndicator.serve.workers import tune_malloc

mode, rounds, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if mode == "tune_malloc":
    assert tune_malloc()

def rss_mb():
    with open("/proc/self/status") as status:
        line = next(l for l in status if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

rng = random.Random(7)
pool = [synthetic(n, rng) for n in range(160)]
pool.sort(key=lambda a: a.published, reverse=True)

def section(name, count):
    info = render.FeedInfo(
        section=name, title=name, description=name,
        home_url=f"http://127.0.0.1/feeds/{name}/",
        feed_urls={f: f"http://127.0.0.1/feeds/{name}.{f}" for f in render.FORMATS},
        feed_id=f"tag:127.0.0.1,2026:syndicator/{name}", hub_url=None,
    )
    items = pool[:count]
    for fmt in render.FORMATS:
        prepare(render.render(fmt, info, items), render.CONTENT_TYPES[fmt], items[0].updated)

marks = {20, 50, 100, rounds}
with ThreadPoolExecutor(threads) as executor:
    for r in range(1, rounds + 1):
        count = 20 + r // 2
        list(executor.map(section, ["a", "b", "c"], [count, count + 5, count + 10]))
        if r in marks:
            print(r, round(rss_mb(), 1), flush=True)
"""


def run(mode: str, rounds: int, threads: int) -> dict[int, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(rounds), str(threads)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {int(r): float(mb) for r, mb in (line.split() for line in out.splitlines())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--threads", type=int, default=6, help="the render pool's threads")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {platform.libc_ver()}, {args.threads} threads")
    marks = sorted({20, 50, 100, args.rounds})
    print(f"{'mode':<12}" + "".join(f"{f'round {m}':>11}" for m in marks) + f"{'growth':>9}")
    with ThreadPoolExecutor(2) as runner:  # both modes at once: the same load on each
        futures = {
            m: runner.submit(run, m, args.rounds, args.threads) for m in ("default", "tune_malloc")
        }
        for mode, future in futures.items():
            rss = future.result()
            cells = "".join(f"{rss[m]:>8.1f} MB" for m in marks)
            print(f"{mode:<12}{cells}{rss[args.rounds] - rss[20]:>+6.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
