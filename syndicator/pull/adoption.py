"""Adopting discovered mirrors: a candidate host becomes a mirror of the source once it
serves an article whose content hash is already stored from a known mirror, proof that it is
the same site and not a look-alike. Until then it is only listed, never pulled.

A candidate may keep the site's paths under a prefix (`/en/Detail/...` for the canonical
`/Detail/...`): its home page (and where `/` redirects) is read first for the prefix its
links use, and the stored articles' paths are asked under it, then as they are. The prefix
that gave the proof is kept with the adopted mirror.

Edge module: it reads the store and asks candidates through the pipeline's own fetch (the
pull's deadline, the address policy, the source's route, the candidate's health); it is run
by the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from syndicator.core import identity
from syndicator.core.errors import ExtractError, FetchError
from syndicator.core.models import Candidate
from syndicator.core.source_config import Source
from syndicator.extract import extraction, source_rules
from syndicator.extract.candidate import to_candidate
from syndicator.mirrors import announced, health
from syndicator.mirrors.health import MirrorHealth
from syndicator.pull.responses import Response
from syndicator.store.health import DiscoveredMirror, MirrorStore

log = logging.getLogger("syndicator.pull")

# Candidates probed per pull, stored articles tried on each (per prefix tried), and how
# many of the newest stored articles those are spread over.
PROBE_CANDIDATES = 5
PROBE_ARTICLES = 3
PROBE_SPREAD = 30

# Fetch one URL of a candidate and validate it as `expect`: the answer, or None when it
# failed; a refused address raises its `blocked-address` FetchError.
CandidateGet = Callable[[str, str], Awaitable[Response | None]]


@dataclass(frozen=True)
class Adopted:
    origin: str
    path_prefix: str
    proof: str


def _path(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


async def adopted_mirrors(
    name: str,
    mirrors: MirrorStore,
    healths: dict[str, MirrorHealth],
    site_origins: set[str],
    now: datetime,
) -> list[DiscoveredMirror]:
    """The adopted mirrors a pull of the source asks, besides the configured ones (whose
    origins are `site_origins`). Those dead long enough (`health.adopted_retired`, judged on
    `healths`, the source's mirrors' health before the pull) are retired now: marked so in
    the store, said so once, and no longer asked. A configured mirror is never retired."""
    # One adopted before it was known to be a configured host under another name (its bare
    # domain, the other scheme, its own script) is that host: not pulled twice.
    adopted = [
        d
        for d in await mirrors.discovered(name)
        if d.status == "adopted" and identity.known_origin(d.origin, site_origins) is None
    ]
    pulled = site_origins | {d.origin for d in adopted}
    others = [h for origin, h in healths.items() if origin in pulled]
    kept = []
    for found in adopted:
        h = healths.get(found.origin)
        if h is None or not health.adopted_retired(h, others, now):
            kept.append(found)
            continue
        await mirrors.retire(name, found.origin)
        log.warning(
            "%s: retired adopted mirror %s: no valid answer since %s, %d requests in a row "
            "failed (last: %s); a page naming it again makes it a candidate again",
            name,
            found.origin,
            f"{h.last_success:%Y-%m-%d %H:%M} UTC",
            h.consecutive_failures,
            h.last_error_kind,
        )
    return kept


async def adopt_candidates(
    name: str,
    source: Source,
    get: CandidateGet,
    mirrors: MirrorStore,
    site_origins: set[str],
    now: datetime,
) -> list[Adopted]:
    """Probe candidate hosts with the newest stored articles; returns the adopted ones.
    A candidate whose address the policy refuses is not asked again (and said so once)."""
    # A candidate noted before it was known to be a configured host under another name (its
    # bare domain, the other scheme) is the site itself: adopted, it was pulled twice.
    healths = {h.mirror: h for h in await mirrors.health(name)}
    # A candidate the publisher stopped naming that never answered costs no probe: a footer
    # that once named a dozen dead hosts had them asked in every pull, for good. Nor does
    # one stored before announced hosts were checked as host names (`a~b.example`).
    candidates = [
        d
        for d in await mirrors.discovered(name)
        if d.status == "candidate"
        and identity.known_origin(d.origin, site_origins) is None
        and announced.at_host_name(d.origin)
        and not health.retired(healths.get(d.origin), d.last_seen, now)
    ]
    # The candidates asked longest ago (never, first) get this pull's probes: in the order
    # they were found, five dead hosts a footer named first held every probe of every pull,
    # and a live mirror named after them was never asked.
    asked = {
        h.mirror: max(t for t in (h.last_success, h.last_failure) if t is not None)
        for h in healths.values()
        if h.last_success is not None or h.last_failure is not None
    }
    candidates.sort(key=lambda d: (d.origin in asked, asked.get(d.origin, now)))
    paths = [_path(u) for u in _spread(await mirrors.recent_article_urls(name, PROBE_SPREAD))]
    adopted = []
    for cand in candidates[:PROBE_CANDIDATES]:
        try:
            found = await _probe(name, source, get, mirrors, site_origins, cand.origin, paths)
        except FetchError as exc:  # blocked-address: no other page of it is tried
            log.warning(
                "%s: not probing candidate %s: %s (allow_private_discovered: true allows it)",
                name,
                cand.origin,
                exc.message,
            )
            continue
        if found is not None:
            await mirrors.adopt(name, cand.origin, found.proof, now, found.path_prefix)
            adopted.append(found)
            shape = f" under {found.path_prefix}/" if found.path_prefix else ""
            log.warning(
                "%s: adopted mirror %s (it serves %s%s)", name, cand.origin, found.proof, shape
            )
    return adopted


def _spread(urls: list[str]) -> list[str]:
    """PROBE_ARTICLES of the stored articles, newest first: the newest, the oldest and one
    between. The three newest alone are what a mirror lagging a few hours lacks: it was
    never adopted, however long it served the site."""
    if len(urls) <= PROBE_ARTICLES:
        return urls
    picks = [round(i * (len(urls) - 1) / (PROBE_ARTICLES - 1)) for i in range(PROBE_ARTICLES)]
    return [urls[i] for i in dict.fromkeys(picks)]


async def _probe(
    name: str,
    source: Source,
    get: CandidateGet,
    mirrors: MirrorStore,
    site_origins: set[str],
    origin: str,
    paths: list[str],
) -> Adopted | None:
    """The stored paths on the candidate under each prefix its home page suggests (where
    `/` redirects, where its links put the site's paths), then as they are."""
    prefixes: list[str] = []
    home = await get(origin + "/", "page")
    if home is not None:
        # Parsed in a thread, as every page a pull reads: a candidate is any host a page
        # names, and its pages may be as big and as slow to read as it likes.
        prefixes = await asyncio.to_thread(
            announced.path_prefixes, home.body, home.url, paths, home.charset
        )
    for prefix in dict.fromkeys([*prefixes, ""]):
        for path in paths:
            url = origin + prefix + path
            if await _serves_stored_article(name, source, get, mirrors, site_origins, url):
                return Adopted(origin, prefix, url)
    return None


async def _serves_stored_article(
    name: str,
    source: Source,
    get: CandidateGet,
    mirrors: MirrorStore,
    site_origins: set[str],
    url: str,
) -> bool:
    """Whether `url` gives an article whose hash is stored."""
    response = await get(url, "article")
    if response is None:
        return False

    def read() -> Candidate:
        page = extraction.extract_article(
            response.body,
            response.url,
            header_charset=response.charset,
            rules=source_rules.ArticleRules.of(source),
        )
        return to_candidate(
            page,
            source=name,
            canonical_origin=source.canonical,
            site_origins=site_origins | {identity.origin(url)},
            sections=frozenset(),
            default_language=source.language,
        )

    try:
        # In a thread, as the pull extracts its mirrors' pages: on the event loop, a
        # candidate's big page held the pull, its deadlines and (pulling inline) the readers.
        candidate = await asyncio.to_thread(read)
    except ExtractError as exc:
        log.info("%s: candidate %s: %s", name, url, exc)
        return False
    return await mirrors.hash_stored(name, candidate.content_hash)
