"""Every output passes its format's validators: fixed cases, archives, and any stored article
(Hypothesis) with arbitrary Unicode, markup, right-to-left text and control characters."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from urllib.parse import quote

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicator.core import identity
from syndicator.core.models import Article
from syndicator.publish import render

from .feedrules import PROBLEMS, atom_problems, rss_problems
from .test_render import ARTICLES, INFO, article

HUB_INFO = dataclasses.replace(
    INFO,
    hub_url="http://hub.example.test/",
    section_titles={"north-africa": "North Africa"},
    category_scheme="http://feeds.example.test/feeds/",
    prev_archive_urls={
        f: f"http://feeds.example.test/feeds/north-africa/archive/2.{f}" for f in render.FORMATS
    },
)
ARCHIVE_INFO = dataclasses.replace(
    HUB_INFO,
    feed_urls={
        f: f"http://feeds.example.test/feeds/north-africa/archive/3.{f}" for f in render.FORMATS
    },
    archive=True,
    current_urls=INFO.feed_urls,
    next_archive_urls={
        f: f"http://feeds.example.test/feeds/north-africa/archive/4.{f}" for f in render.FORMATS
    },
)


@pytest.mark.parametrize("fmt", render.FORMATS)
@pytest.mark.parametrize("info", [INFO, HUB_INFO, ARCHIVE_INFO], ids=["plain", "hub", "archive"])
def test_every_format_passes_its_validators(fmt: str, info: render.FeedInfo) -> None:
    for articles in (ARTICLES, [], [article(1, author=None, image_url=None, summary="")]):
        assert PROBLEMS[fmt](render.render(fmt, info, articles)) == []


@pytest.mark.parametrize("fmt", render.FORMATS)
def test_a_picture_url_stored_loosely_is_published_valid(fmt: str) -> None:
    # An article stored before links were joined as browsers join them keeps its picture
    # URL as the page wrote it: each format made it valid, or the feed failed its validators.
    loose = article(1, image_url="http:/cdn.example/Seite 4.jpg")
    body = render.render(fmt, INFO, [loose])
    assert PROBLEMS[fmt](body) == []
    assert b"http://cdn.example/Seite%204.jpg" in body


@pytest.mark.parametrize("fmt", render.FORMATS)
@pytest.mark.parametrize("src", ["//:0", "https://:0/x.jpg", "http://@/x.jpg"])
def test_a_picture_url_with_no_host_is_not_published(fmt: str, src: str) -> None:
    # `src="//:0"` is a lazy loader's placeholder: joined with the page, `https://:0` was the
    # stored lead picture, and every format published it (enclosure, media:content, JSON
    # Feed image), a URL no reader can load (a browser's parser refuses it, no host).
    stored = article(1, image_url=identity.join_url("https://www.presstv.ir/Detail/1", src) or src)
    body = render.render(fmt, INFO, [stored])
    assert PROBLEMS[fmt](body) == []
    if fmt == "json":
        assert "image" not in json.loads(body)["items"][0]
    else:
        entry = feedparser.parse(body).entries[0]
        assert (entry.get("media_content"), entry.get("enclosures")) == (None, [])


@pytest.mark.parametrize("fmt", render.FORMATS)
def test_a_link_in_other_scripts_is_published_as_a_uri(fmt: str) -> None:
    # A Persian slug or an IDN host went into every format as written: RSS and JSON Feed
    # carry URLs, the W3C validator calls an IRI there an error (UriNotIri), and readers
    # that parse links as URIs (NetNewsWire before 5.1, Ruby's URI) did not open the item.
    iri = article(
        1, url="https://www.presstv.ir/Detail/خبر-۱۲۳?q=ä", image_url="https://عکس.example/پ.jpg"
    )
    body = render.render(fmt, INFO, [iri])
    assert PROBLEMS[fmt](body) == []
    link = "https://www.presstv.ir/Detail/%D8%AE%D8%A8%D8%B1-%DB%B1%DB%B2%DB%B3?q=%C3%A4"
    image = "https://xn--ygbl05a.example/%D9%BE.jpg"
    if fmt == "json":
        item = json.loads(body)["items"][0]
        assert (item["url"], item["image"]) == (link, image)
    else:
        entry = feedparser.parse(body).entries[0]
        assert (entry.link, entry.media_content[0]["url"]) == (link, image)


def test_the_validators_catch_broken_feeds() -> None:
    """The checks above can fail: each broken document is caught for its own reason."""
    good_atom = render.render("atom", INFO, ARTICLES)
    root = etree.fromstring(good_atom)
    first = root.find("{http://www.w3.org/2005/Atom}entry")
    assert first is not None
    first.remove(first[0])  # its atom:id
    assert any("atom:id" in p for p in atom_problems(etree.tostring(root)))
    lower_t = good_atom.replace(b"2020-06-21T14:03:00", b"2020-06-21t14:03:00")
    assert any("RFC 3339" in p for p in atom_problems(lower_t))
    good_rss = render.render("rss", INFO, ARTICLES)
    second, first = (f"{n:032x}<".encode() for n in (2, 3))
    twice = good_rss.replace(second, first)
    assert any("appears 2 times" in p for p in rss_problems(twice))
    iso = good_rss.replace(b"Sat, 20 Jun 2020 14:03:00 +0000", b"2020-06-20T14:03:00Z")
    assert any("RFC 822" in p for p in rss_problems(iso))
    feed = json.loads(render.render("json", INFO, ARTICLES))
    del feed["items"][0]["content_html"]
    assert PROBLEMS["json"](json.dumps(feed).encode())


def test_rss_carries_self_hub_archive_content_creator_category_and_image() -> None:
    root = etree.fromstring(render.render("rss", HUB_INFO, ARTICLES))
    ns = {
        "atom": "http://www.w3.org/2005/Atom",
        "media": "http://search.yahoo.com/mrss/",
        "dc": "http://purl.org/dc/elements/1.1/",
        "content": "http://purl.org/rss/1.0/modules/content/",
    }
    channel = root.find("channel")
    assert channel is not None
    rels = {link.get("rel"): link.get("href") for link in channel.findall("atom:link", ns)}
    assert rels["self"] == INFO.feed_urls["rss"]
    assert rels["hub"] == "http://hub.example.test/"
    assert rels["prev-archive"].endswith("/archive/2.rss")
    assert channel.findtext("language") == "en" and channel.findtext("ttl") == "10"
    item = channel.find("item")
    assert item is not None
    assert item.findtext("description") == "Summary 3"
    assert item.findtext("content:encoded", namespaces=ns) == "<p>Body 3 &amp; more</p>"
    assert item.findtext("dc:creator", namespaces=ns) == "Press TV"
    assert item.findtext("category") == "North Africa"
    assert item.find("enclosure").get("type") == "image/jpeg"  # type: ignore[union-attr]
    media = item.find("media:content", ns)
    assert media is not None and media.get("url") == "https://www.presstv.ir/img/3.jpg"
    assert media.findtext("media:description", namespaces=ns) == "Caption"


def test_atom_entry_links_keep_rel_and_type_and_archives_are_marked() -> None:
    root = etree.fromstring(render.render("atom", ARCHIVE_INFO, ARTICLES))
    a = "{http://www.w3.org/2005/Atom}"
    entry = root.find(f"{a}entry")
    assert entry is not None
    alternate = [link for link in entry.findall(f"{a}link") if link.get("rel") == "alternate"]
    assert [(link.get("href"), link.get("type")) for link in alternate] == [
        (ARTICLES[0].url, "text/html")
    ]
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert entry.find(f"{a}content").get("type") == "html"  # type: ignore[union-attr]
    assert root.find("{http://purl.org/syndication/history/1.0}archive") is not None
    rels = {link.get("rel") for link in root.findall(f"{a}link")}
    assert {"self", "alternate", "hub", "current", "prev-archive", "next-archive"} <= rels
    # The subscription document is not an archive.
    current = etree.fromstring(render.render("atom", HUB_INFO, ARTICLES))
    assert current.find("{http://purl.org/syndication/history/1.0}archive") is None


def test_the_same_article_has_the_same_id_in_every_format() -> None:
    ids = {}
    for fmt in ("rss", "atom"):
        ids[fmt] = [e.id for e in feedparser.parse(render.render(fmt, INFO, ARTICLES)).entries]
    ids["json"] = [i["id"] for i in json.loads(render.render("json", INFO, ARTICLES))["items"]]
    assert ids["rss"] == ids["atom"] == ids["json"] == [a.guid for a in ARTICLES]


# --- Hypothesis: any stored article ------------------------------------------------------

# Everything Unicode has, surrogates and control characters included, plus the markup, entity,
# CDATA and bidirectional fragments most likely to break a writer.
NASTY = st.sampled_from(
    ["<b>", "</p>", "&amp;", "&", "]]>", "<![CDATA[", "\u202e", "\u200f", "\ufeff", "\x00",
     "\x1b", "\r\n", "\ud800", "مرحبا بالعالم", "שלום", "سلام دنیا", "<script>x</script>", "'\""]
)  # fmt: skip
TEXT = st.lists(
    st.one_of(st.text(st.characters(exclude_categories=()), max_size=20), NASTY), max_size=6
).map("".join)
URL = st.text(max_size=20).map(lambda p: "https://www.example.org/" + quote(p, safe="/")) | (
    # A link in other scripts, as a page may write it: published as a URI.
    st.text(st.characters(min_codepoint=0xA0, exclude_categories=("Cs",)), max_size=8).map(
        lambda p: "https://www.example.org/خبر/" + p
    )
)
WHEN = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
)


@st.composite
def stored_articles(draw: st.DrawFn) -> list[Article]:
    count = draw(st.integers(min_value=1, max_value=3))
    out = []
    for n in range(count):
        published = draw(WHEN)
        out.append(
            Article(
                id=n + 1,
                guid=f"tag:www.example.org,2024-01-01:src/{n:032x}",
                source="src",
                url=draw(URL),
                title=draw(TEXT),
                summary=draw(TEXT),
                content_html=draw(TEXT),
                published=published,
                updated=max(published, draw(WHEN)),
                author=draw(st.none() | TEXT),
                # A stored image URL may carry control characters (JSON-LD escapes did).
                image_url=draw(
                    st.none()
                    | URL.map(lambda u: u + ".png")
                    | URL.map(lambda u: u + "\x00\x1b.png")
                ),
                image_caption=draw(st.none() | TEXT),
                language=draw(st.sampled_from(["en", "fa", "ar-IQ", "", "not a tag!"])),
                sections=tuple(draw(st.sets(st.sampled_from(["north-africa", "iran"])))),
            )
        )
    return out


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(articles=stored_articles())
def test_any_stored_article_renders_to_valid_feeds(articles: list[Article]) -> None:
    expected = [render.publishable(a) for a in articles]
    for fmt in render.FORMATS:
        data = render.render(fmt, HUB_INFO, articles)
        assert PROBLEMS[fmt](data) == [], fmt
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(render.render(fmt, HUB_INFO, articles))
        assert [e.id for e in parsed.entries] == [a.guid for a in articles]
        assert [e.link for e in parsed.entries] == [a.url for a in expected]
    atom = etree.fromstring(render.render("atom", HUB_INFO, articles))
    entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in entries]
    assert titles == [a.title for a in expected]
    items = json.loads(render.render("json", HUB_INFO, articles))["items"]
    assert [(i["title"], i["content_html"]) for i in items] == [
        (a.title, a.content_html) for a in expected
    ]
