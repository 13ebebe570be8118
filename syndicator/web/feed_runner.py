"""The runner that serves with the hot path only once it has proved itself: at start,
`FeedRunner` drives the hot path and aiohttp's own protocol with the same canned requests
(`SelfTest`) on loopback and compares the bytes (Date aside). When they differ, or this
aiohttp lacks the internals `hotpath` leans on, every request goes through the handlers,
which give the same answers, slower, and the log says so once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_server import Server
from multidict import CIMultiDictProxy

from syndicator.web.hotpath import FeedServer, HotAnswer, Limits, supported

log = logging.getLogger("syndicator.hotpath")

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
    """An AppRunner whose connections answer hot requests themselves and are held to
    `limits` (see the module). `counts` gets malformed requests, `closed` the connections
    the limits close, by reason. With `self_test`, the hot path is used only if it passes it
    at start; `hot_enabled` says whether it is on."""

    __slots__ = ("_closed", "_counts", "_hot", "_limits", "_self_test", "hot_enabled")

    def __init__(
        self,
        app: web.Application,
        *,
        hot: HotAnswer | None,
        limits: Limits | None = None,
        counts: dict[tuple[str, int], int] | None = None,
        closed: dict[str, int] | None = None,
        self_test: SelfTest | None = None,
        **kwargs: Any,
    ) -> None:
        if limits is not None:
            # What aiohttp's own protocol gets, should this aiohttp lack what FeedProtocol needs.
            kwargs.setdefault("keepalive_timeout", limits().keepalive_timeout)
        super().__init__(app, **kwargs)
        self._hot = hot
        self._limits = limits
        self._counts = counts
        self._closed = closed
        self._self_test = self_test
        self.hot_enabled = False

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        if not supported():
            log.warning(
                "this aiohttp's connection protocol differs from the one syndicator knows: "
                "feed requests go through the router (same answers, more CPU per request), "
                "and only the keep-alive timeout limits clients"
            )
            return server
        hot = self._hot
        if hot is not None and self._self_test is not None:
            problem = await run_self_test(self._self_test)
            if problem is not None:
                log.warning(
                    "the hot path's answer differs from the handlers' (%s): feed requests go "
                    "through the router (same answers, more CPU per request)",
                    problem,
                )
                hot = None
        self.hot_enabled = hot is not None
        return FeedServer(
            server.request_handler,
            hot=hot,
            limits=self._limits,
            counts=self._counts,
            closed=self._closed,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
