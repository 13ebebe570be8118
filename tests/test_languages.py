"""Encodings and right-to-left text through the real pipeline: an Arabic article served in
windows-1256 by one mirror and UTF-8 by another is one item, and its text is the same bytes in
the RSS, Atom and JSON outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from lxml import etree

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store, open_store

from .sites import Site, SiteArticle, sample_articles

ARABIC_TITLE = "افتتاح خط جديد للقطارات بين العاصمة والميناء الجنوبي"
ARABIC = [
    "افتتحت وزارة النقل يوم الأحد خطا جديدا للقطارات يربط العاصمة بالميناء الجنوبي، "
    "في رحلة تستغرق أقل من ثلاث ساعات بعد أن كانت تتجاوز ست ساعات بالحافلات.",
    "وقال وزير النقل إن القطارات ستعمل كل ساعتين في البداية، على أن يزداد عددها في "
    "الصيف مع ارتفاع عدد المسافرين إلى الشواطئ.",
    "ويأمل التجار في المدن الواقعة على طول الخط أن يجلب القطار زبائن جددا، بينما طالب "
    "سكان القرى القريبة ببناء محطات صغيرة تخدمهم.",
    "«هذا أول خط حديدي جديد منذ ثلاثين عاما»، قال أحد المهندسين الذين عملوا في المشروع.",
]
RSS, ATOM = "http://purl.org/rss/1.0/modules/content/", "http://www.w3.org/2005/Atom"


def arabic_site() -> Site:
    article = SiteArticle(
        id=770001,
        section="west-asia",
        title=ARABIC_TITLE,
        paragraphs=ARABIC,
        published=datetime(2024, 3, 3, 7, 0, tzinfo=UTC),
        caption="القطار الأول على الخط الجديد في محطة العاصمة.",
        language="ar",
        slug="new-railway-line",
    )
    return Site(mirrors=2, articles=[article])


def contents(rss: bytes, atom: bytes, feed_json: bytes) -> dict[str, tuple[str, str]]:
    """(title, content) of the one item in each format, as a reader parses it."""
    rss_item = etree.fromstring(rss).find("channel/item")
    atom_entry = etree.fromstring(atom).find(f"{{{ATOM}}}entry")
    assert rss_item is not None and atom_entry is not None
    item = json.loads(feed_json)["items"]
    assert len(item) == 1
    return {
        "rss": (rss_item.findtext("title") or "", rss_item.findtext(f"{{{RSS}}}encoded") or ""),
        "atom": (
            atom_entry.findtext(f"{{{ATOM}}}title") or "",
            atom_entry.findtext(f"{{{ATOM}}}content") or "",
        ),
        "json": (item[0]["title"], item[0]["content_html"]),
    }


@pytest.mark.parametrize(
    ("entry", "declared"),
    [("feed", "header"), ("page", "meta")],
    ids=["feed-charset-in-header", "listing-charset-in-meta"],
)
async def test_arabic_in_windows_1256_and_utf8_is_one_item_with_identical_text(
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    entry: str,
    declared: str,
) -> None:
    site = arabic_site()
    site.mirrors[0].charset, site.mirrors[0].charset_in = "windows-1256", declared
    site.mirrors[1].charset, site.mirrors[1].charset_in = "utf-8", "header"
    await site.start()
    store = await open_store(store_url)
    try:
        raw = await fetcher.get(site.mirrors[0].origin + site.articles[0].path)
        assert ARABIC[0].encode("cp1256") in raw.body  # the mirror really sends windows-1256
        config = write_config(
            site.config_yaml(store_url, entry=entry, sections=("west-asia",), language="ar")
        )
        report = await pull_source("news", config, fetcher, store)
        assert (report.new, report.duplicate, report.failed) == (1, 1, 0)

        book = FeedBook(config, store)
        bodies = {fmt: (await book.get("west-asia", fmt)).body for fmt in ("rss", "atom", "json")}
        found = contents(bodies["rss"], bodies["atom"], bodies["json"])
        titles = {title.encode("utf-8") for title, _ in found.values()}
        texts = {content.encode("utf-8") for _, content in found.values()}
        assert titles == {ARABIC_TITLE.encode("utf-8")}
        assert len(texts) == 1  # byte-identical in RSS, Atom and JSON
        text = texts.pop().decode("utf-8")
        for paragraph in ARABIC:
            assert f"<p>{paragraph}</p>" in text
        assert text.startswith('<div dir="rtl" lang="ar">')
        assert "\ufffd" not in text and "&#" not in text

        # The feeds say what language they are in.
        assert etree.fromstring(bodies["rss"]).findtext("channel/language") == "ar"
        assert (
            etree.fromstring(bodies["atom"]).get("{http://www.w3.org/XML/1998/namespace}lang")
            == "ar"
        )
        data = json.loads(bodies["json"])
        # An item names its language only where it differs from the feed's.
        assert data["language"] == "ar" and data["items"][0].get("language", "ar") == "ar"
    finally:
        await store.close()
        await site.stop()


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        # a list where one tag belongs: the first one is the page's language
        ("en-US, en-GB, fr-FR, de-DE, es-ES, it-IT", "en-US"),
        # not a language tag at all: as if the page said nothing, the source's language
        ("{{ page.lang }}", "fr"),
        ("a-very-long-language-tag-that-no-store-column-would-hold", "fr"),
    ],
)
async def test_a_page_language_is_stored_as_one_well_formed_tag(
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    declared: str,
    stored: str,
) -> None:
    articles = sample_articles()
    for article in articles:
        article.language = declared
    site = Site(mirrors=1, articles=articles)
    await site.start()
    try:
        config = write_config(site.config_yaml(engine_url, entry="page", language="fr"))
        report = await pull_source("news", config, fetcher, engine_store)
        # every article is stored, on PostgreSQL too (its language column holds 35 characters)
        assert (report.new, report.failed) == (len(articles), 0), report.errors
        assert {a.language for a in await engine_store.section_articles("all", 100)} == {stored}
    finally:
        await site.stop()


@pytest.mark.parametrize(
    "credit", ["تصوير: محمد رضا", "الصورة: رويترز", "رويترز"], ids=["taswir", "alsura", "agency"]
)
async def test_an_arabic_photo_credit_goes_to_media_credit_not_the_text(
    credit: str,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # "... تصوير: محمد رضا" under Al-Alam's lead picture was published in the article's text
    # as part of what the picture shows; "Foto: Reuters" went to media:credit.
    site = arabic_site()
    shows = "القطار الأول على الخط الجديد في محطة العاصمة"
    site.articles[0].caption = f"{shows} - {credit}"
    await site.start()
    store = await open_store(store_url)
    try:
        config = write_config(
            site.config_yaml(store_url, entry="page", sections=("west-asia",), language="ar")
        )
        report = await pull_source("news", config, fetcher, store)
        assert (report.new, report.failed) == (1, 0)
        rss = (await FeedBook(config, store).get("west-asia", "rss")).body
    finally:
        await store.close()
        await site.stop()
    item = etree.fromstring(rss).find("channel/item")
    assert item is not None
    media = "{http://search.yahoo.com/mrss/}"
    assert item.findtext(f"{media}content/{media}credit") == credit
    text = item.findtext(f"{{{RSS}}}encoded") or ""
    assert shows in text and credit not in text
