"""What the command line shows: rich tables for people and plain dicts for `--json`.

Presentation only: takes reports and models, returns tables and dicts; no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from syndicator.core.config import Config
from syndicator.core.models import Candidate, Page
from syndicator.ops.discover import Discovery
from syndicator.pull.run import PullOutcome
from syndicator.store.status import FeedStatus, human_age


def _ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    return human_age(((now or datetime.now(UTC)) - moment).total_seconds()) + " ago"


def entry_points(config: Config) -> Table:
    table = Table("source", "section", "entry point", "every", "pulled from")
    for name, source in config.sources.items():
        mirrors = ", ".join(m.url for m in source.pull_from())
        for section, entry in source.sections.items():
            table.add_row(
                name, section, f"{entry.kind} {entry.path}", human_age(source.every), mirrors
            )
    return table


def sections(report: FeedStatus) -> Table:
    table = Table("section", "items", "newest item", "last change", "stale after", "state")
    for s in report.sections:
        state = "[green]ok[/green]"
        if s.problem:
            state = f"[red]{'STALE' if s.stale else s.problem.upper()}[/red]"
        table.add_row(
            s.name,
            str(s.items),
            _ago(s.newest_item, report.checked_at),
            _ago(s.last_change, report.checked_at),
            human_age(s.stale_after),
            state,
        )
    return table


def sources(report: FeedStatus) -> Table:
    table = Table(
        "source", "last pull", "result", "new", "updated", "duplicate", "failed", "took", "error"
    )
    for s in report.sources:
        colour = {"ok": "green", "partial": "yellow"}.get(s.result or "", "red")
        table.add_row(
            s.name,
            _ago(s.last_pull, report.checked_at),
            f"[{colour}]{s.result or 'never'}[/{colour}]",
            str(s.new),
            str(s.updated),
            str(s.duplicate),
            str(s.failed),
            f"{s.duration:.1f}s" if s.duration is not None else "",
            (s.error or "")[:80],
        )
    return table


def outcome_json(o: PullOutcome) -> dict[str, Any]:
    r = o.report
    return {
        "ok": o.result != "failed",
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
    table = Table("source", "result", "new", "updated", "duplicate", "failed", "fetches", "took")
    for o in items:
        r = o.report
        table.add_row(
            o.source,
            o.result,
            str(r.new),
            str(r.updated),
            str(r.duplicate),
            str(r.failed),
            str(r.fetched),
            f"{o.duration:.1f}s",
        )
    return table


def extraction_json(
    page: Page, cand: Candidate, source: str | None, sections: list[str], rules: dict[str, int]
) -> dict[str, Any]:
    return {
        "url": page.url,
        "canonical_url": cand.canonical_url,
        "source": source,
        "title": page.title,
        "section_trail": list(page.section_trail),
        "sections": sections,
        "published": page.published.isoformat() if page.published else None,
        "updated": page.updated.isoformat() if page.updated else None,
        "author": page.author,
        "language": cand.language,
        "image": cand.image_url,
        "content_hash": cand.content_hash,
        "simhash": f"{cand.simhash & 0xFFFFFFFFFFFFFFFF:016x}",
        "words": len(page.body_text.split()),
        "rules": dict(sorted(rules.items())),
        "text": page.body_text,
    }


def extraction(result: dict[str, Any]) -> Table:
    table = Table(show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
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
        table.add_row(key, "" if value is None else str(value))
    rules = result["rules"]
    table.add_row(
        "rules fired", ", ".join(f"{k} ×{v}" for k, v in rules.items()) if rules else "none"
    )
    return table


def discovery(found: Discovery) -> Table:
    table = Table("section", "title", "entry point", "articles listed")
    for s in found.sections:
        table.add_row(s.name, s.title, f"{s.kind} {s.path}", str(s.articles))
    table.caption = (
        f"canonical {found.canonical}; mirrors: {', '.join(found.mirrors) or 'none found'}"
    )
    return table
