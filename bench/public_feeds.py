"""Source feeds and sitemaps no one here wrote, read as a pull reads them.

    PYTHONPATH=$PWD python bench/public_feeds.py DIR [DIR...] [--show 10]

Every file under each folder (a feed reader's or a sitemap parser's test corpus, a folder
of feeds saved from publishers) is read the way a pull reads an entry point: a sitemap
(gzipped, a `urlset` or `sitemapindex`, or a text of URLs) by `validate.check` and
`sitemaps.parse_sitemap`; anything else as a source feed, by `validate.check`,
`listings.parse_feed` and `validate.feed_notice`. The files are only read, never copied.

What syndicator found is set beside what another reader finds in the same bytes: for a
feed, feedparser's entries that have a link; for a sitemap, the `<loc>`s of its entries
as lxml reads them past errors (or the URL lines of a text one). A crash is any exception
that is not syndicator's own refusal (a pull logs it as an extraction bug and loses the
listing); a refusal "with entries" is one of a document the other reader takes entries
from. Time is syndicator's whole read of one file, in milliseconds (the other reader's is
not counted); the machine's other work shows in the largest.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
from lxml import etree

from syndicator.core.errors import ExtractError
from syndicator.extract import listings, sitemaps, validate

URL = "http://127.0.0.1:8097/"
_SITEMAP_ROOT = re.compile(rb"<(?:[\w.-]+:)?(?:urlset|sitemapindex)[\s>/]")
_URL_LINE = re.compile(rb"^\s*https?://", re.I)


@dataclass
class Tally:
    """What one folder's files gave."""

    files: int = 0
    read: int = 0
    entries: int = 0
    reference: int = 0
    short: int = 0  # files where syndicator found fewer entries than the other reader
    crashes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    refused_with_entries: list[str] = field(default_factory=list)
    shorts: list[str] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)


def is_sitemap(body: bytes) -> bool:
    """A gzipped file, a text of URLs, or XML whose root is a urlset or sitemapindex."""
    head = body[:4096]
    return (
        body.startswith(b"\x1f\x8b")
        or bool(_URL_LINE.match(head.removeprefix(b"\xef\xbb\xbf")))
        or bool(_SITEMAP_ROOT.search(head))
    )


def reference_feed(body: bytes, url: str) -> int:
    """Entries with a link, as feedparser reads the bytes."""
    try:
        parsed = feedparser.parse(body, response_headers={"content-location": url})
    except Exception:
        return 0
    return sum(1 for e in parsed.entries if isinstance(e.get("link"), str) and e["link"].strip())


def reference_sitemap(body: bytes) -> int:
    """The `<loc>`s of a sitemap's entries as lxml reads them past errors, or its URL lines."""
    try:
        data = sitemaps.inflate(body)
    except ExtractError:
        return 0
    if _URL_LINE.match(data[:200].removeprefix(b"\xef\xbb\xbf")):
        return sum(1 for line in data.splitlines() if _URL_LINE.match(line))
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return 0
    if root is None:
        return 0
    if not _SITEMAP_ROOT.search(data[:4096]):
        return reference_feed(data, URL)
    return len(
        root.xpath("//*[local-name()='url' or local-name()='sitemap']/*[local-name()='loc']")
    )


def read(body: bytes, url: str, sitemap: bool) -> tuple[str, int]:
    """How syndicator read one file ("read", "refused: ..." or "crash: ..."), and the entries
    it found."""
    try:
        validate.check(body, url, "sitemap" if sitemap else "feed")
        if sitemap:
            document = sitemaps.parse_sitemap(body, url)
            found = len(document.urls) + len(document.children)
        else:
            entries = listings.parse_feed(body, url)
            if kind := validate.feed_notice(entries):
                raise validate.feed_rejected(url, kind)
            found = len(entries)
    except ExtractError as exc:
        return f"refused: {exc.kind}: {exc.message[:120]}", 0
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {str(exc)[:120]}", 0
    return "read", found


def tally(folder: Path) -> Tally:
    out = Tally()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        body = path.read_bytes()
        sitemap = is_sitemap(body)
        started = time.perf_counter()
        outcome, found = read(body, URL + name, sitemap)
        out.ms.append((time.perf_counter() - started) * 1000)
        reference = reference_sitemap(body) if sitemap else reference_feed(body, URL + name)
        out.files += 1
        out.entries += found
        out.reference += reference
        if outcome == "read":
            out.read += 1
            if found < reference:
                out.short += 1
                out.shorts.append(f"{name}: {found} of {reference}")
        elif outcome.startswith("crash"):
            out.crashes.append(f"{name}: {outcome}")
        else:
            out.refusals.append(f"{name}: {outcome}")
            if reference:
                out.refused_with_entries.append(f"{name} ({reference} entries): {outcome}")
    return out


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--show", type=int, default=10, help="failures listed per kind")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    header = (
        f"{'folder':<34} {'files':>6} {'read':>6} {'entries':>8} {'other':>8} {'short':>6} "
        f"{'crash':>6} {'refused':>8} {'w/ ent.':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    )
    print(header)
    print("-" * len(header))
    results = [(folder, tally(folder)) for folder in args.folders]
    for folder, t in results:
        print(
            f"{str(folder)[-34:]:<34} {t.files:>6} {t.read:>6} {t.entries:>8} {t.reference:>8} "
            f"{t.short:>6} {len(t.crashes):>6} {len(t.refusals):>8} "
            f"{len(t.refused_with_entries):>8} {percentile(t.ms, 0.5):>7.2f} "
            f"{percentile(t.ms, 0.95):>7.2f} {max(t.ms, default=0.0):>7.1f}"
        )
    print(
        "\nentries: found by syndicator; other: by feedparser (feeds) or lxml (sitemaps); "
        "short: files read with fewer entries than the other reader found; "
        "w/ ent.: refused files the other reader found entries in."
    )
    for folder, t in results:
        for label, lines in (
            ("crashes", t.crashes),
            ("refused with entries", t.refused_with_entries),
            ("read short", t.shorts),
        ):
            if lines:
                print(f"\n{folder}: {label} ({len(lines)})")
                for line in lines[: args.show]:
                    print(f"  {line}")


if __name__ == "__main__":
    main()
