"""Shared fixtures: a running mirror site, a temporary SQLite store, configs on disk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from syndicator.config import Config, load_config
from syndicator.fetch import Fetcher, FetchLimits
from syndicator.store import Store, open_store

from .sites import Site

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site(mirrors=3)
    await s.start()
    yield s
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


from .engines import engine_url, engine_urls  # noqa: E402, F401  (fixtures on both engines)
from .hubs import hub, silent_hub  # noqa: E402, F401  (WebSub hubs on loopback)
