"""Identity on real text: which real pages does the store take for one article, and does an
edit under a new URL stay one item?

    PYTHONPATH=$PWD python bench/near_duplicates.py DIR [DIR ...] [--seed 1] [--show 12]

Each DIR is a public set of real pages, as `bench/extract_quality.py` reads it (readability's
test pages, trafilatura's evaluation set), kept outside the repository. Every page goes the way
of a pulled article page (`bench/feed_validity.published`, in a process pool of every core).

1. **Merges.** Every article is stored in one SQLite store as one source, under its own URL,
   all published in the same hour, so that the near-duplicate window holds them all: every
   page that is not a new article is listed with the page it was taken for. Read the list:
   each pair must be one article (a page saved twice, a test page's lorem ipsum).
2. **Distances.** The SimHash distance between every two different texts of 40 words or more:
   how many pairs fall within the rule's 3 bits, within 4-8, 9-13 and 14-20, and the closest
   pairs. Different articles must be far outside the rule.
3. **Edits under a new URL.** Each text of 40 words or more is stored, then an edit of it under
   another URL (a slug that changed with the headline), at the same publication time: the share
   stored as an update of the same item, by kind of edit. The rest become a second item.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.extract_quality import load
from bench.feed_validity import published
from syndicator.core import identity
from syndicator.core.models import Candidate
from syndicator.store import open_store

ORIGIN = "https://bench.example"
WHEN = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


def as_stored(n: int, cand: Candidate, source: str = "bench", path: str = "a") -> Candidate:
    """The candidate under a URL of its own, published at WHEN plus `n` seconds."""
    return dataclasses.replace(
        cand,
        source=source,
        canonical_url=f"{ORIGIN}/{path}/{n}",
        aliases=frozenset(),
        published=WHEN + timedelta(seconds=n % 3600),
        updated=None,
    )


def edited(cand: Candidate, text: str) -> Candidate:
    content_hash, simhash, words = identity.fingerprint(cand.title, text, cand.hash_hosts)
    return dataclasses.replace(
        cand, content_hash=content_hash, simhash=simhash, words=words, hash_text=text
    )


ADDED = "The minister said later on Tuesday that the talks would go on next week."


# Edits of a body's words, as an editor makes them after publication.
def one_word(words: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(words))
    return [*words[:i], "corrected", *words[i + 1 :]]


def a_sentence_added(words: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(words))
    return [*words[:i], *ADDED.split(), *words[i:]]


def a_sentence_rewritten(words: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(max(1, len(words) - 12))
    return [*words[:i], *(f"rewritten{k}" for k in range(12)), *words[i + 12 :]]


def last_fifth_cut(words: list[str], rng: random.Random) -> list[str]:
    return words[: max(1, len(words) * 4 // 5)]


EDITS: dict[str, Callable[[list[str], random.Random], list[str]]] = {
    "one word changed": one_word,
    "a sentence added": a_sentence_added,
    "a sentence (12 words) rewritten": a_sentence_rewritten,
    "the last fifth cut": last_fifth_cut,
}


async def merges(found: list[tuple[str, Candidate]], tmp: Path, show: int) -> None:
    store = await open_store(f"sqlite:///{tmp}/merges.db")
    first: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    taken: list[str] = []
    for n, (name, cand) in enumerate(found):
        result = await store.ingest(as_stored(n, cand), ORIGIN)
        outcomes[result.outcome] += 1
        if result.outcome == "new":
            first[result.guid] = name
        else:
            taken.append(f"  {result.outcome:9} {name}  ->  {first[result.guid]}")
    await store.close()
    print(f"\n1. {len(found)} articles stored as one source: {dict(outcomes)}")
    for line in taken[:show]:
        print(line)
    if len(taken) > show:
        print(f"  ... and {len(taken) - show} more (--show)")


def distances(found: list[tuple[str, Candidate]], show: int) -> None:
    texts: dict[str, tuple[str, int]] = {}
    for name, cand in found:
        if cand.words >= identity.NEAR_DUPLICATE_MIN_WORDS:
            texts.setdefault(cand.content_hash, (name, cand.simhash))
    items = list(texts.values())
    bins = ((0, 3), (4, 8), (9, 13), (14, 20))
    counts: Counter[tuple[int, int]] = Counter()
    closest: list[tuple[int, str, str]] = []
    for i, (a, ha) in enumerate(items):
        for b, hb in items[i + 1 :]:
            d = identity.hamming(ha, hb)
            for low, high in bins:
                if low <= d <= high:
                    counts[(low, high)] += 1
            closest.append((d, a, b))
            if len(closest) > 4 * show:
                closest = sorted(closest)[:show]
    pairs = len(items) * (len(items) - 1) // 2
    print(f"\n2. {len(items)} different texts of 40+ words, {pairs:,} pairs; bits apart:")
    print("| " + " | ".join(f"{lo}-{hi}" for lo, hi in bins) + " |")
    print("|" + " --- |" * len(bins))
    print("| " + " | ".join(f"{counts[b]:,}" for b in bins) + " |")
    print("closest pairs (bits, pages):")
    for d, a, b in sorted(closest)[:show]:
        print(f"  {d:2d}  {a}  {b}")


async def edits(found: list[tuple[str, Candidate]], tmp: Path, seed: int) -> None:
    texts = [c for _, c in found if c.words >= identity.NEAR_DUPLICATE_MIN_WORDS]
    print(f"\n3. an edit of each of {len(texts)} texts stored under a new URL after it:")
    print("| edit | texts | an update of the item | a second item | median bits apart |")
    print("| --- | --- | --- | --- | --- |")
    for number, (kind, edit) in enumerate(EDITS.items()):
        rng = random.Random(seed)
        store = await open_store(f"sqlite:///{tmp}/edits-{number}.db")
        outcomes: Counter[str] = Counter()
        bits = []
        for n, cand in enumerate(texts):
            # A source per text: each edit can only be taken for its own original.
            original = as_stored(n, cand, source=f"s{n}")
            first = await store.ingest(original, ORIGIN)
            words = original.hash_text.split()
            change = edited(original, " ".join(edit(words, rng)))
            change = dataclasses.replace(change, canonical_url=f"{ORIGIN}/b/{n}")
            bits.append(identity.hamming(original.simhash, change.simhash))
            result = await store.ingest(change, ORIGIN)
            same = result.guid == first.guid and result.outcome == "updated"
            outcomes["update" if same else result.outcome] += 1
        await store.close()
        share = outcomes["update"] / len(texts)
        print(
            f"| {kind} | {len(texts)} | {share:.1%} | {outcomes['new'] / len(texts):.1%} "
            f"| {sorted(bits)[len(bits) // 2]} |"
        )


async def run(folders: list[Path], seed: int, show: int) -> None:
    found: list[tuple[str, Candidate]] = []
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        for folder in folders:
            _, docs = load(folder)
            for doc, cand in zip(docs, pool.map(published, docs, chunksize=8), strict=True):
                if cand is not None:
                    found.append((f"{folder.name}/{doc.name}", cand))
    print(f"{len(found)} articles from {', '.join(str(f) for f in folders)}")
    with tempfile.TemporaryDirectory() as tmp:
        await merges(found, Path(tmp), show)
        distances(found, show)
        await edits(found, Path(tmp), seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=1, help="where the edits fall")
    parser.add_argument("--show", type=int, default=12, help="merges and closest pairs listed")
    args = parser.parse_args()
    asyncio.run(run(args.folders, args.seed, args.show))
    return 0


if __name__ == "__main__":
    sys.exit(main())
