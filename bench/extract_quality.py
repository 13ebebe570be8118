"""Extraction quality and speed on real pages that no one here wrote.

    PYTHONPATH=$PWD python bench/extract_quality.py DIR [DIR ...] [--limit N] [--worst 8]

Each DIR is one of two kinds of public set, kept outside the repository:

- readability's test pages (`test/test-pages/*/source.html` with `expected.html`): the
  reference body is the text of `expected.html`; scored as 4-token shingles (tokens `\\w+`,
  case-folded, counted as a multiset): per page TP/FP/FN, precision, recall and F1, means over
  pages.
- trafilatura's evaluation set (a folder with `evaldata.json` and `cache/*.html`): every page
  has `with` snippets that must be in the body and `without` snippets that must not; a snippet
  counts when its whitespace-normalised text is a substring of the whitespace-normalised
  output. Per page: recall = with found / with, precision = with found / (with found +
  without found); means over pages.

Three extractors run on every page: `product` is exactly what the feeds publish (validate,
extract_article, to_candidate, the text of the candidate's content_html; no per-site
selectors), `trafilatura` is the installed trafilatura with its default settings (text
output), `traf-precision` the same with favor_precision=True, and, for reference,
`traf-no-comments` with include_comments=False (the feeds never publish readers' comments;
trafilatura's set counts comment snippets as body). The paired difference is
product F1 minus the best trafilatura setting (by mean F1), with a bootstrap standard error
(2,000 resamples of pages). Timings are wall time per page (median, p95), each extractor on
the same bytes in the same process.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
import trafilatura

from syndicator.core.errors import SyndicatorError
from syndicator.extract import extraction, templates, validate
from syndicator.extract.candidate import to_candidate

_TOKEN = re.compile(r"\w+")
SHINGLE = 4
BOOTSTRAP = 2000


@dataclass
class Doc:
    name: str
    url: str
    body: bytes
    reference: str | None = None  # readability: the expected body text
    with_: list[str] = field(default_factory=list)  # trafilatura set: snippets
    without: list[str] = field(default_factory=list)


def load(folder: Path) -> tuple[str, list[Doc]]:
    """The kind of set and its pages."""
    evaldata = folder / "evaldata.json"
    if evaldata.is_file():
        docs = []
        for url, item in sorted(json.loads(evaldata.read_text("utf-8")).items()):
            for sub in ("cache", "eval"):
                path = folder / sub / item["file"]
                if path.is_file():
                    docs.append(
                        Doc(
                            item["file"],
                            url,
                            path.read_bytes(),
                            None,
                            item["with"],
                            item["without"],
                        )
                    )
                    break
        return "snippets", docs
    pages = sorted(
        p.parent for p in folder.rglob("source.html") if (p.parent / "expected.html").is_file()
    )
    docs = [
        Doc(
            page.name,
            f"https://pages.example/{page.name}/",
            (page / "source.html").read_bytes(),
            # expected.html is UTF-8 without a charset declaration: read as bytes, lxml
            # would take it for Latin-1 and every accent and curly quote would be mojibake.
            html_text((page / "expected.html").read_text("utf-8")),
        )
        for page in pages
    ]
    return "shingles", docs


def html_text(markup: bytes | str) -> str:
    if not markup.strip():
        return ""
    root = lxml.html.fromstring(markup)
    return "\n".join(templates.block_texts(root))


# --- extractors ----------------------------------------------------------------------------


def product(doc: Doc) -> str:
    """What the feeds publish for this page: the text of the candidate's content_html."""
    try:
        validate.check(doc.body, doc.url, "article")
        page = extraction.extract_article(doc.body, doc.url)
    except SyndicatorError:
        return ""
    origin = "https://pages.example"
    cand = to_candidate(
        page,
        source="bench",
        canonical_origin=origin,
        site_origins={origin},
        sections=frozenset(),
        default_language="en",
    )
    return html_text(cand.content_html)


def plain(doc: Doc) -> str:
    return trafilatura.extract(doc.body, url=doc.url) or ""


def precise(doc: Doc) -> str:
    return trafilatura.extract(doc.body, url=doc.url, favor_precision=True) or ""


def no_comments(doc: Doc) -> str:
    return trafilatura.extract(doc.body, url=doc.url, include_comments=False) or ""


# traf-no-comments is for reference only (not in "best of"): the feeds never publish readers'
# comments, and trafilatura's own set counts comment snippets as body.
EXTRACTORS: dict[str, Callable[[Doc], str]] = {
    "product": product,
    "trafilatura": plain,
    "traf-precision": precise,
    "traf-no-comments": no_comments,
}


# --- scores --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 1.0


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = [t.casefold() for t in _TOKEN.findall(text)]
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def shingle_score(output: str, reference: str) -> Score:
    got, want = shingles(output), shingles(reference)
    tp = sum((got & want).values())
    return Score(tp, sum(got.values()) - tp, sum(want.values()) - tp)


def _norm(text: str) -> str:
    return " ".join(text.split())


def snippet_score(output: str, doc: Doc) -> Score:
    text = _norm(output)
    found = sum(1 for s in doc.with_ if _norm(s) in text)
    leaked = sum(1 for s in doc.without if _norm(s) in text)
    return Score(found, leaked, len(doc.with_) - found)


def score(kind: str, output: str, doc: Doc) -> Score:
    if kind == "snippets":
        return snippet_score(output, doc)
    return shingle_score(output, doc.reference or "")


def bootstrap_se(diffs: list[float], rounds: int = BOOTSTRAP, seed: int = 11) -> float:
    rng = random.Random(seed)
    n = len(diffs)
    means = [sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds)]
    return statistics.stdev(means)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(folder: Path, limit: int | None, worst: int) -> dict[str, float]:
    kind, docs = load(folder)
    if limit:
        docs = docs[:limit]
    if not docs:
        print(f"{folder}: no pages with a reference found", file=sys.stderr)
        return {}
    scores: dict[str, list[Score]] = {name: [] for name in EXTRACTORS}
    times: dict[str, list[float]] = {name: [] for name in EXTRACTORS}
    empty: dict[str, list[str]] = {name: [] for name in EXTRACTORS}
    for doc in docs:
        for name, extract in EXTRACTORS.items():
            start = time.perf_counter()
            output = extract(doc)
            times[name].append(time.perf_counter() - start)
            scores[name].append(score(kind, output, doc))
            if not output.strip():
                empty[name].append(doc.name)
    print(f"\n{folder} ({kind}, {len(docs)} pages)")
    print(
        f"{'extractor':<16}{'precision':>10}{'recall':>8}{'F1':>8}{'empty':>7}"
        f"{'median ms':>11}{'p95 ms':>8}"
    )
    means: dict[str, float] = {}
    for name in EXTRACTORS:
        ss = scores[name]
        means[name] = statistics.fmean(s.f1 for s in ss)
        print(
            f"{name:<16}{statistics.fmean(s.precision for s in ss):>10.3f}"
            f"{statistics.fmean(s.recall for s in ss):>8.3f}{means[name]:>8.3f}"
            f"{len(empty[name]):>7}{statistics.median(times[name]) * 1000:>11.1f}"
            f"{percentile(times[name], 0.95) * 1000:>8.1f}"
        )
    best = max(("trafilatura", "traf-precision"), key=lambda n: means[n])
    diffs = [a.f1 - b.f1 for a, b in zip(scores["product"], scores[best], strict=True)]
    se = bootstrap_se(diffs)
    ratio = statistics.median(times["product"]) / statistics.median(times["trafilatura"])
    print(
        f"product - {best}: F1 {statistics.fmean(diffs):+.4f} ± {se:.4f} (bootstrap s.e.); "
        f"median time ratio {ratio:.2f} x trafilatura default"
    )
    lost = [
        d.name
        for d, s in zip(docs, scores["product"], strict=True)
        if d.name in empty["product"] and d.name not in empty[best]
    ]
    print(f"pages where {best} finds a body and product publishes nothing: {len(lost)} {lost}")
    order = sorted(range(len(docs)), key=lambda i: diffs[i])
    print(f"product loses most (F1 product / {best}):")
    for i in order[:worst]:
        if diffs[i] < 0:
            print(f"  {docs[i].name:<48}{scores['product'][i].f1:.3f} / {scores[best][i].f1:.3f}")
    print(f"{best} loses most:")
    for i in reversed(order[-worst:]):
        if diffs[i] > 0:
            print(f"  {docs[i].name:<48}{scores['product'][i].f1:.3f} / {scores[best][i].f1:.3f}")
    return means


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, help="only the first N pages of each set")
    parser.add_argument("--worst", type=int, default=8, help="pages listed per side")
    args = parser.parse_args()
    print(f"trafilatura {trafilatura.__version__}")
    for folder in args.folders:
        run(folder, args.limit, args.worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
