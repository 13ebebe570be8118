"""PostgreSQL connections killed under running pulls (a failover, an operator's
pg_terminate_backend, a proxy restart): each pull either works or fails with a StoreError that
says so, never with a connection two tasks were using at once, and a clean pull afterwards
leaves every article stored exactly once. Connections that go silent without closing (a relay
that stops forwarding): a store call is bounded, and the next one gets a new connection."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_only

from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store, open_store
from syndicator.store.connect import PING_TIMEOUT
from syndicator.store.health import MirrorStore
from syndicator.store.schema import article_aliases, article_sections, articles

from .engines import Schemas, postgres_base
from .proxies import Relay
from .sites import Site, SiteArticle

ROUNDS = 12
BUSY = "another operation"  # asyncpg: "another operation (2) is in progress"


def pull_tasks() -> list[asyncio.Task[object]]:
    """Tasks running a step of a pull (SourcePull's own coroutines), still not done."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t.get_coro().__qualname__.startswith("SourcePull.")  # type: ignore[union-attr]
    ]


async def kill_storm(base: str, name: str, stop: asyncio.Event) -> int:
    """Terminate every connection named `name` again and again until told to stop."""
    killed = 0
    conn = await asyncpg.connect(base)
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                name,
            )
            killed += sum(1 for r in rows if r[0])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.03)
    finally:
        await conn.close()
    return killed


async def test_pulls_through_a_storm_of_killed_connections_lose_and_duplicate_nothing(
    site: Site, fetcher: Fetcher, write_config: Callable[[str], Config]
) -> None:
    base = postgres_base()
    schemas = Schemas(base)
    name = f"storm-{secrets.token_hex(4)}"
    url = f"{schemas.url()}&application_name={name}"
    config = write_config(site.config_yaml(url))
    store = await open_store(url)
    stop = asyncio.Event()
    storm = asyncio.create_task(kill_storm(base, name, stop))
    outcomes: list[str] = []
    try:
        published = datetime(2024, 6, 1, 9, tzinfo=UTC)
        for n in range(ROUNDS):
            # Something new on the site every round, so that every pull writes.
            site.publish(
                SiteArticle(
                    id=1000 + n,
                    section=site.sections[0],
                    title=f"Storm round {n}: ministers meet again over the budget",
                    paragraphs=[f"Round {n} of talks opened with a statement on the budget."] * 3,
                    published=published + timedelta(hours=n),
                )
            )
            try:
                report = await pull_source("news", config, fetcher, store)
            except StoreError as exc:
                if "another operation" in str(exc):
                    import traceback

                    traceback.print_exception(exc.__context__)
                outcomes.append(f"store error: {exc}")
                continue
            outcomes.append("; ".join(report.errors) or "ok")
        stop.set()
        killed = await storm
        assert killed > 0, "the storm killed no connection: the test tested nothing"
        assert not any(BUSY in o for o in outcomes), outcomes

        # Calm again: one clean pull stores whatever the storm kept out.
        final = await pull_source("news", config, fetcher, store)
        assert final.failed == 0, final.errors
        async with store.engine.connect() as conn:
            stored = (await conn.execute(select(articles.c.url))).scalars().all()
            sections = (
                await conn.execute(select(func.count()).select_from(article_sections))
            ).scalar_one()
            aliases = (
                await conn.execute(select(func.count()).select_from(article_aliases))
            ).scalar_one()
        expected = {site.canonical + a.path for a in site.articles}
        assert sorted(stored) == sorted(expected)  # each once: nothing lost, nothing twice
        assert sections == sum(len(a.sections) for a in site.articles)
        assert aliases >= len(expected)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await storm
        await store.close()
        await schemas.drop()


@contextlib.asynccontextmanager
async def relayed_store(query: str = "") -> AsyncIterator[tuple[Store, Relay, str]]:
    """A store on a fresh schema whose connections go through a `Relay` to the server; its
    URL, direct."""
    schemas = Schemas(postgres_base())
    direct = schemas.url()
    server = make_url(schemas.base)
    relay = Relay(server.host or "127.0.0.1", server.port or 5432)
    await relay.start()
    relayed = direct.replace(f"{server.host}:{server.port}", f"127.0.0.1:{relay.port}")
    store = await open_store(relayed + query)
    try:
        yield store, relay, direct
    finally:
        relay.thaw()
        await store.close()
        await relay.stop()
        await schemas.drop()


async def test_a_pooled_connection_gone_silent_is_replaced_and_the_call_answered() -> None:
    # The server (or a relay on the way) stops answering the connections the pool holds,
    # without closing them. The next store call used to wait for the kernel to give up on
    # one of them: a quarter of an hour.
    async with relayed_store() as (store, relay, _):
        await store.mark_changed({"iran"})
        relay.freeze()
        started = time.monotonic()
        versions = await asyncio.wait_for(store.section_versions(), 30)
        took = time.monotonic() - started
        assert versions["iran"] == 1
        # The silent connection is asked, given PING_TIMEOUT to answer, and replaced (the
        # margin is for a loaded machine; without the bound the call never came back).
        assert took < PING_TIMEOUT + 10, took


async def test_a_store_call_whose_connection_goes_silent_fails_within_the_command_timeout() -> None:
    async with relayed_store("&command_timeout=2") as (store, relay, direct):
        await store.mark_changed({"iran"})
        # Another session holds the section's counter, so the store's write waits on the
        # server; meanwhile the relay goes silent, and the server's answer never arrives.
        holder = await asyncpg.connect(make_url(direct).set(query={}).render_as_string(False))
        try:
            schema = make_url(direct).query["search_path"]
            locked = holder.transaction()
            await locked.start()
            await holder.execute(
                f"SELECT 1 FROM \"{schema}\".section_versions WHERE section = 'iran' FOR UPDATE"
            )
            write = asyncio.ensure_future(store.mark_changed({"iran"}))
            await asyncio.sleep(0.5)
            relay.freeze()
            await locked.rollback()
            started = time.monotonic()
            with pytest.raises(StoreError, match="no answer from the server"):
                await asyncio.wait_for(write, 30)
            assert time.monotonic() - started < 2 + 10  # the bound, and a loaded machine's margin
        finally:
            await holder.close()
        # The next call goes on a new connection: the silent one was thrown away.
        opened = len(relay.writers)
        started = time.monotonic()
        await store.mark_changed({"iran"})
        assert (await store.section_versions())["iran"] == 2
        assert time.monotonic() - started < 10
        assert len(relay.writers) > opened


async def test_an_unbounded_store_lets_a_long_statement_finish() -> None:
    # `db upgrade` opens the store unbounded: a migration's statement may take long.
    schemas = Schemas(postgres_base())
    url = schemas.url() + "&command_timeout=1"
    try:
        for bounded, outcome in ((True, "fails"), (False, "finishes")):
            store = await open_store(url, bounded=bounded)
            try:
                async with store.engine.connect() as conn:
                    try:
                        await conn.execute(text("SELECT pg_sleep(1.5)"))
                        result = "finishes"
                    except OperationalError:
                        result = "fails"
                assert result == outcome, bounded
                # Either way the store answers the next call.
                assert await store.section_versions() == {}
            finally:
                await store.close()
    finally:
        await schemas.drop()


async def test_a_store_call_whose_every_new_connection_is_killed_fails_as_a_store_error() -> None:
    # The server ends each connection as soon as it is made (a failover under way, a killer
    # of idle sessions run too eagerly): the pool's checkout asks the connection it holds,
    # replaces it, asks the new one, and gives up. The storm test above met this by chance
    # (one CI run in four): the call failed with SQLAlchemy's "This connection is closed",
    # which no caller took for a store error, and the pull crashed instead of reporting it.
    schemas = Schemas(postgres_base())
    name = f"killed-{secrets.token_hex(4)}"
    store = await open_store(f"{schemas.url()}&application_name={name}")
    admin = await asyncpg.connect(schemas.base)
    killing = False

    async def kill_all() -> None:
        await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            name,
        )

    def kill_new(dbapi_conn: object, _record: object) -> None:
        if killing:
            await_only(kill_all())

    event.listen(store.engine.sync_engine, "connect", kill_new)
    try:
        await store.mark_changed({"iran"})  # a pooled connection, alive
        killing = True
        await kill_all()
        with pytest.raises(StoreError, match="no connection to the server answered"):
            await store.mark_changed({"iran"})
        with pytest.raises(StoreError, match="no connection to the server answered"):
            await MirrorStore(store).save_entry_links(
                "http://127.0.0.1:1/feed", [("http://127.0.0.1:1/a", None)], datetime.now(UTC)
            )
        killing = False
        # Once the server lets connections live again, the store answers at once.
        await store.mark_changed({"iran"})
        assert (await store.section_versions())["iran"] == 2
    finally:
        event.remove(store.engine.sync_engine, "connect", kill_new)
        await admin.close()
        await store.close()
        await schemas.drop()
