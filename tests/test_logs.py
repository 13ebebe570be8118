"""Structured logs: one event per pull with its counts and duration, in JSON or logfmt, and
no traceback for a mirror that is down; a stderr that cannot be written ends nothing."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import pty
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.ops.logs import setup_logging
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import run_pull
from syndicator.store import Store, open_store

from .conftest import REPO
from .engines import postgres_base
from .sites import Site


@pytest.fixture
def log_stream() -> Iterator[Callable[[str], io.StringIO]]:
    root = logging.getLogger()
    level = root.level

    def install(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        setup_logging(fmt, "info", stream)
        return stream

    yield install
    setup_logging("text", "warning")
    root.setLevel(level)


async def test_one_json_event_per_pull_and_no_traceback_for_a_dead_mirror(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    log_stream: Callable[[str], io.StringIO],
) -> None:
    stream = log_stream("json")
    config = write_config(site.config_yaml(store_url))
    await site.mirrors[0].go_down()
    outcome = await run_pull("news", config, fetcher, store)
    lines = stream.getvalue().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON document
    pulls = [e for e in events if e["event"] == "pull"]
    assert len(pulls) == 1
    event = pulls[0]
    assert event["logger"] == "syndicator.pull" and event["level"] == "warning"
    assert event["source"] == "news" and event["result"] == "partial" == outcome.result
    assert event["new"] == len(site.articles)
    assert event["duplicate"] == len(site.articles)
    assert event["failed"] == outcome.report.failed > 0
    assert event["duration_s"] >= 0 and "connect" in event["error"]
    assert "Traceback" not in stream.getvalue()
    assert all("exception" not in e for e in events)


async def test_logfmt_pull_event_has_its_fields(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    log_stream: Callable[[str], io.StringIO],
) -> None:
    stream = log_stream("logfmt")
    config = write_config(site.config_yaml(store_url))
    await run_pull("news", config, fetcher, store)
    line = next(x for x in stream.getvalue().splitlines() if " event=pull " in x)
    fields = dict(part.split("=", 1) for part in line.split())
    assert fields["level"] == "info" and fields["source"] == "news" and fields["result"] == "ok"
    assert int(fields["new"]) == len(site.articles)
    assert int(fields["duplicate"]) == 2 * len(site.articles)
    assert line.startswith("ts=")


async def test_opening_the_store_says_nothing_an_operator_must_read(
    log_stream: Callable[[str], io.StringIO], store_url: str
) -> None:
    # Each start checks the schema revision; the migration library's notes about it
    # ("Context impl SQLiteImpl.") are not for the operator's log.
    stream = log_stream("text")
    store = await open_store(store_url)
    await store.close()
    logging.getLogger("syndicator.test").info("marker")
    assert "marker [syndicator.test]" in stream.getvalue().splitlines()[-1]
    assert "alembic" not in stream.getvalue()


async def test_a_postgresql_store_that_cannot_be_reached_logs_no_pool_notes(
    log_stream: Callable[[str], io.StringIO],
) -> None:
    # The service's log at info had SQLAlchemy's pool notes, "Pool disposed. Pool size: 5
    # Connections in pool: 0 ..." and "Pool recreating", as events of their own whenever
    # the database refused a connection: nothing an operator can act on.
    stream = log_stream("json")
    url = make_url(postgres_base()).set(username="no_such_role_here", password="pw")
    with pytest.raises(StoreError, match="no_such_role_here"):
        await open_store(url.render_as_string(hide_password=False))
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert not [e for e in events if "Pool" in e], events


async def test_a_postgresql_store_that_refuses_the_user_says_so_in_one_line() -> None:
    # The message was SQLAlchemy's: "(sqlalchemy.dialects.postgresql.asyncpg.Error) role
    # ... does not exist" and a second line, "(Background on this error at: https://
    # sqlalche.me/e/21/dbapi)", in the command's output and in serve's "cannot start" event.
    url = make_url(postgres_base()).set(username="no_such_role_here", password="s3cret")
    with pytest.raises(StoreError) as info:
        await open_store(url.render_as_string(hide_password=False))
    said = str(info.value)
    assert said.endswith(': role "no_such_role_here" does not exist'), said
    assert "\n" not in said and "sqlalche" not in said and "s3cret" not in said, said


class _FillingDisk(io.RawIOBase):
    """A log file on a disk that is full until `full` is cleared."""

    def __init__(self) -> None:
        self.full = True
        self.written = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        chunk = bytes(data)  # type: ignore[call-overload]
        self.written += chunk
        return len(chunk)


def test_a_log_line_stderr_refuses_leaves_no_logging_error_in_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `serve 2>>syndicator.log` on a full disk: the standard library put "--- Logging
    # error ---" for each line it could not write into stderr's buffer, and the log got
    # them once the disk had room again.
    disk = _FillingDisk()
    log_file = io.TextIOWrapper(io.BufferedWriter(disk), encoding="utf-8", line_buffering=True)
    monkeypatch.setattr(sys, "stderr", log_file)
    try:
        setup_logging("text", "info")
        logging.getLogger("syndicator.test").info("while the disk is full")
        disk.full = False
        logging.getLogger("syndicator.test").info("with room again")
        log_file.flush()
    finally:
        setup_logging("text", "warning")
    said = disk.written.decode()
    assert "with room again [syndicator.test]" in said, said
    assert "Logging error" not in said and "Traceback" not in said, said


def _closed_under_a_launcher(tmp_path: Path) -> tuple[list[str], Callable[[], None], int]:
    # A bash script that execs Python, as pyenv's shims do: bash opened the script at the
    # lowest free number, 2, and Python got stderr as that file, open only to be read.
    launcher = tmp_path / "syndicate"
    launcher.write_text(f'#!/bin/bash\nexec "{sys.executable}" -m syndicator "$@"\n', "utf-8")
    launcher.chmod(0o755)
    return [str(launcher)], lambda: os.close(2), subprocess.DEVNULL


def _on_a_terminal_hung_up(_tmp_path: Path) -> tuple[list[str], Callable[[], None], int]:
    # The terminal closed (an ssh session gone): every write to it fails with EIO.
    master, terminal = pty.openpty()
    os.close(master)
    return [sys.executable, "-m", "syndicator"], lambda: None, terminal


@pytest.mark.parametrize(
    "stderr_of",
    [_closed_under_a_launcher, _on_a_terminal_hung_up],
    ids=["closed-under-a-launcher", "terminal-hung-up"],
)
def test_a_command_whose_stderr_cannot_be_written_does_its_work_and_says_its_status(
    tmp_path: Path, stderr_of: Callable[[Path], tuple[list[str], Callable[[], None], int]]
) -> None:
    # A partial pull (one mirror's folder gone) and no public_url: export logs with -v,
    # warns and names the mirror's error on stderr, and succeeds. A warning stderr refused
    # ended it with status 1, after the feeds were written, its table and the line
    # saying where left unprinted.
    text = (REPO / "config" / "syndicator.yaml").read_text(encoding="utf-8")
    text = text.replace("file:../seeds/www.presstv.tv", "file:../seeds/gone")
    text = text.replace("file:../seeds/", f"file:{REPO / 'seeds'}/")
    text = text.replace("sqlite:///../data/syndicator.db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    text = text.replace('  public_url: "http://127.0.0.1:8080"\n', "")
    config = tmp_path / "syndicator.yaml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "feeds"
    command, close, stderr = stderr_of(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    try:
        result = subprocess.run(
            [*command, "--config", str(config), "export", "-v", "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=close,
            cwd=tmp_path,
            env=env,
            text=True,
            timeout=120,
        )
    finally:
        if stderr != subprocess.DEVNULL:
            os.close(stderr)
    assert result.returncode == 0, result.stdout
    assert "partial" in result.stdout and f"wrote feeds to {out}/" in result.stdout
    assert "Turkey says Haftar forces" in (out / "north-africa.rss").read_text("utf-8")
