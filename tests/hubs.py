"""WebSub hubs on 127.0.0.1 for the tests: one that accepts publish pings and remembers each,
one that takes them and never answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from .sites import free_port


@dataclass
class Hub:
    """A WebSub hub that accepts publish pings and remembers each one."""

    port: int = field(default_factory=free_port)
    pings: list[tuple[str, list[str]]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    # Down: every ping's connection is dropped unanswered (and not remembered). The port
    # stays held, where a stopped and restarted hub could find it taken by another program.
    down: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/publish"

    async def publish(self, request: web.Request) -> web.Response:
        if self.down:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=503)  # never reaches the client
        form = await request.post()
        self.pings.append((str(form.get("hub.mode")), [str(u) for u in form.getall("hub.url")]))
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/publish", self.publish)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Until `count` pings have arrived; fails naming what came when they do not in time
        (a slow machine only makes this wait longer)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        while len(self.pings) < count:
            if loop.time() > until:
                raise AssertionError(
                    f"{len(self.pings)} of {count} pings in {timeout:.0f}s: "
                    f"{self.sections_in_order()}"
                )
            await asyncio.sleep(0.02)

    def sections_pinged(self, since: int = 0) -> list[str]:
        out = []
        for mode, urls in self.pings[since:]:
            assert mode == "publish"
            sections = {u.rsplit("/", 1)[1].rsplit(".", 1)[0] for u in urls}
            assert len(sections) == 1, urls
            out.append(sections.pop())
        return sorted(out)

    def sections_in_order(self) -> list[str]:
        """The section of each ping, in the order the pings arrived."""
        return [urls[0].rsplit("/", 1)[1].rsplit(".", 1)[0] for _, urls in self.pings]


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    h = Hub()
    await h.start()
    yield h
    assert h.runner is not None
    await h.runner.cleanup()


@dataclass
class SilentHub(Hub):
    """A hub that takes the ping and never answers (until the test ends)."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.pings.append((str(form.get("hub.mode")), [str(u) for u in form.getall("hub.url")]))
        await self.release.wait()
        return web.Response(status=204)


@pytest.fixture
async def silent_hub() -> AsyncIterator[SilentHub]:
    h = SilentHub()
    await h.start()
    yield h
    h.release.set()
    assert h.runner is not None
    await h.runner.cleanup()
