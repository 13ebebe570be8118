"""The running service as an operator meets it: `syndicate serve` in a real subprocess,
reloaded with SIGHUP or a file change while a client downloads feeds, stopped with SIGTERM.

`serve` runs two processes, a pulling one and a serving one: each logs its own start, reload
and stop, so a test waits for both before it counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
import pytest
from aiohttp import web
from sqlalchemy import select

from syndicator.core.config import Config
from syndicator.core.config import Service as ServiceSettings
from syndicator.core.config_file import load_config
from syndicator.serve.service import Service as RunningService
from syndicator.store import open_store
from syndicator.store.schema import pulls

from .hubs import Hub
from .served import Served
from .sites import Site, free_port, second_publisher_articles

DEFAULT_USER_AGENT = ServiceSettings().user_agent
# Paths the client downloads over and over during a reload; each must always answer 200.
# (An OPML route would be added here once the server has one.)
ALWAYS_SERVED = ["/", "/feeds/north-africa.rss", "/feeds/north-africa.json", "/feeds/all.atom"]
# Pages that list every section's feeds: a section added by a reload must show up in each.
LISTS_SECTIONS = ["/", "/opml"]
# The pulling process and the serving one.
PROCESSES = 2


def config_text(
    site: Site,
    store_url: str,
    port: int,
    *,
    more: Site | None = None,
    watch: bool = False,
    drain: str = "2s",
) -> str:
    text = site.config_yaml(store_url, sections=("north-africa",))
    text = text.replace(
        "  max_items: 50\n",
        f"  max_items: 50\n  listen: 127.0.0.1:{port}\n  jitter: 100ms\n"
        f"  drain_timeout: {drain}\n  watch_config: {'true' if watch else 'false'}\n"
        "  log_level: info\n",
    )
    if more is not None:
        text = text.replace(
            "  north-africa: {title: North Africa}\n",
            "  north-africa: {title: North Africa}\n  iran: {title: Iran}\n",
        )
        text += (
            "  more:\n"
            "    title: More News\n"
            f"    canonical: {more.mirrors[0].origin}\n"
            "    every: 5m\n"
            "    sections:\n"
            "      iran: {feed: /rss/iran.xml}\n"
        )
    return text


async def started_mid_pull(
    tmp_path: Path,
    site: Site,
    store_url: str,
    *options: str,
    drain: str = "500ms",
    slow: float = 3.0,
) -> Served:
    """`syndicate serve OPTIONS` on the site's config (written to tmp_path/syndicator.yaml,
    with `drain_timeout: DRAIN`), every mirror answering `slow` seconds late, once its first
    pull has reached a mirror. A service that does not get there is stopped."""
    port = free_port()
    path = tmp_path / "syndicator.yaml"
    path.write_text(config_text(site, store_url, port, drain=drain))
    for mirror in site.mirrors:
        mirror.mode, mirror.slow_seconds = "slow", slow
    served = Served(path, port, *options)
    await served.start()

    async def pull_started() -> bool:
        return any(m.log for m in site.mirrors)

    try:
        await served.wait_for(pull_started, "the first pull to reach a mirror")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            await served.stop()
        raise
    return served


@pytest.fixture
async def more_site() -> AsyncIterator[Site]:
    s = Site(mirrors=1, articles=second_publisher_articles())
    await s.start()
    yield s
    await s.stop()


async def serve(tmp_path: Path, text: str, port: int) -> Served:
    path = tmp_path / "syndicator.yaml"
    path.write_text(text, encoding="utf-8")
    served = Served(path, port)
    await served.start_ready()
    return served


async def download_loop(served: Served, stop: asyncio.Event) -> tuple[int, list[str]]:
    """Download every always-served path until told to stop; count requests and failures."""
    import aiohttp

    done, failures = 0, []
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            for path in ALWAYS_SERVED:
                try:
                    async with session.get(served.base + path) as resp:
                        await resp.read()
                        if resp.status != 200:
                            failures.append(f"{path}: HTTP {resp.status}")
                except aiohttp.ClientError as exc:
                    failures.append(f"{path}: {exc!r}")
                done += 1
            await asyncio.sleep(0.01)
    return done, failures


async def test_sighup_adds_a_source_and_a_section_while_clients_download(
    tmp_path: Path, site: Site, more_site: Site, store_url: str
) -> None:
    port = free_port()
    served = await serve(tmp_path, config_text(site, store_url, port), port)
    try:
        assert (await served.get("/feeds/iran.rss"))[0] == 404
        stop = asyncio.Event()
        client = asyncio.create_task(download_loop(served, stop))
        await asyncio.sleep(0.3)

        mark = len(served.events)
        served.config_path.write_text(config_text(site, store_url, port, more=more_site))
        served.signal(signal.SIGHUP)
        both = await served.wait_events(
            lambda e: e.get("event") == "config applied", PROCESSES, mark
        )
        assert sorted(e["pulls"] for e in both) == [False, True]
        for applied in both:
            assert applied["reason"] == "SIGHUP"
            assert applied["sources_added"] == ["more"]
            assert applied["sections_added"] == ["iran"]

        pulled = await served.wait_event(
            lambda e: e.get("event") == "pull" and e.get("source") == "more", mark
        )
        assert pulled["result"] == "ok" and pulled["new"] == len(more_site.in_section("iran"))
        status, body = await served.get("/feeds/iran.rss")
        assert status == 200
        await asyncio.sleep(0.3)
        stop.set()
        done, failures = await client

        titles = {e.title for e in feedparser.parse(body).entries}
        assert titles == {a.title for a in more_site.in_section("iran")}
        for path in LISTS_SECTIONS:
            status, listing = await served.get(path)
            assert status == 200 and b"/feeds/iran.rss" in listing, path
        all_titles = {
            e.title for e in feedparser.parse((await served.get("/feeds/all.rss"))[1]).entries
        }
        assert {a.title for a in site.in_section("north-africa")} <= all_titles
        assert failures == [] and done > len(ALWAYS_SERVED)
        # The same processes served before and after: no restart happened.
        assert served.proc is not None and served.proc.returncode is None
        assert sum(e.get("event") == "started" for e in served.events) == PROCESSES
    finally:
        assert await served.stop() == 0


async def test_sighup_with_a_broken_config_logs_file_and_line_and_keeps_serving(
    tmp_path: Path, site: Site, more_site: Site, store_url: str
) -> None:
    port = free_port()
    good = config_text(site, store_url, port)
    served = await serve(tmp_path, good, port)
    try:
        broken = config_text(site, store_url, port, more=more_site).replace(
            "    every: 5m\n    sections:\n      iran", "    every: soon\n    sections:\n      iran"
        )
        line = broken.splitlines().index("    every: soon") + 1
        mark = len(served.events)
        served.config_path.write_text(broken)
        served.signal(signal.SIGHUP)
        await served.wait_events(
            lambda e: e.get("event") == "keeping the running config", PROCESSES, mark
        )
        refused = [e for e in served.events[mark:] if e.get("event") == "config refused"]
        assert [e["reason"] for e in refused] == ["SIGHUP"] * PROCESSES
        for each in refused:
            assert each["problem"].startswith(f"{served.config_path}:{line}:")
            assert "sources.more.every" in each["problem"]
        assert "Traceback" not in "\n".join(served.raw)

        # The old config still runs: its feeds answer, the refused section does not exist.
        for path in ALWAYS_SERVED:
            assert (await served.get(path))[0] == 200, path
        assert (await served.get("/feeds/iran.rss"))[0] == 404
        status, body = await served.get("/readyz")
        assert status == 200 and b"refused" in body
    finally:
        assert await served.stop() == 0


async def test_a_config_file_gone_from_under_the_service_is_said_to_be_gone(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    # Started with a relative --config, a reload after the file was moved said "sought in
    # the working folder ...; give its full path when the command runs elsewhere (cron
    # starts in the home folder)": advice for a command started in the wrong folder, not
    # for a running service whose file went away.
    port = free_port()
    path = tmp_path / "syndicator.yaml"
    path.write_text(config_text(site, store_url, port), encoding="utf-8")
    served = Served(path, port)
    served.config_arg = "syndicator.yaml"
    await served.start_ready()
    try:
        mark = len(served.events)
        path.rename(tmp_path / "syndicator.yaml.old")
        served.signal(signal.SIGHUP)
        await served.wait_events(
            lambda e: e.get("event") == "keeping the running config", PROCESSES, mark
        )
        refused = [e for e in served.events[mark:] if e.get("event") == "config refused"]
        assert len(refused) == PROCESSES
        for each in refused:
            assert each["problem"] == "syndicator.yaml: config file not found", each["problem"]
        assert (await served.get("/feeds/north-africa.rss"))[0] == 200
    finally:
        assert await served.stop() == 0


async def test_sighup_with_values_out_of_bounds_is_refused_and_the_service_keeps_running(
    tmp_path: Path, site: Site, more_site: Site, store_url: str
) -> None:
    port = free_port()
    good = config_text(site, store_url, port)
    served = await serve(tmp_path, good, port)
    try:
        # Each of these once passed validation, then raised inside the running service (the
        # scheduler takes whole seconds; a NaN jitter; a wait past the year 9999) or made
        # the retention job spin.
        bad = (
            config_text(site, store_url, port, more=more_site)
            .replace("  jitter: 100ms\n", "  jitter: .nan\n")
            .replace("    every: 5m\n", "    every: 99999999d\n", 1)
            .replace("    every: 5m\n", "    every: 250ms\n", 1)
        ) + "retention: {days: 1, every: 1ms}\n"
        mark = len(served.events)
        served.config_path.write_text(bad)
        served.signal(signal.SIGHUP)
        await served.wait_events(
            lambda e: e.get("event") == "keeping the running config", PROCESSES, mark
        )
        refused = [e["problem"] for e in served.events[mark:] if e.get("event") == "config refused"]
        for key, words in [
            ("service.jitter", "not a finite duration"),
            ("sources.more.every", "at least 1s"),
            ("sources.news.every", "at most"),
            ("retention.every", "at least 1s"),
        ]:
            found = [p for p in refused if f" {key}: " in p]
            assert found and words in found[0], (key, refused)
            assert found[0].startswith(f"{served.config_path}:"), found[0]

        # The running config still runs: its feeds answer and it still stops cleanly.
        for path in ALWAYS_SERVED:
            assert (await served.get(path))[0] == 200, path
        assert (await served.get("/feeds/iran.rss"))[0] == 404
        assert served.proc is not None and served.proc.returncode is None
    finally:
        assert await served.stop() == 0
    assert "Traceback" not in "\n".join(served.raw)


async def test_a_changed_config_file_is_applied_without_a_signal(
    tmp_path: Path, site: Site, more_site: Site, store_url: str
) -> None:
    port = free_port()
    served = await serve(tmp_path, config_text(site, store_url, port, watch=True), port)
    try:
        mark = len(served.events)
        served.config_path.write_text(
            config_text(site, store_url, port, more=more_site, watch=True)
        )
        applied = await served.wait_event(lambda e: e.get("event") == "config applied", mark)
        assert applied["reason"] == "file changed"

        async def iran_feed() -> bool:
            status, body = await served.get("/feeds/iran.json")
            return status == 200 and b"Second publisher" in body

        await served.wait_for(iran_feed, "the new section's feed")
    finally:
        assert await served.stop() == 0


async def test_sigterm_cancels_a_hanging_pull_within_the_bound_and_records_it(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    served = await started_mid_pull(tmp_path, site, store_url)
    try:
        served.signal(signal.SIGTERM)
        assert served.proc is not None
        code = await asyncio.wait_for(served.proc.wait(), 20)
        assert code == 0
        stopped = await served.wait_events(lambda e: e.get("event") == "stopped", PROCESSES)
        # The pulling process cut its pull off; the serving one had none.
        assert {e["pulls"]: e["cancelled_pulls"] for e in stopped} == {True: ["news"], False: []}
        assert "Traceback" not in "\n".join(served.raw)
    finally:
        with contextlib.suppress(ProcessLookupError):
            await served.stop()
    store = await open_store(store_url)
    try:
        async with store.engine.connect() as conn:
            results = (await conn.execute(select(pulls.c.source, pulls.c.result))).all()
    finally:
        await store.close()
    assert [(r.source, r.result) for r in results] == [("news", "cancelled")]


async def test_a_pull_cut_off_by_a_stop_is_pulled_again_soon_after_the_restart(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    # A restart during a pull (an upgrade, `systemctl restart`) counted the cancelled pull
    # as the source's last: the next came a whole `every` (here 5m) later, and a new
    # store's /readyz answered 503 all that time.
    served = await started_mid_pull(tmp_path, site, store_url)
    assert await served.stop() == 0
    assert any(e.get("cancelled_pulls") == ["news"] for e in served.events), served.raw
    for mirror in site.mirrors:
        mirror.mode = "ok"
    again = Served(served.config_path, served.port)
    await again.start()
    try:
        pulled = await again.wait_event(lambda e: e.get("event") == "pull")
        assert (pulled["source"], pulled["result"]) == ("news", "ok"), pulled
        await again.wait_for(
            lambda: _ready(again), "/readyz to answer 200 after the pull the stop cut off"
        )
    finally:
        assert await again.stop() == 0


async def _ready(served: Served) -> bool:
    return (await served.get("/readyz"))[0] == 200


async def test_a_reload_changes_only_what_changed_in_feeds_pings_and_counts(
    tmp_path: Path, site: Site, store_url: str, hub: Hub
) -> None:
    port = free_port()

    def text(drain: str = "2s", description: str = "North Africa") -> str:
        websub = f'  websub: {{hub: "{hub.url}", delay: 50ms}}\n'
        return (
            config_text(site, store_url, port, drain=drain)
            .replace("  max_items: 50\n", "  max_items: 50\n" + websub)
            .replace(
                "  north-africa: {title: North Africa}\n",
                f'  north-africa: {{title: North Africa, description: "{description}"}}\n',
            )
        )

    served = await serve(tmp_path, text(), port)

    async def reload(config: str) -> dict[str, Any]:
        """The outcome, once both processes have had the reload."""
        mark = len(served.events)
        served.config_path.write_text(config)
        served.signal(signal.SIGHUP)
        both = await served.wait_events(
            lambda e: e.get("event") in ("config applied", "config unchanged"), PROCESSES, mark
        )
        assert both[0]["event"] == both[1]["event"], both
        return both[0]

    async def metric(name: str, labels: str) -> float:
        body = (await served.get("/metrics"))[1].decode()
        line = next((x for x in body.splitlines() if x.startswith(f"{name}{{{labels}}} ")), None)
        return float(line.split()[-1]) if line else 0.0

    async def section_version(section: str) -> int:
        store = await open_store(store_url)
        try:
            return (await store.section_versions())[section]
        finally:
            await store.close()

    async def renders() -> float:
        for path in ALWAYS_SERVED:  # rendered now, unless the documents were kept
            assert (await served.get(path))[0] == 200, path
        return await metric("syndicator_feed_renders_total", 'section="north-africa"')

    try:
        # The first pull announced every section; the hub has had its pings.
        await asyncio.sleep(0.5)
        assert hub.sections_pinged() == ["all", "north-africa"]
        rendered = await renders()

        # Only a key that needs a restart differs, twice over (the second reload reads the
        # same file again): nothing is applied, nothing rendered or announced, and each
        # reload tells the operator the key waits for a restart.
        mark = len(served.events)
        outcomes = [(await reload(text(drain="3s")))["event"] for _ in range(2)]
        await asyncio.sleep(0.5)
        assert outcomes == ["config unchanged", "config unchanged"]
        assert hub.sections_pinged(since=2) == []
        assert await renders() == rendered
        warnings = [e for e in served.events[mark:] if e["event"] == "config keys need a restart"]
        assert [e["keys"] for e in warnings] == [["service.drain_timeout"]] * 2 * PROCESSES
        assert await metric("syndicator_config_reloads_total", 'result="applied"') == 0
        assert await metric("syndicator_config_reloads_total", 'result="unchanged"') == 2

        # One section's description: that section (and `all`) rendered again and announced,
        # the change recorded in the store once (by the serving process, as it renders).
        recorded = await section_version("north-africa")
        outcome = await reload(text(drain="3s", description="Libya, Egypt and the Maghreb"))
        assert outcome["event"] == "config applied"
        assert await section_version("north-africa") == recorded + 1
        assert outcome["sections_rerendered"] == ["north-africa"]
        await hub.wait_for(4)
        await asyncio.sleep(0.3)
        assert hub.sections_pinged(since=2) == ["all", "north-africa"]
        # Rendered again once: the pulling process recorded the same change in the store too,
        # and when its record landed after that render (a loaded machine: 4 runs in 10), the
        # section was rendered once more.
        assert await renders() == rendered + 1
        feed = feedparser.parse((await served.get("/feeds/north-africa.rss"))[1])
        assert feed.feed.description == "Libya, Egypt and the Maghreb"
        assert await metric("syndicator_config_reloads_total", 'result="applied"') == 1
    finally:
        assert await served.stop() == 0


async def test_a_reload_of_two_serving_processes_is_recorded_in_the_store_once(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    port = free_port()

    def text(description: str) -> str:
        return config_text(site, store_url, port).replace(
            "  north-africa: {title: North Africa}\n",
            f'  north-africa: {{title: North Africa, description: "{description}"}}\n',
        )

    path = tmp_path / "syndicator.yaml"
    path.write_text(text("North Africa"), encoding="utf-8")
    served = Served(path, port, "--workers", "2")
    await served.start_ready()
    try:
        store = await open_store(store_url)
        try:
            before = await store.section_versions()
            mark = len(served.events)
            path.write_text(text("Libya, Egypt and the Maghreb"), encoding="utf-8")
            served.signal(signal.SIGHUP)
            # The pulling process and both serving ones.
            applied = await served.wait_events(
                lambda e: e.get("event") == "config applied", PROCESSES + 1, mark
            )
            assert [e["sections_rerendered"] for e in applied] == [["north-africa"]] * 3
            await asyncio.sleep(1)
            after = await store.section_versions()
        finally:
            await store.close()
        moved = {s: after[s] - before[s] for s in ("north-africa", "all")}
        assert moved == {"north-africa": 1, "all": 1}
    finally:
        assert await served.stop() == 0


@dataclass
class RedirectingSite:
    """A site on 127.0.0.1 whose feed is two redirects away (/a -> /b -> /feed.xml), with a
    robots.txt; it remembers every request's path and User-Agent."""

    port: int = field(default_factory=free_port)
    requests: list[tuple[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, request.headers.get("User-Agent", "")))
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if request.path == "/a":
            raise web.HTTPFound("/b")
        if request.path == "/b":
            raise web.HTTPFound("/feed.xml")
        if request.path == "/feed.xml":
            item = (
                "<item><title>Egypt opens a new rail line to the coast</title>"
                f"<link>{self.origin}/2024/03/01/rail-line</link>"
                "<guid>rail-line</guid><pubDate>Fri, 01 Mar 2024 09:00:00 GMT</pubDate>"
                "<description>The line opened on Friday after two years of work, the "
                "ministry said.</description></item>"
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{item}'
            return web.Response(text=body + "</channel></rss>", content_type="application/xml")
        return web.Response(status=404)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def robots_reads(self) -> int:
        return sum(path == "/robots.txt" for path, _ in self.requests)


async def test_a_reload_applies_contact_max_redirects_and_robots_ttl_to_the_next_fetches(
    tmp_path: Path, store_url: str
) -> None:
    site = RedirectingSite()
    await site.start()
    port = free_port()

    def text(fetching: str) -> str:
        return (
            "service:\n"
            f'  store: "{store_url}"\n  listen: 127.0.0.1:{port}\n  jitter: 100ms\n'
            "  watch_config: false\n  log_level: info\n"
            f"{fetching}"
            "sections:\n  north-africa: {title: North Africa}\n"
            "sources:\n  news:\n    title: Example News\n"
            f"    canonical: {site.origin}\n    every: 1s\n    full_text: false\n"
            "    sections:\n      north-africa: {feed: /a}\n"
        )

    path = tmp_path / "syndicator.yaml"
    path.write_text(text("  max_redirects: 1\n  robots_ttl: 1h\n"))
    served = Served(path, port)
    await served.start()
    try:
        # Two redirects, one allowed: the entry point fails; robots.txt is read once.
        failed = await served.wait_event(lambda e: e.get("event") == "pull")
        assert failed["result"] == "failed" and "more than 1 redirects" in failed["error"]
        assert site.robots_reads() == 1

        mark, seen = len(served.events), len(site.requests)
        contact = "mailto:ops@example.org"
        path.write_text(text(f"  max_redirects: 5\n  robots_ttl: 1s\n  contact: {contact}\n"))
        served.signal(signal.SIGHUP)
        applied = await served.wait_event(lambda e: e.get("event") == "config applied", mark)
        # The second pull after the reload (the first may have started before it).
        after = served.events.index(applied)
        first = await served.wait_event(lambda e: e.get("event") == "pull", after)
        pulled = await served.wait_event(
            lambda e: e.get("event") == "pull", served.events.index(first) + 1
        )
        assert (pulled["result"], pulled.get("error")) == ("ok", None)
        assert pulled["new"] + first["new"] == 1

        async def robots_read_again_and_again() -> bool:
            return site.robots_reads() >= 4

        await served.wait_for(robots_read_again_and_again, "robots.txt kept for 1s only")
        agents = {agent for _, agent in site.requests[seen:]}
        assert agents == {f"{DEFAULT_USER_AGENT} (+{contact})"}
        assert applied["fetch_settings"] == ["user_agent", "max_redirects", "robots_ttl"]
        assert not any(e.get("event") == "config keys need a restart" for e in served.events)
    finally:
        code = await served.stop()
        assert site.runner is not None
        await site.runner.cleanup()
    assert code == 0


async def test_a_reload_starts_the_retention_job_with_the_new_rules(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    port = free_port()
    # Feeds keep the newest two items; older ones are the retention job's to remove.
    text = config_text(site, store_url, port).replace("max_items: 50", "max_items: 2")
    served = await serve(tmp_path, text, port)
    try:
        mark = len(served.events)
        served.config_path.write_text(text + "retention: {days: 1, every: 1s}\n")
        served.signal(signal.SIGHUP)
        # The pulling process runs the retention job.
        applied = await served.wait_event(
            lambda e: e.get("event") == "config applied" and e["pulls"], mark
        )
        # The site's articles are from 2024: beyond the feed's two, they go.
        pruned = await served.wait_event(
            lambda e: str(e.get("event")).startswith("retention: removed"), mark
        )
        assert pruned["event"].startswith(
            f"retention: removed {len(site.in_section('north-africa')) - 2} articles"
        )
        feed = feedparser.parse((await served.get("/feeds/north-africa.rss"))[1])
        assert len(feed.entries) == 2
        assert applied["restarted"] == ["retention"]
    finally:
        assert await served.stop() == 0


async def test_a_reload_announces_to_the_new_hub_and_no_longer_to_the_old(
    tmp_path: Path, site: Site, store_url: str, hub: Hub
) -> None:
    port = free_port()
    new_hub = Hub()
    await new_hub.start()

    def text(url: str) -> str:
        websub = f'  websub: {{hub: "{url}", delay: 50ms}}\n'
        config = config_text(site, store_url, port)
        return config.replace("  max_items: 50\n", "  max_items: 50\n" + websub)

    served = await serve(tmp_path, text(hub.url), port)
    try:
        await hub.wait_for(2)
        await asyncio.sleep(0.3)
        assert hub.sections_pinged() == ["all", "north-africa"]

        mark = len(served.events)
        served.config_path.write_text(text(new_hub.url))
        served.signal(signal.SIGHUP)
        # The pulling process announces to the hub.
        applied = await served.wait_event(
            lambda e: e.get("event") == "config applied" and e["pulls"], mark
        )
        # Every feed names the new hub now: the new hub hears of each, the old one of none.
        await new_hub.wait_for(2)
        await asyncio.sleep(0.3)
        assert (hub.sections_pinged(since=2), new_hub.sections_pinged()) == (
            [],
            ["all", "north-africa"],
        )
        assert applied["restarted"] == ["websub"]
        status, body = await served.get("/feeds/north-africa.atom")
        assert status == 200 and f'href="{new_hub.url}"'.encode() in body

        # An article corrected upstream, pulled soon after (every 1s from now): the change
        # is announced to the new hub only.
        site.correct(site.in_section("north-africa")[0], "A correction was added on Tuesday.")
        mark = len(served.events)
        served.config_path.write_text(text(new_hub.url).replace("every: 5m", "every: 1s"))
        served.signal(signal.SIGHUP)
        await served.wait_event(lambda e: e.get("event") == "pull" and e["updated"] == 1, mark)
        await asyncio.sleep(0.3)
        assert set(new_hub.sections_pinged(since=2)) == {"all", "north-africa"}
        assert len(hub.pings) == 2
    finally:
        code = await served.stop()
        assert new_hub.runner is not None
        await new_hub.runner.cleanup()
    assert code == 0


async def test_a_reload_asked_for_while_the_service_starts_applies_to_what_it_started(
    tmp_path: Path, site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    """`serve` handles SIGHUP from before its start: a reload that ran while the start was
    opening the store switched the service's config, and the start went on building the
    feeds from the one it had read, so a section the reload added answered 404."""
    config = write_config(site.config_yaml(store_url, sections=("north-africa",)))
    write_config(site.config_yaml(store_url, sections=("north-africa", "iran")))
    path = tmp_path / "syndicator.yaml"
    service = RunningService(
        config, host="127.0.0.1", port=0, pulls=False, load=lambda: load_config(path)
    )
    start = asyncio.create_task(service.start())
    await asyncio.sleep(0)  # the start runs to its first wait: opening the store
    assert await service.reload("SIGHUP")
    await start
    try:
        assert service.book is not None
        assert set(service.book.config.sections) == {"north-africa", "iran"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{service.port}/feeds/iran.rss") as response,
        ):
            assert response.status == 200
    finally:
        await service.stop()


@pytest.mark.parametrize(
    ("options", "processes"), [((), PROCESSES), (("--pull-inline",), 1)], ids=["all", "inline"]
)
async def test_a_sighup_while_the_service_drains_changes_nothing_and_the_stop_stays_clean(
    tmp_path: Path, site: Site, store_url: str, options: tuple[str, ...], processes: int
) -> None:
    # logrotate's SIGHUP, say, in the drain of a stop: the reload ran beside the stop,
    # restarting what the stop had just stopped.
    served = await started_mid_pull(tmp_path, site, store_url, *options, drain="3s", slow=10.0)
    path, port = served.config_path, served.port
    try:
        served.signal(signal.SIGTERM)
        await served.wait_events(lambda e: e.get("event") == "stopping", processes)
        mark = len(served.events)
        path.write_text(
            config_text(site, store_url, port, drain="3s") + "retention: {days: 1, every: 1s}\n"
        )
        served.signal(signal.SIGHUP)
        assert served.proc is not None
        code = await asyncio.wait_for(served.proc.wait(), 20)
    finally:
        code = await served.stop()
    log = "\n".join(served.raw)
    assert code == 0, log
    assert "Traceback" not in log and "Task was destroyed" not in log, log
    applied = [e for e in served.events[mark:] if e.get("event") == "config applied"]
    assert applied == [], log


async def test_serve_logs_the_config_warnings_of_check_at_start_and_after_a_reload(
    tmp_path: Path, store_url: str
) -> None:
    # `every: 10` meant as ten minutes pulls every 10 seconds: `check` warned of it, `serve`
    # (where the operator's edit goes live) said nothing, at start or after the SIGHUP.
    port, nobody = free_port(), free_port()  # a mirror that refuses every connection

    def text(every: str) -> str:
        return (
            "service:\n"
            f'  store: "{store_url}"\n  listen: 127.0.0.1:{port}\n  jitter: 100ms\n'
            "  watch_config: false\n  log_level: info\n"
            "sections:\n  north-africa: {title: North Africa}\n"
            "sources:\n  news:\n    title: Example News\n"
            f"    canonical: http://127.0.0.1:{nobody}\n    every: {every}\n"
            "    sections:\n      north-africa: {feed: /rss}\n"
        )

    def brisk(event: dict[str, Any]) -> bool:
        return event.get("level") == "warning" and str(event.get("event")).startswith(
            f"{path}:13:5: sources.news.every: "  # the line of the file, as `check` says it
        )

    path = tmp_path / "syndicator.yaml"
    path.write_text(text("10"))
    served = Served(path, port)
    await served.start()
    try:
        await served.wait_events(lambda e: e.get("event") == "started", PROCESSES)
        (warned,) = [e for e in served.events if brisk(e)]  # the supervisor's, once
        assert warned["event"].startswith(
            f"{path}:13:5: sources.news.every: 10s: each of its 1 mirror(s)"
        )
        assert "360 times an hour" in warned["event"]

        for every, hourly in (("20s", 180), ("5m", None)):
            mark = len(served.events)
            path.write_text(text(every))
            served.signal(signal.SIGHUP)
            await served.wait_events(
                lambda e: e.get("event") == "config applied", PROCESSES, after=mark
            )
            # Told by the pulling process only, after what it applied.
            said = [e for e in served.events[mark:] if brisk(e)]
            if hourly is None:
                assert said == []
            else:
                assert [e["event"].split(": each")[0] for e in said] == [
                    f"{path}:13:5: sources.news.every: {every}"
                ]
                assert f"{hourly} times an hour" in said[0]["event"]
    finally:
        code = await served.stop()
    assert code == 0


async def test_a_stop_signalled_to_every_process_is_logged_once_by_each(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    # systemd (KillMode=control-group), `timeout` and Ctrl-C signal every process of the
    # service, and the supervisor passes the signal on too: each process logged "stopping"
    # twice.
    port = free_port()
    served = await serve(tmp_path, config_text(site, store_url, port), port)
    assert served.proc is not None
    await served.wait_events(lambda e: e.get("event") == "started", PROCESSES)
    os.killpg(served.proc.pid, signal.SIGTERM)  # its own session: the whole service
    code = await served.stop()
    assert code == 0
    stopping = [e for e in served.events if e.get("event") == "stopping"]
    assert [e["signal"] for e in stopping] == ["SIGTERM"] * PROCESSES
    assert sum(e.get("event") == "stopped" for e in served.events) == PROCESSES


async def test_a_pulling_process_killed_is_named_as_such_when_it_is_restarted(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    # The supervisor logged the pulling process's death (kill -9, the OOM killer) as
    # "serving process 0 exited (status -9); restarting": an operator looked for a
    # serving process that had never died.
    port = free_port()
    served = await serve(tmp_path, config_text(site, store_url, port), port)
    try:
        starts = await served.wait_events(lambda e: e.get("event") == "started", PROCESSES)
        (puller,) = [e["pid"] for e in starts if e["pulls"]]
        mark = len(served.events)
        os.kill(puller, signal.SIGKILL)
        restarted = await served.wait_event(
            lambda e: "restarting" in str(e.get("event")), after=mark
        )
        assert restarted["event"] == "pulling process exited (status -9); restarting", restarted
        assert restarted["level"] == "warning", restarted
        mark = len(served.events)
        served.signal(signal.SIGHUP)
        told = await served.wait_event(
            lambda e: str(e.get("event")).startswith("SIGHUP"), after=mark
        )
        assert told["event"] == "SIGHUP: reloading the config in 2 processes", told
    finally:
        assert await served.stop() == 0
