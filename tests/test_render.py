"""The three formats: parseable by feedparser, complete, and the same ids everywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest
from lxml import etree, html

from syndicator.core.models import Article
from syndicator.publish import pages, render, xmlfeeds

from .feedrules import ATOM, PROBLEMS, rss_problems

INFO = render.FeedInfo(
    section="north-africa",
    title="Syndicator: North Africa",
    description="News",
    home_url="http://feeds.example.test/",
    feed_urls={f: f"http://feeds.example.test/feeds/north-africa.{f}" for f in render.FORMATS},
    language="en",
    ttl_minutes=10,
    feed_id="tag:feeds.example.test,2026:syndicator/north-africa",
)


def article(n: int, **kw: object) -> Article:
    base = dict(
        id=n,
        guid=f"tag:www.presstv.ir,2020-06-20:presstv/{n:032x}",
        source="presstv",
        url=f"https://www.presstv.ir/Detail/2020/06/20/{n}/x",
        title=f"Title {n}",
        summary=f"Summary {n}",
        content_html=f"<p>Body {n} &amp; more</p>",
        published=datetime(2020, 6, 20, 14, n, tzinfo=UTC),
        updated=datetime(2020, 6, 21, 14, n, tzinfo=UTC),
        author="Press TV",
        image_url=f"https://www.presstv.ir/img/{n}.jpg",
        image_caption="Caption",
        language="en",
        sections=("north-africa",),
    )
    base.update(kw)
    return Article(**base)  # type: ignore[arg-type]


ARTICLES = [article(3), article(2), article(1)]


def test_rss_and_atom_parse_without_errors_and_keep_order_and_ids() -> None:
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(render.render(fmt, INFO, ARTICLES))
        assert not parsed.bozo, (fmt, parsed.get("bozo_exception"))
        assert [e.id for e in parsed.entries] == [a.guid for a in ARTICLES]
        assert [e.link for e in parsed.entries] == [a.url for a in ARTICLES]
        assert parsed.entries[0].content[0].value == "<p>Body 3 &amp; more</p>"
        assert parsed.entries[0].summary == "Summary 3"
        assert parsed.feed.language == "en"
        assert any(
            link.rel == "self" and link.href == INFO.feed_urls[fmt] for link in parsed.feed.links
        )


def test_rss_item_fields() -> None:
    root = etree.fromstring(render.render_rss(INFO, ARTICLES))
    item = root.find("channel/item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert item.findtext("pubDate") == "Sat, 20 Jun 2020 14:03:00 +0000"
    assert item.find("enclosure").get("url") == "https://www.presstv.ir/img/3.jpg"  # type: ignore[union-attr]
    ns = {
        "dc": "http://purl.org/dc/elements/1.1/",
        "content": "http://purl.org/rss/1.0/modules/content/",
    }
    assert item.findtext("dc:creator", namespaces=ns) == "Press TV"
    assert item.findtext("content:encoded", namespaces=ns) == "<p>Body 3 &amp; more</p>"
    assert root.findtext("channel/ttl") == "10"


def test_json_feed_has_every_required_field() -> None:
    data = json.loads(render.render_json(INFO, ARTICLES))
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["title"] and data["home_page_url"] and data["feed_url"] == INFO.feed_urls["json"]
    assert isinstance(data["items"], list) and len(data["items"]) == 3
    for item, a in zip(data["items"], ARTICLES, strict=True):
        assert item["id"] == a.guid and isinstance(item["id"], str)
        assert item["content_html"] == a.content_html  # an item needs content_html or _text
        assert item["url"] == a.url
        assert item["date_published"] == a.published.isoformat().replace("+00:00", "Z")
        assert item["date_modified"] == a.updated.isoformat().replace("+00:00", "Z")
        assert item["authors"] == [{"name": "Press TV"}]


def test_rendering_is_deterministic_and_drops_control_characters() -> None:
    nasty = [article(1, title="a\x00b\x1fc", content_html="<p>x\x0by</p>")]
    for fmt in render.FORMATS:
        one = render.render(fmt, INFO, nasty)
        assert one == render.render(fmt, INFO, nasty)
        if fmt != "json":
            parsed = feedparser.parse(one)
            assert not parsed.bozo and parsed.entries[0].title == "abc"


def test_c1_controls_are_read_as_windows_1252_in_every_format() -> None:
    # A CMS that stored windows-1252 bytes as Latin-1 gives "\x93quoted\x94": legal XML,
    # but shown by readers as nothing or boxes (U+009B starts an escape sequence in a
    # terminal reader); feedparser alone mapped them, in titles and content only, and the
    # JSON Feed carried them raw.
    raw = article(
        1,
        title="It\x92s \x93here\x94\x85",
        summary="Tea \x96 coffee\x9b",
        content_html="<p>\x93Body\x94 \x81x</p>",
        author="\x8aoli\x9d",
        image_caption="Port \x80 10",
    )
    want = {
        "title": "It’s “here”…",
        "summary": "Tea – coffee›",
        "content": "<p>“Body” x</p>",
        "author": "Šoli",
    }
    for fmt in ("rss", "atom"):
        body = render.render(fmt, INFO, [raw])
        assert not any(0x80 <= ord(c) <= 0x9F for c in body.decode()), fmt
        parsed = feedparser.parse(body)
        entry = parsed.entries[0]
        assert not parsed.bozo
        got = {
            "title": entry.title,
            "summary": html.fromstring(f"<div>{entry.summary}</div>").text_content(),
            "content": entry.content[0].value,
            "author": entry.author,
        }
        assert got == want, fmt
    body = render.render("json", INFO, [raw])
    assert not any(0x80 <= ord(c) <= 0x9F for c in body.decode())
    feed = json.loads(body)
    item = feed["items"][0]
    assert {
        "title": item["title"],
        "summary": item["summary"],
        "content": item["content_html"],
        "author": item["authors"][0]["name"],
    } == want


def test_times_between_seconds_are_written_to_the_millisecond() -> None:
    # An article dated when first seen has microseconds. Written with six digits, parsers
    # that read three (NetNewsWire's before 2024) took the rest for a zone: each such item
    # was shown hours off, by its own digits, and the reader's list out of order.
    first_seen = datetime(2026, 12, 6, 23, 58, 17, 863525, tzinfo=UTC)
    edited = datetime(2026, 12, 7, 8, 1, 2, 999, tzinfo=UTC)  # under a millisecond: none
    articles = [article(1, published=first_seen, updated=edited)]
    rss = render.render("rss", INFO, articles).decode()
    atom = render.render("atom", INFO, articles).decode()
    assert "<atom:updated>2026-12-07T08:01:02+00:00</atom:updated>" in rss
    assert "<published>2026-12-06T23:58:17.863+00:00</published>" in atom
    assert atom.count("<updated>2026-12-07T08:01:02+00:00</updated>") == 2  # feed and entry
    item = json.loads(render.render("json", INFO, articles))["items"][0]
    assert item["date_published"] == "2026-12-06T23:58:17.863Z"
    assert item["date_modified"] == "2026-12-07T08:01:02Z"
    for body in (rss, atom):
        entry = feedparser.parse(body).entries[0]
        assert entry.updated_parsed[:6] == (2026, 12, 7, 8, 1, 2)
    assert feedparser.parse(atom).entries[0].published_parsed[:6] == (2026, 12, 6, 23, 58, 17)


def test_empty_section_still_renders_valid_feeds() -> None:
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(render.render(fmt, INFO, []))
        assert not parsed.bozo and parsed.entries == []
    assert json.loads(render.render_json(INFO, []))["items"] == []


def test_a_plain_text_summary_reads_the_same_in_every_format() -> None:
    # RSS readers take <description> as HTML, Atom and JSON Feed readers take the summary as
    # text: a "<" or "&" in the summary must come out as written in all three.
    summary = "Tom & Jerry say a <b>bold</b> x<y claim ]]> ok"
    articles = [article(1, summary=summary)]
    rss = feedparser.parse(render.render_rss(INFO, articles)).entries[0]
    assert html.fromstring(f"<div>{rss.summary}</div>").text_content() == summary
    atom = feedparser.parse(render.render_atom(INFO, articles)).entries[0]
    assert atom.summary == summary
    assert json.loads(render.render_json(INFO, articles))["items"][0]["summary"] == summary


def test_an_item_with_no_summary_of_its_own_is_summed_up_by_its_text_not_its_title() -> None:
    # An item whose summary was empty (no description in the source's entry nor on its
    # page), or only its headline again (a page whose description is its headline), had
    # its title for a summary: newsboat, Thunderbird and Miniflux's list showed the headline
    # twice and nothing of the article. Its first paragraph stands for it, in every format.
    body = (
        "<p>Port reopens</p><p>The port of Aden reopened on Monday after the harbour was"
        ' dredged.</p><figure><img src="https://www.presstv.ir/img/1.jpg">'
        "<figcaption>Boats</figcaption></figure><p>More.</p>"
    )
    opening = "The port of Aden reopened on Monday after the harbour was dredged."
    for summary in ("", "  ", "Port reopens.", "PORT REOPENS"):
        articles = [article(1, title="Port reopens", summary=summary, content_html=body)]
        for fmt in ("rss", "atom"):
            entry = feedparser.parse(render.render(fmt, INFO, articles)).entries[0]
            assert entry.title == "Port reopens"
            assert entry.summary == opening, (fmt, summary)
        item = json.loads(render.render_json(INFO, articles))["items"][0]
        assert item["summary"] == opening
        page = html.fromstring(
            pages.section_page("Site", pages.SectionSummary("n", "N", {}, 1, None), articles)
        )
        assert opening in page.xpath("//ol[@class='items']/li")[0].text_content()
    # A summary of its own is kept; a text of the headline alone gives none at all.
    assert render.publishable(article(1, summary="Its own.")).summary == "Its own."
    bare = [article(1, title="Port reopens", summary="", content_html="<p>Port reopens</p>")]
    assert render.publishable(bare[0]).summary == ""
    entry = etree.fromstring(render.render_atom(INFO, bare)).find(f"{ATOM}entry")
    assert entry is not None and entry.find(f"{ATOM}summary") is None
    assert "summary" not in json.loads(render.render_json(INFO, bare))["items"][0]
    for fmt in render.FORMATS:
        assert PROBLEMS[fmt](render.render(fmt, INFO, bare)) == [], fmt


def test_a_summary_shows_as_written_in_the_browser_view_of_each_feed() -> None:
    # The stylesheet a browser applies (libxslt, as in Chromium) showed RSS descriptions with
    # their HTML escape: "AT&amp;T" for "AT&T".
    summary = "AT&T and Q&A: a <b>bold</b> 1 < 2 &lt;kept&gt; &amp; done"
    stylesheet = etree.XSLT(etree.fromstring(xmlfeeds.STYLESHEET))
    for feed in (render.render_rss, render.render_atom):
        page = html.fromstring(
            str(stylesheet(etree.fromstring(feed(INFO, [article(1, summary=summary)]))))
        )
        (item,) = page.xpath("//li[@class='item']")
        assert item.text_content().rstrip().endswith(summary), item.text_content()
        assert not item.xpath(".//b")  # and it stays text


def test_the_lead_image_carries_its_caption_and_photo_credit_apart() -> None:
    captioned = [article(1, image_caption="Boats at the new quay. Photo: J. Doe/AFP")]
    media = "{http://search.yahoo.com/mrss/}"
    for fmt in ("rss", "atom"):
        root = etree.fromstring(render.render(fmt, INFO, captioned))
        content = next(root.iter(f"{media}content"))
        assert content.findtext(f"{media}description") == "Boats at the new quay."
        assert content.findtext(f"{media}credit") == "Photo: J. Doe/AFP"
    only_credit = [article(1, image_caption="(Foto: Reuters)")]
    root = etree.fromstring(render.render("rss", INFO, only_credit))
    content = next(root.iter(f"{media}content"))
    assert content.find(f"{media}description") is None
    assert content.findtext(f"{media}credit") == "Foto: Reuters"


def test_feedparser_reads_the_item_summary_not_the_picture_caption_in_summary_detail() -> None:
    # feedparser reads media:description as a summary too: it kept the item's own in
    # `summary` but put the caption in `summary_detail`, which rss2email, Planet and other
    # readers built on it show as the item's summary.
    captioned = [article(1, summary="What happened, in one line.")]
    for fmt in ("rss", "atom"):
        (entry,) = feedparser.parse(render.render(fmt, INFO, captioned)).entries
        assert entry.summary == "What happened, in one line."
        assert entry.summary_detail.value == "What happened, in one line.", fmt
        assert entry.content[0].value == "<p>Body 1 &amp; more</p>"
        assert entry.media_content[0]["url"] == "https://www.presstv.ir/img/1.jpg"


def test_an_edited_rss_item_says_when_in_atom_updated_and_keeps_its_pubdate() -> None:
    # RSS has no element for an edit. feedparser (and the readers built on it) reported the
    # pubDate as an item's `updated`: an edit showed in Atom and JSON Feed, never in RSS.
    edited = article(2)  # published 2020-06-20 14:02, updated a day later
    unedited = article(1, updated=datetime(2020, 6, 20, 14, 1, tzinfo=UTC))
    data = render.render("rss", INFO, [edited, unedited])
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    first, second = parsed.entries
    assert first.published_parsed[:5] == (2020, 6, 20, 14, 2)
    assert (dict.get(first, "updated_parsed") or ())[:5] == (2020, 6, 21, 14, 2)
    # An item never edited carries its pubDate alone, as before.
    assert dict.get(second, "updated_parsed") is None
    items = etree.fromstring(data).findall("channel/item")
    updated = "{http://www.w3.org/2005/Atom}updated"
    assert [item.findtext(updated) for item in items] == ["2020-06-21T14:02:00+00:00", None]
    assert rss_problems(data) == []


def test_json_feed_items_name_the_same_authors_as_atom_entries_in_every_reader() -> None:
    # JSON Feed 1.1 says a feed's `authors` stand for an item's only when the item names
    # none, but Miniflux adds them to every item's own: with the service's name at the top
    # of the document, each article of its JSON Feed was by "Press TV, Syndicator" there,
    # and by "Press TV" in the Atom and RSS feeds. An item naming nobody is by the feed's
    # author, as an Atom entry with no author is.
    info = render.FeedInfo(**{**INFO.__dict__, "author": "Syndicator"})
    articles = [article(2), article(1, author=None)]
    data = json.loads(render.render_json(info, articles))
    atom = feedparser.parse(render.render_atom(info, articles))

    def merged(item: dict[str, list[dict[str, str]]]) -> list[str]:
        """The item's authors as a reader that adds the feed's to the item's reads them."""
        return sorted({a["name"] for a in [*data.get("authors", []), *item.get("authors", [])]})

    # An Atom entry with no author is by the feed's (RFC 4287 4.2.1).
    by = [e.get("author", atom.feed.author) for e in atom.entries]
    assert by == ["Press TV", "Syndicator"]
    assert [merged(item) for item in data["items"]] == [[name] for name in by]


@pytest.mark.parametrize(
    "title",
    [
        "",
        " \t\n",
        "\u3000",  # an ideographic space
        "\u200b",  # a zero-width space
        "\u200f",  # a right-to-left mark (Persian and Arabic CMSs put one around titles)
        "\ufeff\u200e",  # a byte-order mark and a left-to-right mark
        "\u00ad\u2060",  # a soft hyphen and a word joiner
        "\u2067",  # an isolate opened, closed by the renderer: still nothing to see
    ],
)
def test_a_title_with_nothing_to_see_is_untitled_in_every_format(title: str) -> None:
    # A title of invisible characters alone (format characters: zero-width spaces, direction
    # marks, byte-order marks) went out as it was: readers listed an item with no headline
    # to read or to click.
    items = [article(1, title=title)]
    parsed = {fmt: feedparser.parse(render.render(fmt, INFO, items)) for fmt in ("rss", "atom")}
    assert [parsed[fmt].entries[0].title for fmt in parsed] == [render.UNTITLED] * 2
    assert json.loads(render.render_json(INFO, items))["items"][0]["title"] == render.UNTITLED
    summary = pages.SectionSummary("n", "N", {}, 1, None)
    page = html.fromstring(pages.section_page("Site", summary, items))
    assert page.xpath("//ol[@class='items']/li/a/text()") == [render.UNTITLED]


def test_a_title_with_something_to_see_keeps_its_marks() -> None:
    # A headline with a right-to-left mark in it keeps the mark, which places its punctuation.
    title = "\u200fخبر عاجل!\u200f"
    item = json.loads(render.render_json(INFO, [article(1, title=title)]))["items"][0]
    assert item["title"] == title


def test_a_byline_with_nothing_to_see_names_no_author_in_any_format() -> None:
    # A byline of a right-to-left mark alone (a Persian page whose byline was empty) was
    # the item's author: "by" nobody to see in every reader, and in JSON Feed it hid the
    # feed's author, which stands for an item naming nobody.
    info = render.FeedInfo(**{**INFO.__dict__, "author": "Syndicator"})
    items = [article(1, author="\u200f \u200e")]
    atom = feedparser.parse(render.render_atom(info, items))
    assert atom.entries[0].get("author", atom.feed.author) == "Syndicator"
    rss = etree.fromstring(render.render_rss(info, items))
    assert rss.find(".//{http://purl.org/dc/elements/1.1/}creator") is None
    data = json.loads(render.render_json(info, items))
    assert data["items"][0]["authors"] == [{"name": "Syndicator"}]


@pytest.mark.parametrize(
    ("caption", "shows", "credit"),
    [
        ("\u200b\u200f", None, None),
        ("\ufeff \u2067\u2069 \u00ad", None, None),
        # What the picture shows was a right-to-left mark alone, before its credit.
        ("\u200f (Photo: AFP)", None, "Photo: AFP"),
        # A caption with something to see keeps its marks.
        ("\u200fCrowds at the port.\u200f", "\u200fCrowds at the port.\u200f", None),
    ],
)
def test_a_caption_with_nothing_to_see_is_not_published(
    caption: str, shows: str | None, credit: str | None
) -> None:
    # A caption of invisible characters alone (a direction mark a CMS put in an empty
    # figcaption) was the picture's media:description, and a credit of them its
    # media:credit: readers showing them (Miniflux, NetNewsWire) showed an empty caption.
    items = [article(1, image_caption=caption)]
    if shows is None and credit is None:
        assert render.publishable(items[0]).image_caption is None
    media = "{http://search.yahoo.com/mrss/}"
    for fmt in ("rss", "atom"):
        doc = etree.fromstring(render.render(fmt, INFO, items))
        assert [el.text for el in doc.iter(f"{media}description")] == ([shows] if shows else [])
        assert [el.text for el in doc.iter(f"{media}credit")] == ([credit] if credit else [])


@pytest.mark.parametrize(
    ("caption", "shows"),
    [
        ("Crowds at the port. (Photo: )", "Crowds at the port."),
        ("(Photo: )", None),
        ("Photo:\u200b\u200f", None),
        ("Crowds at the port. Credit: \u200f", "Crowds at the port."),
        ("Crowds at the port (Foto:)", "Crowds at the port"),
        ("Crowds at the port. Photo by", "Crowds at the port."),
        ("Crowds at the port ©", "Crowds at the port"),
    ],
)
def test_a_photo_credit_that_is_only_its_label_is_not_published(
    caption: str, shows: str | None
) -> None:
    # `(Photo: )` was published as media:credit "Photo:", a credit naming nobody.
    media = "{http://search.yahoo.com/mrss/}"
    for fmt in ("rss", "atom"):
        doc = etree.fromstring(render.render(fmt, INFO, [article(1, image_caption=caption)]))
        assert [el.text for el in doc.iter(f"{media}credit")] == [], fmt
        assert [el.text for el in doc.iter(f"{media}description")] == ([shows] if shows else [])


def test_a_link_with_no_address_is_no_link_to_the_feed_in_any_format() -> None:
    # trafilatura writes an anchor that had no href (an index term's or a footnote's target,
    # `<a id="...">`) as `<a href="">`, and puts the text after it inside: an empty reference
    # is the document it is read in, so readers linked whole paragraphs to the feed itself.
    content = (
        '<p>Terms vary. <a href="" rel="noopener noreferrer">Black-box monitoring tests what'
        ' users see.</a></p><p>See <a href="">WORDS</a> and <a href=" ">IRI</a> in'
        ' <a href="https://www.rfc-editor.org/rfc/rfc2119">RFC 2119</a>.</p>'
    )
    articles = [article(1, content_html=content)]
    text = "Terms vary. Black-box monitoring tests what users see.See WORDS and IRI in RFC 2119."
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(
            render.render(fmt, INFO, articles),
            response_headers={
                "content-location": INFO.feed_urls[fmt],
                "content-type": render.CONTENT_TYPES[fmt],
            },
        )
        body = html.fromstring(f"<div>{parsed.entries[0].content[0].value}</div>")
        assert [a.get("href") for a in body.iter("a")] == [
            "https://www.rfc-editor.org/rfc/rfc2119"
        ], fmt
        assert body.text_content() == text, fmt
    item = json.loads(render.render_json(INFO, articles))["items"][0]
    body = html.fromstring(f"<div>{item['content_html']}</div>")
    assert [a.get("href") for a in body.iter("a")] == ["https://www.rfc-editor.org/rfc/rfc2119"]
    assert body.text_content() == text
