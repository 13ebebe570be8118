"""The pictures of an article body are published in place, each with its caption after it:
lazy-loaded ones with their real address, `<picture>` sources, paragraphs holding a picture;
never a tracking pixel, an icon, a share button, an advertisement, nor the lead image twice.
The published text, and with it the content hash and the GUID, is the same as without them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import feedparser
import lxml.html
import pytest

from syndicator.core.models import Article, Candidate, FeedEntry, Page
from syndicator.extract import extraction, published_html, templates
from syndicator.extract.candidate import to_candidate
from syndicator.extract.source_rules import ArticleRules
from syndicator.publish import render

from .feedrules import atom_problems, json_feed_problems, rss_problems
from .test_extract_regressions import PARAGRAPHS as REGRESSION_PARAGRAPHS
from .test_render import INFO

URL = "https://news.example/2024/05/a-story"
INFO_TIME = datetime(2024, 5, 1, 12, tzinfo=UTC)
# The four paragraphs of the regression pages, and one more.
PARAGRAPHS = [
    *REGRESSION_PARAGRAPHS,
    "The old quay will be turned into a park with a museum of the port's history, which "
    "the council hopes to open in two years' time.",
]
LEAD = (
    "<figure><img src='/img/lead.jpg' alt='The quay' width='1200' height='675'>"
    "<figcaption>The new quay at dawn</figcaption></figure>"
)
# Between the paragraphs: a lazy-loaded figure, a paragraph holding a picture alone, a
# `<picture>` of sources, a WordPress caption box.
PICTURES = [
    "<figure><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' "
    "data-src='/img/cranes.jpg' alt='Two cranes' width='800' height='533' class='lazyload'>"
    "<figcaption>The cranes came from Rotterdam.</figcaption></figure>",
    "<p><img src='https://cdn.news.example/img/berth.jpg' alt='The berth'></p>",
    "<picture><source type='image/avif' srcset='/img/fund.avif'>"
    "<source type='image/webp' srcset='/img/fund-640.webp 640w, /img/fund-1280.webp 1280w'>"
    "<img alt='The fund'></picture>",
    "<div class='wp-caption'><img src='/img/boats.jpg' width='640' height='480' alt=''>"
    "<p class='wp-caption-text'>Fishing boats in the basin.</p></div>",
]


def story(between: list[str], lead: str = LEAD, head: str = "") -> bytes:
    """An article page: the lead figure, then the paragraphs with `between[i]` after
    paragraph i."""
    parts = []
    for i, text in enumerate(PARAGRAPHS):
        parts.append(f"<p>{text}</p>")
        if i < len(between):
            parts.append(between[i])
    return (
        "<!DOCTYPE html><html><head><title>New quay opens | News</title>"
        f"{head}</head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>New quay opens</h1>{lead}{''.join(parts)}</article>"
        "<footer>© News</footer></body></html>"
    ).encode()


def candidate(page: Page) -> Candidate:
    return to_candidate(
        page,
        source="news",
        canonical_origin="https://news.example",
        site_origins={"https://news.example"},
        sections=frozenset(),
        default_language="en",
    )


def figures(html: str) -> list[tuple[str, str, str]]:
    """(src, alt, caption) of each figure of published HTML, in order."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    found = []
    for fig in root.iter("figure"):
        img = fig.find("img")
        assert img is not None
        cap = fig.find("figcaption")
        found.append((img.get("src"), img.get("alt"), "" if cap is None else cap.text_content()))
    return found


def test_the_pictures_of_the_body_are_published_in_place_with_their_captions() -> None:
    cand = candidate(extraction.extract_article(story(PICTURES), URL))
    assert figures(cand.content_html) == [
        # the lead figure, its caption as its description (as before)
        ("https://news.example/img/lead.jpg", "The new quay at dawn", "The new quay at dawn"),
        ("https://news.example/img/cranes.jpg", "Two cranes", "The cranes came from Rotterdam."),
        ("https://cdn.news.example/img/berth.jpg", "The berth", ""),
        # the largest of the sources a reader shows (not AVIF)
        ("https://news.example/img/fund-1280.webp", "The fund", ""),
        ("https://news.example/img/boats.jpg", "", "Fishing boats in the basin."),
    ]
    html = cand.content_html
    # Each picture stands where the page shows it: after the paragraph before it...
    for i, src in enumerate(["cranes.jpg", "berth.jpg", "fund-1280.webp", "boats.jpg"]):
        assert html.index(PARAGRAPHS[i]) < html.index(src) < html.index(PARAGRAPHS[i + 1])
    # ...with its size when the page gave one, and its caption after it.
    assert '<img src="https://news.example/img/cranes.jpg" alt="Two cranes" width="800"' in html
    assert 'height="533"' in html and "data:" not in html and "lazyload" not in html
    assert html.index("cranes.jpg") < html.index("The cranes came") < html.index(PARAGRAPHS[1])


def test_pictures_change_neither_the_text_nor_the_hash() -> None:
    # The content hash (and so a new article's GUID, and whether a page is a duplicate) is
    # taken over the text: an article stored before pictures were published is the same
    # article, and a mirror that shows a picture another leaves out is the same article.
    plain = extraction.extract_article(story([]), URL)
    shown = extraction.extract_article(story(PICTURES), URL)
    assert shown.body_text == plain.body_text == "\n\n".join(PARAGRAPHS)
    assert len(figures(shown.body_html)) == 4 and not figures(plain.body_html)
    a, b = candidate(plain), candidate(shown)
    assert (b.content_hash, b.simhash, b.words) == (a.content_hash, a.simhash, a.words)
    assert b.hash_text == a.hash_text and b.summary == a.summary and b.title == a.title
    # the text of the body alone, captions apart
    assert templates.block_texts(lxml.html.fragment_fromstring(shown.body_html, "div"))[1] == (
        "The cranes came from Rotterdam."
    )


NOT_PICTURES = [
    # a tracking pixel, by attribute and by style
    "<p><img src='https://stats.example/t.gif?id=1' width='1' height='1'>"
    "<img src='https://stats.example/p.gif' style='width:1px;height:1px'></p>",
    # a share row the cleaning removes, and a share button in a link to a sharer
    "<div class='share-buttons'><a href='https://facebook.com/sharer.php?u=x'>"
    "<img src='/img/fb-share.png' alt='Share'></a></div>"
    "<p><a href='https://twitter.com/intent/tweet?url=x'><img src='/img/tw.png'></a></p>",
    # an advertisement as a figure, and an icon
    "<figure><a href='https://shop.example/sale'><img src='/img/banner.png' alt='x'></a>"
    "<figcaption>Advertisement</figcaption></figure>"
    "<p><img src='/img/star.png' width='16' height='16'></p>"
    # a licence's button, and a teaser's thumbnail: linking where a link before it does
    "<p><a rel='license' href='https://creativecommons.org/licenses/by/4.0/'>"
    "<img src='/img/cc-by.png' width='88' height='31' alt='CC BY'></a></p>"
    "<p>Last year <a href='/2024/05/other-story'>ferry prices rose</a> as well, the council "
    "said in its report on the harbour.</p>"
    "<p><a href='/2024/05/other-story'><img src='/img/ferry-thumb.jpg' alt='Ferry'></a></p>",
    # a smiley in the words of a sentence, an avatar, a placeholder with no real source,
    # a picture whose address is a script
    "<p>We were told it went well <img src='/img/1f600.png' class='wp-smiley' alt='😀'> "
    "by the harbour master.</p><p><img src='https://secure.gravatar.com/avatar/ab?s=96'>"
    "<img src='/img/placeholder.gif'><img src='javascript:alert(1)'>"
    "<img data-src='javascript:alert(2)'></p>",
]


def test_pixels_icons_share_buttons_ads_and_placeholders_are_no_pictures() -> None:
    page = extraction.extract_article(story([PICTURES[0], *NOT_PICTURES]), URL)
    html = candidate(page).content_html
    assert [f[0] for f in figures(html)] == [
        "https://news.example/img/lead.jpg",
        "https://news.example/img/cranes.jpg",
    ]
    for word in (
        "stats.example",
        "fb-share",
        "tw.png",
        "banner",
        "star",
        "1f600",
        "gravatar",
        "cc-by",
        "ferry-thumb",
    ):
        assert word not in html
    assert "javascript" not in html.lower() and "Advertisement" not in html
    assert "We were told it went well by the harbour master." in page.body_text


def test_the_lead_image_is_published_once() -> None:
    # The lead image is the body's first figure: published as the item's picture (enclosure,
    # media:content) and as the figure after the first paragraph, never a second time where
    # the page shows it, whichever of its addresses the page or its metadata name.
    lead_in_body = (
        "<figure><img src='/img/lead-640.jpg' srcset='/img/lead-640.jpg 640w, /img/lead.jpg "
        "1200w' alt='The quay'><figcaption>The new quay at dawn</figcaption></figure>"
    )
    page = extraction.extract_article(
        story(
            [lead_in_body, PICTURES[0]],
            lead="",
            head="<meta property='og:image' content='https://news.example/img/lead.jpg'>",
        ),
        URL,
    )
    cand = candidate(page)
    assert cand.image_url == "https://news.example/img/lead-640.jpg"
    assert [f[0] for f in figures(cand.content_html)] == [
        "https://news.example/img/lead-640.jpg",
        "https://news.example/img/cranes.jpg",
    ]
    assert cand.content_html.count("<figcaption>The new quay at dawn") == 1
    # the same when only the og:image names the lead, an address of the body's picture
    page = extraction.extract_article(
        story(
            [lead_in_body.replace("<figure>", "<div>").replace("figcaption", "span")],
            lead="",
            head="<meta property='og:image' content='https://news.example/img/lead.jpg'>",
        ),
        URL,
    )
    assert page.image_url == "https://news.example/img/lead.jpg"
    assert [f[0] for f in figures(candidate(page).content_html)] == [
        "https://news.example/img/lead.jpg"
    ]


def test_a_picture_only_in_the_noscript_copy_of_a_lazy_loader_is_published() -> None:
    lazy = (
        "<figure><img src='/img/spinner-loading.gif' class='lazy'>"
        "<noscript><img src='/img/crowd.jpg' alt='The crowd'></noscript>"
        "<figcaption>Crowds at the opening.</figcaption></figure>"
    )
    page = extraction.extract_article(story([lazy]), URL)
    assert figures(candidate(page).content_html)[1] == (
        "https://news.example/img/crowd.jpg",
        "",
        "Crowds at the opening.",
    )


def test_pictures_outside_the_article_are_not_published() -> None:
    # before the first paragraph is the lead's place; after the last and around the article,
    # an author's photo, a sidebar: only a picture between two blocks of the body is the
    # article's.
    page_bytes = story(PICTURES[:1]).replace(
        b"</article>",
        b"<p><img src='/img/author.jpg' alt='Jane Doe'></p></article>"
        b"<div class='box'><img src='/img/promo.jpg' alt='Promo'><p>Our new app is here "
        b"for every phone and tablet, download it today and read the news on the go.</p></div>",
    )
    html = candidate(extraction.extract_article(page_bytes, URL)).content_html
    assert "author.jpg" not in html and "promo.jpg" not in html
    assert "cranes.jpg" in html


def test_a_body_selector_keeps_the_pictures_between_its_blocks() -> None:
    rules = ArticleRules(selectors={"body": "article"})
    plain = extraction.extract_article(story([]), URL, rules=rules)
    page = extraction.extract_article(story(PICTURES[:2]), URL, rules=rules)
    assert page.body_text == plain.body_text
    assert [f[0] for f in figures(page.body_html)] == [
        "https://news.example/img/cranes.jpg",
        "https://cdn.news.example/img/berth.jpg",
    ]


def test_a_full_text_feed_entry_keeps_its_pictures() -> None:
    content = (
        f"<p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p>{PICTURES[0]}<p>{PARAGRAPHS[2]}</p>"
        "<img src='https://stats.example/t.gif' width='1' height='1'>"
        f"<p>{PARAGRAPHS[3]}</p>"
    )
    entry = FeedEntry(link=URL, title="New quay opens", content_html=content)
    page = extraction.page_from_entry(entry)
    assert page.body_text == "\n\n".join(PARAGRAPHS[:4])
    assert figures(candidate(page).content_html) == [
        ("https://news.example/img/cranes.jpg", "Two cranes", "The cranes came from Rotterdam.")
    ]


@pytest.mark.parametrize(
    "dirty",
    [
        '<figure><img src="javascript:alert(1)" alt="x"></figure>',
        '<figure><img src="data:image/png;base64,iVBORw0KGgo=" alt="x"></figure>',
        '<figure><img src="https://news.example/a.jpg" onerror="alert(1)" alt="x"></figure>',
    ],
)
def test_the_sanitiser_keeps_a_picture_and_nothing_that_runs(dirty: str) -> None:
    kept = published_html.sanitize(
        '<figure><img src="https://news.example/a.jpg" alt="A" width="640" height="480">'
        "<figcaption>Cap</figcaption></figure>"
    )
    assert kept == (
        '<figure><img src="https://news.example/a.jpg" alt="A" width="640" height="480">'
        "<figcaption>Cap</figcaption></figure>"
    )
    cleaned = published_html.sanitize(dirty)
    assert not re.search(r"javascript|data:|onerror", cleaned)


def test_feeds_with_pictures_in_the_body_validate() -> None:
    cand = candidate(extraction.extract_article(story(PICTURES), URL))
    item = Article(
        id=1,
        guid="tag:news.example,2024-05-01:news/1",
        source="news",
        url=cand.canonical_url,
        title=cand.title,
        summary=cand.summary,
        content_html=cand.content_html,
        published=cand.published or INFO_TIME,
        updated=cand.updated or INFO_TIME,
        author=cand.author,
        image_url=cand.image_url,
        image_caption=cand.image_caption,
        language="en",
        sections=("north-africa",),
    )
    rss, atom, feed = (render.render(f, INFO, [item]) for f in ("rss", "atom", "json"))
    assert rss_problems(rss) == [] and atom_problems(atom) == []
    assert json_feed_problems(feed) == []
    for data in (rss, atom):
        content = feedparser.parse(data).entries[0].content[0].value
        assert len(figures(content)) == 5
    assert len(figures(json.loads(feed)["items"][0]["content_html"])) == 5


def test_a_lazy_loaders_picture_is_published_not_its_blurred_preview() -> None:
    # Medium: a 60-pixel blurred preview in `src`, and over it an empty `img` whose picture
    # is in the `noscript` copy; elsewhere a preview in `src` and the picture in `data-src`.
    medium = (
        "<figure><div><div><img src='https://miro.example/max/60/1*abc.png?q=20' "
        "width='997' height='230'></div><img width='997' height='230'><noscript>"
        "<img src='https://miro.example/max/1994/1*abc.png' width='997' height='230'>"
        "</noscript></div><figcaption>Basic CPU monitoring</figcaption></figure>"
    )
    preview = (
        "<p><img src='/img/harbour-small.jpg' data-src='/img/harbour.jpg' alt='The harbour'></p>"
    )
    # a picture 20 pixels wide is an icon, its height untold (a table's tick mark)
    icon = "<p><img src='/img/tick-finished.png' width='20'></p>"
    page = extraction.extract_article(story([medium, preview, icon]), URL)
    assert figures(candidate(page).content_html)[1:] == [
        ("https://miro.example/max/1994/1*abc.png", "", "Basic CPU monitoring"),
        ("https://news.example/img/harbour.jpg", "The harbour", ""),
    ]
