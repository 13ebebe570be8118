"""One definition of each small truth: the origin of a URL, the language-tag rule, and the hosts
a page announces (the same for `syndicate discover` as for the pipeline)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from syndicator.core.identity import is_language_tag, origin
from syndicator.extract.metadata import language_tag as declared_language
from syndicator.mirrors.announced import announced_origins
from syndicator.ops.discover import discover
from syndicator.publish.feedinfo import language_tag as published_language
from syndicator.pull.fetch import Fetcher


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.org/a/b?c=1#d", "https://www.example.org"),
        ("HTTPS://WWW.Example.ORG/Path", "https://www.example.org"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("http://Mirror.Example:81", "http://mirror.example:81"),
        ("https://example.org", "https://example.org"),
    ],
)
def test_the_origin_of_a_url_is_scheme_host_and_port_lower_cased(url: str, expected: str) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("en", True),
        ("en-US", True),
        ("zh-Hant-TW", True),
        ("x-private", True),  # a private-use tag: one letter, then subtags
        ("fa", True),
        ("", False),
        (None, False),
        ("en_US", False),
        ("english language", False),
        ("en-", False),
        ("a" * 9, False),
        ("en-" + "-".join(["abc"] * 9), False),  # 38 characters: more than the store keeps
    ],
)
def test_one_language_tag_rule_for_extraction_and_feeds(value: str | None, ok: bool) -> None:
    assert is_language_tag(value) is ok
    # What extraction keeps as a page's language is what the feeds write as its language.
    if value is not None and " " not in value and "_" not in value:
        assert (declared_language(value) is not None) is ok
    assert (published_language(value) is not None) is ok


HOME = """<!doctype html><html lang="en"><head><title>Example News</title></head><body>
<header><p>Sign up for our newsletter: letters.example.net</p></header>
<main><p>Our new address is new.example.org, please update your bookmarks.</p></main>
<footer><p>This site can also be accessed at the following alternate addresses:</p>
<p>mirror-one.example.com</p><p>http://mirror-two.example.com:8081</p></footer>
</body></html>"""


@pytest.fixture
async def home_url() -> AsyncIterator[str]:
    async def home(request: web.Request) -> web.Response:
        return web.Response(text=HOME, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_discover_proposes_the_mirrors_the_pipeline_would_record(
    home_url: str, fetcher: Fetcher
) -> None:
    found = await discover(home_url, fetcher)
    recorded = announced_origins(HOME.encode(), home_url)
    assert found.mirrors == recorded
    # The announcements' hosts (a port kept), not the newsletter's.
    assert set(recorded) == {
        "http://new.example.org",
        "http://mirror-one.example.com",
        "http://mirror-two.example.com:8081",
    }


async def test_discover_proposes_no_mirror_that_is_the_site_under_the_other_scheme(
    fetcher: Fetcher,
) -> None:
    # The pipeline takes a host of the site under the other scheme (or with or without
    # `www.`) for the site itself, never a candidate; discover proposed it as a mirror, and
    # the config it printed had the site pulled twice.
    port = 0

    async def home(_request: web.Request) -> web.Response:
        page = HOME.replace("mirror-one.example.com", f"https://127.0.0.1:{port}")
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        found = await discover(f"http://127.0.0.1:{port}/", fetcher)
    finally:
        await runner.cleanup()
    assert found.mirrors == ["http://new.example.org", "http://mirror-two.example.com:8081"]
