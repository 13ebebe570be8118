"""HTML pages for people: the index of sections and one page per section with its latest items.

Both carry subscribe links and `<link rel="alternate">` autodiscovery tags, and both can be
narrowed with a search over titles (`?q=`). Pure: facts in, HTML text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from syndicator.core.models import Article
from syndicator.publish.feedinfo import MEDIA_TYPES, publishable

FORMAT_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
LINK_TYPES = MEDIA_TYPES

_STYLE = """  <style>
    body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
           padding: 0 1rem; line-height: 1.5; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd;
             vertical-align: top; }
    td a, nav a { margin-right: .6rem; }
    .meta, .health { color: #555; font-size: .9rem; }
    ol.items li { margin-bottom: 1rem; }
    form { margin: 1rem 0; }
  </style>"""


@dataclass(frozen=True)
class SectionSummary:
    name: str
    title: str
    feed_urls: dict[str, str]
    items: int
    changed_at: datetime | None
    page_url: str = ""
    description: str = ""


@dataclass(frozen=True)
class SourceHealth:
    """One line about a source for the index: its name and how its mirrors are doing."""

    name: str
    title: str
    summary: str


def matches(query: str, text: str) -> bool:
    """Every word of the query appears in the text, ignoring case."""
    folded = text.casefold()
    return all(word in folded for word in query.casefold().split())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _autodiscovery(sections: Sequence[SectionSummary]) -> str:
    return "\n".join(
        f'  <link rel="alternate" type="{LINK_TYPES[fmt]}" '
        f'title="{escape(s.title)} ({FORMAT_LABELS[fmt]})" href="{escape(url)}">'
        for s in sections
        for fmt, url in s.feed_urls.items()
    )


def _subscribe(s: SectionSummary) -> str:
    return " ".join(
        f'<a href="{escape(url)}" type="{LINK_TYPES[fmt]}">{FORMAT_LABELS[fmt]}</a>'
        for fmt, url in s.feed_urls.items()
    )


def _document(title: str, head: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
{head}
{_STYLE}
</head>
<body>
{body}
</body>
</html>
"""


def _search_form(action: str, query: str, what: str) -> str:
    return (
        f'  <form action="{escape(action)}" method="get" role="search">\n'
        f'    <input type="search" name="q" value="{escape(query)}" '
        f'placeholder="Search {what} titles" aria-label="Search {what} titles">\n'
        f'    <button type="submit">Search</button>\n'
        f"  </form>"
    )


def index_page(
    title: str,
    sections: Sequence[SectionSummary],
    health: Sequence[SourceHealth] = (),
    *,
    query: str = "",
    index_url: str = "",
    opml_url: str = "",
) -> str:
    """Every section with its subscribe links; `query` keeps the sections whose title matches."""
    shown = [s for s in sections if matches(query, s.title)] if query else list(sections)
    rows = "\n".join(_row(s) for s in shown) or (
        '      <tr><td colspan="4">No section title matches that search.</td></tr>'
    )
    sources = "\n".join(
        f"    <li><strong>{escape(h.title)}</strong>: {escape(h.summary)}</li>" for h in health
    )
    opml = (
        f'  <p>All sections at once: <a href="{escape(opml_url)}">OPML subscription list</a> '
        f"(import it into your reader).</p>\n"
        if opml_url
        else ""
    )
    body = f"""  <h1>{escape(title)}</h1>
  <p>One subscription per section, whichever mirror of the source is up.
     Paste a feed link into your reader.</p>
{opml}{_search_form(index_url, query, "section")}
  <table>
    <thead><tr><th>Section</th><th>Items</th><th>Last update</th><th>Subscribe</th></tr></thead>
    <tbody>
{rows}
    </tbody>
  </table>
  <h2>Sources</h2>
  <ul class="health">
{sources}
  </ul>"""
    return _document(title, _autodiscovery(sections), body)


def _row(s: SectionSummary) -> str:
    name = escape(s.title)
    if s.page_url:
        name = f'<a href="{escape(s.page_url)}">{name}</a>'
    return (
        f"      <tr><td>{name}</td><td>{s.items}</td>"
        f"<td>{_when(s.changed_at)}</td><td>{_subscribe(s)}</td></tr>"
    )


def section_page(
    site_title: str,
    section: SectionSummary,
    articles: Sequence[Article],
    *,
    query: str = "",
    index_url: str = "",
    archive_pages: Sequence[tuple[int, str]] = (),
) -> str:
    """A section's latest items, newest first; `query` keeps the items whose title matches."""
    items = [publishable(a) for a in articles]
    if query:
        items = [a for a in items if matches(query, a.title)]
    listed = "\n".join(_item(a) for a in items) or (
        "    <li>No item title matches that search.</li>" if query else "    <li>No items yet.</li>"
    )
    archives = " ".join(f'<a href="{escape(url)}">{n}</a>' for n, url in archive_pages)
    older = f'  <p class="meta">Older items, page by page: {archives}</p>\n' if archives else ""
    count = f"{section.items} item" + ("" if section.items == 1 else "s")
    body = f"""  <nav><a href="{escape(index_url)}">{escape(site_title)}</a></nav>
  <h1>{escape(section.title)}</h1>
  <p>{escape(section.description)}</p>
  <p>Subscribe: {_subscribe(section)}</p>
  <p class="meta">{count}, last update {_when(section.changed_at)}</p>
{_search_form(section.page_url, query, "item")}
  <ol class="items">
{listed}
  </ol>
{older}"""
    return _document(f"{section.title}: {site_title}", _autodiscovery([section]), body)


def _item(a: Article) -> str:
    byline = f" · {escape(a.author)}" if a.author else ""
    summary = f"<br>{escape(a.summary)}" if a.summary else ""
    return (
        f'    <li><a href="{escape(a.url)}">{escape(a.title)}</a><br>'
        f'<span class="meta">{_when(a.published)}{byline}</span>{summary}</li>'
    )
