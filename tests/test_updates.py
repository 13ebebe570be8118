"""Edits through the real pipeline: an article edited on one mirror, then on the others, stays
one item per feed, with the new text, a bumped updated date and its original GUID."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from syndicator.core.config import Config
from syndicator.core.models import PullReport
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store

from .sites import Site, SiteArticle

NEW_TITLE = "Libya’s rival governments sign a unified budget after overnight talks"
NEW_PARAGRAPH = (
    "The agreement was signed shortly after midnight, a spokesperson said, after the finance "
    "ministers of both governments accepted a compromise on the central bank’s role."
)
SECOND_TITLE = "Libya’s rival governments sign a unified budget; parliament to vote on Sunday"


async def items_of(config: Config, store: Store, section: str) -> dict[str, list[dict[str, str]]]:
    """Every item of a section feed in each format: id, title, content, updated."""
    book = FeedBook(config, store)
    out: dict[str, list[dict[str, str]]] = {}
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse((await book.get(section, fmt)).body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        out[fmt] = [
            {
                "id": e.id,
                "title": e.title,
                "content": e.content[0].value,
                "updated": dict.get(e, "updated", ""),
            }
            for e in parsed.entries
        ]
    data = json.loads((await book.get(section, "json")).body)
    out["json"] = [
        {
            "id": i["id"],
            "title": i["title"],
            "content": i["content_html"],
            "updated": i["date_modified"],
        }
        for i in data["items"]
    ]
    return out


def one_item(items: dict[str, list[dict[str, str]]], guid: str) -> dict[str, dict[str, str]]:
    """The item with this GUID in each format, asserting there is exactly one."""
    found = {}
    for fmt, rows in items.items():
        matching = [r for r in rows if r["id"] == guid]
        assert len(matching) == 1, (fmt, len(matching))
        found[fmt] = matching[0]
    return found


def counts(items: dict[str, list[dict[str, str]]]) -> dict[str, int]:
    """How many items each format's feed has."""
    return {fmt: len(rows) for fmt, rows in items.items()}


def with_new_paragraph(article: SiteArticle) -> list[str]:
    """The article's paragraphs with the second one replaced by NEW_PARAGRAPH."""
    paragraphs = list(article.paragraphs)
    paragraphs[1] = NEW_PARAGRAPH
    return paragraphs


def read_time(written: str) -> datetime:
    """A feed item's time as the feeds write it (`Z` for UTC)."""
    return datetime.fromisoformat(written.replace("Z", "+00:00"))


@dataclasses.dataclass
class News:
    """The site's `news` source as configured, pulled into the store."""

    config: Config
    fetcher: Fetcher
    store: Store

    async def pull(self) -> PullReport:
        return await pull_source("news", self.config, self.fetcher, self.store)

    async def items(self, section: str) -> dict[str, list[dict[str, str]]]:
        return await items_of(self.config, self.store, section)

    async def guid_of(self, article: SiteArticle) -> str:
        """The GUID the feeds give the article, found by its title."""
        items = await self.items(article.section)
        return next(r["id"] for r in items["json"] if r["title"] == article.title)

    async def pulls_change_nothing(self, times: int) -> None:
        """Pull `times` times more, asserting each pull finds nothing new or updated."""
        for _ in range(times):
            again = await self.pull()
            assert (again.new, again.updated) == (0, 0)


ConfigureNews = Callable[..., News]


@pytest.fixture
def configure_news(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> ConfigureNews:
    """`configure_news(sections=..., extra=...)`: the site's config (as `Site.config_yaml`
    takes those) written, and its `news` source to pull."""

    def configure(**options: Any) -> News:
        return News(write_config(site.config_yaml(store_url, **options)), fetcher, store)

    return configure


@pytest.mark.parametrize("page_modified", [True, False], ids=["modified-time", "no-modified-time"])
async def test_an_edit_on_one_mirror_then_the_others_updates_the_one_item(
    site: Site,
    configure_news: ConfigureNews,
    page_modified: bool,
) -> None:
    news = configure_news()
    article = site.articles[0]
    section = article.section
    first = await news.pull()
    assert first.new == len(site.articles) and first.failed == 0
    before = await news.items(section)
    guid = next(r["id"] for r in before["json"] if r["title"] == article.title)
    old = one_item(before, guid)
    old_updated = read_time(old["json"]["updated"])
    count = counts(before)

    replaced = article.paragraphs[1]
    paragraphs = with_new_paragraph(article)
    modified = datetime(2024, 3, 2, 8, 30, tzinfo=UTC) if page_modified else None

    # The edit appears on one mirror; the others still serve the old version.
    site.edit(article.id, [1], title=NEW_TITLE, paragraphs=paragraphs, modified=modified)
    pulled_at = datetime.now(UTC).replace(microsecond=0)
    second = await news.pull()
    assert (second.new, second.updated, second.failed) == (0, 1, 0)
    after_one = await news.items(section)
    assert counts(after_one) == count
    edited = one_item(after_one, guid)
    for fmt, item in edited.items():
        assert item["title"] == NEW_TITLE, fmt
        assert "finance ministers of both governments" in item["content"], fmt
        assert replaced[:40] not in item["content"], fmt
    updated = read_time(edited["json"]["updated"])
    assert updated > old_updated
    assert edited["atom"]["updated"] != old["atom"]["updated"]
    # RSS keeps its pubDate and says when it was edited in atom:updated, which feedparser
    # reads as the item's `updated`.
    assert old["rss"]["updated"] == ""
    assert edited["rss"]["updated"], "feedparser reads no update of the edited RSS item"
    rss_updated = datetime.fromisoformat(edited["rss"]["updated"])
    assert rss_updated == updated.replace(microsecond=rss_updated.microsecond)
    if page_modified:
        assert updated == modified
    else:
        assert updated >= pulled_at

    # Then the other mirrors catch up: nothing new, nothing goes back to the old text.
    site.edit(article.id, [0, 2], title=NEW_TITLE, paragraphs=paragraphs, modified=modified)
    third = await news.pull()
    assert (third.new, third.updated, third.failed) == (0, 0, 0)
    final = await news.items(section)
    assert counts(final) == count
    assert one_item(final, guid) == edited
    # every URL the article was seen under is kept
    aliases = await news.store.aliases_of(guid)
    for mirror in site.mirrors:
        assert mirror.origin + article.path in aliases


async def test_a_lagging_mirror_never_brings_the_old_text_back(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    news = configure_news()
    article = site.articles[2]
    await news.pull()
    site.edit(article.id, [0], title=NEW_TITLE)
    await news.pull()
    # Mirrors 1 and 2 still serve the old version, pull after pull.
    for _ in range(2):
        report = await news.pull()
        assert report.updated == 0 and report.new == 0
    items = await news.items(article.section)
    assert [r["title"] for r in items["json"]].count(NEW_TITLE) == 1
    assert article.title not in [r["title"] for r in items["json"]]


async def test_an_edit_taken_back_by_the_publisher_is_an_update_of_the_one_item(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # The text before an edit is kept (by its hash) to know a lagging mirror's copy of it:
    # when the publisher took the edit back, the canonical origin's page, dated after the
    # edit, was taken for such a copy, and the feeds kept the withdrawn text for good.
    news = configure_news()
    article = site.articles[0]
    await news.pull()
    guid = await news.guid_of(article)
    edited_at = datetime(2024, 3, 2, 8, 30, tzinfo=UTC)
    site.edit(article.id, [0, 1, 2], title=NEW_TITLE, modified=edited_at)
    assert (await news.pull()).updated == 1
    # Taken back on the canonical origin; the other mirrors still serve the edit.
    reverted_at = edited_at + timedelta(days=1)
    site.edit(article.id, [0], title=article.title, modified=reverted_at)
    report = await news.pull()
    assert (report.new, report.updated, report.failed) == (0, 1, 0)
    await news.pulls_change_nothing(2)  # the mirrors' copies of the edit do not bring it back
    item = one_item(await news.items(article.section), guid)
    for fmt, shown in item.items():
        assert shown["title"] == article.title, fmt
    assert item["json"]["updated"] == reverted_at.isoformat().replace("+00:00", "Z")


async def test_a_mirror_serving_the_text_before_an_edit_as_new_changes_nothing(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # The text before the edit, dated after it, on a mirror (a CMS that stamps every page
    # it renders with the time): the canonical origin serves the edit, which stays.
    news = configure_news()
    article = site.articles[0]
    await news.pull()
    edited_at = datetime(2024, 3, 2, 8, 30, tzinfo=UTC)
    site.edit(article.id, [0, 1, 2], title=NEW_TITLE, modified=edited_at)
    assert (await news.pull()).updated == 1
    site.edit(article.id, [1], title=article.title, modified=edited_at + timedelta(days=1))
    await news.pulls_change_nothing(2)
    titles = [r["title"] for r in (await news.items(article.section))["json"]]
    assert titles.count(NEW_TITLE) == 1 and article.title not in titles


@pytest.mark.parametrize("full_text", [True, False], ids=["full-text-feed", "full-text-off"])
async def test_a_correction_in_the_text_a_feed_carries_updates_the_item(
    site: Site,
    configure_news: ConfigureNews,
    full_text: bool,
) -> None:
    # The source's feed carries each article's text (content:encoded), or the source takes
    # what the feed gives (full_text: false). An RSS item has no modified time: a correction
    # in its body changes neither its date nor its headline, and was never stored, although
    # the pull had the corrected text in hand.
    for mirror in site.mirrors:
        mirror.feed_content = True
    for a in site.articles:  # long enough to be the article, not a teaser
        a.paragraphs = [*a.paragraphs, *a.paragraphs[:3]]
    extra = "" if full_text else "    full_text: false\n"
    news = configure_news(sections=("north-africa",), extra=extra)
    article = site.in_section("north-africa")[1]
    first = await news.pull()
    assert first.new == len(site.in_section("north-africa")) and first.failed == 0
    before = await news.items("north-africa")
    guid = next(r["id"] for r in before["json"] if r["title"] == article.title)
    old_updated = one_item(before, guid)["json"]["updated"]

    paragraphs = with_new_paragraph(article)
    site.edit(article.id, range(len(site.mirrors)), paragraphs=paragraphs)
    second = await news.pull()
    assert (second.new, second.updated, second.failed) == (0, 1, 0)
    after = await news.items("north-africa")
    assert counts(after) == counts(before)
    edited = one_item(after, guid)
    for fmt, item in edited.items():
        assert "finance ministers of both governments" in item["content"], fmt
    assert edited["json"]["updated"] > old_updated
    assert not [p for m in site.mirrors for p in m.log if p.startswith("/Detail/")]

    # Read again when the feed changes (a new article), the same texts change nothing.
    unchanged = len(site.in_section("north-africa"))
    newest = dataclasses.replace(
        article,
        id=660199,
        title="Egypt opens a new bridge over the Nile in Cairo",
        paragraphs=[
            f"Egypt opened a new bridge over the Nile in Cairo on Sunday, part {n} of a plan "
            "to ease traffic between the two banks, the transport ministry said in a statement."
            for n in range(6)
        ],
        published=article.published + timedelta(days=1),
        slug="",
    )
    site.publish(newest)
    third = await news.pull()
    assert (third.new, third.updated, third.failed) == (1, 0, 0)
    assert third.duplicate >= unchanged
    final = await news.items("north-africa")
    assert one_item(final, guid) == edited
    assert len(final["json"]) == unchanged + 1


async def test_a_headline_corrected_under_a_new_link_is_the_same_item_by_its_article_id(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # The CMS makes the link's slug from the headline: corrected, the article moves to a new
    # link and the old one is gone. With its body touched too, the SimHash moved more than
    # the near-duplicate bits, and readers got a second item next to the first. The
    # publisher's id in the link (/Detail/yyyy/mm/dd/{id}/slug) says it is one article.
    extra = "    article_id: '/Detail/\\d{4}/\\d\\d/\\d\\d/(\\d+)/'\n"
    news = configure_news(sections=("north-africa",), extra=extra)
    first = await news.pull()
    assert first.new == len(site.in_section("north-africa")) and first.failed == 0
    before = await news.items("north-africa")
    article = site.in_section("north-africa")[0]
    guid = next(r["id"] for r in before["json"] if r["title"] == article.title)

    paragraphs = list(article.paragraphs)
    paragraphs[0] = paragraphs[0].replace("officials said", "the ministry said")
    corrected = dataclasses.replace(
        article,
        title=NEW_TITLE,
        paragraphs=paragraphs,
        slug="",  # a new slug, a new link
    )
    assert corrected.path != article.path
    site.articles[site.articles.index(article)] = corrected
    site.touch()
    second = await news.pull()
    assert (second.new, second.updated, second.failed) == (0, 1, 0)
    after = await news.items("north-africa")
    assert counts(after) == counts(before)
    for fmt, item in one_item(after, guid).items():
        assert item["title"] == NEW_TITLE, fmt
    links = {
        i["id"]: i["url"]
        for i in json.loads(
            (await FeedBook(news.config, news.store).get("north-africa", "json")).body
        )["items"]
    }
    assert links[guid] == site.canonical + corrected.path


async def test_an_edit_after_a_version_dated_ahead_of_the_clock_moves_the_item_forward(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # The CMS writes its modified time in Tehran's local time as UTC: three and a half hours
    # ahead, which within a day is believed as the modified time. A later edit whose page
    # says the same modified time was dated when seen, before the date readers already had:
    # the item's updated time went back, and readers that take an entry's new text only
    # when its updated time moved on never showed the edit.
    news = configure_news(sections=("north-africa",))
    article = site.in_section("north-africa")[0]
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3, minutes=30)
    site.edit(article.id, range(len(site.mirrors)), modified=ahead)
    first = await news.pull()
    assert first.failed == 0
    before = await news.items("north-africa")
    guid = next(r["id"] for r in before["json"] if r["title"] == article.title)
    old = one_item(before, guid)

    paragraphs = with_new_paragraph(article)
    site.edit(
        article.id, range(len(site.mirrors)), title=NEW_TITLE, paragraphs=paragraphs, modified=ahead
    )
    second = await news.pull()
    assert (second.new, second.updated, second.failed) == (0, 1, 0)
    edited = one_item(await news.items("north-africa"), guid)
    for fmt in ("rss", "atom", "json"):
        assert "finance ministers of both governments" in edited[fmt]["content"], fmt
        was = read_time(old[fmt]["updated"])
        now = read_time(edited[fmt]["updated"])
        assert now > was, (fmt, old[fmt]["updated"], edited[fmt]["updated"])


async def test_a_second_edit_under_a_modified_time_that_never_moves_is_shown(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # Many CMSs write a modified time that never moves (the publication time again, or the
    # time the page was first saved). The first edit was dated when it was seen; the second
    # edit's page, with the same old time, was taken for a lagging mirror's older copy of the
    # article because that time is before the first edit's date, and was never shown.
    news = configure_news()
    article = site.articles[0]
    stamped = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    everywhere = range(len(site.mirrors))
    site.edit(article.id, everywhere, modified=stamped)
    await news.pull()
    guid = await news.guid_of(article)
    paragraphs = with_new_paragraph(article)
    site.edit(article.id, everywhere, title=NEW_TITLE, modified=stamped)
    assert (await news.pull()).updated == 1
    first = one_item(await news.items(article.section), guid)

    site.edit(article.id, everywhere, title=SECOND_TITLE, paragraphs=paragraphs, modified=stamped)
    report = await news.pull()
    assert (report.new, report.updated, report.failed) == (0, 1, 0)
    second = one_item(await news.items(article.section), guid)
    for fmt, item in second.items():
        assert item["title"] == SECOND_TITLE, fmt
        assert "finance ministers of both governments" in item["content"], fmt
        was = read_time(first[fmt]["updated"])
        now = read_time(item["updated"])
        assert now > was, (fmt, first[fmt]["updated"], item["updated"])
    await news.pulls_change_nothing(2)  # and it stays: nothing flips back


async def test_a_corrected_caption_alone_is_shown_as_an_update(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # A correction of the lead photo's caption (the wrong person named), the text unchanged,
    # its page and feed entry dated after it: the content hash covers title and body only,
    # so the corrected page was a duplicate and the feeds kept the wrong caption for good.
    news = configure_news()
    article = site.articles[0]
    await news.pull()
    guid = await news.guid_of(article)

    async def photo_credits() -> list[str]:
        """The lead photo's credit as each XML feed gives it to readers (media:credit)."""
        book = FeedBook(news.config, news.store)
        found = []
        for fmt in ("rss", "atom"):
            parsed = feedparser.parse((await book.get(article.section, fmt)).body)
            entry = next(e for e in parsed.entries if e.id == guid)
            found.append(entry.media_credit[0]["content"])
        return found

    assert await photo_credits() == ["Photo by a staff photographer"] * 2
    corrected_at = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
    right = "A street in the city centre. (Photo by Amina Haddad)"
    # First on a mirror only: its copy may be one that lags or a mirror's own, not shown.
    site.mirrors[1].edits[article.id] = dataclasses.replace(
        article, caption=right, updated=corrected_at
    )
    site.touch()
    report = await news.pull()
    assert (report.new, report.updated, report.failed) == (0, 0, 0)
    assert await photo_credits() == ["Photo by a staff photographer"] * 2
    # Then on the canonical origin, dated after the stored version.
    for index in range(len(site.mirrors)):
        site.mirrors[index].edits[article.id] = dataclasses.replace(
            article, caption=right, updated=corrected_at
        )
    site.touch()
    report = await news.pull()
    assert (report.new, report.updated, report.failed) == (0, 1, 0)
    assert await photo_credits() == ["Photo by Amina Haddad"] * 2
    item = one_item(await news.items(article.section), guid)
    assert item["json"]["updated"] == corrected_at.isoformat().replace("+00:00", "Z")
    await news.pulls_change_nothing(2)  # and once only


async def test_a_lead_picture_a_later_copy_has_fills_the_stored_article_without_an_edit(
    site: Site,
    configure_news: ConfigureNews,
) -> None:
    # The first mirror's pages lost their lead picture (an <img> its template drops), the
    # other mirrors' have it, the text the same: the first copy was stored, the others were
    # duplicates, and the feeds never gave the picture. It is filled in on the stored article:
    # the same item, GUID and dates; only the picture is new (the publisher had it all along,
    # so it is no edit readers are told of).
    first = site.mirrors[0]
    page = first.article_page

    def without_picture(a: SiteArticle) -> str:
        return re.sub(r'<img src="[^"]*" alt="photo">', "", page(a))

    first.article_page = without_picture  # type: ignore[method-assign]
    news = configure_news()
    report = await news.pull()
    assert (report.new, report.updated, report.failed) == (len(site.articles), 0, 0)
    article = site.articles[0]
    stored = {a.title: a for a in await news.store.section_articles(article.section, 50)}
    assert stored[article.title].image_url == f"{site.canonical}/images/{article.id}.jpg"
    items = await news.items(article.section)
    book = FeedBook(news.config, news.store)
    parsed = feedparser.parse((await book.get(article.section, "rss")).body)
    entry = next(e for e in parsed.entries if e.title == article.title)
    assert entry.media_content[0]["url"].endswith(f"/images/{article.id}.jpg")
    # Dated as stored: updated is its published time, as for any article never edited.
    item = one_item(items, await news.guid_of(article))
    assert item["json"]["updated"] == article.published.isoformat().replace("+00:00", "Z")
    await news.pulls_change_nothing(1)
