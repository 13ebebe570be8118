"""robots.txt as RFC 9309 reads it, against real loopback servers: redirects are followed (up
to five, across hosts) and the rules at the end apply; a 4xx answer means no rules; a 5xx,
429 or no answer at all disallows the whole host until robots.txt answers again."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

from syndicator.core.config import Config
from syndicator.core.errors import FetchError, Throttled
from syndicator.core.models import FetchLimits
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import open_store
from syndicator.store.health import MirrorStore

from .sites import FakeClock, Site, free_port

RULES = "User-agent: *\nDisallow: /private/\n"
# robots.txt not answering is asked again after this long (robots_ttl, shorter than 60 s)
TTL = 0.3


class Host:
    """A site on 127.0.0.1 whose /robots.txt does what `robots` says: a status, a redirect
    (`redirects` maps a path to where it moves), rules, or a wait longer than the read
    timeout. Every other path answers 200; each path asked is remembered."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.robots_status = 200
        self.rules = RULES
        self.hang = False
        self.redirects: dict[str, str] = {}
        self.paths: list[str] = []
        self.runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pages(self) -> list[str]:
        return [p for p in self.paths if "robots" not in p]

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if request.path in self.redirects:
            raise web.HTTPMovedPermanently(self.redirects[request.path])
        if request.path.endswith("robots.txt"):
            if self.hang:
                await asyncio.sleep(5)
            if self.robots_status != 200:
                return web.Response(status=self.robots_status, text="no robots.txt here")
            return web.Response(text=self.rules, content_type="text/plain")
        return web.Response(text=f"page {request.path}")

    async def start(self) -> Host:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def hosts() -> AsyncIterator[Callable[..., Host]]:
    made: list[Host] = []

    def make(port: int | None = None) -> Host:
        host = Host(port)
        made.append(host)
        return host

    yield make
    for host in made:
        await host.stop()


def limits() -> FetchLimits:
    return FetchLimits(user_agent="t", connect_timeout=1, read_timeout=0.5, robots_ttl=TTL)


async def test_rules_at_the_redirect_target_apply(hosts: Callable[..., Host]) -> None:
    host = await hosts().start()
    host.redirects["/robots.txt"] = "/static/robots.txt"
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(host.origin + "/private/a", robots=True)
        assert info.value.kind == "robots"
        assert (await f.get(host.origin + "/public/a", robots=True)).body == b"page /public/a"
    assert host.paths == ["/robots.txt", "/static/robots.txt", "/public/a"]


async def test_a_robots_txt_saved_with_a_byte_order_mark_keeps_its_first_rule(
    hosts: Callable[..., Host],
) -> None:
    # A robots.txt saved by an editor that writes a UTF-8 byte order mark: read with the mark
    # in its first line, that line was no "User-agent" line, the group it opened was lost,
    # and the paths it disallows were fetched.
    host = await hosts().start()
    host.rules = "\ufeff" + RULES
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(host.origin + "/private/a", robots=True)
        assert info.value.kind == "robots"
        assert (await f.get(host.origin + "/public/a", robots=True)).body == b"page /public/a"
    assert host.pages() == ["/public/a"]


async def test_a_redirect_to_another_host_is_followed(hosts: Callable[..., Host]) -> None:
    mirror, central = await hosts().start(), await hosts().start()
    mirror.redirects["/robots.txt"] = central.origin + "/robots.txt"
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(mirror.origin + "/private/a", robots=True)
    assert info.value.kind == "robots"
    assert mirror.paths == ["/robots.txt"] and central.paths == ["/robots.txt"]


async def test_a_page_redirected_where_robots_txt_disallows_is_not_fetched(
    hosts: Callable[..., Host],
) -> None:
    # The URL asked is allowed, the one it redirects to is not (a short link on the same
    # host, a mirror sending its pages to another): the target was fetched all the same.
    mirror, central = await hosts().start(), await hosts().start()
    mirror.redirects["/public/short"] = "/private/a"
    mirror.redirects["/public/moved"] = central.origin + "/private/b"
    async with Fetcher(limits()) as f:
        # Named at the URL disallowed, on the host whose robots.txt disallows it.
        targets = {"/public/short": mirror.origin + "/private/a"}
        targets["/public/moved"] = central.origin + "/private/b"
        for path, target in targets.items():
            with pytest.raises(FetchError) as info:
                await f.get(mirror.origin + path, robots=True)
            assert info.value.kind == "robots" and info.value.url == target
            assert f"redirected from {mirror.origin + path}" in info.value.message
        # Allowed targets are fetched as before.
        mirror.redirects["/public/fine"] = central.origin + "/public/b"
        assert (await f.get(mirror.origin + "/public/fine", robots=True)).body == b"page /public/b"
    assert mirror.pages() == ["/public/short", "/public/moved", "/public/fine"]
    assert central.pages() == ["/public/b"]


@pytest.mark.parametrize(("hops", "obeyed"), [(5, True), (6, False)])
async def test_five_redirects_are_followed_and_a_sixth_means_no_rules(
    hops: int, obeyed: bool, hosts: Callable[..., Host]
) -> None:
    host = await hosts().start()
    chain = ["/robots.txt"] + [f"/hop{n}/robots.txt" for n in range(1, hops + 1)]
    for here, there in itertools.pairwise(chain):
        host.redirects[here] = there
    async with Fetcher(limits()) as f:
        if obeyed:
            with pytest.raises(FetchError) as info:
                await f.get(host.origin + "/private/a", robots=True)
            assert info.value.kind == "robots"
            assert host.paths == chain
        else:
            # more than five: robots.txt counts as unavailable, like a 4xx (RFC 9309 2.3.1.2)
            await f.get(host.origin + "/private/a", robots=True)
            assert host.paths == [*chain[:6], "/private/a"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
async def test_a_4xx_robots_txt_means_no_rules(status: int, hosts: Callable[..., Host]) -> None:
    host = await hosts().start()
    host.robots_status = status
    async with Fetcher(limits()) as f:
        assert await f.robots_allow(host.origin + "/private/a")
        await f.get(host.origin + "/private/a", robots=True)
        await f.get(host.origin + "/private/b", robots=True)
    assert host.paths == ["/robots.txt", "/private/a", "/private/b"]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_5xx_or_429_robots_txt_disallows_the_host_until_it_answers(
    status: int, hosts: Callable[..., Host]
) -> None:
    host = await hosts().start()
    host.robots_status = status
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(host.origin + "/public/a", robots=True)
        assert info.value.kind == f"http-{status}"
        if status in (429, 503):
            assert isinstance(info.value, Throttled)
        else:
            assert "robots.txt unreadable" in info.value.message
        assert not await f.robots_allow(host.origin + "/public/b")
        assert host.paths == ["/robots.txt"]  # kept: not asked again at every request
        host.robots_status = 200
        await asyncio.sleep(TTL + 0.1)  # past the time robots.txt is asked again
        assert (await f.get(host.origin + "/public/a", robots=True)).body == b"page /public/a"
    assert host.paths == ["/robots.txt", "/robots.txt", "/public/a"]


async def test_a_robots_txt_that_never_answers_disallows_the_host(
    hosts: Callable[..., Host],
) -> None:
    host = await hosts().start()
    host.hang = True
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(host.origin + "/public/a", robots=True)
        assert info.value.kind == "timeout"
        assert "robots.txt unreadable" in info.value.message
        with pytest.raises(FetchError):
            await f.get(host.origin + "/public/b", robots=True)
    assert host.pages() == []


async def test_an_unreachable_host_stays_disallowed_until_robots_txt_answers(
    hosts: Callable[..., Host],
) -> None:
    host = hosts(free_port())  # not listening yet: connection refused
    async with Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(host.origin + "/public/a", robots=True)
        assert info.value.kind == "connect"
        await host.start()
        # it is up now, but robots.txt is not asked again before its time
        with pytest.raises(FetchError) as again:
            await f.get(host.origin + "/public/a", robots=True)
        assert again.value.kind == "connect" and host.paths == []
        await asyncio.sleep(TTL + 0.1)
        assert (await f.get(host.origin + "/public/a", robots=True)).body == b"page /public/a"
    assert host.paths == ["/robots.txt", "/public/a"]


async def test_a_mirror_whose_robots_txt_fails_is_counted_failing_and_not_asked(
    site: Site, tmp_path: Path, write_config: Callable[..., Config]
) -> None:
    broken = site.mirrors[1]
    broken.robots_status = 500
    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 's.db'}"))
    store = await open_store(config.service.store)
    async with Fetcher(limits_of(config)) as fetcher:
        report = await pull_source(
            "news", config, fetcher, store, clock=FakeClock(), rng=random.Random(0)
        )
    health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    await store.close()
    assert broken.pages_requested() == []
    assert [r.path for r in broken.requests] == ["/robots.txt"]
    assert health[broken.origin].last_error_kind == "http-500"
    assert health[broken.origin].consecutive_failures == len(site.sections)
    assert report.new == len(site.articles)  # from the other mirrors
