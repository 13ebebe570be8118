"""The answer to "is my feed healthy?": per section its items, newest item age, last change and
whether it is stale; per source its last pull, result and counts; and the list of what is
wrong, which `syndicate status`, the metrics and `/readyz` all read.

`assess` is pure (config, store facts and a clock in, a report out); `collect` reads the
store facts it needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from syndicator.core.config import ALL_SECTION, Config
from syndicator.core.config_values import human_age
from syndicator.core.source_config import source_sections
from syndicator.store import Store
from syndicator.store.pulls import PullRecord, last_good_pulls, last_pulls, pulled_sections
from syndicator.store.stats import SectionStats, section_stats


@dataclass(frozen=True)
class SectionStatus:
    name: str
    title: str
    items: int
    newest_item: datetime | None
    newest_age: float | None
    last_change: datetime | None
    stale_after: float | None  # None: never stale (`stale_after: never`, and `all`)
    pulled: bool
    sources: tuple[str, ...]
    stale: bool
    problem: str | None = None


@dataclass(frozen=True)
class SourceStatus:
    name: str
    title: str
    every: float
    last_pull: datetime | None
    result: str | None
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    failed: int = 0
    fetched: int = 0
    duration: float | None = None
    error: str | None = None
    last_success: datetime | None = None
    problem: str | None = None


@dataclass(frozen=True)
class FeedStatus:
    checked_at: datetime
    sections: list[SectionStatus] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [
            f"{kind} {item.name}: {item.problem}"
            for kind, items in (("section", self.sections), ("source", self.sources))
            for item in items
            if item.problem
        ]

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def unpulled_sections(self) -> list[str]:
        return [s.name for s in self.sections if not s.pulled and s.name != ALL_SECTION]

    def to_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            if isinstance(value, float):
                return round(value, 3)
            return value

        return {
            "ok": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "healthy": self.healthy,
            "problems": self.problems,
            "sections": {s.name: _section_json(plain(asdict(s))) for s in self.sections},
            "sources": {s.name: plain(asdict(s)) for s in self.sources},
        }


def _section_json(row: dict[str, Any]) -> dict[str, Any]:
    """A section's row as `status --json` gives it: `stale_after` is seconds, "never" for a
    section said never to go stale, and null for `all` alone, which has no limit of its own
    (both were null, and a monitor could not tell them apart)."""
    if row["stale_after"] is None and row["name"] != ALL_SECTION:
        row["stale_after"] = "never"
    return row


def _section(
    config: Config,
    name: str,
    stats: SectionStats | None,
    pulled: bool,
    now: datetime,
) -> SectionStatus:
    feeding = tuple(
        s
        for s, src in config.sources.items()
        if name == ALL_SECTION or name in source_sections(src)
    )
    limit: float | None
    if name == ALL_SECTION:
        # No limit: the combined feed is never judged stale, its sections are, each by its
        # own (a limit shown for it read as met, beside an item years old).
        title, limit = "All sections", None
    else:
        title, limit = config.sections[name].title, config.stale_after(name)
    items = stats.items if stats else 0
    newest = stats.newest if stats else None
    age = max(0.0, (now - newest).total_seconds()) if newest else None
    problem = None
    if name != ALL_SECTION:
        if not feeding:
            problem = "no source lists this section"
        elif not pulled:
            problem = "never pulled"
        elif age is None:
            problem = "pulled, but holds no item"
        elif limit is not None and age > limit:
            problem = (
                f"stale: newest item is {human_age(age)} old, "
                f"older than stale_after {human_age(limit)}"
            )
    return SectionStatus(
        name=name,
        title=title,
        items=items,
        newest_item=newest,
        newest_age=age,
        last_change=stats.changed_at if stats else None,
        stale_after=limit,
        pulled=pulled or name == ALL_SECTION,
        sources=feeding,
        stale=problem is not None and problem.startswith(("stale", "pulled, but")),
        problem=problem,
    )


def _source(
    config: Config, name: str, last: PullRecord | None, good: PullRecord | None
) -> SourceStatus:
    source = config.sources[name]
    if last is None:
        return SourceStatus(name, source.title, source.every, None, None, problem="never pulled")
    problem = None
    if last.result == "failed":
        problem = f"last pull failed: {last.error or 'no mirror answered'}"
    elif last.result == "cancelled":
        problem = "last pull was cancelled"
    return SourceStatus(
        name=name,
        title=source.title,
        every=source.every,
        last_pull=last.finished_at,
        result=last.result,
        new=last.new,
        updated=last.updated,
        duplicate=last.duplicate,
        failed=last.failed,
        fetched=last.fetched,
        duration=last.duration,
        error=last.error,
        last_success=good.finished_at if good else None,
        problem=problem,
    )


def assess(
    config: Config,
    stats: dict[str, SectionStats],
    pulls: dict[str, PullRecord],
    good_pulls: dict[str, PullRecord],
    pulled: set[str],
    now: datetime | None = None,
) -> FeedStatus:
    """The health of every configured section and source, from facts the store holds."""
    now = now or datetime.now(UTC)
    return FeedStatus(
        checked_at=now,
        sections=[
            _section(config, name, stats.get(name), name in pulled, now)
            for name in [*config.sections, ALL_SECTION]
        ],
        sources=[
            _source(config, name, pulls.get(name), good_pulls.get(name)) for name in config.sources
        ],
    )


async def collect(config: Config, store: Store, now: datetime | None = None) -> FeedStatus:
    """Read what `assess` needs from the store and assess it."""
    return assess(
        config,
        await section_stats(store),
        await last_pulls(store),
        await last_good_pulls(store),
        await pulled_sections(store),
        now,
    )
