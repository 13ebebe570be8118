"""A rendered document ready to send: its bytes, their gzip and brotli forms (made once, with
a zero timestamp, so the same body gives the same bytes everywhere), a strong ETag for each
encoding and the date HTTP gives it; a section's three formats rendered together; and the
names and limits the feed book, the server and the exporter share (the formats' file
extensions, the encodings served). Pure: bytes and articles in, documents out.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import brotli

from syndicator.core.models import Article
from syndicator.publish import render

EXTENSIONS = {"rss": "rss", "atom": "atom", "json": "json"}
ENCODINGS = ("br", "gzip", "identity")
ALL_TITLE = "All sections"
# Archive pages kept ready at once, the most recently asked for; a crawler walking every page
# of a large archive must not hold them all in memory.
ARCHIVE_PAGES_KEPT = 64
ChangeListener = Callable[[set[str]], None]


@dataclass
class RenderedFeed:
    """One document in every encoding, with what HTTP needs to say about it.

    `prepared` is the server's own slot: it keeps its ready-made answers for this document
    there, so they too are built once per change.
    """

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    gzip: bytes = b""
    br: bytes = b""
    etags: dict[str, str] = field(default_factory=dict)
    self_url: str = ""
    prepared: object = None

    def encoded(self, encoding: str) -> bytes:
        return {"br": self.br, "gzip": self.gzip}.get(encoding, self.body)


# Brotli quality 8: near the smallest output for feed text at about gzip -9's cost; 10 and 11
# save a few percent more for thirty times the time.
BROTLI_QUALITY = 8


def compressed(body: bytes) -> tuple[bytes, bytes]:
    """gzip (with a zero timestamp, so the same body gives the same bytes everywhere) and
    brotli forms of `body`."""
    return (
        gzip.compress(body, compresslevel=9, mtime=0),
        brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY),
    )


def prepare(
    body: bytes, content_type: str, last_modified: datetime, self_url: str = ""
) -> RenderedFeed:
    """Bytes plus their compressed forms and strong ETags, made once."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    zipped, brotlied = compressed(body)
    return RenderedFeed(
        body=body,
        content_type=content_type,
        etag=f'"{digest}"',
        last_modified=last_modified,
        gzip=zipped,
        br=brotlied,
        etags={"identity": f'"{digest}"', "gzip": f'"{digest}.gz"', "br": f'"{digest}.br"'},
        self_url=self_url,
    )


@dataclass
class SectionDocuments:
    version: int | None
    feeds: dict[str, RenderedFeed]
    pages: range  # the archive pages that exist (retention may have emptied the first ones)


def render_all(
    info: render.FeedInfo, articles: Sequence[Article], modified: datetime
) -> dict[str, RenderedFeed]:
    return {
        fmt: prepare(
            render.render(fmt, info, articles),
            render.CONTENT_TYPES[fmt],
            modified,
            info.feed_urls[fmt],
        )
        for fmt in render.FORMATS
    }


# Stands for the date of an empty document until it has one (never published as such).
UNDATED = render.EPOCH


def data_date(articles: Sequence[Article], changed: datetime | None) -> datetime | None:
    """The date a document's data gives: its newest item's, else its section's last change."""
    if articles:
        return whole_second(render.newest_update(articles))
    return whole_second(changed) if changed is not None else None


def whole_second(moment: datetime) -> datetime:
    """HTTP dates have whole seconds; never claim a time later than now."""
    return min(moment, datetime.now(UTC)).replace(microsecond=0)


def duration_text(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
