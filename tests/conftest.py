"""Shared fixtures: a running mirror site, a temporary SQLite store, configs on disk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from syndicator.core.config import Config
from syndicator.core.config_file import load_config
from syndicator.core.models import FetchLimits
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport, pull_source
from syndicator.serve.reload import limits_of
from syndicator.store import Store, open_store

from .sites import FakeClock, Site

REPO = Path(__file__).resolve().parent.parent

# How long a thread or task a test started may take to end after the test is done.
LEFTOVER_GRACE = 2.0

# The `write_config` fixture: YAML text (and a file name) in, the loaded Config out.
WriteConfig = Callable[..., Config]


async def seeded_pull(
    config: Config, fetcher: Fetcher, store: Store, clock: FakeClock, seed: int = 0
) -> PullReport:
    """One pull of the test configs' source `news`, the order it asks mirrors in drawn from
    `seed`, so that a test's pulls repeat from run to run."""
    return await pull_source("news", config, fetcher, store, clock=clock, rng=random.Random(seed))


@contextlib.asynccontextmanager
async def store_and_fetcher(config: Config) -> AsyncIterator[tuple[Store, Fetcher]]:
    """The config's store, opened, and a Fetcher with the config's limits: both closed when
    the block ends, whether or not it raised."""
    store = await open_store(config.service.store)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            yield store, fetcher
    finally:
        await store.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a test that leaves a thread running once its fixtures (and its event loop) are
    gone: such a thread (an aiosqlite connection's, say) can touch the closed loop and fail
    whichever test runs next."""
    before = item.stash.get(_THREADS, set())
    result = yield
    deadline = time.monotonic() + LEFTOVER_GRACE
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if left:
        names = ", ".join(sorted(t.name for t in left))
        pytest.fail(f"{item.nodeid} left threads running: {names}", pytrace=False)
    return result


_THREADS = pytest.StashKey[set[threading.Thread]]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_THREADS] = set(threading.enumerate())


@pytest.fixture(autouse=True)
def own_log_levels() -> Generator[None]:
    """Give every test the log levels it started with: a command run in this process (click's
    runner) sets the root logger's level for its run (`pull --quiet` to ERROR), and a later
    test's `caplog` then saw none of the warnings it looks for."""
    names = ("syndicator", "apscheduler", "aiohttp.access", "asyncio", "alembic")
    loggers = [logging.getLogger(), *map(logging.getLogger, names)]
    levels = [lg.level for lg in loggers]
    yield
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks pending when it ends (every fixture set up after
    this one is already torn down)."""
    yield
    current = asyncio.current_task()
    deadline = time.monotonic() + LEFTOVER_GRACE
    while True:
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    if left:
        names = ", ".join(sorted(repr(t.get_coro()) for t in left))
        pytest.fail(f"tasks left pending: {names}", pytrace=False)


@pytest.fixture(autouse=True)
async def no_leftover_services(no_leftover_tasks: None) -> AsyncIterator[None]:
    """Stop, and fail, a test that leaves a `syndicate serve` it started running (torn down
    before `no_leftover_tasks` looks: the log reader of such a service is one of its tasks)."""
    yield
    left = await stop_leftovers()
    if left:
        pytest.fail(f"services left running: {', '.join(left)}", pytrace=False)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site(mirrors=3)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def sites() -> AsyncIterator[Callable[..., Site]]:
    """Make mirror farms of one's own (`sites(mirrors=4, ...)`); each is stopped at the end."""
    made: list[Site] = []

    def make(mirrors: int = 3, **kwargs: object) -> Site:
        s = Site(mirrors=mirrors, **kwargs)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        await s.stop()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Config]:
    def write(text: str, name: str = "syndicator.yaml") -> Config:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    return write


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await open_store(store_url)
    yield s
    await s.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    limits = FetchLimits(user_agent="syndicator-tests", connect_timeout=2, read_timeout=3)
    async with Fetcher(limits) as f:
        yield f


# The `pull_site` fixture: a site and Site.config_yaml's keywords in, the config and the
# report of its one pull out.
PullSite = Callable[..., Awaitable[tuple[Config, PullReport]]]


@pytest.fixture
def pull_site(
    store: Store, fetcher: Fetcher, write_config: Callable[[str], Config], store_url: str
) -> PullSite:
    """Pull a loopback site once into the test's `store`, from the config Site.config_yaml
    writes with the keywords given (`entry="page"`, `sections=(...)`, ...)."""

    async def pull(site: Site, **yaml: Any) -> tuple[Config, PullReport]:
        config = write_config(site.config_yaml(store_url, **yaml))
        return config, await pull_source("news", config, fetcher, store)

    return pull


from .engines import engine_store, engine_url, engine_urls  # noqa: E402, F401  (fixtures on both engines)
from .hubs import hub, silent_hub  # noqa: E402, F401  (WebSub hubs on loopback)
from .served import stop_leftovers  # noqa: E402  (served imports REPO from here)
