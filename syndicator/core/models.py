"""Plain data passed between the stages: what a page yields and what the store keeps.

No behaviour beyond small derived properties; every stage speaks in these types.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

# A pull's failures are logged under the pull's name, where operators filter for them.
_pull_log = logging.getLogger("syndicator.pull")

# The section every article is in: `/feeds/all.*`. Here, not in the config model, because
# the store keys rows by it and needs nothing else of the config.
ALL_SECTION = "all"


@dataclass(frozen=True)
class FeedEntry:
    """One item of a source feed, as the mirror published it."""

    link: str
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    content_html: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None


@dataclass(frozen=True)
class Page:
    """What extraction found in one article page, already cleaned and sanitised."""

    url: str
    title: str
    body_html: str
    body_text: str
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    image_url: str | None = None
    image_caption: str | None = None
    section_trail: tuple[str, ...] = ()
    canonical_link: str | None = None
    language: str | None = None
    summary: str = ""
    # The standfirst (dek) the page shows under its headline, when the body does not hold
    # it: published before the body, outside the content hash (a mirror's AMP copy without
    # it is the same article).
    standfirst: str = ""


@dataclass(frozen=True)
class Candidate:
    """An article ready for the store: identity computed, links pointing at the canonical origin."""

    source: str
    canonical_url: str
    content_hash: str
    simhash: int
    title: str
    summary: str
    content_html: str
    published: datetime | None
    updated: datetime | None
    author: str | None
    image_url: str | None
    image_caption: str | None
    language: str
    sections: frozenset[str]
    aliases: frozenset[str] = field(default_factory=frozenset)
    # Words of title and body: near-duplicate matching only trusts texts long enough.
    words: int = 0
    # What the content hash was computed over (the body text and the host names the normal
    # form removes), kept so the store can hash the article again under a new normal form.
    hash_text: str = ""
    hash_hosts: tuple[str, ...] = ()
    # `canonical_url` is backed by evidence (the page's rel=canonical on a host of the source,
    # or the canonical origin served the page): the store then repairs a stored link that
    # differs, without dating the article anew.
    link_confirmed: bool = False
    # The canonical origin served the page (the publisher's own word, never a lagging
    # mirror's copy): an older text of the article from it, dated after the stored version,
    # is the edit taken back.
    from_canonical: bool = False


@dataclass(frozen=True)
class Article:
    """A stored article as the renderers see it."""

    id: int
    guid: str
    source: str
    url: str
    title: str
    summary: str
    content_html: str
    published: datetime
    updated: datetime
    author: str | None
    image_url: str | None
    image_caption: str | None
    language: str
    sections: tuple[str, ...] = ()


@dataclass
class PullReport:
    """What one pull of one source did: counts, errors, and the sections it changed."""

    source: str
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    # Stored articles whose link was repaired (a link-only change: no new date, same GUID).
    relinked: int = 0
    failed: int = 0
    fetched: int = 0
    not_modified: int = 0
    entry_points_ok: int = 0
    parsed: int = 0
    skipped: int = 0
    # Articles that did not wait for a slow mirror: the copy of another mirror was asked
    # (a hedge) or already in, and the slow request was cancelled.
    hedged: int = 0
    errors: list[str] = field(default_factory=list)
    changed_sections: set[str] = field(default_factory=set)
    guids: set[str] = field(default_factory=set)
    discovered: set[str] = field(default_factory=set)
    adopted: list[str] = field(default_factory=list)

    def fail(self, message: str, *, quiet: bool = False) -> None:
        """Count a failure; `quiet` for one already logged in other words. A failure in the
        very words of one already recorded (an entry point asked again after a passing
        failure, failing the same way) is counted and said once: `pull -q` mailed it, and
        the log and `status --json` listed it, once per try."""
        self.failed += 1
        again = message in self.errors
        if not again:
            self.errors.append(message)
        level = logging.DEBUG if quiet or again else logging.INFO
        _pull_log.log(level, "%s: %s", self.source, message)


@dataclass(frozen=True)
class FetchLimits:
    """The fetcher's settings, taken from the config (see `serve.reload.limits_of`)."""

    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_body: int = 10 * 1024 * 1024
    concurrency: int = 16
    per_host: int = 2
    max_redirects: int = 5
    robots_ttl: float = 3600.0
    # The whole of one request, redirects and body included, from when it is sent: the read
    # timeout bounds the gap between two reads only, so a mirror dripping one byte at a
    # time would hold a request for ever without it.
    request_deadline: float = 60.0


# The limits an open Fetcher takes from `retune`, from its next request on; the others are
# built into its client session and semaphores when it opens.
RETUNABLE = ("user_agent", "max_redirects", "robots_ttl", "request_deadline")
