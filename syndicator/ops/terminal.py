"""What the command line shows: rich tables for people and plain dicts for `--json`.

Presentation only: takes reports and models, returns tables and dicts; no I/O. The config
model's modules are imported by the functions that show a config or its durations: the
command line loads this module for `--help` too, which reads no config.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.style import StyleType
from rich.table import Column, Table
from rich.text import Text

from syndicator.core.errors import printable
from syndicator.core.models import ALL_SECTION, Candidate, Page

if TYPE_CHECKING:
    # Only the commands that report them load these (and with them aiohttp, SQLAlchemy
    # and trafilatura): `check` and `--help` stay quick.
    from syndicator.core.config import Config
    from syndicator.ops.discover import Discovery
    from syndicator.publish.mirror_report import MirrorRow
    from syndicator.pull.run import PullOutcome
    from syndicator.store.status import FeedStatus


def shown(text: str) -> Text:
    """Text from a mirror, a page or the store as the terminal shows it: as written, never
    read as rich markup (a mirror's reason phrase with `[/x]` in it raised MarkupError and
    ended `pull`, `mirrors` and `status` with a traceback; `[link=...]` made a hidden
    hyperlink), and its control characters as escapes (`errors.printable`)."""
    return Text(printable(text))


def labelled(label: str, style: str, text: str) -> Text:
    """`label` in `style`, then `text` as `shown`: one line of a command's report."""
    return Text.assemble((label, style), " ", shown(text))


class PlainTable(Table):
    """A table whose text cells are `shown`: a cell meant as markup (a state in colour) is
    given as `Text.from_markup`. It keeps its rows as given, for `fitted`."""

    def __init__(self, *columns: Column | str, **options: Any) -> None:
        super().__init__(*columns, **options)
        self.given: list[list[RenderableType | None]] = []

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        cells: list[RenderableType | None] = [
            shown(r) if isinstance(r, str) else r for r in renderables
        ]
        self.given.append(cells)
        super().add_row(*cells, style=style, end_section=end_section)


def fitted(shown: Table, width: int | None) -> RenderableType:
    """`shown` where `width` columns hold it; else each row as its first value on a line,
    then its other values one a line, each after its column's name. A table too wide even
    with its values folded (a long source or section name, which is never folded, beside
    the columns of numbers) took 89 to 92 columns of an 80-column terminal: the terminal
    broke every line of it in two."""
    if width is None or not isinstance(shown, PlainTable):
        return shown
    if Console(width=_ROOMY, file=io.StringIO()).measure(shown).minimum <= width:
        return shown
    names = [str(column.header) for column in shown.columns]
    rows: list[RenderableType] = []
    for cells in shown.given:
        first, *rest = cells
        fields = Table.grid(padding=(0, 1))
        fields.add_column(no_wrap=True)
        fields.add_column(overflow="fold")
        for name, cell in zip(names[1:], rest, strict=True):
            fields.add_row(f"  {name}", cell)
        key = first.copy() if isinstance(first, Text) else Text(str(first or ""))
        key.stylize("bold")
        rows += [key, fields]
    return Group(*rows)


def table(*headers: str, keys: tuple[str, ...] = (), caption: str | None = None) -> Table:
    """A table whose cells are never cut: a value too long for its column (a mirror's URL, an
    error) wraps inside the column instead of ending in '…', so rows stay distinct. The
    `keys` columns (names a row is known by) are not wrapped while anything else can be.
    Text cells and the caption are `shown`."""
    return PlainTable(
        *(Column(h, overflow="fold", min_width=len(h), no_wrap=h in keys) for h in headers),
        caption=shown(caption) if caption is not None else None,
        caption_justify="left",
    )


class PullProgress:
    """The progress bar of `pull` and `export`: its total is what the pulls announced they
    will fetch (entry points first, then the articles they list), so it reads 3/12, not 1/?."""

    def __init__(self, console: Console, description: str, *, shown: bool = True) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=not (shown and console.is_terminal),
        )
        self.task: TaskID = self.bar.add_task(description, total=0)
        self.planned = 0
        self.fetched = 0

    def __enter__(self) -> PullProgress:
        self.bar.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.bar.stop()

    def hook(self, kind: str, _url: str) -> None:
        """The pipeline's progress hook: `planned` raises the total, `fetch` advances."""
        if kind == "planned":
            self.planned += 1
        elif kind == "fetch":
            self.fetched += 1
            # A fetch nobody announced (a failover to the next mirror): the total grows too.
            self.planned = max(self.planned, self.fetched)
        else:
            return
        self.bar.update(self.task, total=self.planned, completed=self.fetched)


# Past this age a time is shown as its date: "2360d12h ago" had the reader count years.
DATED_AFTER = 7 * 86400


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """ "3d4h ago" within a week, else the day in UTC ("2020-06-20"); "never" for none."""
    from syndicator.core.config_values import human_age

    if moment is None:
        return "never"
    age = ((now or datetime.now(UTC)) - moment).total_seconds()
    if age > DATED_AFTER:
        return moment.astimezone(UTC).strftime("%Y-%m-%d")
    return human_age(age) + " ago"


def natural_width(shown: Table) -> int:
    """The columns `shown` takes with no cell folded over lines."""
    # Laid out with room to spare, a table takes the width its cells need unfolded.
    return Console(width=_ROOMY, file=io.StringIO()).measure(shown).maximum


_ROOMY = 100_000
# The narrowest a column of long values (errors, URLs) may be for the wide table to be kept.
LONG_COLUMN = 40


def wide_or_narrow(
    width: int | None, wide: Table, narrow: Table, below: list[Text]
) -> RenderableType:
    """The `wide` table where it fits, or leaves its column of long values `LONG_COLUMN`
    characters; else the `narrow` table, the long values on lines of their own `below` it.
    On an 80-column terminal (and through a pipe, which rich lays out at 80) a mirror's URL
    or an error was folded into a column of a few characters, one row over ten or twenty
    lines."""
    if width is None or natural_width(wide) <= width:
        return wide
    # The long column's own border and padding: 3 characters.
    if width - natural_width(narrow) - 3 >= LONG_COLUMN:
        return wide
    return Group(fitted(narrow, width), *below)


def entry_points(config: Config, width: int | None = None) -> RenderableType:
    """What a pull fetches: each source's entry points, and the mirrors it asks them of (in
    a column where there is room, else each source's list below the table)."""
    from syndicator.core.config_addresses import shown_route
    from syndicator.core.config_values import human_age

    def asked(name: str) -> list[str]:
        # A mirror reached through a proxy says so, as `mirrors` does (its password hidden).
        source = config.sources[name]
        return [
            m.url if (route := source.route_of(m)) is None else f"{m.url} via {shown_route(route)}"
            for m in source.pull_from()
        ]

    wide = table(
        "source", "section", "entry point", "every", "pulled from", keys=("source", "section")
    )
    narrow = table("source", "section", "entry point", "every", keys=("source", "section", "every"))
    below: list[Text] = []
    for name, source in config.sources.items():
        below += [shown(f"{name} pulls from:"), *(shown(f"  {url}") for url in asked(name))]
        for section, entry in source.sections.items():
            points = "\n".join(f"{p.kind} {p.path}" for p in entry.points())
            every = human_age(source.every)
            wide.add_row(name, section, points, every, "\n".join(asked(name)))
            narrow.add_row(name, section, points, every)
    return wide_or_narrow(width, wide, narrow, below)


# The colour of each mirror state in `mirrors`.
STATE_COLOURS = {
    "healthy": "green",
    "redirecting": "blue",
    "degraded": "yellow",
    "down": "red",
    "candidate": "cyan",
}


def _short(moment: datetime) -> str:
    """12-04 15:16 (UTC): without the year, for the mirrors table to fit 80 columns."""
    return moment.strftime("%m-%d %H:%M")


def mirrors(rows: list[MirrorRow], width: int | None = None) -> RenderableType:
    """Every mirror's health: one table where there is room; else the table without the
    error, and what went wrong with each failing mirror on a line of its own below it."""
    common = ("source", "mirror", "state", "last ok", "latency")
    wide = table(*common, "error", keys=("source", "mirror"))
    narrow = table(*common, keys=("source", "mirror", "state"))
    below: list[Text] = []
    for r in rows:
        trouble = ["not pulled: adopt_discovered is off"] if r.state == "paused" else []
        if r.failures:
            trouble.append(f"{r.failures} failed")
        if r.retry_at:
            trouble.append(f"next try {_short(r.retry_at)}")
        error = f"{r.last_error_kind}: {r.last_error}" if r.last_error_kind else ""
        state = Text(r.state, STATE_COLOURS.get(r.state, "white"))
        if r.redirects_to:
            state.append(f" to {r.redirects_to}")
        if r.role == "adopted":
            state.append(" (adopted)")
        cells = (
            r.source,
            r.mirror if r.route == "direct" else f"{r.mirror} via {r.route}",
            # As `status` shows its times: "5m12s ago", a day for one over a week old.
            ago(r.last_success) if r.role != "candidate" else "",
            f"{r.latency_ms} ms" if r.latency_ms is not None else "",
        )
        wide_state = state.copy()
        if trouble:
            wide_state.append(", " + ", ".join(trouble))
        wide.add_row(*cells[:2], wide_state, *cells[2:], error)
        narrow.add_row(*cells[:2], state, *cells[2:])
        if said := [part for part in (", ".join(trouble), error) if part]:
            below.append(labelled("!", "yellow", f"{r.source} {r.mirror}: {'; '.join(said)}"))
    return wide_or_narrow(width, wide, narrow, below)


def sections(report: FeedStatus) -> Table:
    from syndicator.core.config_values import human_age

    shown = table(
        "section", "items", "newest item", "last change", "stale after", "state", keys=("section",)
    )
    for s in report.sections:
        state = Text("ok", "green")
        if s.problem:
            state = Text("STALE" if s.stale else s.problem.upper(), "red")
        shown.add_row(
            s.name,
            str(s.items),
            ago(s.newest_item, report.checked_at),
            ago(s.last_change, report.checked_at),
            "-"
            if s.name == ALL_SECTION
            else human_age(s.stale_after)
            if s.stale_after is not None
            else "never",
            state,
        )
    return shown


def sources(report: FeedStatus) -> Table:
    shown = table(
        "source",
        "last pull",
        "result",
        "new",
        "updated",
        "duplicate",
        "failed",
        "took",
        keys=("source",),
    )
    for s in report.sources:
        colour = {"ok": "green", "partial": "yellow"}.get(s.result or "", "red")
        shown.add_row(
            s.name,
            ago(s.last_pull, report.checked_at),
            Text(s.result or "never", colour),
            str(s.new),
            str(s.updated),
            str(s.duplicate),
            str(s.failed),
            f"{s.duration:.1f}s" if s.duration is not None else "",
        )
    return shown


def pull_errors(report: FeedStatus) -> list[Text]:
    """The error of each source's last pull that `report.problems` does not say (a partial
    pull's): below the tables, as `pull` says them, where a column of its own gave them a few
    characters a line on an 80-column terminal (`nothin`, `g`, `fetche`, `d:` ...)."""
    return [
        labelled("!", "yellow", f"source {s.name}: last pull {s.result}: {s.error}")
        for s in report.sources
        if s.error and not s.problem
    ]


def outcome_json(o: PullOutcome) -> dict[str, Any]:
    r = o.report
    return {
        "ok": o.result != "failed" and not o.store_full,
        "source": o.source,
        "result": o.result,
        "started_at": o.started_at.isoformat(),
        "duration_s": round(o.duration, 3),
        "sections": list(o.sections),
        "new": r.new,
        "updated": r.updated,
        "duplicate": r.duplicate,
        "failed": r.failed,
        "fetched": r.fetched,
        "changed_sections": sorted(r.changed_sections),
        "errors": list(r.errors),
    }


def outcomes(items: list[PullOutcome]) -> Table:
    shown = table(
        "source",
        "result",
        "new",
        "updated",
        "duplicate",
        "failed",
        "fetches",
        "took",
        keys=("source",),
    )
    for o in items:
        r = o.report
        shown.add_row(
            o.source,
            o.result,
            str(r.new),
            str(r.updated),
            str(r.duplicate),
            str(r.failed),
            str(r.fetched),
            f"{o.duration:.1f}s",
        )
    return shown


def extraction_json(
    page: Page, cand: Candidate, source: str | None, sections: list[str], rules: dict[str, int]
) -> dict[str, Any]:
    text = "\n\n".join(filter(None, (page.standfirst, page.body_text)))
    return {
        "url": page.url,
        "canonical_url": cand.canonical_url,
        "source": source,
        # What the feeds publish: a headline or byline longer than any real one is cut.
        "title": cand.title,
        "section_trail": list(page.section_trail),
        "sections": sections,
        # As the feeds date it: a time that named no zone in the source's time_zone.
        "published": cand.published.isoformat() if cand.published else None,
        "updated": cand.updated.isoformat() if cand.updated else None,
        "author": cand.author,
        "language": cand.language,
        "image": cand.image_url,
        "content_hash": cand.content_hash,
        "simhash": f"{cand.simhash & 0xFFFFFFFFFFFFFFFF:016x}",
        "words": len(text.split()),
        "rules": dict(sorted(rules.items())),
        "text": text,
        "content_html": cand.content_html,
    }


def extraction(result: dict[str, Any]) -> Table:
    shown = PlainTable(show_header=False)
    shown.add_column("field")
    shown.add_column("value", overflow="fold")
    for key in (
        "url",
        "canonical_url",
        "source",
        "title",
        "section_trail",
        "sections",
        "published",
        "updated",
        "author",
        "language",
        "image",
        "content_hash",
        "simhash",
        "words",
    ):
        value = result[key]
        if isinstance(value, list):
            value = " / ".join(value)
        shown.add_row(key, "" if value is None else str(value))
    rules = result["rules"]
    shown.add_row(
        "rules fired", ", ".join(f"{k} ×{v}" for k, v in rules.items()) if rules else "none"
    )
    return shown


def discovery(found: Discovery) -> Table:
    shown = table(
        "section",
        "title",
        "entry point",
        "articles listed",
        caption=f"canonical {found.canonical}; mirrors: {', '.join(found.mirrors) or 'none found'}",
    )
    for s in found.sections:
        shown.add_row(s.name, s.title, f"{s.kind} {s.path}", str(s.articles))
    return shown
