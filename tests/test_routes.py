"""Routes per mirror: a mirror reached only through a SOCKS5 or HTTP proxy on loopback, an
onion mirror whose name only the proxy resolves, and a dead proxy named in the mirror's
health. The proxies (tests/proxies.py) connect out from 127.0.0.9, and the mirrors behind
them refuse every other address, so a request that went around a proxy is seen."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syndicator.core.config import Config
from syndicator.core.errors import ConfigError
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store
from syndicator.store.health import MirrorStore

from .proxies import HttpConnectProxy, Proxy, Socks5Proxy
from .sites import Site


def routed_config(site: Site, store_url: str, mirror: str) -> str:
    """The canonical mirror direct (and down in these tests), the other behind a route."""
    yaml = site.config_yaml(store_url, configured=1)
    return yaml.replace("    mirrors:\n      []", f"    mirrors:\n      - {mirror}")


async def stored_links(store: Store) -> set[str]:
    return {a.url for a in await store.section_articles("all", limit=1000)}


@pytest.mark.parametrize("proxy_kind", [Socks5Proxy, HttpConnectProxy], ids=["socks5h", "http"])
async def test_a_mirror_reachable_only_through_a_proxy_gets_its_articles_through_it(
    proxy_kind: type[Proxy],
    write_config: Callable[[str], Config],
    store_url: str,
    store: Store,
    fetcher: Fetcher,
) -> None:
    site = Site(mirrors=2)
    hidden = site.mirrors[1]
    hidden.only_from = "127.0.0.9"
    proxy = proxy_kind(source="127.0.0.9")
    await site.start()
    await proxy.start()
    try:
        await site.mirrors[0].go_down()
        config = write_config(
            routed_config(site, store_url, f"{{url: {hidden.origin}, via: '{proxy.url}'}}")
        )
        report = await pull_source("news", config, fetcher, store)
        assert report.new == len(site.articles), report.errors
        # Every request the mirror answered came through the proxy; none went around it.
        assert hidden.refused == []
        assert hidden.pages_requested() and set(proxy.connections) == {hidden.host}
    finally:
        await proxy.stop()
        await site.stop()


async def test_an_onion_mirror_is_reached_by_a_name_only_the_proxy_resolves(
    write_config: Callable[[str], Config], store_url: str, store: Store, fetcher: Fetcher
) -> None:
    site = Site(mirrors=2)
    onion = site.mirrors[1]
    onion.name = "syndicatortestmirrorexample.onion"
    onion.only_from = "127.0.0.9"
    proxy = Socks5Proxy(names={onion.host: ("127.0.0.1", onion.port)})
    await site.start()
    await proxy.start()
    try:
        await site.mirrors[0].go_down()
        config = write_config(
            routed_config(site, store_url, f"{{url: {onion.origin}, via: '{proxy.url}'}}")
        )
        report = await pull_source("news", config, fetcher, store)
        assert report.new == len(site.articles), report.errors
        assert onion.refused == [] and set(proxy.connections) == {onion.host}
        # Published links are canonical; the onion name was only a way in.
        assert all(u.startswith(site.canonical) for u in await stored_links(store))
    finally:
        await proxy.stop()
        await site.stop()


@pytest.mark.parametrize("login", ["", "feeds:s3cret@"], ids=["open", "with-credentials"])
async def test_a_dead_proxy_is_named_in_the_mirror_health(
    write_config: Callable[[str], Config],
    store_url: str,
    store: Store,
    fetcher: Fetcher,
    login: str,
) -> None:
    site = Site(mirrors=2)
    hidden = site.mirrors[1]
    hidden.only_from = "127.0.0.9"
    proxy = Socks5Proxy()  # never started: nothing listens on its port
    via = proxy.url.replace("://", f"://{login}")
    await site.start()
    try:
        config = write_config(
            routed_config(site, store_url, f"{{url: {hidden.origin}, via: '{via}'}}")
        )
        report = await pull_source("news", config, fetcher, store)
        # The canonical mirror answers; the routed one fails because of its proxy, not itself.
        assert report.new == len(site.articles)
        assert hidden.refused == [] and hidden.pages_requested() == []
        health = {h.mirror: h for h in await MirrorStore(store).health("news")}
        routed = health[hidden.origin]
        assert routed.last_error_kind == "proxy"
        # The health is shown on the public dashboard: a proxy's password never is.
        shown = proxy.url.replace("://", "://***@") if login else proxy.url
        assert f"proxy {shown} unreachable" in (routed.last_error or ""), routed.last_error
    finally:
        await site.stop()


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("http://abcdefghij.onion", "is an onion service: give it a route"),
        (
            "{url: http://abcdefghij.onion, via: 'socks5://127.0.0.1:9050'}",
            "must resolve names on the proxy (socks5h://)",
        ),
        ("{url: http://m.example.test, via: 'ftp://127.0.0.1:21'}", "a route is 'direct'"),
        ("{url: http://m.example.test, via: 'socks5h://127.0.0.1'}", "needs a host and a port"),
    ],
    ids=["onion-without-route", "onion-local-dns", "bad-scheme", "no-port"],
)
def test_routes_are_checked(
    mirror: str, message: str, write_config: Callable[[str], Config]
) -> None:
    site = Site(mirrors=1)
    with pytest.raises(ConfigError) as caught:
        write_config(routed_config(site, "sqlite:///x.db", mirror))
    assert message in str(caught.value)


def test_a_source_route_applies_to_every_mirror_but_direct_ones(
    write_config: Callable[[str], Config],
) -> None:
    site = Site(mirrors=1)
    yaml = routed_config(site, "sqlite:///x.db", "{url: http://m.example.test, via: direct}")
    yaml += "    via: socks5h://127.0.0.1:9050\n"
    source = write_config(yaml).sources["news"]
    routes = {m.url: source.route_of(m) for m in source.pull_from()}
    assert routes == {site.canonical: "socks5h://127.0.0.1:9050", "http://m.example.test": None}


async def test_the_mirror_report_shows_each_route(
    write_config: Callable[[str], Config], store: Store
) -> None:
    from syndicator.publish.mirror_report import mirror_rows

    site = Site(mirrors=1)
    yaml = routed_config(
        site, "sqlite:///x.db", "{url: http://m.example.test, via: 'socks5h://127.0.0.1:9050'}"
    )
    rows = {r.mirror: r for r in await mirror_rows(write_config(yaml), store)}
    assert rows[site.canonical].route == "direct"
    assert rows["http://m.example.test"].as_dict()["route"] == "socks5h://127.0.0.1:9050"


async def test_the_mirror_report_hides_a_proxys_user_name_and_password(
    write_config: Callable[[str], Config], store: Store
) -> None:
    """/api/mirrors is public: a proxy's credentials, which a route may need, showed there."""
    from syndicator.publish.mirror_report import mirror_rows

    site = Site(mirrors=1)
    yaml = routed_config(
        site,
        "sqlite:///x.db",
        "{url: http://m.example.test, via: 'http://feeds:s3cret@127.0.0.1:3128'}",
    )
    config = write_config(yaml)
    # The fetch still goes through the proxy with its credentials.
    mirror = config.sources["news"].mirrors[0]
    assert config.sources["news"].route_of(mirror) == "http://feeds:s3cret@127.0.0.1:3128"
    rows = {r.mirror: r for r in await mirror_rows(config, store)}
    assert rows["http://m.example.test"].as_dict()["route"] == "http://***@127.0.0.1:3128"


async def test_the_mirror_dashboard_shows_each_route(
    write_config: Callable[[str], Config], store: Store
) -> None:
    from datetime import UTC, datetime

    from syndicator.publish.mirror_report import mirror_rows
    from syndicator.publish.pages import SourceMirrors, mirrors_page

    site = Site(mirrors=1)
    config = write_config(
        routed_config(
            site, "sqlite:///x.db", "{url: http://m.example.test, via: 'socks5h://127.0.0.1:9050'}"
        )
    )
    rows = await mirror_rows(config, store)
    sources = [SourceMirrors(name, s.title) for name, s in config.sources.items()]
    page = mirrors_page("t", sources, rows, [], datetime.now(UTC))
    routed = page.split('<td class="mirror">http://m.example.test')[1].split("</td>")[0]
    assert '<small class="route">via socks5h://127.0.0.1:9050</small>' in routed
    direct = page.split(f'<td class="mirror">{site.canonical}')[1].split("</td>")[0]
    assert "via" not in direct
