"""`syndicate serve --workers 2` as a user runs it: two processes share the port, one pulls,
and a SIGHUP to the supervisor reloads both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import feedparser

from syndicator.core.config import Config

from .served import Served
from .sites import Site, free_port


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


async def entries_seen(port: int, tries: int) -> list[int]:
    """Entries in the Iran feed, each request on a new connection (any process may answer)."""
    counts = []
    for _ in range(tries):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            try:
                async with s.get(f"http://127.0.0.1:{port}/feeds/iran.rss") as resp:
                    counts.append(len(feedparser.parse(await resp.read()).entries))
            except aiohttp.ClientError:
                counts.append(-1)
    return counts


async def test_two_serving_processes_share_the_port_and_only_one_pulls(
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
    )
    try:
        # Every answer, from either process, shows both Iran articles once the pull is in
        # and the second process has noticed it through the store.
        for _ in range(300):
            assert proc.returncode is None, "syndicate serve exited early"
            counts = await entries_seen(port, 12)
            if counts == [2] * 12:
                break
            await asyncio.sleep(0.2)
        assert counts == [2] * 12
        assert len(children_of(proc.pid)) == 2
        # One pull, by one process: each mirror's Iran feed was fetched once.
        for mirror in site.mirrors:
            assert mirror.log.count("/rss/iran.xml") == 1, mirror.log
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert stderr.decode().count("stopped") == 2


async def test_sighup_reloads_every_serving_process_and_the_supervisor_keeps_running(
    site: Site, write_config: Callable[[str], Config], store_url: str, tmp_path: Path
) -> None:
    port = free_port()

    def config(title: str) -> str:
        service = f"  listen: 127.0.0.1:{port}\n  watch_config: false\n  log_level: info\n"
        text = site.config_yaml(store_url, service_extra=service)
        return text.replace("{title: Iran}", f"{{title: {title}}}")

    def events(name: str, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in served.events[since:] if e.get("event") == name]

    write_config(config("Iran"))
    served = Served(tmp_path / "syndicator.yaml", port, "--workers", "2")
    await served.start()
    assert served.proc is not None
    children: list[int] = []
    try:

        async def both_started() -> bool:
            return len(events("started")) == 2

        await served.wait_for(both_started, "both serving processes to start")
        children = children_of(served.proc.pid)
        assert {e["pid"] for e in events("started")} == set(children) and len(children) == 2

        mark = len(served.events)
        write_config(config("Iran and the Gulf"))
        served.signal(signal.SIGHUP)

        async def both_reloaded() -> bool:
            assert served.proc is not None
            assert served.proc.returncode is None, f"SIGHUP ended it ({served.proc.returncode})"
            return [e["reason"] for e in events("config applied", mark)] == ["SIGHUP"] * 2

        await served.wait_for(both_reloaded, "both serving processes to apply the new config")
        # The same supervisor and the same two processes serve on: nothing restarted.
        assert served.proc.returncode is None
        assert children_of(served.proc.pid) == children
        assert events("started", mark) == []

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
    finally:
        for pid in children:
            # Orphans, had the supervisor died: they hold the log pipe open, so stop them first.
            if parent_of(pid) not in (served.proc.pid, None):
                os.kill(pid, signal.SIGKILL)
        code = await served.stop()
    assert code == 0, "\n".join(served.raw)
    assert "Traceback" not in "\n".join(served.raw)


def niceness(pid: int) -> int:
    """The nice value of a process, from /proc (field 19 of its stat line)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[16])


async def test_pull_process_pulls_at_lower_priority_beside_the_serving_process(
    site: Site, write_config: Callable[[str], Config], store_url: str, tmp_path: Path
) -> None:
    port = free_port()

    def config(title: str) -> str:
        service = f"  listen: 127.0.0.1:{port}\n  watch_config: false\n  log_level: info\n"
        text = site.config_yaml(store_url, service_extra=service)
        return text.replace("{title: Iran}", f"{{title: {title}}}")

    def events(name: str, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in served.events[since:] if e.get("event") == name]

    write_config(config("Iran"))
    served = Served(tmp_path / "syndicator.yaml", port, "--pull-process")
    await served.start()
    assert served.proc is not None
    children: list[int] = []
    try:

        async def both_started() -> bool:
            return len(events("started")) == 2

        await served.wait_for(both_started, "the pulling and the serving process to start")
        children = children_of(served.proc.pid)
        started = {e["pid"]: e for e in events("started")}
        assert set(started) == set(children) and len(children) == 2
        puller = next(pid for pid, e in started.items() if e["pulls"])
        server = next(pid for pid, e in started.items() if not e["pulls"])
        # Only the serving process listens; only the pulling one pulls, at a lower priority.
        assert started[puller]["url"] is None and started[server]["url"] == served.base + "/"
        assert niceness(puller) == niceness(served.proc.pid) + 10
        assert niceness(server) == niceness(served.proc.pid)

        async def feed_full() -> bool:
            counts = await entries_seen(port, 3)
            return counts == [len(site.in_section("iran"))] * 3

        # What the puller stored reaches the serving process through the store alone.
        await served.wait_for(feed_full, "the serving process to show the pulled articles")
        # One pull, by the one pulling process: each mirror's Iran feed was fetched once.
        for mirror in site.mirrors:
            assert mirror.log.count("/rss/iran.xml") == 1, mirror.log

        mark = len(served.events)
        write_config(config("Iran and the Gulf"))
        served.signal(signal.SIGHUP)

        async def both_reloaded() -> bool:
            return [e["reason"] for e in events("config applied", mark)] == ["SIGHUP"] * 2

        await served.wait_for(both_reloaded, "both processes to apply the new config")
        assert children_of(served.proc.pid) == children
        _, body = await served.get("/feeds/iran.rss")
        assert feedparser.parse(body).feed.title == "Test news: Iran and the Gulf"
    finally:
        for pid in children:
            if parent_of(pid) not in (served.proc.pid, None):
                os.kill(pid, signal.SIGKILL)
        code = await served.stop()
    assert code == 0, "\n".join(served.raw)
    assert "Traceback" not in "\n".join(served.raw)
    assert len(events("stopped")) == 2


async def test_sigterm_stops_the_pull_process_within_the_drain_bound(
    site: Site, write_config: Callable[[str], Config], store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    service = f"  listen: 127.0.0.1:{port}\n  drain_timeout: 500ms\n  log_level: info\n"
    write_config(site.config_yaml(store_url, service_extra=service))
    for mirror in site.mirrors:
        mirror.mode, mirror.slow_seconds = "slow", 20.0
    served = Served(tmp_path / "syndicator.yaml", port, "--pull-process")
    await served.start()
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
    stopped = [e for e in served.events if e.get("event") == "stopped"]
    # The serving process had no pull to cancel; the pulling one cut its pull off.
    assert sorted(e["cancelled_pulls"] for e in stopped) == [[], ["news"]]
    assert "Traceback" not in "\n".join(served.raw)
