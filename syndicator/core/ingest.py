"""The ingest decision: is a candidate a new article, an update of a stored one, or a duplicate?

The product's most important rule, kept pure so it can be read and tested on its own: the store
finds the stored article a candidate matches (same content hash, same URL, or near-duplicate
text, see `store.engine`), asks `decide`, and carries the answer out in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from urllib.parse import urlsplit

from syndicator.core.identity import make_guid
from syndicator.core.models import Candidate

How = Literal["hash", "url", "near"]


# A stored version's summary (the standfirst), byline, lead image URL and caption.
Shown = tuple[str, str | None, str | None, str | None]


@dataclass(frozen=True)
class Match:
    """A stored article a candidate was recognised as, and how: same content hash, same
    URL, or near-duplicate text."""

    how: How
    article_id: int
    guid: str
    updated: datetime
    published: datetime
    # Its link as stored, and whether a canonical source confirmed it (nothing to repair when
    # a confirmed candidate names the same link).
    url: str | None = None
    link_confirmed: bool = False
    # Matched by hash: whether that hash is the stored text's (else an older version's).
    current_text: bool = True
    # The modified time the stored text's own page gave (believed), None when it gave none
    # or the text was stored before these were kept. `updated` may be later: the time an
    # edit was seen, when its page gave no newer time.
    page_updated: datetime | None = None
    # What readers see of the stored version besides its title and body (which the hash
    # covers): `shown_of` its summary, byline, lead image and caption. None: not asked.
    shown: Shown | None = None


def shown_of(candidate: Candidate) -> Shown:
    """What readers see of a candidate besides its title and body: summary, byline, lead
    image URL and caption."""
    return (candidate.summary, candidate.author, candidate.image_url, candidate.image_caption)


def _corrected(before: Shown, after: Shown) -> bool:
    """Whether `after` corrects `before`. Lead images are compared by their path: a CDN
    that serves a picture from several hosts, or a query that changes with every render (a
    cache buster), is no correction, and would have updated the item at every pull."""

    def key(shown: Shown) -> Shown:
        image = urlsplit(shown[2]).path if shown[2] else None
        return (shown[0], shown[1], image, shown[3])

    return key(before) != key(after)


@dataclass(frozen=True)
class New:
    """Store the candidate as a new article under `guid`, with these times; `page_updated`:
    the modified time its page gave, as believed (kept to order later versions by)."""

    guid: str
    published: datetime
    updated: datetime
    page_updated: datetime | None = None


@dataclass(frozen=True)
class Update:
    """Replace the stored article's text with the candidate's; it was updated at `updated`,
    and its page said `page_updated`."""

    updated: datetime
    page_updated: datetime | None = None


@dataclass(frozen=True)
class Duplicate:
    """Change nothing. `remember_text`: the candidate's text differs from the stored one (an
    older version from a lagging mirror), so keep its hash to know it at once next time.
    `image`: the lead picture (URL, caption) to give the stored version, which has none
    (`fill_image`): its text, dates and GUID stay as they are."""

    remember_text: bool
    image: tuple[str, str | None] | None = None


def fill_image(candidate: Candidate, stored: Match) -> tuple[str, str | None] | None:
    """The candidate's lead picture (URL, caption), for a stored version of the same text
    that has none: the first copy stored came from a mirror whose page had lost it (a
    template without it, a lazy loader's placeholder), and a later copy of the same text,
    from another mirror, has it. The publisher had it all along: it is given to the stored
    version without moving its `updated` time (no edit: readers are not told of one, and the
    feeds, rendered again, carry it). A stored picture is never replaced here: another one is
    a correction (`decide`), from the canonical origin with a newer time only."""
    if (
        not stored.current_text
        or stored.shown is None
        or stored.shown[2] is not None
        or not candidate.image_url
    ):
        return None
    return (candidate.image_url, candidate.image_caption)


Decision = New | Update | Duplicate


def as_utc(moment: datetime | None) -> datetime | None:
    """Aware UTC; a naive time is taken as UTC (SQLite keeps no zone)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# A page may say it was published or changed in 2099 (a broken CMS, a typo, a hostile
# mirror): believed, the item would head its feeds for decades and keep the section looking
# fresh. A time more than this after the moment of storing is not believed, as if the page
# gave none; the day's slack covers a local time written as UTC.
FUTURE_SKEW = timedelta(days=1)

# How far past the stored version's date an edit is dated at least: a whole second, as
# feedparser and RFC 822 dates see no less.
EDIT_STEP = timedelta(seconds=1)


# A CMS with no date for an article writes the zero of its own clock: .NET's DateTime.MinValue
# (0001-01-01, in many JSON-LD blocks), SQL Server's 1753-01-01 or 1900-01-01, the Unix epoch
# (1970-01-01, or 1969-12-31 west of UTC). Believed, the article went to the end of its feeds,
# dated the year 1 in Atom and JSON Feed and unreadable in RSS (an RFC 822 date has four
# digits: feedparser read "Mon, 01 Jan 1" as 2001), off the subscription document once its
# archive page filled. No web page is older than this: an earlier time is no date.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)


def too_early(moment: datetime) -> bool:
    """Whether `moment` (aware, or naive UTC) is before EARLIEST: a CMS's empty date."""
    try:
        return (as_utc(moment) or EARLIEST) < EARLIEST
    except OverflowError:
        return True


def believed(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` in UTC, or None when it is too far in the future to be true, is a CMS's empty
    date (before EARLIEST), or is past the range of UTC times."""
    try:
        utc = as_utc(moment)
    except OverflowError:
        return None
    return None if utc is None or utc > now + FUTURE_SKEW or utc < EARLIEST else utc


def _today_alone(written: datetime | None, now: datetime) -> bool:
    """Whether `written` gives only a day (midnight where it was written), and that day is
    today there. A fresh article so dated was published at midnight, below everything else
    a reader got that day though it had just appeared: when it was first seen is the better
    time. An earlier day keeps its midnight (a backlog has nothing better)."""
    if written is None or written.tzinfo is None or written.time() != time(0):
        return False
    try:
        return now.astimezone(written.tzinfo).date() == written.date()
    except OverflowError:
        return False


def decide(
    candidate: Candidate, stored: Match | None, *, canonical_origin: str, now: datetime
) -> Decision:
    """What storing `candidate` does, given the stored article it matches (None: no match).

    - no match: a new article; its GUID is fixed now from the source, the publication date
      (the time we saw it when the page gives none, a later one, which within FUTURE_SKEW
      still counts as the page's modified time, or only today's date) and the first content
      hash;
    - the same text (by hash): a duplicate, with two exceptions, each an update only as the
      canonical origin serves it dated after the stored version (a mirror's copy, or the
      canonical origin's with no newer time, may be one that lags: a cache in front of it):
      an older version of the text (the publisher took the edit back), and the stored text
      with another standfirst, byline, lead image or caption (a correction of those, which
      the hash does not cover); a duplicate of the stored text with a lead picture where
      the stored version has none gives it that picture (`fill_image`), as no update;
    - another text whose page says it is older than the stored version: a duplicate (a
      lagging mirror must not roll an article back). Older than what the stored version's
      own page said, when it said a time: a CMS that never moves its modified time (the
      publication time again) gives every edit the same time, and the edit after one dated
      when it was seen was taken for an older copy and never shown;
    - another text otherwise: an update, dated by the page's own modified time when it moved
      forward, else by `now`, and never before the stored version's date (see below).
    """
    page_updated = believed(candidate.updated, now)
    if stored is None:
        # Never after the moment it was first seen: a time ahead of it (a local time written
        # with no zone, read as UTC; a clock running fast) pinned the item above the newer
        # ones at the top of every reader until that time came.
        published = min(believed(candidate.published, now) or now, now)
        if _today_alone(candidate.published, now):
            published = now
        guid = make_guid(canonical_origin, candidate.source, candidate.content_hash, published)
        return New(guid, published, max(page_updated or published, published), page_updated)
    if stored.how == "hash":
        if (
            not stored.current_text
            and candidate.from_canonical
            and page_updated is not None
            and page_updated > stored.updated
        ):
            return Update(page_updated, page_updated)
        if (
            stored.current_text
            and candidate.from_canonical
            and page_updated is not None
            and page_updated > stored.updated
            and stored.shown is not None
            and _corrected(stored.shown, shown_of(candidate))
        ):
            return Update(page_updated, page_updated)
        return Duplicate(remember_text=False, image=fill_image(candidate, stored))
    if page_updated is not None and page_updated < (stored.page_updated or stored.updated):
        return Duplicate(remember_text=True)
    if page_updated is not None and page_updated > stored.updated:
        return Update(page_updated, page_updated)
    # The stored version may be dated ahead of `now` (a modified time within FUTURE_SKEW: a
    # local time written as UTC). Dated `now`, the edit went back before the date readers
    # already had, and those that take an entry's new text only when its updated time moved
    # on (compared to the second, as feedparser parses it) never showed it.
    return Update(max(now, stored.updated + EDIT_STEP), page_updated)
