"""The cheap look for announcement words in front of the announcement pattern: it must never
let an announcement the pattern finds go unread, and it must spare the pattern on pages that
announce nothing."""

from __future__ import annotations

import logging

import pytest

from syndicator.mirrors.announced import _ANNOUNCEMENT, announced_origins, may_announce

# Every branch of `_ANNOUNCEMENT`, with each of its word choices and in mixed case.
PHRASES = [
    "can also be accessed at",
    "May also be reached on",
    "can also be found via",
    "CAN ALSO BE READ AT",
    "alternate addresses:",
    "Alternative address:",
    "alternate domain:",
    "alternative domains:",
    "Alternate links:",
    "alternative URL:",
    "alternate urls:",
    "Our new address is",
    "new domains are",
    "New Addresses are",
    "Mirror sites:",
    "mirror addresses :",
    "mirror domain:",
    "We have moved to",
    "The site has moved to",
    "our website has moved to",
    "يمكنكم متابعتنا على العناوين البديلة التالية:",
    "على العناوين التالية:",
    "از طریق نشانی\u200cهای زیر:",
    "نشانی‌های جایگزین:",
    "از طریق نشانیهای زیر:",
    "از طریق نشانی های زیر:",  # a space where the zero-width non-joiner goes
    "نشانی های جایگزین:",
    "از طریق آدرس\u200cهای زیر:",
    "آدرس های جایگزین:",  # "address" as Iranians mostly type it, with a space
    "HispanTV también se puede acceder en las siguientes direcciones:",
    "Direcciones alternativas:",
    "dirección alternativa:",
    "direccion alternativa:",  # typed without the accent
    "Le site est également accessible aux adresses suivantes :",
    "Adresses alternatives :",
    "adresse alternative :",
]


@pytest.mark.parametrize("phrase", PHRASES)
def test_every_announcement_the_pattern_finds_passes_the_word_look(phrase: str) -> None:
    assert _ANNOUNCEMENT.search(phrase), phrase  # the phrase is one the pattern knows
    assert may_announce(phrase)
    page = f"<html><body><p>Story.</p><p>{phrase} example-mirror.org</p></body></html>"
    assert announced_origins(page.encode(), "https://example.com/a") == [
        "https://example-mirror.org"
    ]


def test_a_page_that_announces_nothing_is_not_searched_with_the_pattern() -> None:
    # Words near the announcements' (a feed link, news, a moved paragraph) are not them.
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
        "<body><p>New rules for the new port were announced; the minister moved the date."
        "</p><p>Mirrors of the lake.</p></body></html>"
    )
    assert not may_announce(page)
    assert announced_origins(page.encode(), "https://example.com/a") == []


@pytest.mark.parametrize(
    "text",
    [
        "La nueva dirección del partido cambió la dirección de su política.",
        "Son adresse était connue ; l'adresse de l'ambassade aussi.",
        "آدرس سفارت در خیابان ولیعصر است.",
    ],
)
def test_a_page_whose_words_for_address_announce_nothing_is_not_searched(text: str) -> None:
    # Spanish, French and Persian news say "address" (and "direction") all the time: looking
    # for the bare word would run the pattern on nearly every page in those languages.
    page = f"<html><body><p>{text}</p></body></html>"
    assert not may_announce(page)
    assert announced_origins(page.encode(), "https://example.com/a") == []


def test_a_comment_between_the_lines_of_an_announced_list_is_passed_over() -> None:
    page = (
        b"<html><body><p>This site can also be accessed at the following alternate addresses:"
        b"</p><!-- mirrors --><p>alt.example</p><?php echo ?><p>alt2.example.net</p>"
        b"</body></html>"
    )
    assert announced_origins(page, "https://www.news.example/") == [
        "https://alt.example",
        "https://alt2.example.net",
    ]


def test_an_announcement_below_300_unclosed_divs_is_read() -> None:
    # The footer comes last; libxml2 stopped reading at 256 levels of nesting, so a page
    # whose blocks never close their <div> announced nothing.
    blocks = "".join(f"<div><p>Paragraph {i}.</p>" for i in range(300))
    page = (
        f"<html><body>{blocks}<p>This site can also be accessed at the following alternate "
        "addresses:</p><p>alt.example</p><p>alt2.example.net</p></body></html>"
    ).encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://alt.example",
        "https://alt2.example.net",
    ]


def test_announced_links_give_their_host_and_port_and_links_that_are_no_url_nothing() -> None:
    links = [
        "http://[::1/",  # no URL: urlsplit raises
        "https://alt.example evil/",  # a space in the host
        "https://user:secret@alt.example:8443/a",  # the user name is no part of an origin
        "http://alt2.example.net:99999/",  # no port
        "https://ALT3.example.org/",
        "https://xn--e1afmkfd.xn--p1ai/",  # a punycode TLD
        "https://خبر.example.ir/",  # a host name in Arabic script
    ]
    anchors = "".join(f"<a href='{href}'>a mirror</a> " for href in links).encode()
    page = b"<html><body><p>Alternate addresses: " + anchors + b"</p></body></html>"
    assert announced_origins(page, "https://www.news.example/") == [
        "https://alt.example:8443",
        "https://alt3.example.org",
        "https://xn--e1afmkfd.xn--p1ai",
        "https://خبر.example.ir",
    ]


@pytest.mark.parametrize(
    "hosts",
    [
        "<p>{a}:<br>alt.example<br/>alt2.example.net</p>",
        "<p>{a}:</p><ul><li>alt.example</li><li>alt2.example.net</li></ul>",
        "<div>{a}:<div>alt.example</div><div>alt2.example.net</div></div>",
    ],
)
def test_hosts_listed_one_a_line_are_each_read(hosts: str) -> None:
    # A list written one host a line (a <br> after each, or an item each) was read as one
    # run of text: "alt.examplealt2.example.net" was recorded as a candidate, and neither
    # of the two hosts the page named.
    phrase = "This site can also be accessed at the following alternate addresses"
    page = f"<html><body><p>Story.</p>{hosts.format(a=phrase)}</body></html>".encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://alt.example",
        "https://alt2.example.net",
    ]


@pytest.mark.parametrize(
    "announcement",
    [
        "<p>يمكنكم متابعتنا على العناوين البديلة التالية:</p>",
        "<h3>Mirror sites:</h3>",
    ],
)
def test_a_list_of_links_under_the_sites_name_gives_their_hosts(announcement: str) -> None:
    # The lines after the announcement link each address's home page under the site's name,
    # not its host: no host was read from them, and the list announced nothing.
    page = (
        f"<html><body><p>Story.</p>{announcement}"
        "<ul><li><a href='https://www.alt.example/'>العالم</a></li>"
        "<li><a href='https://alt2.example.net'>Mirror 2</a></li></ul>"
        "<div class='share'><a href='https://social.example/share?u=x'>Share</a></div>"
        "</body></html>"
    ).encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://www.alt.example",
        "https://alt2.example.net",
    ]


def test_a_host_under_a_top_level_domain_of_another_script_is_read_as_text() -> None:
    # `presstv.xn--mgba3a4f16a` (.ایران) written as text: its top-level domain has digits and
    # hyphens, and the host was not read at all.
    page = (
        b"<html><body><p>This site can also be accessed at the following alternate addresses: "
        b"presstv.xn--mgba3a4f16a, xn--e1afmkfd.xn--p1ai:8443 and alt.example</p></body></html>"
    )
    assert announced_origins(page, "https://www.news.example/") == [
        "https://presstv.xn--mgba3a4f16a",
        "https://xn--e1afmkfd.xn--p1ai:8443",
        "https://alt.example",
    ]


@pytest.mark.parametrize(
    "table",
    [
        "<tr><td>{a}:</td></tr><tr><td>alt.example</td></tr><tr><td>alt2.example.net</td></tr>",
        "<tr><th>{a}</th></tr><tr><td><a href='https://alt.example/'>Mirror 1</a></td></tr>"
        "<tr><td><a href='https://alt2.example.net/'>Mirror 2</a></td></tr>",
        "<tr><td>{a}:</td><td>alt.example</td><td>alt2.example.net</td></tr>",
    ],
)
def test_hosts_listed_in_table_cells_are_each_read(table: str) -> None:
    # A footer laid out as a table (the announcement in one cell, the hosts in the cells or
    # rows after it) announced nothing: a cell was never looked at for the announcement.
    phrase = "This site can also be accessed at the following alternate addresses"
    page = (
        f"<html><body><p>Story.</p><table>{table.format(a=phrase)}</table>"
        "<p><a href='https://social.example/share?u=x'>Share</a></p></body></html>"
    ).encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://alt.example",
        "https://alt2.example.net",
    ]


def test_a_host_name_of_another_script_written_as_text_is_read_as_a_browser_reaches_it() -> None:
    # `пример.рф` written as text, not a link: only ASCII names were read from text, and the
    # announced address was lost. Capitals are folded as IDNA folds them.
    page = (
        "<html><body><p>This site can also be accessed at the following alternate addresses: "
        "ПРИМЕР.рф, alt.example:8443 and http://presstv.ایران.</p>"
        "<p>خبر.example.ir</p><p>www.presstv.ایران</p></body></html>"
    ).encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://пример.рф",
        "https://alt.example:8443",
        "http://presstv.ایران",
        "https://خبر.example.ir",
        "https://www.presstv.ایران",  # not `www.presstv` too
    ]


def test_a_host_written_with_a_soft_hyphen_or_zero_width_space_is_read_whole() -> None:
    # A CMS breaks long words with a soft hyphen (`&shy;`) or a zero-width space: the host
    # `www.presstv.co.uk` was read as `tv.co.uk` (a host of no one), `alt.example` as `alt`.
    page = (
        "<html><body><p>This site can also be accessed at the following alternate addresses:"
        "</p><p>www.press&shy;tv.co.uk</p><p>alt.exam\u200bple</p><p>www.presstv\u200b.ir</p>"
        "</body></html>"
    ).encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://www.presstv.co.uk",
        "https://alt.example",
        "https://www.presstv.ir",
    ]


def test_an_announced_ipv4_address_and_the_longest_label_are_kept() -> None:
    # The rule refuses a host ending in a number only when it is no IPv4 address, and a
    # label only past 63 octets.
    longest = "x" * 63 + ".example"
    page = (
        "<html><body><p>This site can also be accessed at the following alternate addresses:"
        f" <a href='https://192.0.2.1/'>one</a>, <a href='https://{longest}/'>two</a>,"
        " <a href='https://example.com1/'>three</a></p></body></html>"
    ).encode()
    assert announced_origins(page, "https://www.news.example/") == [
        "https://192.0.2.1",
        f"https://{longest}",
        "https://example.com1",
    ]


@pytest.mark.parametrize(
    "host",
    [
        "a~b.example",
        "-bad.example",
        "bad-.example",
        "a!b.example",
        "a$b.example",
        "a%41.b",
        # A browser reads a host ending in a number as an IPv4 address and refuses these.
        "1.2.3.999",
        "example.123",
        "300.1.1.1",
        # No resolver looks up a label past 63 octets or a name past 253 (RFC 1035).
        "x" * 64 + ".example",
        ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62]),
    ],
)
def test_an_announced_host_that_is_no_host_name_is_dropped_with_a_log(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A link's host was taken as long as it had a dot: `https://a~b.example/` was recorded
    # as a candidate mirror and shown in `syndicate mirrors` and /api/mirrors, though no
    # resolver reaches it. The rule is the one the config's hosts obey.
    page = (
        "<html><body><p>This site can also be accessed at the following alternate addresses:"
        f" <a href='https://{host}/'>one</a>, <a href='https://alt.example/'>two</a></p>"
        "</body></html>"
    ).encode()
    with caplog.at_level(logging.DEBUG, logger="syndicator.mirrors"):
        assert announced_origins(page, "https://www.news.example/a") == ["https://alt.example"]
    [record] = [r for r in caplog.records if host in r.getMessage()]
    assert record.levelno == logging.DEBUG
    assert "no host name" in record.getMessage(), record.getMessage()
    assert "https://www.news.example/a" in record.getMessage(), record.getMessage()
