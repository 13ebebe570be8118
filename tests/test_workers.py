"""`syndicate serve --workers 2` as a user runs it: two processes share the port, one pulls."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import feedparser

from syndicator.config import Config

from .sites import Site, free_port


def children_of(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


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
