"""`/metrics` and `/readyz` of an in-process service against the mirror site and a real store."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.mirrors.health import MirrorPull
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import run_pull
from syndicator.serve.cluster import WebNode
from syndicator.serve.service import VERSION_POLL, Service
from syndicator.store import Store, open_store
from syndicator.store.health import MirrorStore
from syndicator.store.pulls import PullRecord, record_pull
from syndicator.web.readiness import readiness_checks

from .sites import Site

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, parsed by prometheus-client's parser."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def get(base: str, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(base + path) as resp:
        return resp.status, await resp.text()


async def test_metrics_parse_and_per_mirror_fetch_counters_move_after_a_pull(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    config = write_config(site.config_yaml(store_url))
    # A pull that failed a minute ago: the schedule resumes from it (next pull an interval
    # later), and it does not count as having pulled any section.
    store = await open_store(store_url)
    finished = datetime.now(UTC) - timedelta(minutes=1)
    await record_pull(
        store, PullRecord("news", finished, finished, "failed", sections=tuple(site.sections))
    )
    await store.close()
    site.mirrors[1].mode = "error"

    service = Service(config, host="127.0.0.1", port=0)
    await service.start()
    try:
        assert service.scheduler is not None
        next_run = service.scheduler.next_runs()["news"]
        assert next_run >= finished + timedelta(seconds=config.sources["news"].every)
        base = f"http://127.0.0.1:{service.port}"

        status, body = await get(base, "/readyz")
        assert status == 503 and "not pulled yet" in body
        before = samples((await get(base, "/metrics"))[1])
        for mirror in site.mirrors:
            assert (
                value(
                    before,
                    "syndicator_fetches_total",
                    source="news",
                    mirror=mirror.origin,
                    result="ok",
                )
                == 0
            )

        await service.scheduler.pull("news")
        assert (await get(base, "/feeds/iran.rss"))[0] == 200
        assert (await get(base, "/feeds/nowhere.rss"))[0] == 404
        status, _ = await get(base, "/readyz")
        assert status == 200

        status, text = await get(base, "/metrics")
        assert status == 200
        after = samples(text)
        # Every listing and article request went to a mirror and was counted under it.
        healthy = [site.mirrors[0], site.mirrors[2]]
        for mirror in healthy:
            fetched = value(
                after, "syndicator_fetches_total", source="news", mirror=mirror.origin, result="ok"
            )
            # robots.txt is read by the fetcher itself and is not counted as a pull fetch
            requests = len([p for p in mirror.log if p != "/robots.txt"])
            assert fetched == requests and fetched > 0
        # Its robots.txt answers 500 too: the whole mirror is disallowed until it answers,
        # so each entry point is a fetch that failed with http-500 without a request.
        broken = site.mirrors[1]
        assert broken.log == ["/robots.txt"]
        assert value(
            after,
            "syndicator_fetches_total",
            source="news",
            mirror=broken.origin,
            result="http-500",
        ) == len(site.sections)
        assert (
            value(
                after, "syndicator_fetches_total", source="news", mirror=broken.origin, result="ok"
            )
            == 0
        )
        count = sum(
            value(after, "syndicator_fetch_seconds_count", source="news", mirror=m.origin)
            for m in site.mirrors
        )
        assert count == len(site.sections) + sum(
            len([p for p in m.log if p != "/robots.txt"]) for m in healthy
        )

        n = len(site.articles)
        assert value(after, "syndicator_articles_total", source="news", outcome="new") == n
        assert value(after, "syndicator_articles_total", source="news", outcome="duplicate") == n
        assert value(after, "syndicator_pulls_total", source="news", result="partial") == 1
        for section in site.sections:
            items = value(after, "syndicator_section_items", section=section)
            assert items == len(site.in_section(section))
            assert value(after, "syndicator_section_newest_item_age_seconds", section=section) > 0
        assert value(after, "syndicator_section_items", section="all") == n
        assert value(after, "syndicator_feed_renders_total", section="iran") == 1
        assert value(after, "syndicator_feed_render_seconds_count") == 1
        assert (
            value(after, "syndicator_http_requests_total", route="/feeds/{name}", status="200") == 1
        )
        assert (
            value(after, "syndicator_http_requests_total", route="/feeds/{name}", status="404") == 1
        )
        assert value(after, "syndicator_http_requests_total", route="/readyz", status="503") == 1
        assert value(after, "syndicator_http_requests_total", route="/readyz", status="200") == 1
        assert value(after, "syndicator_ready") == 1
        assert (
            value(after, "syndicator_source_last_success_timestamp_seconds", source="news")
            > finished.timestamp()
        )
    finally:
        await service.stop()


async def test_readyz_fails_when_the_store_is_gone(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    config = write_config(site.config_yaml(store_url))
    service = Service(config, host="127.0.0.1", port=0, pulls=False)
    await service.start()
    try:
        assert service.store is not None
        await service.store.engine.dispose()
        db = Path(store_url.removeprefix("sqlite:///"))
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        db.mkdir()  # a folder where the database file was: SQLite cannot open it
        status, body = await get(f"http://127.0.0.1:{service.port}", "/readyz")
        checks = json.loads(body)["checks"]
        assert status == 503 and checks["store"] != "ok" and "store" in checks["store"]
    finally:
        await service.stop()


@pytest.mark.parametrize("how", ["deleted", "replaced by another file"])
async def test_readyz_fails_and_writes_stop_when_the_store_file_is_deleted_or_replaced(
    site: Site, write_config: Callable[[str], Config], store_url: str, how: str
) -> None:
    """The open connections go on reading and writing the old file, gone for good once the
    process ends; /readyz said ok and pulls wrote into it (or, on a new connection, into a
    new empty file SQLite made)."""
    config = write_config(site.config_yaml(store_url))
    service = Service(config, host="127.0.0.1", port=0, pulls=False)
    await service.start()
    try:
        assert service.store is not None
        status, _ = await get(f"http://127.0.0.1:{service.port}", "/readyz")
        assert status in (200, 503)  # nothing pulled yet; the store answers
        db = Path(store_url.removeprefix("sqlite:///"))
        now = datetime.now(UTC)
        if how == "deleted":
            for path in db.parent.glob(db.name + "*"):
                path.unlink()
        else:
            copy = db.with_name("copy.db")
            shutil.copy(db, copy)
            os.replace(copy, db)
        status, body = await get(f"http://127.0.0.1:{service.port}", "/readyz")
        checks = json.loads(body)["checks"]
        assert status == 503
        assert checks["store"] == (
            f"the store file {db} was {how} while this process ran; nothing more is written "
            "to it: restore the file and restart"
        )
        with pytest.raises(StoreError, match=f"was {how}"):
            async with service.store.writing():
                pass
        # The writes outside Store.writing too: the pull's own row, the mirrors' health.
        with pytest.raises(StoreError, match=f"was {how}"):
            await record_pull(service.store, PullRecord("news", now, now, "ok"))
        with pytest.raises(StoreError, match=f"was {how}"):
            await MirrorStore(service.store).save_history(
                [MirrorPull("news", "https://a.example", 1, 0, 0.1, "healthy")], now
            )
    finally:
        await service.stop()


async def test_metrics_stop_saying_ready_when_the_store_is_gone_without_readyz_asked(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    # A scraper that reads only /metrics (no probe asks /readyz) was told "ready" for as
    # long as the store did not answer.
    config = write_config(site.config_yaml(store_url))
    service = Service(config, host="127.0.0.1", port=0)
    await service.start()
    base = f"http://127.0.0.1:{service.port}"
    try:
        assert service.scheduler is not None
        for _ in range(200):
            if value(samples((await get(base, "/metrics"))[1]), "syndicator_ready") == 1:
                break
            await asyncio.sleep(0.05)
        assert value(samples((await get(base, "/metrics"))[1]), "syndicator_ready") == 1
        assert service.store is not None
        await service.store.engine.dispose()
        db = Path(store_url.removeprefix("sqlite:///"))
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        db.mkdir()  # a folder where the database file was: SQLite cannot open it
        await asyncio.sleep(VERSION_POLL + 1)  # the service's next look at the store
        assert value(samples((await get(base, "/metrics"))[1]), "syndicator_ready") == 0
        status, _ = await get(base, "/readyz")
        assert status == 503
    finally:
        await service.stop()


async def test_a_web_nodes_metrics_stop_saying_ready_when_the_store_is_gone(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    config = write_config(site.config_yaml(store_url))
    store = await open_store(store_url)
    finished = datetime.now(UTC)  # a worker pulled every section
    await record_pull(
        store, PullRecord("news", finished, finished, "ok", sections=tuple(site.sections))
    )
    node = WebNode(config, store, lambda: config)
    stop = asyncio.Event()
    watching = asyncio.create_task(node.watcher.run(stop))
    try:
        await node.refresh_status()
        assert value(samples(node.metrics.exposition().decode()), "syndicator_ready") == 1
        # The watcher is stopped while the store goes: a connection it held while the pool
        # was disposed would be closed by no one (a thread left running, a warning later).
        stop.set()
        await watching
        await store.engine.dispose()
        db = Path(store_url.removeprefix("sqlite:///"))
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        db.mkdir()  # a folder where the database file was: SQLite cannot open it
        stop = asyncio.Event()
        watching = asyncio.create_task(node.watcher.run(stop))
        await asyncio.sleep(config.cluster.poll + 1)  # the watcher's next look
        assert value(samples(node.metrics.exposition().decode()), "syndicator_ready") == 0
    finally:
        stop.set()
        await watching
        await store.close()


async def test_a_web_node_logs_once_that_the_stores_schema_moved_ahead(
    site: Site,
    write_config: Callable[[str], Config],
    store_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A newer syndicator's `db upgrade` ran: a worker logs it once and claims nothing more,
    # but a web node only turned /readyz 503, and its log said nothing of why.
    caplog.set_level(logging.INFO)
    config = write_config(site.config_yaml(store_url) + "cluster: {poll: 50ms}\n")
    store = await open_store(store_url)
    finished = datetime.now(UTC)
    await record_pull(
        store, PullRecord("news", finished, finished, "ok", sections=tuple(site.sections))
    )
    node = WebNode(config, store, lambda: config)
    stop = asyncio.Event()
    watching = asyncio.create_task(node.watcher.run(stop))

    def said(start: str) -> list[str]:
        return [m for m in caplog.messages if m.startswith(start)]

    async def looks(count: int) -> None:
        # The watcher's looks at the store, and /readyz asked at each.
        for _ in range(count):
            await asyncio.sleep(0.05)
            await node.readiness()

    async def moved_to(revision: str) -> None:
        async with store.writing() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    try:
        head = store.schema_head
        assert head is not None
        await looks(5)
        assert not said("store schema")
        await moved_to("9999_from_a_newer_syndicator")
        for _ in range(200):
            if said("store schema moved"):
                break
            await looks(1)
        await looks(10)
        assert len(said("store schema moved")) == 1
        assert value(samples(node.metrics.exposition().decode()), "syndicator_ready") == 0
        await moved_to(head)  # the newer one rolled back
        for _ in range(200):
            if said("store schema is this node's again"):
                break
            await looks(1)
        await looks(10)
        assert len(said("store schema is this node's again")) == 1
        assert len(said("store schema moved")) == 1
    finally:
        stop.set()
        await watching
        await store.close()


async def test_a_source_that_never_pulled_with_success_is_one_the_alert_sees(
    site: Site, write_config: Callable[[str], Config], store_url: str
) -> None:
    # A source whose every pull failed (a wrong canonical host from the start) had no
    # last-success series at all, so the documented alert, `time() - ... > 3 * 600`, never
    # fired for it. Such a source is 0 (long ago); one not pulled yet has no series.
    config = write_config(site.config_yaml(store_url))
    store = await open_store(store_url)
    name = "syndicator_source_last_success_timestamp_seconds"
    try:
        node = WebNode(config, store, lambda: config)
        await node.refresh_status()
        assert (name, (("source", "news"),)) not in samples(node.metrics.exposition().decode())
        finished = datetime.now(UTC)
        await record_pull(store, PullRecord("news", finished, finished, "failed"))
        await node.refresh_status()
        found = samples(node.metrics.exposition().decode())
        assert found[(name, (("source", "news"),))] == 0.0
        assert value(found, "syndicator_source_last_pull_timestamp_seconds", source="news") > 0
    finally:
        await store.close()


def test_serving_processes_sharing_a_port_each_answer_every_process_counters(
    site: Site, write_config: Callable[[str], Config], tmp_path: Path
) -> None:
    # `--workers 2`: the kernel hands each scrape to either process. Each used to answer its
    # own counters only, so a series went up and down between scrapes, and Prometheus read
    # every fall as a counter reset.
    from syndicator.web.metrics import Metrics

    config = write_config(site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}"))
    folder = tmp_path / "runtime"
    folder.mkdir()
    first, second = Metrics(config), Metrics(config)
    first.share_serving(folder, 1)
    second.share_serving(folder, 2)
    feed = ("/feeds/{name}", 200)

    def requests(text: bytes) -> dict[str, float]:
        found = samples(text.decode())
        return {
            w: value(found, "syndicator_http_requests_total", route=feed[0], status="200", worker=w)
            for w in ("1", "2")
        }

    first.hot_requests[feed] = 3
    second.hot_requests[feed] = 5
    second.write_serving_snapshot()  # its second's snapshot (the service does it each second)
    assert requests(first.exposition()) == {"1": 3, "2": 5}
    # More answered by each; a scrape answered by the second, then one by the first.
    first.hot_requests[feed] = 4
    second.hot_requests[feed] = 1
    seen = [requests(second.exposition()), requests(first.exposition())]
    assert seen[0] == {"1": 3, "2": 6}  # the first's snapshot of its last scrape
    assert seen[1] == {"1": 7, "2": 6}  # never less than the scrape before showed
    # The process's own gauges are not per process: one series, no worker label.
    text = samples(first.exposition().decode())
    assert ("syndicator_ready", ()) in text


async def test_a_section_no_source_lists_is_named_and_not_waited_for_by_readyz(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> None:
    # A section no source lists is never pulled: /readyz waited for it, and a load balancer
    # never sent the service any traffic (`check` warns of such a section, as `serve` does).
    text = site.config_yaml(store_url, sections=("north-africa",))
    text = text.replace(
        "  north-africa: {title: North Africa}\n",
        "  north-africa: {title: North Africa}\n  sport: {title: Sport}\n",
    )
    config = write_config(text)
    assert set(config.sections) >= {"north-africa", "sport"}
    ready, checks = await readiness_checks(config, store)
    assert not ready and checks["sections"] == {"not pulled yet": ["north-africa"]}
    await run_pull("news", config, fetcher, store)
    ready, checks = await readiness_checks(config, store)
    assert ready, checks
    assert checks["sections"] == "all pulled"
    assert checks["listed by no source"] == ["sport"]
