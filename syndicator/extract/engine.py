"""The one place trafilatura, the extraction engine, is called: its settings for the article
body and the safety net's second opinion, and the markup it cannot take turned into markup
it can (spans past a table, tens of thousands of inline tags, its own `hi` tag) first.
Pure: a tree in, the body's tree out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.htmlprocessing import build_html_output
from trafilatura.settings import Document

from syndicator.core.errors import ExtractError
from syndicator.extract import page_tree, spacing

# trafilatura's settings for the article body, chosen with bench/extract_quality.py on the
# public real-page sets (mean F1 readability/trafilatura sets): fast=True, which skips the
# fallback extractors and picked a sidebar box on some pages, 0.786/0.889; fast=False with
# favor_recall 0.795/0.894, without 0.793/0.899 but then mirror copies in tests/corpus no
# longer collapse to one hash (82%): favor_recall stays.
TRAFILATURA_OPTIONS: dict[str, Any] = {"fast": False, "favor_recall": True}


# trafilatura's own markup names inline styling `<hi rend="...">`; a page that carries such a
# tag itself (with a rend trafilatura has no HTML for, e.g. `uppercase`) made it raise
# KeyError, and the article was lost. The page's own `hi` elements are plain spans to us.
_OWN_TAGS = ("hi",)


# trafilatura's main pass takes time that grows with the square of the inline elements in a
# block: 8,000 `<span>`s (or `<b>`, `<em>`...) in one paragraph took 4.5 s, 40,000 three
# minutes. Its output carries no such formatting, so on a page with more than this many in
# all (the most in the 1,120 public pages of the quality bench was 2,504) they are unwrapped,
# their text kept, before it runs.
MAX_FORMATTING = 5_000
_FORMATTING = ("span", "font", "b", "strong", "i", "em", "small", "u", "big", "tt", "mark")


def clamp_spans(root: etree._Element) -> None:
    """Cut each table cell's `colspan` to the cells of its table's widest row and its
    `rowspan` to its table's rows: more spans only empty cells. trafilatura fills what a
    span claims with empty cells (up to 100 by 100): a page of one-cell tables with
    `colspan="1000000" rowspan="65534"` (670 KB, 29,000 elements) took 26 s to extract."""
    rows_of: dict[etree._Element, list[etree._Element]] = {}
    for row in root.iter("tr"):
        holder = row.getparent()
        while holder is not None and holder.tag != "table":
            holder = holder.getparent()
        if holder is not None:
            rows_of.setdefault(holder, []).append(row)
    for rows in rows_of.values():
        cells = [[c for c in row if c.tag in ("td", "th")] for row in rows]
        limits = {"colspan": max(1, *map(len, cells)), "rowspan": len(rows)}
        for cell in (c for row in cells for c in row):
            for name, limit in limits.items():
                try:
                    too_many = int((cell.get(name) or "1").strip() or "1") > limit
                except ValueError:
                    continue
                if too_many:
                    cell.set(name, str(limit))


def trafilatura_body(
    root: etree._Element, url: str, options: Mapping[str, Any] = TRAFILATURA_OPTIONS
) -> etree._Element | None:
    clamp_spans(root)
    if sum(1 for _ in root.iter(*_FORMATTING)) > MAX_FORMATTING:
        etree.strip_tags(root, *_FORMATTING)
        page_tree.join_texts(root.iter())
    for el in root.iter(*_OWN_TAGS):
        el.tag = "span"
        el.attrib.pop("rend", None)
    try:
        # `bare_extraction` and the HTML serialiser are what `trafilatura.extract(...,
        # output_format="html")` runs, without the content fingerprint it adds for its own
        # deduplication (5% of an ingest on real pages; ours is `core.identity`).
        # No `url`: trafilatura resolves a relative link against the site's origin alone
        # (`details.html` on /news/2024/x became /details.html, `#fn1` the home page).
        # The links of the body are resolved by `resolve_links`, as a browser does.
        document = trafilatura.bare_extraction(
            root,
            output_format="html",
            include_images=False,
            include_links=True,
            include_tables=True,
            include_comments=False,
            deduplicate=False,
            as_dict=False,
            **options,
        )
        extracted = (
            unicodedata.normalize("NFC", build_html_output(document))
            if isinstance(document, Document)
            else None
        )
    except Exception as exc:
        # Any failure inside the library on one page: hostile or odd markup must cost that
        # page, as a failure the mirror's health counts, never the pull.
        raise ExtractError(url, f"extraction failed: {type(exc).__name__}: {exc}") from None
    if not extracted:
        return None
    body_root = lxml.html.fragment_fromstring(
        extracted, create_parent="div", parser=page_tree.HTML_PARSER
    )
    body = next(iter(body_root.iter("body")), body_root)
    spacing.repair(body, root, glued=spacing.GLUED.search(extracted) is not None)
    return body
