"""The publishing keys of `service`: cache max-age, WebSub hub and archive pages."""

from __future__ import annotations

import json
from collections.abc import Callable

import feedparser
import lxml.html
import pytest
from lxml import etree

from syndicator.core.config import Config
from syndicator.core.errors import ConfigError
from syndicator.publish import render
from syndicator.publish.documents import FeedBook
from syndicator.store import Store

from .feedrules import PROBLEMS, open_directions

BASE = """service:
  public_url: http://feeds.example.test
{service}
sections:
  iran: {{title: Iran}}
sources:
  news:
    title: News
    canonical: https://news.example.test
    sections:
      iran: {{feed: /rss.xml}}
"""


def test_defaults_and_given_values(write_config: Callable[[str], Config]) -> None:
    service = write_config(BASE.format(service="")).service
    assert service.cache_max_age == 300 and service.websub.hub is None
    assert service.archive.enabled and service.page_size == 50  # max_items
    text = BASE.format(
        service="  cache_max_age: 1h\n  websub: {hub: 'https://hub.example.test/', delay: 250ms}\n"
        "  archive: {enabled: false, page_size: 20}"
    )
    service = write_config(text).service
    assert service.cache_max_age == 3600
    assert service.websub.hub == "https://hub.example.test/" and service.websub.delay == 0.25
    assert not service.archive.enabled and service.archive.page_size == 20


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("  websub: {hub: 'ftp://hub.example.test/'}", "service.websub.hub: Value error, 'ftp"),
        ("  archive: {page_size: 0}", "service.archive.page_size: Input should be greater"),
        ("  archive: {pagesize: 10}", "service.archive.pagesize: unknown key (did you mean"),
        ("  cache_max_age: soon", "service.cache_max_age: Value error, 'soon' is not a duration"),
    ],
)
def test_mistakes_name_the_line_and_key(
    write_config: Callable[[str], Config], service: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(BASE.format(service=service))
    [problem] = caught.value.problems
    assert ":3:" in problem and message in problem, problem


def test_archive_pages_default_to_max_items_and_may_not_exceed_it(
    write_config: Callable[[str], Config],
) -> None:
    def service(lines: str) -> str:
        return BASE.format(service="  max_items: 20\n" + lines)

    assert write_config(service("")).service.page_size == 20
    assert write_config(service("  archive: {page_size: 5}")).service.page_size == 5
    with pytest.raises(ConfigError) as caught:
        write_config(service("  archive: {page_size: 50}"))
    assert "archive.page_size (50) is larger than max_items (20)" in str(caught.value)
    off = write_config(service("  archive: {enabled: false, page_size: 50}"))
    assert not off.service.archive.enabled


async def test_a_public_url_in_other_scripts_makes_self_links_that_are_uris(
    write_config: Callable[[str], Config], store: Store
) -> None:
    # A site at an IDN address put it, as written, into every self link, feed_url, Atom id,
    # hub link and OPML address: RSS, JSON Feed and OPML carry URLs, the W3C validator
    # calls an IRI there an error, and readers parsing URIs (NetNewsWire before 5.1, Ruby's
    # URI) could not subscribe.
    text = BASE.replace("http://feeds.example.test", "https://اخبار.example/خبر/").format(
        service="  websub: {hub: 'https://هاب.example/'}"
    )
    config = write_config(text)
    site = "https://xn--mgbacxr.example/%D8%AE%D8%A8%D8%B1"
    assert config.service.public_url == site
    assert config.service.websub.hub == "https://xn--mgbc5g.example/"
    book = FeedBook(config, store)
    assert (
        book.info("iran").feed_id
        == "tag:xn--mgbacxr.example,2026:syndicator/%D8%AE%D8%A8%D8%B1/iran"
    )
    for fmt in render.FORMATS:
        body = (await book.get("iran", fmt)).body
        assert f"{site}/feeds/iran.{fmt}".encode() in body
        assert PROBLEMS[fmt](body) == [], fmt
    assert f'xmlUrl="{site}/feeds/iran.rss"'.encode() in await book.opml()


async def test_services_under_their_own_paths_on_one_host_give_feeds_their_own_ids(
    write_config: Callable[[str], Config], store: Store
) -> None:
    # The Atom feed id was made of the public host alone: two services on one host under
    # their own paths (one per publisher, behind one proxy) gave their sections of one name,
    # and their `all` feeds, one id, and readers and planets that key a feed on its id
    # (RFC 4287 4.2.6: an id is universally unique) took one feed for the other.
    ids: dict[str, set[str]] = {}
    for site in ("https://h.example", "https://h.example/news", "https://h.example/sport"):
        text = BASE.replace("http://feeds.example.test", site).format(service="")
        book = FeedBook(write_config(text), store)
        ids[site] = set()
        for section in ("iran", "all"):
            body = (await book.get(section, "atom")).body
            assert PROBLEMS["atom"](body) == []
            feed = feedparser.parse(body).feed
            ids[site].add(feed.id)
            # Its archive pages are parts of the same feed, under the same id.
            assert book.info(section, range(1, 2), 1).id == feed.id
    # A site at the host's root keeps the id it always had.
    assert ids["https://h.example"] == {
        "tag:h.example,2026:syndicator/iran",
        "tag:h.example,2026:syndicator/all",
    }
    assert ids["https://h.example/news"] == {
        "tag:h.example,2026:syndicator/news/iran",
        "tag:h.example,2026:syndicator/news/all",
    }
    assert len(set().union(*ids.values())) == 6


async def test_a_site_at_an_ipv6_address_gives_its_feeds_tag_uri_ids(
    write_config: Callable[[str], Config], store: Store
) -> None:
    # The feed id was made of the public host as written: `tag:2001:db8::1,2026:...`, whose
    # colons make it no tag: URI (RFC 4151 wants a DNS name). The address's ip6.arpa name is
    # the DNS name that stands for it and no other, however the address is written.
    name = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    for site in ("http://[2001:db8::1]:8080", "http://[2001:0DB8:0:0::1]/"):
        text = BASE.replace("http://feeds.example.test", site).format(service="")
        book = FeedBook(write_config(text), store)
        for section in ("iran", "all"):
            body = (await book.get(section, "atom")).body
            assert PROBLEMS["atom"](body) == [], site
            assert feedparser.parse(body).feed.id == f"tag:{name},2026:syndicator/{section}"
            assert book.info(section, range(1, 2), 1).id == feedparser.parse(body).feed.id
            # Its links still name the address readers reach it at.
            assert b'href="http://[2001:' in body


async def test_a_site_at_a_host_with_an_underscore_gives_its_feeds_tag_uri_ids(
    write_config: Callable[[str], Config], store: Store
) -> None:
    # The feed id was `tag:feeds_web,2026:...` for a container's name as the public host: no
    # tag: URI, since RFC 4151's DNS names have letters, digits and hyphens alone.
    for site, authority in (
        ("http://feeds_web:8080", "feeds_web@invalid"),
        ("https://my_feeds.example.test", "my_feeds@example.test"),
    ):
        text = BASE.replace("http://feeds.example.test", site).format(service="")
        book = FeedBook(write_config(text), store)
        for section in ("iran", "all"):
            body = (await book.get(section, "atom")).body
            assert PROBLEMS["atom"](body) == [], site
            assert feedparser.parse(body).feed.id == f"tag:{authority},2026:syndicator/{section}"
            assert book.info(section, range(1, 2), 1).id == feedparser.parse(body).feed.id
            assert f'href="{site}/'.encode() in body


async def test_direction_controls_in_config_titles_end_with_each_title(
    write_config: Callable[[str], Config], store: Store
) -> None:
    # A title from the config was published as written: `title: "Ne\u202ews"` left the
    # right-to-left override open, and a reader's list showed whatever came after it (the
    # section's name after the service's, the next feed's title, the date) backwards.
    text = (
        BASE.format(service='  title: "Ne\\u202ews \\u2067Agency"')
        .replace(
            "{title: Iran}",
            '{title: "\\u202bIran\\u202c\\u202c \\u202d", description: "Iran \\u2068news"}',
        )
        .replace("title: News", 'title: "News \\u202aWire"')
    )
    config = write_config(text)
    book = FeedBook(config, store)
    texts: list[str] = []
    for section in ("iran", "all"):
        for fmt in ("atom", "rss"):
            body = (await book.get(section, fmt)).body
            texts += [el.text for el in etree.fromstring(body).iter() if el.text]
        feed = json.loads((await book.get(section, "json")).body)
        texts += [feed["title"], feed.get("description", "")]
    opml = etree.fromstring(await book.opml())
    texts += [el.findtext("title") or "" for el in opml.iter("head")]
    texts += [v for el in opml.iter("outline") for v in el.attrib.values()]
    for html in (await book.index_html(), await book.section_html("iran")):
        tree = lxml.html.fromstring(html)
        texts += [t for t in tree.itertext()] + [v for el in tree.iter() for v in el.values()]
    assert any("Agency" in t for t in texts) and any("news" in t for t in texts)
    for text in texts:
        assert open_directions(text) == "", repr(text)
