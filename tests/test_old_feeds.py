"""Feeds as the publishers of the early web still write them, served by real loopback mirrors
and pulled through the real pipeline: RSS 0.91 under Netscape's DTD, HTML's entities by
name declared through the W3C's entity sets, Microsoft's CDF channels."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

import pytest

from syndicator.core.errors import ExtractError
from syndicator.extract import listings
from syndicator.publish.documents import FeedBook
from syndicator.store import Store

from .conftest import PullSite
from .sites import Site

NETSCAPE = (
    '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"\n'
    ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">'
)
XHTML_SETS = (
    "<!DOCTYPE rss [\n"
    '<!ENTITY % HTMLlat1 PUBLIC "-//W3C//ENTITIES Latin 1 for XHTML//EN"\n'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent">\n%HTMLlat1;\n'
    '<!ENTITY % HTMLspecial PUBLIC "-//W3C//ENTITIES Special for XHTML//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml-special.ent">%HTMLspecial;\n'
    '<!ENTITY % HTMLsymbol PUBLIC "-//W3C//ENTITIES Symbols for XHTML//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml-symbol.ent">%HTMLsymbol;\n]>'
)
HTML4_SETS = (
    '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
    '"http://my.netscape.com/publish/formats/rss-0.91.dtd" [\n'
    '<!ENTITY % HTMLlat1 PUBLIC "-//W3C//ENTITIES Latin1//EN//HTML" '
    '"http://www.w3.org/TR/html4/HTMLlat1.ent">\n%HTMLlat1;\n]>'
)
# The sets copied into the feed, as some CMSs do: the characters by reference, and the five
# XML predefines declared again the way the XML specification writes them.
PASTED_SETS = (
    "<!DOCTYPE rss [\n"
    '<!ENTITY nbsp   "&#160;" ><!-- no-break space = non-breaking space, U+00A0 ISOnum -->\n'
    '<!ENTITY eacute "&#233;" >\n<!ENTITY rsquo "&#8217;">\n<!ENTITY mdash "&#8212;">\n'
    '<!ENTITY lt     "&#38;#60;" >\n<!ENTITY gt     "&#62;" >\n'
    '<!ENTITY amp    "&#38;#38;" >\n<!ENTITY apos   "&#39;" >\n<!ENTITY quot   "&#34;" >\n]>'
)
DOCTYPES = {
    "Netscape's RSS 0.91 DTD": NETSCAPE,
    "XHTML's entity sets": XHTML_SETS,
    "HTML 4's entity set under Netscape's DTD": HTML4_SETS,
    "the entity sets pasted in": PASTED_SETS,
}


def old_feed(feed: str, doctype: str) -> str:
    """A mirror's RSS 2.0 feed made an RSS 0.91 one under `doctype`, its headlines'
    apostrophes and its channel's title written with HTML's entities."""
    feed = feed.replace('<rss version="2.0"', f'{doctype}\n<rss version="0.91"', 1)
    feed = feed.replace("’", "&rsquo;")
    return feed.replace("</title><link>", "&nbsp;&mdash; Caf&eacute;</title><link>", 1)


@pytest.mark.parametrize("doctype", DOCTYPES.values(), ids=DOCTYPES.keys())
async def test_an_old_feed_naming_htmls_entities_by_a_dtd_is_read(
    doctype: str,
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # A feed that declared HTML's entities through the W3C's entity sets (which nothing
    # here fetches) was refused as hostile markup on every mirror: the section got nothing.
    articles = site.in_section("north-africa")
    assert any("’" in a.title for a in articles)
    for article in articles:
        # Long enough to be the article: the item is made from the feed's text and title.
        article.paragraphs = [*article.paragraphs, *article.paragraphs[:3]]
    for mirror in site.mirrors:
        mirror.feed_content = True
        feed = mirror.feed
        mirror.feed = lambda section, feed=feed: old_feed(feed(section), doctype)  # type: ignore[method-assign]
    config, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(articles)
    assert not [p for m in site.mirrors for p in m.log if p.startswith("/Detail/")]
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    assert {i["title"] for i in data["items"]} == {a.title for a in articles}


XHTML_DTD = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
)


async def test_a_feed_under_xhtmls_dtd_is_read_as_a_feed(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # A CMS whose templates open every document with XHTML's DOCTYPE (and no XML
    # declaration) serves its RSS so: the feed was refused as "an HTML page where a feed was
    # expected" on every mirror, by its doctype alone.
    articles = site.in_section("north-africa")
    for mirror in site.mirrors:
        feed = mirror.feed

        def xhtml(section: str, feed: Callable[[str], str] = feed) -> str:
            text = old_feed(feed(section), XHTML_DTD)
            return text[text.index("?>") + 2 :].lstrip()

        mirror.feed = xhtml  # type: ignore[method-assign]
    assert mirror.feed("north-africa").startswith("<!DOCTYPE html PUBLIC")
    _, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(articles)


def test_an_html_page_under_xhtmls_dtd_is_still_no_feed() -> None:
    body = f"{XHTML_DTD}<html><body><rss><item><link>https://a.example/1</link></item></rss>"
    with pytest.raises(ExtractError) as refused:
        listings.parse_feed(body.encode(), "https://www.presstv.ir/rss.xml")
    assert refused.value.kind == "not-a-feed"


def _feed(doctype: str, title: str) -> bytes:
    return (
        f"<?xml version='1.0'?>{doctype}<rss version='0.91'><channel><title>News</title>"
        f"<item><link>https://www.presstv.ir/Detail/1</link><title>{title}</title></item>"
        "</channel></rss>"
    ).encode()


SET = "'-//W3C//ENTITIES Latin 1 for XHTML//EN' 'http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent'"
NOT_A_SET = {
    "a general entity under a set's name": f"<!DOCTYPE rss [<!ENTITY a PUBLIC {SET}>]>",
    "a set beside a file": (
        f"<!DOCTYPE rss [<!ENTITY % s PUBLIC {SET}>%s;<!ENTITY a SYSTEM 'file:///etc/hostname'>]>"
    ),
    "a set's system name on a file": (
        "<!DOCTYPE rss [<!ENTITY % s PUBLIC '-//W3C//ENTITIES Latin 1 for XHTML//EN' "
        "'file:///etc/hostname'>%s;]>"
    ),
    "another public entity set": (
        "<!DOCTYPE rss [<!ENTITY % s PUBLIC '-//Evil//ENTITIES x//EN' 'http://evil.example/x'>%s;]>"
    ),
    "a set behind an instruction": (
        f"<!DOCTYPE rss [<!ENTITY % s PUBLIC {SET}>%s;<?pi <x ]> ?>"
        "<!ENTITY a SYSTEM 'file:///etc/hostname'>]>"
    ),
    "lt redefined": "<!DOCTYPE rss [<!ENTITY lt '&#38;#38;'>]>",
    "a declared amp": "<!DOCTYPE rss [<!ENTITY amp '&#38;#38;'><!ENTITY b '&amp;#60;'>]>",
}


@pytest.mark.parametrize("doctype", NOT_A_SET.values(), ids=NOT_A_SET.keys())
def test_a_declaration_that_is_no_entity_set_of_characters_is_still_refused(
    doctype: str,
) -> None:
    with pytest.raises(ExtractError) as refused:
        listings.parse_feed(_feed(doctype, "&a;"), "https://www.presstv.ir/rss.xml")
    assert refused.value.kind == "hostile-markup"


@pytest.mark.parametrize("codec", ["utf-8", "utf-16"])
def test_htmls_names_under_a_dtd_are_its_characters_but_in_cdata(codec: str) -> None:
    # The DOCTYPE on the XML declaration's line, as many old feeds write it: the names were
    # dropped without an error ("Libyas talks").
    body = (
        f'<?xml version="1.0" encoding="{codec}"?>{NETSCAPE}<rss version="0.91"><channel>'
        "<title>News</title><item><title>Libya&rsquo;s talks &amp; &lt;more&gt; &unknown;"
        "</title><link>https://www.presstv.ir/Detail/1?a=1&amp;b=2</link>"
        "<description><![CDATA[<p>Caf&eacute; &amp; bar</p>]]></description></item>"
        "</channel></rss>"
    ).encode(codec)
    (entry,) = listings.parse_feed(body, "https://www.presstv.ir/rss.xml")
    assert entry.title == "Libya’s talks & <more>"  # a name HTML lacks is skipped
    assert entry.link == "https://www.presstv.ir/Detail/1?a=1&b=2"
    assert entry.summary == "<p>Caf&eacute; &amp; bar</p>"


def cdf(mirror: object, section: str) -> str:
    """A mirror's section as a CDF channel (Internet Explorer 4's Channel Definition
    Format): its items' addresses relative to the channel's BASE, dated by LASTMOD."""
    base = mirror.base  # type: ignore[attr-defined]
    items = "".join(
        f'<ITEM HREF="{a.link_path.lstrip("/")}" LASTMOD="{a.published:%Y-%m-%dT%H:%M}">'
        f"<TITLE>{html.escape(a.title)}</TITLE><ABSTRACT>{html.escape(a.paragraphs[0])}"
        "</ABSTRACT></ITEM>\n"
        for a in mirror._listed(section)  # type: ignore[attr-defined]
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<CHANNEL HREF="{base}/" BASE="{base}/" LASTMOD="2024-03-01T09:00">\n'
        f"<TITLE>News &amp; more</TITLE><ABSTRACT>The news</ABSTRACT>\n{items}</CHANNEL>\n"
    )


@pytest.mark.parametrize("entity", ["", "&nbsp;"], ids=["well-formed", "with an HTML entity"])
async def test_a_cdf_channel_is_read_as_a_feed(
    entity: str,
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # feedparser reads a CDF channel's items but names no version for it: such a feed was
    # refused as "no RSS or Atom root element" on every mirror.
    articles = site.in_section("north-africa")
    for mirror in site.mirrors:
        mirror.feed = lambda section, mirror=mirror: cdf(mirror, section).replace(  # type: ignore[method-assign]
            "<ABSTRACT>The news", f"<ABSTRACT>The{entity} news"
        )
    _, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(articles)
    (entry, *_) = listings.parse_feed(
        cdf(site.mirrors[0], "north-africa").encode(), f"{site.mirrors[0].base}/cdf.xml"
    )
    first = site.mirrors[0]._listed("north-africa")[0]
    assert entry.link == site.mirrors[0].base + first.link_path
    assert entry.updated == first.published.replace(second=0, microsecond=0)


def test_a_cdf_channel_cut_off_is_refused_as_cut_off() -> None:
    body = (
        b'<?xml version="1.0"?><CHANNEL HREF="https://www.presstv.ir/"><TITLE>A&nbsp;B</TITLE>'
        b'<ITEM HREF="https://www.presstv.ir/Detail/1"><TITLE>One</TITLE></ITEM>'
        b'<ITEM HREF="https://www.presstv.ir/Detail/2"><TITLE>Tw'
    )
    with pytest.raises(ExtractError) as refused:
        listings.parse_feed(body, "https://www.presstv.ir/cdf.xml")
    assert refused.value.kind == "truncated"


async def test_an_entity_of_plain_text_a_feed_declares_is_its_text(
    site: Site,
    store: Store,
    pull_site: PullSite,
) -> None:
    # `<!DOCTYPE rss [<!ENTITY site "Example News">]>`, its name in every headline: the feed
    # was refused as hostile markup on every mirror, though its text expands to little.
    articles = site.in_section("north-africa")
    for article in articles:
        article.paragraphs = [*article.paragraphs, *article.paragraphs[:3]]
    for mirror in site.mirrors:
        mirror.feed_content = True
        feed = mirror.feed

        def declared(section: str, feed: Callable[[str], str] = feed) -> str:
            text = feed(section).replace(
                '<rss version="2.0"',
                "<!DOCTYPE rss [\n<!ENTITY sep ' &#8212; '>\n"
                '<!ENTITY site "Example News">\n]>\n<rss version="2.0"',
                1,
            )
            return text.replace("</title><link>", "&sep;&site;</title><link>")

        mirror.feed = declared  # type: ignore[method-assign]
    config, report = await pull_site(site, sections=("north-africa",))
    assert report.failed == 0, report.errors
    assert report.new == len(articles)
    data = json.loads((await FeedBook(config, store).get("north-africa", "json")).body)
    assert {i["title"] for i in data["items"]} == {f"{a.title} — Example News" for a in articles}


def test_plain_text_entities_that_would_blow_the_feed_up_are_refused() -> None:
    body = _feed(f"<!DOCTYPE rss [<!ENTITY a '{'x' * 60}'>]>", "&a;" * 200_000)
    with pytest.raises(ExtractError) as refused:
        listings.parse_feed(body, "https://www.presstv.ir/rss.xml")
    assert refused.value.kind == "hostile-markup"
    assert "would add more text to it than it holds" in str(refused.value)
