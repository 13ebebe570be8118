"""Adopting discovered mirrors: a candidate host becomes a mirror of the source once it
serves an article whose content hash is already stored from a known mirror, proof that it is
the same site and not a look-alike. Until then it is only listed, never pulled.

Edge module: it fetches candidate pages and reads the store; it is run by the pipeline.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from syndicator.core import identity
from syndicator.core.config import Mirror, Source
from syndicator.core.errors import ExtractError, FetchError
from syndicator.extract import parsing, validate
from syndicator.extract.candidate import to_candidate
from syndicator.pull.addresses import AddressPolicy
from syndicator.pull.fetch import Fetcher
from syndicator.store.health import MirrorStore

log = logging.getLogger("syndicator.pull")

# Candidates probed per pull, and stored articles tried on each.
PROBE_CANDIDATES = 5
PROBE_ARTICLES = 3


def _on(origin: str, url: str) -> str:
    parts = urlsplit(url)
    return origin + urlunsplit(("", "", parts.path or "/", parts.query, ""))


async def adopt_candidates(
    name: str,
    source: Source,
    fetcher: Fetcher,
    mirrors: MirrorStore,
    site_origins: set[str],
    now: datetime,
    addresses: AddressPolicy,
) -> list[str]:
    """Probe candidate hosts with the newest stored articles; returns the adopted origins.
    A candidate that `addresses` refuses is not asked at all (and said so once)."""
    candidates = [d for d in await mirrors.discovered(name) if d.status == "candidate"]
    urls = await mirrors.recent_article_urls(name, PROBE_ARTICLES)
    adopted = []
    for cand in candidates[:PROBE_CANDIDATES]:
        for url in urls:
            probe = _on(cand.origin, url)
            try:
                serves = await _serves_stored_article(
                    name, source, fetcher, mirrors, site_origins, probe, addresses
                )
            except FetchError as exc:  # blocked-address: no other page of it is tried
                log.warning(
                    "%s: not probing candidate %s: %s (allow_private_discovered: true allows it)",
                    name,
                    cand.origin,
                    exc.message,
                )
                break
            if serves:
                await mirrors.adopt(name, cand.origin, probe, now)
                adopted.append(cand.origin)
                log.warning("%s: adopted mirror %s (it serves %s)", name, cand.origin, probe)
                break
    return adopted


async def _serves_stored_article(
    name: str,
    source: Source,
    fetcher: Fetcher,
    mirrors: MirrorStore,
    site_origins: set[str],
    url: str,
    addresses: AddressPolicy,
) -> bool:
    """Whether `url` gives an article whose hash is stored; a refused address raises its
    `blocked-address` FetchError."""
    origin = identity.origin(url)
    try:
        response = await fetcher.get(
            url,
            allowed_origins={origin},
            robots=source.robots,
            addresses=addresses,
            # An announced mirror goes the source's way: a source read through a proxy
            # never reaches a candidate directly.
            via=source.route_of(Mirror(url=origin)),
        )
        validate.check(
            response.body,
            url,
            "article",
            header_charset=response.charset,
            reject_if=source.reject_if,
        )
        page = parsing.extract_article(
            response.body,
            url,
            header_charset=response.charset,
            rules=parsing.ArticleRules.of(source),
        )
    except (FetchError, ExtractError) as exc:
        if exc.kind == "blocked-address":
            raise
        log.info("%s: candidate %s: %s", name, origin, exc)
        return False
    candidate = to_candidate(
        page,
        source=name,
        canonical_origin=source.canonical,
        site_origins=site_origins | {origin},
        sections=frozenset(),
        default_language=source.language,
    )
    return await mirrors.hash_stored(name, candidate.content_hash)
