"""HTML pages for people: the index of sections, one page per section with its latest items,
the 404 page, and the mirror dashboard.

The index and section pages carry subscribe links and `<link rel="alternate">` autodiscovery
tags, and both can be narrowed with a search over titles (`?q=`). The mirror dashboard
(`/mirrors`) shows per source and mirror its state, breaker, latency, an availability
timeline over the last days and its last error, then the discovered candidates; the timeline
is inline SVG (one bar per hour, coloured by how the mirror answered, a `<title>` per bar for
the details), so it needs no JavaScript. Pure: facts in, HTML text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from syndicator.core import identity
from syndicator.core.models import Article
from syndicator.mirrors.health import MirrorPull
from syndicator.publish.feedinfo import MEDIA_TYPES, language_tag, publishable

if TYPE_CHECKING:
    from syndicator.publish.mirror_report import MirrorRow

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
    .empty { padding: 1rem; background: #f4f4f4; border-radius: .3rem; }
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


# The language of the pages' own words.
PAGE_LANGUAGE = "en"


def document(title: str, head: str, body: str) -> str:
    """A whole HTML page in the site's style; `head` goes into <head> (links, more style)."""
    return f"""<!DOCTYPE html>
<html lang="{PAGE_LANGUAGE}">
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


def _search_form(action: str, query: str, what: str, searchable: bool = True) -> str:
    """The search box; none on a page for a static host, which answers `?q=` with the same
    page, every item still listed, as though the search found them all."""
    if not searchable:
        return ""
    return (
        f'  <form action="{escape(action)}" method="get" role="search">\n'
        f'    <input type="search" name="q" value="{escape(query)}" '
        f'placeholder="Search {what} titles" aria-label="Search {what} titles">\n'
        f'    <button type="submit">Search</button>\n'
        f"  </form>\n"
    )


def index_page(
    title: str,
    sections: Sequence[SectionSummary],
    health: Sequence[SourceHealth] = (),
    *,
    query: str = "",
    index_url: str = "",
    opml_url: str = "",
    mirrors_url: str = "",
    searchable: bool = True,
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
    dashboard = (
        f'\n  <p><a href="{escape(mirrors_url)}">Mirror dashboard</a>: every mirror\'s state and '
        "availability over the last days.</p>"
        if mirrors_url
        else ""
    )
    body = f"""  <h1>{escape(title)}</h1>
  <p>One subscription per section, whichever mirror of the source is up.
     Paste a feed link into your reader.</p>
{opml}{_search_form(index_url, query, "section", searchable)}  <table>
    <thead><tr><th>Section</th><th>Items</th><th>Last update</th><th>Subscribe</th></tr></thead>
    <tbody>
{rows}
    </tbody>
  </table>
  <h2>Sources</h2>
  <ul class="health">
{sources}
  </ul>{dashboard}"""
    return document(title, _autodiscovery(sections), body)


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
    searchable: bool = True,
) -> str:
    """A section's latest items, newest first; `query` keeps the items whose title matches."""
    items = [publishable(a) for a in articles]
    if query:
        items = [a for a in items if matches(query, a.title)]
    listed = "\n".join(_item(a) for a in items)
    if items:
        shown = f'  <ol class="items">\n{listed}\n  </ol>'
    elif query:
        shown = (
            f'  <p class="empty">No item title in {escape(section.title)} matches '
            f"<strong>{escape(query)}</strong>. "
            f'<a href="{escape(section.page_url)}">Show every item</a></p>'
        )
    else:
        shown = '  <p class="empty">No items yet: the next pull fills this section.</p>'
    archives = " ".join(f'<a href="{escape(url)}">{n}</a>' for n, url in archive_pages)
    older = f'  <p class="meta">Older items, page by page: {archives}</p>\n' if archives else ""
    count = f"{section.items} item" + ("" if section.items == 1 else "s")
    body = f"""  <nav><a href="{escape(index_url)}">{escape(site_title)}</a></nav>
  <h1>{escape(section.title)}</h1>
  <p>{escape(section.description)}</p>
  <p>Subscribe: {_subscribe(section)}</p>
  <p class="meta">{count}, last update {_when(section.changed_at)}</p>
{_search_form(section.page_url, query, "item", searchable)}{shown}
{older}"""
    return document(f"{section.title}: {site_title}", _autodiscovery([section]), body)


def _language(a: Article) -> str:
    """`lang` (and `dir` when right to left) for an item in another language than the page's
    words: an Arabic title in an English page is laid out left to right, its full stop and
    question mark at the wrong end, and read aloud with an English voice."""
    lang = language_tag(a.language)
    if not lang or lang.split("-", 1)[0].lower() == PAGE_LANGUAGE:
        return ""
    return f' lang="{escape(lang)}"' + (' dir="rtl"' if identity.is_rtl(lang) else "")


def _item(a: Article) -> str:
    byline = f" · {escape(a.author)}" if a.author else ""
    summary = f"<br>{escape(a.summary)}" if a.summary else ""
    return (
        f'    <li{_language(a)}><a href="{escape(a.url)}">{escape(a.title)}</a><br>'
        f'<span class="meta">{_when(a.published)}{byline}</span>{summary}</li>'
    )


def not_found_page(
    site_title: str,
    what: str,
    sections: Sequence[SectionSummary],
    *,
    index_url: str = "",
) -> str:
    """A 404 for people: what was not found and the sections that exist."""
    listed = "\n".join(
        f'    <li><a href="{escape(s.page_url)}">{escape(s.title)}</a> {_subscribe(s)}</li>'
        for s in sections
    )
    body = f"""  <nav><a href="{escape(index_url)}">{escape(site_title)}</a></nav>
  <h1>Not found</h1>
  <p class="empty">{escape(what)}</p>
  <h2>Sections</h2>
  <ul class="sections">
{listed}
  </ul>"""
    return document(f"Not found: {site_title}", "", body)


# --- the mirror dashboard ---------------------------------------------------------------

DAYS = 7
BAR = 3  # pixels per hour
LANE = 22  # height of the availability lane
SPARK = 16  # height of the latency lane under it
COLOURS = {
    "up": "#2e7d32",
    "mixed": "#f9a825",
    "down": "#c62828",
    "none": "#e3e3e3",
}
STATE_COLOURS = {
    "healthy": "#2e7d32",
    "redirecting": "#1565c0",
    "degraded": "#b26a00",
    "down": "#c62828",
    "unknown": "#666",
    "candidate": "#1565c0",
}

_DASHBOARD_STYLE = """  <style>
    html body { max-width: 72rem; }
    .state { font-weight: 600; }
    .timeline { display: block; }
    .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem;
                   vertical-align: middle; }
    td.error { font-size: .85rem; color: #8a1c1c; overflow-wrap: anywhere; border-top: none; }
    tr.mirror:has(+ tr.error-row) td { border-bottom: none; }
    td.mirror { white-space: nowrap; }
  </style>"""


@dataclass(frozen=True)
class SourceMirrors:
    """One source's part of the dashboard."""

    name: str
    title: str


def breaker(row: MirrorRow, now: datetime) -> str:
    """closed (requests go), open until T (none go), half-open (the next pull sends a probe);
    not pulled for an adopted mirror paused while adoption is off."""
    if row.state == "paused":
        return "not pulled"
    if row.state != "down":
        if row.retry_at is not None and row.retry_at > now:
            return f"waiting (Retry-After) until {row.retry_at:%H:%M UTC}"
        return "closed"
    if row.retry_at is not None and row.retry_at > now:
        same_day = row.retry_at.date() == now.date()
        return (
            f"open until {row.retry_at:%H:%M} UTC"
            if same_day
            else f"open until {_when(row.retry_at)}"
        )
    return "half-open: next pull probes"


def timeline(pulls: Sequence[MirrorPull], now: datetime, label: str) -> str:
    """Inline SVG: one bar per hour of the last DAYS days, oldest left; green when every
    request in that hour was answered, amber when some failed, red when all failed, grey when
    the mirror was not asked; the mean latency as a line under the bars."""
    hours = DAYS * 24
    start = now - timedelta(hours=hours)
    buckets: list[list[MirrorPull]] = [[] for _ in range(hours)]
    for p in pulls:
        if p.at is None or p.at < start or p.at > now:
            continue
        index = min(hours - 1, int((p.at - start).total_seconds() // 3600))
        buckets[index].append(p)
    width = hours * BAR
    height = LANE + SPARK + 14
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">'
    ]
    latencies: list[tuple[int, float]] = []
    for i, bucket in enumerate(buckets):
        ok = sum(p.successes for p in bucket)
        bad = sum(p.failures for p in bucket)
        if not bucket or ok + bad == 0:
            kind, note = "none", "not asked"
        elif bad == 0:
            kind, note = "up", f"{ok} answered"
        elif ok == 0:
            kind, note = "down", f"{bad} failed"
        else:
            kind, note = "mixed", f"{ok} answered, {bad} failed"
        measured = [p.latency for p in bucket if p.latency is not None]
        if measured:
            mean = sum(measured) / len(measured)
            latencies.append((i, mean))
            note += f", {round(mean * 1000)} ms"
        hour = start + timedelta(hours=i)
        parts.append(
            f'<rect class="hour {kind}" x="{i * BAR}" y="0" width="{BAR - 1}" height="{LANE}" '
            f'fill="{COLOURS[kind]}"><title>{hour:%a %d %b %H}:00 UTC: {note}</title></rect>'
        )
    if latencies:
        # A mark per hour at its mean latency (the highest at the top of the lane), never a
        # line drawn across hours in which the mirror was not asked.
        top = max(m for _, m in latencies) or 1.0
        for i, m in latencies:
            y = LANE + SPARK - 2 - (m / top) * (SPARK - 4)
            parts.append(
                f'<rect class="latency" x="{i * BAR}" y="{y:.1f}" width="{BAR}" height="2" '
                f'fill="#37474f"><title>{round(m * 1000)} ms (highest shown: '
                f"{round(top * 1000)} ms)</title></rect>"
            )
    for day in range(DAYS + 1):
        x = min(width - 1, day * 24 * BAR)
        parts.append(
            f'<line x1="{x}" y1="0" x2="{x}" y2="{LANE + SPARK}" stroke="#999" stroke-width="0.5"/>'
        )
        text = "now" if day == DAYS else f"-{DAYS - day}d"
        anchor = "end" if day == DAYS else "start"
        parts.append(
            f'<text x="{x}" y="{height - 2}" font-size="10" fill="#555" '
            f'text-anchor="{anchor}">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _mirror_row(row: MirrorRow, pulls: Sequence[MirrorPull], now: datetime) -> str:
    colour = STATE_COLOURS.get(row.state, "#666")
    role = f" <small>({escape(row.role)})</small>" if row.role != "mirror" else ""
    if row.route != "direct":
        # A proxy in the way is part of what the operator looks at when a mirror is down.
        role += f'<br><small class="route">via {escape(row.route)}</small>'
    latency = f"{row.latency_ms} ms" if row.latency_ms is not None else "–"
    if row.redirects_to:
        role += f'<br><small class="redirect">redirects to {escape(row.redirects_to)}</small>'
    if row.last_error_kind:
        when = max((p.at for p in pulls if p.failures and p.at), default=None)
        error = (
            f'\n      <tr class="error-row"><td></td><td colspan="5" class="error">'
            f"Last error{f' ({_when(when)})' if when else ''}: "
            f"{escape(row.last_error_kind)}: {escape(row.last_error or '')}</td></tr>"
        )
    else:
        error = ""
    label = f"availability of {row.mirror} over the last {DAYS} days"
    return (
        f'      <tr class="mirror" data-state="{escape(row.state)}">'
        f'<td class="mirror">{escape(row.mirror)}{role}</td>'
        f'<td class="state" style="color:{colour}">{escape(row.state)}</td>'
        f"<td>{escape(breaker(row, now))}</td><td>{latency}</td>"
        f"<td>{timeline(pulls, now, label)}</td></tr>{error}"
    )


def mirrors_page(
    site_title: str,
    sources: Sequence[SourceMirrors],
    rows: Sequence[MirrorRow],
    history: Sequence[MirrorPull],
    now: datetime,
    *,
    index_url: str = "",
) -> str:
    """The whole dashboard page."""
    by_mirror: dict[tuple[str, str], list[MirrorPull]] = {}
    for p in history:
        by_mirror.setdefault((p.source, p.mirror), []).append(p)
    blocks = []
    for source in sources:
        mine = [r for r in rows if r.source == source.name]
        known = [r for r in mine if r.role != "candidate"]
        candidates = [r for r in mine if r.role == "candidate"]
        lines = "\n".join(
            _mirror_row(r, by_mirror.get((r.source, r.mirror), []), now) for r in known
        )
        block = f"""  <section class="source" id="source-{escape(source.name)}">
  <h2>{escape(source.title)}</h2>
  <table class="mirrors">
    <thead><tr><th>Mirror</th><th>State</th><th>Breaker</th><th>Latency</th>
      <th>Availability, last {DAYS} days</th></tr></thead>
    <tbody>
{lines}
    </tbody>
  </table>
"""
        if candidates:
            found = "\n".join(
                f'      <tr class="candidate"><td>{escape(c.mirror)}</td>'
                f"<td>{escape(c.found_on or '')}</td></tr>"
                for c in candidates
            )
            block += f"""  <h3>Discovered, not adopted yet</h3>
  <table class="candidates">
    <thead><tr><th>Host</th><th>Named on</th></tr></thead>
    <tbody>
{found}
    </tbody>
  </table>
"""
        else:
            block += '  <p class="meta candidates-none">No other host discovered.</p>\n'
        blocks.append(block + "  </section>")
    legend = "".join(
        f'<span style="background:{COLOURS[k]}"></span>{text}'
        for k, text in (
            ("up", "every request answered"),
            ("mixed", "some failed"),
            ("down", "all failed"),
            ("none", "not asked"),
        )
    )
    body = f"""  <nav><a href="{escape(index_url)}">{escape(site_title)}</a></nav>
  <h1>Mirror dashboard</h1>
  <p class="meta">Checked {_when(now)}. One bar per hour; the marks under the bars are the
     latency, the highest at the top. Hover a bar for its numbers.</p>
  <p class="legend meta">{legend}</p>
{chr(10).join(blocks)}"""
    return document(f"Mirrors: {site_title}", _DASHBOARD_STYLE, body)
