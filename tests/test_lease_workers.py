"""Lease workers in one process, on both engines: they split the sources, pull each once per
interval, and free their leases when stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from syndicator.core.config import Config
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport
from syndicator.serve.lease_worker import LeaseWorker
from syndicator.store import Store, open_store
from syndicator.store.leases import Leases
from syndicator.store.pulls import last_pulls, pulled_sections

from .sites import Site

EXTRA = """  second:
    title: Example News (pages)
    canonical: {canonical}
    every: 1s
    sections:
      iran: {{page: /Section/iran}}
cluster:
  lease_timeout: 3s
  poll: 100ms
"""


async def test_two_workers_share_the_sources(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
) -> None:
    text = site.config_yaml(engine_url, extra=EXTRA.format(canonical=site.canonical))
    config = write_config(text.replace("every: 5m", "every: 1s"))
    pulls: list[tuple[str, str]] = []
    stop = asyncio.Event()

    def recorder(worker: str) -> Callable[[PullReport], None]:
        return lambda report: pulls.append((worker, report.source))

    workers = [
        LeaseWorker(config, fetcher, engine_store, holder=name, on_pulled=recorder(name))
        for name in ("w1", "w2")
    ]
    try:
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        for _ in range(400):
            if all(sum(1 for _, s in pulls if s == name) >= 2 for name in config.sources):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)
        assert {s for _, s in pulls} == {"news", "second"}
        # every article once
        items = await engine_store.section_articles("all", 100)
        assert sorted(a.title for a in items) == sorted(a.title for a in site.articles)
        # one worker at a time pulls a source: the entry point of "news" on the canonical
        # mirror was asked for once per finished pull (and once more if the stop cut a pull)
        asked = site.mirrors[0].log.count("/rss/north-africa.xml")
        finished = sum(1 for _, s in pulls if s == "news")
        assert finished <= asked <= finished + 1
        # stopping freed every lease
        rows = await Leases(engine_store, "observer", 3).rows()
        assert {r.holder for r in rows.values()} == {None}
    finally:
        stop.set()


async def test_a_workers_pulls_are_recorded(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
) -> None:
    """What a worker pulled is in the store's pull rows, as on a single node: status,
    /readyz and the schedule after a restart read them."""
    config = write_config(
        site.config_yaml(engine_url, extra=EXTRA.format(canonical=site.canonical))
    )
    done: list[PullReport] = []
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(
            LeaseWorker(config, fetcher, engine_store, holder="w1", on_pulled=done.append).run(stop)
        )
        for _ in range(400):
            if {r.source for r in done} == set(config.sources):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        reports = {r.source: r for r in done}
        assert set(reports) == {"news", "second"}
        recorded = await last_pulls(engine_store)
        assert set(recorded) == {"news", "second"}
        for name, row in recorded.items():
            assert row.result == "ok"
            assert (row.new, row.fetched) == (reports[name].new, reports[name].fetched)
        assert await pulled_sections(engine_store) == set(config.sections)
    finally:
        stop.set()


async def test_a_worker_stopped_as_a_pull_ends_is_done_with_the_store_when_it_returns(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
) -> None:
    # Stopped the moment a pull was done, the worker returned while that pull still freed
    # its lease in the store: its owner closed the store under it (a connection left open,
    # its thread running; one CI run in a few failed on it).
    config = write_config(site.config_yaml(engine_url))
    stop = asyncio.Event()
    try:
        worker = LeaseWorker(
            config, fetcher, engine_store, holder="w1", on_pulled=lambda _: stop.set()
        )
        await asyncio.wait_for(worker.run(stop), 60)
        pending = [t for t in asyncio.all_tasks() if t.get_name() == "pull news" and not t.done()]
        assert pending == []
        assert (await last_pulls(engine_store))["news"].result == "ok"
    finally:
        stop.set()


async def test_a_worker_outlives_a_store_that_stops_answering(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the leases cannot be read or written (here: their table renamed away, as a
    PostgreSQL restart or a lock held past the busy timeout also does), the worker logs it
    and tries again; once the store answers, it pulls again."""
    text_ = site.config_yaml(engine_url, extra=EXTRA.format(canonical=site.canonical))
    config = write_config(text_.replace("every: 5m", "every: 1s"))
    done: list[PullReport] = []
    stop = asyncio.Event()
    worker = LeaseWorker(config, fetcher, engine_store, holder="w1", on_pulled=done.append)
    task = asyncio.create_task(worker.run(stop))

    def counts() -> dict[str, int]:
        return {n: sum(r.source == n for r in done) for n in config.sources}

    async def pulls_of_every_source(than: dict[str, int]) -> None:
        for _ in range(400):
            if all(counts()[n] > than.get(n, 0) for n in config.sources):
                return
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
        raise AssertionError(f"no pull of every source after {than}: {done}")

    try:
        await pulls_of_every_source({})
        async with engine_store.writing() as conn:
            await conn.execute(text("ALTER TABLE source_leases RENAME TO source_leases_away"))
        with caplog.at_level(logging.WARNING, logger="syndicator"):
            await asyncio.sleep(1.5)  # 15 looks at the leases, at a poll of 100 ms
        assert not task.done(), task.exception()
        assert any(
            "worker w1: store: store could not claim sources" in r.getMessage()
            for r in caplog.records
        ), [r.getMessage() for r in caplog.records]
        async with engine_store.writing() as conn:
            await conn.execute(text("ALTER TABLE source_leases_away RENAME TO source_leases"))
        await pulls_of_every_source(counts())
        stop.set()
        await task
    finally:
        stop.set()


@pytest.mark.parametrize("when", ["between pulls", "while its pull runs"])
async def test_a_source_a_reload_changes_is_pulled_again_soon(
    site: Site, store_url: str, fetcher: Fetcher, write_config: Callable[[str], Config], when: str
) -> None:
    # A section added to a source by a worker's reload waited for the source's next pull,
    # up to `every` later (an hour here): empty, and a web node's /readyz at 503 meanwhile.
    def text(sections: tuple[str, ...]) -> str:
        extra = "cluster:\n  lease_timeout: 3s\n  poll: 100ms\n"
        yaml = site.config_yaml(store_url, sections=sections, extra="")
        return yaml.replace("    every: 5m\n", "    every: 1h\n") + extra

    config = write_config(text(("north-africa", "iran")))
    store = await open_store(store_url)
    done: list[PullReport] = []
    stop = asyncio.Event()
    worker = LeaseWorker(config, fetcher, store, holder="w1", on_pulled=done.append)
    task = asyncio.create_task(worker.run(stop))
    try:
        if when == "while its pull runs":
            site.slow_paths, site.slow_seconds = {"/rss/iran.xml"}, 1.5
        for _ in range(400):
            if done or (worker.running and when == "while its pull runs"):
                break
            await asyncio.sleep(0.02)
        assert worker.running if when == "while its pull runs" else done
        worker.reconfigure(write_config(text(tuple(site.sections)), name="b.yaml"))
        for _ in range(200):
            if "west-asia" in await pulled_sections(store):
                break
            await asyncio.sleep(0.05)
        assert "west-asia" in await pulled_sections(store)
    finally:
        stop.set()
        await task
        await store.close()


async def test_leases_a_clock_ahead_wrote_hold_a_source_no_longer_than_its_times_allow(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
) -> None:
    # A worker whose clock ran a day ahead freed "news" due a day and an hour later, and
    # died holding "second", its lease expiring a day later by that clock. Once the clocks
    # agreed again (NTP stepped it back, or the worker was replaced), "news" waited a day
    # more than its `every` and "second" was pulled by no worker for a day.
    text_ = site.config_yaml(engine_url, extra=EXTRA.format(canonical=site.canonical))
    config = write_config(text_.replace("every: 5m", "every: 1h"))
    ahead = datetime.now(UTC) + timedelta(days=1)
    stale = Leases(engine_store, "ahead:1", 3)
    await stale.register(config.sources, now=ahead)
    assert await stale.claim_due(list(config.sources), 2, now=ahead) == ["news", "second"]
    await stale.release("news", ahead + timedelta(hours=1), now=ahead)
    done: list[PullReport] = []
    stop = asyncio.Event()
    worker = LeaseWorker(config, fetcher, engine_store, holder="w1", on_pulled=done.append)
    task = asyncio.create_task(worker.run(stop))
    try:
        for _ in range(200):  # the dead worker's lease expires within lease_timeout (3 s)
            if any(r.source == "second" for r in done):
                break
            await asyncio.sleep(0.05)
        assert [r.source for r in done] == ["second"]
        rows = await Leases(engine_store, "observer", 3).rows()
        # "news": its `every` and jitter window from now at most, as if pulled just now.
        latest = datetime.now(UTC) + timedelta(hours=1, seconds=config.service.jitter)
        assert rows["news"].next_due <= latest, rows["news"]
    finally:
        stop.set()
        await task


async def test_two_workers_on_one_host_and_pid_hold_leases_of_their_own(
    site: Site,
    engine_url: str,
    engine_store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
) -> None:
    # Two worker containers with the host's network share its host name, and each runs
    # `syndicate` as process 1: both held leases as "host:1", so each renewed the other's
    # lease as its own. A worker that stalled past its lease timeout, once another had
    # taken its source over, renewed the lease and pulled on beside it.
    config = write_config(site.config_yaml(engine_url))
    first = LeaseWorker(config, fetcher, engine_store)
    second = LeaseWorker(config, fetcher, engine_store)  # same host, same process
    assert first.holder != second.holder
    await first.leases.register(["news"])
    assert await first.leases.claim_due(["news"], 1) == ["news"]
    assert await second.leases.renew(["news"]) == set()
    assert await first.leases.renew(["news"]) == {"news"}


async def test_a_workers_pull_that_overruns_its_interval_is_warned_of(
    site: Site,
    store_url: str,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The scheduler of `--role all` warns of a pull longer than its source's `every`; a
    # lease worker said nothing of it, so a cluster's slow source went unnoticed.
    text = site.config_yaml(store_url, sections=("north-africa",))
    config = write_config(text.replace("    every: 5m\n", "    every: 1s\n"))
    site.slow_paths, site.slow_seconds = {"/rss/north-africa.xml"}, 1.3
    store = await open_store(store_url)
    pulled: list[PullReport] = []
    stop = asyncio.Event()
    worker = LeaseWorker(config, fetcher, store, holder="w1", on_pulled=pulled.append)
    caplog.set_level(logging.INFO)
    try:
        task = asyncio.create_task(worker.run(stop))
        for _ in range(200):
            if pulled:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    finally:
        stop.set()
        await store.close()
    assert pulled
    overran = [r for r in caplog.records if r.getMessage() == "pull overran its interval"]
    assert [(r.levelno, getattr(r, "source", None)) for r in overran] == [
        (logging.WARNING, "news")
    ], [r.getMessage() for r in caplog.records]
    assert getattr(overran[0], "every_s", None) == 1.0
    assert getattr(overran[0], "duration_s", 0) > 1.0
