"""Extraction quality on the labelled corpus in tests/corpus/.

    PYTHONPATH=$PWD python bench/corpus.py [--pages]

For every page: token-level precision, recall and F1 of the extracted body text against the
expected text (tokens are the words of the normal form, counted as a multiset). For every
variant group (one article as several mirrors serve it): does it collapse to one content hash,
and to one stored item when every page goes through a real SQLite store? A false merge is two
different articles that share a hash or a stored item. trafilatura on its own (default
settings, text output) is scored too, as a reference for what the cleaning rules add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

from syndicator.core import identity
from syndicator.core.errors import ExtractError
from syndicator.extract import extraction
from syndicator.extract.candidate import to_candidate
from syndicator.store import open_store

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
TARGET_F1 = 0.95


@dataclass
class PageScore:
    name: str
    group: str
    language: str
    layout: str
    declared: str
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    baseline_f1: float = 0.0
    baseline_text: str = ""
    content_hash: str = ""
    guid: str = ""
    error: str = ""


@dataclass
class CorpusResult:
    pages: list[PageScore]
    seconds: float
    groups: dict[str, list[PageScore]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for page in self.pages:
            self.groups.setdefault(page.group, []).append(page)

    @property
    def mean_f1(self) -> float:
        return sum(p.f1 for p in self.pages) / len(self.pages)

    @property
    def min_f1(self) -> float:
        return min(p.f1 for p in self.pages)

    def _collapsed(self, key: str) -> list[str]:
        return [g for g, pages in self.groups.items() if len({getattr(p, key) for p in pages}) == 1]

    def _false_merges(self, key: str) -> list[tuple[str, ...]]:
        owners: dict[str, set[str]] = defaultdict(set)
        for page in self.pages:
            owners[getattr(page, key)].add(page.group)
        return [tuple(sorted(g)) for g in owners.values() if len(g) > 1]

    @property
    def hash_collapse(self) -> float:
        return len(self._collapsed("content_hash")) / len(self.groups)

    @property
    def item_collapse(self) -> float:
        return len(self._collapsed("guid")) / len(self.groups)

    @property
    def false_merges(self) -> list[tuple[str, ...]]:
        return self._false_merges("content_hash") + self._false_merges("guid")

    @property
    def baseline_mean_f1(self) -> float:
        return sum(p.baseline_f1 for p in self.pages) / len(self.pages)

    @property
    def baseline_collapse(self) -> float:
        same = [
            g
            for g, pages in self.groups.items()
            if len({identity.normalise(p.baseline_text) for p in pages}) == 1
        ]
        return len(same) / len(self.groups)

    @property
    def failed(self) -> list[PageScore]:
        return [p for p in self.pages if p.error]


def token_scores(extracted: str, expected: str) -> tuple[float, float, float]:
    got, want = Counter(identity.tokens(extracted)), Counter(identity.tokens(expected))
    overlap = sum((got & want).values())
    precision = overlap / max(1, sum(got.values()))
    recall = overlap / max(1, sum(want.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


async def _measure(corpus: Path) -> CorpusResult:
    manifest = json.loads((corpus / "manifest.json").read_text("utf-8"))
    sites = manifest["sites"]
    started = time.perf_counter()
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/corpus.db")
        try:
            for entry in manifest["pages"]:
                score = PageScore(
                    entry["name"],
                    entry["group"],
                    entry["language"],
                    entry["layout"],
                    entry["declared"],
                )
                scores.append(score)
                site = sites[entry["site"]]
                body = (corpus / entry["html"]).read_bytes()
                expected = (corpus / entry["expected"]).read_text("utf-8")
                # trafilatura on its own, as a reference for what the cleaning rules add
                score.baseline_text = trafilatura.extract(body, url=entry["url"]) or ""
                score.baseline_f1 = token_scores(score.baseline_text, expected)[2]
                try:
                    page = extraction.extract_article(
                        body, entry["url"], header_charset=entry["header_charset"]
                    )
                except ExtractError as exc:
                    score.error = str(exc)
                    score.content_hash = score.guid = f"failed:{entry['name']}"
                    continue
                score.precision, score.recall, score.f1 = token_scores(page.body_text, expected)
                cand = to_candidate(
                    page,
                    source=entry["site"],
                    canonical_origin=site["canonical"],
                    site_origins=set(site["mirrors"]),
                    sections=frozenset({"corpus"}),
                    default_language=entry["language"],
                )
                score.content_hash = cand.content_hash
                score.guid = (await store.ingest(cand, site["canonical"])).guid
        finally:
            await store.close()
    return CorpusResult(scores, time.perf_counter() - started)


def measure(corpus: Path = CORPUS) -> CorpusResult:
    return asyncio.run(_measure(corpus))


def report(result: CorpusResult, pages: bool = False, out: object = sys.stdout) -> None:
    def say(line: str = "") -> None:
        print(line, file=out)  # type: ignore[arg-type]

    if pages:
        say(
            f"{'page':<28} {'lang':<4} {'layout':<14} {'charset':<12} "
            f"{'P':>6} {'R':>6} {'F1':>6} {'alone':>6}"
        )
        for p in result.pages:
            say(
                f"{p.name:<28} {p.language:<4} {p.layout:<14} {p.declared:<12} "
                f"{p.precision:6.3f} {p.recall:6.3f} {p.f1:6.3f} {p.baseline_f1:6.3f}  {p.error}"
            )
        say()
    say(f"{'group':<14} {'pages':>5} {'hashes':>6} {'items':>5}  {'min F1':>6}")
    for name, group in result.groups.items():
        hashes = len({p.content_hash for p in group})
        items = len({p.guid for p in group})
        say(f"{name:<14} {len(group):5d} {hashes:6d} {items:5d}  {min(p.f1 for p in group):6.3f}")
    say()
    by_lang: dict[str, list[float]] = defaultdict(list)
    for p in result.pages:
        by_lang[p.language].append(p.f1)
    langs = ", ".join(f"{k} {sum(v) / len(v):.3f} ({len(v)})" for k, v in sorted(by_lang.items()))
    say(f"pages {len(result.pages)}, variant groups {len(result.groups)}, {result.seconds:.1f} s")
    say(f"F1 by language: {langs}")
    say(f"{'measure':<34} {'value':>8} {'target':>8}")
    say(f"{'token F1, mean over pages':<34} {result.mean_f1:8.3f} {'>= 0.95':>8}")
    say(f"{'token F1, worst page':<34} {result.min_f1:8.3f} {'':>8}")
    say(f"{'groups collapsed to one hash':<34} {result.hash_collapse:8.0%} {'100%':>8}")
    say(f"{'groups collapsed to one item':<34} {result.item_collapse:8.0%} {'100%':>8}")
    say(f"{'false merges':<34} {len(result.false_merges):8d} {'0':>8}")
    say(
        f"trafilatura alone, for reference: token F1 {result.baseline_mean_f1:.3f}, "
        f"groups with one text {result.baseline_collapse:.0%}"
    )
    if result.failed:
        say(f"failed pages: {', '.join(p.name for p in result.failed)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", action="store_true", help="print the score of every page")
    args = parser.parse_args()
    result = measure()
    report(result, pages=args.pages)
    ok = (
        result.mean_f1 >= TARGET_F1
        and result.hash_collapse == 1
        and result.item_collapse == 1
        and not result.false_merges
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
