"""Feed requests answered on the connection (`syndicator.hotpath`), spoken to over raw sockets
so that every byte, the order of pipelined answers and the connection's fate can be seen.

Two servers run side by side on 127.0.0.1 over one store: the service's runner (hot path)
and aiohttp's plain AppRunner (every request through the handlers).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from syndicator.core.config import Config
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store
from syndicator.web.feed_runner import FeedRunner, SelfTest, run_self_test
from syndicator.web.hotpath import WRITE_BUFFER_LIMIT, FeedProtocol, supported
from syndicator.web.server import hot_answers, make_app, make_runner, self_test

from .sites import Site
from .test_http import service_config


@dataclass
class Servers:
    book: FeedBook
    hot_port: int
    plain_port: int
    hot_runner: FeedRunner
    counts: dict[tuple[str, int], int]
    release: asyncio.Event  # lets /slow answer

    @property
    def hot_answered(self) -> int:
        return sum(self.counts.values())


async def start(runner: web.AppRunner) -> int:
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return int(runner.addresses[0][1])


@pytest.fixture
async def servers(
    request: pytest.FixtureRequest,
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> AsyncIterator[Servers]:
    config = write_config(service_config(site, store_url))
    await pull_source("news", config, fetcher, store)
    book = FeedBook(config, store)
    await book.get("iran", "rss")  # rendered, so the hot path knows it
    counts: dict[tuple[str, int], int] = {}
    options: dict[str, Any] = getattr(request, "param", {})
    release = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="slow")

    apps = [make_app(book), make_app(book)]
    for app in apps:
        app.router.add_get("/slow", slow)
    hot = FeedRunner(apps[0], hot=hot_answers(book, counts), **options)
    plain = web.AppRunner(apps[1], **options)
    servers = Servers(book, await start(hot), await start(plain), hot, counts, release)
    yield servers
    await hot.cleanup()
    await plain.cleanup()


def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: feeds.example.test", *headers, "", ""]
    return "\r\n".join(lines).encode()


@dataclass
class Answer:
    version: str
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def header_lines(self) -> list[tuple[str, str]]:
        """Every header in order, Date left out (it follows the clock)."""
        return [(k, v) for k, v in self.headers.items() if k.lower() != "date"]


async def read_answer(reader: asyncio.StreamReader, head: bool = False) -> Answer:
    status_line = await reader.readline()
    assert status_line, "the server closed the connection instead of answering"
    version, status, _ = status_line.decode("latin-1").split(" ", 2)
    headers: CIMultiDict[str] = CIMultiDict()
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        headers.add(name, value.strip())
    length = 0 if head or status == "304" else int(headers.get("Content-Length", "0"))
    return Answer(version, int(status), headers, await reader.readexactly(length))


async def ask(port: int, request: bytes, head: bool = False) -> Answer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await read_answer(reader, head)
    finally:
        writer.close()


def test_the_installed_aiohttp_has_what_the_hot_path_needs() -> None:
    # Without these internals the runner falls back to the handlers: same answers, four
    # times the CPU per feed request. A new aiohttp release that drops them fails here.
    assert supported()


async def test_hot_answers_are_the_handlers_answers_byte_for_byte(servers: Servers) -> None:
    etag = (await ask(servers.plain_port, get("/feeds/iran.rss"))).headers["ETag"]
    modified = (await ask(servers.plain_port, get("/feeds/iran.rss"))).headers["Last-Modified"]
    gzip_etag = (
        await ask(servers.plain_port, get("/feeds/iran.rss", "Accept-Encoding: gzip"))
    ).headers["ETag"]
    requests: list[tuple[bytes, bool]] = [
        (get("/feeds/iran.rss"), False),
        (get("/feeds/iran.rss", "Accept-Encoding: gzip"), False),
        (get("/feeds/iran.rss", "Accept-Encoding: gzip, deflate, br"), False),
        (get("/feeds/iran.rss", f"If-None-Match: {etag}"), False),
        (get("/feeds/iran.rss", "Accept-Encoding: gzip", f"If-None-Match: {gzip_etag}"), False),
        (get("/feeds/iran.rss", f"If-Modified-Since: {modified}"), False),
        (get("/feeds/iran.rss", 'If-None-Match: "stale"'), False),
        (get("/feeds/iran.rss?utm_source=newsletter&utm_medium=email"), False),
        (get("/feeds/iran.rss", "Accept-Encoding: br", method="HEAD"), True),
    ]
    for number, (request, head) in enumerate(requests, 1):
        hot = await ask(servers.hot_port, request, head)
        plain = await ask(servers.plain_port, request, head)
        assert servers.hot_answered == number, request  # answered on the hot path
        assert (hot.status, hot.header_lines(), hot.body) == (
            plain.status,
            plain.header_lines(),
            plain.body,
        ), request
        assert "Date" in hot.headers
    statuses = [(await ask(servers.hot_port, r, h)).status for r, h in requests]
    assert statuses == [200, 200, 200, 304, 304, 304, 200, 200, 200]


async def test_pipelined_requests_are_answered_in_order_across_both_paths(
    servers: Servers,
) -> None:
    etag = (await ask(servers.plain_port, get("/feeds/iran.rss"))).headers["ETag"]
    before = servers.hot_answered
    reader, writer = await asyncio.open_connection("127.0.0.1", servers.hot_port)
    # A hot request, one the handlers answer, then two hot-path requests queued behind it:
    # these wait for the handler's answer, so the order on the wire is the order asked.
    writer.write(
        get("/feeds/iran.rss")
        + get("/healthz")
        + get("/feeds/iran.rss", f"If-None-Match: {etag}")
        + get("/feeds/iran.atom")
    )
    first, health, cached, atom = [await read_answer(reader) for _ in range(4)]
    assert first.status == 200 and first.headers["Content-Type"].startswith("application/rss+xml")
    assert health.status == 200 and health.body == b'{"status": "ok"}'
    assert cached.status == 304 and cached.headers["ETag"] == etag
    assert atom.status == 200 and atom.headers["Content-Type"].startswith("application/atom+xml")
    assert b"<feed" in atom.body
    assert servers.hot_answered == before + 1  # only the first; the rest queued behind
    # Idle again: the next request is answered on the connection once more.
    writer.write(get("/feeds/iran.rss", f"If-None-Match: {etag}"))
    assert (await read_answer(reader)).status == 304
    assert servers.hot_answered == before + 2
    writer.close()


async def test_a_request_arriving_while_another_is_handled_waits_for_its_answer(
    servers: Servers,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", servers.hot_port)
    writer.write(get("/slow"))
    await asyncio.sleep(0.2)  # the handler is now waiting
    writer.write(get("/feeds/iran.rss"))
    await asyncio.sleep(0.2)
    servers.release.set()
    slow, feed = await read_answer(reader), await read_answer(reader)
    assert (slow.status, slow.body) == (200, b"slow")
    assert feed.status == 200 and b"<rss" in feed.body
    writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [get("/feeds/iran.rss", "Connection: close"), get("/feeds/iran.rss", version="1.0")],
    ids=["connection-close", "http-1.0"],
)
async def test_a_request_that_closes_the_connection_is_answered_then_closed(
    servers: Servers, request_bytes: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", servers.hot_port)
    writer.write(request_bytes)
    answer = await read_answer(reader)
    assert answer.status == 200 and b"<rss" in answer.body
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    assert servers.hot_answered == 0  # the handlers did it, with aiohttp's closing rules
    writer.close()


async def test_a_client_that_asks_without_reading_is_not_buffered_without_bound(
    servers: Servers,
) -> None:
    count = 3_000
    body = (await ask(servers.plain_port, get("/feeds/iran.rss"))).body
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", servers.hot_port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(get("/feeds/iran.rss") * count)
    await asyncio.sleep(1.0)  # the server answers what it can while nothing is read
    protocols = [p for p in servers.hot_runner.server.connections if isinstance(p, FeedProtocol)]
    assert len(protocols) == 1
    transport = protocols[0].transport
    assert transport is not None
    waiting = transport.get_write_buffer_size()
    assert count * len(body) > 10 * WRITE_BUFFER_LIMIT  # far more than the limit was asked
    assert waiting <= WRITE_BUFFER_LIMIT + 2 * len(body) + 4096, waiting
    answers = [await read_answer(reader) for _ in range(count)]
    assert all(a.status == 200 and a.body == body for a in answers)
    assert 0 < servers.hot_answered < count  # some on the connection, the rest via aiohttp
    writer.close()


@pytest.mark.parametrize("servers", [{"keepalive_timeout": 0.6}], indirect=True)
async def test_hot_answers_keep_an_active_connection_alive_and_an_idle_one_is_closed(
    servers: Servers,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", servers.hot_port)
    for _ in range(8):  # 1.6 s of requests, well past the 0.6 s keep-alive timeout
        writer.write(get("/feeds/iran.rss"))
        assert (await read_answer(reader)).status == 200
        await asyncio.sleep(0.2)
    assert servers.hot_answered == 8
    # Then idle: the server closes the connection after the timeout, as aiohttp would.
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_a_failing_hot_answer_leaves_the_request_to_the_handlers(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(path: str, headers: Any, head: bool) -> bytes | None:
        raise RuntimeError("broken hot answer")

    runner = FeedRunner(make_app(servers.book), hot=broken)
    port = await start(runner)
    try:
        answer = await ask(port, get("/feeds/iran.rss"))
    finally:
        await runner.cleanup()
    assert answer.status == 200 and b"<rss" in answer.body
    assert "answering /feeds/iran.rss on the connection failed" in caplog.text


async def test_a_request_with_expect_is_left_to_the_handlers(servers: Servers) -> None:
    for expect, statuses in (("100-continue", [100, 200]), ("something-else", [417])):
        answers = {}
        for port in (servers.hot_port, servers.plain_port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(get("/feeds/iran.rss", f"Expect: {expect}"))
            answers[port] = [
                (await asyncio.wait_for(read_answer(reader), 5)).status for _ in statuses
            ]
            writer.close()
        assert answers[servers.hot_port] == answers[servers.plain_port] == statuses, expect
    assert servers.hot_answered == 0


@pytest.mark.parametrize("servers", [{"keepalive_timeout": 0}], indirect=True)
async def test_with_no_keep_alive_a_hot_answer_is_followed_by_the_close(
    servers: Servers,
) -> None:
    for port in (servers.hot_port, servers.plain_port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(get("/feeds/iran.rss"))
            assert (await read_answer(reader)).status == 200
            closed = await asyncio.wait_for(reader.read(), 5)
            assert closed == b"", port  # closed by the server
        finally:
            writer.close()
    assert servers.hot_answered == 1


@pytest.mark.parametrize("path", ["café", "日本"])
async def test_a_public_url_beyond_ascii_gives_the_same_link_header_on_both_paths(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    text = service_config(site, store_url).replace(
        "http://feeds.example.test", f"http://feeds.example.test/{path}"
    )
    config = write_config(text)
    await pull_source("news", config, fetcher, store)
    book = FeedBook(config, store)
    await book.get("iran", "rss")
    counts: dict[tuple[str, int], int] = {}
    hot = FeedRunner(make_app(book), hot=hot_answers(book, counts))
    plain = web.AppRunner(make_app(book))
    try:
        hot_port, plain_port = await start(hot), await start(plain)
        for _ in range(3):
            ours = await ask(hot_port, get("/feeds/iran.rss"))
            theirs = await ask(plain_port, get("/feeds/iran.rss"))
            assert ours.header_lines() == theirs.header_lines()
            links = [v.encode("latin-1").decode() for k, v in ours.header_lines() if k == "Link"]
            # public_url is published as a URI: its path percent-encoded.
            assert any(f"/{quote(path)}/feeds/iran.rss" in link for link in links), links
        assert counts == {("/feeds/{name}", 200): 3}  # answered hot, counted once each
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        await hot.cleanup()
        await plain.cleanup()


async def test_the_self_test_at_start_passes_on_this_aiohttp_and_keeps_the_hot_path_on(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    assert await run_self_test(self_test(servers.book)) is None
    runner = make_runner(make_app(servers.book))
    try:
        port = await start(runner)
        assert runner.hot_enabled
        answer = await ask(port, get("/feeds/iran.rss"))
        assert answer.status == 200 and b"<rss" in answer.body
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        await runner.cleanup()


async def test_a_hot_answer_that_differs_from_the_handlers_switches_the_hot_path_off(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    canned = self_test(servers.book)

    def lower_case_vary(path: str, headers: CIMultiDictProxy[str], head: bool) -> bytes | None:
        # What an aiohttp that wrote one header differently would amount to.
        message = canned.hot(path, headers, head)
        return None if message is None else message.replace(b"Vary:", b"vary:", 1)

    forced = SelfTest(canned.requests, lower_case_vary, canned.handler)
    counts: dict[tuple[str, int], int] = {}
    runner = FeedRunner(
        make_app(servers.book), hot=hot_answers(servers.book, counts), self_test=forced
    )
    plain = await ask(servers.plain_port, get("/feeds/iran.rss"))
    try:
        port = await start(runner)
        assert not runner.hot_enabled
        answer = await ask(port, get("/feeds/iran.rss"))
    finally:
        await runner.cleanup()
    assert "the hot path's answer differs from the handlers'" in caplog.text
    assert "vary:" in caplog.text  # the difference is named
    assert counts == {}  # nothing answered on the connection: the handlers answered
    assert (answer.status, answer.header_lines(), answer.body) == (
        plain.status,
        plain.header_lines(),
        plain.body,
    )


async def test_an_exception_inside_the_hot_path_hands_the_connection_to_aiohttp(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    def not_bytes(path: str, headers: CIMultiDictProxy[str], head: bool) -> Any:
        # A str where bytes belong: the socket write inside the hot path raises TypeError.
        return "HTTP/1.1 200 OK\r\n\r\n"

    runner = FeedRunner(make_app(servers.book), hot=not_bytes)
    etag = (await ask(servers.plain_port, get("/feeds/iran.rss"))).headers["ETag"]
    requests = [get("/feeds/iran.rss"), get("/feeds/iran.rss", f"If-None-Match: {etag}")]
    try:
        port = await start(runner)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            # Twice on one connection (the second once it is aiohttp's), then a new one.
            writer.write(requests[0])
            first = await read_answer(reader)
            writer.write(requests[1])
            second = await read_answer(reader)
        finally:
            writer.close()
        third = await ask(port, requests[0])
    finally:
        await runner.cleanup()
    expected = [await ask(servers.plain_port, r) for r in (requests[0], requests[1], requests[0])]
    for got, want in zip([first, second, third], expected, strict=True):
        assert (got.status, got.header_lines(), got.body) == (
            want.status,
            want.header_lines(),
            want.body,
        )
    assert [first.status, second.status, third.status] == [200, 304, 200]
    failures = [r for r in caplog.records if "on the connection failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, though it failed on two connections
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is TypeError
