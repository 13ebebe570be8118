"""What `syndicate mirrors`, `GET /api/mirrors` and the HTML index show about mirrors, and the
published-link target of each source, read from the store.

Edge module: it reads the store; the decisions themselves are in `mirrors.health` and
`mirrors.links`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from syndicator.core.config import Config
from syndicator.core.config_addresses import shown_route
from syndicator.core.models import Article
from syndicator.core.source_config import Mirror
from syndicator.mirrors.announced import at_host_name
from syndicator.mirrors.health import MirrorHealth, last_asked, retired
from syndicator.mirrors.links import link_target, relink
from syndicator.store import Store
from syndicator.store.health import MirrorStore


@dataclass(frozen=True)
class MirrorRow:
    source: str
    mirror: str
    role: str  # canonical | mirror | adopted | candidate
    # healthy | redirecting (to `redirects_to`) | degraded | down | unknown (never asked) |
    # candidate | retired (a candidate
    # no longer probed, `mirrors.health.retired`; an adopted mirror no longer pulled,
    # `mirrors.health.adopted_retired`) | paused (an adopted mirror not pulled while its
    # source's `adopt_discovered` is off)
    state: str
    last_success: datetime | None = None
    latency_ms: int | None = None
    failures: int = 0
    last_error_kind: str | None = None
    last_error: str | None = None
    retry_at: datetime | None = None
    found_on: str | None = None
    route: str = "direct"  # the proxy URL requests go through, or direct
    redirects_to: str | None = None  # the mirror a `redirecting` one sends its requests to

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mirror": self.mirror,
            "role": self.role,
            "state": self.state,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "latency_ms": self.latency_ms,
            "consecutive_failures": self.failures,
            "last_error_kind": self.last_error_kind,
            "last_error": self.last_error,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "found_on": self.found_on,
            "route": self.route,
            "redirects_to": self.redirects_to,
        }


def _row(source: str, origin: str, role: str, h: MirrorHealth | None) -> MirrorRow:
    if h is None or not h.tried:
        return MirrorRow(source, origin, role, "unknown")
    # Where a redirecting mirror sends its requests is no error of it.
    redirects = h.redirects_to
    return MirrorRow(
        source,
        origin,
        role,
        h.state,
        last_success=h.last_success,
        latency_ms=round(h.latency * 1000) if h.latency is not None else None,
        failures=h.consecutive_failures,
        last_error_kind=None if redirects else h.last_error_kind,
        last_error=None if redirects else h.last_error,
        retry_at=h.retry_at,
        redirects_to=redirects,
    )


async def mirror_rows(config: Config, store: Store) -> list[MirrorRow]:
    """Every mirror of every configured source, then its discovered hosts."""
    mirrors = MirrorStore(store)
    health = {(h.source, h.mirror): h for h in await mirrors.health()}
    found = await mirrors.discovered()
    now = datetime.now(UTC)
    rows: list[MirrorRow] = []
    for name, source in config.sources.items():
        # Candidates retired as the source's last pull judged them.
        asked = last_asked(h for (s, _), h in health.items() if s == name)
        judged = min(now, asked) if asked is not None else now
        for m in source.pull_from():
            role = "canonical" if m.origin == source.canonical else "mirror"
            row = _row(name, m.origin, role, health.get((name, m.origin)))
            rows.append(replace(row, route=shown_route(source.route_of(m))))
        for d in found:
            if d.source != name:
                continue
            if d.status == "candidate" and not at_host_name(d.origin):
                continue  # stored before announced hosts were checked as host names
            if d.status == "adopted" and not source.adopt_discovered:
                # Not pulled while adoption is off (`SourcePull.run`): the health it had when
                # last pulled said "healthy" of a mirror no request goes to.
                row = _row(name, d.origin, "adopted", health.get((name, d.origin)))
                row = replace(row, state="paused", retry_at=None)
            elif d.status == "adopted":
                row = _row(name, d.origin, "adopted", health.get((name, d.origin)))
            elif d.status == "retired":
                row = _row(name, d.origin, "adopted", health.get((name, d.origin)))
                row = replace(row, state="retired", retry_at=None)
            elif retired(health.get((name, d.origin)), d.last_seen, judged):
                row = MirrorRow(name, d.origin, "candidate", "retired")
            else:
                row = MirrorRow(name, d.origin, "candidate", "candidate")
            route = shown_route(source.route_of(Mirror(url=d.origin)))
            rows.append(replace(row, found_on=d.found_on, route=route))
    return rows


def health_line(rows: Sequence[MirrorRow]) -> str:
    """'Mirrors: 3 healthy, 1 degraded, 1 down; 1 paused; 1 candidate' for the HTML index:
    the states of the mirrors pulled, then the adopted mirrors not pulled while adoption is
    off, then the candidates."""
    order = ("healthy", "redirecting", "degraded", "down", "unknown")
    counts = {s: sum(1 for r in rows if r.state == s) for s in order}
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    line = "Mirrors: " + (", ".join(parts) if parts else "none pulled yet")
    paused = sum(1 for r in rows if r.state == "paused")
    if paused:
        line += f"; {paused} paused"
    candidates = sum(1 for r in rows if r.state == "candidate")
    if candidates:
        line += f"; {candidates} candidate{'s' if candidates > 1 else ''}"
    return line


async def relink_articles(config: Config, store: Store, articles: list[Article]) -> list[Article]:
    """Articles with their links on each source's link target (`link_policy`)."""
    healthiest = [n for n, s in config.sources.items() if s.link_policy == "healthiest"]
    if not healthiest or not articles:
        return articles
    mirrors = MirrorStore(store)
    targets: dict[str, tuple[str, set[str], str]] = {}
    found = await mirrors.discovered()
    for name in healthiest:
        source = config.sources[name]
        # Links to an adopted mirror's pages (in the content) move to the target too.
        adopted = {
            d.origin for d in found if d.source == name and d.status in ("adopted", "retired")
        }
        target = link_target(source, await mirrors.health(name))
        if target != source.canonical:
            # A mirror serving the site's paths under a prefix has its pages there only.
            prefixes = {m.origin: m.path_prefix for m in source.pull_from()}
            prefix = prefixes.get(target) or ""
            targets[name] = (target, source.site_origins() | set(adopted), prefix)
    if not targets:
        return articles
    out = []
    for article in articles:
        if article.source in targets:
            target, origins, prefix = targets[article.source]
            article = relink(article, origins, target, prefix)
        out.append(article)
    return out
