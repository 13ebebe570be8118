"""Plain data passed between the stages: what a page yields and what the store keeps.

No behaviour beyond small derived properties; every stage speaks in these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
