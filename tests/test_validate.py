"""Pages a broken, blocked or seized mirror serves instead of content are refused."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from syndicator.core.errors import RejectedPage
from syndicator.core.models import FeedEntry
from syndicator.extract import text_rules
from syndicator.extract.extraction import checked_tree
from syndicator.extract.index_pages import index_links
from syndicator.extract.validate import READ_CHUNK, check, feed_notice
from syndicator.mirrors.announced import announced_origins

from .sites import SEIZED_PAGE

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_ARTICLE = next((SEEDS / "www.presstv.ir" / "Detail").rglob("index.html"))


def page(title: str, body: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{body}</body></html>"
    ).encode()


LONG = "<p>" + " ".join(["The council met on Monday to discuss the budget."] * 80) + "</p>"

REFUSED = [
    ("seized", SEIZED_PAGE.encode(), "article"),
    ("seized", SEIZED_PAGE.encode(), "feed"),
    ("seized", SEIZED_PAGE.encode(), "page"),
    (
        "blocked",
        page("Blocked", "<p>Access to this website has been blocked by court order.</p>"),
        "article",
    ),
    ("blocked", page("451", "<h1>Unavailable For Legal Reasons</h1>"), "page"),
    # National block pages, which a mirror blocked where the service runs answers with 200:
    # each was named for what it was taken as (`not-a-feed`, `no-links`, `no-article`).
    (
        "blocked",
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'
        b'<title>M1-6\n</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&'
        b'policy=MainPolicy " style="width: 100%; height: 100%" scrolling="no" frameborder="0">'
        b"</iframe></body></html>",
        "feed",
    ),
    (
        "blocked",
        page(
            "Доступ ограничен",
            "<h1>Доступ к информационному ресурсу ограничен на основании Федерального закона от "
            "27 июля 2006 г. № 149-ФЗ</h1>",
        ),
        "page",
    ),
    (
        "blocked",
        page(
            "Erişim Engellendi",
            "<p>Bu internet sitesi hakkında Bilgi Teknolojileri ve İletişim Kurumu tarafından "
            "verilen karar ile erişim engellenmiştir.</p>",
        ),
        "article",
    ),
    (
        "captcha",
        page("Attention Required! | Cloudflare", "<p>Please complete the security check.</p>"),
        "article",
    ),
    (
        "captcha",
        page("Just a moment", "<div class='g-recaptcha' data-sitekey='x'></div><p>Verify</p>"),
        "page",
    ),
    ("parked", page("example.org", "<p>This domain is for sale! Buy this domain.</p>"), "article"),
    # A parked domain's page of ad links, drawn by AdSense for Domains, with no word of sale:
    # named `not-a-feed` or `no-links`, never `parked`.
    (
        "parked",
        page(
            "example-news.test",
            '<script src="https://www.google.com/adsense/domains/caf.js"></script>'
            "<h1>example-news.test</h1><p>Related Links</p><ul>"
            '<li><a href="/?q=Breaking+News">Breaking News</a></li>'
            '<li><a href="/?q=World+News">World News</a></li></ul>',
        ),
        "feed",
    ),
    ("login-wall", page("Members", "<p>Please log in to continue reading.</p>"), "article"),
    ("truncated", b"<!DOCTYPE html><html><head><title>A story</title></head><body><p>Half", "page"),
    # Cut after a paragraph, where a connection closed mid-body and nothing told the end: its
    # first paragraphs were stored as the whole article.
    (
        "truncated",
        b"<!DOCTYPE html><html><head><title>A story</title></head><body><main><article>"
        b"<h1>A story</h1><p>The first paragraph.</p><p>The second.</p>",
        "article",
    ),
    ("empty", b"   ", "article"),
    # A feed entry that links to a feed or a sitemap: read as a page, the channel's title
    # became an article.
    (
        "not-html",
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title></channel></rss>",
        "article",
    ),
    ("not-html", b"<feed xmlns='http://www.w3.org/2005/Atom'><title>x</title></feed>", "page"),
    (
        "not-html",
        b"<?xml version='1.0'?>\n<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        b"<url><loc>https://m.test/a</loc></url></urlset>",
        "article",
    ),
    # A link to a JSON Feed, an API's answer, a notice in plain text: read as a page, each
    # was published as an article titled with its first words.
    (
        "not-html",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"content_html": "<p>x</p>"}]}',
        "article",
    ),
    ("not-html", b'  [{"error": "not found"}]', "page"),
    (
        "no-markup",
        b"This site is temporarily unavailable. Please try again later. " * 20,
        "article",
    ),
    ("no-markup", "Сайт заблокирован по решению суда.".encode("utf-16"), "page"),
    # A squatter on a lapsed domain: "moved to" a host of its own, at every URL.
    (
        "moved",
        page(
            "Example News",
            "<h1>Example News</h1><p>Our website has moved to "
            "<a href='http://new-home.example/'>new-home.example</a>. Please update your "
            "bookmarks.</p>",
        ),
        "article",
    ),
    ("moved", page("Moved", "<p>We've moved to new-home.example</p>"), "page"),
]


@pytest.mark.parametrize(("kind", "body", "expect"), REFUSED)
def test_notice_pages_are_refused_with_their_kind(kind: str, body: bytes, expect: str) -> None:
    with pytest.raises(RejectedPage) as info:
        check(body, "http://m.test/x", expect)
    assert info.value.kind == kind
    assert "http://m.test/x" in str(info.value)


ACCEPTED = [
    ("the sample article", SEED_ARTICLE.read_bytes(), "article"),
    (
        "an article that reports on a seizure",
        page(
            "US seizes news websites",
            "<h1>US seizes news websites</h1><p>Visitors saw a notice: 'This website has been "
            "seized' with two seals.</p>" + LONG,
        ),
        "article",
    ),
    (
        "a long article whose comment form has a captcha",
        page("Budget talks", "<h1>Budget talks</h1>" + LONG + "<div class='g-recaptcha'></div>"),
        "article",
    ),
    (
        "a brief reporting that a ministry's website moved",
        page(
            "Ministry site moves",
            "<h1>Ministry site moves</h1><p>The foreign ministry's website has moved to a new "
            "address, officials said on Monday.</p>",
        ),
        "article",
    ),
    (
        "a brief quoting an official who says they have moved to act",
        page(
            "Border closed",
            '<h1>Border closed</h1><p>"We have moved to secure the border. The site has been '
            "moved to the north,\" the minister said. More at the ministry's site.</p>",
        ),
        "article",
    ),
    ("an RSS feed", b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', "feed"),
    # An item that carries a whole HTML document in CDATA: the feed was read as an HTML
    # page, its short text as a notice's, and refused as a captcha because an item said one.
    (
        "a feed whose first item holds an HTML document",
        b'<?xml version="1.0"?>\n<!-- generator -->\n<rss version="2.0" xmlns:content='
        b'"http://purl.org/rss/1.0/modules/content/"><channel><title>Tech</title><item>'
        b"<title>A new captcha for the app</title><link>https://m.test/a</link>"
        b"<content:encoded><![CDATA[<html><body><p>Please log in to continue. The captcha "
        b"changed.</p></body></html>]]></content:encoded></item></channel></rss>",
        "feed",
    ),
    (
        "a page that leaves out </body></html> after its article",
        b"<!DOCTYPE html><html><head><title>Budget talks</title></head><body><main><article>"
        b"<h1>Budget talks</h1>" + LONG.encode() + b"</article></main><script>track()</script>",
        "article",
    ),
    (
        "an XHTML article with an XML declaration",
        b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0'
        b' Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Budget talks</title></head>'
        b"<body><h1>Budget talks</h1>" + LONG.encode() + b"</body></html>",
        "article",
    ),
]


# Bytes that are no page: the body a mirror serves compressed twice, an image or a PDF at an
# article's URL, bytes no magic number names. Read as a page, each was published as an
# article whose title and text were mojibake.
NOISE = b"".join(hashlib.sha512(bytes([n])).digest() for n in range(200))
BINARY = [
    ("gzip data", gzip.compress(SEED_ARTICLE.read_bytes(), mtime=0), "article"),
    ("gzip data", gzip.compress(SEED_ARTICLE.read_bytes(), mtime=0), "page"),
    ("a PDF document", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n" + NOISE, "article"),
    ("a PNG image", b"\x89PNG\r\n\x1a\n" + NOISE, "article"),
    ("a JPEG image", b"\xff\xd8\xff\xe0" + NOISE, "article"),
    ("binary data", NOISE, "article"),
    ("binary data", b"<html><body>" + NOISE, "page"),
]


@pytest.mark.parametrize(
    ("what", "body", "expect"), BINARY, ids=[f"{what}-{expect}" for what, _, expect in BINARY]
)
def test_bytes_that_are_no_page_are_refused_as_binary(what: str, body: bytes, expect: str) -> None:
    with pytest.raises(RejectedPage) as info:
        check(body, "http://m.test/x", expect)
    assert info.value.kind == "binary"
    assert f"{what} where an HTML {expect} was expected" in str(info.value)


TEXT = [
    (
        "UTF-16 with its byte order mark",
        page("Libya", "<p>ليبيا</p>" + LONG).decode().encode("utf-16"),
    ),
    (
        "UTF-16 without a byte order mark (every other byte NUL)",
        page("Libya", LONG).decode().encode("utf-16-le"),
    ),
    ("a few stray control characters", page("Libya", "<p>a\x08b\x1bc\x0bd</p>" + LONG)),
    (
        "Shift-JIS",
        page("日本", "<p>" + "日本語の記事です。" * 200 + "</p>").decode().encode("shift_jis"),
    ),
]

# Real pages that hold no `<html>` tag in their first bytes (trafilatura's evaluation set has
# four): what comes first is a PHP warning, a script or a style, and the page is a page.
MARKUP_FIRST = [
    b"<br />\n<b>Deprecated</b>: Assigning the return value of new by reference<br />"
    + LONG.encode(),
    b"<script>var ad = 1;</script>\n" + LONG.encode(),
    b"<style>.a { color: red }</style>" + LONG.encode(),
    b"{{ a template's braces }} " + LONG.encode(),  # starts like JSON, is not JSON
]


@pytest.mark.parametrize("body", MARKUP_FIRST, ids=["php warning", "script", "style", "braces"])
def test_a_page_without_its_html_tag_is_still_a_page(body: bytes) -> None:
    check(body, "http://m.test/x", "article")


@pytest.mark.parametrize(("what", "body"), TEXT, ids=[what for what, _ in TEXT])
def test_text_in_any_charset_is_not_binary(what: str, body: bytes) -> None:
    check(body, "http://m.test/x", "article")


@pytest.mark.parametrize(("what", "body", "expect"), ACCEPTED)
def test_real_content_passes(what: str, body: bytes, expect: str) -> None:
    check(body, "http://m.test/x", expect)


def test_reject_if_markers_are_matched_case_insensitively() -> None:
    body = page("A story", "<img src='/img/Banner-Maintenance.png'>" + LONG)
    check(body, "http://m.test/x", "article", reject_if=["under construction"])
    with pytest.raises(RejectedPage) as info:
        check(body, "http://m.test/x", "article", reject_if=["banner-maintenance"])
    assert info.value.kind == "reject-if"


def test_legacy_encoded_notice_is_recognised() -> None:
    body = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'
        "<title>This website has been seized</title></head><body><p>تم حجز هذا الموقع</p>"
        "</body></html>"
    ).encode("windows-1256")
    with pytest.raises(RejectedPage):
        check(body, "http://m.test/x", "article")


def test_alternate_addresses_footer_names_hosts() -> None:
    found = announced_origins(SEED_ARTICLE.read_bytes(), "https://www.presstv.ir/Detail/x")
    assert found == ["https://www.presstv.co.uk", "https://www.presstv.tv"]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            "<p>Our website can also be accessed at the following alternate addresses: "
            "<a href='https://news.example.net/'>news.example.net</a>, news-two.example.org</p>",
            ["https://news-two.example.org", "https://news.example.net"],
        ),
        (
            "<div><p>Alternate addresses:</p><p>127.0.0.1:4100</p><p>http://m5.test:81</p></div>"
            "<p>Contact editor@example.com</p>",
            ["https://127.0.0.1:4100", "http://m5.test:81"],
        ),
        ("<p>Read more at www.other-site.example</p>", []),
    ],
)
def test_announcements_in_other_shapes(html: str, expected: list[str]) -> None:
    body = f"<html><body><article>{html}</article></body></html>".encode()
    assert sorted(announced_origins(body, "https://www.site.example/a")) == sorted(expected)


# The page is read only as far as the verdict needs (the title, the first h1, and visible
# text past a short page): a headline far down a long page is still read, and a notice in
# the headline of a long page is still a notice.
NAV_TEXT = "".join(f"<li><a href='/s{i}'>Section {i} of the site</a></li>" for i in range(3000))


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (page("News", f"<ul>{NAV_TEXT}</ul><h1>This domain has been seized</h1>{LONG}"), True),
        (page("News", f"<h1>This domain has been seized</h1>{LONG}{LONG}{LONG}"), True),
        (page("News", f"<h1>Council meets</h1>{LONG}<h1>This domain has been seized</h1>"), False),
    ],
)
def test_the_headline_decides_wherever_it_is_on_a_long_page(body: bytes, refused: bool) -> None:
    assert len(NAV_TEXT) > 3 * READ_CHUNK  # the first headline is pieces into the page
    if refused:
        with pytest.raises(RejectedPage) as caught:
            check(body, "https://news.example/a", "article")
        assert caught.value.kind == "seized"
    else:
        check(body, "https://news.example/a", "article")


def test_a_large_page_is_not_kept_in_the_decoding_cache() -> None:
    # validate.check and the extraction decode the same bytes one after the other, and the
    # second is answered from a cache; a page of megabytes (the fetch cap is 10 MB) must not
    # stay in memory with its text after its pull.
    import uuid

    from syndicator.extract import decoding

    words = f"<p>{uuid.uuid4().hex} a paragraph of the article.</p>"
    large = f"<html><body>{words * 80_000}</body></html>".encode()
    assert len(large) > decoding.DECODE_CACHE_BYTES
    decoding._decode.cache_clear()
    assert decoding.decode(large) == large.decode()
    assert decoding._decode.cache_info().currsize == 0
    small = f"<html><body>{words}</body></html>".encode()
    assert decoding.decode(small) == small.decode()
    assert decoding._decode.cache_info().currsize == 1


@pytest.mark.parametrize(
    ("title", "kind"), [("This domain has been seized", "seized"), ("News", None)]
)
def test_a_page_of_markup_without_text_is_judged_parsed_in_pieces_only_at_its_start(
    monkeypatch: pytest.MonkeyPatch, title: str, kind: str | None
) -> None:
    # A headline, then megabytes of markup holding no text (`<br>`): libxml2's parser fed in
    # pieces slowed as the page grew, and the visible text was read again from the start
    # after every piece; 3 MB took 11 s, a page at the size cap minutes.
    from lxml import etree

    from syndicator.extract import validate

    fed: list[int] = []

    class Counted(etree.HTMLPullParser):
        def feed(self, data: str | bytes) -> None:
            fed.append(len(data))
            super().feed(data)

    monkeypatch.setattr(validate.etree, "HTMLPullParser", Counted)
    body = page(title, f"<h1>{title}</h1>" + "<br>" * 200_000)
    assert len(body) > 1.5 * validate.PULL_CHARS
    if kind is None:
        check(body, "https://news.example/a", "article")
    else:
        with pytest.raises(RejectedPage) as caught:
            check(body, "https://news.example/a", "article")
        assert caught.value.kind == kind
    assert 0 < sum(fed) <= validate.PULL_CHARS


@pytest.mark.parametrize(
    "body",
    [
        # A short listing linking an article about a seizure, and one with its picture.
        page("Ports", "<ul><li><a href='/Detail/1/drugs-seized-at-port'>Port news</a></li></ul>"),
        page("Ports", "<img src='/images/cargo-seized.jpg'><p>" + "Cargo held at the port. " * 12),
        # An article long enough to say more than a picture, titled after a seizure.
        page("Drugs seized at port", "<h1>Drugs seized at port</h1>" + LONG),
        # A video page: its headline, a player and its picture named after the headline.
        page(
            "Drugs seized at port",
            "<h1>Drugs seized at port</h1><video poster='/img/drugs-seized-at-port.jpg'></video>",
        ),
        # The same without a headline element: its short caption is more than a banner says.
        page(
            "Drugs seized at port",
            "<img src='/img/drugs-seized-at-port.jpg' alt='Drugs seized at port'>"
            "<p>Customs officers at the port on Monday.</p>",
        ),
    ],
)
def test_a_seizure_named_beside_words_of_a_page_is_no_notice(body: bytes) -> None:
    check(body, "https://news.example/a", "page")


def entry(title: str, text: str = "") -> FeedEntry:
    return FeedEntry(link="http://mirror.test/x", title=title, content_html=text or None)


@pytest.mark.parametrize(
    ("entries", "kind"),
    [
        ([entry("This website has been seized")], "seized"),
        ([entry("Example News", "<p>This domain has been seized by the FBI.</p>")], "seized"),
        ([entry("Notice", "Access to this website has been blocked by court order.")], "blocked"),
        (
            [entry("This domain is for sale"), entry("Buy this domain today")],
            "parked",
        ),
        # A feed of news reporting a seizure beside other stories is news.
        ([entry("This website has been seized"), entry("Port reopens after dredging")], None),
        ([entry("Port reopens", f"{LONG}<p>The website was seized by the police.</p>")], None),
        # A report headlined with the seizure is news: its text says more than the notice.
        (
            [
                entry(
                    "Press TV's website has been seized by the US",
                    "<p>Washington took the domain in a move the channel called censorship.</p>",
                )
            ],
            None,
        ),
        ([entry("This website has been seized by the FBI, notice says", LONG)], None),
        ([], None),
    ],
)
def test_a_feed_whose_every_entry_is_a_notice_is_one(
    entries: list[FeedEntry], kind: str | None
) -> None:
    assert feed_notice(entries) == kind


# The default `article_links`: a date or a long number in the path.
DEFAULT_ARTICLES = r"/(?:19|20)\d{2}/\d{1,2}/\d{1,2}/|/\d{5,}/[^/]+"


@pytest.mark.parametrize(
    ("links", "indexes"),
    [
        # A section's page, and a month's, over the feed's other entries.
        (["/world/", "/world/2024/05/01/story", "/sport/2024/05/01/match"], {"/world/"}),
        (["/Detail/2024/03/01/123456/a", "/Detail/2024/03"], {"/Detail/2024/03"}),
        (["/world?page=2", "/world/2024/05/01/story"], {"/world?page=2"}),
        # Stories the pattern matches are kept, whatever lies under them (a gallery).
        (["/2024/05/01/story", "/2024/05/01/story/photos/1"], set()),
        # A feed whose entries the pattern matches none of: it says nothing of them.
        (["/my-post/", "/my-post/attachment/photo/", "/other-post/"], set()),
        # A page no entry lies under, a look-alike prefix, and the home page (judged apart).
        (["/about", "/world-cup", "/world/2024/05/01/story", "/"], set()),
    ],
)
def test_a_feed_entry_over_its_other_entries_is_an_index_page(
    links: list[str], indexes: set[str]
) -> None:
    # Fetched as an article, a section's or a month's index page was published as an item.
    found = index_links(
        [f"https://n.example{link}" for link in links], text_rules.rule(DEFAULT_ARTICLES, "a")
    )
    assert {link.removeprefix("https://n.example") for link in found} == indexes


# Every page above as an article, with the pages of a long headline read in pieces.
AS_ARTICLES = [
    *(body for _, body, expect in REFUSED + ACCEPTED if expect == "article"),
    *(body for _, body, _ in BINARY),
    *(body for _, body in TEXT),
    *MARKUP_FIRST,
    page("News", f"<ul>{NAV_TEXT}</ul><h1>This domain has been seized</h1>{LONG}"),
    page("News", f"<h1>Council meets</h1>{LONG}<h1>This domain has been seized</h1>"),
    page("This domain has been seized", "<h1>This domain has been seized</h1>" + "<br>" * 9_000),
]


@pytest.mark.parametrize("body", AS_ARTICLES)
def test_an_article_checked_on_the_tree_extraction_reads_gets_the_checks_verdict(
    body: bytes,
) -> None:
    # A pull checks an article page on the tree it extracts (one parse, not two): the
    # verdict, its kind and its words, must be the one `check` gives parsing on its own.
    url = "https://news.example/a"
    try:
        check(body, url, "article")
    except RejectedPage as exc:
        with pytest.raises(RejectedPage) as caught:
            checked_tree(body, url)
        assert (caught.value.kind, str(caught.value)) == (exc.kind, str(exc))
    else:
        tree = checked_tree(body, url)
        assert not isinstance(tree, RejectedPage)
