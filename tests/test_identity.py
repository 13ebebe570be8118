"""Properties of the content hash, through the whole pure path (page bytes -> extract ->
candidate): boilerplate, whitespace, encoding and mirror host never change it; editing one
sentence of the body does."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.core import identity
from syndicator.extract import extraction
from syndicator.extract.candidate import to_candidate

from .corpus.stories import STORIES, Story, plain
from .feedrules import tag_uri_problem

SOURCE_ORIGINS = {
    "https://www.news.example",
    "https://mirror-a.example",
    "https://mirror-b.example",
}
STORY_KEYS = ["wp-harbour", "ptv-ports", "es-cosecha", "ar-water", "fa-metro", "arc-heat"]
PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=9)
phrases = st.lists(words, min_size=2, max_size=7).map(" ".join)
hosts = st.builds(
    lambda name, tld: f"www.{name}.{tld}", words, st.sampled_from(["com", "net", "org", "ir"])
)


def boilerplate_block(kind: str, text: str, host: str, token: str) -> str:
    t = html.escape(text)
    return {
        "share": f'<div class="share-bar"><span>Share this article</span><a href="https://{host}/s">{t}</a></div>',
        "related": f'<div class="related-news"><h3>Related stories</h3><ul><li><a href="/x">{t}'
        f'</a></li><li><a href="/y">{t} two</a></li></ul></div>',
        "mostread": f"<section><h2>Most read</h2><ol><li><a href='/z'>{t}</a></li></ol></section>",
        "script": f"<script>var t = '{token}'; track('{t}');</script>",
        "hidden": f'<input type="hidden" name="csrf" value="{token}"><div hidden>{t}</div>',
        "style": f"<style>.x{{content:'{t}'}}</style>",
        "ad": f'<div class="ad-slot"><p>Advertisement</p><p>{t}</p></div>',
        "newsletter": f'<div class="newsletter"><p>Sign up for our newsletter: {t}</p></div>',
        "comments": f'<div id="comments" class="comments-area"><h2>Comments</h2><p>{t}</p></div>',
        "alternates": "<div><p>This site can also be accessed at the following alternate "
        f"addresses:</p><p>{host}</p><p>mirror-{token[:4]}.example.org</p></div>",
        "nav": f'<nav><ul><li><a href="/">{t}</a></li></ul></nav>',
        "cookie": f'<div class="cookie-banner"><p>We use cookies. {t}</p></div>',
        "readalso": f'<p><strong>Read more:</strong> <a href="https://{host}/other">{t}</a></p>',
    }[kind]


boilerplate = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "share",
                "related",
                "mostread",
                "script",
                "hidden",
                "style",
                "ad",
                "newsletter",
                "comments",
                "alternates",
                "nav",
                "cookie",
                "readalso",
            ]
        ),
        phrases,
        st.integers(min_value=0, max_value=10**9).map(lambda n: f"{n:010d}"),
    ),
    max_size=6,
)


def render(
    story: Story,
    host: str = "www.news.example",
    before: list[str] | None = None,
    inside: list[str] | None = None,
    after: list[str] | None = None,
    space: str = " ",
    charset: str | None = "utf-8",
    paragraphs: list[str] | None = None,
) -> str:
    """A plain news page of the story as one mirror serves it."""
    origin = f"https://{host}"
    texts = (
        paragraphs
        if paragraphs is not None
        else [plain(str(v)) for k, v in story.blocks if k == "p"]
    )
    body = [f"<p>{html.escape(p).replace(' ', space)}</p>" for p in texts]
    inside = inside or []
    for i, block in enumerate(inside):
        body.insert(min(len(body), 1 + i * 2), block)
    dir_attr = ' dir="rtl"' if story.lang in ("ar", "fa") else ""
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{story.lang}"{dir_attr}><head>{meta}'
        f"<title>{html.escape(story.title)} | {host}</title>"
        f'<link rel="canonical" href="https://www.news.example/a/{story.article_id}">'
        f'<meta property="og:url" content="{origin}/a/{story.article_id}">'
        f'<meta property="article:published_time" content="{story.published}"></head>'
        f"<body>{''.join(before or [])}<main><article>"
        f"<h1>{html.escape(story.title).replace(' ', space)}</h1>"
        f'<figure><img src="{origin}/i.jpg" alt="photo">'
        f"<figcaption>{html.escape(story.caption)}</figcaption></figure>"
        f"{''.join(body)}</article></main>{''.join(after or [])}"
        f"<footer>{host}</footer></body></html>"
    )


def content_hash(page: bytes, host: str = "www.news.example", charset: str | None = None) -> str:
    url = f"https://{host}/a/1"
    extracted = extraction.extract_article(page, url, header_charset=charset)
    cand = to_candidate(
        extracted,
        source="news",
        canonical_origin="https://www.news.example",
        site_origins=SOURCE_ORIGINS | {f"https://{host}"},
        sections=frozenset({"news"}),
        default_language="en",
    )
    return cand.content_hash


REFERENCE = {key: content_hash(render(STORIES[key]).encode()) for key in STORY_KEYS}


@PROPERTY
@given(
    key=st.sampled_from(STORY_KEYS),
    before=boilerplate,
    inside=boilerplate,
    after=boilerplate,
    host=hosts,
)
def test_boilerplate_never_changes_the_hash(
    key: str,
    before: list[tuple[str, str, str]],
    inside: list[tuple[str, str, str]],
    after: list[tuple[str, str, str]],
    host: str,
) -> None:
    def blocks(drawn: list[tuple[str, str, str]]) -> list[str]:
        return [boilerplate_block(kind, text, host, token) for kind, text, token in drawn]

    page = render(STORIES[key], before=blocks(before), inside=blocks(inside), after=blocks(after))
    assert content_hash(page.encode()) == REFERENCE[key]


@PROPERTY
@given(
    key=st.sampled_from(STORY_KEYS),
    space=st.lists(
        st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", " \n  "]), min_size=1, max_size=3
    ).map("".join),
    around=st.sampled_from(["", "\n", "\n    ", "\r\n\t"]),
)
def test_whitespace_never_changes_the_hash(key: str, space: str, around: str) -> None:
    page = render(STORIES[key], space=space).replace("><", f">{around}<")
    assert content_hash(page.encode()) == REFERENCE[key]


# (bytes, label): a page labelled ISO-8859-1 whose bytes are windows-1252 is what browsers
# and we read as windows-1252.
ENCODINGS = [
    ("utf-8", "utf-8"),
    ("utf-8-sig", "utf-8"),
    ("utf-16", "utf-16"),
    ("cp1256", "windows-1256"),
    ("cp1252", "windows-1252"),
    ("cp1252", "iso-8859-1"),
    ("iso-8859-1", "iso-8859-1"),
    ("iso-8859-6", "iso-8859-6"),
]


@PROPERTY
@given(
    key=st.sampled_from(STORY_KEYS),
    encoding=st.sampled_from(ENCODINGS),
    where=st.sampled_from(["meta", "header", "both"]),
)
def test_encoding_never_changes_the_hash(key: str, encoding: tuple[str, str], where: str) -> None:
    encoding, label = encoding
    meta = label if where in ("meta", "both") and encoding != "utf-16" else None
    header = label if where in ("header", "both") else None
    page = render(STORIES[key], charset=meta)
    # What a code page cannot hold is written as character references, as CMSs do.
    data = page.encode(encoding, errors="xmlcharrefreplace")
    assert content_hash(data, charset=header) == REFERENCE[key]


@PROPERTY
@given(key=st.sampled_from(STORY_KEYS), host=hosts, mention=st.booleans())
def test_mirror_host_never_changes_the_hash(key: str, host: str, mention: bool) -> None:
    story = STORIES[key]
    texts = [plain(str(v)) for k, v in story.blocks if k == "p"]
    reference = REFERENCE[key]
    if mention:
        # A line that names the host the page is served from, as mirrors' pages do.
        texts = [*texts, "www.news.example"]
        reference = content_hash(render(story, paragraphs=texts).encode())
        texts[-1] = host
    page = render(story, host=host, paragraphs=texts, after=[f"<p>{host}</p>"])
    assert content_hash(page.encode(), host=host) == reference


@PROPERTY
@given(
    key=st.sampled_from(STORY_KEYS),
    index=st.integers(min_value=0, max_value=100),
    replacement=phrases,
)
def test_editing_one_sentence_changes_the_hash(key: str, index: int, replacement: str) -> None:
    story = STORIES[key]
    texts = [plain(str(v)) for k, v in story.blocks if k == "p"]
    i = index % len(texts)
    sentences = re.split(r"(?<=[.!?،؛])\s+", texts[i])
    j = index % len(sentences)
    sentences[j] = replacement.capitalize() + "."
    texts[i] = " ".join(sentences)
    page = render(story, paragraphs=texts)
    assert content_hash(page.encode()) != REFERENCE[key]


quotes = st.sampled_from(["'", "’", "‘", "`"])
dashes = st.sampled_from(["-", "–", "—", "−"])
invisible = st.sampled_from(["", "\u200b", "\u200e", "\u200f", "\ufeff", "\u00ad"])


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.tuples(words, quotes, dashes, invisible), min_size=1, max_size=12))
def test_normal_form_unifies_quotes_dashes_case_and_invisible_marks(
    parts: list[tuple[str, str, str, str]],
) -> None:
    plain_text = " ".join(f"{w}'s - {w}" for w, _, _, _ in parts)
    varied = "  ".join(f"{w.upper()}{inv}{q}s {d}\n{w}" for w, q, d, inv in parts)
    assert identity.normalise(varied) == identity.normalise(plain_text)
    assert identity.content_hash("t", varied) == identity.content_hash("t", plain_text)


# --- pinned values ---------------------------------------------------------------------------
# The stored identity of every article hangs on these: a change here re-identifies every stored
# article. Each expected value is written out by hand from the documented normal form (see the
# comments) and checked again by a computation that does not go through the product's code.
# A deliberate change of the normal form bumps identity.HASH_VERSION, adds a migration that
# calls migrate.rehash_articles, and adds the new version's values here.

GOLDEN_VERSION = 1
GOLDEN_HOSTS = ["www.presstv.ir", "presstv.ir"]
GOLDEN_TITLE = "<b>Iran’s   Minister</b> &amp; the\u00a0Talks"
# Entities decoded, tag dropped; fullwidth Ａ (NFKC -> A); a zero-width space and a soft hyphen
# removed; a mirror's host with its path removed; “ ” and — folded; Persian digits ۱۴۰۳ -> 1403;
# Arabic kaf ك -> Persian ک and a kasra (harakat) dropped; spaces collapsed.
GOLDEN_BODY = (
    "Ａ minis\u200bter said\u00ad: “Talks — resumed” in ۱۴۰۳.\n\n"
    "Read it on https://www.presstv.ir/Detail/1 today. كِتاب"
)
GOLDEN_NORMAL_TITLE = "iran's minister & the talks"
GOLDEN_NORMAL_BODY = 'a minister said: "talks - resumed" in 1403. read it on today. کتاب'
GOLDEN_HASH = "4bcdfaa439aca05261b13d524276e2a7bf96539d5fc5d44a40e5a8309153f5be"
GOLDEN_SIMHASH_TITLE_AND_BODY = 6767069374612674766
GOLDEN_GUID = "tag:www.presstv.ir,2024-05-01:presstv/4bcdfaa439aca05261b13d524276e2a7"


def reference_simhash(words: list[str]) -> int:
    """SimHash from its definition, slowly: for every 3-word shingle, the 64-bit BLAKE2b of its
    text read as a big-endian number; bit b of the result is set when more than half of the
    shingles have bit b set. A text under three words is one shingle. Signed 64-bit."""
    shingles = [" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))]
    if not words:
        return 0
    values = [
        int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "big")
        for s in shingles
    ]
    result = 0
    for bit in range(64):
        ones = sum(1 for v in values if v >> bit & 1)
        if ones > len(values) - ones:
            result |= 1 << bit
    return result - 2**64 if result >= 2**63 else result


def test_the_pinned_values_are_those_of_the_current_hash_version() -> None:
    assert identity.HASH_VERSION == GOLDEN_VERSION, (
        "a new hash version: add its pinned values and a migration calling rehash_articles"
    )


def test_the_normal_form_of_a_fixed_text() -> None:
    assert identity.normalise(GOLDEN_TITLE, GOLDEN_HOSTS) == GOLDEN_NORMAL_TITLE
    assert identity.normalise(GOLDEN_BODY, GOLDEN_HOSTS) == GOLDEN_NORMAL_BODY


def test_the_content_hash_of_a_fixed_text() -> None:
    # BLAKE2b-256 of normal(title) + "\n" + normal(body), from the literal normal forms.
    data = (GOLDEN_NORMAL_TITLE + "\n" + GOLDEN_NORMAL_BODY).encode("utf-8")
    assert hashlib.blake2b(data, digest_size=32).hexdigest() == GOLDEN_HASH
    assert identity.content_hash(GOLDEN_TITLE, GOLDEN_BODY, GOLDEN_HOSTS) == GOLDEN_HASH


def test_the_simhash_of_a_fixed_text_is_the_one_its_definition_gives() -> None:
    words = re.findall(r"\w+", GOLDEN_NORMAL_TITLE + "\n" + GOLDEN_NORMAL_BODY)
    assert reference_simhash(words) == GOLDEN_SIMHASH_TITLE_AND_BODY
    content_hash, simhash, count = identity.fingerprint(GOLDEN_TITLE, GOLDEN_BODY, GOLDEN_HOSTS)
    assert (content_hash, simhash, count) == (GOLDEN_HASH, GOLDEN_SIMHASH_TITLE_AND_BODY, 17)
    # Texts of one, two and many shingles; and bits set and clear in every lane.
    for text in ["one", "two words", "a b c", " ".join(f"w{n}" for n in range(200))]:
        assert identity.simhash(text) == reference_simhash(re.findall(r"\w+", text)), text


def test_the_guid_of_a_fixed_article() -> None:
    published = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    guid = identity.make_guid("https://www.presstv.ir", "presstv", GOLDEN_HASH, published)
    assert guid == GOLDEN_GUID
    assert guid == f"tag:www.presstv.ir,2024-05-01:presstv/{GOLDEN_HASH[:32]}"


def test_the_guid_of_an_article_from_a_site_at_an_ipv6_address_is_a_tag_uri() -> None:
    # It was `tag:2001:db8::2,2024-05-01:...`, no tag: URI (RFC 4151 wants a DNS name), and
    # so was the Atom id of each of its entries.
    published = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    name = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    for origin in ("http://[2001:db8::2]:8081", "https://[2001:DB8:0::2]"):
        guid = identity.make_guid(origin, "presstv", GOLDEN_HASH, published)
        assert guid == f"tag:{name},2024-05-01:presstv/{GOLDEN_HASH[:32]}"
        assert tag_uri_problem(guid, "entry") == []


def test_the_guid_of_an_article_from_a_host_with_an_underscore_is_a_tag_uri() -> None:
    # It was `tag:news_site.example,2024-05-01:...`, no tag: URI: RFC 4151's DNS names have
    # letters, digits and hyphens alone.
    published = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    guid = identity.make_guid("https://news_site.example", "presstv", GOLDEN_HASH, published)
    assert guid == f"tag:news_site@example,2024-05-01:presstv/{GOLDEN_HASH[:32]}"
    assert tag_uri_problem(guid, "entry") == []


@pytest.mark.parametrize(
    ("link", "joined"),
    [
        ("/Detail/1/a", "https://m.example/Detail/1/a"),
        ("  /Detail/1/a\n", "https://m.example/Detail/1/a"),
        ("/Detail/1/\ta\nb\r", "https://m.example/Detail/1/ab"),  # as browsers: removed
        ("/Detail/1/a\x00b\x1bc\x7f", "https://m.example/Detail/1/a%00b%1Bc%7F"),
        ("/Detail/1/\udcff\udcfe", "https://m.example/Detail/1/%FF%FE"),  # header bytes 0xFF 0xFE
        ("/img/Seite 4_Peter.JPG", "https://m.example/img/Seite%204_Peter.JPG"),  # real pages
        ('/q?a="b"&c=<d>`', "https://m.example/q?a=%22b%22&c=%3Cd%3E%60"),
        ("http:/cdn.example/x.jpg", "http://cdn.example/x.jpg"),  # a real page's og:image
        ("https:/other.example/x", "https://m.example/other.example/x"),  # same scheme: a path
        ("http:", None),
        ("http://[::1", None),
    ],
    ids=[
        "plain",
        "spaces",
        "tab and newline",
        "controls",
        "bytes not utf-8",
        "space inside",
        "quotes and brackets",
        "one slash short",
        "one slash short, same scheme",
        "scheme only",
        "no URL",
    ],
)
def test_a_link_is_joined_as_browsers_join_it(link: str, joined: str | None) -> None:
    assert identity.join_url("https://m.example/Section/2", link) == joined


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        ("https://m.example/Detail/1/a%20b?q=1#x", "https://m.example/Detail/1/a%20b?q=1#x"),
        ("https://m.example/خبر?q=ä#é", "https://m.example/%D8%AE%D8%A8%D8%B1?q=%C3%A4#%C3%A9"),
        ("https://bücher.example:8080/a", "https://xn--bcher-kva.example:8080/a"),
        ("https://user:pä@m.example/", "https://user:p%C3%A4@m.example/"),
        ("http://[::1]:8080/ä", "http://[::1]:8080/%C3%A4"),
        ("https://m.example/\U0001f600", "https://m.example/%F0%9F%98%80"),
    ],
    ids=["ascii", "path query fragment", "idn host and port", "userinfo", "ipv6", "astral"],
)
def test_a_link_in_other_scripts_is_made_a_uri(iri: str, uri: str) -> None:
    assert identity.as_uri(iri) == uri


def test_a_link_under_the_other_scheme_is_on_the_known_origin() -> None:
    origins = {"https://www.presstv.ir", "http://127.0.0.1:8081"}
    assert identity.known_origin("http://www.presstv.ir/Detail/1", origins) == (
        "https://www.presstv.ir"
    )
    assert identity.known_origin("https://www.presstv.ir:443/a", origins) == (
        "https://www.presstv.ir"
    )
    assert identity.known_origin("https://127.0.0.1:8081/a", origins) == "http://127.0.0.1:8081"
    # Another port, another host or no http(s) URL is another site.
    assert identity.known_origin("https://127.0.0.1:8082/a", origins) is None
    # The same host with or without `www.` is the same site, either way round.
    assert identity.known_origin("https://presstv.ir/Detail/1", origins) == (
        "https://www.presstv.ir"
    )
    assert identity.known_origin("http://www.presstv.ir/a", {"https://presstv.ir"}) == (
        "https://presstv.ir"
    )
    assert identity.known_origin("https://news.presstv.ir/a", origins) is None
    assert identity.known_origin("https://wwwpresstv.ir/a", origins) is None
    assert identity.known_origin("ftp://www.presstv.ir/a", origins) is None
    assert identity.known_origin("http://[::1/a", origins) is None
    assert identity.onto_origin("http://www.presstv.ir/a?b=1#c", "https://www.presstv.ir") == (
        "https://www.presstv.ir/a?b=1#c"
    )


def test_the_spellings_of_one_url_share_one_key() -> None:
    # RFC 3986 6.2.2: letters as they are or percent-encoded as UTF-8, escapes in either
    # case, escapes of unreserved characters; a reserved character's escape stays one.
    key = identity.url_key("https://news.example/Detail/%d8%ae%D8%A8%D8%B1-%7E1")
    assert key == identity.url_key("https://news.example/Detail/خبر-~1")
    assert key == "https://news.example/Detail/%D8%AE%D8%A8%D8%B1-~1"
    assert identity.url_key("https://news.example/a%2Fb") != identity.url_key(
        "https://news.example/a/b"
    )


_FE80 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa"


@pytest.mark.parametrize(
    ("host", "authority"),
    [
        # Host names and IPv4 addresses are DNS names by RFC 4151's grammar: ids kept.
        ("www.presstv.ir", "www.presstv.ir"),
        ("127.0.0.1", "127.0.0.1"),
        (None, "localhost"),
        # A fully qualified name's final dot would end the name with an empty label.
        ("news.example.", "news.example"),
        # An IPv6 address's colons are no DNS name: its ip6.arpa name, however written.
        ("::1", "1." + "0." * 31 + "ip6.arpa"),
        ("fe80::1", _FE80),
        ("FE80:0:0:0:0:0:0:1", _FE80),
        ("fe80::1%eth0", _FE80),
        # A label with `_` (a container's name) is no DNS name's: the labels up to the last
        # of them are an email address's local part at the DNS name after them, the host
        # whole, as RFC 4151's other authority is written; with no DNS name after them,
        # at `invalid` (RFC 6761), a name that is no host's.
        ("my_site.example.com", "my_site@example.com"),
        ("a.b_c.d_e.news.example", "a.b_c.d_e@news.example"),
        ("syndicator_web", "syndicator_web@invalid"),
        ("news.my_lan.", "news.my_lan@invalid"),
        # A name of other scripts is its IDNA form, the DNS name looked up: as written, the
        # id was an IRI, `tag:пример.рф,...`, no tag: URI.
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("www.bücher.example", "www.xn--bcher-kva.example"),
    ],
)
def test_tag_authorities_are_dns_names(host: str | None, authority: str) -> None:
    assert identity.tag_authority(host) == authority
    assert tag_uri_problem(f"tag:{authority},2026:syndicator/world", "feed") == []
