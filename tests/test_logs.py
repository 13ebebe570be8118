"""Structured logs: one event per pull with its counts and duration, in JSON or logfmt, and
no traceback for a mirror that is down."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import make_url

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.ops.logs import setup_logging
from syndicator.pull.fetch import Fetcher
from syndicator.pull.run import run_pull
from syndicator.store import Store, open_store

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
