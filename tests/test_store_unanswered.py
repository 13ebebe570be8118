"""A PostgreSQL store that takes the connection and says nothing (a server hung in its
start, a relay whose far side is gone), or that goes away: commands say so, and `serve`
stops when told to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from syndicator.core.config import Config
from syndicator.ops.cli import main
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import CANCELLED_RECORD_TIMEOUT, CRASHED_RECORD_TIMEOUT, run_pull
from syndicator.store import Store, open_store
from syndicator.store.postgres_pool import CLOSE_TIMEOUT

from .conftest import REPO
from .engines import Schemas, postgres_base
from .proxies import Relay
from .served import end_process
from .sites import Site, free_port


@dataclass
class SilentStore:
    url: str
    held: list[asyncio.StreamWriter] = field(default_factory=list)


@pytest.fixture
async def silent_store() -> AsyncIterator[SilentStore]:
    """A PostgreSQL store whose server takes connections and never answers them."""
    silent = SilentStore("")
    held = silent.held

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        silent.url = f"postgresql://u@127.0.0.1:{port}/feeds"
        yield silent
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def test_a_store_that_never_answers_is_said_to_give_no_answer(
    site: Site, tmp_path: Path, silent_store: SilentStore
) -> None:
    # Opening it timed out with a bare TimeoutError, whose text is empty: every command
    # said `store error: cannot open store postgresql://...: ` and nothing after it.
    config = tmp_path / "syndicator.yaml"
    config.write_text(site.config_yaml(f"{silent_store.url}?command_timeout=1"), encoding="utf-8")
    result = await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), "status"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("store error: cannot open store postgresql://u@127.0.0.1:")
    assert lines[0].endswith(": the server did not answer within 1 s"), lines[0]


async def test_serve_pulling_inline_stops_on_sigterm_while_its_store_does_not_answer(
    site: Site, tmp_path: Path, silent_store: SilentStore
) -> None:
    # `serve --pull-inline` opened its store before it looked at a stop: SIGTERM waited for
    # the opening to time out (30 s) and then ended the service with `cannot start`, exit
    # status 1, where the default `serve` stops at once with status 0.
    config = tmp_path / "syndicator.yaml"
    listen = f"  max_items: 50\n  listen: 127.0.0.1:{free_port()}\n"
    config.write_text(
        site.config_yaml(silent_store.url).replace("  max_items: 50\n", listen), encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "syndicator", "--config", str(config)),
        *("serve", "--pull-inline", "--json"),
        stderr=asyncio.subprocess.PIPE,
        env={**env, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        for _ in range(400):  # it asks for the store, which says nothing
            if silent_store.held or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert silent_store.held and proc.returncode is None
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
        log = (await proc.stderr.read()).decode()
    finally:
        await end_process(proc)
    assert code == 0, log
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events][-2:] == ["stopping", "stopped"], log
    assert "Traceback" not in log and "cannot start" not in log, log


@contextlib.asynccontextmanager
async def paused_store() -> AsyncIterator[tuple[str, Relay]]:
    """A fresh PostgreSQL store reached through a `Relay` the test can pause (the server
    then hangs for the service: nothing it asks is answered); its URL, through the relay."""
    schemas = Schemas(postgres_base())
    direct = schemas.url()
    server = make_url(schemas.base)
    relay = Relay(server.host or "127.0.0.1", server.port or 5432)
    await relay.start()
    try:
        yield direct.replace(f"{server.host}:{server.port}", f"127.0.0.1:{relay.port}"), relay
    finally:
        relay.thaw()
        await relay.stop()
        await schemas.drop()


@contextlib.asynccontextmanager
async def site_on_a_paused_store(
    site: Site, write_config: Callable[[str], Config]
) -> AsyncIterator[tuple[Config, Store, Relay]]:
    """The test site's config on a `paused_store` (command_timeout 20 s), the store open:
    (config, store, relay). The store is closed after, as a command closes it."""
    async with paused_store() as (url, relay):
        config = write_config(site.config_yaml(f"{url}&command_timeout=20"))
        store = await open_store(config.service.store)
        try:
            yield config, store, relay
        finally:
            await store.close()


def the_lost_record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The one `pull not recorded` warning of a pull, which says the store did not answer."""
    lost = [r for r in caplog.records if r.getMessage() == "pull not recorded"]
    assert [r.levelno for r in lost] == [logging.WARNING], lost
    assert "did not answer within" in str(getattr(lost[0], "error", "")), lost[0].__dict__
    return lost[0]


async def test_a_cancelled_pulls_record_is_given_a_bounded_time_then_said_lost(
    site: Site,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A stop cuts a pull off and records it `cancelled`. With the store not answering, that
    # one write waited the whole command_timeout (30 s by default), past the supervisor's
    # bound of drain_timeout + 5 s: the process was killed with the record neither written
    # nor said to be lost.
    async with site_on_a_paused_store(site, write_config) as (config, store, relay):
        site.slow_paths, site.slow_seconds = {"/rss/north-africa.xml"}, 30.0
        pull = asyncio.create_task(run_pull("news", config, fetcher, store))
        await asyncio.sleep(0.3)  # the pull waits on the entry point
        relay.pause()
        began = time.monotonic()
        pull.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(pull, 15)
        took = time.monotonic() - began
        relay.thaw()
    # The bound, the 2 s SQLAlchemy gives the connection it gave up on to close (1 s since
    # store.postgres_pool bounds a close), and a loaded machine's margin: settled before
    # the kill, drain_timeout + 5 s.
    assert took < CANCELLED_RECORD_TIMEOUT + 2 + 1.5, took
    assert getattr(the_lost_record(caplog), "source", None) == "news"


async def test_a_crashed_pulls_record_is_given_a_bounded_time_then_said_lost(
    site: Site,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A pull that crashes (a bug) is recorded as failed, then the crash is raised on. With
    # the store not answering, often what the crash met, that record waited the ping, then
    # the opening of a new connection (command_timeout), holding the crash back.
    async with site_on_a_paused_store(site, write_config) as (config, store, relay):
        began = 0.0

        def crash(_stage: str, _url: str) -> None:
            nonlocal began
            relay.pause()
            began = time.monotonic()
            raise RuntimeError("a bug in the pull")

        with pytest.raises(RuntimeError, match="a bug in the pull"):
            await asyncio.wait_for(run_pull("news", config, fetcher, store, progress=crash), 40)
        took = time.monotonic() - began
        relay.thaw()
    # The bound, the 1 s a connection given up on has to close, and a loaded machine's margin.
    assert took < CRASHED_RECORD_TIMEOUT + 1 + 1.5, took
    assert getattr(the_lost_record(caplog), "result", None) == "failed"


async def test_closing_a_store_that_stopped_answering_is_quick_and_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each connection of the pool waited the whole command_timeout for the server's
    # goodbye, one after another, and SQLAlchemy logged "Exception closing connection"
    # with a traceback for each: a command whose store stopped answering ended with them.
    async with paused_store() as (url, relay):
        store = await open_store(f"{url}&command_timeout=5")
        try:
            await asyncio.gather(*(store.section_counts() for _ in range(3)))  # 3 pooled
            relay.pause()
        finally:
            began = time.monotonic()
            await store.close()
            took = time.monotonic() - began
        relay.thaw()
    assert took < 3 * CLOSE_TIMEOUT + 1.5, took
    said = [r for r in caplog.records if r.name.startswith("sqlalchemy")]
    assert not said, [(r.name, r.getMessage()) for r in said]


async def test_an_export_whose_store_stops_answering_says_one_store_error(
    site: Site, tmp_path: Path
) -> None:
    # The pull's record met a connection that did not open in time: asyncpg's bare
    # TimeoutError passed by the store's handling of its errors, and the command ended in
    # a TypeError's traceback, after SQLAlchemy's tracebacks of closing each connection.
    async with paused_store() as (url, relay):
        config = tmp_path / "syndicator.yaml"
        config.write_text(site.config_yaml(f"{url}&command_timeout=2"), encoding="utf-8")
        site.slow_paths, site.slow_seconds = {"/rss/north-africa.xml"}, 2.0
        args = ["--config", str(config), "export", "--out", str(tmp_path / "feeds")]
        export = asyncio.create_task(asyncio.to_thread(CliRunner().invoke, main, args))
        await asyncio.sleep(1.0)  # the pull waits on the entry point
        relay.pause()
        result = await asyncio.wait_for(export, 60)
        relay.thaw()
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith("store error: ")]
    assert len(failures) == 1, result.stderr
    assert "the server did not answer within the command timeout" in failures[0], failures
    assert f"(store {url.split('?')[0]}?" in failures[0], failures  # the store named


async def test_a_pull_whose_store_goes_away_says_so_without_a_traceback(
    site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The PostgreSQL server goes away mid-pull (stopped, restarted: connections refused).
    # The refusal passed by the pool's handling of the driver's errors: the pull crashed,
    # the record of the crash met the same refusal, which nothing recorded it took, and the
    # command ended in a ConnectionRefusedError's traceback, the pull neither recorded nor
    # said to be lost.
    async with paused_store() as (url, relay):
        config = tmp_path / "syndicator.yaml"
        config.write_text(site.config_yaml(f"{url}&command_timeout=2"), encoding="utf-8")
        site.slow_paths, site.slow_seconds = {"/rss/north-africa.xml"}, 2.0
        args = ["--config", str(config), "pull", "news"]
        pull = asyncio.create_task(asyncio.to_thread(CliRunner().invoke, main, args))
        await asyncio.sleep(1.0)  # the pull waits on the entry point
        await relay.stop()  # every connection closed, and new ones refused
        result = await asyncio.wait_for(pull, 60)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("news: ")]
    assert len(said) == 1 and "Connection refused" in said[0], result.stderr
    assert result.stderr.splitlines()[-1] == "error: pull failed for: news", result.stderr
    lost = [r for r in caplog.records if r.getMessage() == "pull not recorded"]
    assert [getattr(r, "source", None) for r in lost] == ["news"], lost
