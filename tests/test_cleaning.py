"""The cleaning and extraction rules one by one: charset detection, the boilerplate
vocabulary, layout tables and line breaks, per-source selectors and strip rules, metadata."""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime

import lxml.html
import pytest

from syndicator.core.errors import ExtractError
from syndicator.core.models import FeedEntry
from syndicator.extract import (
    boilerplate,
    clean,
    decoding,
    extraction,
    lead_image,
    listing_pages,
    page_tree,
    source_rules,
    tidying,
)

URL = "https://www.news.example/2024/03/04/story/"
PARAS = [
    "The council voted on Monday to rebuild the harbour wall that storms damaged in January.",
    "The work will cost about four million and is due to start in May, officials said.",
    "Two councillors voted against the plan and asked for a survey of the foundations first.",
]


def page(body: str, head: str = "", lang: str = "en") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>Harbour wall | News</title>{head}</head><body>{body}</body></html>"
    ).encode()


def article(extra: str = "", where: str = "after") -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    inner = paras + extra if where == "after" else extra + paras
    return page(f"<main><article><h1>Harbour wall to be rebuilt</h1>{inner}</article></main>")


def body_of(data: bytes, **kwargs: object) -> str:
    return extraction.extract_article(data, URL, **kwargs).body_text  # type: ignore[arg-type]


# --- charset -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (b'<meta charset="windows-1256"><p>x</p>', "utf-8", "utf-8"),  # header first
        (codecs.BOM_UTF8 + b'<meta charset="windows-1256">', None, "utf-8"),  # then the BOM
        (b'<?xml version="1.0" encoding="windows-1256"?><meta charset="utf-8">', None, "cp1256"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">',
            None,
            "cp1256",
        ),
        (b'<meta charset="ISO-8859-1">', None, "cp1252"),  # what browsers decode it as
        (b"<p>caf\xc3\xa9</p>", None, "utf-8"),  # nothing declared, valid UTF-8
        (b'<meta charset="no-such-charset"><p>ok</p>', "bogus", "utf-8"),  # unknown labels ignored
        # Python codecs that decode no text are no charset, whoever says so.
        (b"<p>ok</p>", "base64", "utf-8"),
        (b"<p>ok</p>", "idna", "utf-8"),
        (b"<p>ok</p>", "utf\x00-8", "utf-8"),
        (b'<meta charset="hex"><p>ok</p>', None, "utf-8"),
        (b'<?xml version="1.0" encoding="zlib"?><p>ok</p>', None, "utf-8"),
        # UTF-16 or UTF-32 said of bytes without a NUL: browsers read UTF-8.
        (b'<meta charset="utf-16"><p>ok</p>', None, "utf-8"),
        (b"<p>caf\xc3\xa9</p>", "UTF-16LE", "utf-8"),
        (b'<?xml version="1.0" encoding="UTF-32"?><p>ok</p>', None, "utf-8"),
        ("<p>ok</p>".encode("utf-16-le"), "utf-16le", "utf-16-le"),  # real UTF-16, no BOM
    ],
)
def test_charset_comes_from_header_bom_xml_declaration_meta_in_that_order(
    body: bytes, header: str | None, expected: str
) -> None:
    assert decoding.detect_charset(body, header) == expected


@pytest.mark.parametrize("label", ["base64", "zlib", "rot13", "idna", "utf\x00-8"])
def test_a_page_in_a_charset_that_is_no_text_encoding_is_still_extracted(label: str) -> None:
    # A server's `Content-Type: text/html; charset=zlib` raised LookupError: the page was
    # lost, and a listing's or feed's error ended the whole pull.
    assert extraction.extract_article(article(), URL, header_charset=label).body_text
    data = page('<a href="/2024/03/05/quay/">Quay</a>')
    assert listing_pages.listing_entries(data, URL, {"https://www.news.example"}, r"/2024/", label)


def test_a_listing_that_says_utf16_in_ascii_bytes_keeps_its_links() -> None:
    data = b"<meta charset='utf-16'>" + page('<a href="/2024/03/05/quay/">Quay</a>')
    found = listing_pages.listing_entries(data, URL, {"https://www.news.example"}, r"/2024/")
    assert list(found) == ["https://www.news.example/2024/03/05/quay/"]


def test_undeclared_arabic_code_page_is_recognised() -> None:
    text = " ".join(["افتتحت السلطات المحلية محطة جديدة لتحلية مياه البحر في المدينة"] * 8)
    data = f"<html><body><p>{text}</p></body></html>".encode("cp1256")
    assert decoding.decode(data) == data.decode("cp1256")


def test_windows_1252_bytes_labelled_latin1_keep_their_quotes() -> None:
    data = "<p>“Quoted” – it’s</p>".encode("cp1252")
    assert decoding.decode(data, "ISO-8859-1") == "<p>“Quoted” – it’s</p>"


# --- boilerplate vocabulary ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Related stories",
        "Most read:",
        "SHARE THIS ARTICLE",
        "Comments (12)",
        "Noticias relacionadas",
        "Lo más leído",
        "أخبار ذات صلة",
        "الأكثر قراءة",
        "التعليقات (3)",
        "اخبار مرتبط",
        "پربازدیدترین",
        "Print | Send to a friend",
        "Advertisement",
        "Weitere Informationen zum Thema",
        "Das könnte Sie auch interessieren:",
        "Kommentare (4)",
        "ANZEIGE",
        "- Anzeige -",
        "— Related stories —",
        "Entdecke weitere Homestorys",
        "Discover more recipes",
        "Mehr zu Klima und Konsum",
        "More from Science:",
        "Zum Weiterlesen",
        "Further reading",
        "Kommende Events",
        "Videos zum Thema",
    ],
)
def test_labels_that_announce_boilerplate(text: str) -> None:
    assert boilerplate.is_label(text)


@pytest.mark.parametrize(
    "text",
    [
        "Related to the budget, the council said nothing.",
        "Comments made by the minister on Monday were criticised.",
        "The share of the vote rose to 15 percent.",
        "Print media lost readers this year.",
        "Teilen wollte der Bürgermeister die Kosten nicht.",
        "Explore more of the city's parks on foot this spring.",
        "More on the budget will follow in the spring, the mayor said.",
    ],
)
def test_sentences_that_merely_use_the_words_are_content(text: str) -> None:
    assert not boilerplate.is_label(text)
    assert not boilerplate.is_lead(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anzeige", True),
        ("- ADVERTISEMENT -", True),
        ("Publicité", True),
        ("Werbung:", True),
        ("广告", True),
        ("Ad hoc", False),
        ("Sponsored by the harbour authority", False),
        ("Anzeigen", False),
        ("The ad ran for a week.", False),
    ],
)
def test_ad_labels(text: str, expected: bool) -> None:
    assert boilerplate.is_ad_label(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Oct 18, 2019·8 min read", True),
        ("Estimated reading time: 6 minutes", True),
        ("Lesezeit von 4 Minuten", True),
        ("Tiempo de lectura: 3 minutos", True),
        ("زمان مطالعه: ۵ دقیقه", True),
        ("It took the council 5 minutes to read the report.", False),
        ("The ferry crossing takes 45 minutes.", False),
        ("Reading time is family time, the librarian said at the opening on Monday 4 May.", False),
    ],
)
def test_reading_times(text: str, expected: bool) -> None:
    assert boilerplate.is_reading_time(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Read more: Harbour wall contract goes to a local firm", True),
        ("Lea también: La ciudad inaugura una nueva línea de tranvía", True),
        ("اقرأ أيضاً: افتتاح محطة جديدة لتحلية مياه البحر", True),
        ("بیشتر بخوانید: خط جدید مترو", True),
        ("Lesen Sie auch: Die Hafenmauer wird bis zum Herbst erneuert", True),
        ("Read more: " + "word " * 40, False),  # too long to be a pointer
        ("Officials said: the work starts in May", False),
    ],
)
def test_read_more_pointers(text: str, expected: bool) -> None:
    assert boilerplate.is_lead(text) is expected


@pytest.mark.parametrize(
    ("text", "author", "expected"),
    [
        ("By Helen Ashcroft", "Helen Ashcroft", True),
        ("Por María Fernanda Quispe", "María Fernanda Quispe", True),
        ("Helen Ashcroft", "Helen Ashcroft", True),
        ("By the numbers", "Helen Ashcroft", False),
        ("Helen Ashcroft said the wall would be finished by autumn.", "Helen Ashcroft", False),
    ],
)
def test_bylines(text: str, author: str, expected: bool) -> None:
    assert boilerplate.is_byline(text, author) is expected


@pytest.mark.parametrize(
    ("extra", "gone"),
    [
        ('<div class="share-buttons"><a href="/s">Facebook</a></div>', "Facebook"),
        ('<div class="jp-relatedposts"><p>Other story about walls</p></div>', "Other story"),
        ('<div data-testid="newsletter-signup"><p>The Morning: every day</p></div>', "Morning"),
        ('<div id="comments" class="comments-area"><p>Great article, thanks!</p></div>', "Great"),
        (
            '<div><h3>Related stories</h3><ul><li><a href="/a">Wall falls</a></li></ul></div>',
            "Wall falls",
        ),
        (
            "<div><h3>Das könnte Sie auch interessieren</h3><p>Die Stadt baut eine neue Brücke "
            "über den Fluss, und die Arbeiten beginnen im Mai.</p></div>",
            "Brücke",
        ),
        (
            "<p>Press TV’s website can also be accessed at the following alternate addresses:"
            "</p><p>www.presstv.co.uk</p>",
            "presstv",
        ),
        ('<p><strong>Read more:</strong> <a href="/x">Council budget approved</a></p>', "budget"),
        ('<div class="news-date">2024-03-04 08:15</div>', "2024"),
        ('<p><a href="/w">Mar 4, 2024</a>·8 min read</p>', "min read"),
        ("<p>Lesezeit: 2 Minuten</p>", "Lesezeit"),
        ("<div>Temps de lecture : 4 min</div>", "lecture"),
        ("<p>By Helen Ashcroft</p>", "Ashcroft"),
        ("<p>© 2024 Marlow Bay Times</p>", "Marlow"),
        ('<div style="display: none">hidden tracking text</div>', "tracking"),
        ('<input type="hidden" name="csrf" value="tok123">', "tok123"),
    ],
)
def test_boilerplate_blocks_are_not_body(extra: str, gone: str) -> None:
    head = '<meta name="author" content="Helen Ashcroft">'
    first, *rest = (f"<p>{p}</p>" for p in PARAS)
    data = page(
        f"<main><article><h1>Harbour wall to be rebuilt</h1>{first}{extra}{''.join(rest)}"
        "</article></main>",
        head=head,
    )
    text = body_of(data)
    assert gone not in text
    assert all(p in text for p in PARAS)


def test_a_misleading_class_on_the_body_wrapper_keeps_the_article() -> None:
    paras = "".join(f"<p>{p}</p>" for p in PARAS * 2)
    data = page(f'<h1>Wall</h1><div class="article-body js-ad-slot">{paras}</div>')
    assert body_of(data).count(PARAS[0]) == 2


@pytest.mark.parametrize("box", ["next-post", "nav-previous", "nextstory", "prev_article"])
def test_the_next_and_previous_story_boxes_are_not_published(box: str) -> None:
    # boingboing's "nextstory" box of teasers after a one-paragraph post.
    teaser = "The ferry company said its new timetable would add two crossings on weekdays."
    extra = f'<div class="{box}"><h2><a href="/ferry">Ferry timetable</a></h2><p>{teaser}</p></div>'
    body = body_of(article(extra))
    assert PARAS[2] in body
    assert teaser not in body


@pytest.mark.parametrize(
    ("block", "published"),
    [
        (
            "Warning: Creating default object from empty value in "
            "/www/htdocs/w0094d70/wp-includes/classes.php on line 407",
            False,
        ),
        (
            "Strict Standards: Non-static method nggGallery::i18n() should not be called "
            "statically in /www/htdocs/wp-content/plugins/nggfunctions.php on line 736",
            False,
        ),
        ("Warning: the river is expected to rise above the flood line 5 metres high.", True),
    ],
)
def test_a_php_error_the_server_printed_is_not_published(block: str, published: bool) -> None:
    # einfachspanien.de and a WordPress blog with a gallery plugin print PHP's warnings into
    # their pages, between the article's paragraphs.
    body = body_of(article(f"<p>{block}</p>" + "".join(f"<p>{p} Again.</p>" for p in PARAS)))
    assert PARAS[0] in body
    assert (block in body) is published


def test_layout_tables_become_blocks_and_data_tables_stay() -> None:
    root = lxml.html.document_fromstring(
        "<table><tr><td><div><p>" + "text " * 80 + "</p></div></td><td>menu</td></tr></table>"
        "<table><tr><th>Party</th><th>Seats</th></tr><tr><td>Greens</td><td>11</td></tr></table>"
    )
    clean.unwrap_layout_tables(root)
    tables = list(root.iter("table"))
    assert len(tables) == 1
    assert [c.text for c in tables[0].iter("th", "td")] == ["Party", "Seats", "Greens", "11"]


def test_a_data_table_with_long_cells_stays_a_table_and_keeps_every_cell() -> None:
    # A list article (wikipedia-4 in readability's test pages): titles, years and a long
    # description per row. Taken for layout, it lost its titles and years, and the text
    # around its links.
    plot = "A woman who shot her husband on <a href='/wiki/NYE'>New Year's Eve</a> in 1946 " + (
        "wishes she could live the year all over again. " * 8
    )
    rows = "".join(
        f"<tr><td><i><a href='/f{n}'>Film {n}</a></i></td><td>{1947 + n}</td><td>{plot}</td></tr>"
        for n in range(4)
    )
    html = "<table class='wikitable'><tr><th>Title</th><th>Year</th><th>Description</th></tr>"
    root = lxml.html.document_fromstring(f"<div>{html}{rows}</table></div>")
    clean.unwrap_layout_tables(root)
    table = next(root.iter("table"), None)
    assert table is not None, "the data table was unwrapped as layout"
    assert [page_tree.text_of(c) for c in table.iter("td")][:3] == [
        "Film 0",
        "1947",
        page_tree.text_of(lxml.html.fragment_fromstring(plot, create_parent="td")),
    ]
    assert "on New Year's Eve in 1946" in page_tree.text_of(table)


def test_a_grid_of_short_cells_wrapped_in_divs_stays_a_table() -> None:
    # Figures pasted from a word processor (readability's links-in-tables): no header cell,
    # every cell a div; a layout table holds the page in one long cell instead.
    cell = "<td><div dir='ltr'><span>{}</span></div></td>"
    rows = "".join(
        "<tr>" + "".join(cell.format(v) for v in row) + "</tr>"
        for row in (("Application", "Size"), ("Farm Heroes", "71.1 MB"), ("Gmail", "16 MB"))
    )
    root = lxml.html.document_fromstring(f"<div><table>{rows}</table></div>")
    clean.unwrap_layout_tables(root)
    table = next(root.iter("table"), None)
    assert table is not None, "the figures were unwrapped as layout"
    assert [page_tree.text_of(c) for c in table.iter("td")][2:4] == ["Farm Heroes", "71.1 MB"]


def test_line_broken_text_becomes_one_paragraph_per_line() -> None:
    root = lxml.html.fragment_fromstring(
        "<div>First line <a href='/x'>link</a><br><br>Second line<br>Third</div>",
        create_parent="div",
    )
    tidying.split_line_breaks(root)
    assert [page_tree.text_of(p) for p in root.iter("p")] == [
        "First line link",
        "Second line",
        "Third",
    ]


def test_a_comment_between_line_breaks_is_dropped_not_an_error() -> None:
    # trafilatura's own body (the safety net) can carry comments: they once raised ValueError.
    root = lxml.html.fragment_fromstring(
        "<div>First line<br><!-- ad slot -->Second line<br>Third<!-- end --></div>",
        create_parent="div",
    )
    tidying.split_line_breaks(root)
    assert [page_tree.text_of(p) for p in root.iter("p")] == ["First line", "Second line", "Third"]


# --- per-source rules ----------------------------------------------------------------------


def test_body_selector_overrides_the_heuristics() -> None:
    data = page(
        '<h1>Wall</h1><div class="x9"><div class="k2">'
        + "".join(f"<p>{p}</p>" for p in PARAS)
        + "</div><p>This editor’s note is a paragraph of ordinary prose about the paper’s own "
        "history, which the heuristics take for article text.</p></div>"
    )
    rules = source_rules.ArticleRules(selectors={"body": "div.k2"})
    assert body_of(data, rules=rules).split("\n\n") == PARAS
    assert "editor’s note" in body_of(data)


def test_xpath_selectors_and_attribute_values_for_dates() -> None:
    data = page(
        '<h1>Wall</h1><span class="when" content="2024-03-04T08:15:00+00:00">today</span>'
        '<p class="writer">Helen Ashcroft</p>' + "".join(f"<p>{p}</p>" for p in PARAS)
    )
    rules = source_rules.ArticleRules(
        selectors={"published": "span.when", "author": "//p[@class='writer']"}
    )
    found = extraction.extract_article(data, URL, rules=rules)
    assert found.published == datetime(2024, 3, 4, 8, 15, tzinfo=UTC)
    assert found.author == "Helen Ashcroft"


def test_strip_selectors_and_text_patterns() -> None:
    extra = (
        '<p class="promo-line">Listen to our podcast every Friday.</p>'
        "<p>Reporting by Staff; editing by Desk.</p>"
    )
    rules = source_rules.ArticleRules(
        strip=(".promo-line",), strip_text=(re.compile(r"^Reporting by .*editing by"),)
    )
    text = body_of(article(extra), rules=rules)
    assert "podcast" not in text and "Reporting by" not in text
    assert "Reporting by" in body_of(article(extra))  # nothing heuristic removes it


# --- metadata ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "placeholder"),
    [
        ("data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=", True),
        ("https://s0.wp.com/i/blank.jpg", True),
        ("https://news.example/wp-content/plugins/lazy-load/images/1x1.trans.gif", True),
        ("https://news.example/assets/images/lazy_placeholder.gif", True),
        ("https://news.example/favicon-96.ico", True),
        ("https://cdn.news.example/Img/apple-touch-icon@2.png?v=1", True),
        ("https://secure.gravatar.com/blavatar/67b14216?s=200", True),
        ("https://news.example/images/no-img_460x320_logo.jpg", True),
        # Real pictures whose names hold such words inside others.
        ("https://news.example/2017/11/16/PICT000146853794_trans_NvBQzQNjv4Bq.jpeg", False),
        ("https://news.example/2016/01/neujahr-2016_by_creantion_pixelio-de.jpg", False),
        ("https://news.example/uploads/2019/06/Blanket-Weaving-Workshop.jpg", False),
        ("https://news.example/quay.jpg", False),
    ],
)
def test_placeholder_images(url: str, placeholder: bool) -> None:
    assert lead_image.is_placeholder_image(url) is placeholder


def test_metadata_from_json_ld_when_meta_tags_are_missing() -> None:
    ld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "WebSite", "name": "x"}, {"@type": "NewsArticle", "headline": "Wall",'
        ' "datePublished": "2024-03-04T08:15:00Z", "dateModified": "2024-03-05T09:00:00Z",'
        ' "author": [{"@type": "Person", "name": "Helen Ashcroft"}],'
        ' "articleSection": "Local"}]}</script>'
    )
    body = "<main><article><h1>Wall</h1>" + "".join(f"<p>{p}</p>" for p in PARAS)
    found = extraction.extract_article(page(body + "</article></main>", head=ld), URL)
    assert found.published == datetime(2024, 3, 4, 8, 15, tzinfo=UTC)
    assert found.updated == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    assert found.author == "Helen Ashcroft"
    assert found.section_trail == ("Local",)


@pytest.mark.parametrize(
    ("title", "site", "published"),
    [
        ("Harbour wall to be rebuilt | Harbour News", "Harbour News", "Harbour wall to be rebuilt"),
        ("Harbour News – Harbour wall to be rebuilt", "Harbour News", "Harbour wall to be rebuilt"),
        (
            "Harbour wall to be rebuilt | harbournews",
            "harbournews.de",
            "Harbour wall to be rebuilt",
        ),
        # The site's name shortened to its first words, two or more, after the headline.
        (
            "Harbour wall to be rebuilt - Harbour News",
            "Harbour News Online",
            "Harbour wall to be rebuilt",
        ),
        # One word of it may be the headline's own.
        (
            "Storm reaches the coast - Portland",
            "Portland Press Herald",
            "Storm reaches the coast - Portland",
        ),
        # A part that only begins with the site's name is the title's own.
        (
            "Medium rare: the harbour grill | Food",
            "Medium",
            "Medium rare: the harbour grill | Food",
        ),
        (
            "Harbour wall to be rebuilt | Harbour News",
            None,
            "Harbour wall to be rebuilt | Harbour News",
        ),
    ],
)
def test_a_title_without_a_headline_loses_the_sites_name(
    title: str, site: str | None, published: str
) -> None:
    head = f'<meta property="og:title" content="{title}">'
    if site:
        head += f'<meta property="og:site_name" content="{site}">'
    body = "<main><article>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</article></main>"
    assert extraction.extract_article(page(body, head=head), URL).title == published


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("Von Georg Kasch", "Georg Kasch"),
        ("By Jane Doe and Ann Lee", "Jane Doe and Ann Lee"),
        ("Autor: Die Redaktion", "Die Redaktion"),
        ("Von Berlin nach Hamburg", None),
        ("By the numbers", None),
    ],
)
def test_a_byline_names_the_author_the_metadata_does_not(byline: str, author: str | None) -> None:
    found = extraction.extract_article(article(f"<p>{byline}</p>", where="before"), URL)
    assert found.author == author
    paragraphs = found.body_text.split("\n\n")
    assert paragraphs == (PARAS if author else [byline, *PARAS])


def test_the_authors_name_inside_a_sentence_stays() -> None:
    # A body an operator's selector takes keeps the page's inline markup.
    container = lxml.html.fragment_fromstring(
        "<div><p>Der Film <span>von Klaus Stanjek</span> läuft am Montag im Hafenkino.</p>"
        "<p><span>Von Klaus Stanjek</span></p></div>"
    )
    tidying.tidy_body(container, author="Klaus Stanjek")
    assert (
        page_tree.text_of(container) == "Der Film von Klaus Stanjek läuft am Montag im Hafenkino."
    )


def test_htmldate_dates_a_page_without_date_metadata() -> None:
    data = page(
        "<main><article><h1>Wall</h1><p class='x'>Published 4 March 2024</p>"
        + "".join(f"<p>{p}</p>" for p in PARAS)
        + "</article></main>"
    )
    found = extraction.extract_article(data, "https://www.news.example/2024/03/04/wall/")
    assert found.published == datetime(2024, 3, 4, tzinfo=UTC)


def test_feed_entry_fills_what_the_page_does_not_say() -> None:
    entry = FeedEntry(
        link=URL,
        title="Wall",
        published=datetime(2024, 3, 4, 8, 15, tzinfo=UTC),
        author="Helen Ashcroft",
    )
    found = extraction.extract_article(article(), "https://www.news.example/story", entry=entry)
    assert found.published == entry.published and found.author == "Helen Ashcroft"


def test_canonical_link_to_the_home_page_is_ignored() -> None:
    data = page(
        "<main><article><h1>Wall</h1>"
        + "".join(f"<p>{p}</p>" for p in PARAS)
        + "</article></main>",
        head='<link rel="canonical" href="https://www.news.example/">',
    )
    assert extraction.extract_article(data, URL).canonical_link is None


def test_entry_with_only_a_summary_is_not_full_text() -> None:
    summary = FeedEntry(link=URL, title="Wall", summary=PARAS[0], content_html=f"<p>{PARAS[0]}</p>")
    full = FeedEntry(
        link=URL,
        title="Wall",
        summary=PARAS[0],
        content_html="".join(f"<p>{p}</p>" for p in PARAS * 2),
    )
    assert not extraction.carries_full_text(summary)
    assert extraction.carries_full_text(full)
    page_ = extraction.page_from_entry(full)
    assert page_.title == "Wall" and page_.body_text.split("\n\n") == PARAS * 2


def test_entry_without_text_is_refused() -> None:
    with pytest.raises(ExtractError):
        extraction.page_from_entry(FeedEntry(link=URL, title="Wall"))


def test_marked_words_inside_a_paragraph_are_text_unless_hidden() -> None:
    body = (
        "<main><article><h1>Wall</h1>"
        '<p>The vote on <span class="date">Monday</span> was close, said '
        '<a class="author-link" href="/x">the leader</a>.'
        '<span class="sr-only" style="display:none">Opens in a new window</span></p>'
        + "".join(f"<p>{p}</p>" for p in PARAS)
        + "</article></main>"
    )
    text = body_of(page(body))
    assert "The vote on Monday was close, said the leader." in text
    assert "new window" not in text


@pytest.mark.parametrize(
    ("sentence", "published"),
    [
        (
            "Die Technik macht es leicht, Gedanken mit der ganzen Welt zu<span>&nbsp;</span>"
            "<strong>teilen</strong>. Aber auch dann gilt es<span>&nbsp;</span><strong>die "
            "Regeln</strong> zu beachten.",
            "Die Technik macht es leicht, Gedanken mit der ganzen Welt zu teilen. Aber auch "
            "dann gilt es die Regeln zu beachten.",
        ),
        (
            "The council asked readers to <b>share</b> their memories of the old harbour wall.",
            "The council asked readers to share their memories of the old harbour wall.",
        ),
    ],
)
def test_a_label_word_a_sentence_runs_into_is_kept(sentence: str, published: str) -> None:
    # "teilen" (share) and "share" are labels of share rows; set in bold inside a sentence
    # they are words of it.
    text = body_of(article(f"<p>{sentence}</p>"))
    assert published in text.split("\n\n")


@pytest.mark.parametrize(
    "control",
    [
        '<p><a href="/2024/03/quay-plans">Read more</a></p>',
        '<p><a href="/2024/03/quay-plans">Mehr erfahren</a></p>',
        "<p>Sieh dir diesen Beitrag auf Instagram an</p>",
        '<p><a href="/img/quay-large.jpg">Zum Vergrößern bitte anklicken</a></p>',
        '<div><a href="/2024/03/quay-plans">Weiterlesen</a></div>',
        # dvg.de and handball.ch: a way back, a link of its own after the last paragraph.
        '<a href="/presse"><i class="fa fa-angle-left"></i>zurück zur Listenansicht</a>',
        '<a href="#top">Zum Seitenanfang »</a>',
        '<a href="#">Back to top</a>',
        "<p>Zum Vergrößern auf das Bild klicken</p>",
    ],
)
def test_the_words_of_a_control_are_not_published(control: str) -> None:
    # A link to more of a teaser, a picture's zoom, the text an Instagram embed leaves.
    paras = [f"<p>{p}</p>" for p in PARAS]
    inner = paras[0] + control + "".join(paras[1:])
    body = page(f"<main><article><h1>Harbour wall to be rebuilt</h1>{inner}</article></main>")
    assert body_of(body).split("\n\n") == PARAS


@pytest.mark.parametrize(
    ("wrapper", "words"), [("div", "Mehr erfahren"), ("p", "Read more"), ("li", "Weiterlesen")]
)
def test_a_link_to_more_goes_with_the_block_that_holds_only_it(wrapper: str, words: str) -> None:
    # iass-potsdam.de: `<div class="column-teaser__main"><a ...>Mehr erfahren</a></div>`
    # under each teaser; the link is not a block the rules visit, its block is.
    container = lxml.html.fragment_fromstring(
        f"<div><p>{PARAS[0]}</p><{wrapper}><a href='/more'>{words}</a></{wrapper}>"
        f"<p>{PARAS[1]}</p></div>"
    )
    tidying.tidy_body(container)
    assert page_tree.text_of(container) == f"{PARAS[0]}{PARAS[1]}"


@pytest.mark.parametrize(
    ("line", "published"),
    [
        ("Foto: M. Rädel", False),
        ("(Bild: Dieter Stork)", False),
        ("Photo credit: Catwalkpictures", False),
        ("Crédits photos : Bestimage", False),
        ("Bildquelle:", False),
        # The source of the news, and a line that says what a picture shows, stay.
        ("Quelle: dpa-AFX", True),
        ("Photo: a crane lifts the first container off the ship at dawn near the port", True),
    ],
)
def test_a_line_crediting_a_photo_the_body_does_not_show_is_not_published(
    line: str, published: bool
) -> None:
    paragraphs = body_of(article(f"<p>{line}</p>")).split("\n\n")
    assert paragraphs == ([*PARAS, line] if published else PARAS)


@pytest.mark.parametrize(
    "dateline",
    [
        "April 21, 2022",
        "Posted: Thursday, April 21, 2022. 10:11 pm CST.",
        "Sonntag, 06. Februar 2022",
        "Veröffentlicht am 06.12.2022",
        "Stand: 28.04.2020 18:00 Uhr",
        "mercredi 11 septembre 2019",
        "Publicado: Jueves, 21 Abril 2022 04:45",
    ],
)
def test_a_dateline_is_not_published(dateline: str) -> None:
    # The dates are the item's own fields; a line of the body that is only one goes.
    assert body_of(article(f"<p>{dateline}</p>", where="before")).split("\n\n") == PARAS


def test_a_date_in_a_list_or_table_or_a_month_alone_stays() -> None:
    extra = (
        "<h2>Sources</h2><ol><li>Harbour survey, <i>Port Authority</i>. Retrieved "
        "<span>2018-04-16</span>.</li></ol>"
        "<table><tr><td>Opened</td><td><span>25 November 1947</span></td></tr></table>"
        "<p>November 2021</p>"
    )
    text = body_of(article(extra))
    assert "Retrieved 2018-04-16." in text
    assert "25 November 1947" in text
    assert "November 2021" in text.split("\n\n")


def test_a_label_standing_alone_in_a_paragraph_still_goes() -> None:
    extra = "<p><strong>Kommentare</strong></p><p>5 <span>Kommentare</span></p>"
    text = body_of(article(extra))
    assert "Kommentare" not in text


@pytest.mark.parametrize(
    ("markup", "published"),
    [
        # React writes `<!-- -->` between the pieces of a text; the space after it is the
        # reader's word space.
        (
            'Por<!-- --> <span itemprop="name">Steven Lee Myers</span>, with reporting from '
            "the harbour office.",
            "Por Steven Lee Myers, with reporting from the harbour office.",
        ),
        (
            '<em>Copies of the survey are at the <a href="/x">town hall</a> desk.</em>'
            "<!-- AUTHOR -->\n\n<span>(grh)</span>",
            "Copies of the survey are at the town hall desk. (grh)",
        ),
    ],
)
def test_the_space_after_a_dropped_comment_parts_two_words(markup: str, published: str) -> None:
    text = body_of(article(f"<p>{markup}</p>"))
    assert published in text.split("\n\n")


def test_a_comment_opening_a_block_adds_no_text_to_it() -> None:
    root = lxml.html.fromstring(
        '<div><div class="box"><!-- image -->\n\t<img src="/a.jpg"></div>Words.</div>'
    )
    box = root.find("div")
    page_tree.drop_element(box[0])
    assert box.text is None
    word = lxml.html.fromstring("<p>one<!-- x --> two</p>")
    page_tree.drop_element(word[0])
    assert word.text == "one two"
    spaced = lxml.html.fromstring("<p>one <!-- x --> <b>two</b></p>")
    page_tree.drop_element(spaced[0])
    assert spaced.text == "one "
