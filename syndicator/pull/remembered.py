"""What a source remembers of the entry points it reads: the HTTP validators an answer gave
and the article links the source took from it, kept in the store under a key of the source's
own, so that one source's answers never stand for another's.

Two sources of one config may read the same URL: one site whose articles they split between
them (`article_links`, a sitemap's window), or whose listing page both read. The links a
source kept are what its own rules took from the answer. Remembered by URL alone, the second
source asked with the validators the first one's answer gave, got 304 and took the first one's
links for its own: its own articles were never fetched, and its sections were given the
other's articles. Each source now asks with the validators of its own answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syndicator.pull.responses import Response
from syndicator.store import Store
from syndicator.store.engine import Validators
from syndicator.store.health import MirrorStore
from syndicator.store.link_records import Listed


def key(source: str, url: str) -> str:
    """The store's key for what `source` remembers of `url`: a source name is a slug, and a
    URL holds no space, so no two (source, URL) pairs share one."""
    return f"{source} {url}"


class Remembered:
    """One source's remembered validators and entry point links, by URL."""

    def __init__(self, source: str, store: Store, mirror_store: MirrorStore) -> None:
        self.source = source
        self.store = store
        self.mirror_store = mirror_store

    async def validators(self, urls: Sequence[str]) -> dict[str, Validators]:
        keys = {key(self.source, url): url for url in urls}
        found = await self.store.validators(list(keys))
        return {keys[k]: v for k, v in found.items()}

    async def save_validators(self, url: str, response: Response, now: datetime) -> None:
        """Keep the validators of the answer to `url`, when it gave any, and where its
        redirects ended when they did not end at `url`."""
        if response.etag or response.last_modified:
            await self.store.save_validators(
                key(self.source, url),
                response.etag,
                response.last_modified,
                now,
                final_url=response.url if response.url != url else None,
            )

    async def links(self, urls: Sequence[str]) -> dict[str, list[Listed]]:
        keys = {key(self.source, url): url for url in urls}
        found = await self.mirror_store.entry_links(list(keys))
        return {keys[k]: v for k, v in found.items()}

    async def save_links(self, url: str, links: Sequence[Listed], now: datetime) -> None:
        await self.mirror_store.save_entry_links(key(self.source, url), links, now)
