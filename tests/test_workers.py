"""`syndicate serve` as a user runs it: a pulling process at a lower CPU priority beside the
serving process(es), `--workers 2` sharing the port, a SIGHUP to the supervisor reloading
each, readers answered while the puller is busy; `--pull-inline` for the old single model."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syndicator.core.config import Config
from syndicator.serve import workers
from syndicator.store import open_store

from .served import Served, end_process
from .sites import Site, free_port

# The `serve_site` fixture: a config's text, the port and more `serve` options in; the
# service, started on that config, out.
ServeSite = Callable[..., Awaitable[Served]]


@pytest.fixture
def serve_site(write_config: Callable[[str], Config], tmp_path: Path) -> ServeSite:
    """`syndicate serve` started on the config text given, written as the test's config
    file; listening on `port`, with `options` (`--workers 2`, ...)."""

    async def start(text: str, port: int, *options: str) -> Served:
        write_config(text)
        served = Served(tmp_path / "syndicator.yaml", port, *options)
        await served.start()
        return served

    return start


def children_of(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def parent_of(pid: int) -> int | None:
    """The parent process of `pid`, None when `pid` is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def quiet_service(port: int) -> str:
    """The service section of a config listening on `port`, logging at info, not watching
    its file (a SIGHUP reloads it)."""
    return f"  listen: 127.0.0.1:{port}\n  watch_config: false\n  log_level: info\n"


def titled_config(site: Site, store_url: str, port: int, title: str) -> str:
    """The site's config, served quietly on `port`, the Iran section titled `title`."""
    config = site.config_yaml(store_url, service_extra=quiet_service(port))
    return config.replace("{title: Iran}", f"{{title: {title}}}")


def logged(served: Served, name: str, since: int = 0) -> list[dict[str, Any]]:
    """The log events called `name` the service wrote, from the `since`th on."""
    return [e for e in served.events[since:] if e.get("event") == name]


def kill_orphans(children: list[int], supervisor: int) -> None:
    """Orphans, had the supervisor died: they hold the log pipe open, so stop them first."""
    for pid in children:
        if parent_of(pid) not in (supervisor, None):
            os.kill(pid, signal.SIGKILL)


def assert_stopped_cleanly(code: int, served: Served) -> None:
    """The service exited 0 and logged no traceback."""
    assert code == 0, "\n".join(served.raw)
    assert "Traceback" not in "\n".join(served.raw)


async def children_once_started(served: Served, count: int, what: str) -> list[int]:
    """Wait for `count` processes to log their start (`what` names them in the failure);
    give the supervisor's children then."""
    assert served.proc is not None

    async def started() -> bool:
        return len(logged(served, "started")) == count

    await served.wait_for(started, what)
    return children_of(served.proc.pid)


async def entries_seen(port: int, tries: int) -> list[int]:
    """Entries in the Iran feed, each request on a new connection (any process may answer);
    -1 for a request not answered, -2 for an answer other than 200."""
    counts = []
    for _ in range(tries):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            try:
                async with s.get(f"http://127.0.0.1:{port}/feeds/iran.rss") as resp:
                    entries = len(feedparser.parse(await resp.read()).entries)
                    counts.append(entries if resp.status == 200 else -2)
            except aiohttp.ClientError:
                counts.append(-1)
    return counts


async def feed_requests_counted(port: int) -> dict[str, float]:
    """Feed requests answered 200 as /metrics counts them, by serving process (`worker`),
    asked on a new connection (any process may answer)."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s,
        s.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        text = await resp.text()
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "syndicator_http_requests_total"
                and labels.get("route", "").startswith("/feeds/")
                and labels.get("status") == "200"
            ):
                worker = labels.get("worker", "")
                counted[worker] = counted.get(worker, 0.0) + sample.value
    return counted


async def test_two_serving_processes_share_the_port_and_only_the_puller_pulls(
    site: Site, write_config: Callable[[str], Config], store_url: str, tmp_path: Path
) -> None:
    write_config(site.config_yaml(store_url))
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syndicator",
        "--config",
        str(tmp_path / "syndicator.yaml"),
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        # Every answer, from either process, shows both Iran articles once the pull is in
        # and the second process has noticed it through the store.
        asked = 0
        for _ in range(300):
            assert proc.returncode is None, "syndicate serve exited early"
            counts = await entries_seen(port, 12)
            asked += sum(1 for c in counts if c >= 0)  # answered 200
            if counts == [2] * 12:
                break
            await asyncio.sleep(0.2)
        assert counts == [2] * 12
        # The pulling process and the two serving ones.
        assert len(children_of(proc.pid)) == 3
        # One pull, by one process: each mirror's Iran feed was fetched once.
        for mirror in site.mirrors:
            assert mirror.log.count("/rss/iran.xml") == 1, mirror.log
        # Whichever process answers a scrape, it counts every feed request either answered,
        # each process's series labelled with its number (each process left its counters
        # for the other within a second); before, a scrape showed one process's share.
        for _ in range(100):
            answered = await feed_requests_counted(port)
            if sum(answered.values()) >= asked:
                break
            await asyncio.sleep(0.1)
        assert sorted(answered) == ["1", "2"]
        assert sum(answered.values()) == asked
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
        finally:
            await end_process(proc, grace=0)
    assert proc.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert stderr.decode().count("stopped") == 3


async def test_pull_inline_sighup_reloads_every_serving_process_and_the_supervisor_runs_on(
    site: Site, serve_site: ServeSite, write_config: Callable[[str], Config], store_url: str
) -> None:
    port = free_port()
    # The old model: the first of the two serving processes pulls.
    served = await serve_site(
        titled_config(site, store_url, port, "Iran"), port, "--workers", "2", "--pull-inline"
    )
    assert served.proc is not None
    children: list[int] = []
    try:
        children = await children_once_started(served, 2, "both serving processes to start")
        assert {e["pid"] for e in logged(served, "started")} == set(children) and len(children) == 2

        mark = len(served.events)
        write_config(titled_config(site, store_url, port, "Iran and the Gulf"))
        served.signal(signal.SIGHUP)

        async def both_reloaded() -> bool:
            assert served.proc is not None
            assert served.proc.returncode is None, f"SIGHUP ended it ({served.proc.returncode})"
            return [e["reason"] for e in logged(served, "config applied", mark)] == ["SIGHUP"] * 2

        await served.wait_for(both_reloaded, "both serving processes to apply the new config")
        # The same supervisor and the same two processes serve on: nothing restarted.
        assert served.proc.returncode is None
        assert children_of(served.proc.pid) == children
        assert logged(served, "started", mark) == []

        async def every_answer_has_the_new_title() -> bool:
            titles = set()
            for _ in range(12):
                connector = aiohttp.TCPConnector(force_close=True)
                async with (
                    aiohttp.ClientSession(connector=connector) as session,
                    session.get(f"{served.base}/feeds/iran.rss") as resp,
                ):
                    titles.add(feedparser.parse(await resp.read()).feed.title)
            return titles == {"Test news: Iran and the Gulf"}

        await served.wait_for(every_answer_has_the_new_title, "both processes to serve it")

        async def every_scrape_counts_both() -> bool:
            # Whichever process answers: the pull the first one made, and each one's reload.
            for _ in range(12):
                connector = aiohttp.TCPConnector(force_close=True)
                async with (
                    aiohttp.ClientSession(connector=connector) as session,
                    session.get(f"{served.base}/metrics") as resp,
                ):
                    text = await resp.text()
                pulls, applied = 0.0, {}
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.name == "syndicator_pulls_total":
                            pulls += sample.value
                        if sample.name == "syndicator_config_reloads_total" and (
                            sample.labels["result"] == "applied"
                        ):
                            applied[sample.labels.get("worker")] = sample.value
                if pulls < 1 or applied != {"0": 1, "1": 1}:
                    return False
            return True

        await served.wait_for(every_scrape_counts_both, "every scrape to count both processes")
    finally:
        kill_orphans(children, served.proc.pid)
        code = await served.stop()
    assert_stopped_cleanly(code, served)


def niceness(pid: int) -> int:
    """The nice value of a process, from /proc (field 19 of its stat line)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[16])


async def test_serve_pulls_in_a_process_at_lower_priority_beside_the_serving_one(
    site: Site, serve_site: ServeSite, write_config: Callable[[str], Config], store_url: str
) -> None:
    port = free_port()
    # The default: no option asks for the pulling process.
    served = await serve_site(titled_config(site, store_url, port, "Iran"), port)
    assert served.proc is not None
    children: list[int] = []
    try:
        children = await children_once_started(
            served, 2, "the pulling and the serving process to start"
        )
        started = {e["pid"]: e for e in logged(served, "started")}
        assert set(started) == set(children) and len(children) == 2
        puller = next(pid for pid, e in started.items() if e["pulls"])
        server = next(pid for pid, e in started.items() if not e["pulls"])
        # Only the serving process listens; only the pulling one pulls, at a lower priority.
        assert started[puller]["url"] is None and started[server]["url"] == served.base + "/"
        assert niceness(puller) == niceness(served.proc.pid) + 10
        assert niceness(server) == niceness(served.proc.pid)
        # The pull runs only on CPU time no reader wants: the idle policy, serving's normal.
        assert os.sched_getscheduler(puller) == os.SCHED_IDLE
        assert os.sched_getscheduler(server) == os.sched_getscheduler(served.proc.pid)

        async def feed_full() -> bool:
            counts = await entries_seen(port, 3)
            return counts == [len(site.in_section("iran"))] * 3

        # What the puller stored reaches the serving process through the store alone.
        await served.wait_for(feed_full, "the serving process to show the pulled articles")
        # One pull, by the one pulling process: each mirror's Iran feed was fetched once.
        for mirror in site.mirrors:
            assert mirror.log.count("/rss/iran.xml") == 1, mirror.log

        mark = len(served.events)
        write_config(titled_config(site, store_url, port, "Iran and the Gulf"))
        served.signal(signal.SIGHUP)

        async def both_reloaded() -> bool:
            return [e["reason"] for e in logged(served, "config applied", mark)] == ["SIGHUP"] * 2

        await served.wait_for(both_reloaded, "both processes to apply the new config")
        assert children_of(served.proc.pid) == children
        _, body = await served.get("/feeds/iran.rss")
        assert feedparser.parse(body).feed.title == "Test news: Iran and the Gulf"
    finally:
        kill_orphans(children, served.proc.pid)
        code = await served.stop()
    assert_stopped_cleanly(code, served)
    assert len(logged(served, "stopped")) == 2


async def test_sigterm_stops_the_pulling_process_within_the_drain_bound(
    site: Site, serve_site: ServeSite, store_url: str
) -> None:
    port = free_port()
    service = f"  listen: 127.0.0.1:{port}\n  drain_timeout: 500ms\n  log_level: info\n"
    for mirror in site.mirrors:
        mirror.mode, mirror.slow_seconds = "slow", 20.0
    served = await serve_site(site.config_yaml(store_url, service_extra=service), port)
    assert served.proc is not None
    try:

        async def pull_started() -> bool:
            return any(m.log for m in site.mirrors)

        await served.wait_for(pull_started, "the first pull to reach a mirror")
        assert (await served.get("/healthz"))[0] == 200
        served.signal(signal.SIGTERM)
        code = await asyncio.wait_for(served.proc.wait(), 20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            await served.stop()
    assert code == 0, "\n".join(served.raw)
    stopped = logged(served, "stopped")
    # The serving process had no pull to cancel; the pulling one cut its pull off.
    assert sorted(e["cancelled_pulls"] for e in stopped) == [[], ["news"]]
    assert "Traceback" not in "\n".join(served.raw)


async def test_a_process_that_does_not_stop_within_the_bound_is_killed_and_said(
    site: Site, serve_site: ServeSite, store_url: str
) -> None:
    # A process that does not end its drain (frozen here; a thread stuck in a call that
    # never returns, a store that does not answer) kept the supervisor waiting for ever:
    # the service never exited, until systemd's SIGKILL or an operator's kill -9.
    port = free_port()
    service = f"  listen: 127.0.0.1:{port}\n  drain_timeout: 500ms\n  log_level: info\n"
    served = await serve_site(site.config_yaml(store_url, service_extra=service), port)
    assert served.proc is not None
    puller: int | None = None
    try:
        started = await served.wait_event(lambda e: e.get("event") == "started" and e["pulls"])
        puller = int(started["pid"])
        await served.wait_event(lambda e: e.get("event") == "pull")
        os.kill(puller, signal.SIGSTOP)
        began = time.monotonic()
        served.signal(signal.SIGTERM)
        code = await asyncio.wait_for(served.proc.wait(), 30)
        took = time.monotonic() - began
    finally:
        if puller is not None and parent_of(puller) is not None:
            os.kill(puller, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await served.stop()
    assert code == 1, "\n".join(served.raw)
    assert took < 0.5 + workers.STOP_GRACE + 5, took
    assert parent_of(puller) is None, "the frozen process was left behind"
    killed = [e for e in served.events if "did not stop" in str(e.get("event"))]
    assert [e["event"] for e in killed] == [
        f"pulling process did not stop within {0.5 + workers.STOP_GRACE:g} s of the stop; "
        "killed (what it stored stays stored)"
    ], served.raw
    # The serving process drained as ever; what the pull stored is kept.
    assert [e["pulls"] for e in logged(served, "stopped")] == [False]
    store = await open_store(store_url)
    try:
        assert (await store.section_counts())["all"] == len(site.articles)
    finally:
        await store.close()


async def test_serve_as_one_process_ends_itself_when_its_stop_overruns_the_bound(
    site: Site, serve_site: ServeSite, store_url: str
) -> None:
    # `serve --pull-inline --workers 1` is one process, with no supervisor to kill it. Its
    # stop waited without bound: here for the statements of the cut-off pull, each waiting
    # the store's busy timeout (10 s) on the write lock another process holds, and for the
    # store's close behind them; on a thread stuck in a call, for ever.
    port = free_port()
    service = f"  listen: 127.0.0.1:{port}\n  drain_timeout: 500ms\n  jitter: 10ms\n"
    served = await serve_site(
        site.config_yaml(store_url, service_extra=service), port, "--pull-inline"
    )
    assert served.proc is not None
    holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        await served.wait_event(lambda e: e.get("event") == "started")
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as an operator's sqlite3 shell
        await asyncio.sleep(0.5)  # the pull waits for it
        began = time.monotonic()
        served.signal(signal.SIGTERM)
        code = await asyncio.wait_for(served.proc.wait(), 0.5 + workers.STOP_GRACE + 4)
        took = time.monotonic() - began
    finally:
        holder.close()
        with contextlib.suppress(ProcessLookupError):
            await served.stop()
    assert code == workers.KILLED_AT_STOP, "\n".join(served.raw)
    assert took >= 0.5 + workers.STOP_GRACE - 0.2, took
    said = [e["event"] for e in served.events if "did not stop" in str(e.get("event"))]
    assert said == [
        f"syndicate serve did not stop within {0.5 + workers.STOP_GRACE:g} s of the stop; "
        "ended (what it stored stays stored)"
    ], served.raw


async def test_readers_are_answered_while_the_pulling_process_is_stopped_mid_pull(
    site: Site, serve_site: ServeSite, store_url: str
) -> None:
    port = free_port()
    # One article page keeps the first pull busy for a while.
    slow = site.in_section("iran")[0]
    site.slow_paths, site.slow_seconds = {slow.path}, 3.0
    served = await serve_site(site.config_yaml(store_url, service_extra=quiet_service(port)), port)
    assert served.proc is not None
    puller: int | None = None
    try:
        started = await served.wait_event(lambda e: e.get("event") == "started" and e["pulls"])
        puller = int(started["pid"])
        assert puller in children_of(served.proc.pid)

        async def pull_busy() -> bool:
            return any(slow.path in m.log for m in site.mirrors)

        await served.wait_for(pull_busy, "the pull to reach the slow article")
        feeds = ("/feeds/iran.rss", "/feeds/all.atom")

        async def all_but_the_slow_one() -> bool:
            # Stored and rendered by now: the pull waits on the slow page alone. (A render
            # dates its document in the store, a write, which a puller frozen inside a write
            # transaction would hold up for SQLite's busy timeout.)
            wanted = (len(site.in_section("iran")) - 1, len(site.articles) - 1)
            for path, count in zip(feeds, wanted, strict=True):
                status, body = await served.get(path)
                if status != 200 or len(feedparser.parse(body).entries) != count:
                    return False
            return True

        await served.wait_for(all_but_the_slow_one, "every article but the slow one")
        # Frozen mid-pull: the serving process answers on its own.
        os.kill(puller, signal.SIGSTOP)
        stat = Path(f"/proc/{puller}/stat")

        async def frozen() -> bool:
            # The stop takes effect when the process next leaves the kernel (an fsync, say).
            return stat.read_text().rpartition(")")[2].split()[0] == "T"

        await served.wait_for(frozen, "the pulling process to stop")
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for _ in range(5):
                for path in ("/healthz", *feeds, "/metrics"):
                    async with session.get(served.base + path) as resp:
                        await resp.read()
                        assert resp.status == 200, path
        assert await frozen(), "the pulling process ran again while readers were answered"
        # Thawed, with the slow page answering at once now: the pull goes on and ends.
        site.slow_paths = set()
        os.kill(puller, signal.SIGCONT)
        mark = len(served.events)

        # The pull goes on where it stopped, and /metrics of the serving process counts it.
        await served.wait_event(lambda e: e.get("event") == "pull", 0)
        status, body = await served.get("/metrics")
        metrics = body.decode()
        assert status == 200
        found = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
        ]
        pulls = [v for name, labels, v in found if name == "syndicator_pulls_total"]
        assert sum(pulls) == 1, metrics
        fetched = {
            labels["mirror"]: v
            for name, labels, v in found
            if name == "syndicator_fetches_total" and labels["result"] == "ok"
        }
        assert fetched.keys() == {m.origin for m in site.mirrors} and min(fetched.values()) > 0
        # Nothing was restarted: the supervisor saw no process die.
        assert not [e for e in served.events[mark:] if e.get("event") == "started"]
    finally:
        if puller is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(puller, signal.SIGCONT)
        code = await served.stop()
    assert_stopped_cleanly(code, served)


async def test_serve_on_a_free_port_answers_there_beside_its_pulling_process(
    site: Site, serve_site: ServeSite, store_url: str
) -> None:
    service = "  watch_config: false\n  log_level: info\n"
    # Port 0: the kernel picks one; only the serving process binds, so there is one port.
    served = await serve_site(
        site.config_yaml(store_url, service_extra=service), 0, "--listen", "127.0.0.1:0"
    )
    try:
        started = await served.wait_events(lambda e: e.get("event") == "started", 2)
        urls = {e["pulls"]: e["url"] for e in started}
        assert urls[True] is None and urls[False].startswith("http://127.0.0.1:"), urls
        assert not urls[False].endswith(":0/")
        served.base = urls[False].rstrip("/")
        assert (await served.get("/healthz"))[0] == 200

        async def feed_full() -> bool:
            status, body = await served.get("/feeds/iran.rss")
            return status == 200 and len(feedparser.parse(body).entries) == len(
                site.in_section("iran")
            )

        await served.wait_for(feed_full, "the pulled articles on the free port")
    finally:
        code = await served.stop()
    assert_stopped_cleanly(code, served)


async def test_a_serving_process_killed_after_it_started_comes_back_with_the_running_config(
    site: Site, serve_site: ServeSite, write_config: Callable[[str], Config], store_url: str
) -> None:
    """A kill -9 (the OOM killer) of a serving process that had started is a crash: the
    supervisor restarts it, however soon after its start, and it serves the config the
    service runs, the section a SIGHUP added included."""
    port = free_port()

    def config(*sections: str) -> str:
        return site.config_yaml(store_url, sections=sections, service_extra=quiet_service(port))

    served = await serve_site(config("north-africa"), port)
    assert served.proc is not None
    try:
        first = await served.wait_event(lambda e: e.get("event") == "started" and e.get("url"))
        assert (await served.get("/feeds/iran.rss"))[0] == 404
        write_config(config("north-africa", "iran"))
        mark = len(served.events)
        served.signal(signal.SIGHUP)
        await served.wait_events(lambda e: e.get("event") == "config applied", 2, mark)
        assert (await served.get("/feeds/iran.rss"))[0] == 200

        mark = len(served.events)
        os.kill(first["pid"], signal.SIGKILL)
        again = await served.wait_event(
            lambda e: e.get("event") == "started" and e.get("url"), mark
        )
        assert again["pid"] != first["pid"] and again["sections"] == 2
        assert served.proc.returncode is None, "\n".join(served.raw)
        assert (await served.get("/feeds/iran.rss"))[0] == 200
    finally:
        code = await served.stop()
    assert_stopped_cleanly(code, served)


SUPERVISED = """
import logging, os, sys, time
from syndicator.serve import workers
logging.basicConfig(level=logging.INFO, format="%(message)s")

def serve_one(index):
    if sys.argv[1] == "started":
        workers.tell_started()
    time.sleep(0.05)
    os._exit(3)

sys.exit(workers.run_workers(1, serve_one))
"""


def test_the_supervisor_gives_up_on_a_process_that_fails_to_start_or_keeps_dying() -> None:
    def supervise(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", SUPERVISED, mode],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )

    # Dead before it said it started (a port it cannot bind): stop at once, its status.
    failed = supervise("never")
    assert failed.returncode == 3, failed.stderr
    assert failed.stderr.splitlines() == ["serving process 0 exited at start (status 3)"]
    # Started, then dying again and again: restarted RESTART_LIMIT times, then given up.
    looping = supervise("started")
    assert looping.returncode == 3, looping.stderr
    lines = looping.stderr.splitlines()
    assert lines == ["serving process 0 exited (status 3); restarting"] * workers.RESTART_LIMIT + [
        f"serving process 0 exited {workers.RESTART_LIMIT + 1} times in 60 s (status 3); stopping"
    ]


# In a fresh interpreter: a 1 MiB block is mapped on its own; glibc, once it is freed,
# raises its threshold past it, so the next such block comes from the heap and stays there
# when freed. Prints whether the second block was mapped on its own.
_SECOND_BLOCK = """
import ctypes, sys
from syndicator.serve.workers import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "tuned":
    assert tune_malloc()
size = 1 << 20
libc.free(libc.malloc(size))
block = libc.malloc(size)
print(libc.mallinfo2().hblkhd >= size)
"""


def test_a_serving_process_gives_freed_feed_sized_buffers_back_to_the_system() -> None:
    """After `tune_malloc`, a feed-sized buffer is mapped on its own every time, so freeing it
    returns it; by default glibc keeps such buffers in the arena of the thread that freed
    them, and a serving process's thread arenas grew with every render (a 45-minute soak:
    +50 MB an hour, most of it free memory malloc held)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    mapped = {
        mode: subprocess.run(
            [sys.executable, "-c", _SECOND_BLOCK, mode],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        for mode in ("default", "tuned")
    }
    assert mapped == {"default": "False", "tuned": "True"}


async def test_the_processes_of_a_killed_supervisor_stop_rather_than_serve_on(
    site: Site, serve_site: ServeSite, store_url: str
) -> None:
    # `kill -9` of the supervisor (an OOM kill, an operator): its pulling and serving
    # processes went on, orphaned, serving the old config on the shared port beside the
    # service started next, and pulling too.
    port = free_port()
    served = await serve_site(
        site.config_yaml(store_url, service_extra=quiet_service(port)), port, "--workers", "2"
    )
    assert served.proc is not None
    try:
        children = await children_once_started(
            served, 3, "the pulling and both serving processes to start"
        )
        assert len(children) == 3
        os.kill(served.proc.pid, signal.SIGKILL)

        async def all_gone() -> bool:
            return all(parent_of(pid) is None for pid in children)

        await served.wait_for(all_gone, "the orphaned processes to stop", timeout=15)
        stopped = logged(served, "stopped")
        assert len(stopped) == 3, "\n".join(served.raw)
    finally:
        await served.stop()
