"""What clients may hold and send: the connection cap, the header and keep-alive timeouts, and
malformed requests, spoken to over raw sockets on 127.0.0.1 against the service's runner (and,
for the open-file limit, `syndicate serve` in a process of its own)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from syndicator.core.config import Config, Service
from syndicator.core.config_file import load_config
from syndicator.core.errors import ConfigError
from syndicator.publish.documents import FeedBook
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store
from syndicator.web import hotpath
from syndicator.web.feed_runner import FeedRunner
from syndicator.web.hotpath import FD_RESERVE, FeedServer
from syndicator.web.metrics import Metrics
from syndicator.web.server import make_app, make_runner

from .conftest import REPO
from .served import end_popen
from .sites import Site, free_port
from .test_export import default_config_copy
from .test_hotpath import get, read_answer, start
from .test_http import service_config

SHED_EVENT = "connections closed to stay within the server's limits"


@dataclass
class Served:
    port: int
    runner: FeedRunner
    metrics: Metrics
    release: asyncio.Event  # lets /slow answer

    @property
    def server(self) -> FeedServer:
        server = self.runner.server
        assert isinstance(server, FeedServer)
        return server

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the metrics page (0 when absent)."""
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in self.metrics.exposition().decode().splitlines():
            if line.startswith(f"{name}{{{wanted}}} "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


Serve = Callable[[str], Awaitable[Served]]


@pytest.fixture
async def serve(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> AsyncIterator[Serve]:
    """Starts the service's runner with `service:` keys added to the test config."""
    runners: list[FeedRunner] = []
    pulled = False

    async def serve(limits: str) -> Served:
        nonlocal pulled
        config = write_config(service_config(site, store_url, f"  max_items: 2\n{limits}"))
        if not pulled:
            await pull_source("news", config, fetcher, store)
            pulled = True
        book = FeedBook(config, store)
        await book.get("iran", "rss")  # rendered: answered on the connection
        metrics = Metrics(config)
        release = asyncio.Event()

        async def slow(_request: web.Request) -> web.Response:
            await release.wait()
            return web.Response(text="slow")

        app = make_app(book, metrics_of=metrics)
        app.router.add_get("/slow", slow)
        runner = make_runner(app, access_log=None)
        runners.append(runner)
        return Served(await start(runner), runner, metrics, release)

    yield serve
    for runner in runners:
        await runner.cleanup()


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(served: Served) -> Connection:
    """A connection the server has accepted."""
    accepted = served.server.accepted
    conn = await asyncio.open_connection("127.0.0.1", served.port)
    await until(lambda: served.server.accepted > accepted)
    return conn


def closed_by_server(conn: Connection) -> bool:
    reader = conn[0]
    return reader.at_eof() or reader.exception() is not None


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server did not get there in time"
        await asyncio.sleep(0.01)


async def idle_connections(served: Served, count: int) -> list[Connection]:
    """`count` connections that send nothing, each accepted before the next opens (so the
    server sees them in this order)."""
    return [await connect(served) for _ in range(count)]


def close_all(conns: list[Connection]) -> None:
    for _, writer in conns:
        writer.close()


def closed_pattern(conns: list[Connection]) -> str:
    """'x' for each connection the server closed, '.' for each still open."""
    return "".join("x" if closed_by_server(c) else "." for c in conns)


def shed_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(SHED_EVENT)]


LONG_TIMEOUTS = "  header_timeout: 1m\n  keepalive_timeout: 1m\n"


async def test_at_the_cap_the_longest_idle_connections_are_closed_and_requests_are_served(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve(LONG_TIMEOUTS + "  max_connections: 20\n")
    caplog.set_level(logging.INFO)
    first = await idle_connections(served, 20)  # the cap: all kept
    await asyncio.sleep(0.1)
    assert closed_pattern(first) == "." * 20
    # The oldest connection makes a request: it is now the most recently active.
    first[0][1].write(get("/feeds/iran.rss"))
    assert (await read_answer(first[0][0])).status == 200
    later = await idle_connections(served, 10)
    await until(lambda: closed_pattern(first).count("x") == 10)
    # The ten idle the longest made room; the active one and everything newer is open.
    assert closed_pattern(first) == "." + "x" * 10 + "." * 9
    assert closed_pattern(later) == "." * 10
    # Requests from new clients are answered: each new connection takes an idle one's place.
    asking = []
    for path in ("/feeds/iran.rss", "/healthz", "/feeds/iran/"):
        asking.append(await connect(served))
        asking[-1][1].write(get(path))
        assert (await read_answer(asking[-1][0])).status == 200, path
    await until(lambda: closed_pattern(first).count("x") == 13)
    assert closed_pattern(first) == "." + "x" * 13 + "." * 6
    assert closed_pattern(later) == "." * 10
    assert served.metric("syndicator_http_connections_closed_total", reason="idle") == 13
    # The first shedding is logged at once; the rest wait for the minute to end.
    shed = shed_lines(caplog)
    assert len(shed) == 1 and shed[0].levelno == logging.WARNING
    assert shed[0].idle_closed == 1 and shed[0].max_connections == 20  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.exc_info]
    close_all([*first, *later, *asking])


async def test_at_the_cap_with_no_idle_connection_a_new_one_gets_503(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve(LONG_TIMEOUTS + "  max_connections: 3\n")
    busy = await idle_connections(served, 3)
    for _, writer in busy:  # the cap reached by requests being answered: none is idle
        writer.write(get("/slow"))
    await asyncio.sleep(0.2)
    refused = await connect(served)
    answer = await asyncio.wait_for(read_answer(refused[0]), 5)
    assert answer.status == 503 and answer.headers["Retry-After"] == "5"
    assert await asyncio.wait_for(refused[0].read(), 5) == b""
    served.release.set()
    for reader, _ in busy:  # the requests in flight were not cut off
        assert (await read_answer(reader)).body == b"slow"
    assert served.metric("syndicator_http_connections_closed_total", reason="refused") == 1
    assert served.metric("syndicator_http_connections_closed_total", reason="idle") == 0
    assert [r.refused for r in shed_lines(caplog)] == [1]  # type: ignore[attr-defined]
    close_all([*busy, refused])


async def test_shedding_is_logged_at_most_once_an_interval_with_the_counts(
    serve: Serve, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hotpath, "SHED_LOG_INTERVAL", 2.0)
    served = await serve(LONG_TIMEOUTS + "  max_connections: 4\n")
    caplog.set_level(logging.INFO)
    conns = await idle_connections(served, 5)  # the fifth closes the first: logged at once
    assert [r.idle_closed for r in shed_lines(caplog)] == [1]  # type: ignore[attr-defined]
    conns += await idle_connections(served, 3)  # three more within the interval: not yet
    assert len(shed_lines(caplog)) == 1
    await until(lambda: len(shed_lines(caplog)) == 2)  # then one line with the three
    line = shed_lines(caplog)[1]
    assert line.idle_closed == 3 and line.refused == 0  # type: ignore[attr-defined]
    assert "3 idle ones closed to make room" in line.getMessage()
    close_all(conns)


async def test_a_client_sending_its_headers_byte_by_byte_is_closed_after_header_timeout(
    serve: Serve,
) -> None:
    served = await serve("  header_timeout: 0.5s\n  keepalive_timeout: 1m\n")
    reader, writer = await connect(served)
    request = get("/feeds/iran.rss")
    started = time.monotonic()
    sent = 0
    while not reader.at_eof() and sent < len(request) - 1 and time.monotonic() - started < 10:
        writer.write(request[sent : sent + 1])  # one byte every 50 ms: 2.5 s for the request
        sent += 1
        await asyncio.sleep(0.05)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing answered
    took = time.monotonic() - started
    assert sent < len(request) - 1 and 0.4 < took < 2.0, (sent, took)
    assert served.metric("syndicator_http_connections_closed_total", reason="header_timeout") == 1
    writer.close()
    # A client that sends nothing at all is closed as well.
    reader, writer = await connect(served)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # One whose headers come in pieces within the time is answered, and its connection kept:
    # the clock starts again with the next request's first byte.
    reader, writer = await connect(served)
    for _ in range(2):
        for piece in (request[:10], request[10:30], request[30:]):
            writer.write(piece)
            await asyncio.sleep(0.1)
        assert (await read_answer(reader)).status == 200
        await asyncio.sleep(0.7)  # idle longer than header_timeout: keep-alive's to close
    assert not closed_by_server((reader, writer))
    writer.close()
    assert served.metric("syndicator_http_connections_closed_total", reason="header_timeout") == 2


@pytest.mark.parametrize("path", ["/feeds/iran.rss", "/healthz"], ids=["hot path", "handlers"])
async def test_an_idle_keep_alive_connection_is_closed_after_keepalive_timeout(
    serve: Serve, path: str
) -> None:
    served = await serve("  header_timeout: 5s\n  keepalive_timeout: 0.5s\n")
    reader, writer = await connect(served)
    writer.write(get(path))
    assert (await read_answer(reader)).status == 200
    answered = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    took = time.monotonic() - answered
    assert 0.4 < took < 3.0, took
    writer.close()


# Requests nobody's HTTP client sends; the server answers each with 400 and moves on.
MALFORMED = [
    b"BREW /feeds/iran.rss HTTP/1.1\r\nHost: x\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"garbage\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(40) + b"\r\n\r\n",  # TLS hello
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(300)) + b"\r\n",
    b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/\xff\xfe/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/mirrors?x=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/iran/archive/\xd9\xa1.rss HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /feeds/iran.rss HTTP/1.1\r\nHost: x\r\nIf-None-Match: \x00\r\n\r\n",
]


async def test_malformed_requests_get_400_are_counted_and_leave_no_traceback(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve("")
    caplog.set_level(logging.DEBUG)
    rounds = 10
    for _ in range(rounds):
        for request in MALFORMED:
            reader, writer = await connect(served)
            writer.write(request)
            answer = await asyncio.wait_for(read_answer(reader), 5)
            assert answer.status == 400, request[:60]
            assert await asyncio.wait_for(reader.read(), 5) == b""  # and closed
            writer.close()
    # One after a good request on a kept-alive connection: answered, then the connection closed.
    reader, writer = await connect(served)
    writer.write(get("/healthz"))
    assert (await read_answer(reader)).status == 200
    writer.write(MALFORMED[5])
    assert (await read_answer(reader)).status == 400
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    total = rounds * len(MALFORMED) + 1
    assert served.metric("syndicator_http_requests_total", route="malformed", status="400") == (
        total
    )
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # A well-formed request is still answered on the same server.
    reader, writer = await connect(served)
    writer.write(get("/feeds/iran.rss", "Connection: close"))
    assert (await read_answer(reader)).status == 200
    writer.close()


@pytest.mark.parametrize("digits", [19, 4_300, 4_301, 8_000])
async def test_an_archive_page_number_of_any_length_is_a_404(
    serve: Serve, caplog: pytest.LogCaptureFixture, digits: int
) -> None:
    served = await serve("")
    for number in ("9" * digits, "1" + "0" * (digits - 1)):
        for ext in ("rss", "atom", "json"):
            reader, writer = await connect(served)
            writer.write(get(f"/feeds/iran/archive/{number}.{ext}", "Connection: close"))
            answer = await asyncio.wait_for(read_answer(reader), 5)
            assert answer.status == 404, (digits, answer.body[:80])
            writer.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert 'status="500"' not in served.metrics.exposition().decode()


def test_serve_under_a_low_open_file_limit_answers_through_hundreds_of_idle_sockets(
    tmp_path: Path,
) -> None:
    # The report: with a 256-descriptor limit, 400 idle sockets made 60 of 60 requests fail.
    config = default_config_copy(tmp_path)
    port = free_port()

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "syndicator", "--config", str(config)),
            *("serve", "--listen", f"127.0.0.1:{port}"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "SYNDICATOR_LOG_FORMAT": "logfmt"},
        preexec_fn=limit_files,
        start_new_session=True,
    )
    idle: list[socket.socket] = []
    try:

        def fetch(path: str) -> int:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                resp.read()
                return int(resp.status)

        deadline = time.monotonic() + 60
        while True:
            try:
                assert fetch("/feeds/north-africa.rss") == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.3)
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        statuses = [fetch(p) for p in ["/feeds/north-africa.rss", "/healthz", "/"] * 20]
        assert statuses == [200] * 60
    finally:
        for sock in idle:
            sock.close()
        _, stderr = end_popen(proc)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    # The default cap (512) does not fit in 256 descriptors: lowered, and said so.
    assert "open-file limit leaves room for 176 client connections" in stderr
    shed = [line for line in stderr.splitlines() if SHED_EVENT in line]
    assert shed and re.search(r"idle_closed=[1-9]", shed[0]), stderr[-2000:]


def test_the_systemd_unit_gives_room_for_the_default_connection_cap() -> None:
    unit = (REPO / "config" / "syndicator.service").read_text(encoding="utf-8")
    found = re.search(r"^LimitNOFILE=(\d+)$", unit, flags=re.M)
    assert found, "the unit sets no open-file limit"
    service = Service()
    needed = service.max_connections + FD_RESERVE + service.concurrency
    assert int(found.group(1)) >= needed


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_connections: 0", "service.max_connections"),
        ("max_connections: 2000000", "service.max_connections"),
        ("header_timeout: 10ms", "service.header_timeout"),
        ("header_timeout: 1h", "service.header_timeout"),
        ("keepalive_timeout: 0", "service.keepalive_timeout"),
        ("keepalive_timeout: 2d", "service.keepalive_timeout"),
    ],
)
def test_connection_limits_out_of_bounds_are_refused_naming_the_key(
    tmp_path: Path, line: str, key: str
) -> None:
    path = default_config_copy(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("service:\n", f"service:\n  {line}\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert [p.key for p in refused.value.details] == [key]


ODD_VALUES = [
    "",
    ".",
    "0",
    "00",
    "-1",
    "1e5",
    "0x10",
    "１",  # a fullwidth digit
    "\u0661",  # an Arabic-Indic digit
    "9" * 30,
    "9" * 5000,
    "%00",
    "%25",
    "%ZZ",
    "%ff%fe",
    "%ED%A0%80",  # an encoded lone surrogate
    "%F0%9F%92%A9",
    "x" * 5000,
    "iran",
    "iran.",
    ".rss",
    "iran..rss",
    "iran.rss.rss",
    "iran.RSS",
    "all.json",
    "1.rss",
    "1.",
    "1.xml",
    "%31.rss",
]
ROUTES = [
    "/feeds/{}",
    "/feeds/{}/",
    "/feeds/{}/index.html",
    "/feeds/iran/archive/{}",
    "/feeds/{}/archive/1.rss",
    "/?q={}",
    "/feeds/iran/?q={}",
    "/feeds/?q={}&q={}",
]


async def test_no_route_parameter_or_query_gives_a_500(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve("")
    statuses: dict[int, int] = {}
    for route in ROUTES:
        for value in ODD_VALUES:
            path = route.replace("{}", value)
            reader, writer = await connect(served)
            writer.write(get(path, "Connection: close"))
            answer = await asyncio.wait_for(read_answer(reader), 10)
            assert answer.status < 500, (path[:80], answer.body[:200])
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            writer.close()
    assert statuses.keys() >= {200, 404}  # a real mix, not one answer for everything
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
