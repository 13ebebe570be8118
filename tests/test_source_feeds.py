"""What publishers' feeds say, read as a feed reader reads it: odd-but-real RSS and Atom from
real loopback mirrors, through the real pipeline, and the entries `parse_feed` makes of them."""

from __future__ import annotations

import gzip
import html
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from syndicator.core.errors import ExtractError
from syndicator.extract import listings
from syndicator.publish.documents import FeedBook
from syndicator.store import Store

from .conftest import PullSite
from .sites import Mirror, Site


async def test_a_feed_whose_titles_are_html_publishes_them_as_text(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # Some CMSs escape a headline for HTML and then again for XML (`Q&amp;amp;A`): feedparser
    # reads such a title as HTML, and its entity references were published as text, so
    # every reader showed "Q&amp;A: Egypt&#8217;s..." for an item made from the feed's text.
    articles = site.in_section("north-africa")
    articles[0].title = "Q&A: Egypt’s trade & tariff talks with <the> neighbours"
    for article in articles:
        # Long enough to be the article: the item is made from the feed's text and title.
        article.paragraphs = [*article.paragraphs, *article.paragraphs[:3]]
    for mirror in site.mirrors:
        mirror.feed_content = True
        mirror.feed_titles_html = True
    config, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0 and report.new == len(articles)
    assert not [p for m in site.mirrors for p in m.log if p.startswith("/Detail/")]
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    assert {i["title"] for i in data["items"]} == {a.title for a in articles}


def atom(title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>News</title><id>tag:news.example,2024:feed</id>"
        "<updated>2024-03-01T09:00:00Z</updated>"
        f"<entry>{title}<link href='https://news.example/Detail/1'/>"
        "<id>tag:news.example,2024:1</id><updated>2024-03-01T09:00:00Z</updated></entry></feed>"
    ).encode()


def test_an_atom_title_of_type_html_or_xhtml_is_read_as_its_text() -> None:
    # RFC 4287 3.1.1: a `type="html"` title holds escaped HTML, an xhtml one a div of markup;
    # WordPress writes its Atom titles so. Their text is the headline, not their markup.
    written = {
        '<title type="html">AT&amp;amp;T &lt;em&gt;buys&lt;/em&gt; Time</title>': (
            "AT&T buys Time"
        ),
        '<title type="html"><![CDATA[Q&amp;A: Egypt&#8217;s talks]]></title>': (
            "Q&A: Egypt’s talks"
        ),
        '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>bold</b> &amp; '
        "true claim</div></title>": "A bold & true claim",
        # A text title is text, whatever it holds.
        '<title type="text">5 &lt; 6 &amp; Q&amp;A &amp;amp; more</title>': (
            "5 < 6 & Q&A &amp; more"
        ),
    }
    for element, text in written.items():
        (entry,) = listings.parse_feed(atom(element), "https://news.example/atom.xml")
        assert entry.title == text, element


@pytest.mark.parametrize("order", ["utf-16-be", "utf-16-le"])
async def test_a_utf16_feed_is_read_in_the_byte_order_its_mark_gives(
    order: str,
    sites: Callable[..., Site],
    store: Store,
    pull_site: PullSite,
) -> None:
    # A feed in UTF-16 with its byte order mark, `charset=utf-16` in the header: the mark says
    # which byte order. Big-endian, it was decoded little-endian, refused as no feed, and the
    # section got nothing from that mirror.
    site = sites(1)
    site.mirrors[0].feed_utf16 = order
    await site.start()
    config, report = await pull_site(site)
    assert report.failed == 0 and report.new == len(site.articles)
    data = json.loads((await FeedBook(config, store).get("all", "json")).body)
    assert {i["title"] for i in data["items"]} == {a.title for a in site.articles}


async def test_an_atom_entrys_text_content_is_published_as_its_text(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # `<content type="text">` (Atom's default) is plain text: read as HTML, "x<y held" began
    # a tag that swallowed the rest of the article, and the lines ran into one paragraph.
    articles = site.in_section("north-africa")
    articles[0].paragraphs[1] = "Output rose as x<y held, the ministry said, and <b> is no tag."
    for mirror in site.mirrors:
        mirror.atom_text = True
    config, report = await pull_site(
        site, sections=("north-africa",), extra="    full_text: false\n"
    )
    assert report.failed == 0 and report.new == len(articles)
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    for item in data["items"]:
        article = next(a for a in articles if a.title == item["title"])
        for paragraph in article.paragraphs:
            assert f"<p>{html.escape(paragraph, quote=False)}</p>" in item["content_html"]


async def test_an_rss_author_written_as_the_spec_says_is_published_as_a_name(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # RSS 2.0's `<author>` is "email (Name)": the whole of it was the byline of every item
    # made from the feed, so readers showed the reporter's address as the author's name.
    for mirror in site.mirrors:
        mirror.feed_author = "j.doe@news.example (Jane Doe)"
    config, report = await pull_site(
        site, sections=("north-africa",), extra="    full_text: false\n"
    )
    assert report.failed == 0 and report.new == len(site.in_section("north-africa"))
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    assert data["items"]
    for item in data["items"]:
        assert [a["name"] for a in item["authors"]] == ["Jane Doe"], item["authors"]


def test_an_rss_authors_name_is_read_from_each_way_of_writing_it() -> None:
    written = {
        "j.doe@news.example (Jane Doe)": "Jane Doe",
        "Jane Doe <j.doe@news.online>": "Jane Doe",
        "Jane Doe": "Jane Doe",
        "desk@news.example": "desk@news.example",  # no name given: the address it is
    }
    for author, name in written.items():
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><item>'
            "<title>Port reopens</title><link>https://news.example/Detail/1</link>"
            f"<author>{html.escape(author)}</author></item></channel></rss>"
        ).encode()
        (entry,) = listings.parse_feed(body, "https://news.example/rss.xml")
        assert entry.author == name, author


def test_an_rss_item_with_an_empty_link_is_linked_by_its_permalink_guid() -> None:
    # RSS 2.0: a guid is a permalink unless `isPermaLink="false"`. Items written with
    # `<link></link>` and their URL in the guid were dropped, while readers open the guid.
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        b"<item><title>Port reopens</title><link></link>"
        b"<guid>https://news.example/Detail/1?id=1&amp;s=2</guid></item>"
        b"<item><title>Talks resume</title><link/>"
        b'<guid isPermaLink="true">https://news.example/Detail/2</guid></item>'
        b"<item><title>Not a link</title><link> </link>"
        b'<guid isPermaLink="false">https://news.example/Detail/3</guid></item>'
        b"<item><title>No URL</title><link></link><guid>3f2a-77</guid></item>"
        b"</channel></rss>"
    )
    entries = listings.parse_feed(body, "https://news.example/rss.xml")
    assert [(e.title, e.link) for e in entries] == [
        ("Port reopens", "https://news.example/Detail/1?id=1&s=2"),
        ("Talks resume", "https://news.example/Detail/2"),
    ]


def test_an_atom_entry_with_several_alternates_links_its_first_html_one() -> None:
    # An entry may link its page in other types and languages too; feedparser's `link` is
    # the last HTML alternate, so the French copy (or an AMP one) was fetched as the article.
    # As feedparser documents, the link is the first alternate of type text/html (or none).
    links = (
        '<link rel="alternate" type="application/pdf" href="https://news.example/Detail/1.pdf"/>'
        '<link rel="alternate" href="https://news.example/Detail/1"/>'
        '<link rel="alternate" type="text/html" hreflang="fr" href="https://news.example/fr/1"/>'
        '<link rel="alternate" type="application/xhtml+xml" href="https://news.example/x/1"/>'
        '<link rel="related" type="text/html" href="https://news.example/Detail/7"/>'
    )
    body = atom(f"<title>Port reopens</title>{links}").replace(
        b"<link href='https://news.example/Detail/1'/>", b""
    )
    (entry,) = listings.parse_feed(body, "https://news.example/atom.xml")
    assert entry.link == "https://news.example/Detail/1"
    # With no text/html alternate, an XHTML one is the page.
    xhtml = body.replace(
        b'href="https://news.example/Detail/1"',
        b'type="application/pdf" href="https://news.example/y.pdf"',
    )
    xhtml = xhtml.replace(
        b'type="text/html" hreflang="fr"', b'type="application/pdf" hreflang="fr"'
    )
    (entry,) = listings.parse_feed(xhtml, "https://news.example/atom.xml")
    assert entry.link == "https://news.example/x/1"


# What WordPress cache plugins append to every page they serve, feeds included, after the
# document's end (XML allows comments there), and a PHP notice printed after the feed.
AFTER_THE_FEED = {
    "w3-total-cache": (
        "\n<!--\nPerformance optimized by W3 Total Cache. Learn more: "
        "https://www.boldgrid.com/w3-total-cache/\n\nObject Caching 120/340 objects using Redis"
        "\nPage Caching using Disk: Enhanced \nMinified using Disk\nDatabase Caching 12/45 "
        "queries in 0.030 seconds using Redis\n\nServed from: news.example @ 2026-12-07 "
        "07:00:00 by W3 Total Cache\n-->"
    ),
    "wp-super-cache": (
        "\n<!-- Dynamic page generated in 0.412 seconds. -->\n"
        "<!-- Cached page generated by WP-Super-Cache on 2026-12-07 07:00:00 -->\n"
    ),
    "php-notice": (
        "\n<br />\n<b>Notice</b>:  Undefined index: lang in <b>/var/www/html/rss.php</b> "
        "on line <b>12</b><br />\n"
    ),
}


@pytest.mark.parametrize("after", list(AFTER_THE_FEED.values()), ids=list(AFTER_THE_FEED))
async def test_a_feed_with_an_html_entity_and_a_comment_after_its_end_is_read(
    after: str,
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # A headline with `&nbsp;` (an HTML entity XML does not define) makes the feed ill-formed,
    # which feedparser reads all the same; a cache plugin's comment after `</rss>` then hid
    # the feed's end from the check for a cut-off body, and the feed was refused as truncated
    # on every mirror: the section got nothing.
    for mirror in site.mirrors:
        feed = mirror.feed
        mirror.feed = lambda section, feed=feed: (  # type: ignore[method-assign]
            feed(section).replace("</title><link>", "&nbsp;</title><link>", 1) + after
        )
    _, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(site.in_section("north-africa"))


def test_a_feed_cut_off_after_a_comment_is_still_truncated() -> None:
    # The feed's end tag inside an item's text is no end of the feed.
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        b"<item><title>A&nbsp;B</title><link>https://news.example/1</link>"
        b"<description><![CDATA[<pre>&lt;/rss&gt; </rss>]]></description></item>"
        b"<item><title>C</title><link>https://news.example/2</link><descr"
    )
    with pytest.raises(ExtractError) as caught:
        listings.parse_feed(body, "https://news.example/rss.xml")
    assert caught.value.kind == "truncated"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_an_ill_formed_utf16_feed_is_not_taken_for_a_cut_off_one(codec: str) -> None:
    # feedparser reads a UTF-16 feed with `&nbsp;` in a headline all the same; its end tag,
    # looked for in the bytes, was never found, and the feed was refused as truncated.
    text = (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>News'
        "</title><item><title>Port&nbsp;reopens</title><link>https://news.example/1</link>"
        "</item></channel></rss>\n"
    )
    body = "\ufeff".encode(codec) + text.encode(codec)
    (entry,) = listings.parse_feed(body, "https://news.example/rss.xml")
    assert (entry.title, entry.link) == ("Port\xa0reopens", "https://news.example/1")
    with pytest.raises(ExtractError) as caught:
        listings.parse_feed(body[: len(body) // 2 * 2 - 40], "https://news.example/rss.xml")
    assert caught.value.kind == "truncated"


def test_an_entry_time_feedparser_fills_in_from_the_day_it_runs_is_no_time() -> None:
    # Where syndicator's reader reads no date, feedparser's reading was taken, and it fills a
    # missing or garbled day, month or year in from the day it runs: a CMS's `07-12-2026`
    # was 20 December 2007, `2013-xx-27` the 1st of the pull's month. A date feedparser
    # alone reads in full (Greek month names, a W3C month) is still read.
    def dated(written: str) -> datetime | None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News'
            "</title><item><title>Port reopens</title><link>https://news.example/1</link>"
            f"<pubDate>{written}</pubDate></item></channel></rss>"
        ).encode()
        (entry,) = listings.parse_feed(body, "https://news.example/rss.xml")
        return entry.published

    assert dated("07-12-2026") is None
    assert dated("2013-xx-27") is None
    assert dated("2026-xx") is None
    assert dated("Κυρ, 11 Ιούλ 2004 12:00:00 EST") == datetime(2004, 7, 11, 17, tzinfo=UTC)
    assert dated("2026-07") == datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("codec", "mark", "header"),
    [
        ("utf-32-le", "\ufeff", None),
        ("utf-32-be", "\ufeff", None),
        ("utf-16-be", "", "utf-16"),
        ("utf-32-be", "", "utf-32"),
        ("utf-16-be", "", "utf16"),
    ],
)
def test_a_utf32_feed_or_one_in_utf16_of_no_mark_is_read_in_its_byte_order(
    codec: str, mark: str, header: str | None
) -> None:
    # UTF-32's little-endian mark begins with UTF-16's: the feed was read as UTF-16, a NUL
    # every other character, and refused as no feed. A feed the header calls `utf-16` (or
    # `utf-32`) with no mark was read in this machine's byte order: a big-endian one was
    # refused likewise. Both are read in the order their bytes show, as feedparser reads
    # them; one with `&nbsp;` in a headline (ill-formed) is not taken for a cut-off one.
    text = (
        f'<?xml version="1.0" encoding="{codec[:6]}"?><rss version="2.0"><channel><title>'
        "News</title><item><title>Port&nbsp;reopens in Tórshavn</title>"
        "<link>https://news.example/1</link></item></channel></rss>\n"
    )
    body = (mark + text).encode(codec)
    (entry,) = listings.parse_feed(body, "https://news.example/rss.xml", header)
    assert (entry.title, entry.link) == ("Port\xa0reopens in Tórshavn", "https://news.example/1")
    with pytest.raises(ExtractError) as caught:
        listings.parse_feed(body[: len(body) // 4 * 4 - 40], "https://news.example/rss.xml", header)
    assert caught.value.kind == "truncated"


def test_a_whole_feed_of_no_items_with_an_html_entity_lists_nothing() -> None:
    # A section's feed with nothing in it yet, its channel title written with `&nbsp;` (or
    # an `itunes:` prefix it never declared), which feedparser reads past: it lists nothing,
    # as a well-formed empty feed does. It was refused as broken, its mirror failed on every
    # pull. One cut off is still refused.
    channel = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Caf&eacute;&nbsp;news'
        b"</title><link>https://news.example/</link><itunes:subtitle>x</itunes:subtitle>"
    )
    url = "https://news.example/rss.xml"
    assert listings.parse_feed(channel + b"</channel></rss>", url) == []
    with pytest.raises(ExtractError) as caught:
        listings.parse_feed(channel, url)
    assert caught.value.kind == "not-a-feed"


async def test_an_atom_feeds_relative_xml_base_is_each_entrys_own(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # Each entry gives its link relative to an `xml:base` of its own, the first one relative
    # to the feed's address: read with no address for the feed, the first entry's base was
    # kept for the entries after it, which were fetched at paths that are no articles.
    def atom(mirror: Any, section: str) -> str:
        entries = []
        for n, a in enumerate(mirror._listed(section)):
            year, rest = a.link_path.removeprefix("/Detail/").split("/", 1)
            base = f"../Detail/{year}/" if n == 0 else "/Detail/"
            href = rest if n == 0 else f"{year}/{rest}"
            entries.append(
                f'<entry xml:base="{base}"><title>{html.escape(a.title)}</title>'
                f'<link href="{href}"/><id>tag:n.example,2024:{a.id}</id>'
                f"<updated>{a.published.isoformat()}</updated></entry>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>News</title><id>tag:n.example,2024:{section}</id>"
            f"<updated>2024-03-01T09:00:00Z</updated>{''.join(entries)}</feed>"
        )

    for mirror in site.mirrors:
        mirror.feed = lambda section, mirror=mirror: atom(mirror, section)  # type: ignore[method-assign]
    _, report = await pull_site(site, sections=("north-africa",))
    assert len(site.in_section("north-africa")) > 1
    assert report.failed == 0, report.errors
    assert report.new == len(site.in_section("north-africa"))


async def test_a_feed_sent_gzipped_with_no_content_encoding_is_read(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # A CDN that compresses what the origin already compressed, or a feed published as a
    # `.xml.gz` file, sends gzip bytes with no Content-Encoding to say so: the feed was
    # refused as "not an RSS or Atom feed: not well-formed (invalid token)" on every mirror.
    for mirror in site.mirrors:
        resource = mirror._resource

        def gzipped(path: str, resource: Any = resource) -> tuple[bytes, str] | None:
            found = resource(path)
            if found is not None and path.startswith("/rss/"):
                return gzip.compress(found[0]), found[1]
            return found

        mirror._resource = gzipped  # type: ignore[method-assign]
    _, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(site.in_section("north-africa"))


def test_a_gzipped_feed_past_the_inflate_limit_is_refused_as_too_large() -> None:
    body = gzip.compress(b"<rss version='2.0'><channel>" + b" " * (60 * 1024 * 1024))
    with pytest.raises(ExtractError) as refused:
        listings.parse_feed(body, "https://news.example/rss.xml")
    assert refused.value.kind == "too-large"
    assert "gzip feed inflates past" in str(refused.value)


async def pull_logging(
    site: Site,
    pull_site: PullSite,
    caplog: pytest.LogCaptureFixture,
    links_of: Callable[[Mirror], list[str]],
    marker: str,
) -> tuple[list[str], list[str]]:
    """Pull `site` with each mirror's feed also carrying an item for each of `links_of(it)`;
    the info (and higher) lines naming `marker`, and every debug line."""
    caplog.set_level(logging.DEBUG, logger="syndicator.pull")
    for mirror in site.mirrors:
        mirror.feed_extra = "".join(
            f"<item><title>Story {n}</title><link>{link}</link></item>"
            for n, link in enumerate(links_of(mirror))
        )
    _config, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(site.in_section("north-africa"))
    info = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO and marker in r.getMessage()
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    return info, debug


async def test_a_feed_of_many_links_to_other_sites_logs_them_once_at_info(
    site: Site, pull_site: PullSite, caplog: pytest.LogCaptureFixture
) -> None:
    # A feed that also carries hundreds of items linking other sites (a publisher's partner
    # feed mixed in) logged one line per link at info, on every pull: the operator's log was
    # flooded. One line per feed says how many and names a few; each link is at debug.
    elsewhere = [f"https://partner{n % 7}.example/story/{n}" for n in range(300)]
    info, debug = await pull_logging(site, pull_site, caplog, lambda _m: elsewhere, "partner")
    # One line for each mirror's feed, none for each link.
    assert len(info) == len(site.mirrors), info[:5]
    for line in info:
        assert "300 links to other sites" in line, line
        assert elsewhere[0] in line and elsewhere[3] not in line
    assert all(any(link in m for m in debug) for link in elsewhere)


@pytest.mark.parametrize(
    ("links_of", "marker", "said"),
    [
        (
            lambda m: [f"{m.origin}/?live=0"],
            "?live=",
            "skipping 1 feed entry linking a page of the site that is no article: ",
        ),
        (
            lambda _m: ["https://partner.example/story/0"],
            "partner",
            "skipping 1 link to another site: https://partner.example/story/0",
        ),
        (
            lambda m: [f"{m.origin}/Detail/{'x' * 2100}"],
            "longer than",
            "skipping 1 link longer than 2048 characters",
        ),
    ],
    ids=["site page", "other site", "too long"],
)
async def test_one_skipped_entry_is_logged_in_the_singular(
    site: Site,
    pull_site: PullSite,
    caplog: pytest.LogCaptureFixture,
    links_of: Callable[[Mirror], list[str]],
    marker: str,
    said: str,
) -> None:
    # "skipping 1 feed entries linking the site's pages that are no articles".
    info, _debug = await pull_logging(site, pull_site, caplog, links_of, marker)
    assert len(info) == len(site.mirrors), info[:5]
    for line in info:
        assert said in line, line


# Items whose guid is no URL (a token, `isPermaLink="false"`) and items linked by a guid that
# is one (absolute, or a path from the site's root), with the link each stands for.
GUID_ITEMS = (
    ('<item><title>A</title><guid isPermaLink="false">3f2a-77</guid></item>', None),
    ('<item><title>B</title><link></link><guid isPermaLink="false">3f2a-78</guid></item>', None),
    ("<item><title>C</title><guid>3f2a-79</guid></item>", None),
    ("<item><title>D</title><link></link><guid>3f2a-80</guid></item>", None),
    (
        "<item><title>E</title><link>https://news.example/Detail/1</link>"
        '<guid isPermaLink="false">3f2a-81</guid></item>',
        "https://news.example/Detail/1",
    ),
    (
        '<item><title>F</title><guid isPermaLink="false">https://news.example/Detail/2</guid>'
        "</item>",
        None,
    ),
    ("<item><title>G</title><guid>/Detail/3</guid></item>", "https://news.example/Detail/3"),
    (
        "<item><title>H</title><link/><guid>https://news.example/Detail/4</guid></item>",
        "https://news.example/Detail/4",
    ),
)


@pytest.mark.parametrize(
    "base", ['xml:base="https://news.example/feeds/"', 'xml:base="feeds/"', ""]
)
def test_a_guid_that_is_no_url_is_no_items_link_under_any_xml_base(base: str) -> None:
    # Under an `xml:base` (read against the feed's address), feedparser resolves every guid
    # not said to be no permalink: a token, `3f2a-79`, became
    # https://news.example/rss/feeds/3f2a-79, fetched as an article (a 404 on every mirror,
    # counted against it). With no `xml:base`, the token was made absolute against the
    # feed's address the same way. A guid links its item only when written as a URL.
    items = "".join(item for item, _ in GUID_ITEMS)
    body = (
        f'<?xml version="1.0"?><rss version="2.0" {base}><channel><title>News</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()
    entries = listings.parse_feed(body, "https://news.example/rss/all.xml")
    assert [e.link for e in entries] == [link for _, link in GUID_ITEMS if link]
    # An Atom entry's id is no link unless it is a URL (feedparser takes it for one).
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" {base}>'
        "<title>News</title><id>tag:news.example,2024:feed</id>"
        "<updated>2024-03-01T09:00:00Z</updated>"
        "<entry><title>T</title><id>3f2a-77</id><updated>2024-03-01T09:00:00Z</updated></entry>"
        "<entry><title>U</title><id>tag:news.example,2024:1</id>"
        "<updated>2024-03-01T09:00:00Z</updated></entry>"
        "<entry><title>V</title><id>https://news.example/Detail/9</id>"
        "<updated>2024-03-01T09:00:00Z</updated></entry></feed>"
    ).encode()
    entries = listings.parse_feed(body, "https://news.example/rss/all.xml")
    assert [(e.title, e.link) for e in entries] == [("V", "https://news.example/Detail/9")]


def test_links_in_an_items_text_under_a_relative_xml_base_are_read_from_the_feeds_address() -> None:
    # XML Base (RFC 3986 5.1): a relative `xml:base` is relative to the base above it, the
    # document's own address at the top; so are the links of an item's text under it. Here
    # news/ under /feeds/rss/all.xml is /feeds/rss/news/, and ../sub/ under it /feeds/rss/sub/.
    body = (
        b'<?xml version="1.0"?><rss version="2.0" xml:base="news/"><channel><title>News</title>'
        b'<link>https://news.example/</link><item xml:base="../sub/"><title>A</title>'
        b"<link>2024/a</link><description>&lt;p&gt;&lt;a href=&quot;more/b&quot;&gt;b&lt;/a&gt;"
        b" &lt;img src=&quot;../img/c.jpg&quot;&gt;&lt;/p&gt;</description></item>"
        b"</channel></rss>"
    )
    (entry,) = listings.parse_feed(body, "https://news.example/feeds/rss/all.xml")
    assert entry.link == "https://news.example/feeds/rss/sub/2024/a"
    assert entry.summary is not None
    assert 'href="https://news.example/feeds/rss/sub/more/b"' in entry.summary
    assert 'src="https://news.example/feeds/rss/img/c.jpg"' in entry.summary


async def test_a_feed_of_many_entries_linking_the_sites_own_pages_logs_them_once_at_info(
    site: Site, pull_site: PullSite, caplog: pytest.LogCaptureFixture
) -> None:
    # A feed whose items link the home page (a live stream's, a promotion's, each with its
    # campaign in the query) logged one line per item at info, on every mirror and every
    # pull. One line per feed says how many and names a few; each is logged at debug.
    def live(mirror: Mirror) -> list[str]:
        return [f"{mirror.origin}/?live={n}" for n in range(200)]

    info, debug = await pull_logging(site, pull_site, caplog, live, "?live=")
    # One line for each mirror's feed, none for each entry.
    assert len(info) == len(site.mirrors), info[:5]
    for line in info:
        assert "200 feed entries linking" in line, line
        assert "?live=0" in line and "?live=3" not in line, line
    for mirror in site.mirrors:
        assert all(any(link in m for m in debug) for link in live(mirror))
