"""Al-Alam's Arabic and HispanTV's Spanish articles through the real pipeline, from pages and
feeds served on 127.0.0.1 (tests/sisters.py) to the RSS, Atom and JSON feeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import feedparser
import lxml.html
import pytest
from lxml import etree

from syndicator.core.config import Config
from syndicator.publish import xmlfeeds
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import open_store

from .sisters import SisterMirror, SisterPage, sister_config

ARABIC = [
    "افتتحت وزارة الطاقة يوم الأحد محطة جديدة لتوليد الكهرباء في جنوب البلاد، بطاقة تبلغ "
    "خمسمئة ميغاواط، في خطوة تهدف إلى تلبية الطلب المتزايد خلال فصل الصيف.",
    "وقال وزير الطاقة إن المحطة ستزود أكثر من مليون منزل بالكهرباء، وإن العمل جار على بناء "
    "محطتين أخريين في الشمال والشرق خلال العامين المقبلين.",
    "وأضاف أن المشروع نفذته شركات محلية بالكامل، رغم العقوبات المفروضة على البلاد منذ سنوات، "
    "وأن كلفته بلغت نحو ثلاثمئة مليون دولار.",
    "ويأمل المسؤولون أن تخفف المحطة الجديدة من انقطاعات التيار التي شهدتها المدن الجنوبية في "
    "الصيف الماضي.",
]
SPANISH = [
    "El Ministerio de Energía inauguró el domingo una nueva central eléctrica en el sur del "
    "país, con una capacidad de quinientos megavatios, para atender la demanda del verano.",
    "El ministro dijo que la central abastecerá a más de un millón de hogares y que se trabaja "
    "en otras dos centrales en el norte y el este durante los próximos dos años.",
    "Añadió que el proyecto fue ejecutado íntegramente por empresas locales, a pesar de las "
    "sanciones impuestas al país desde hace años, y que costó unos trescientos millones.",
    "Los responsables esperan que la nueva central reduzca los cortes de electricidad que "
    "sufrieron las ciudades del sur el verano pasado.",
]
PUBLISHED = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)


async def pull_items(
    mirrors: list[SisterMirror],
    language: str,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    extra: str = "",
) -> dict[str, list[dict[str, object]]]:
    """The JSON Feed items of each section after one pull of the mirrors."""
    for mirror in mirrors:
        await mirror.start()
    store = await open_store(store_url)
    try:
        config = write_config(sister_config(store_url, mirrors, language, extra))
        report = await pull_source("sister", config, fetcher, store)
        assert report.failed == 0, report.errors
        book = FeedBook(config, store)
        return {s: json.loads((await book.get(s, "json")).body)["items"] for s in ("news", "iran")}
    finally:
        await store.close()
        for mirror in mirrors:
            await mirror.stop()


ARABIC_PAGE = SisterPage("/news/1", "إيران تفتتح محطة كهرباء جديدة", ARABIC, PUBLISHED, "ar")
SPANISH_PAGE = SisterPage("/news/2", "Irán inaugura una central", SPANISH, PUBLISHED, "es")


@pytest.mark.parametrize(
    ("configured", "written", "page"),
    [
        ("إيران", "ایران", ARABIC_PAGE),  # a Persian keyboard's yeh, no hamza
        ("إيران", "\u200fإيـران", ARABIC_PAGE),  # a right-to-left mark, a tatweel
        ("أخبار إيران", "اخبار ایران", ARABIC_PAGE),
        ("Irán", "Ira\u0301n", SPANISH_PAGE),  # the accent as a combining mark
        ("Irán", "Iran", SPANISH_PAGE),
    ],
    ids=["persian-yeh", "rlm-tatweel", "hamza", "decomposed-accent", "no-accent"],
)
async def test_a_breadcrumb_in_other_letter_forms_puts_the_article_in_its_section(
    configured: str,
    written: str,
    page: SisterPage,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # Al-Alam's mirrors write their breadcrumbs as whoever typed them did (a Persian keyboard's
    # yeh and kaf, a tatweel, no hamza); a Spanish CMS may send an accent as a combining mark.
    # The section rule the operator wrote matched none of them: the article was left out of
    # its section's feed.
    mirror = SisterMirror([replace(page, breadcrumb=("الرئيسية", written))])
    rule = f'    section_rules:\n      - {{breadcrumb: "{configured}", section: iran}}\n'
    items = await pull_items([mirror], "ar", fetcher, write_config, store_url, rule)
    assert [i["title"] for i in items["iran"]] == [i["title"] for i in items["news"]]
    assert len(items["iran"]) == 1


@pytest.mark.parametrize(
    ("byline", "page", "author"),
    [
        ("بقلم: أحمد حسين", ARABIC_PAGE, "أحمد حسين"),
        ("Por: Juan Pérez", SPANISH_PAGE, "Juan Pérez"),
        ("Autor: Juan Pérez", SPANISH_PAGE, "Juan Pérez"),
    ],
    ids=["arabic", "spanish", "spanish-autor"],
)
async def test_a_byline_with_a_colon_names_the_author_alone(
    byline: str,
    page: SisterPage,
    author: str,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # "Por: Juan Pérez" and "بقلم: أحمد حسين" were published as the author's name, label and
    # colon included: only "By Jane Doe", without a colon, lost its label.
    mirror = SisterMirror([replace(page, byline=byline)])
    items = await pull_items([mirror], page.language, fetcher, write_config, store_url)
    assert [i["authors"] for i in items["news"]] == [[{"name": author}]]


@pytest.mark.parametrize(
    ("pointer", "page"),
    [
        ("اقرا ايضا:", ARABIC_PAGE),  # no hamza, as often written
        ("اقرأ المزيد:", ARABIC_PAGE),
        ("Leer más:", SPANISH_PAGE),
        ("LEA MÁS:", SPANISH_PAGE),
    ],
    ids=["arabic-without-hamza", "arabic-read-more", "spanish-leer-mas", "spanish-lea-mas"],
)
async def test_a_pointer_to_another_article_leaves_the_body(
    pointer: str,
    page: SisterPage,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # "Leer más: <another story>" and "اقرا ايضا: <another story>" between two paragraphs were
    # published as part of the article; "Read more:" and "اقرأ أيضا:" went.
    other = "ايران توقع اتفاقا مع روسيا" if page.language == "ar" else "Irán y Rusia firman"
    inserted = f'<p>{pointer} <a href="/news/9">{other}</a></p>'
    mirror = SisterMirror([replace(page, inserted=inserted)])
    items = await pull_items([mirror], page.language, fetcher, write_config, store_url)
    [item] = items["news"]
    content = str(item["content_html"])
    assert other not in content and pointer not in content
    assert all(paragraph in content for paragraph in page.paragraphs)


@pytest.mark.parametrize(
    ("head_title", "site_name", "page"),
    [
        ("{} | قناة العالم الاخبارية", "قناة العالم الإخبارية", ARABIC_PAGE),  # no hamza
        ("قناة العالـم - {}", "قناة العالم", ARABIC_PAGE),  # a tatweel
        ("{} - قناة العالم", "قناة العالم الإخبارية", ARABIC_PAGE),  # the name shortened
        ("{} | HispanTV", "HISPANTV", SPANISH_PAGE),
    ],
    ids=["arabic-hamza", "arabic-tatweel", "arabic-short-name", "spanish"],
)
async def test_a_title_loses_the_site_name_in_other_letter_forms(
    head_title: str,
    site_name: str,
    page: SisterPage,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # A page with no headline of its own gives its <title>, the site's name after a bar: "...
    # | قناة العالم الاخبارية" kept it when `og:site_name` wrote the name with its hamza.
    titled = replace(page, head_title=head_title.format(page.title), site_name=site_name)
    items = await pull_items(
        [SisterMirror([titled])], page.language, fetcher, write_config, store_url
    )
    assert [i["title"] for i in items["news"]] == [page.title]


async def test_a_section_page_lays_out_arabic_items_right_to_left(
    fetcher: Fetcher, write_config: Callable[[str], Config], store_url: str
) -> None:
    # The section page's words are English (`<html lang="en">`): an Arabic item in it was laid
    # out left to right, its closing punctuation at the wrong end, and a screen reader read
    # Arabic and Spanish titles with an English voice.
    english = replace(SPANISH_PAGE, path="/news/3", title="Iran opens a power plant", language="en")
    mirror = SisterMirror([ARABIC_PAGE, SPANISH_PAGE, english])
    await mirror.start()
    store = await open_store(store_url)
    try:
        config = write_config(sister_config(store_url, [mirror], "ar"))
        report = await pull_source("sister", config, fetcher, store)
        assert (report.new, report.failed) == (3, 0)
        page = lxml.html.fromstring(await FeedBook(config, store).section_html("news"))
    finally:
        await store.close()
        await mirror.stop()
    items = {li.findtext("a"): (li.get("lang"), li.get("dir")) for li in page.iter("li")}
    assert items == {
        ARABIC_PAGE.title: ("ar", "rtl"),
        SPANISH_PAGE.title: ("es", None),
        "Iran opens a power plant": (None, None),
    }


async def test_a_feed_shown_in_a_browser_lays_out_arabic_items_right_to_left(
    fetcher: Fetcher, write_config: Callable[[str], Config], store_url: str
) -> None:
    # A browser shows a feed through its stylesheet (feed.xsl) as an English page: every item
    # of an Arabic feed was laid out left to right, with an English voice for screen readers.
    mirror = SisterMirror([ARABIC_PAGE, SPANISH_PAGE])
    await mirror.start()
    store = await open_store(store_url)
    try:
        config = write_config(sister_config(store_url, [mirror], "ar"))
        report = await pull_source("sister", config, fetcher, store)
        assert (report.new, report.failed) == (2, 0)
        book = FeedBook(config, store)
        feeds = {fmt: (await book.get("news", fmt)).body for fmt in ("rss", "atom")}
    finally:
        await store.close()
        await mirror.stop()
    transform = etree.XSLT(etree.fromstring(xmlfeeds.STYLESHEET))
    for body in feeds.values():
        page = transform(etree.fromstring(body)).getroot()
        items = {
            "".join(li.find("a").itertext()).strip(): (li.get("lang"), li.get("dir"))
            for li in page.iter("li")
        }
        assert items == {ARABIC_PAGE.title: ("ar", "auto"), SPANISH_PAGE.title: ("es", "auto")}
    # RSS has no language element per item: the Spanish item names its language as feedparser
    # reads it, the Arabic ones have the feed's.
    parsed = feedparser.parse(feeds["rss"])
    assert parsed.feed.language == "ar"
    assert {e.title: e.get("language") for e in parsed.entries} == {
        ARABIC_PAGE.title: None,
        SPANISH_PAGE.title: "es",
    }


@pytest.mark.parametrize(
    "comma", ["،", "؛", ","], ids=["arabic-comma", "arabic-semicolon", "comma"]
)
async def test_a_cut_summary_ends_with_no_arabic_comma_before_its_ellipsis(
    comma: str, fetcher: Fetcher, write_config: Callable[[str], Config], store_url: str
) -> None:
    # A summary cut after a word and its Arabic comma ended "...الطاقة،…", where an English
    # one drops its comma: "...energy…".
    listing = f"{comma} ".join(["الطاقة"] * 80)
    page = replace(ARABIC_PAGE, paragraphs=[listing, *ARABIC])
    items = await pull_items([SisterMirror([page])], "ar", fetcher, write_config, store_url)
    [item] = items["news"]
    summary = str(item["summary"])
    assert summary.endswith("الطاقة…"), summary[-20:]


@pytest.mark.parametrize("arrow", ["‹", "«", "&lt;"], ids=["single", "double", "less-than"])
async def test_a_right_to_left_breadcrumb_matches_a_rule_for_its_whole_trail(
    arrow: str, fetcher: Fetcher, write_config: Callable[[str], Config], store_url: str
) -> None:
    # Arabic pages point their breadcrumb's arrows right to left ("الرئيسية ‹ إيران"): the
    # arrow was read as an item of the trail, and a rule for the whole trail never matched.
    separator = f' <span class="sep">{arrow}</span> '
    page = replace(ARABIC_PAGE, breadcrumb=("الرئيسية", "إيران"), crumb_separator=separator)
    rule = '    section_rules:\n      - {breadcrumb: "الرئيسية / إيران", section: iran}\n'
    items = await pull_items([SisterMirror([page])], "ar", fetcher, write_config, store_url, rule)
    assert [i["title"] for i in items["iran"]] == [ARABIC_PAGE.title]
