"""The ingest decision (new, update or duplicate) as a pure function: no store, no SQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from syndicator.core.ingest import (
    Decision,
    Duplicate,
    How,
    Match,
    New,
    Shown,
    Update,
    decide,
    shown_of,
)
from syndicator.core.models import Candidate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STORED_UPDATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 2, 28, 8, 30, tzinfo=UTC)
ORIGIN = "https://www.news.example"


def candidate(published: datetime | None = PUBLISHED, updated: datetime | None = None) -> Candidate:
    return Candidate(
        source="news",
        canonical_url=f"{ORIGIN}/a/1",
        content_hash="ab" * 32,
        simhash=0,
        title="A title",
        summary="",
        content_html="<p>Text</p>",
        published=published,
        updated=updated,
        author=None,
        image_url=None,
        image_caption=None,
        language="en",
        sections=frozenset({"world"}),
    )


def stored(how: How) -> Match:
    return Match(how, 7, "tag:www.news.example,2026-02-28:news/x", STORED_UPDATED, PUBLISHED)


GUID = "tag:www.news.example,2026-02-28:news/" + "ab" * 16
# What the stored version showed, each differing from `candidate()`'s in one thing.
CORRECTED: list[tuple[str, Shown]] = [
    ("standfirst", ("An earlier standfirst", None, None, None)),
    ("byline", ("", "A. Writer", None, None)),
    ("lead image", ("", None, f"{ORIGIN}/images/1.jpg", None)),
    ("caption", ("", None, None, "A caption")),
]
HOUR = timedelta(hours=1)

CASES: list[tuple[str, Candidate, Match | None, Decision]] = [
    # No stored match: a new article, its GUID from the source, the day and the hash.
    ("new", candidate(), None, New(GUID, PUBLISHED, PUBLISHED)),
    (
        "new, the page's modified time kept",
        candidate(updated=PUBLISHED + HOUR),
        None,
        New(GUID, PUBLISHED, PUBLISHED + HOUR, PUBLISHED + HOUR),
    ),
    (
        "new, a modified time before the publication is not believed",
        candidate(updated=PUBLISHED - HOUR),
        None,
        # kept as the page's own time, which later copies are ordered by
        New(GUID, PUBLISHED, PUBLISHED, PUBLISHED - HOUR),
    ),
    (
        "new, no publication date: the time it was seen",
        candidate(published=None),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    (
        "new, a naive time is UTC",
        candidate(published=PUBLISHED.replace(tzinfo=None)),
        None,
        New(GUID, PUBLISHED, PUBLISHED),
    ),
    # A time more than a day ahead of now is not believed (a page dated 2099 would head its
    # feeds for decades): as if the page gave none. Within the day (a local time written
    # as UTC) it is, as a modified time; an article is never published after it was seen.
    (
        "new, published in 2099: the time it was seen",
        candidate(published=datetime(2099, 1, 1, tzinfo=UTC)),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    (
        "new, published ten hours ahead: published when seen",
        candidate(published=NOW + 10 * HOUR),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    (
        "new, dated by today's date alone: the time it was seen",
        candidate(published=datetime(2026, 3, 1, tzinfo=UTC)),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    (
        "new, dated by an earlier day alone: that day",
        candidate(published=datetime(2026, 2, 28, tzinfo=UTC)),
        None,
        New(GUID, datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
    ),
    (
        "new, modified ten hours ahead: believed as modified",
        candidate(updated=NOW + 10 * HOUR),
        None,
        New(GUID, PUBLISHED, NOW + 10 * HOUR, NOW + 10 * HOUR),
    ),
    (
        "new, modified in 2099: not believed",
        candidate(updated=datetime(2099, 1, 1, tzinfo=UTC)),
        None,
        New(GUID, PUBLISHED, PUBLISHED),
    ),
    (
        "same URL, modified in 2099: an update now",
        candidate(updated=datetime(2099, 1, 1, tzinfo=UTC)),
        stored("url"),
        Update(NOW),
    ),
    (
        "new, a time past the last UTC time: the time it was seen",
        candidate(published=datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-14 * HOUR))),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    # A CMS's empty date (.NET's 0001-01-01, SQL Server's 1900-01-01, the Unix epoch) is no
    # date: the item went to the end of its feeds, dated the year 1.
    (
        "new, published 0001-01-01 (a CMS's empty date): the time it was seen",
        candidate(published=datetime(1, 1, 1, tzinfo=UTC)),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    (
        "new, published at the Unix epoch, west of UTC: the time it was seen",
        candidate(published=datetime(1969, 12, 31, 19, 0, tzinfo=timezone(-5 * HOUR))),
        None,
        New("tag:www.news.example,2026-03-01:news/" + "ab" * 16, NOW, NOW),
    ),
    (
        "same URL, modified 1900-01-01: an update now",
        candidate(updated=datetime(1900, 1, 1, tzinfo=UTC)),
        stored("url"),
        Update(NOW),
    ),
    # The same text: a duplicate, whatever the dates say.
    ("same hash", candidate(), stored("hash"), Duplicate(remember_text=False)),
    (
        "same hash, a newer modified time",
        candidate(updated=STORED_UPDATED + HOUR),
        stored("hash"),
        Duplicate(remember_text=False),
    ),
    # An older version's text (its hash is kept): the canonical origin serving it dated after
    # the stored version is the publisher taking the edit back; anything else is a copy that
    # lags (a mirror, or a cache in front of the canonical origin giving the old date).
    (
        "an older text from the canonical origin, dated after the stored version: reverted",
        replace(candidate(updated=STORED_UPDATED + HOUR), from_canonical=True),
        replace(stored("hash"), current_text=False),
        Update(STORED_UPDATED + HOUR, STORED_UPDATED + HOUR),
    ),
    (
        "an older text from a mirror, dated after the stored version",
        candidate(updated=STORED_UPDATED + HOUR),
        replace(stored("hash"), current_text=False),
        Duplicate(remember_text=False),
    ),
    (
        "an older text from the canonical origin with its old date",
        replace(candidate(updated=STORED_UPDATED - HOUR), from_canonical=True),
        replace(stored("hash"), current_text=False),
        Duplicate(remember_text=False),
    ),
    (
        "an older text from the canonical origin with no modified time",
        replace(candidate(), from_canonical=True),
        replace(stored("hash"), current_text=False),
        Duplicate(remember_text=False),
    ),
    (
        "the stored text from the canonical origin, a newer modified time",
        replace(candidate(updated=STORED_UPDATED + HOUR), from_canonical=True),
        replace(stored("hash"), shown=shown_of(candidate())),
        Duplicate(remember_text=False),
    ),
    # The stored text with another standfirst, byline, lead image or caption: a correction
    # when the canonical origin serves it with a newer modified time.
    *(
        (
            f"the stored text, another {what}, from the canonical origin, newer: a correction",
            replace(candidate(updated=STORED_UPDATED + HOUR), from_canonical=True),
            replace(stored("hash"), shown=was),
            Update(STORED_UPDATED + HOUR, STORED_UPDATED + HOUR),
        )
        for what, was in CORRECTED
    ),
    *(
        (
            f"the stored text, the lead image {how}, from the canonical origin: no correction",
            replace(
                candidate(updated=STORED_UPDATED + HOUR),
                from_canonical=True,
                image_url=f"{ORIGIN}/images/1.jpg",
            ),
            replace(stored("hash"), shown=("", None, other, None)),
            Duplicate(remember_text=False),
        )
        for how, other in [
            ("from another host", "https://cdn2.news.example/images/1.jpg"),
            ("with another query", f"{ORIGIN}/images/1.jpg?v=1733550000"),
        ]
    ),
    # The stored text with a lead picture the stored version lacks: the picture is given to
    # it, as no update (its dates stay), from any mirror; never one in place of another.
    (
        "the stored text with a picture the stored version lacks, from a mirror",
        replace(candidate(), image_url=f"{ORIGIN}/images/1.jpg", image_caption="A caption"),
        replace(stored("hash"), shown=shown_of(candidate())),
        Duplicate(remember_text=False, image=(f"{ORIGIN}/images/1.jpg", "A caption")),
    ),
    (
        "the stored text with another picture than the stored one, from a mirror",
        replace(candidate(), image_url=f"{ORIGIN}/images/2.jpg"),
        replace(stored("hash"), shown=("", None, f"{ORIGIN}/images/1.jpg", None)),
        Duplicate(remember_text=False),
    ),
    (
        "an older text of the stored article with a picture the stored version lacks",
        replace(candidate(), image_url=f"{ORIGIN}/images/1.jpg"),
        replace(stored("hash"), shown=shown_of(candidate()), current_text=False),
        Duplicate(remember_text=False),
    ),
    (
        "the stored text, another byline, from a mirror, newer",
        candidate(updated=STORED_UPDATED + HOUR),
        replace(stored("hash"), shown=CORRECTED[1][1]),
        Duplicate(remember_text=False),
    ),
    (
        "the stored text, another byline, from the canonical origin, no newer time",
        replace(candidate(updated=STORED_UPDATED), from_canonical=True),
        replace(stored("hash"), shown=CORRECTED[1][1]),
        Duplicate(remember_text=False),
    ),
    # Another text at the same URL or near-identical: an update, unless the page is older.
    ("same URL, no modified time", candidate(), stored("url"), Update(NOW)),
    (
        "same URL, newer modified time",
        candidate(updated=STORED_UPDATED + HOUR),
        stored("url"),
        Update(STORED_UPDATED + HOUR, STORED_UPDATED + HOUR),
    ),
    (
        "same URL, the stored version's time",
        candidate(updated=STORED_UPDATED),
        stored("url"),
        Update(NOW, STORED_UPDATED),
    ),
    (
        "same URL, older modified time (a lagging mirror)",
        candidate(updated=STORED_UPDATED - HOUR),
        stored("url"),
        Duplicate(remember_text=True),
    ),
    (
        "same URL, the stored version dated ahead of now, its time again: just after it",
        candidate(updated=NOW + 3 * HOUR),
        replace(stored("url"), updated=NOW + 3 * HOUR),
        Update(NOW + 3 * HOUR + timedelta(seconds=1), NOW + 3 * HOUR),
    ),
    (
        "same URL, the stored version dated ahead of now, no modified time: just after it",
        candidate(),
        replace(stored("url"), updated=NOW + 3 * HOUR),
        Update(NOW + 3 * HOUR + timedelta(seconds=1)),
    ),
    (
        "near-duplicate, newer modified time",
        candidate(updated=STORED_UPDATED + HOUR),
        stored("near"),
        Update(STORED_UPDATED + HOUR, STORED_UPDATED + HOUR),
    ),
    (
        "near-duplicate, older modified time",
        candidate(updated=STORED_UPDATED - HOUR),
        stored("near"),
        Duplicate(remember_text=True),
    ),
    # The stored version's page gave a time before the version's date (an edit seen before
    # its page's time moved): a copy is older only if its page's time is before that one.
    (
        "same URL, the page's time that never moves, after an edit dated when seen",
        candidate(updated=STORED_UPDATED - 2 * HOUR),
        replace(stored("url"), page_updated=STORED_UPDATED - 2 * HOUR),
        Update(NOW, STORED_UPDATED - 2 * HOUR),
    ),
    (
        "same URL, a page time after the stored page's, before the stored version's date",
        candidate(updated=STORED_UPDATED - HOUR),
        replace(stored("url"), page_updated=STORED_UPDATED - 2 * HOUR),
        Update(NOW, STORED_UPDATED - HOUR),
    ),
    (
        "same URL, a page time before the stored page's (a lagging mirror)",
        candidate(updated=STORED_UPDATED - 3 * HOUR),
        replace(stored("url"), page_updated=STORED_UPDATED - 2 * HOUR),
        Duplicate(remember_text=True),
    ),
    (
        "near-duplicate, the page's time that never moves",
        candidate(updated=STORED_UPDATED - 2 * HOUR),
        replace(stored("near"), page_updated=STORED_UPDATED - 2 * HOUR),
        Update(NOW, STORED_UPDATED - 2 * HOUR),
    ),
]


@pytest.mark.parametrize(
    ("cand", "match", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(cand: Candidate, match: Match | None, expected: Decision) -> None:
    assert decide(cand, match, canonical_origin=ORIGIN, now=NOW) == expected


def test_an_update_from_another_zone_is_compared_in_utc() -> None:
    tehran = timezone(timedelta(hours=3, minutes=30))
    page = (STORED_UPDATED - timedelta(minutes=10)).astimezone(tehran)
    # 08:50 UTC is 12:20 in Tehran: older than the stored 09:00 UTC, whatever the clock face.
    decision = decide(
        replace(candidate(), updated=page), stored("url"), canonical_origin=ORIGIN, now=NOW
    )
    assert decision == Duplicate(remember_text=True)
