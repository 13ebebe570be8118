"""HTML pages for people: the index of sections with subscribe links and autodiscovery tags.

Pure: section facts in, HTML text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

FORMAT_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
LINK_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


@dataclass(frozen=True)
class SectionSummary:
    name: str
    title: str
    feed_urls: dict[str, str]
    items: int
    changed_at: datetime | None


def index_page(title: str, sections: Sequence[SectionSummary], health: str | None = None) -> str:
    head = "\n".join(
        f'  <link rel="alternate" type="{LINK_TYPES[fmt]}" '
        f'title="{escape(s.title)} ({FORMAT_LABELS[fmt]})" href="{escape(url)}">'
        for s in sections
        for fmt, url in s.feed_urls.items()
    )
    rows = "\n".join(_row(s) for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
{head}
  <style>
    body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
           padding: 0 1rem; line-height: 1.5; }}
    table {{ border-collapse: collapse; width: 100%; }}
    th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }}
    a {{ margin-right: .6rem; }}
  </style>
</head>
<body>
  <h1>{escape(title)}</h1>
  <p>One subscription per section, whichever mirror of the source is up.
     Paste a feed link into your reader.</p>
  <table>
    <thead><tr><th>Section</th><th>Items</th><th>Last change</th><th>Subscribe</th></tr></thead>
    <tbody>
{rows}
    </tbody>
  </table>
{_health(health)}
</body>
</html>
"""


def _health(line: str | None) -> str:
    if not line:
        return ""
    return f'  <p class="mirror-health"><small>{escape(line)}</small></p>'


def _row(s: SectionSummary) -> str:
    links = " ".join(
        f'<a href="{escape(url)}">{FORMAT_LABELS[fmt]}</a>' for fmt, url in s.feed_urls.items()
    )
    changed = s.changed_at.strftime("%Y-%m-%d %H:%M UTC") if s.changed_at else "never"
    return (
        f"      <tr><td>{escape(s.title)}</td><td>{s.items}</td>"
        f"<td>{changed}</td><td>{links}</td></tr>"
    )
