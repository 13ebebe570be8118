"""Article times end to end: as mirrors write them in feeds and pages, through the real pipeline,
to the RSS, Atom and JSON feeds, read back as feed readers read them (feedparser)."""

from __future__ import annotations

import calendar
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import feedparser
import jdatetime
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicator.core.config import Config
from syndicator.core.errors import ConfigError
from syndicator.extract import dates
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store

from .sites import FakeClock, Site

SECTION = "north-africa"
FEED_ONLY = "    full_text: false\n"
IN_TEHRAN = "    time_zone: Asia/Tehran\n"
TEHRAN = timezone(timedelta(hours=3, minutes=30))
ReadersTimes = Callable[..., Awaitable[dict[str, set[datetime]]]]


@pytest.fixture
def readers_times(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> ReadersTimes:
    """Pull the site's section once (`entry` and `extra` as `Site.config_yaml` takes them),
    with no pull failing, and give the times readers see, as `published_as_readers_see`."""

    async def pull(*, entry: str = "feed", extra: str = "") -> dict[str, set[datetime]]:
        config = write_config(
            site.config_yaml(store_url, entry=entry, sections=(SECTION,), extra=extra)
        )
        report = await pull_source("news", config, fetcher, store)
        assert report.failed == 0, report.errors
        return await published_as_readers_see(config, store)

    return pull


PulledTwice = Callable[..., Awaitable[tuple[list[str], dict[str, set[datetime]]]]]


@pytest.fixture
def pulled_twice(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> PulledTwice:
    """Pull the section (every article new), run `between`, pull again with the feeds
    answering 200 (not 304) and nothing new; give the article pages the second pull fetched
    and the times readers see after it."""

    async def pull(
        between: Callable[[], None] = lambda: None,
    ) -> tuple[list[str], dict[str, set[datetime]]]:
        config = write_config(site.config_yaml(store_url, sections=(SECTION,)))
        first = await pull_source("news", config, fetcher, store)
        assert first.failed == 0 and first.new == len(site.in_section(SECTION))
        before = [len(m.log) for m in site.mirrors]
        between()
        site.touch()  # the feeds answer 200 again, not 304
        again = await pull_source("news", config, fetcher, store)
        assert again.failed == 0 and again.new == 0
        fetched = [
            p
            for m, n in zip(site.mirrors, before, strict=True)
            for p in m.log[n:]
            if "/Detail/" in p
        ]
        return fetched, await published_as_readers_see(config, store)

    return pull


def own_times(site: Site) -> dict[str, set[datetime]]:
    """Each article of the section with its own publication time, alone."""
    return {a.title: {a.published} for a in site.in_section(SECTION)}


async def published_as_readers_see(config: Config, store: Store) -> dict[str, set[datetime]]:
    """Each item's publication time in UTC by title, as feedparser reads it from the RSS, Atom
    and JSON feeds (one time per title when the three agree)."""
    seen: dict[str, set[datetime]] = {}
    for kind in ("rss", "atom", "json"):
        body = (await FeedBook(config, store).get(SECTION, kind)).body
        if kind == "json":
            items = [
                (i["title"], datetime.fromisoformat(i["date_published"]))
                for i in json.loads(body)["items"]
            ]
        else:
            items = [
                (e.title, datetime.fromtimestamp(calendar.timegm(e.published_parsed), UTC))
                for e in feedparser.parse(body).entries
            ]
        for title, when in items:
            seen.setdefault(title, set()).add(when.astimezone(UTC))
    return seen


def written_in(name: str, hours: float) -> Callable[[datetime], str]:
    """RFC 822 dates in the local time of a zone, named as its publishers name it."""
    zone = timezone(timedelta(hours=hours))
    return lambda moment: f"{moment.astimezone(zone):%a, %d %b %Y %H:%M:%S} {name}"


ZONE_NAMES = [
    ("IRST", 3.5),
    ("IRDT", 4.5),
    ("PKT", 5),
    ("IST", 5.5),  # India's: see dates.ZONES for the choice
    ("AST", 3),  # Arabia's
    ("GST", 4),  # the Gulf's
    ("MSK", 3),
    ("CET", 1),
    ("CEST", 2),
    ("EET", 2),
    ("EEST", 3),
    ("AFT", 4.5),
    ("irst", 3.5),
    ("+0330 (IRST)", 3.5),
    ("GMT+3:30", 3.5),
    ("UTC+03:30", 3.5),
    ("+3:30", 3.5),
    ("+330", 3.5),
]


@pytest.mark.parametrize(("zone", "hours"), ZONE_NAMES)
async def test_feed_times_in_a_zone_feedparser_does_not_know_keep_their_instant(
    zone: str,
    hours: float,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # Press TV's feeds write Tehran time, `Tue, 03 Dec 2024 14:05:00 IRST`: feedparser knows
    # no IRST and read it as UTC, so every item was published three and a half hours late
    # (and `+330`, `GMT+3:30` a day and more off).
    for mirror in site.mirrors:
        mirror.feed_dates = written_in(zone, hours)
    seen = await readers_times(extra=FEED_ONLY)
    assert seen == own_times(site)


@pytest.mark.parametrize(
    "written",
    ["{:%a, %d %b %Y %H:%M:%S} IRST", "{:%d %B %Y, %H:%M} IRST", "{:%B %d, %Y at %I:%M %p} IRST"],
)
async def test_page_times_in_a_zone_abbreviation_keep_their_instant(
    written: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # The same time in a page's article:published_time (which wins over the feed's) was read
    # as UTC too.
    for article in site.articles:
        article.page_published = written.format(article.published.astimezone(TEHRAN))
    seen = await readers_times()
    assert seen == own_times(site)


PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "digits", [PERSIAN, ARABIC_INDIC], ids=["persian-digits", "arabic-indic-digits"]
)
async def test_page_times_in_persian_or_arabic_digits_keep_their_instant(
    digits: dict[int, str],
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # Persian and Arabic pages write their dates in their own digits, often wrapped in a
    # right-to-left mark: no such date was read, and each article was dated by the day in
    # its URL, at midnight (three articles of a day tied, hours off).
    for article in site.articles:
        local = article.published.astimezone(TEHRAN).isoformat()
        article.page_published = "\u200f" + local.translate(digits)
    seen = await readers_times(entry="page")
    assert seen == own_times(site)


@pytest.mark.parametrize(
    "written",
    [
        "{:%Y-%m-%d %H:%M:%S} IRST",
        "{:%Y-%m-%dT%H:%M:%S} IRST",
        "{:%Y/%m/%d %H:%M} +0330",
        "{:%Y/%m/%d %H:%M:%S} GMT+03:30",
        "{:%Y-%m-%-dT%H:%M:%S}+03:30",
    ],
)
async def test_page_times_written_year_first_keep_their_instant(
    written: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # JSON-LD and meta tags of CMSs in Iran and the Gulf write `2024-03-01 12:30:00 IRST` or
    # `2024/03/01 12:30 +0330`: neither ISO 8601 nor RFC 822, such a time was no date, and
    # the article was dated by its URL's day at midnight.
    for article in site.articles:
        article.page_published = written.format(article.published.astimezone(TEHRAN))
    seen = await readers_times(entry="page")
    assert seen == own_times(site)


def solar(moment: datetime, written: str) -> str:
    """`moment` in Tehran's time and Iran's calendar, `written` a jdatetime format."""
    local = moment.astimezone(TEHRAN)
    day = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None), locale="fa_IR")
    return day.strftime(written)


@pytest.mark.parametrize("written", ["%Y-%m-%dT%H:%M:%S+03:30", "%Y/%m/%d %H:%M"])
async def test_page_times_in_irans_calendar_keep_their_instant(
    written: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # Iranian CMSs write meta tags in the Solar Hijri calendar, `۱۴۰۲/۱۲/۱۱ ۱۲:۳۰`: read
    # as the year 1402 (or not at all), it was no date, and the article was dated by its
    # URL's day at midnight UTC.
    for article in site.articles:
        article.page_published = solar(article.published, written).translate(PERSIAN)
    seen = await readers_times(entry="page")
    assert seen == own_times(site)


async def test_feed_times_in_irans_calendar_keep_their_instant(
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A Persian feed's pubDate, `جمعه ۱۱ اسفند ۱۴۰۲ - ۱۲:۳۰`: feedparser reads none, and
    # every item was dated when it was first pulled (the whole backlog at one time).
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: solar(moment, "%A %d %B %Y - %H:%M").translate(PERSIAN)
    seen = await readers_times(extra=FEED_ONLY)
    assert seen == own_times(site)


@pytest.mark.parametrize("feed_zone", [("GMT", 0), ("IRST", 3.5)])
async def test_a_page_that_gives_only_the_day_keeps_the_feeds_time(
    feed_zone: tuple[str, float],
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # The page's article:published_time is `2024-03-01`, its feed entry says 12:30 IRST: the
    # page won, and every article of the day was published at 00:00 UTC, tied.
    for mirror in site.mirrors:
        mirror.feed_dates = written_in(*feed_zone)
    for article in site.articles:
        article.page_published = f"{article.published:%Y-%m-%d}"
    seen = await readers_times()
    assert seen == own_times(site)


async def test_no_item_is_published_after_it_was_first_seen(
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A Tehran CMS writes its local time with no zone (`2024-03-01T14:30:00`), read as UTC:
    # the fresh articles were dated up to three and a half hours ahead of the pull, pinned at
    # the top of every reader above the articles that came after them ("in 3 hours").
    started = datetime.now(UTC).replace(microsecond=0)
    for n, article in enumerate(site.articles):
        article.published = started - timedelta(hours=1 + n / 2)
        article.page_published = f"{article.published.astimezone(TEHRAN):%Y-%m-%dT%H:%M:%S}"
    seen = await readers_times(entry="page")
    assert set(seen) == {a.title for a in site.in_section(SECTION)}
    assert max(max(times) for times in seen.values()) <= datetime.now(UTC)


@pytest.mark.parametrize("pages", [False, True], ids=["feed-only", "undated-pages"])
async def test_a_feed_entry_with_only_a_modified_time_is_published_then(
    pages: bool,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # An Atom entry need not say when it was published, only when it was updated (and a JSON
    # Feed item may give date_modified alone): such entries were published when first pulled,
    # a feed's whole backlog at one moment, in no order; or, when the page gives no date
    # either, dated by the day in its URL at midnight.
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: ""
    for article in site.articles:
        article.updated = article.published
        article.page_published = "unknown"
    extra = "" if pages else FEED_ONLY
    seen = await readers_times(extra=extra)
    assert seen == own_times(site)


async def test_an_undated_page_takes_its_date_from_the_news_sitemap(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # A Google News sitemap gives each article's news:publication_date to the minute; a feed
    # entry's date filled in for a page that gives none, a sitemap's did not: such articles
    # were dated by the day in their URL at midnight (htmldate's guess), tied.
    for article in site.articles:
        article.page_published = "unknown"
    yaml = site.config_yaml(store_url, sections=(SECTION,)).replace(
        f"{SECTION}: {{feed: /rss/{SECTION}.xml}}",
        f"{SECTION}: {{sitemap: /sitemap/{SECTION}.xml, backfill: 3d}}",
    )
    clock = FakeClock(datetime(2024, 3, 2, 12, 0, tzinfo=UTC))
    report = await pull_source("news", write_config(yaml), fetcher, store, clock=clock)
    assert report.failed == 0 and report.new == len(site.in_section(SECTION))
    seen = await published_as_readers_see(write_config(yaml), store)
    assert seen == own_times(site)


@pytest.mark.parametrize(
    "written",
    [
        "{:%a, %d %b %Y %H:%M:%S} +0330 IRST",
        "{:%a, %d %b %Y %H:%M:%S} Asia/Tehran",
        "{:%Y-%m-%d %H:%M:%S} Asia/Tehran",
        "{:%Y-%m-%dT%H:%M:%S}+03:30[Asia/Tehran]",
    ],
)
async def test_page_times_with_a_zone_by_its_place_name_keep_their_instant(
    written: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # An offset followed by its zone's name, a zone named by its place (as a server's
    # settings name it), RFC 9557's suffix: no date was read, and the article was dated by
    # its URL's day at midnight (feedparser, for a feed, read `Asia/Tehran` as UTC).
    for article in site.articles:
        article.page_published = written.format(article.published.astimezone(TEHRAN))
    seen = await readers_times(entry="page")
    assert seen == own_times(site)


@pytest.mark.parametrize("entry", ["page", "feed"])
async def test_a_sources_time_zone_places_times_that_name_none(
    entry: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A Tehran CMS writes its local time with no zone, in its pages
    # (`2024-03-01T12:30:00`) or its feed's pubDate (`Fri, 01 Mar 2024 12:30:00`): read as
    # UTC, every article was published three and a half hours late. `time_zone` says where
    # such times are.
    for article in site.articles:
        article.page_published = f"{article.published.astimezone(TEHRAN):%Y-%m-%dT%H:%M:%S}"
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: f"{moment.astimezone(TEHRAN):%a, %d %b %Y %H:%M:%S}"
    extra = IN_TEHRAN + ("" if entry == "page" else FEED_ONLY)
    seen = await readers_times(entry=entry, extra=extra)
    assert seen == own_times(site)


@pytest.mark.parametrize("zone", ["AT", "TEH", "ACWST"])
async def test_times_in_a_zone_not_known_are_placed_by_the_sources_time_zone(
    zone: str,
    site: Site,
    readers_times: ReadersTimes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An abbreviation no table gives an offset for was read as UTC: a Tehran site's times
    # were published hours off, and nothing said so. It says as much as no zone at all: the
    # source's `time_zone` places the time, and the log names the zone.
    dates._unknown_zone.cache_clear()  # said once a process: earlier tests may have said it
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: (
            f"{moment.astimezone(TEHRAN):%a, %d %b %Y %H:%M:%S} {zone}"
        )
    extra = IN_TEHRAN + FEED_ONLY
    seen = await readers_times(extra=extra)
    assert seen == own_times(site)
    written = f"Fri, 01 Mar 2024 12:30:00 {zone}"
    assert (moment := dates.parse_date(written)) is not None and moment.tzinfo is dates.NO_ZONE
    # Said once, not for every date.
    assert [r.zone for r in caplog.records if hasattr(r, "zone")] == [zone]  # type: ignore[attr-defined]


@pytest.mark.parametrize("zone", ["Asia/Tehrann", "IRST", "+03:30"])
def test_a_time_zone_that_is_none_is_named_with_its_line(
    zone: str, site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    text = site.config_yaml(store_url, extra=f'    time_zone: "{zone}"\n')
    with pytest.raises(ConfigError, match=r"syndicator.yaml:\d+:\d+: .*time_zone.*no time zone"):
        write_config(text)


@pytest.mark.parametrize(
    "written",
    [
        '["{}"]',
        '{{"@value": "{}", "@type": "DateTime"}}',
        '[{{"@value": "{}"}}]',
    ],
    ids=["list", "value-object", "list-of-value-objects"],
)
async def test_json_ld_dates_in_odd_forms_are_read(
    written: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A page's JSON-LD may give its date as a list, or as a JSON-LD value object: no date was
    # read, and the article was dated by its URL's day at midnight.
    for article in site.articles:
        article.page_published = "unknown"
        date = written.format(article.published.isoformat())
        article.page_json_ld = f'{{"@type": "NewsArticle", "datePublished": {date}}}'
    seen = await readers_times(entry="page")
    assert seen == own_times(site)


async def test_a_mirror_clock_far_ahead_does_not_refetch_every_article_every_pull(
    site: Site,
    pulled_twice: PulledTwice,
) -> None:
    # A mirror whose clock is years ahead says in its feed that every article was updated
    # in 2099. Not believed as the articles' date, it still read as "changed since stored"
    # on every pull: every article page was fetched again from every mirror, for ever.
    for article in site.articles:
        article.updated = datetime(2099, 1, 1, tzinfo=UTC)
    fetched, seen = await pulled_twice()
    assert fetched == []
    assert seen == own_times(site)


@pytest.mark.parametrize(
    "zero",
    [
        "Wed, 30 Nov -0001 00:00:00 +0000",  # PHP's zero date, as RFC 822
        "-0001-11-30T00:00:00+00:00",  # the same, as ISO 8601
        "Mon, 01 Jan 0001 00:00:00 GMT",  # .NET's DateTime.MinValue
        "0000-00-00 00:00:00",  # MySQL's
    ],
)
async def test_a_cms_zero_date_in_a_feed_is_no_date(
    zero: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A CMS with no date for an entry writes its zero date. PHP's `-0001-11-30` was read by
    # feedparser as 2000-01-01, .NET's `Jan 0001` by dateutil as 2001: the items went to
    # the end of their feeds (into the archive), dated a quarter of a century ago. An entry
    # with no date is dated when it was first seen.
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: zero
    started = datetime.now(UTC).replace(microsecond=0)
    seen = await readers_times(extra=FEED_ONLY)
    assert set(seen) == {a.title for a in site.in_section(SECTION)}
    assert all(min(times) >= started for times in seen.values()), seen


@pytest.mark.parametrize(
    "broken",
    [
        "{:%a, %d %b %Y %H:%M:%S} -9999",  # an offset of 99 hours: no zone is that far
        "{:%a, %d %b %Y %H:%M:%S} +2400",
        "{:%Y-%m-%dT%H:%M:%S}-99:99",
    ],
)
async def test_an_entry_dated_at_an_offset_no_zone_has_costs_only_its_date(
    broken: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A date whose offset is a day or more (`-9999`, a CMS's broken zone field) was read,
    # then raised ValueError when put in UTC: that one entry cost the feed on every mirror,
    # and the section got nothing. It is read as no date; the other entries keep theirs.
    first = site.in_section(SECTION)[0]
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: (
            broken.format(moment) if moment == first.published else format_datetime(moment)
        )
    seen = await readers_times(extra=FEED_ONLY)
    assert set(seen) == {a.title for a in site.in_section(SECTION)}
    assert all(seen[a.title] == {a.published} for a in site.in_section(SECTION)[1:])


@pytest.mark.parametrize("offset", ["-9999", "+2400", "-99:99", "+24:00"])
def test_a_time_at_an_offset_no_zone_has_is_no_time(offset: str) -> None:
    assert dates.parse_date(f"Sun, 06 Dec 2026 10:00:00 {offset}") is None
    assert dates.parse_date(f"2026-12-06T10:00:00{offset}") is None


EAST_ASIAN = [
    "{0:%Y}年{0.month}月{0.day}日 {0:%H:%M:%S}",  # Chinese and Japanese
    "{0:%Y}年{0:%m}月{0:%d}日(火) {0:%H}時{0:%M}分{0:%S}秒",
    "{0:%Y}년 {0.month}월 {0.day}일 {0:%H:%M:%S}",  # Korean
    "{0:%Y}년 {0:%m}월 {0:%d}일 {1} {0:%I:%M:%S}",
]


@pytest.mark.parametrize("written", EAST_ASIAN)
async def test_feed_times_written_in_chinese_japanese_or_korean_keep_their_instant(
    written: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # `2024年12月3日 14:05` was read by feedparser alone, as the 1st of the month the pull
    # ran in, of that year, at midnight: every item of such a feed was dated days or months
    # off, and the feed's order with them.
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: written.format(
            moment, "오전" if moment.hour < 12 else "오후"
        )
    seen = await readers_times(extra=FEED_ONLY)
    assert seen == own_times(site)


async def test_a_fresh_article_dated_by_its_day_alone_is_published_when_seen(
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # A listing, and pages that give only today's date: today's new articles were published
    # at midnight, below everything else a reader got today, though they had just appeared.
    # The moment they were first seen is the better time; older days keep their midnight.
    started = datetime.now(UTC).replace(microsecond=0)
    old = site.articles[0]
    for article in site.articles:
        article.published = started if article is not old else started - timedelta(days=3)
        article.page_published = f"{article.published:%Y-%m-%d}"
    seen = await readers_times(entry="page")
    midnight = started.replace(hour=0, minute=0, second=0)
    assert seen.pop(old.title) == {midnight - timedelta(days=3)}
    assert all(started <= min(times) <= datetime.now(UTC) for times in seen.values()), seen


@pytest.mark.parametrize("offset", ["+0330", "+0530", "+0545", "-0930"])
async def test_iso_times_with_an_offset_of_minutes_and_no_colon_keep_their_instant(
    offset: str,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # `2024-03-01T12:30:00+0330` (Tehran; +0530 India, +0545 Nepal): feedparser read the
    # offset's minutes as none, and every item was published 30 or 45 minutes off.
    sign = -1 if offset[0] == "-" else 1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: f"{moment.astimezone(zone):%Y-%m-%dT%H:%M:%S}{offset}"
    seen = await readers_times(extra=FEED_ONLY)
    assert seen == own_times(site)


PIECES = st.sampled_from(
    [
        *"0123456789:+-/ ,.TZ()[]",
        *("Dec", "IRST", "GMT", "UTC", "PM", "Tue", "Asia/Tehran", "Etc/GMT+3", "+0330"),
        *("۱۴۰۲", "٣", "آذر", "-0001", "99999", "\u200f", "at", "3:30"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(PIECES, max_size=14).map("".join), st.text(max_size=40)))
def test_any_text_reads_as_an_aware_date_or_none(text: str) -> None:
    # One entry's date that made the reader raise cost its whole feed, on every mirror.
    moment = dates.parse_date(text)
    assert moment is None or moment.utcoffset() is not None


@pytest.mark.parametrize("name", sorted(dates.ZONES))
def test_every_zone_abbreviation_reads_at_its_offset(name: str) -> None:
    offset = timedelta(seconds=dates.ZONES[name])
    at = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    written = f"{(at + offset):%a, %d %b %Y %H:%M:%S} {name}"
    assert dates.parse_date(written) == at


async def test_a_feed_that_dates_every_entry_when_generated_dates_none(
    site: Site,
    pulled_twice: PulledTwice,
) -> None:
    # Some CMSs write the moment the feed was generated as every item's pubDate. Each pull
    # saw a newer time on every entry, read as "changed since stored": every article page
    # was fetched again from every mirror, on every pull.
    generated = [datetime(2024, 3, 2, 8, 0, tzinfo=UTC)]
    for mirror in site.mirrors:
        mirror.feed_dates = lambda moment: f"{generated[0]:%a, %d %b %Y %H:%M:%S} GMT"

    def regenerate() -> None:
        generated[0] += timedelta(minutes=10)

    fetched, seen = await pulled_twice(between=regenerate)
    assert fetched == []
    assert seen == own_times(site)


SPANISH_MONTHS = (
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
)
EGYPTIAN_MONTHS = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر"
LEVANTINE_MONTHS = [
    "كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران",
    "تموز", "آب", "أيلول", "تشرين الأول", "تشرين الثاني", "كانون الأول",
]  # fmt: skip


def spanish(moment: datetime) -> str:
    month = SPANISH_MONTHS.split()[moment.month - 1]
    return f"Publicado: {moment.day} de {month} de {moment:%Y}, {moment:%H:%M}"


def spanish_numeric(moment: datetime) -> str:
    return f"Publicado: {moment:%d/%m/%Y %H:%M}"


def egyptian(moment: datetime) -> str:
    month = EGYPTIAN_MONTHS.split()[moment.month - 1]
    return f"نشر في {moment.day} {month} {moment:%Y} - {moment:%H:%M}".translate(ARABIC_INDIC)


def levantine(moment: datetime) -> str:
    month = LEVANTINE_MONTHS[moment.month - 1]
    return f"\u200f{moment.day} {month} {moment:%Y} الساعة {moment:%H:%M}"


@pytest.mark.parametrize(
    "written",
    [spanish, spanish_numeric, egyptian, levantine],
    ids=["spanish-months", "spanish-day-first", "egyptian-months", "levantine-months"],
)
async def test_page_times_written_in_spanish_or_arabic_keep_their_instant(
    written: Callable[[datetime], str],
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # HispanTV and Al-Alam write an article's time in words of their language, in Tehran's
    # time, with no zone: "7 de diciembre de 2026, 10:15", "٧ ديسمبر ٢٠٢٦ - ١٠:١٥", "7 كانون
    # الأول 2026 الساعة 10:15". No such date was read, and every article was dated by its
    # URL's day at midnight (three articles of a day tied, hours off).
    for article in site.articles:
        article.page_published = written(article.published.astimezone(TEHRAN))
    seen = await readers_times(entry="page", extra=IN_TEHRAN)
    assert seen == own_times(site)


@pytest.mark.parametrize(
    "written",
    ["نشر في 2024/12/03 14:05", "تاريخ النشر: 2024-12-03 14:05", "Publicado: 2024/12/03 14:05"],
)
def test_a_labelled_date_written_year_first_stays_year_first(written: str) -> None:
    # A Spanish or Arabic text is read day first (07/12/2026), but not when the year leads.
    assert dates.parse_date(written) == datetime(2024, 12, 3, 14, 5, tzinfo=dates.NO_ZONE)


def test_a_spanish_weekday_is_not_taken_for_a_month() -> None:
    # `mar` is Tuesday (martes) before a comma, not March; a feed's localised pubDate.
    assert dates.parse_date("mar, 08 dic 2026 10:15:00 +0330") == datetime(
        2026, 12, 8, 10, 15, tzinfo=timezone(timedelta(hours=3, minutes=30))
    )


def greenwich(moment: datetime) -> str:
    month = EGYPTIAN_MONTHS.split()[moment.month - 1]
    return f"{moment:%d} {month} {moment:%Y} | {moment:%H:%M} بتوقيت غرينتش"


def bracketed(moment: datetime) -> str:
    return f"Actualizado: {moment:%d/%m/%Y %H:%M} (GMT+2)"


def beside_hijri(moment: datetime) -> str:
    month = LEVANTINE_MONTHS[moment.month - 1]
    return f"{moment.day} {month} {moment:%Y} - 20 رمضان 1445 هـ - {moment:%H:%M}"


@pytest.mark.parametrize(
    ("written", "hours"),
    [(greenwich, 0.0), (bracketed, 2.0), (beside_hijri, 3.5)],
    ids=["greenwich-in-words", "offset-in-brackets", "beside-a-hijri-date"],
)
async def test_a_zone_in_words_or_brackets_and_a_hijri_date_beside_keep_the_instant(
    written: Callable[[datetime], str],
    hours: float,
    site: Site,
    readers_times: ReadersTimes,
) -> None:
    # "10:15 بتوقيت غرينتش" is Greenwich time: taken for a time naming no zone, it was placed in
    # the source's time_zone, hours off; "(GMT+3:30)" was dropped as an RFC 822 comment; a
    # date of the Islamic calendar beside the Gregorian one made the text no date at all.
    # The source's time_zone is Tehran's: the text's own zone wins over it.
    zone = timezone(timedelta(hours=hours))
    for article in site.articles:
        article.page_published = written(article.published.astimezone(zone))
    seen = await readers_times(entry="page", extra=IN_TEHRAN)
    assert seen == own_times(site)
