"""Real pages, published: does every feed format stay valid on articles no one here wrote?

    PYTHONPATH=$PWD python bench/feed_validity.py DIR [DIR ...] [--batch 50] [--show 10]

Each DIR is a public set of real pages, as `bench/extract_quality.py` reads it (readability's
test pages, trafilatura's evaluation set), kept outside the repository. Every page goes the
way of a pulled article page (validate.check, extract_article, to_candidate, in a process pool
of every core); the articles are published `--batch` at a time, as one section's feed, in
RSS 2.0, Atom 1.0 and JSON Feed 1.1, and each document is checked by the validators the tests
use (`tests/feedrules.py`: the Atom RELAX NG grammar of RFC 4287 and its rules, the RSS 2.0
rules, the JSON Feed 1.1 schema). It prints the articles per set and the problems per format;
the target is none.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.extract_quality import Doc, load
from syndicator.core import identity
from syndicator.core.errors import SyndicatorError
from syndicator.core.models import Article, Candidate
from syndicator.extract import extraction, validate
from syndicator.extract.candidate import to_candidate
from syndicator.publish import render
from tests.feedrules import PROBLEMS
from tests.test_render import INFO

SECTION = INFO.section
UNDATED = datetime(2024, 1, 1, tzinfo=UTC)


def published(doc: Doc) -> Candidate | None:
    """What a pull stores of this page, or None when it is refused or holds no article."""
    # The URL the page was saved from (a fetched URL holds no space; one key of trafilatura's
    # set ends in one), or one of our own for readability's pages, which carry none.
    url = doc.url.strip()
    url = url if urlsplit(url).scheme in ("http", "https") else "https://pages.example/"
    origin = identity.origin(url)
    try:
        validate.check(doc.body, url, "article")
        page = extraction.extract_article(doc.body, url)
    except SyndicatorError:
        return None
    return to_candidate(
        page,
        source="bench",
        canonical_origin=origin,
        site_origins={origin},
        sections=frozenset({SECTION}),
        default_language="en",
    )


def article(n: int, cand: Candidate) -> Article:
    when = cand.published or UNDATED
    return Article(
        id=n,
        guid=f"tag:pages.example,2024:bench/{n}",
        source=cand.source,
        url=cand.canonical_url,
        title=cand.title,
        summary=cand.summary,
        content_html=cand.content_html,
        published=when,
        updated=cand.updated or when,
        author=cand.author,
        image_url=cand.image_url,
        image_caption=cand.image_caption,
        language=cand.language,
        sections=(SECTION,),
    )


def check(folder: Path, batch: int, show: int) -> int:
    kind, docs = load(folder)
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        found = list(pool.map(published, docs, chunksize=8))
    articles = [article(n, c) for n, c in enumerate(found) if c is not None]
    problems: Counter[str] = Counter()
    examples: list[str] = []
    for start in range(0, len(articles), batch):
        for fmt in render.FORMATS:
            for problem in PROBLEMS[fmt](render.render(fmt, INFO, articles[start : start + batch])):
                problems[fmt] += 1
                examples.append(f"  {fmt}, articles {start}-{start + batch - 1}: {problem[:300]}")
    row = " | ".join(str(problems[fmt]) for fmt in render.FORMATS)
    print(f"| {folder.name} ({kind}) | {len(docs)} | {len(articles)} | {row} |")
    for line in examples[:show]:
        print(line, file=sys.stderr)
    return sum(problems.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--batch", type=int, default=50, help="articles a feed document")
    parser.add_argument("--show", type=int, default=10, help="problems shown per set")
    args = parser.parse_args()
    formats = " | ".join(f"{fmt} problems" for fmt in render.FORMATS)
    print(f"| set | pages | articles | {formats} |")
    print("| --- | --- | --- |" + " --- |" * len(render.FORMATS))
    total = sum(check(folder, args.batch, args.show) for folder in args.folders)
    print(f"problems in all: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
