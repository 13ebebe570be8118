"""Extraction time on hostile markup: does it grow with the page, or with its square?

    PYTHONPATH=$PWD python bench/hostile_markup.py [--count 10000]

Each case is an article page with one kind of markup repeated `count` times, then four
times as often: a paragraph of line breaks, of comments, of `<span>`s or `<b>`s, of spacer
spans; many paragraphs, list items, links, hidden boxes, section labels; one element with that
many attributes (refused as hostile-markup, not parsed). The whole ingest of a page is timed
(validate.check, extract_article, to_candidate). Time that grows with the page grows about
4x from the first column to the second; with its square, about 16x.
"""

from __future__ import annotations

import argparse
import sys
import time

from syndicator.core.errors import SyndicatorError
from syndicator.extract import candidate, extraction, validate

URL = "https://www.bench-news.example/2024/05/quay"
PARAGRAPH = "<p>" + "The council voted on Monday to rebuild the harbour wall. " * 5 + "</p>"
CASES = {
    "line breaks in a paragraph": lambda n: "<p>" + "a<br>" * n + "</p>",
    "comments in a paragraph": lambda n: "<p>" + "a<!-- x --> " * n + "</p>",
    "spans in a paragraph": lambda n: "<p>" + "<span>x</span> " * n + "</p>",
    "bold words in a paragraph": lambda n: "<p>" + "<b>x</b> " * n + "</p>",
    "spacer spans": lambda n: "<p>" + "a<span>&nbsp;</span>" * n + "</p>",
    "paragraphs": lambda n: "<p>word here now</p>" * n,
    "list items": lambda n: "<ul>" + "<li>item text</li>" * n + "</ul>",
    "links": lambda n: "<p>" + "<a href='/a'>x</a> " * n + "</p>",
    "hidden boxes": lambda n: "<div style='display:none'>x</div>" * n,
    "labelled sections": lambda n: (
        "<div><h3>Related stories</h3><ul><li><a href='/x'>x</a></li></ul></div>" * (n // 8)
    ),
    "attributes on one element": lambda n: (
        "<p " + " ".join(f"a{i}='x'" for i in range(n)) + ">x</p>"
    ),
}


def page(markup: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Quay</title></head><body>"
        f"<article><h1>New quay opens</h1>{PARAGRAPH}{PARAGRAPH}{markup}</article></body></html>"
    ).encode()


def ingest(body: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        validate.check(body, URL, "article")
        extracted = extraction.extract_article(body, URL)
        candidate.to_candidate(
            extracted,
            source="bench",
            canonical_origin="https://www.bench-news.example",
            site_origins={"https://www.bench-news.example"},
            sections=frozenset({"world"}),
            default_language="en",
        )
        outcome = "published"
    except SyndicatorError as exc:
        outcome = f"refused ({getattr(exc, 'kind', 'error')})"
    return time.perf_counter() - started, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="repeats in the smaller page")
    args = parser.parse_args()
    n = args.count
    print(f"Python {sys.version.split()[0]}; {n:,} and {4 * n:,} repeats")
    print(f"{'case':<28} {'KB':>6} {'s':>7} {'KB':>6} {'s':>7} {'growth':>7}  outcome")
    for name, build in CASES.items():
        small, large = page(build(n)), page(build(4 * n))
        t_small, _ = ingest(small)
        t_large, outcome = ingest(large)
        growth = t_large / t_small if t_small > 0 else float("inf")
        print(
            f"{name:<28} {len(small) // 1024:6d} {t_small:7.2f} {len(large) // 1024:6d} "
            f"{t_large:7.2f} {growth:6.1f}x  {outcome}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
