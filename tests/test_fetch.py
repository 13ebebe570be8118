"""The fetcher's limits against a real loopback server: decompressed-size cap, redirect count,
Retry-After, the redirect policy between known and unknown hosts, and the total deadline of a
request whose answer drips in."""

from __future__ import annotations

import asyncio
import gzip
import os
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from syndicator.core.errors import ExtractError, FetchError, Throttled
from syndicator.core.models import FetchLimits
from syndicator.pull.fetch import Fetcher
from syndicator.pull.responses import parse_retry_after, validator

BOMB = gzip.compress(b"\0" * (16 * 1024 * 1024), 6)
TEXT = ("<p>" + "Steady news from the harbour. " * 40 + "</p>").encode()


async def compressed(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    if kind == "gzip":
        body, encoding = gzip.compress(TEXT), "gzip"
    elif kind == "deflate":
        body, encoding = zlib.compress(TEXT), "deflate"
    elif kind == "raw-deflate":
        c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body, encoding = c.compress(TEXT) + c.flush(), "deflate"
    elif kind == "members":  # two gzip members, then a newline a server added
        half = len(TEXT) // 2
        body, encoding = gzip.compress(TEXT[:half]) + gzip.compress(TEXT[half:]) + b"\n", "gzip"
    elif kind in ("no-footer", "half-footer"):  # the check bytes left out, or cut
        body, encoding = gzip.compress(TEXT)[: -8 if kind == "no-footer" else -3], "gzip"
    elif kind == "zlib-no-check":
        body, encoding = zlib.compress(TEXT)[:-4], "deflate"
    elif kind == "empty":
        body, encoding = b"", "gzip"
    elif kind in ("cut", "cut-member"):  # cut where it was flushed: all it holds inflates
        c = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        cut = c.compress(TEXT[:-20]) + c.flush(zlib.Z_SYNC_FLUSH)
        body = gzip.compress(b"<p>First.</p>") + cut if kind == "cut-member" else cut
        encoding = "gzip"
    else:  # a bomb: 16 MiB of zeros in about 16 KiB
        body, encoding = BOMB, "gzip"
    return web.Response(body=body, headers={"Content-Encoding": encoding})


async def hop(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n == 0:
        return web.Response(text="arrived")
    raise web.HTTPFound(f"/hop/{n - 1}")


async def busy(request: web.Request) -> web.Response:
    return web.Response(status=429, headers={"Retry-After": "42"})


async def away(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


async def challenge(request: web.Request) -> web.Response:
    """A bot challenge of a CDN in front of a mirror: a "Just a moment..." page with the header
    its provider documents for telling one apart, under the status it uses."""
    status = int(request.match_info["status"])
    header = "x-vercel-mitigated" if request.query.get("by") == "vercel" else "cf-mitigated"
    page = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
    return web.Response(
        status=status, text=page, content_type="text/html", headers={header: "challenge"}
    )


async def raw_away(request: web.Request) -> web.Response:
    """A Location header as given, even one no URL library would build."""
    return web.Response(status=302, headers={"Location": request.query["to"]})


async def drip(request: web.Request) -> web.StreamResponse:
    """200 bytes, one every 100 ms: each read is quick, the whole answer takes 20 s."""
    response = web.StreamResponse()
    response.content_length = 200
    await response.prepare(request)
    try:
        for _ in range(200):
            await response.write(b"x")
            await asyncio.sleep(0.1)
    except ConnectionResetError:
        pass  # the client gave up
    return response


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/z/{kind}", compressed)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/busy", busy)
    app.router.add_get("/away", away)
    app.router.add_get("/raw-away", raw_away)
    app.router.add_get("/drip", drip)
    app.router.add_get("/challenge/{status}", challenge)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


def limits(**kw: object) -> FetchLimits:
    return FetchLimits(user_agent="t", connect_timeout=2, read_timeout=2, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kind", ["gzip", "deflate", "raw-deflate", "no-footer", "half-footer", "zlib-no-check"]
)
async def test_compressed_bodies_are_decoded(server: TestServer, kind: str) -> None:
    async with Fetcher(limits()) as f:
        response = await f.get(str(server.make_url(f"/z/{kind}")))
    assert response.body == TEXT


async def test_every_gzip_member_is_decoded_and_an_empty_body_is_empty(
    server: TestServer,
) -> None:
    async with Fetcher(limits()) as f:
        assert (await f.get(str(server.make_url("/z/members")))).body == TEXT
        assert (await f.get(str(server.make_url("/z/empty")))).body == b""


@pytest.mark.parametrize("kind", ["cut", "cut-member"])
async def test_a_compressed_stream_cut_short_is_a_truncated_body(
    server: TestServer, kind: str
) -> None:
    # What inflates from a stream cut where it was flushed is well formed up to the cut: taken
    # for the whole body, an article cut after a paragraph was stored without the rest.
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(str(server.make_url(f"/z/{kind}")))
    assert info.value.kind == "truncated"


async def test_the_size_cap_holds_for_decompressed_bytes(server: TestServer) -> None:
    async with Fetcher(limits(max_body=1024 * 1024)) as f:
        with pytest.raises(FetchError) as info:
            await f.get(str(server.make_url("/z/bomb")))
    assert info.value.kind == "too-large"


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
async def test_at_most_five_redirects(server: TestServer, hops: int, ok: bool) -> None:
    async with Fetcher(limits()) as f:
        url = str(server.make_url(f"/hop/{hops}"))
        if ok:
            response = await f.get(url)
            assert response.body == b"arrived" and len(response.redirects) == hops
        else:
            with pytest.raises(FetchError) as info:
                await f.get(url)
            assert info.value.kind == "redirects"


async def test_redirect_to_an_unknown_host_needs_permission(server: TestServer) -> None:
    here = str(server.make_url("/")).rstrip("/")
    elsewhere = here.replace("127.0.0.1", "localhost") + "/hop/0"
    url = str(server.make_url("/away").with_query(to=elsewhere))
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(url, allowed_origins={here})
        assert info.value.kind == "foreign-redirect"
        followed = await f.get(url, allowed_origins={here}, follow_foreign=True)
        assert followed.body == b"arrived" and followed.url == elsewhere


@pytest.mark.parametrize(("status", "by"), [(403, ""), (503, ""), (429, "vercel"), (200, "")])
async def test_a_cdns_bot_challenge_is_named_a_challenge_whatever_its_status(
    server: TestServer, status: int, by: str
) -> None:
    # Cloudflare answers a client it challenges with 403 or 503 and `cf-mitigated: challenge`,
    # Vercel with 429 and `x-vercel-mitigated: challenge`. Taken for an error of the mirror
    # (`http-403`) or for a mirror busy for a while (a 503 or 429, asked again within the
    # pull, in vain), the mirror's health never said what kept the pull out.
    url = str(server.make_url(f"/challenge/{status}").with_query(by=by))
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(url)
    assert info.value.kind == "captcha" and not isinstance(info.value, Throttled)
    assert "bot challenge" in info.value.message


async def test_429_carries_its_retry_after(server: TestServer) -> None:
    async with Fetcher(limits()) as f:
        with pytest.raises(Throttled) as info:
            await f.get(str(server.make_url("/busy")))
    assert info.value.retry_after == 42 and info.value.kind == "http-429"


def test_retry_after_as_seconds_or_a_date() -> None:
    now = datetime(2024, 6, 22, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Sat, 22 Jun 2024 12:05:00 GMT", now) == 300
    assert parse_retry_after("Sat, 22 Jun 2024 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    # Digits to str.isdigit that float() refuses raised ValueError, and a 429 was then
    # reported as a request the client could not make.
    assert parse_retry_after("\u00b2", now) is None
    assert parse_retry_after("\u0661\u0662", now) is None


async def test_a_dripping_answer_is_cut_off_at_the_request_deadline(server: TestServer) -> None:
    limits = FetchLimits(user_agent="test", read_timeout=5.0, request_deadline=1.0)
    loop = asyncio.get_running_loop()
    async with Fetcher(limits) as fetcher:
        started = loop.time()
        with pytest.raises(FetchError) as caught:
            await fetcher.get(str(server.make_url("/drip")))
        took = loop.time() - started
    assert caught.value.kind == "deadline"
    assert "request_deadline" in caught.value.message
    # Not the read timeout (never reached: a byte comes every 100 ms) nor the 20 s drip.
    assert 1.0 <= took < 4.0


async def test_the_pull_deadline_cuts_a_request_off_before_its_own(server: TestServer) -> None:
    limits = FetchLimits(user_agent="test", read_timeout=5.0, request_deadline=30.0)
    loop = asyncio.get_running_loop()
    async with Fetcher(limits) as fetcher:
        started = loop.time()
        with pytest.raises(FetchError) as caught:
            await fetcher.get(str(server.make_url("/drip")), until=started + 1.0)
        took = loop.time() - started
    assert caught.value.kind == "deadline"
    assert "pull_deadline" in caught.value.message
    assert 1.0 <= took < 4.0


async def test_a_file_mirror_names_a_named_pipe_instead_of_waiting_on_it(tmp_path: Path) -> None:
    # A snapshot folder may hold anything: reading a named pipe waited for a writer forever,
    # holding a worker thread past the pull's deadline.
    (tmp_path / "Detail").mkdir()
    pipe = tmp_path / "Detail" / "pipe.html"
    os.mkfifo(pipe)
    (tmp_path / "Detail" / "page.html").write_bytes(TEXT)
    async with Fetcher(limits()) as f:
        good = await f.get("https://m.test/Detail/page.html", file_root=tmp_path)
        with pytest.raises(FetchError) as info:
            try:
                await asyncio.wait_for(
                    f.get("https://m.test/Detail/pipe.html", file_root=tmp_path), timeout=10
                )
            except TimeoutError:
                # Let the reader's thread go (a writer comes and leaves), then fail.
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
                pytest.fail("the fetcher waited on the named pipe")
    assert good.body == TEXT
    assert info.value.kind == "read" and "not a regular file" in info.value.message


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/Detail/a%00b.html", "http-404"),  # a NUL from a link in a snapshot's page
        ("/Detail/" + "a" * 300 + ".html", "http-404"),  # a name past the system's limit
        ("/loop/page.html", "http-404"),  # a loop of links
        ("/section/", "read"),  # its index.html is a folder
    ],
    ids=["nul", "long-name", "link-loop", "index-folder"],
)
async def test_a_file_mirror_path_that_names_no_file_is_a_fetch_error(
    tmp_path: Path, path: str, kind: str
) -> None:
    # Each ended a whole `syndicate export` of the snapshot in a traceback.
    (tmp_path / "Detail").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "section" / "index.html").mkdir(parents=True)
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(f"https://m.test{path}", file_root=tmp_path)
    assert info.value.kind == kind


async def test_a_file_mirror_never_reads_a_folders_index_linked_outside_it(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.html"
    secret.write_bytes(TEXT)
    root = tmp_path / "mirror"
    (root / "section").mkdir(parents=True)
    (root / "section" / "index.html").symlink_to(secret)
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get("https://m.test/section/", file_root=root)
    assert info.value.kind == "http-404" and "leaves the mirror folder" in info.value.message


async def test_a_file_mirror_refuses_a_file_past_the_cap(tmp_path: Path) -> None:
    (tmp_path / "big.html").write_bytes(TEXT * 100)
    async with Fetcher(limits(max_body=len(TEXT) * 10)) as f:
        with pytest.raises(FetchError) as info:
            await f.get("https://m.test/big.html", file_root=tmp_path)
    assert info.value.kind == "too-large"


@pytest.mark.parametrize(
    ("location", "kind", "words"),
    [
        ("http://[::1", "redirect", "redirect to no URL"),  # an unclosed IPv6 host
        ("http://" + "a" * 3000 + ".example/", "http", "cannot request"),  # IDNA fails
    ],
    ids=["no URL", "a host no request can name"],
)
async def test_a_redirect_to_what_no_request_can_reach_is_a_fetch_error(
    server: TestServer, location: str, kind: str, words: str
) -> None:
    # Each raised ValueError (UnicodeError) out of the fetcher, not a FetchError: one article
    # link redirected so ended the whole pull of its source in a traceback.
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(str(server.make_url("/raw-away").with_query(to=location)))
    assert info.value.kind == kind and words in str(info.value)


@pytest.mark.parametrize("location", ["ftp://files.example/a", "http://[::1"])
async def test_a_bad_redirect_past_a_redirect_is_named_where_it_was_sent(
    server: TestServer, location: str
) -> None:
    # One host redirects to another, which sends a redirect no request can follow: named at
    # the URL asked first, its failure counted for the host that only redirected.
    bad = str(server.make_url("/raw-away").with_query(to=location))
    bad = bad.replace("127.0.0.1", "localhost")
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(str(server.make_url("/away").with_query(to=bad)))
    assert info.value.kind == "redirect" and info.value.url == bad


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ('W/"caf\u00e9-1"', 'W/"caf\u00e9-1"'),  # UTF-8 past ASCII is sent back as it came
        ("Tue, 05 Mar 2024 12:00:00 GMT", "Tue, 05 Mar 2024 12:00:00 GMT"),
        ('"\udcff\udcfe"', None),  # bytes that are not UTF-8, as aiohttp decodes them
        ('"a\x00b"', None),
        ('"a\x7f"', None),
        ('"' + "x" * 2000 + '"', None),  # past MAX_VALIDATOR
        ("", None),
    ],
    ids=["utf-8", "date", "not utf-8", "nul", "del", "too long", "empty"],
)
def test_only_validators_that_can_be_stored_and_sent_back_are_kept(
    sent: str, kept: str | None
) -> None:
    assert validator(sent) == kept


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("HTTP 500 \udcff\udcfe", "HTTP 500 \\xff\\xfe"),  # bytes 0xFF 0xFE, as aiohttp gives them
        ("a\ud800b", "a\\ud800b"),
        ("a\x00b\x1bc\x7f", "a\\x00b\\x1bc\\x7f"),
        ("line\n\tnext, caf\u00e9", "line\n\tnext, caf\u00e9"),  # kept as it is
    ],
    ids=["not utf-8", "lone surrogate", "controls", "plain"],
)
def test_an_error_says_what_a_mirror_sent_in_text_every_store_takes(text: str, shown: str) -> None:
    error = FetchError("http://m.example/" + text, "http-500", text)
    assert error.message == shown and error.url == "http://m.example/" + shown
    error.message.encode("utf-8")
    assert ExtractError("http://m.example/", text).message == shown
