"""The address policy against real sockets on 127.0.0.0/8: a host the operator did not write
in the config (announced in a footer, adopted, or the target of a redirect) gets no request
at a loopback, private or metadata address unless the source opts in; the config's own hosts
are reached wherever they are. Made-up host names are answered by a resolver of the test's."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from syndicator.core.config import Config
from syndicator.core.errors import FetchError
from syndicator.core.models import FetchLimits
from syndicator.publish.mirror_report import mirror_rows
from syndicator.pull.addresses import AddressPolicy, refusal
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport, pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import Store, open_store
from syndicator.store.health import DiscoveredMirror, MirrorHealth, MirrorStore

from .sites import FakeClock, Site, free_port

WriteConfig = Callable[..., Config]


class FixedResolver(AbstractResolver):
    """Answers chosen addresses for made-up host names, and remembers what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"{host}: no such host in this test")
        return [
            {
                "hostname": host,
                "host": a,
                "port": port,
                "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        pass


class Listener:
    """A plain HTTP server on one loopback address: answers every path (or the redirects in
    `moves`) and remembers each path asked."""

    def __init__(self, address: str, moves: dict[str, str] | None = None) -> None:
        self.address = address
        self.port = free_port(address)
        self.moves = moves or {}
        self.paths: list[str] = []
        self.runner: web.AppRunner | None = None

    def origin(self, host: str | None = None) -> str:
        host = host or (f"[{self.address}]" if ":" in self.address else self.address)
        return f"http://{host}:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if request.path in self.moves:
            raise web.HTTPFound(self.moves[request.path])
        return web.Response(text=f"served {request.path}")

    async def __aenter__(self) -> Listener:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.address, self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def limits() -> FetchLimits:
    return FetchLimits(user_agent="t", connect_timeout=5, read_timeout=5)


NOBODY = AddressPolicy.trusting([])  # trusts no host: every one at public addresses only


# --- which addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved, and Python counts it as private
        ("100.64.0.1", "not public"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", "reserved"),  # IPv4-compatible, deprecated
        ("fe80::1%eth0", "link-local"),
    ],
)
def test_internal_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert refusal(address) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass_in_every_form(address: str) -> None:
    assert refusal(address) is None


def test_the_policy_trusts_host_and_port_the_config_wrote() -> None:
    policy = AddressPolicy.trusting(["http://mirror.test:8080", "https://Canonical.test"])
    assert not policy.guards("http://mirror.test:8080/a")
    assert not policy.guards("https://canonical.test/b")
    assert not policy.guards("https://canonical.test:443/b")
    assert policy.guards("http://mirror.test:22/")  # another port of a trusted host
    assert policy.guards("http://canonical.test/")  # port 80, not 443
    assert policy.guards("http://127.0.0.1:8080/")
    assert not AddressPolicy.trusting([], allow_private=True).guards("http://127.0.0.1/")


# --- the fetcher, against real sockets ----------------------------------------------------


async def test_a_made_up_name_on_loopback_gets_no_request_unless_trusted_or_allowed() -> None:
    async with Listener("127.0.0.3") as inside:
        resolver = FixedResolver({"mirror.test": ["127.0.0.3"]})
        url = inside.origin("mirror.test") + "/page"
        async with Fetcher(limits(), resolver=resolver) as f:
            with pytest.raises(FetchError) as info:
                await f.get(url, addresses=NOBODY)
            assert info.value.kind == "blocked-address"
            assert "mirror.test resolves to 127.0.0.3" in info.value.message
            assert "loopback" in info.value.message
            assert inside.paths == []
            assert resolver.asked == ["mirror.test"]  # it was looked up, then refused
            trusted = AddressPolicy.trusting([inside.origin("mirror.test")])
            assert (await f.get(url, addresses=trusted)).body == b"served /page"
            opted_in = AddressPolicy.trusting([], allow_private=True)
            assert (await f.get(url, addresses=opted_in)).body == b"served /page"
            assert (await f.get(url)).body == b"served /page"  # a URL the operator typed
        assert inside.paths == ["/page"] * 3


async def test_a_name_answering_the_metadata_address_is_refused_without_connecting() -> None:
    resolver = FixedResolver(
        {"metadata.test": ["169.254.169.254"], "v6metadata.test": ["fd00:ec2::254"]}
    )
    async with Fetcher(limits(), resolver=resolver) as f:
        for host, address in [("metadata.test", "169.254.169.254"), ("v6metadata.test", "fd00")]:
            with pytest.raises(FetchError) as info:
                await f.get(f"http://{host}/latest/meta-data/", addresses=NOBODY)
            # refused at the lookup: a connection attempt would be a connect error or timeout
            assert info.value.kind == "blocked-address"
            assert host in info.value.message and address in info.value.message
            assert "cloud metadata" in info.value.message


async def test_a_name_with_only_internal_addresses_names_the_first() -> None:
    resolver = FixedResolver({"lan.test": ["10.0.0.1", "127.0.0.3", "::1"]})
    async with Listener("127.0.0.3") as inside, Fetcher(limits(), resolver=resolver) as f:
        with pytest.raises(FetchError) as info:
            await f.get(inside.origin("lan.test") + "/", addresses=NOBODY)
    assert info.value.kind == "blocked-address"
    assert "lan.test resolves to 10.0.0.1, a private address" in info.value.message
    assert inside.paths == []


@pytest.mark.parametrize("host", ["127.0.0.3", "[::ffff:127.0.0.3]"])
async def test_an_ip_literal_is_refused_at_the_socket(host: str) -> None:
    # an IP literal is never looked up: the connector's socket factory refuses it
    async with Listener("127.0.0.3") as inside, Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(inside.origin(host) + "/x", addresses=NOBODY)
        assert info.value.kind == "blocked-address"
        assert "127.0.0.3" in info.value.message and "loopback" in info.value.message
        assert inside.paths == []
        # the same address is reachable: the refusal is the policy's, not the network's
        assert (await f.get(inside.origin(host) + "/x")).body == b"served /x"
    assert inside.paths == ["/x"]


async def test_ipv6_loopback_is_refused() -> None:
    async with Listener("::1") as inside, Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(inside.origin() + "/x", addresses=NOBODY)
        assert info.value.kind == "blocked-address"
        assert (await f.get(inside.origin() + "/x")).body == b"served /x"
    assert inside.paths == ["/x"]


async def test_a_redirect_from_a_trusted_host_to_an_internal_one_is_refused() -> None:
    async with Listener("127.0.0.3") as inside:
        moves = {"/to-name": inside.origin("intranet.test") + "/admin", "/to-ip": "/"}
        async with Listener("127.0.0.1", moves) as mirror:
            mirror.moves["/to-ip"] = inside.origin() + "/admin"
            resolver = FixedResolver({"intranet.test": ["127.0.0.3"]})
            policy = AddressPolicy.trusting([mirror.origin()])
            async with Fetcher(limits(), resolver=resolver) as f:
                for path in ("/to-name", "/to-ip"):
                    with pytest.raises(FetchError) as info:
                        await f.get(
                            mirror.origin() + path,
                            allowed_origins={mirror.origin()},
                            follow_foreign=True,
                            addresses=policy,
                        )
                    assert info.value.kind == "blocked-address"
                    assert "127.0.0.3" in info.value.message
                assert inside.paths == []
                # allowed for a source that opts in
                opted = AddressPolicy.trusting([mirror.origin()], allow_private=True)
                got = await f.get(
                    mirror.origin() + "/to-name", follow_foreign=True, addresses=opted
                )
                assert got.body == b"served /admin"
    assert mirror.paths == ["/to-name", "/to-ip", "/to-name"]


async def test_robots_txt_redirect_is_guarded() -> None:
    inside = Listener("127.0.0.3")
    mirror = Listener("127.0.0.1", {"/robots.txt": inside.origin() + "/robots.txt"})
    policy = AddressPolicy.trusting([mirror.origin()])
    async with inside, mirror, Fetcher(limits()) as f:
        with pytest.raises(FetchError) as info:
            await f.get(mirror.origin() + "/page", robots=True, addresses=policy)
    assert info.value.kind == "blocked-address"
    assert inside.paths == []
    assert mirror.paths == ["/robots.txt"]


# --- pulls --------------------------------------------------------------------------------


async def pull(config: Config, fetcher: Fetcher, store: Store, clock: FakeClock) -> PullReport:
    return await pull_source("news", config, fetcher, store, clock=clock, rng=random.Random(0))


def store_in(tmp_path: Path) -> str:
    """The URL of the test's SQLite store."""
    return f"sqlite:///{tmp_path / 's.db'}"


ADOPT_PRIVATE = "    adopt_discovered: true\n    allow_private_discovered: true"


def announce_in_footers(site: Site, link: str) -> None:
    """Every mirror's pages name `link` as another address of the site."""
    for mirror in site.mirrors:
        mirror.markup = (
            f"<p>This site can also be accessed at the following alternate addresses: {link}</p>"
        )


async def pull_once(
    config: Config,
    resolver: AbstractResolver | None = None,
    before: Callable[[Store], Awaitable[None]] | None = None,
) -> tuple[PullReport, dict[str, MirrorHealth], list[DiscoveredMirror]]:
    """One pull into the config's store (`before` run on the store first): the report, each
    mirror's health by origin, and the mirrors discovered."""
    store = await open_store(config.service.store)
    try:
        if before is not None:
            await before(store)
        async with Fetcher(limits_of(config), resolver=resolver) as fetcher:
            report = await pull(config, fetcher, store, FakeClock())
        mirrors = MirrorStore(store)
        health = {h.mirror: h for h in await mirrors.health("news")}
        return report, health, await mirrors.discovered("news")
    finally:
        await store.close()


@pytest.mark.parametrize("allow", [False, True])
async def test_a_mirror_announced_on_127_0_0_2_gets_no_request_without_the_opt_in(
    allow: bool, sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    site = sites(3)
    newcomer = site.add_mirror("127.0.0.2")  # named in every other mirror's footer only
    await site.start()
    extra = "    adopt_discovered: true"
    if allow:
        extra += "\n    allow_private_discovered: true"
    config = write_config(
        site.config_yaml(store_in(tmp_path), configured=3, extra=extra, entry="page")
    )
    store = await open_store(config.service.store)
    clock = FakeClock()
    async with Fetcher(limits_of(config)) as fetcher:
        first = await pull(config, fetcher, store, clock)
        clock.advance(600)
        await pull(config, fetcher, store, clock)
    found = {d.origin: d.status for d in await MirrorStore(store).discovered("news")}
    await store.close()
    assert newcomer.origin == f"http://127.0.0.2:{newcomer.port}"
    assert newcomer.origin in first.discovered
    if allow:
        assert first.adopted == [newcomer.origin]
        assert found == {newcomer.origin: "adopted"}
        assert newcomer.pages_requested()
    else:
        assert first.adopted == []
        assert found == {newcomer.origin: "candidate"}
        assert newcomer.requests == []  # not even robots.txt


async def test_an_adopted_mirror_on_loopback_is_refused_once_the_opt_in_goes(
    sites: Callable[..., Site],
    tmp_path: Path,
    write_config: WriteConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = sites(3)
    newcomer = site.add_mirror("127.0.0.2")
    await site.start()
    store_url = store_in(tmp_path)
    base = "    adopt_discovered: true"
    opted = write_config(
        site.config_yaml(
            store_url,
            configured=3,
            entry="page",
            extra=base + "\n    allow_private_discovered: true",
        ),
        name="opted.yaml",
    )
    plain = write_config(site.config_yaml(store_url, configured=3, entry="page", extra=base))
    store = await open_store(store_url)
    clock = FakeClock()
    async with Fetcher(limits_of(opted)) as fetcher:
        assert (await pull(opted, fetcher, store, clock)).adopted == [newcomer.origin]
        newcomer.requests.clear()
        clock.advance(600)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="syndicator"):
            report = await pull(plain, fetcher, store, clock)
    health = {h.mirror: h for h in await MirrorStore(store).health("news")}
    await store.close()
    assert newcomer.requests == []
    # counted in the mirror's health like any failure, in the report, and logged once
    assert health[newcomer.origin].last_error_kind == "blocked-address"
    assert health[newcomer.origin].consecutive_failures == len(site.sections)
    assert sum("blocked-address" in e for e in report.errors) == len(site.sections)
    warned = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and newcomer.host in r.getMessage()
    ]
    assert len(warned) == 1
    assert "127.0.0.2 is a loopback address" in warned[0].getMessage()
    assert "allow_private_discovered" in warned[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert report.new == 0 and report.duplicate == 0  # the configured mirrors still answered


@pytest.mark.parametrize("name", [None, "intranet.test"])
async def test_a_redirect_from_a_configured_mirror_to_an_internal_host_is_refused(
    name: str | None, sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    site = sites(3)
    stranger = site.add_mirror("127.0.0.3", name=name)
    await site.start()
    runaway = site.mirrors[1]
    runaway.mode, runaway.redirect_to = "redirect", stranger
    config = write_config(
        site.config_yaml(
            store_in(tmp_path),
            configured=3,
            extra="    follow_foreign_redirects: true",
        )
    )
    report, health, _ = await pull_once(config, FixedResolver({"intranet.test": ["127.0.0.3"]}))
    assert stranger.requests == []
    assert health[runaway.origin].last_error_kind == "blocked-address"
    assert any("blocked-address" in e and "127.0.0.3" in e for e in report.errors)
    assert report.new == len(site.articles)  # from the other mirrors


async def test_a_mirror_the_config_names_is_pulled_whatever_it_resolves_to(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    site = sites(2)
    lan = site.add_mirror("127.0.0.3", name="mirror.test")
    await site.start()
    config = write_config(site.config_yaml(store_in(tmp_path)))
    report, health, _ = await pull_once(config, FixedResolver({"mirror.test": ["127.0.0.3"]}))
    assert report.failed == 0
    assert {f"/rss/{s}.xml" for s in site.sections} <= {r.path for r in lan.requests}
    assert health[lan.origin].state == "healthy"


@pytest.mark.parametrize("written", ["mirror.test:{port}", "https://www.mirror.test:{port}"])
async def test_a_configured_mirror_announced_without_www_or_under_the_other_scheme_is_no_candidate(
    written: str, sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # Footers name the site's hosts as people type them: `presstv.co.uk` for the configured
    # `www.presstv.co.uk`, or under the other scheme. Taken for new hosts, they were listed as
    # candidates, and adopted: the configured mirror was then pulled twice at every pull.
    site = sites(1)
    www = site.add_mirror("127.0.0.3", name="www.mirror.test")
    announce_in_footers(site, written.format(port=www.port))
    await site.start()
    config = write_config(site.config_yaml(store_in(tmp_path), extra=ADOPT_PRIVATE))
    resolver = FixedResolver({"www.mirror.test": ["127.0.0.3"], "mirror.test": ["127.0.0.3"]})
    report, _, found = await pull_once(config, resolver)
    assert report.discovered == set() and report.adopted == []
    assert found == []
    assert report.new == len(site.articles)


async def test_a_redirect_to_a_configured_mirror_by_its_bare_name_counts_for_that_mirror(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A mirror sending every request to another configured mirror, named without its `www.`
    # (the config has `www.mirror.test`, the redirect says `mirror.test`): followed as the
    # mirror's, its answers counted for the mirror asked first, and `syndicate mirrors` said
    # that one redirected to a host that is no mirror (or, before, that it was `healthy`).
    site = sites(2)
    www = site.add_mirror("127.0.0.3", name="www.mirror.test")
    moved = site.mirrors[1]
    moved.mode, moved.redirect_to = "redirect", www
    moved.redirect_origin = f"http://mirror.test:{www.port}"
    www.base_href = True  # its listings' links are relative: on the name it was asked by
    await site.start()
    # The bare name is not the config's: reached at a loopback address only with the opt-in.
    extra = "    robots: false\n    allow_private_discovered: true"
    config = write_config(site.config_yaml(store_in(tmp_path), extra=extra, entry="page"))
    resolver = FixedResolver({"www.mirror.test": ["127.0.0.3"], "mirror.test": ["127.0.0.3"]})
    report, health, found = await pull_once(config, resolver)
    assert report.failed == 0, report.errors
    assert any(r.path.startswith("/Detail/") for r in www.pages_requested())
    assert (health[moved.origin].state, health[moved.origin].redirects_to) == (
        "redirecting",
        www.origin,
    )
    # Every feed it was asked for was answered by the other mirror, and counted there.
    assert health[www.origin].successes >= 2 * len(site.sections)
    assert found == []
    assert report.new == len(site.articles)


async def test_a_configured_mirror_announced_in_its_own_script_is_no_candidate(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # The config names a mirror by its IDNA form (`xn--e1afmkfd.test`), the footers link it
    # as readers see it (`пример.test`): taken for another host, it was a candidate, and
    # adopted, and the mirror was pulled twice at every pull.
    site = sites(1)
    idn = site.add_mirror("127.0.0.3", name="xn--e1afmkfd.test")
    announce_in_footers(site, f"<a href='http://пример.test:{idn.port}/'>пример</a>")
    await site.start()
    config = write_config(site.config_yaml(store_in(tmp_path), extra=ADOPT_PRIVATE))
    resolver = FixedResolver({"xn--e1afmkfd.test": ["127.0.0.3"]})
    report, _, found = await pull_once(config, resolver)
    assert report.discovered == set() and report.adopted == []
    assert found == []
    assert report.new == len(site.articles)


async def test_a_configured_mirror_adopted_under_its_bare_name_is_pulled_once(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A store from before configured hosts were told apart from their bare names holds the
    # bare name of a configured mirror as adopted: it was pulled as a mirror of its own, every
    # page of the site asked twice of one server at every pull.
    site = sites(1)
    www = site.add_mirror("127.0.0.3", name="www.mirror.test")
    await site.start()
    config = write_config(site.config_yaml(store_in(tmp_path)))
    resolver = FixedResolver({"www.mirror.test": ["127.0.0.3"], "mirror.test": ["127.0.0.3"]})
    bare = f"http://mirror.test:{www.port}"

    async def adopt_the_bare_name(store: Store) -> None:
        await MirrorStore(store).note_candidates("news", {bare: www.origin + "/"}, FakeClock()())
        await MirrorStore(store).adopt("news", bare, bare + "/Detail/x", FakeClock()())

    report, _, _ = await pull_once(config, resolver, before=adopt_the_bare_name)
    assert "mirror.test" not in resolver.asked
    assert report.new == len(site.articles)


async def test_a_candidate_stored_before_hosts_were_checked_is_neither_asked_nor_shown(
    sites: Callable[..., Site], tmp_path: Path, write_config: WriteConfig
) -> None:
    # A store from before announced hosts were checked as host names holds `a~b.example` as
    # a candidate: adoption asked the resolver for it, and `syndicate mirrors` and
    # /api/mirrors listed it, though no page names it any more.
    site = sites(1)
    await site.start()
    config = write_config(site.config_yaml(store_in(tmp_path), extra=ADOPT_PRIVATE))
    resolver = FixedResolver({})
    bad, good = "https://a~b.example", "https://alt.example"

    async def noted_before(store: Store) -> None:
        named_on = site.mirrors[0].origin + "/"
        await MirrorStore(store).note_candidates(
            "news", {bad: named_on, good: named_on}, FakeClock()()
        )

    report, _, _ = await pull_once(config, resolver, before=noted_before)
    assert report.new == len(site.articles)
    assert "alt.example" in resolver.asked  # candidates are asked
    assert "a~b.example" not in resolver.asked
    store = await open_store(config.service.store)
    try:
        shown = [row.mirror for row in await mirror_rows(config, store)]
    finally:
        await store.close()
    assert good in shown and bad not in shown
