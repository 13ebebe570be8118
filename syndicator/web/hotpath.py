"""Feed requests answered straight from the connection, without a task, router or Response.

Most requests a feed service gets are readers polling a section feed, and the answer to each
is bytes prepared when the section last changed (often a bare 304). Through aiohttp's usual
path every one of them still costs a new task, a Request, the router, the middlewares and a
Response: about 30 us of CPU per request here, four times nginx's. `FeedProtocol` is
aiohttp's own connection protocol (its parser, limits, keep-alive, shutdown and handlers)
with one addition: while the connection is idle, a plain GET or HEAD that the `HotAnswer`
knows is answered from `data_received` with one socket write. Everything else, and anything
pipelined behind a request the handlers must see, goes through aiohttp as usual and in order.

This leans on aiohttp internals (the protocol's message queue, its waiter and keep-alive
deadline), so it fails safe three ways. `supported()` checks that they are there; at start
`FeedRunner` drives the hot path and aiohttp's own protocol with canned requests
(`SelfTest`) and compares the bytes (Date aside); when either check fails it uses aiohttp's
own protocol and logs once: every request then goes through the handlers, which give the
same answers, slower. And an exception inside the hot path hands that connection to
aiohttp's protocol (logged once per server), with the request still queued for the handlers.

Edge module: HTTP plumbing only; which URLs are hot and what they answer is the server's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.http_parser import HttpRequestParser
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server
from multidict import CIMultiDictProxy

log = logging.getLogger("syndicator.hotpath")

# (path without its query, request headers, HEAD?) -> the whole response, or None when the
# request is for the handlers.
HotAnswer = Callable[[str, CIMultiDictProxy[str], bool], bytes | None]

# A client that sends requests faster than it reads the answers is left to aiohttp (which
# waits for it to read) once this much is waiting to be sent.
WRITE_BUFFER_LIMIT = 256 * 1024

_INTERNALS = frozenset(
    {
        "_messages",
        "_waiter",
        "_parser",
        "_payload_parser",
        "_upgraded",
        "_manager",
        "_close",
        "_force_close",
        "_paused",
        "_buffer_paused",
        "_next_keepalive_close_time",
        "_keepalive_timeout",
        "_keepalive_handle",
    }
)


def supported() -> bool:
    """Whether this aiohttp's protocol has what `FeedProtocol` relies on."""
    slots: set[str] = set()
    for cls in RequestHandler.__mro__:
        slots.update(getattr(cls, "__slots__", ()))
    return (
        slots >= _INTERNALS
        and callable(getattr(RequestHandler, "_process_keepalive", None))
        and callable(getattr(RequestHandler, "_resume_reading_if_drained", None))
        # The parser counts the messages it queued (aiohttp 3.14): each one taken is said.
        and callable(getattr(HttpRequestParser, "message_consumed", None))
    )


_date_second = -1
_date = b""


def http_date() -> bytes:
    """The Date header value for now, formatted once a second.

    A new bytes object each second, so a cache keyed on it can tell by identity."""
    global _date_second, _date
    now = int(time.time())
    if now != _date_second:
        _date_second, _date = now, formatdate(now, usegmt=True).encode("ascii")
    return _date


class FeedProtocol(RequestHandler):
    """aiohttp's connection protocol, answering hot requests itself when it is idle."""

    __slots__ = ("_failed", "_hot", "_started", "hot_answered")

    def __init__(
        self,
        manager: Server,
        *,
        hot: HotAnswer,
        failed: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._hot: HotAnswer | None = hot
        # Told (path) when the hot path failed on this connection.
        self._failed = failed
        self._started = False
        self.hot_answered = 0

    async def start(self) -> None:
        self._started = True
        await super().start()

    def data_received(self, data: bytes) -> None:
        hot = self._hot
        waiter = self._waiter
        # Idle: the handler task waits for a request, or has not run yet. Otherwise a request
        # is being handled and whatever arrives must wait for its answer to be written.
        idle = (waiter is not None and not waiter.done()) or not self._started
        parser = self._parser
        if (
            hot is None  # off on this connection (it failed here once)
            or not idle
            or parser is None
            or self._messages
            or self._payload_parser is not None
            or self._upgraded
        ):
            super().data_received(data)
            return
        # Parse (limits and errors as aiohttp has them) without waking the handler task.
        self._waiter = None
        try:
            super().data_received(data)
        finally:
            self._waiter = waiter
        messages = self._messages
        path = ""
        try:
            answered = 0
            transport = self.transport
            while messages and transport is not None and not transport.is_closing():
                if self._paused or transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
                    break
                message, payload = messages[0]
                if (
                    not isinstance(message, RawRequestMessage)
                    or message.method not in ("GET", "HEAD")
                    or message.version != HttpVersion11
                    or message.should_close
                    or message.upgrade
                    or payload is not EMPTY_PAYLOAD
                    or "Expect" in message.headers  # 100-continue or 417: aiohttp's to say
                ):
                    break
                path = message.path.partition("?")[0]
                response = hot(path, message.headers, message.method == "HEAD")
                if response is None:
                    break
                # Written before it leaves the queue: if writing fails, the request is still
                # there for the handlers.
                transport.write(response)
                messages.popleft()
                parser.message_consumed()
                answered += 1
            if answered:
                self.hot_answered += answered
                manager = self._manager
                if manager is not None:
                    manager.requests_count += answered
                # The idle deadline moves as after any answer (a timeout of 0 closes at once).
                loop = self._loop
                close_time = loop.time() + self._keepalive_timeout
                self._next_keepalive_close_time = close_time
                if self._keepalive_handle is None:
                    self._keepalive_handle = loop.call_at(close_time, self._process_keepalive)
                if self._buffer_paused:
                    self._resume_reading_if_drained()
        except Exception:
            # Whatever broke, this connection is aiohttp's from now on: what is queued goes
            # to the handlers below, and later data through aiohttp's own data_received.
            self._hot = None
            if self._failed is not None:
                self._failed(path)
        if messages and waiter is not None and not waiter.done():
            waiter.set_result(None)


class FeedServer(Server):
    """aiohttp's low-level server, making `FeedProtocol` connections."""

    def __init__(self, handler: Any, *, hot: HotAnswer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._hot = hot
        self.hot_failures = 0

    def __call__(self) -> RequestHandler:
        return FeedProtocol(
            self, loop=self._loop, hot=self._hot, failed=self._failed, **self._kwargs
        )

    def _failed(self, path: str) -> None:
        self.hot_failures += 1
        if self.hot_failures == 1:  # once: a bug here would otherwise log on every request
            log.exception(
                "answering %s on the connection failed: that connection goes to aiohttp's own "
                "protocol, and so does any other where it fails (logged once)",
                path,
            )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SelfTest:
    """Canned requests the hot path must answer exactly as `handler` does (Date aside)."""

    requests: Sequence[bytes]
    hot: HotAnswer
    handler: Handler


async def _exchange(port: int, request: bytes) -> bytes:
    """One request on a fresh connection to 127.0.0.1:port; the answer's bytes, Date left out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        if not request.startswith(b"HEAD ") and b" 304 " not in lines[0]:
            for line in lines:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
        body = await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()
    kept = [line for line in lines if not line.lower().startswith(b"date:")]
    return b"\r\n".join(kept) + body


async def run_self_test(test: SelfTest, timeout: float = 5.0) -> str | None:
    """Drive the hot path and aiohttp's own protocol with each canned request on loopback;
    None when every answer is the same bytes (Date aside) and the hot path gave it, else
    what went wrong."""
    answered: list[str] = []

    def hot(path: str, headers: CIMultiDictProxy[str], head: bool) -> bytes | None:
        answer = test.hot(path, headers, head)
        if answer is not None:
            answered.append(path)
        return answer

    runners: list[FeedRunner] = []
    try:
        ports = []
        for runner_hot in (hot, None):
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", test.handler)
            runner = FeedRunner(app, hot=runner_hot, self_test=None)
            runners.append(runner)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            ports.append(int(runner.addresses[0][1]))
        hot_server = runners[0].server
        for request in test.requests:
            what = request.split(b"\r\n", 1)[0].decode("latin-1")
            before = len(answered)
            async with asyncio.timeout(timeout):
                mine = await _exchange(ports[0], request)
                theirs = await _exchange(ports[1], request)
            if isinstance(hot_server, FeedServer) and hot_server.hot_failures:
                return f"{what}: the hot path failed"
            if len(answered) == before:
                return f"{what}: not answered on the connection"
            if mine != theirs:
                return f"{what}: {mine[:200]!r} where the handler sends {theirs[:200]!r}"
        return None
    except (
        OSError,
        TimeoutError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
        ValueError,
    ) as exc:
        return f"the self-test could not run: {exc!r}"
    finally:
        for runner in runners:
            await runner.cleanup()


class FeedRunner(web.AppRunner):
    """An AppRunner whose connections answer hot requests themselves (see the module).

    With `self_test`, the hot path is used only if it passes it at start; `hot_enabled`
    says whether it is on."""

    __slots__ = ("_hot", "_self_test", "hot_enabled")

    def __init__(
        self,
        app: web.Application,
        *,
        hot: HotAnswer | None,
        self_test: SelfTest | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._hot = hot
        self._self_test = self_test
        self.hot_enabled = False

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        if self._hot is None:
            return server
        if not supported():
            log.warning(
                "this aiohttp's connection protocol differs from the one syndicator knows: "
                "feed requests go through the router (same answers, more CPU per request)"
            )
            return server
        if self._self_test is not None:
            problem = await run_self_test(self._self_test)
            if problem is not None:
                log.warning(
                    "the hot path's answer differs from the handlers' (%s): feed requests go "
                    "through the router (same answers, more CPU per request)",
                    problem,
                )
                return server
        self.hot_enabled = True
        return FeedServer(
            server.request_handler,
            hot=self._hot,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
