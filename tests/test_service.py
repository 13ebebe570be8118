"""The running service as an operator meets it: `syndicate serve` in a real subprocess,
reloaded with SIGHUP or a file change while a client downloads feeds, stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import select

from syndicator.store import open_store
from syndicator.store.schema import pulls

from .hubs import Hub
from .served import Served
from .sites import Site, free_port, second_publisher_articles

# Paths the client downloads over and over during a reload; each must always answer 200.
# (An OPML route would be added here once the server has one.)
ALWAYS_SERVED = ["/", "/feeds/north-africa.rss", "/feeds/north-africa.json", "/feeds/all.atom"]
# Pages that list every section's feeds: a section added by a reload must show up in each.
LISTS_SECTIONS = ["/", "/opml"]


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
    await served.start()

    async def ready() -> bool:
        return (await served.get("/readyz"))[0] == 200

    await served.wait_for(ready, "/readyz to answer 200")
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
        applied = await served.wait_event(lambda e: e.get("event") == "config applied", mark)
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
        # The same process served before and after: no restart happened.
        assert served.proc is not None and served.proc.returncode is None
        assert sum(e.get("event") == "started" for e in served.events) == 1
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
        await served.wait_event(lambda e: e.get("event") == "keeping the running config", mark)
        refused = [e for e in served.events[mark:] if e.get("event") == "config refused"]
        assert [e["reason"] for e in refused] == ["SIGHUP"]
        assert refused[0]["problem"].startswith(f"{served.config_path}:{line}:")
        assert "sources.more.every" in refused[0]["problem"]
        assert "Traceback" not in "\n".join(served.raw)

        # The old config still runs: its feeds answer, the refused section does not exist.
        for path in ALWAYS_SERVED:
            assert (await served.get(path))[0] == 200, path
        assert (await served.get("/feeds/iran.rss"))[0] == 404
        status, body = await served.get("/readyz")
        assert status == 200 and b"refused" in body
    finally:
        assert await served.stop() == 0


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
    port = free_port()
    path = tmp_path / "syndicator.yaml"
    path.write_text(config_text(site, store_url, port, drain="500ms"))
    for mirror in site.mirrors:
        mirror.mode, mirror.slow_seconds = "slow", 3.0
    served = Served(path, port)
    await served.start()
    try:

        async def pull_started() -> bool:
            return any(m.log for m in site.mirrors)

        await served.wait_for(pull_started, "the first pull to reach a mirror")
        served.signal(signal.SIGTERM)
        assert served.proc is not None
        code = await asyncio.wait_for(served.proc.wait(), 20)
        assert code == 0
        stopped = await served.wait_event(lambda e: e.get("event") == "stopped")
        assert stopped["cancelled_pulls"] == ["news"]
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
        mark = len(served.events)
        served.config_path.write_text(config)
        served.signal(signal.SIGHUP)
        return await served.wait_event(
            lambda e: e.get("event") in ("config applied", "config unchanged"), mark
        )

    async def metric(name: str, labels: str) -> float:
        body = (await served.get("/metrics"))[1].decode()
        line = next((x for x in body.splitlines() if x.startswith(f"{name}{{{labels}}} ")), None)
        return float(line.split()[-1]) if line else 0.0

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
        assert [e["keys"] for e in warnings] == [["service.drain_timeout"]] * 2
        assert await metric("syndicator_config_reloads_total", 'result="applied"') == 0
        assert await metric("syndicator_config_reloads_total", 'result="unchanged"') == 2

        # One section's description: that section (and `all`) rendered again and announced.
        outcome = await reload(text(drain="3s", description="Libya, Egypt and the Maghreb"))
        assert outcome["event"] == "config applied"
        assert outcome["sections_rerendered"] == ["north-africa"]
        await hub.wait_for(4)
        await asyncio.sleep(0.3)
        assert hub.sections_pinged(since=2) == ["all", "north-africa"]
        assert await renders() == rendered + 1
        feed = feedparser.parse((await served.get("/feeds/north-africa.rss"))[1])
        assert feed.feed.description == "Libya, Egypt and the Maghreb"
        assert await metric("syndicator_config_reloads_total", 'result="applied"') == 1
    finally:
        assert await served.stop() == 0
